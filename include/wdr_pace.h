/* wdr_pace: when the next request may leave, pure (time is an argument).
 *
 * WeData allows RateLimit requests a second per action, counted as they
 * arrive, refused ones included, and shared with every other client of the
 * account. Three rules keep the plugin under that:
 *
 *  - A sliding window: at most `limit` requests (RateLimit, at least 1)
 *    leave in any WDR_PACE_WINDOW_MS (one second plus a margin for network
 *    jitter), measured as they leave. The server cannot count limit + 1 in
 *    one of its seconds unless the network delays one request more than
 *    another by over the margin.
 *  - Spacing: requests leave at least 1/rate apart, so that a quiet second
 *    is never followed by a burst of `limit` (no token bucket's burst).
 *  - An adaptive rate (after the AWS SDKs' adaptive retry mode, CUBIC): every
 *    throttle answer sets w_max to the rate actually sent over the last
 *    second (or the allowed rate, if lower), lowered further to
 *    w_max * (1 + beta) / 2 when below the last w_max (fast convergence:
 *    another client took part of the room), and the rate drops to
 *    beta * w_max. It then grows back along C * (t - K)^3 + w_max, t seconds
 *    after the drop, K = cbrt(w_max * (1 - beta) / C): back at w_max after
 *    K seconds, slowly past it, never above RateLimit, never below
 *    WDR_PACE_MIN_RATE. Every throttle counts, those of requests already
 *    out too: refused requests use up the quota as well, so a client over
 *    it must get under it fast. beta 0.85 and C 0.05 (the SDKs: 0.7 and
 *    0.4) were chosen against a sliding-window stand-in shared with a
 *    client taking half the quota: smaller drops and a gentler climb keep
 *    refusals under 5 % while using 85 % of the room left.
 *
 * One pace per API action, as WeData counts them (the engine holds one for
 * each): the reads before and after reruns do not slow the reruns down.
 *
 * Ownership: wdr_pace_init allocates the window (limit entries), freed by
 * wdr_pace_free. Not thread-safe: one owner (the engine thread). */
#ifndef WDR_PACE_H
#define WDR_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WDR_PACE_WINDOW_MS 1040 /* one second and 40 ms for jitter */
#define WDR_PACE_BETA 0.85
#define WDR_PACE_CUBIC_C 0.05
#define WDR_PACE_MIN_RATE 0.5 /* requests a second */

typedef struct {
  double max_rate;    /* RateLimit */
  size_t limit;       /* requests in one window */
  double w_max;       /* the rate at the last drop */
  int64_t dropped_ms; /* the last drop; INT64_MIN: none yet */
  int64_t next_ms;    /* spacing: the earliest next departure */
  int64_t *sent;      /* the last `limit` departures, a ring */
  size_t head, num;
} wdr_pace_t;

/* wdr_pace_init: RateLimit rate (> 0) from now_ms. Returns 0, or -1 on bad
 * input or no memory. */
int wdr_pace_init(wdr_pace_t *p, double rate, int64_t now_ms);
void wdr_pace_free(wdr_pace_t *p);

/* wdr_pace_take: may a request leave at now_ms? If so it is counted as
 * gone and true is returned; otherwise *ret_wait_ms (if not NULL) is how
 * long until one may. */
bool wdr_pace_take(wdr_pace_t *p, int64_t now_ms, int64_t *ret_wait_ms);

/* wdr_pace_throttled: the server answered a throttle (RequestLimitExceeded
 * and its kind): the rate drops. */
void wdr_pace_throttled(wdr_pace_t *p, int64_t now_ms);

/* wdr_pace_rate: requests a second allowed at now_ms (the gauge). */
double wdr_pace_rate(const wdr_pace_t *p, int64_t now_ms);

#endif
