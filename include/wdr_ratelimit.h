/* wdr_ratelimit: a token bucket, pure (the caller passes the time).
 *
 * Holds at most burst tokens and gains rate tokens a second. The plugin uses
 * burst 1, which spaces requests at least 1/rate apart: WeData's limit is per
 * second, and a burst of rate requests right after a quiet second could meet
 * a server-side window that still counts the previous ones. Not thread-safe:
 * one owner (the policy thread). */
#ifndef WDR_RATELIMIT_H
#define WDR_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  double rate;  /* tokens per second, > 0 */
  double burst; /* capacity, >= 1 */
  double tokens;
  int64_t last_ms;
} wdr_ratelimit_t;

/* wdr_ratelimit_init: a full bucket at time now_ms. */
void wdr_ratelimit_init(wdr_ratelimit_t *r, double rate, double burst,
                        int64_t now_ms);

/* wdr_ratelimit_take takes one token if there is one at now_ms. Returns
 * true when taken; otherwise *ret_wait_ms (if not NULL) says how long until
 * the next token. */
bool wdr_ratelimit_take(wdr_ratelimit_t *r, int64_t now_ms,
                        int64_t *ret_wait_ms);

#endif
