#include "wdr_backoff.h"

const wdr_backoff_t wdr_request_backoff = {
    .base_ms = 1000, .cap_ms = 60000, .jitter = WDR_JITTER_DOWN};

/* Random value in [lo, hi], from rnd. */
static int64_t pick(int64_t lo, int64_t hi, uint32_t rnd) {
  if (hi <= lo)
    return lo;
  return lo + (int64_t)((uint64_t)rnd % (uint64_t)(hi - lo + 1));
}

int64_t wdr_backoff_ms(const wdr_backoff_t *b, int n, uint32_t rnd) {
  int64_t cap = b->cap_ms > 0 ? b->cap_ms : 0;
  int64_t d = b->base_ms > 0 ? b->base_ms : 0;
  /* Doubling stops at the cap, and never doubles past it, so d cannot
   * overflow however large n and the cap are. */
  for (int i = 1; i < n && d < cap; i++)
    d = d > cap / 2 ? cap : d * 2;
  if (d > cap)
    d = cap;
  if (b->jitter == WDR_JITTER_DOWN)
    return pick(d / 2, d, rnd);
  return pick(d, d < cap - d ? 2 * d : cap, rnd);
}
