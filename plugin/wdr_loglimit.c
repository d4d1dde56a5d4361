#include "wdr_loglimit.h"

bool wdr_loglimit_allow(wdr_loglimit_t *l, int64_t now_s, uint64_t *ret_held) {
  int64_t last = atomic_load(&l->last);
  /* Of two threads that find the period over, the exchange lets one out. */
  if ((last != 0 && now_s - last < WDR_LOG_EVERY_SECONDS) ||
      !atomic_compare_exchange_strong(&l->last, &last, now_s)) {
    atomic_fetch_add(&l->held, 1);
    return false;
  }
  *ret_held = atomic_exchange(&l->held, 0);
  return true;
}
