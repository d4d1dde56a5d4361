/* wdr_backoff: the curve, both jitters' bounds for every wait up to the
 * cap and beyond, the extremes of rnd, odd n, and the request backoff's
 * exact figures. The expected curve is computed here in floating point,
 * independently of the module's integer doubling. */
#include "testutil.h"

#include "wdr_backoff.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>

#define assert_between(v, lo, hi)                                              \
  do {                                                                         \
    long long v_ = (long long)(v), lo_ = (long long)(lo),                      \
              hi_ = (long long)(hi);                                           \
    if (v_ < lo_ || v_ > hi_)                                                  \
      fail_msg("%s = %lld, not in [%lld, %lld]", #v, v_, lo_, hi_);            \
  } while (0)

/* Random values from both ends and in between. */
static const uint32_t g_rnd[] = {
    0,     1,          2,          999,        1000,           12345,
    65535, 0x7fffffff, 0x80000000, 0xdeadbeef, UINT32_MAX - 1, UINT32_MAX};
#define RND_NUM (sizeof(g_rnd) / sizeof(g_rnd[0]))

/* base * 2^(n-1), capped. */
static int64_t curve(const wdr_backoff_t *b, int n) {
  long double d = (long double)b->base_ms * powl(2.0L, n - 1);
  return d >= (long double)b->cap_ms ? b->cap_ms : (int64_t)d;
}

/* The jitter's range for wait n. */
static void range(const wdr_backoff_t *b, int n, int64_t *lo, int64_t *hi) {
  int64_t d = curve(b, n);
  if (b->jitter == WDR_JITTER_DOWN) {
    *lo = d / 2;
    *hi = d;
  } else {
    *lo = d;
    *hi = d > b->cap_ms - d ? b->cap_ms : 2 * d;
  }
}

/* Every wait 1..30 for every rnd stays in its range; rnd 0 gives the low
 * end and both ends can be reached. */
static void check_bounds(const wdr_backoff_t *b) {
  for (int n = 1; n <= 30; n++) {
    int64_t lo, hi;
    range(b, n, &lo, &hi);
    for (size_t i = 0; i < RND_NUM; i++)
      assert_between(wdr_backoff_ms(b, n, g_rnd[i]), lo, hi);
    assert_int_equal(wdr_backoff_ms(b, n, 0), lo);
    bool low = false, high = false;
    for (uint32_t r = 0; r <= (uint32_t)(hi - lo) && r < 100000; r++) {
      int64_t v = wdr_backoff_ms(b, n, r);
      low |= v == lo;
      high |= v == hi;
    }
    if (hi - lo < 100000)
      assert_true(low && high);
  }
}

static void test_down_bounds(void **state) {
  (void)state;
  check_bounds(&(wdr_backoff_t){1000, 60000, WDR_JITTER_DOWN});
  check_bounds(&(wdr_backoff_t){7, 1000000, WDR_JITTER_DOWN}); /* odd d */
  check_bounds(&(wdr_backoff_t){1, 1, WDR_JITTER_DOWN});
}

static void test_up_bounds(void **state) {
  (void)state;
  check_bounds(&(wdr_backoff_t){1000, 60000, WDR_JITTER_UP});
  check_bounds(&(wdr_backoff_t){60000, 3600000, WDR_JITTER_UP});
  check_bounds(&(wdr_backoff_t){5, 5, WDR_JITTER_UP});
}

/* Spread evenly: span consecutive rnd values give each wait once. */
static void test_uniform(void **state) {
  (void)state;
  const wdr_backoff_t b = {1000, 60000, WDR_JITTER_DOWN};
  int hits[501] = {0}; /* wait 1: [500, 1000] */
  for (uint32_t r = 0; r < 501; r++)
    hits[wdr_backoff_ms(&b, 1, 1000000 + r) - 500]++;
  for (int i = 0; i < 501; i++)
    assert_int_equal(hits[i], 1);
}

static void test_cap(void **state) {
  (void)state;
  const wdr_backoff_t down = {1000, 60000, WDR_JITTER_DOWN};
  const wdr_backoff_t up = {1000, 60000, WDR_JITTER_UP};
  /* 2^6 s is past the cap: the curve stays at it. */
  for (int n = 7; n <= 30; n++) {
    assert_int_equal(wdr_backoff_ms(&down, n, 0), 30000);
    assert_int_equal(wdr_backoff_ms(&down, n, 30000), 60000);
    assert_int_equal(wdr_backoff_ms(&down, n, UINT32_MAX),
                     30000 + UINT32_MAX % 30001);
    /* Jitter up cannot go above the cap either. */
    assert_int_equal(wdr_backoff_ms(&up, n, 0), 60000);
    assert_int_equal(wdr_backoff_ms(&up, n, UINT32_MAX), 60000);
  }
  /* Just below the cap, jitter up is cut at it: [32 s, 60 s]. */
  assert_int_equal(wdr_backoff_ms(&up, 6, 0), 32000);
  assert_int_equal(wdr_backoff_ms(&up, 6, 28000), 60000);
  assert_int_equal(wdr_backoff_ms(&up, 6, 28001), 32000);
}

static void test_n_below_one(void **state) {
  (void)state;
  const wdr_backoff_t b[] = {{1000, 60000, WDR_JITTER_DOWN},
                             {1000, 60000, WDR_JITTER_UP}};
  const int ns[] = {0, -1, -30, INT_MIN};
  for (size_t i = 0; i < 2; i++)
    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
      for (size_t k = 0; k < RND_NUM; k++)
        assert_int_equal(wdr_backoff_ms(&b[i], ns[j], g_rnd[k]),
                         wdr_backoff_ms(&b[i], 1, g_rnd[k]));
}

/* However large n, and however large the cap, the doubling must neither
 * overflow (UBSan would stop the test) nor take n steps. */
static void test_huge_n(void **state) {
  (void)state;
  const int ns[] = {31, 62, 63, 64, 100, 1000, INT_MAX};
  const wdr_backoff_t b[] = {
      {1000, 60000, WDR_JITTER_DOWN},
      {1000, 60000, WDR_JITTER_UP},
      {1, INT64_MAX, WDR_JITTER_DOWN},
      {1, INT64_MAX, WDR_JITTER_UP},
      {1000, INT64_MAX / 2 + 1, WDR_JITTER_UP},
      {INT64_MAX / 3, INT64_MAX, WDR_JITTER_DOWN},
      {INT64_MAX, INT64_MAX, WDR_JITTER_UP},
  };
  for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
    for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
      int64_t lo, hi;
      range(&b[i], ns[j], &lo, &hi);
      assert_true(lo >= 0 && hi <= b[i].cap_ms);
      for (size_t k = 0; k < RND_NUM; k++)
        assert_between(wdr_backoff_ms(&b[i], ns[j], g_rnd[k]), lo, hi);
    }
  /* Capped at INT64_MAX, wait 64 is the cap (2^63 does not fit). */
  const wdr_backoff_t big = {1, INT64_MAX, WDR_JITTER_DOWN};
  assert_int_equal(wdr_backoff_ms(&big, 63, 0), INT64_C(1) << 61);
  assert_int_equal(wdr_backoff_ms(&big, 64, 0), INT64_MAX / 2);
  assert_int_equal(wdr_backoff_ms(&big, INT_MAX, 0), INT64_MAX / 2);
}

/* Every request retry: 1 s doubling to 60 s, jitter down. */
static void test_request_backoff(void **state) {
  (void)state;
  const wdr_backoff_t *b = &wdr_request_backoff;
  assert_int_equal(b->base_ms, 1000);
  assert_int_equal(b->cap_ms, 60000);
  assert_int_equal(b->jitter, WDR_JITTER_DOWN);
  const int64_t d[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
  for (int n = 1; n <= 8; n++) {
    int64_t want = d[n - 1];
    assert_int_equal(wdr_backoff_ms(b, n, 0), want / 2);
    assert_int_equal(wdr_backoff_ms(b, n, (uint32_t)(want / 2)), want);
    assert_int_equal(wdr_backoff_ms(b, n, (uint32_t)(want / 2 + 1)), want / 2);
  }
  assert_int_equal(wdr_backoff_ms(b, 1, 123), 623);
  assert_int_equal(wdr_backoff_ms(b, 2, UINT32_MAX), 1000 + UINT32_MAX % 1001);
  assert_int_equal(wdr_backoff_ms(b, 30, 0), 30000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_down_bounds),     cmocka_unit_test(test_up_bounds),
      cmocka_unit_test(test_uniform),         cmocka_unit_test(test_cap),
      cmocka_unit_test(test_n_below_one),     cmocka_unit_test(test_huge_n),
      cmocka_unit_test(test_request_backoff),
  };
  return cmocka_run_group_tests_name("wdr_backoff", tests, NULL, NULL);
}
