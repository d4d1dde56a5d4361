/* What the read callback would dispatch: names, kinds and values. */
#include "testutil.h"

#include "wdr_metrics.h"

typedef struct {
  char id[256]; /* plugin/plugin_instance/type-type_instance */
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
  snprintf(s->id, sizeof(s->id), "%s/%s/%s%s%s", m->plugin, m->plugin_instance,
           m->type, m->type_instance[0] ? "-" : "", m->type_instance);
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

/* Two workflows: nightly_etl with every option that adds series, hourly
 * with none of them. */
static wdr_workflow_cfg_t workflows[2];
static wdr_config_t cfg;

static int setup(void **state) {
  (void)state;
  memset(workflows, 0, sizeof(workflows));
  workflows[0] = (wdr_workflow_cfg_t){.name = "nightly_etl",
                                      .dry_run = 1,
                                      .poll = true,
                                      .track_async = true,
                                      .verify_before_rerun = true,
                                      .max_reruns_per_hour = 10};
  workflows[1] = (wdr_workflow_cfg_t){.name = "hourly", .dry_run = -1};
  cfg = (wdr_config_t){
      .workflows = workflows, .workflows_num = 2, .cred_from = WDR_CRED_CONFIG};
  return 0;
}

static const char *const always[] = {"signals",
                                     "attempts",
                                     "accepted",
                                     "failed",
                                     "dropped",
                                     "retries",
                                     "gave_up",
                                     "evicted",
                                     "throttled",
                                     "held",
                                     "skipped-bad_execution_id",
                                     "skipped-duplicate",
                                     "skipped-exhausted",
                                     "skipped-permanent_error",
                                     "skipped-retries_exhausted",
                                     "skipped-table_full",
                                     "skipped-no_failed_run"};
#define ALWAYS_NUM (sizeof(always) / sizeof(always[0]))

static const char *const optional[] = {"would_rerun",
                                       "polled",
                                       "recovered",
                                       "async-SUCCESS",
                                       "async-FAIL",
                                       "async-PART_SUCCESS",
                                       "async-TIMEOUT",
                                       "skipped-not_failed",
                                       "skipped-not_rerunnable",
                                       "skipped-budget"};
#define OPTIONAL_NUM (sizeof(optional) / sizeof(optional[0]))

static void want_counter(const capture_t *c, const char *wf, const char *name,
                         bool present) {
  char id[160];
  snprintf(id, sizeof(id), "wedata_rerun/%s/derive-%s", wf, name);
  if (present)
    assert_int_equal(derive_of(c, id), 0);
  else if (find(c, id) != NULL)
    fail_msg("%s emitted: its options keep it from ever changing", id);
}

/* Every series that can change is there from the start, at 0; the ones a
 * workflow's options keep flat are not; plugin-wide values are under their
 * own plugin name, never a workflow's label. */
static void test_series_follow_the_options(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(&cfg);
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, 0, capture, &c);
  for (size_t i = 0; i < ALWAYS_NUM; i++) {
    want_counter(&c, "nightly_etl", always[i], true);
    want_counter(&c, "hourly", always[i], true);
  }
  for (size_t i = 0; i < OPTIONAL_NUM; i++) {
    want_counter(&c, "nightly_etl", optional[i], true);
    want_counter(&c, "hourly", optional[i], false);
  }
  want_counter(&c, "nightly_etl", "skipped-no_execution_id", false);
  /* 4 actions with TrackAsync somewhere, 4 outcomes each; no latency
   * before a request. */
  const char *actions[] = {"RerunTriggerWorkflowRunAsync",
                           "GetTriggerWorkflowRun", "ListTriggerWorkflowRuns",
                           "GetOpsAsyncJob"};
  const char *outcomes[] = {"ok", "error", "throttled", "failed"};
  for (size_t a = 0; a < 4; a++)
    for (size_t o = 0; o < 4; o++) {
      char id[160];
      snprintf(id, sizeof(id), "wedata_rerun_api/%s/http_requests-%s",
               actions[a], outcomes[o]);
      assert_int_equal(derive_of(&c, id), 0);
    }
  const seen_t *q = find(&c, "wedata_rerun_global//queue_length");
  assert_non_null(q);
  assert_false(q->is_derive);
  assert_true(q->gauge == 0.0);
  assert_true(find(&c, "wedata_rerun_global//gauge-breaker_open")->gauge ==
              0.0);
  /* credentials from the config never change: no refresh counter. */
  assert_null(find(&c, "wedata_rerun_global//derive-credential_refreshes"));
  assert_null(find(&c, "wedata_rerun_global//gauge-rate_limit-current"));
  assert_null(find(&c, "wedata_rerun_global//gauge-credentials_ok"));
  assert_null(find(&c, "wedata_rerun/nightly_etl/duration-time_to_recover"));
  size_t want = 2 * ALWAYS_NUM + OPTIONAL_NUM + 16 + 2;
  if (c.n != want) {
    for (size_t i = 0; i < c.n; i++)
      print_message("%s\n", c.v[i].id);
    fail_msg("%zu values, want %zu", c.n, want);
  }
  for (size_t i = 0; i < c.n; i++)
    if (strncmp(c.v[i].id, "wedata_rerun/", 13) == 0 &&
        strncmp(c.v[i].id, "wedata_rerun/nightly_etl/", 25) != 0 &&
        strncmp(c.v[i].id, "wedata_rerun/hourly/", 20) != 0)
      fail_msg("%s: plugin wedata_rerun holds workflows only", c.v[i].id);
  wdr_metrics_destroy(m);

  /* Without TrackAsync anywhere, GetOpsAsyncJob is never called; with a
   * profile file, credentials are replaced while running. */
  workflows[0].track_async = false;
  cfg.cred_from = WDR_CRED_PROFILE;
  m = wdr_metrics_create(&cfg);
  c.n = 0;
  wdr_metrics_emit(m, 0, capture, &c);
  assert_null(find(&c, "wedata_rerun_api/GetOpsAsyncJob/http_requests-ok"));
  assert_int_equal(
      derive_of(&c, "wedata_rerun_api/GetTriggerWorkflowRun/http_requests-ok"),
      0);
  want_counter(&c, "nightly_etl", "recovered", false);
  want_counter(&c, "nightly_etl", "polled", true);
  wdr_metrics_count_refresh(m);
  wdr_metrics_count_refresh(m);
  c.n = 0;
  wdr_metrics_emit(m, 0, capture, &c);
  assert_int_equal(
      derive_of(&c, "wedata_rerun_global//derive-credential_refreshes"), 2);
  wdr_metrics_destroy(m);
  cfg.cred_from = WDR_CRED_CVM_ROLE;
  m = wdr_metrics_create(&cfg);
  c.n = 0;
  wdr_metrics_emit(m, 0, capture, &c);
  assert_int_equal(
      derive_of(&c, "wedata_rerun_global//derive-credential_refreshes"), 0);
  wdr_metrics_destroy(m);
}

/* The plugin-wide gauges appear once set, under wedata_rerun_global. */
static void test_plugin_wide_gauges(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(&cfg);
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, 0, capture, &c);
  assert_null(find(&c, "wedata_rerun_global//gauge-credentials-expires_in"));
  assert_null(find(&c, "wedata_rerun_global//gauge-clock_offset"));
  wdr_metrics_set_credentials_expiry(m, 1234.0);
  wdr_metrics_set_rate(m, 13.5);
  wdr_metrics_set_clock_offset(m, -42);
  wdr_metrics_set_credentials(m, false);
  wdr_metrics_set_breaker(m, true);
  c.n = 0;
  wdr_metrics_emit(m, 7, capture, &c);
  const struct {
    const char *id;
    double value;
  } want[] = {{"wedata_rerun_global//gauge-credentials-expires_in", 1234.0},
              {"wedata_rerun_global//gauge-rate_limit-current", 13.5},
              {"wedata_rerun_global//gauge-clock_offset", -42.0},
              {"wedata_rerun_global//gauge-credentials_ok", 0.0},
              {"wedata_rerun_global//gauge-breaker_open", 1.0},
              {"wedata_rerun_global//queue_length", 7.0}};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    const seen_t *s = find(&c, want[i].id);
    if (s == NULL)
      fail_msg("%s not emitted", want[i].id);
    assert_false(s->is_derive);
    if (s->gauge != want[i].value)
      fail_msg("%s = %g, want %g", want[i].id, s->gauge, want[i].value);
  }
  wdr_metrics_set_credentials(m, true);
  c.n = 0;
  wdr_metrics_emit(m, 0, capture, &c);
  assert_true(find(&c, "wedata_rerun_global//gauge-credentials_ok")->gauge ==
              1.0);
  wdr_metrics_destroy(m);
}

static void test_counts_per_workflow(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(&cfg);
  wdr_metrics_count(m, 0, WDR_CNT_SIGNALS);
  wdr_metrics_count(m, 0, WDR_CNT_SIGNALS);
  wdr_metrics_count(m, 0, WDR_CNT_ATTEMPTS);
  wdr_metrics_count(m, 0, WDR_CNT_FAILED);
  wdr_metrics_count(m, 1, WDR_CNT_DROPPED);
  wdr_metrics_skip(m, 1, WDR_SKIP_BAD_EXECUTION_ID);
  wdr_metrics_error(m, 0, "InvalidParameter");
  wdr_metrics_error(m, 0, "InvalidParameter");
  wdr_metrics_error(m, 0, "ClientError.NetworkError");
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, 7, capture, &c);
  assert_int_equal(derive_of(&c, "wedata_rerun/nightly_etl/derive-signals"), 2);
  assert_int_equal(derive_of(&c, "wedata_rerun/nightly_etl/derive-attempts"),
                   1);
  assert_int_equal(derive_of(&c, "wedata_rerun/nightly_etl/derive-failed"), 1);
  assert_int_equal(derive_of(&c, "wedata_rerun/nightly_etl/derive-dropped"), 0);
  assert_int_equal(derive_of(&c, "wedata_rerun/hourly/derive-dropped"), 1);
  assert_int_equal(
      derive_of(&c, "wedata_rerun/hourly/derive-skipped-bad_execution_id"), 1);
  assert_int_equal(
      derive_of(&c, "wedata_rerun/nightly_etl/derive-error-InvalidParameter"),
      2);
  assert_int_equal(
      derive_of(
          &c, "wedata_rerun/nightly_etl/derive-error-ClientError.NetworkError"),
      1);
  assert_null(find(&c, "wedata_rerun/hourly/derive-error-InvalidParameter"));
  wdr_metrics_destroy(m);
}

static wdr_api_result_t result(const char *code, long status) {
  wdr_api_result_t r = {.http_status = status, .request_sent = true};
  snprintf(r.response.error_code, sizeof(r.response.error_code), "%s", code);
  return r;
}

/* How a request ended decides its http_requests-<outcome>. */
static void test_outcome_of_a_result(void **state) {
  (void)state;
  static const struct {
    const char *code;
    long status;
    bool sent;
    enum wdr_outcome want;
  } cases[] = {
      {"", 200, true, WDR_OUTCOME_OK},
      {"InvalidParameter", 200, true, WDR_OUTCOME_ERROR},
      {"AuthFailure.SecretIdNotFound", 200, true, WDR_OUTCOME_ERROR},
      {"RequestLimitExceeded", 200, true, WDR_OUTCOME_THROTTLED},
      {"RequestLimitExceeded.UinLimitExceeded", 200, true,
       WDR_OUTCOME_THROTTLED},
      {"ClientError.NetworkError", 0, true, WDR_OUTCOME_FAILED},
      {"ClientError.HttpStatusCodeError", 502, true, WDR_OUTCOME_FAILED},
      {"ClientError.ParseJsonError", 200, true, WDR_OUTCOME_FAILED},
      {"ClientError.CredentialsUnavailable", 0, false, WDR_OUTCOME_NONE},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wdr_api_result_t r = result(cases[i].code, cases[i].status);
    r.request_sent = cases[i].sent;
    if (wdr_metrics_outcome(&r) != cases[i].want)
      fail_msg("%s (HTTP %ld): outcome %d, want %d", cases[i].code,
               cases[i].status, (int)wdr_metrics_outcome(&r),
               (int)cases[i].want);
  }
}

/* Requests per action by outcome are counters; the latency is the average
 * and maximum of the answered requests of one interval, then starts anew. */
static void test_requests_and_latency_per_action(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(&cfg);
  const char *rerun = "RerunTriggerWorkflowRunAsync";
  wdr_metrics_request(m, rerun, WDR_OUTCOME_OK, true, 0.5);
  wdr_metrics_request(m, rerun, WDR_OUTCOME_OK, true, 0.125);
  wdr_metrics_request(m, rerun, WDR_OUTCOME_THROTTLED, true, 0.25);
  wdr_metrics_request(m, rerun, WDR_OUTCOME_FAILED, false, 30);
  wdr_metrics_request(m, rerun, WDR_OUTCOME_NONE, false, 0);
  wdr_metrics_request(m, "NoSuchAction", WDR_OUTCOME_OK, true, 9);
  wdr_metrics_request(m, "GetTriggerWorkflowRun", WDR_OUTCOME_ERROR, true, 1);
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, 0, capture, &c);
  const char *p = "wedata_rerun_api/RerunTriggerWorkflowRunAsync/";
  char id[160];
  const struct {
    const char *outcome;
    uint64_t n;
  } want[] = {{"ok", 2}, {"error", 0}, {"throttled", 1}, {"failed", 1}};
  for (size_t i = 0; i < 4; i++) {
    snprintf(id, sizeof(id), "%shttp_requests-%s", p, want[i].outcome);
    assert_int_equal(derive_of(&c, id), want[i].n);
  }
  snprintf(id, sizeof(id), "%sresponse_time-avg", p);
  const seen_t *avg = find(&c, id);
  assert_non_null(avg);
  assert_false(avg->is_derive);
  /* (0.5 + 0.125 + 0.25) / 3: the unanswered request has no latency */
  assert_true(avg->gauge > 0.29166 && avg->gauge < 0.29167);
  snprintf(id, sizeof(id), "%sresponse_time-max", p);
  assert_true(find(&c, id)->gauge == 0.5);
  assert_int_equal(
      derive_of(&c,
                "wedata_rerun_api/GetTriggerWorkflowRun/http_requests-error"),
      1);
  assert_true(
      find(&c, "wedata_rerun_api/GetTriggerWorkflowRun/response_time-max")
          ->gauge == 1.0);
  assert_null(
      find(&c, "wedata_rerun_api/ListTriggerWorkflowRuns/response_time-avg"));
  /* The next interval: no request, no latency; the counters stay. */
  c.n = 0;
  wdr_metrics_emit(m, 0, capture, &c);
  snprintf(id, sizeof(id), "%sresponse_time-avg", p);
  assert_null(find(&c, id));
  snprintf(id, sizeof(id), "%shttp_requests-ok", p);
  assert_int_equal(derive_of(&c, id), 2);
  wdr_metrics_request(m, rerun, WDR_OUTCOME_OK, true, 0.0625);
  c.n = 0;
  wdr_metrics_emit(m, 0, capture, &c);
  snprintf(id, sizeof(id), "%sresponse_time-max", p);
  assert_true(find(&c, id)->gauge == 0.0625);
  wdr_metrics_destroy(m);
}

static void test_time_to_recover_is_the_latest(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(&cfg);
  wdr_metrics_count(m, 0, WDR_CNT_RECOVERED);
  wdr_metrics_count(m, 0, WDR_CNT_ASYNC_PART_SUCCESS);
  wdr_metrics_set_recovery(m, 0, 42.5);
  wdr_metrics_set_recovery(m, 0, 7.25);
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, 0, capture, &c);
  const seen_t *t =
      find(&c, "wedata_rerun/nightly_etl/duration-time_to_recover");
  assert_non_null(t);
  assert_false(t->is_derive);
  assert_true(t->gauge == 7.25);
  assert_null(find(&c, "wedata_rerun/hourly/duration-time_to_recover"));
  assert_int_equal(derive_of(&c, "wedata_rerun/nightly_etl/derive-recovered"),
                   1);
  assert_int_equal(
      derive_of(&c, "wedata_rerun/nightly_etl/derive-async-PART_SUCCESS"), 1);
  assert_int_equal(
      derive_of(&c, "wedata_rerun/nightly_etl/derive-async-SUCCESS"), 0);
  wdr_metrics_destroy(m);
}

static void test_error_codes_are_bounded_and_safe(void **state) {
  (void)state;
  wdr_metrics_t *m = wdr_metrics_create(&cfg);
  /* A hostile or broken server could send any text as a code. */
  wdr_metrics_error(m, 0, "Bad/Code with spaces\n");
  wdr_metrics_error(m, 0, "");
  for (int i = 0; i < WDR_ERRORS_MAX + 5; i++) {
    char code[32];
    snprintf(code, sizeof(code), "Code%d", i);
    wdr_metrics_error(m, 0, code);
  }
  capture_t c = {.n = 0};
  wdr_metrics_emit(m, 0, capture, &c);
  const char *p = "wedata_rerun/nightly_etl/derive-error-";
  char id[160];
  snprintf(id, sizeof(id), "%sBad_Code_with_spaces_", p);
  assert_int_equal(derive_of(&c, id), 1);
  snprintf(id, sizeof(id), "%s_", p);
  assert_int_equal(derive_of(&c, id), 1);
  /* 2 + 30 distinct codes fill the table; the other 7 are "other". */
  snprintf(id, sizeof(id), "%sCode29", p);
  assert_int_equal(derive_of(&c, id), 1);
  snprintf(id, sizeof(id), "%sCode30", p);
  assert_null(find(&c, id));
  snprintf(id, sizeof(id), "%sother", p);
  assert_int_equal(derive_of(&c, id), 7);
  wdr_metrics_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_series_follow_the_options, setup),
      cmocka_unit_test_setup(test_plugin_wide_gauges, setup),
      cmocka_unit_test_setup(test_counts_per_workflow, setup),
      cmocka_unit_test(test_outcome_of_a_result),
      cmocka_unit_test_setup(test_requests_and_latency_per_action, setup),
      cmocka_unit_test_setup(test_time_to_recover_is_the_latest, setup),
      cmocka_unit_test_setup(test_error_codes_are_bounded_and_safe, setup),
  };
  return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
