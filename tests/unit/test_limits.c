/* wdr_ratelimit (token bucket) and wdr_breaker (circuit breaker), both
 * driven by explicit times in milliseconds. */
#include "testutil.h"

#include "wdr_breaker.h"
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

/* --- breaker ------------------------------------------------------------ */

static void allowed(wdr_breaker_t *b, int64_t now) {
  int64_t wait = -1;
  assert_true(wdr_breaker_allow(b, now, &wait));
  assert_int_equal(wait, -1); /* only set on a refusal */
}

static int64_t blocked(wdr_breaker_t *b, int64_t now) {
  int64_t wait = -1;
  assert_false(wdr_breaker_allow(b, now, &wait));
  assert_true(wait >= 0);
  return wait;
}

static void test_breaker_threshold(void **state) {
  (void)state;
  wdr_breaker_t b;
  wdr_breaker_init(&b, 3, 1000);
  assert_int_equal(b.state, WDR_BREAKER_CLOSED);
  assert_false(wdr_breaker_is_open(&b));
  allowed(&b, T0);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 0);
  assert_int_equal(wdr_breaker_record(&b, false, T0 + 1), 0);
  assert_false(wdr_breaker_is_open(&b));
  allowed(&b, T0 + 2);
  assert_int_equal(wdr_breaker_record(&b, false, T0 + 2), 1);
  assert_true(wdr_breaker_is_open(&b));
  assert_int_equal(b.state, WDR_BREAKER_OPEN);
  assert_int_equal(b.opened_ms, T0 + 2);
  assert_int_equal(b.failures, 3);

  /* Failures must be consecutive: a success starts the count again. */
  wdr_breaker_init(&b, 3, 1000);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 0);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 0);
  assert_int_equal(wdr_breaker_record(&b, true, T0), 0); /* closed already */
  assert_int_equal(b.failures, 0);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 0);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 0);
  assert_false(wdr_breaker_is_open(&b));
  assert_int_equal(wdr_breaker_record(&b, false, T0), 1);

  /* A threshold below 1 is 1: one failure opens it. */
  wdr_breaker_init(&b, 0, 1000);
  assert_int_equal(b.threshold, 1);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 1);
  assert_true(wdr_breaker_is_open(&b));
}

static void test_breaker_cooldown_and_probe(void **state) {
  (void)state;
  wdr_breaker_t b;
  wdr_breaker_init(&b, 1, 60000);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 1);

  /* Open: nothing for the cooldown; the wait counts down. */
  assert_int_equal(blocked(&b, T0), 60000);
  assert_int_equal(blocked(&b, T0 + 59000), 1000);
  assert_int_equal(blocked(&b, T0 + 59999), 1);
  assert_false(wdr_breaker_allow(&b, T0 + 30000, NULL));
  assert_int_equal(b.state, WDR_BREAKER_OPEN);

  /* Half-open: exactly one probe. */
  allowed(&b, T0 + 60000);
  assert_int_equal(b.state, WDR_BREAKER_HALF_OPEN);
  assert_true(b.probe_out);
  assert_true(wdr_breaker_is_open(&b));
  assert_int_equal(blocked(&b, T0 + 60000), 0); /* wait for the probe */
  assert_int_equal(blocked(&b, T0 + 999999), 0);
  assert_false(wdr_breaker_allow(&b, T0 + 999999, NULL));

  /* The probe fails: open again, for a full cooldown from now. */
  assert_int_equal(wdr_breaker_record(&b, false, T0 + 61000), 0);
  assert_int_equal(b.state, WDR_BREAKER_OPEN);
  assert_int_equal(b.opened_ms, T0 + 61000);
  assert_true(wdr_breaker_is_open(&b));
  assert_int_equal(blocked(&b, T0 + 61000), 60000);
  assert_int_equal(blocked(&b, T0 + 120999), 1);

  /* The next probe succeeds: closed, and everything flows. */
  allowed(&b, T0 + 121000);
  assert_int_equal(blocked(&b, T0 + 121000), 0);
  assert_int_equal(wdr_breaker_record(&b, true, T0 + 121500), -1);
  assert_int_equal(b.state, WDR_BREAKER_CLOSED);
  assert_int_equal(b.failures, 0);
  assert_false(b.probe_out);
  assert_false(wdr_breaker_is_open(&b));
  for (int i = 0; i < 10; i++)
    allowed(&b, T0 + 121500 + i);
  assert_int_equal(wdr_breaker_record(&b, true, T0 + 121600), 0);

  /* And it opens again after threshold failures. */
  assert_int_equal(wdr_breaker_record(&b, false, T0 + 200000), 1);
  assert_int_equal(blocked(&b, T0 + 200000), 60000);
}

/* Answers of requests that were out when it opened: a success closes it
 * (the service answers again), a failure changes nothing. */
static void test_breaker_late_results(void **state) {
  (void)state;
  wdr_breaker_t b;
  wdr_breaker_init(&b, 2, 1000);
  wdr_breaker_record(&b, false, T0);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 1);
  assert_int_equal(wdr_breaker_record(&b, false, T0 + 500), 0);
  assert_int_equal(b.state, WDR_BREAKER_OPEN);
  assert_int_equal(b.opened_ms, T0); /* the cooldown is not extended */
  assert_int_equal(blocked(&b, T0 + 500), 500);
  assert_int_equal(wdr_breaker_record(&b, true, T0 + 600), -1);
  assert_false(wdr_breaker_is_open(&b));
  allowed(&b, T0 + 600);
  allowed(&b, T0 + 600);
}

/* While half-open, the probe's own success closes it once; a second
 * success reports no change. */
static void test_breaker_return_values(void **state) {
  (void)state;
  wdr_breaker_t b;
  wdr_breaker_init(&b, 1, 10);
  assert_int_equal(wdr_breaker_record(&b, true, T0), 0);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 1);
  assert_int_equal(wdr_breaker_record(&b, false, T0), 0); /* already open */
  allowed(&b, T0 + 10);
  assert_int_equal(wdr_breaker_record(&b, false, T0 + 11), 0); /* reopens */
  assert_true(wdr_breaker_is_open(&b));
  allowed(&b, T0 + 21);
  assert_int_equal(wdr_breaker_record(&b, true, T0 + 22), -1);
  assert_int_equal(wdr_breaker_record(&b, true, T0 + 23), 0);
  assert_false(wdr_breaker_is_open(&b));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ratelimit_spacing),
      cmocka_unit_test(test_ratelimit_wait_rounding),
      cmocka_unit_test(test_ratelimit_burst),
      cmocka_unit_test(test_ratelimit_clock_back),
      cmocka_unit_test(test_ratelimit_clock_back_wait_honoured),
      cmocka_unit_test(test_breaker_threshold),
      cmocka_unit_test(test_breaker_cooldown_and_probe),
      cmocka_unit_test(test_breaker_late_results),
      cmocka_unit_test(test_breaker_return_values),
  };
  return cmocka_run_group_tests_name("wdr_ratelimit and wdr_breaker", tests,
                                     NULL, NULL);
}
