/* wdr_loglimit: the first message goes out, then one per
 * WDR_LOG_EVERY_SECONDS with the number held back since the last one, also
 * when several threads ask at once.
 *
 * cmocka's asserts longjmp, which must not happen off the main thread: the
 * helper threads only record what they saw, and the main thread asserts. */
#include "testutil.h"

#include "wdr_loglimit.h"

#include <pthread.h>

#define T0 1767225600 /* seconds: 2026-01-01 00:00:00 UTC */
#define EVERY WDR_LOG_EVERY_SECONDS

/* One call that must be let out with held messages before it. */
static void allowed(wdr_loglimit_t *l, int64_t now_s, uint64_t held) {
  uint64_t got = 12345;
  if (!wdr_loglimit_allow(l, now_s, &got))
    fail_msg("a message at %lld was held back", (long long)now_s);
  assert_int_equal(got, held);
}

static void held_back(wdr_loglimit_t *l, int64_t now_s) {
  uint64_t got = 0;
  if (wdr_loglimit_allow(l, now_s, &got))
    fail_msg("a message at %lld went out", (long long)now_s);
}

static void test_first_then_one_per_period(void **state) {
  (void)state;
  wdr_loglimit_t l = {0};
  allowed(&l, T0, 0);
  held_back(&l, T0);
  held_back(&l, T0 + 1);
  held_back(&l, T0 + EVERY - 1);
  /* The period ends exactly EVERY seconds later. */
  allowed(&l, T0 + EVERY, 3);
  held_back(&l, T0 + 2 * EVERY - 1);
  allowed(&l, T0 + 2 * EVERY, 1);
  /* Nothing held back in between: 0. */
  allowed(&l, T0 + 3 * EVERY, 0);
  /* A long silence: the next one goes out at once. */
  allowed(&l, T0 + 1000 * EVERY + 3, 0);
  held_back(&l, T0 + 1001 * EVERY + 2);
  allowed(&l, T0 + 1001 * EVERY + 3, 1);
}

/* A fake clock starting at 0 (as the unit tests of the modules that use a
 * limit run them): the first message goes out, and 0 is not mistaken for
 * "no message yet" afterwards. */
static void test_clock_at_zero(void **state) {
  (void)state;
  wdr_loglimit_t l = {0};
  allowed(&l, 0, 0);
  held_back(&l, 0);
  held_back(&l, EVERY - 1);
  allowed(&l, EVERY, 2);
  held_back(&l, EVERY);
}

static void test_small_clock_values(void **state) {
  (void)state;
  for (int64_t start = 1; start <= EVERY + 1; start++) {
    wdr_loglimit_t l = {0};
    allowed(&l, start, 0);
    held_back(&l, start);
    held_back(&l, start + EVERY - 1);
    allowed(&l, start + EVERY, 2);
  }
}

/* Each limit is its own. */
static void test_limits_independent(void **state) {
  (void)state;
  wdr_loglimit_t a = {0}, b = {0};
  allowed(&a, T0, 0);
  allowed(&b, T0, 0);
  held_back(&a, T0 + 1);
  allowed(&b, T0 + EVERY, 0);
  allowed(&a, T0 + EVERY, 1);
}

/* --- threads ------------------------------------------------------------
 * Every thread walks the same periods as fast as it can, CALLS in each:
 * whichever thread reaches a period first must be the only one let out in
 * it (the others find it taken, or are behind and find the next one set).
 * Threads running neck and neck are what tests the exchange; no barrier per
 * period, as waking from one staggers the threads. On two CPUs this catches
 * a check-then-store without the exchange in about 19 runs of 20. */

#define THREADS 4
#define PERIODS 1000000
#define CALLS 1 /* per thread and period */

static wdr_loglimit_t g_limit;
static pthread_barrier_t g_start;
static _Atomic unsigned char g_allowed[PERIODS]; /* per period */

static void *worker(void *arg) {
  uint64_t *reported = arg;
  pthread_barrier_wait(&g_start);
  for (int k = 0; k < PERIODS; k++)
    for (int i = 0; i < CALLS; i++) {
      uint64_t held = 0;
      if (wdr_loglimit_allow(&g_limit, T0 + (int64_t)k * EVERY, &held)) {
        atomic_fetch_add(&g_allowed[k], 1);
        *reported += held;
      }
    }
  return NULL;
}

static void test_threads_one_per_period(void **state) {
  (void)state;
  g_limit = (wdr_loglimit_t){0};
  assert_int_equal(pthread_barrier_init(&g_start, NULL, THREADS), 0);
  pthread_t th[THREADS];
  uint64_t reported[THREADS] = {0};
  for (int t = 0; t < THREADS; t++)
    assert_int_equal(pthread_create(&th[t], NULL, worker, &reported[t]), 0);
  for (int t = 0; t < THREADS; t++)
    assert_int_equal(pthread_join(th[t], NULL), 0);
  pthread_barrier_destroy(&g_start);

  for (int k = 0; k < PERIODS; k++)
    if (g_allowed[k] != 1)
      fail_msg("period %d let %u messages out", k, (unsigned)g_allowed[k]);
  /* Every call held back is reported once, by a later allowed one. */
  uint64_t total = 0, last = 0;
  for (int t = 0; t < THREADS; t++)
    total += reported[t];
  assert_true(wdr_loglimit_allow(&g_limit, T0 + PERIODS * EVERY, &last));
  assert_int_equal(total + last, (uint64_t)THREADS * CALLS * PERIODS - PERIODS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_then_one_per_period),
      cmocka_unit_test(test_clock_at_zero),
      cmocka_unit_test(test_small_clock_values),
      cmocka_unit_test(test_limits_independent),
      cmocka_unit_test(test_threads_one_per_period),
  };
  return cmocka_run_group_tests_name("wdr_loglimit", tests, NULL, NULL);
}
