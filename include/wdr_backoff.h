/* wdr_backoff: the one capped, jittered, exponential backoff. Pure.
 *
 * Wait n (n >= 1) is d = base * 2^(n-1), capped at cap, then spread by the
 * jitter so that many runs failing together do not come back together:
 *   WDR_JITTER_UP:   uniform in [d, min(2d, cap)] (never shorter than the
 *                    curve: the wait between attempts of a run)
 *   WDR_JITTER_DOWN: uniform in [d/2, d] (never longer than the cap: request
 *                    retries, listing retries)
 * Randomness comes in as rnd, a uniform 32-bit value, so tests pin it. */
#ifndef WDR_BACKOFF_H
#define WDR_BACKOFF_H

#include <stdint.h>

typedef enum { WDR_JITTER_UP, WDR_JITTER_DOWN } wdr_jitter_t;

typedef struct {
  int64_t base_ms; /* > 0 */
  int64_t cap_ms;  /* >= base_ms */
  wdr_jitter_t jitter;
} wdr_backoff_t;

/* Every request retry, whatever the request: from 1 s doubling to 60 s. */
extern const wdr_backoff_t wdr_request_backoff;

/* wdr_backoff_ms: the wait before try n+1 after n failed ones (n < 1 counts
 * as 1). Never negative, never above b->cap_ms. */
int64_t wdr_backoff_ms(const wdr_backoff_t *b, int n, uint32_t rnd);

#endif
