/* wdr_breaker (circuit breaker), driven by explicit times in milliseconds. */
#include "testutil.h"

#include "wdr_breaker.h"

#define T0 1767225600000LL

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
      cmocka_unit_test(test_breaker_threshold),
      cmocka_unit_test(test_breaker_cooldown_and_probe),
      cmocka_unit_test(test_breaker_late_results),
      cmocka_unit_test(test_breaker_return_values),
  };
  return cmocka_run_group_tests_name("breaker", tests, NULL, NULL);
}
