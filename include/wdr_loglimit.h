/* wdr_loglimit: at most one message of a kind per period, with a count of
 * the ones held back, so that a storm of signals does not flood the log.
 *
 * Lock-free (atomics): the notification callback uses one from any collectd
 * thread, the engine its own from its thread. Time comes in as seconds
 * (>= 0); a zeroed wdr_loglimit_t is ready to use. */
#ifndef WDR_LOGLIMIT_H
#define WDR_LOGLIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define WDR_LOG_EVERY_SECONDS 10

typedef struct {
  _Atomic int64_t next; /* when the next message may go out */
  _Atomic uint64_t held;
} wdr_loglimit_t;

/* wdr_loglimit_allow: true when a message may go out at now_s (the first
 * one, then one per WDR_LOG_EVERY_SECONDS); *ret_held is then the number
 * held back since the last one. False counts this one as held back. */
bool wdr_loglimit_allow(wdr_loglimit_t *l, int64_t now_s, uint64_t *ret_held);

#endif
