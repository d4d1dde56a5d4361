#include "wdr_pace.h"

#include <math.h>
#include <stdlib.h>

int wdr_pace_init(wdr_pace_t *p, double rate, int64_t now_ms) {
  *p = (wdr_pace_t){0};
  if (!(rate > 0) || rate > 1e6)
    return -1;
  p->max_rate = rate;
  p->limit = rate < 1 ? 1 : (size_t)rate;
  p->w_max = rate;
  p->dropped_ms = INT64_MIN;
  p->next_ms = now_ms;
  p->sent = calloc(p->limit, sizeof(*p->sent));
  return p->sent != NULL ? 0 : -1;
}

void wdr_pace_free(wdr_pace_t *p) {
  free(p->sent);
  p->sent = NULL;
}

double wdr_pace_rate(const wdr_pace_t *p, int64_t now_ms) {
  if (p->dropped_ms == INT64_MIN)
    return p->max_rate;
  double t = (double)(now_ms - p->dropped_ms) / 1000.0;
  double k = cbrt(p->w_max * (1 - WDR_PACE_BETA) / WDR_PACE_CUBIC_C);
  double rate = WDR_PACE_CUBIC_C * (t - k) * (t - k) * (t - k) + p->w_max;
  if (rate > p->max_rate)
    rate = p->max_rate;
  return rate < WDR_PACE_MIN_RATE ? WDR_PACE_MIN_RATE : rate;
}

/* The oldest departure still counted (the window is full), or INT64_MIN. */
static int64_t oldest(const wdr_pace_t *p) {
  return p->num < p->limit ? INT64_MIN : p->sent[p->head];
}

/* No wait is ever longer than the floor's spacing or a window: a longer
 * one means the wall clock was set back. */
#define WAIT_MAX_MS (2000 + WDR_PACE_WINDOW_MS)

bool wdr_pace_take(wdr_pace_t *p, int64_t now_ms, int64_t *ret_wait_ms) {
  int64_t at = p->next_ms;
  int64_t first = oldest(p);
  if (first != INT64_MIN && first + WDR_PACE_WINDOW_MS > at)
    at = first + WDR_PACE_WINDOW_MS;
  if (at - now_ms > WAIT_MAX_MS) {
    /* The clock went back: what was sent is in the past either way. */
    p->num = p->head = 0;
    p->next_ms = at = now_ms;
    if (p->dropped_ms > now_ms)
      p->dropped_ms = now_ms;
  }
  if (now_ms < at) {
    if (ret_wait_ms != NULL)
      *ret_wait_ms = at - now_ms;
    return false;
  }
  /* The ring keeps the last `limit` departures, oldest at head. */
  if (p->num < p->limit) {
    p->sent[(p->head + p->num) % p->limit] = now_ms;
    p->num++;
  } else {
    p->sent[p->head] = now_ms;
    p->head = (p->head + 1) % p->limit;
  }
  double rate = wdr_pace_rate(p, now_ms);
  p->next_ms = now_ms + (int64_t)ceil(1000.0 / rate);
  return true;
}

/* Requests a second actually sent over the last second. */
static double measured(const wdr_pace_t *p, int64_t now_ms) {
  size_t n = 0;
  for (size_t i = p->num; i-- > 0;) {
    if (p->sent[(p->head + i) % p->limit] <= now_ms - 1000)
      break;
    n++;
  }
  return (double)n;
}

void wdr_pace_throttled(wdr_pace_t *p, int64_t now_ms) {
  /* What the server refused is what was sent, not what was allowed. */
  double rate = wdr_pace_rate(p, now_ms);
  double sent = measured(p, now_ms);
  double w = sent > 0 && sent < rate ? sent : rate;
  /* Fast convergence (CUBIC): a throttle below the last peak means the
   * room has shrunk (another client took some): aim lower. */
  if (p->dropped_ms != INT64_MIN && w < p->w_max)
    w = w * (1 + WDR_PACE_BETA) / 2;
  p->w_max = w < WDR_PACE_MIN_RATE ? WDR_PACE_MIN_RATE : w;
  p->dropped_ms = now_ms;
  /* The spacing follows at once: the next request waits for the new
   * rate, counted from now. */
  int64_t next = now_ms + (int64_t)ceil(1000.0 / wdr_pace_rate(p, now_ms));
  if (next > p->next_ms)
    p->next_ms = next;
}
