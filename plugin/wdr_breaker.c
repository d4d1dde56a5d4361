#include "wdr_breaker.h"

#include <stddef.h>

void wdr_breaker_init(wdr_breaker_t *b, int threshold, int64_t cooldown_ms) {
  *b = (wdr_breaker_t){.threshold = threshold < 1 ? 1 : threshold,
                       .cooldown_ms = cooldown_ms,
                       .state = WDR_BREAKER_CLOSED};
}

bool wdr_breaker_allow(wdr_breaker_t *b, int64_t now_ms, int64_t *ret_wait_ms) {
  if (b->state == WDR_BREAKER_OPEN) {
    int64_t reopen = b->opened_ms + b->cooldown_ms;
    if (now_ms < reopen) {
      if (ret_wait_ms != NULL)
        *ret_wait_ms = reopen - now_ms;
      return false;
    }
    b->state = WDR_BREAKER_HALF_OPEN;
    b->probe_out = false;
  }
  if (b->state == WDR_BREAKER_HALF_OPEN) {
    if (b->probe_out) {
      if (ret_wait_ms != NULL)
        *ret_wait_ms = 0;
      return false;
    }
    b->probe_out = true;
  }
  return true;
}

int wdr_breaker_record(wdr_breaker_t *b, bool success, int64_t now_ms) {
  bool was_open = b->state != WDR_BREAKER_CLOSED;
  if (success) {
    b->failures = 0;
    b->state = WDR_BREAKER_CLOSED;
    b->probe_out = false;
    return was_open ? -1 : 0;
  }
  b->failures++;
  /* A failed probe reopens at once; a closed breaker needs threshold. */
  if (b->state == WDR_BREAKER_HALF_OPEN ||
      (b->state == WDR_BREAKER_CLOSED && b->failures >= b->threshold)) {
    b->state = WDR_BREAKER_OPEN;
    b->opened_ms = now_ms;
    b->probe_out = false;
    return was_open ? 0 : 1;
  }
  return 0;
}

void wdr_breaker_cancel(wdr_breaker_t *b) {
  if (b->state == WDR_BREAKER_HALF_OPEN)
    b->probe_out = false;
}

bool wdr_breaker_is_open(const wdr_breaker_t *b) {
  return b->state != WDR_BREAKER_CLOSED;
}
