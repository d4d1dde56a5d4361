/* wdr_breaker: stop sending while everything is failing, pure.
 *
 * Closed: requests flow; threshold consecutive failures open it. Open: no
 * request for cooldown_ms. Then half-open: exactly one probe may go; its
 * success closes the breaker, its failure opens it again. What counts as
 * a failure is the owner's call: the engine counts outages
 * (wdr_answer_is_outage) for its breaker, and refused credentials for a
 * second one of threshold 1 (the credentials' gate). Not thread-safe: one
 * owner. */
#ifndef WDR_BREAKER_H
#define WDR_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
  WDR_BREAKER_CLOSED,
  WDR_BREAKER_OPEN,
  WDR_BREAKER_HALF_OPEN
} wdr_breaker_state_t;

typedef struct {
  int threshold;
  int64_t cooldown_ms;
  wdr_breaker_state_t state;
  int failures;      /* consecutive */
  int64_t opened_ms; /* when it last opened */
  bool probe_out;    /* half-open: the probe is in flight */
} wdr_breaker_t;

void wdr_breaker_init(wdr_breaker_t *b, int threshold, int64_t cooldown_ms);

/* wdr_breaker_allow: may a request start at now_ms? In half-open it allows
 * one and counts it as the probe. When it refuses, *ret_wait_ms (if not
 * NULL) is the time until it may allow again (0: wait for the probe). */
bool wdr_breaker_allow(wdr_breaker_t *b, int64_t now_ms, int64_t *ret_wait_ms);

/* wdr_breaker_record reports a finished request. Returns the change it
 * caused: +1 it opened, -1 it closed, 0 no change of open/closed. */
int wdr_breaker_record(wdr_breaker_t *b, bool success, int64_t now_ms);

/* wdr_breaker_cancel: a request that wdr_breaker_allow let through was not
 * sent after all (it could not be built, or the plugin is stopping): a
 * half-open breaker may hand out its probe again. */
void wdr_breaker_cancel(wdr_breaker_t *b);

/* wdr_breaker_is_open: true while open or half-open (for the gauge). */
bool wdr_breaker_is_open(const wdr_breaker_t *b);

#endif
