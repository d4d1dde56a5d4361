/* wdr_metadata: the CVM instance metadata service's answers about the
 * instance role (the last source of the credential chain).
 *
 * GET <endpoint>/latest/meta-data/cam/security-credentials/ gives the role
 * name; GET .../security-credentials/<role> gives {"TmpSecretId",
 * "TmpSecretKey", "Token", "ExpiredTime" (epoch s), "Code": "Success"}.
 * Pure: URLs and answers only (wdr_http does the requests); thread-safe.
 * Errors name what is wrong, never a value. */
#ifndef WDR_METADATA_H
#define WDR_METADATA_H

#include <stddef.h>
#include <stdint.h>

#define WDR_METADATA_DEFAULT_ENDPOINT "http://metadata.tencentyun.com"
#define WDR_METADATA_ROLE_MAX 128
#define WDR_METADATA_URL_MAX 512

/* wdr_metadata_url: the role list URL (role NULL) or a role's URL, from an
 * endpoint of scheme, host and optional port. Returns 0, or -1 when it
 * does not fit. */
int wdr_metadata_url(const char *endpoint, const char *role, char *out,
                     size_t size);

/* wdr_metadata_parse_role: the role name from the role list's body: its
 * first line, trimmed; letters, digits and "+=,.@_-" only (CAM's), at most
 * WDR_METADATA_ROLE_MAX - 1 bytes. Returns 0, or -1 with err. */
int wdr_metadata_parse_role(const char *body, size_t len,
                            char role[WDR_METADATA_ROLE_MAX], char *err,
                            size_t err_size);

typedef struct {
  char *secret_id, *secret_key, *token; /* malloc'ed */
  int64_t expires_at;                   /* epoch seconds */
} wdr_metadata_creds_t;

/* wdr_metadata_parse_creds: a role's credentials from its body (body[len]
 * is NUL), bounded parsing. Every field present, strings non-empty without
 * white space, ExpiredTime a positive integer, Code (when given)
 * "Success". Returns 0 (the caller frees out with
 * wdr_metadata_creds_free), or -1 with err and nothing allocated. */
int wdr_metadata_parse_creds(const char *body, size_t len,
                             wdr_metadata_creds_t *out, char *err,
                             size_t err_size);

/* Wipes and frees the strings; NULL fields are fine. */
void wdr_metadata_creds_free(wdr_metadata_creds_t *c);

#endif
