/* What the read callback would dispatch: names, kinds and values. */
#include "testutil.h"

#include "wdr_metrics.h"

typedef struct {
  char id[256]; /* plugin_instance/type-type_instance */
  bool is_derive;
  uint64_t derive;
  double gauge;
} seen_t;

typedef struct {
  seen_t v[256];
  size_t n;
} capture_t;

static void capture(void *ctx, const wdr_metric_t *m) {
  capture_t *c = ctx;
  assert_true(c->n < 256);
  seen_t *s = &c->v[c->n++];
  snprintf(s->id, sizeof(s->id), "%s/%s%s%s", m->plugin_instance, m->type,
           m->type_instance[0] ? "-" : "", m->type_instance);
  s->is_derive = m->is_derive;
  s->derive = m->derive;
  s->gauge = m->gauge;
}

static const seen_t *find(const capture_t *c, const char *id) {
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->v[i].id, id) == 0)
      return &c->v[i];
  return NULL;
}

static uint64_t derive_of(const capture_t *c, const char *id) {
  const seen_t *s = find(c, id);
  if (s == NULL)
    fail_msg("%s was not emitted", id);
  assert_true(s->is_derive);
  return s->derive;
}

static char *names[] = {"nightly_etl", "hourly"};

static void test_zero_counters_emitted(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(2);
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, names, 0, capture, &c);
  /* 17 counters + 11 skip reasons per workflow, then queue_length,
   * breaker_open and credential_refreshes; no time to recover before a
   * recovery, no pace before the engine sets it. */
  assert_int_equal(c.n, 2 * 28 + 3);
  assert_int_equal(derive_of(&c, "/derive-credential_refreshes"), 0);
  wdr_metrics_count_refresh(m);
  wdr_metrics_count_refresh(m);
  capture_t again = {.n = 0};
  wdr_metrics_emit(m, names, 0, capture, &again);
  assert_int_equal(derive_of(&again, "/derive-credential_refreshes"), 2);
  assert_null(find(&again, "/gauge-credentials-expires_in"));
  wdr_metrics_set_credentials_expiry(m, 1234.0);
  capture_t third = {.n = 0};
  wdr_metrics_emit(m, names, 0, capture, &third);
  const seen_t *e = find(&third, "/gauge-credentials-expires_in");
  assert_non_null(e);
  assert_true(e->gauge == 1234.0);
  assert_null(find(&c, "/gauge-rate_limit-current"));
  assert_null(find(&c, "hourly/duration-time_to_recover"));
  const char *want[] = {"signals",
                        "attempts",
                        "accepted",
                        "failed",
                        "dropped",
                        "retries",
                        "gave_up",
                        "would_rerun",
                        "polled",
                        "recovered",
                        "async-SUCCESS",
                        "async-FAIL",
                        "async-PART_SUCCESS",
                        "async-TIMEOUT",
                        "evicted",
                        "throttled",
                        "held",
                        "skipped-no_execution_id",
                        "skipped-bad_execution_id",
                        "skipped-duplicate",
                        "skipped-exhausted",
                        "skipped-budget",
                        "skipped-permanent_error",
                        "skipped-retries_exhausted",
                        "skipped-table_full",
                        "skipped-not_failed",
                        "skipped-not_rerunnable",
                        "skipped-no_failed_run"};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    char id[128];
    snprintf(id, sizeof(id), "hourly/derive-%s", want[i]);
    assert_int_equal(derive_of(&c, id), 0);
  }
  const seen_t *q = find(&c, "/queue_length");
  assert_non_null(q);
  assert_false(q->is_derive);
  assert_true(q->gauge == 0.0);
  assert_null(
      find(&c, "nightly_etl/response_time-RerunTriggerWorkflowRunAsync"));
  /* Once set, the pace is a plugin-wide gauge. */
  wdr_metrics_set_rate(m, 13.5);
  c.n = 0;
  wdr_metrics_emit(m, names, 0, capture, &c);
  const seen_t *r = find(&c, "/gauge-rate_limit-current");
  assert_non_null(r);
  assert_false(r->is_derive);
  assert_true(r->gauge == 13.5);
  assert_null(find(&c, "/gauge-clock_offset"));
  wdr_metrics_set_clock_offset(m, -42);
  c.n = 0;
  wdr_metrics_emit(m, names, 0, capture, &c);
  const seen_t *o = find(&c, "/gauge-clock_offset");
  assert_non_null(o);
  assert_true(o->gauge == -42.0);
  /* credentials_ok: once the engine sets it, 1 or 0. */
  assert_null(find(&c, "/gauge-credentials_ok"));
  wdr_metrics_set_credentials(m, false);
  c.n = 0;
  wdr_metrics_emit(m, names, 0, capture, &c);
  const seen_t *k = find(&c, "/gauge-credentials_ok");
  assert_non_null(k);
  assert_true(k->gauge == 0.0);
  wdr_metrics_set_credentials(m, true);
  c.n = 0;
  wdr_metrics_emit(m, names, 0, capture, &c);
  assert_true(find(&c, "/gauge-credentials_ok")->gauge == 1.0);
  wdr_metrics_destroy(m);
}

static void test_counts_per_workflow(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(2);
  wdr_metrics_count(m, 0, WDR_CNT_SIGNALS);
  wdr_metrics_count(m, 0, WDR_CNT_SIGNALS);
  wdr_metrics_count(m, 0, WDR_CNT_ATTEMPTS);
  wdr_metrics_count(m, 0, WDR_CNT_FAILED);
  wdr_metrics_count(m, 1, WDR_CNT_DROPPED);
  wdr_metrics_skip(m, 1, WDR_SKIP_NO_EXECUTION_ID);
  wdr_metrics_error(m, 0, "InvalidParameter");
  wdr_metrics_error(m, 0, "InvalidParameter");
  wdr_metrics_error(m, 0, "ClientError.NetworkError");
  wdr_metrics_latency(m, 0, "RerunTriggerWorkflowRunAsync", 0.5);
  wdr_metrics_latency(m, 0, "RerunTriggerWorkflowRunAsync", 0.125);
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, names, 7, capture, &c);
  assert_int_equal(derive_of(&c, "nightly_etl/derive-signals"), 2);
  assert_int_equal(derive_of(&c, "nightly_etl/derive-attempts"), 1);
  assert_int_equal(derive_of(&c, "nightly_etl/derive-failed"), 1);
  assert_int_equal(derive_of(&c, "nightly_etl/derive-dropped"), 0);
  assert_int_equal(derive_of(&c, "hourly/derive-dropped"), 1);
  assert_int_equal(derive_of(&c, "hourly/derive-skipped-no_execution_id"), 1);
  assert_int_equal(derive_of(&c, "nightly_etl/derive-error-InvalidParameter"),
                   2);
  assert_int_equal(
      derive_of(&c, "nightly_etl/derive-error-ClientError.NetworkError"), 1);
  assert_null(find(&c, "hourly/derive-error-InvalidParameter"));
  const seen_t *rt =
      find(&c, "nightly_etl/response_time-RerunTriggerWorkflowRunAsync");
  assert_non_null(rt);
  assert_false(rt->is_derive);
  assert_true(rt->gauge == 0.125); /* the last call's, not a sum */
  assert_true(find(&c, "/queue_length")->gauge == 7.0);
  wdr_metrics_set_breaker(m, true);
  c.n = 0;
  wdr_metrics_emit(m, names, 0, capture, &c);
  assert_true(find(&c, "/gauge-breaker_open")->gauge == 1.0);
  wdr_metrics_destroy(m);
}

static void test_time_to_recover_is_the_latest(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(2);
  wdr_metrics_count(m, 1, WDR_CNT_RECOVERED);
  wdr_metrics_count(m, 1, WDR_CNT_ASYNC_PART_SUCCESS);
  wdr_metrics_set_recovery(m, 1, 42.5);
  wdr_metrics_set_recovery(m, 1, 7.25);
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, names, 0, capture, &c);
  const seen_t *t = find(&c, "hourly/duration-time_to_recover");
  assert_non_null(t);
  assert_false(t->is_derive);
  assert_true(t->gauge == 7.25);
  assert_null(find(&c, "nightly_etl/duration-time_to_recover"));
  assert_int_equal(derive_of(&c, "hourly/derive-recovered"), 1);
  assert_int_equal(derive_of(&c, "hourly/derive-async-PART_SUCCESS"), 1);
  assert_int_equal(derive_of(&c, "hourly/derive-async-SUCCESS"), 0);
  wdr_metrics_destroy(m);
}

static void test_error_codes_are_bounded_and_safe(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(1);
  /* A hostile or broken server could send any text as a code. */
  wdr_metrics_error(m, 0, "Bad/Code with spaces\n");
  wdr_metrics_error(m, 0, "");
  for (int i = 0; i < WDR_ERRORS_MAX + 5; i++) {
    char code[32];
    snprintf(code, sizeof(code), "Code%d", i);
    wdr_metrics_error(m, 0, code);
  }
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, names, 0, capture, &c);
  assert_int_equal(
      derive_of(&c, "nightly_etl/derive-error-Bad_Code_with_spaces_"), 1);
  assert_int_equal(derive_of(&c, "nightly_etl/derive-error-_"), 1);
  /* 2 + 30 distinct codes fill the table; the other 7 are "other". */
  assert_int_equal(derive_of(&c, "nightly_etl/derive-error-Code29"), 1);
  assert_null(find(&c, "nightly_etl/derive-error-Code30"));
  assert_int_equal(derive_of(&c, "nightly_etl/derive-error-other"), 7);
  wdr_metrics_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zero_counters_emitted),
      cmocka_unit_test(test_counts_per_workflow),
      cmocka_unit_test(test_time_to_recover_is_the_latest),
      cmocka_unit_test(test_error_codes_are_bounded_and_safe),
  };
  return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
