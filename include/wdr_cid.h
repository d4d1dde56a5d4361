/* wdr_cid: one of a run's text fields (its id, the last AsyncId) in 17 bytes.
 *
 * WeData's ids are UUIDs: 36 characters that a fixed buffer kept at 128
 * bytes and a heap copy at 48 plus a pointer. Here a UUID in canonical form
 * (8-4-4-4-12 hex digits, all lowercase or all uppercase) is packed into 16
 * bytes, text of at most 16 bytes is kept inline, and anything else (at most
 * WDR_ID_MAX - 1 bytes) is copied to the heap. Every form gives back exactly
 * the text that was set. A zeroed wdr_cid_t is the empty text.
 *
 * Ownership: a wdr_cid_t owns its heap copy; wdr_cid_clear frees it, and
 * copying the struct by value shares it (do not). Not thread-safe: the owner
 * of the run serialises access. Pure otherwise: no I/O. */
#ifndef WDR_CID_H
#define WDR_CID_H

#include "wdr_common.h"

#include <stdbool.h>

typedef struct {
  unsigned char b[17]; /* a kind byte, then the packed form */
} wdr_cid_t;

/* wdr_cid_set replaces c's text by s (NULL is the empty text). Returns 0, or
 * -1 when s is WDR_ID_MAX bytes or longer or memory ran out: c is then left
 * as it was. */
int wdr_cid_set(wdr_cid_t *c, const char *s);

/* wdr_cid_clear frees what c holds and leaves it empty. */
void wdr_cid_clear(wdr_cid_t *c);

bool wdr_cid_is_empty(const wdr_cid_t *c);

/* wdr_cid_str: c's text, NUL-terminated: either written into buf or c's own
 * heap copy (valid until c changes). Never NULL. */
const char *wdr_cid_str(const wdr_cid_t *c, char buf[WDR_ID_MAX]);

/* wdr_cid_eq: whether c holds exactly s (NULL counts as the empty text),
 * without formatting c. */
bool wdr_cid_eq(const wdr_cid_t *c, const char *s);

#endif
