/* wdr_ratelimit (token bucket), driven by explicit times in milliseconds. */
#include "testutil.h"

#include "wdr_ratelimit.h"

#define T0 1767225600000LL

/* --- rate limit --------------------------------------------------------- */

/* Takes a token at now, which must fail; returns the wait it reports. */
static int64_t refused(wdr_ratelimit_t *r, int64_t now) {
  int64_t wait = -1;
  assert_false(wdr_ratelimit_take(r, now, &wait));
  assert_true(wait >= 1);
  return wait;
}

static void test_ratelimit_spacing(void **state) {
  (void)state;
  wdr_ratelimit_t r;
  wdr_ratelimit_init(&r, 20, 1, T0); /* RateLimit 20: one per 50 ms */
  assert_true(wdr_ratelimit_take(&r, T0, NULL));
  assert_int_equal(refused(&r, T0), 50);
  assert_int_equal(refused(&r, T0 + 25), 25);
  assert_int_equal(refused(&r, T0 + 40), 10);
  assert_true(wdr_ratelimit_take(&r, T0 + 50, NULL));
  assert_int_equal(refused(&r, T0 + 50), 50);

  /* Requests taken as soon as allowed are exactly 50 ms apart: 200 of
   * them take 10 s. */
  int64_t now = T0 + 50;
  for (int i = 0; i < 200; i++) {
    int64_t wait = refused(&r, now);
    assert_true(wait <= 50);
    now += wait;
    /* The wait is never short; at most a millisecond long (rounding). */
    if (!wdr_ratelimit_take(&r, now, NULL)) {
      now += 1;
      assert_true(wdr_ratelimit_take(&r, now, NULL));
    }
  }
  assert_int_equal(now, T0 + 50 + 200 * 50);

  /* A quiet spell does not build up more than one token (burst 1). */
  assert_true(wdr_ratelimit_take(&r, now + 60000, NULL));
  assert_false(wdr_ratelimit_take(&r, now + 60000, NULL));
  assert_false(wdr_ratelimit_take(&r, now + 60049, NULL));
  assert_true(wdr_ratelimit_take(&r, now + 60050, NULL));
}

/* A wait of a fraction of a millisecond is reported as 1 ms. */
static void test_ratelimit_wait_rounding(void **state) {
  (void)state;
  wdr_ratelimit_t r;
  wdr_ratelimit_init(&r, 3, 1, T0); /* 333.3 ms apart */
  assert_true(wdr_ratelimit_take(&r, T0, NULL));
  assert_int_equal(refused(&r, T0), 334);
  assert_int_equal(refused(&r, T0 + 333), 1);
  assert_true(wdr_ratelimit_take(&r, T0 + 334, NULL));
  /* Polled every millisecond, the takes are 334 ms apart: with burst 1
   * the fraction over a whole token is not kept, so the rate is never
   * exceeded, only rounded down a little. */
  int64_t last = T0 + 334;
  for (int64_t now = last + 1; now <= T0 + 10000; now++)
    if (wdr_ratelimit_take(&r, now, NULL)) {
      assert_int_equal(now - last, 334);
      last = now;
    }
  assert_int_equal(last, T0 + 29 * 334);

  /* 1000 per second: 1 ms apart. */
  wdr_ratelimit_init(&r, 1000, 1, T0);
  assert_true(wdr_ratelimit_take(&r, T0, NULL));
  assert_int_equal(refused(&r, T0), 1);
  assert_true(wdr_ratelimit_take(&r, T0 + 1, NULL));

  /* 0.1 per second: 10 s apart. */
  wdr_ratelimit_init(&r, 0.1, 1, T0);
  assert_true(wdr_ratelimit_take(&r, T0, NULL));
  assert_int_equal(refused(&r, T0), 10000);
  assert_int_equal(refused(&r, T0 + 9999), 1);
  assert_true(wdr_ratelimit_take(&r, T0 + 10000, NULL));
}

static void test_ratelimit_burst(void **state) {
  (void)state;
  wdr_ratelimit_t r;
  wdr_ratelimit_init(&r, 10, 5, T0);
  assert_true(r.burst == 5);
  /* A full bucket: five at once, then one per 100 ms. */
  for (int i = 0; i < 5; i++)
    assert_true(wdr_ratelimit_take(&r, T0, NULL));
  assert_int_equal(refused(&r, T0), 100);
  /* 250 ms: 2.5 tokens, two whole ones. */
  assert_true(wdr_ratelimit_take(&r, T0 + 250, NULL));
  assert_true(wdr_ratelimit_take(&r, T0 + 250, NULL));
  assert_int_equal(refused(&r, T0 + 250), 50);
  /* A long pause refills to the burst, no more. */
  for (int i = 0; i < 5; i++)
    assert_true(wdr_ratelimit_take(&r, T0 + 3600000, NULL));
  assert_false(wdr_ratelimit_take(&r, T0 + 3600000, NULL));

  /* A burst below 1 is raised to 1. */
  wdr_ratelimit_init(&r, 10, 0.2, T0);
  assert_true(r.burst == 1);
  assert_true(wdr_ratelimit_take(&r, T0, NULL));
  assert_false(wdr_ratelimit_take(&r, T0, NULL));
}

/* A clock that steps back refills nothing and forgets nothing; time that
 * passes after the step counts. */
static void test_ratelimit_clock_back(void **state) {
  (void)state;
  wdr_ratelimit_t r;
  wdr_ratelimit_init(&r, 20, 1, T0);
  assert_true(wdr_ratelimit_take(&r, T0, NULL));
  /* No refill from going back; the bucket stays empty. */
  assert_false(wdr_ratelimit_take(&r, T0 - 10000, NULL));
  assert_false(wdr_ratelimit_take(&r, T0 - 10000 + 49, NULL));
  assert_true(wdr_ratelimit_take(&r, T0 - 10000 + 50, NULL));

  /* Tokens held before the step are still there after it. */
  wdr_ratelimit_init(&r, 10, 3, T0);
  assert_true(wdr_ratelimit_take(&r, T0, NULL));
  assert_true(wdr_ratelimit_take(&r, T0 - 5000, NULL));
  assert_true(wdr_ratelimit_take(&r, T0 - 5000, NULL));
  assert_false(wdr_ratelimit_take(&r, T0 - 5000, NULL));
}

/* After the clock steps back, the wait the bucket reports must still be
 * the time until its next token: time that passes after the step counts.
 * (The plugin reads the wall clock: an hour's step back would otherwise
 * stop every request for an hour while the bucket keeps saying "50 ms".) */
static void test_ratelimit_clock_back_wait_honoured(void **state) {
  (void)state;
  wdr_ratelimit_t r;
  wdr_ratelimit_init(&r, 20, 1, T0);
  assert_true(wdr_ratelimit_take(&r, T0, NULL));
  int64_t now = T0 - 3600000; /* the clock steps back an hour */
  int64_t wait = refused(&r, now);
  assert_true(wait <= 50);
  if (!wdr_ratelimit_take(&r, now + wait, NULL))
    fail_msg("the bucket said to wait %lld ms after the clock stepped back, "
             "but still refused %lld ms later; it refuses until the clock "
             "is back at the time it last saw",
             (long long)wait, (long long)wait);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ratelimit_spacing),
      cmocka_unit_test(test_ratelimit_wait_rounding),
      cmocka_unit_test(test_ratelimit_burst),
      cmocka_unit_test(test_ratelimit_clock_back),
      cmocka_unit_test(test_ratelimit_clock_back_wait_honoured),
  };
  return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
