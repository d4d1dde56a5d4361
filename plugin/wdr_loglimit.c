#include "wdr_loglimit.h"

bool wdr_loglimit_allow(wdr_loglimit_t *l, int64_t now_s, uint64_t *ret_held) {
  int64_t next = atomic_load(&l->next);
  int64_t after = now_s > INT64_MAX - WDR_LOG_EVERY_SECONDS
                      ? INT64_MAX
                      : now_s + WDR_LOG_EVERY_SECONDS;
  /* Of two threads that find the period over, the exchange lets one out. */
  if (now_s < next || !atomic_compare_exchange_strong(&l->next, &next, after)) {
    atomic_fetch_add(&l->held, 1);
    return false;
  }
  *ret_held = atomic_exchange(&l->held, 0);
  return true;
}
