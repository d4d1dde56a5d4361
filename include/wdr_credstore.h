/* wdr_credstore: the credentials requests are signed with, now.
 *
 * The credential chain may replace them while collectd runs (a profile file
 * changed); each worker takes a copy for each request, so that a request is
 * signed with one whole set, never half an old one. A mutex guards the set;
 * get and set are short copies. Thread-safe; create and destroy on one
 * thread while no other uses the store. Every copy of a secret the store
 * gives up (replaced, destroyed) is wiped; a caller wipes its snapshot with
 * wdr_cred_snapshot_wipe. */
#ifndef WDR_CREDSTORE_H
#define WDR_CREDSTORE_H

#include "wdr_common.h"

#include <stdint.h>

/* A key or a token, with its NUL; temporary tokens run to a few KiB. */
#define WDR_CRED_VALUE_MAX 4096

typedef struct {
  char secret_id[WDR_ID_MAX];
  char secret_key[WDR_CRED_VALUE_MAX];
  char token[WDR_CRED_VALUE_MAX]; /* "": none */
  int64_t expires_at;             /* epoch s; 0: they do not expire */
  uint64_t version; /* 0: none yet; 1 for the first set, +1 each set */
} wdr_cred_snapshot_t;

typedef struct wdr_credstore_s wdr_credstore_t;

/* wdr_credstore_create: a store holding id, key and token (NULL: none),
 * which do not expire; id and key both NULL: an empty store (version 0),
 * for credentials fetched later (the CVM role). NULL when a value is too
 * long for a snapshot, or one of id and key is missing, or on no memory. */
wdr_credstore_t *wdr_credstore_create(const char *id, const char *key,
                                      const char *token);

/* wdr_credstore_set replaces the credentials, all of them at once;
 * expires_at is epoch seconds (0: never). Returns 0, or -1 (the old ones
 * kept) when a value is too long or empty. */
int wdr_credstore_set(wdr_credstore_t *s, const char *id, const char *key,
                      const char *token, int64_t expires_at)
    __attribute__((warn_unused_result));

/* wdr_credstore_get copies the current credentials into out. */
void wdr_credstore_get(wdr_credstore_t *s, wdr_cred_snapshot_t *out);

/* wdr_credstore_expires_at: the current set's expiry (0: none), without
 * copying a secret. */
int64_t wdr_credstore_expires_at(wdr_credstore_t *s);

void wdr_cred_snapshot_wipe(wdr_cred_snapshot_t *snap);

/* wdr_credstore_destroy wipes and frees; NULL is fine. */
void wdr_credstore_destroy(wdr_credstore_t *s);

#endif
