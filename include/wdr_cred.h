/* wdr_cred: where the API credentials come from (the credential chain).
 *
 * The Tencent Cloud SDKs' order, first source with credentials wins: the
 * config (SecretId with SecretKey or SecretKeyFile, optional SessionToken),
 * the environment (TENCENTCLOUD_SECRET_ID, _SECRET_KEY, _SESSION_TOKEN), the
 * profile file (section `Profile`, keys secret_id, secret_key, optional
 * token), then the CVM role. Option CredentialSource pins one source.
 *
 * This module decides: names of sources, which profile files are looked at
 * in which order, and what a profile file's text yields. Pure (the caller
 * reads the files; the environment comes in as a function); thread-safe.
 * Errors never contain a secret. */
#ifndef WDR_CRED_H
#define WDR_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  WDR_CRED_CHAIN = 0, /* not pinned: the first source that has them */
  WDR_CRED_CONFIG,
  WDR_CRED_ENV,
  WDR_CRED_PROFILE,
  WDR_CRED_CVM_ROLE,
} wdr_cred_source_t;

/* wdr_cred_source_parse: "config", "env", "profile" or "cvm-role" (any
 * case) into *out; false for anything else. */
bool wdr_cred_source_parse(const char *s, wdr_cred_source_t *out);

/* wdr_cred_value_ok: s (a SecretId, SecretKey or token from any source) has
 * no white space or control character, which would corrupt the signed
 * headers; NULL and "" pass (whether a value is required is the caller's
 * rule). */
bool wdr_cred_value_ok(const char *s);

/* The option value of a source ("config", ...); "chain" for the chain. */
const char *wdr_cred_source_name(wdr_cred_source_t s);

#define WDR_CRED_PATHS_MAX 3
#define WDR_CRED_PATH_MAX 4096

/* wdr_cred_profile_paths fills paths[0..n) with the profile files to try,
 * in order, and returns n: $TENCENTCLOUD_CREDENTIALS_FILE alone when it is
 * set (the operator named the file: it must be there), else
 * $HOME/.tencentcloud/credentials (when HOME is set) and then
 * /etc/tencentcloud/credentials. get_env returns NULL for an unset name. */
size_t
wdr_cred_profile_paths(const char *(*get_env)(const char *name),
                       char paths[WDR_CRED_PATHS_MAX][WDR_CRED_PATH_MAX]);

/* wdr_cred_profile_named: true when the profile file was named by
 * $TENCENTCLOUD_CREDENTIALS_FILE, so that its absence is an error rather
 * than a reason to look further. */
bool wdr_cred_profile_named(const char *(*get_env)(const char *name));

typedef enum {
  WDR_CRED_FOUND = 0,
  WDR_CRED_NONE = 1, /* the file has no such section: look further */
  WDR_CRED_BAD = -1  /* err says why */
} wdr_cred_status_t;

/* wdr_cred_from_profile reads section of a profile file's text (len bytes).
 * FOUND: *id and *key are malloc'ed and non-empty, *token too when the
 * section has a non-empty `token`, else NULL; the caller wipes and frees
 * them. A section without secret_id or secret_key, or with an empty one,
 * is BAD (the operator meant it and it is broken), as is a file the INI
 * reader refuses. On NONE and BAD nothing is allocated. */
wdr_cred_status_t wdr_cred_from_profile(const char *text, size_t len,
                                        const char *section, char **id,
                                        char **key, char **token, char *err,
                                        size_t err_size);

/* --- temporary credentials (the CVM role) ------------------------------ */

/* wdr_cred_usable: whether a request may be signed with credentials of
 * expires_at (epoch s; 0: they do not expire) at now: they must outlast the
 * request (timeout_s) and a second of clock slack. A set without an id
 * (none fetched yet) is not. */
bool wdr_cred_usable(const char *secret_id, int64_t expires_at, int64_t now,
                     double timeout_s);

/* Renewal starts this long before the credentials expire (the Go and
 * Python SDKs' 300 s), or half their remaining life when that is shorter,
 * but never later than usable allows. */
#define WDR_CRED_RENEW_BEFORE 300

/* wdr_cred_refresh_at: when to fetch again credentials that expire at
 * expires_at, seen at now: WDR_CRED_RENEW_BEFORE before, or half the time
 * left when that is less, but at least timeout_s + 2 before they stop being
 * usable, and never before now + 1. */
int64_t wdr_cred_refresh_at(int64_t expires_at, int64_t now, double timeout_s);

#endif
