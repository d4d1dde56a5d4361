/* wdr_credrole: fetching the CVM instance role's temporary credentials from
 * the metadata service (network, through wdr_http; the answers are judged
 * by wdr_metadata).
 *
 * One fetcher is used by one thread at a time (the refresher's). Errors
 * name the URL and what went wrong, never a value. */
#ifndef WDR_CREDROLE_H
#define WDR_CREDROLE_H

#include "wdr_metadata.h"

#include <stddef.h>

typedef struct wdr_credrole_s wdr_credrole_t;

/* wdr_credrole_create: a fetcher for endpoint (scheme, host, port) and role
 * (NULL: the one the service names, looked up at the first fetch and again
 * after the service stops knowing it). timeout_ms bounds each request.
 * NULL on no memory. */
wdr_credrole_t *wdr_credrole_create(const char *endpoint, const char *role,
                                    long timeout_ms);

/* wdr_credrole_fetch: the role's credentials now. Returns 0 with out
 * filled (the caller frees it with wdr_metadata_creds_free), or -1 with
 * err. */
int wdr_credrole_fetch(wdr_credrole_t *r, wdr_metadata_creds_t *out, char *err,
                       size_t err_size);

/* The role in use ("" before it is known). */
const char *wdr_credrole_role(const wdr_credrole_t *r);

void wdr_credrole_destroy(wdr_credrole_t *r);

#endif
