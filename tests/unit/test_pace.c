/* wdr_pace: the sliding window (never more than RateLimit in any window,
 * checked against every departure of a long greedy run), the spacing, the
 * adaptive rate's drop and CUBIC climb with a fake clock, and the edges
 * (fractional rates, bad input, the floor). */
#include "testutil.h"

#include "wdr_pace.h"

#include <math.h>

#define T0 1764000000000LL

/* Takes as soon as allowed, n times; returns the departure times (static). */
static const int64_t *greedy(wdr_pace_t *p, size_t n, int64_t start) {
  static int64_t at[4096];
  assert_true(n <= 4096);
  int64_t now = start;
  for (size_t i = 0; i < n; i++) {
    int64_t wait = -1;
    while (!wdr_pace_take(p, now, &wait)) {
      assert_true(wait > 0);
      now += wait;
    }
    at[i] = now;
  }
  return at;
}

/* Any window of WDR_PACE_WINDOW_MS holds at most limit departures. */
static void assert_window(const int64_t *at, size_t n, size_t limit) {
  for (size_t i = 0; i + limit < n; i++)
    if (at[i + limit] - at[i] < WDR_PACE_WINDOW_MS)
      fail_msg("departures %zu and %zu are %lld ms apart: %zu in one window", i,
               i + limit, (long long)(at[i + limit] - at[i]), limit + 1);
}

static void test_window_and_spacing(void **state) {
  (void)state;
  wdr_pace_t p;
  assert_int_equal(wdr_pace_init(&p, 20, T0), 0);
  const int64_t *at = greedy(&p, 400, T0);
  assert_window(at, 400, 20);
  /* Spaced 1/20 s apart, never closer: no burst after a quiet start. */
  for (size_t i = 1; i < 400; i++)
    assert_true(at[i] - at[i - 1] >= 50);
  assert_int_equal(at[0], T0);
  assert_int_equal(at[1], T0 + 50);
  /* The 21st waits for the window, not only the spacing. */
  assert_int_equal(at[20], T0 + WDR_PACE_WINDOW_MS);
  /* The steady rate: 20 a window, at least 19 a second. */
  double rate = 399.0 / ((double)(at[399] - at[0]) / 1000.0);
  assert_true(rate >= 19.0 && rate <= 20.0);
  wdr_pace_free(&p);

  /* After a quiet minute: still spaced, still no burst. */
  assert_int_equal(wdr_pace_init(&p, 5, T0), 0);
  greedy(&p, 10, T0);
  at = greedy(&p, 3, T0 + 60000);
  assert_int_equal(at[1] - at[0], 200);
  assert_int_equal(at[2] - at[1], 200);
  wdr_pace_free(&p);
}

static void test_throttle_drops_and_climbs(void **state) {
  (void)state;
  wdr_pace_t p;
  assert_int_equal(wdr_pace_init(&p, 20, T0), 0);
  assert_true(fabs(wdr_pace_rate(&p, T0) - 20) < 1e-9);
  wdr_pace_throttled(&p, T0 + 1000);
  assert_true(fabs(wdr_pace_rate(&p, T0 + 1000) - 20 * WDR_PACE_BETA) < 1e-6);
  /* CUBIC: rising, back at 20 after K = cbrt(20 * 0.3 / C) s, capped. */
  double k = cbrt(20 * (1 - WDR_PACE_BETA) / WDR_PACE_CUBIC_C);
  double prev = 0;
  for (int ms = 0; ms <= 8000; ms += 100) {
    double r = wdr_pace_rate(&p, T0 + 1000 + ms);
    assert_true(r >= prev - 1e-9);
    assert_true(r <= 20 + 1e-9);
    prev = r;
  }
  assert_true(wdr_pace_rate(&p, T0 + 1000 + (int64_t)(k * 1000) - 500) < 20);
  assert_true(
      fabs(wdr_pace_rate(&p, T0 + 1000 + (int64_t)(k * 1000) + 1) - 20) < 0.01);
  wdr_pace_free(&p);

  /* Every throttle counts, and one below the last peak aims lower (fast
   * convergence): 20 -> 20 b, then w_max 20 b (1 + b) / 2 -> times b. */
  const double b = WDR_PACE_BETA;
  assert_int_equal(wdr_pace_init(&p, 20, T0), 0);
  wdr_pace_throttled(&p, T0);
  wdr_pace_throttled(&p, T0 + 1);
  assert_true(fabs(wdr_pace_rate(&p, T0 + 1) - b * 20 * b * (1 + b) / 2) <
              0.01);
  wdr_pace_free(&p);

  /* What was sent, not what was allowed: 10 sent in the last second at
   * RateLimit 20 -> w_max 10, rate 10 b; the spacing follows at once. */
  assert_int_equal(wdr_pace_init(&p, 20, T0), 0);
  for (int i = 0; i < 10; i++)
    assert_true(wdr_pace_take(&p, T0 + 100 * i, NULL));
  wdr_pace_throttled(&p, T0 + 950);
  assert_true(fabs(wdr_pace_rate(&p, T0 + 950) - 10 * b) < 1e-6);
  int64_t wait = 0;
  assert_false(wdr_pace_take(&p, T0 + 1000, &wait));
  assert_int_equal(wait, 950 + (int64_t)ceil(1000 / (10 * b)) - 1000);
  wdr_pace_free(&p);

  /* Throttle after throttle, a window apart: far below RateLimit, never
   * below the floor. */
  assert_int_equal(wdr_pace_init(&p, 20, T0), 0);
  int64_t t = T0 + 10000;
  for (int i = 0; i < 40; i++, t += WDR_PACE_WINDOW_MS) {
    wdr_pace_throttled(&p, t);
    assert_true(wdr_pace_rate(&p, t) >= WDR_PACE_MIN_RATE);
  }
  t -= WDR_PACE_WINDOW_MS; /* the last drop */
  assert_true(wdr_pace_rate(&p, t) <= 6.0);
  wdr_pace_free(&p);

  /* The floor: a rate that would drop below it stays at it. */
  assert_int_equal(wdr_pace_init(&p, 0.55, T0), 0);
  wdr_pace_throttled(&p, T0);
  assert_true(fabs(wdr_pace_rate(&p, T0) - WDR_PACE_MIN_RATE) < 1e-9);
  const int64_t *at = greedy(&p, 2, T0 + 1);
  assert_int_equal(at[0], T0 + 2000); /* 0.5 a second from the drop */
  assert_true(at[1] - at[0] >= 1819); /* 0.55 at most */
  wdr_pace_free(&p);
}

static void test_edges(void **state) {
  (void)state;
  wdr_pace_t p;
  assert_int_equal(wdr_pace_init(&p, 0, T0), -1);
  assert_int_equal(wdr_pace_init(&p, -1, T0), -1);
  assert_int_equal(wdr_pace_init(&p, NAN, T0), -1);
  wdr_pace_free(&p); /* after a failed init: nothing to free, no crash */
  /* A fractional RateLimit: one a window, spaced 1/rate. */
  assert_int_equal(wdr_pace_init(&p, 0.5, T0), 0);
  const int64_t *at = greedy(&p, 3, T0);
  assert_int_equal(at[1] - at[0], 2000);
  assert_int_equal(at[2] - at[1], 2000);
  wdr_pace_free(&p);
  /* The wall clock set back an hour: no hour-long stall. */
  assert_int_equal(wdr_pace_init(&p, 20, T0), 0);
  greedy(&p, 30, T0);
  int64_t wait = 0;
  assert_true(wdr_pace_take(&p, T0 - 3600 * 1000, &wait));
  assert_false(wdr_pace_take(&p, T0 - 3600 * 1000 + 10, &wait));
  assert_int_equal(wait, 40); /* spaced again from there */
  wdr_pace_free(&p);
  /* The largest RateLimit: 1000 a window. */
  assert_int_equal(wdr_pace_init(&p, 1000, T0), 0);
  at = greedy(&p, 3000, T0);
  assert_window(at, 3000, 1000);
  wdr_pace_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_window_and_spacing),
      cmocka_unit_test(test_throttle_drops_and_climbs),
      cmocka_unit_test(test_edges),
  };
  return cmocka_run_group_tests_name("wdr_pace", tests, NULL, NULL);
}
