#include "wdr_ratelimit.h"

#include <math.h>
#include <stddef.h>

void wdr_ratelimit_init(wdr_ratelimit_t *r, double rate, double burst,
                        int64_t now_ms) {
  r->rate = rate;
  r->burst = burst < 1.0 ? 1.0 : burst;
  r->tokens = r->burst;
  r->last_ms = now_ms;
}

bool wdr_ratelimit_take(wdr_ratelimit_t *r, int64_t now_ms,
                        int64_t *ret_wait_ms) {
  /* A clock that steps back refills nothing, and the bucket restarts from
   * the new time rather than waiting for the old one to come round. */
  if (now_ms > r->last_ms) {
    r->tokens += (double)(now_ms - r->last_ms) * r->rate / 1000.0;
    if (r->tokens > r->burst)
      r->tokens = r->burst;
  }
  r->last_ms = now_ms;
  if (r->tokens >= 1.0) {
    r->tokens -= 1.0;
    return true;
  }
  if (ret_wait_ms != NULL) {
    double ms = ceil((1.0 - r->tokens) * 1000.0 / r->rate);
    *ret_wait_ms = ms < 1.0 ? 1 : (int64_t)ms;
  }
  return false;
}
