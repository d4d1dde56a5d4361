/* wdr_policy: every rule of the rerun state machine, with explicit times
 * (milliseconds) and fixed random values, so each decision is exact. */
#include "testutil.h"

#include "wdr_policy.h"

#define T0 1767225600000LL /* 2026-01-01 00:00:00 UTC */
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

#define WF 0  /* a normal workflow */
#define DRY 1 /* a dry-run workflow */

/* What a test runs against; setup resets it, a test may change it before
 * create(), the teardown frees the policy even after a failed assertion. */
static wdr_policy_wf_t g_wf[2];
static wdr_policy_cfg_t g_cfg;
static wdr_policy_t *g_p;

static int setup(void **state) {
  (void)state;
  g_wf[WF] = (wdr_policy_wf_t){.max_attempts = 3,
                               .retry_interval_ms = MIN,
                               .max_retry_interval_ms = HOUR,
                               .max_reruns_per_hour = 0,
                               .dry_run = false};
  g_wf[DRY] = g_wf[WF];
  g_wf[DRY].dry_run = true;
  g_cfg = (wdr_policy_cfg_t){.wf = g_wf,
                             .wf_num = 2,
                             .max_request_retries = 3,
                             .retention_ms = DAY,
                             .max_runs = 100};
  g_p = NULL;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  wdr_policy_destroy(g_p);
  g_p = NULL;
  return 0;
}

static wdr_policy_t *create(void) {
  assert_null(g_p);
  g_p = wdr_policy_create(&g_cfg);
  assert_non_null(g_p);
  return g_p;
}

#define assert_between(v, lo, hi)                                              \
  do {                                                                         \
    long long v_ = (long long)(v), lo_ = (long long)(lo),                      \
              hi_ = (long long)(hi);                                           \
    if (v_ < lo_ || v_ > hi_)                                                  \
      fail_msg("%s = %lld, not in [%lld, %lld]", #v, v_, lo_, hi_);            \
  } while (0)

/* --- helpers ------------------------------------------------------------ */

static size_t runs_num(void) {
  size_t n = 0;
  (void)wdr_policy_runs(g_p, &n);
  return n;
}

/* The run in the table (a copy: the table moves when it changes). */
static wdr_run_t run_of(size_t wf, const char *id) {
  size_t n = 0;
  const wdr_run_t *runs = wdr_policy_runs(g_p, &n);
  for (size_t i = 0; i < n; i++)
    if (runs[i].wf == wf && strcmp(runs[i].execution_id, id) == 0)
      return runs[i];
  fail_msg("run %zu/%s is not in the table", wf, id);
  return (wdr_run_t){0};
}

static bool has_run(size_t wf, const char *id) {
  size_t n = 0;
  const wdr_run_t *runs = wdr_policy_runs(g_p, &n);
  for (size_t i = 0; i < n; i++)
    if (runs[i].wf == wf && strcmp(runs[i].execution_id, id) == 0)
      return true;
  return false;
}

static wdr_signal_decision_t sig(size_t wf, const char *id, int64_t now,
                                 uint32_t rnd) {
  return wdr_policy_on_signal(g_p, wf, id, now, rnd);
}

/* A signal that must schedule; returns when. */
static int64_t sig_scheduled(size_t wf, const char *id, int64_t now,
                             uint32_t rnd) {
  wdr_signal_decision_t d = sig(wf, id, now, rnd);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  return d.at_ms;
}

static wdr_policy_job_t take(int64_t now) {
  wdr_policy_job_t job;
  memset(&job, 0xa5, sizeof(job));
  int64_t next = -7;
  assert_true(wdr_policy_take_due(g_p, now, &job, &next));
  assert_int_equal(next, -7); /* only set when nothing is due */
  return job;
}

static void take_none(int64_t now, int64_t want_next) {
  wdr_policy_job_t job;
  memset(&job, 0, sizeof(job));
  int64_t next = -7;
  assert_false(wdr_policy_take_due(g_p, now, &job, &next));
  assert_int_equal(next, want_next);
}

static wdr_result_decision_t res(const wdr_policy_job_t *job, wdr_outcome_t o,
                                 int64_t now, uint32_t rnd) {
  return wdr_policy_on_result(g_p, job, o, NULL, NULL, now, rnd);
}

static void res_ok(wdr_policy_job_t job, int64_t now) {
  assert_int_equal(res(&job, WDR_OUTCOME_ACCEPTED, now, 0).verdict,
                   WDR_RESULT_ACCEPTED);
}

static void assert_job(const wdr_policy_job_t *job, size_t wf, const char *id,
                       wdr_job_kind_t kind, int attempt, int retry) {
  assert_int_equal(job->wf, wf);
  assert_string_equal(job->execution_id, id);
  assert_int_equal(job->kind, kind);
  assert_int_equal(job->attempt, attempt);
  assert_int_equal(job->retry, retry);
}

/* Signal at now (which must be due at once), take it, and accept it. */
static void accepted_attempt(size_t wf, const char *id, int64_t now) {
  assert_int_equal(sig_scheduled(wf, id, now, 0), now);
  wdr_policy_job_t job = take(now);
  assert_int_equal(res(&job, WDR_OUTCOME_ACCEPTED, now, 0).verdict,
                   WDR_RESULT_ACCEPTED);
}

/* --- create ------------------------------------------------------------- */

static void test_create_bad_input(void **state) {
  (void)state;
  assert_null(wdr_policy_create(NULL));
  wdr_policy_cfg_t c = g_cfg;
  c.wf = NULL;
  assert_null(wdr_policy_create(&c));
  c = g_cfg;
  c.wf_num = 0;
  assert_null(wdr_policy_create(&c));
  c = g_cfg;
  c.max_runs = 0;
  assert_null(wdr_policy_create(&c));
  wdr_policy_destroy(NULL);

  create();
  assert_int_equal(runs_num(), 0);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  take_none(T0, INT64_MAX);
}

static void test_state_names(void **state) {
  (void)state;
  assert_string_equal(wdr_run_state_name(WDR_RUN_IDLE), "idle");
  assert_string_equal(wdr_run_state_name(WDR_RUN_SCHEDULED), "scheduled");
  assert_string_equal(wdr_run_state_name(WDR_RUN_VERIFY), "verify");
  assert_string_equal(wdr_run_state_name(WDR_RUN_IN_FLIGHT), "in_flight");
  assert_string_equal(wdr_run_state_name(WDR_RUN_PERMANENT), "permanent");
  assert_string_equal(wdr_run_state_name(WDR_RUN_STATE_NUM), "unknown");
}

/* --- signals ------------------------------------------------------------ */

static void test_first_signal_schedules_now(void **state) {
  (void)state;
  create();
  wdr_signal_decision_t d = sig(WF, "run-1", T0, 12345);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(d.at_ms, T0);
  assert_int_equal(d.attempts, 0);
  assert_false(d.gave_up);

  assert_int_equal(runs_num(), 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_SCHEDULED);
  assert_int_equal(r.attempts, 0);
  assert_int_equal(r.tries, 1);
  assert_int_equal(r.request_retries, 0);
  assert_int_equal(r.verify_tries, 0);
  assert_false(r.resigned);
  assert_false(r.gave_up);
  assert_int_equal(r.first_signal_ms, T0);
  assert_int_equal(r.last_signal_ms, T0);
  assert_int_equal(r.last_try_ms, T0);
  assert_int_equal(r.next_at_ms, T0);
  assert_int_equal(r.updated_ms, T0);
  assert_string_equal(r.last_async_id, "");
  assert_string_equal(r.last_error, "");
  assert_int_equal(wdr_policy_pending(g_p), 1);

  /* Not due a millisecond early; due at T0. */
  take_none(T0 - 1, T0);
  wdr_policy_job_t job = take(T0);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 1, 0);
  assert_false(job.dry_run);
  assert_int_equal(job.known_attempts, 0);
  r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IN_FLIGHT);
  assert_int_equal(r.in_flight, WDR_JOB_RERUN);
  assert_int_equal(wdr_policy_pending(g_p), 1);
  take_none(T0, INT64_MAX);
}

/* The same run in another workflow is another run. */
static void test_runs_keyed_by_workflow(void **state) {
  (void)state;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  sig_scheduled(DRY, "run-1", T0, 0);
  assert_int_equal(runs_num(), 2);
  assert_int_equal(sig(WF, "run-2", T0, 0).verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(runs_num(), 3);
}

static void test_bad_signal_input(void **state) {
  (void)state;
  create();
  char id[WDR_ID_MAX + 1];
  memset(id, 'x', WDR_ID_MAX);
  id[WDR_ID_MAX] = '\0'; /* 128 characters: no room for the NUL */
  assert_int_not_equal(sig(2, "run-1", T0, 0).verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_not_equal(sig(WF, NULL, T0, 0).verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_not_equal(sig(WF, id, T0, 0).verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(runs_num(), 0);
  id[WDR_ID_MAX - 1] = '\0'; /* 127: the longest that fits */
  sig_scheduled(WF, id, T0, 0);
  assert_int_equal(runs_num(), 1);
  wdr_policy_job_t job = take(T0);
  assert_string_equal(job.execution_id, id);
}

static void test_duplicates(void **state) {
  (void)state;
  create();
  sig_scheduled(WF, "run-1", T0, 0);

  /* While scheduled. */
  wdr_signal_decision_t d = sig(WF, "run-1", T0 + 10, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_DUPLICATE);
  assert_int_equal(d.attempts, 0);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_SCHEDULED);
  assert_int_equal(r.tries, 1);
  assert_int_equal(r.next_at_ms, T0);
  assert_int_equal(r.first_signal_ms, T0);
  assert_int_equal(r.last_signal_ms, T0 + 10);

  /* While in flight. */
  wdr_policy_job_t job = take(T0 + 20);
  assert_int_equal(sig(WF, "run-1", T0 + 30, 0).verdict, WDR_SIGNAL_DUPLICATE);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_IN_FLIGHT);

  /* While waiting to be verified, and while the verify is out. */
  assert_int_equal(res(&job, WDR_OUTCOME_AMBIGUOUS, T0 + 40, 0).verdict,
                   WDR_RESULT_VERIFY);
  assert_int_equal(sig(WF, "run-1", T0 + 50, 0).verdict, WDR_SIGNAL_DUPLICATE);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_VERIFY);
  job = take(T0 + 40 + WDR_VERIFY_DELAY_MS);
  assert_int_equal(job.kind, WDR_JOB_VERIFY);
  assert_int_equal(sig(WF, "run-1", T0 + 6000, 0).verdict,
                   WDR_SIGNAL_DUPLICATE);

  r = run_of(WF, "run-1");
  assert_int_equal(r.tries, 1);
  assert_int_equal(r.attempts, 0);
  assert_int_equal(r.last_signal_ms, T0 + 6000);
  assert_int_equal(runs_num(), 1);
}

static void test_accepted_counts_attempt(void **state) {
  (void)state;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  wdr_result_decision_t d = wdr_policy_on_result(
      g_p, &job, WDR_OUTCOME_ACCEPTED, "async-1", NULL, T0 + 300, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.tries, 1);
  assert_int_equal(r.updated_ms, T0 + 300);
  assert_string_equal(r.last_async_id, "async-1");
  assert_string_equal(r.last_error, "");
  assert_int_equal(wdr_policy_pending(g_p), 0);
  take_none(T0 + 300, INT64_MAX);

  /* A failure later (after the backoff) is a second attempt. */
  wdr_signal_decision_t s = sig(WF, "run-1", T0 + HOUR, 0);
  assert_int_equal(s.verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(s.at_ms, T0 + HOUR);
  assert_int_equal(s.attempts, 1);
  job = take(T0 + HOUR);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 2, 0);
  assert_int_equal(job.known_attempts, 1);

  /* An error code is remembered; the next acceptance clears it. */
  d = wdr_policy_on_result(g_p, &job, WDR_OUTCOME_RETRYABLE, NULL,
                           "RequestLimitExceeded", T0 + HOUR, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRY);
  assert_string_equal(run_of(WF, "run-1").last_error, "RequestLimitExceeded");
  job = take(d.at_ms);
  d = wdr_policy_on_result(g_p, &job, WDR_OUTCOME_ACCEPTED, "async-2", "",
                           d.at_ms, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 2);
  r = run_of(WF, "run-1");
  assert_string_equal(r.last_async_id, "async-2");
  assert_string_equal(r.last_error, "");

  /* An over-long code or AsyncId is cut to fit, NUL-terminated. */
  char long_code[300];
  memset(long_code, 'c', sizeof(long_code) - 1);
  long_code[sizeof(long_code) - 1] = '\0';
  sig_scheduled(WF, "run-2", T0, 0);
  job = take(T0);
  d = wdr_policy_on_result(g_p, &job, WDR_OUTCOME_PERMANENT, NULL, long_code,
                           T0, 0);
  assert_int_equal(d.verdict, WDR_RESULT_PERMANENT);
  assert_int_equal(strlen(run_of(WF, "run-2").last_error), WDR_ID_MAX - 1);
}

static void test_max_attempts_exhausted(void **state) {
  (void)state;
  g_wf[WF].max_attempts = 2;
  create();
  accepted_attempt(WF, "run-1", T0);
  accepted_attempt(WF, "run-1", T0 + DAY / 2);

  wdr_signal_decision_t d = sig(WF, "run-1", T0 + DAY, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_EXHAUSTED);
  assert_true(d.gave_up);
  assert_int_equal(d.attempts, 2);
  wdr_run_t r = run_of(WF, "run-1");
  assert_true(r.gave_up);
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_int_equal(r.tries, 2);
  assert_int_equal(r.last_signal_ms, T0 + DAY);

  /* "Gave up" is said once only. */
  for (int i = 1; i <= 3; i++) {
    d = sig(WF, "run-1", T0 + DAY + i * HOUR, 0);
    assert_int_equal(d.verdict, WDR_SIGNAL_EXHAUSTED);
    assert_false(d.gave_up);
    assert_int_equal(d.attempts, 2);
  }
  assert_int_equal(wdr_policy_pending(g_p), 0);
  take_none(T0 + 2 * DAY, INT64_MAX);
}

/* --- backoff ------------------------------------------------------------ */

static void check_backoff(const wdr_policy_wf_t *w, int n) {
  int64_t d = w->retry_interval_ms;
  for (int i = 1; i < n && d < w->max_retry_interval_ms; i++)
    d *= 2;
  if (d > w->max_retry_interval_ms)
    d = w->max_retry_interval_ms;
  int64_t hi =
      2 * d < w->max_retry_interval_ms ? 2 * d : w->max_retry_interval_ms;
  const uint32_t rnds[] = {0, 1, 999, 1000, 12345, 0x7fffffffu, UINT32_MAX};
  for (size_t i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++)
    assert_between(wdr_policy_backoff_ms(w, n, rnds[i]), d, hi);
  /* rnd 0 gives the lower bound exactly. */
  assert_int_equal(wdr_policy_backoff_ms(w, n, 0), d);
}

static void test_backoff_bounds(void **state) {
  (void)state;
  wdr_policy_wf_t w = {.retry_interval_ms = SEC, .max_retry_interval_ms = MIN};
  for (int n = 1; n <= 40; n++)
    check_backoff(&w, n);

  /* Exact values: d = 1 s * 2^(n-1), jitter up to d more, cap 60 s. */
  assert_int_equal(wdr_policy_backoff_ms(&w, 1, 0), 1000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 1, 1000), 2000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 1, 1001), 1000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 1, UINT32_MAX),
                   1000 + UINT32_MAX % 1001);
  assert_int_equal(wdr_policy_backoff_ms(&w, 2, 0), 2000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 3, 0), 4000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 3, 4000), 8000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 5, 0), 16000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 6, 0), 32000);
  /* 2d would be 64 s: the jitter stops at the cap. */
  assert_int_equal(wdr_policy_backoff_ms(&w, 6, 28000), 60000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 6, 28001), 32000);
  /* d itself reaches the cap: no jitter left. */
  assert_int_equal(wdr_policy_backoff_ms(&w, 7, 0), 60000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 7, UINT32_MAX), 60000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 1000, UINT32_MAX), 60000);
  assert_int_equal(wdr_policy_backoff_ms(&w, INT32_MAX, 7), 60000);

  /* A cap that is not base * 2^k. */
  w = (wdr_policy_wf_t){.retry_interval_ms = 1500,
                        .max_retry_interval_ms = 10000};
  for (int n = 1; n <= 10; n++)
    check_backoff(&w, n);
  assert_int_equal(wdr_policy_backoff_ms(&w, 3, 0), 6000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 3, 4000), 10000);
  assert_int_equal(wdr_policy_backoff_ms(&w, 4, UINT32_MAX), 10000);

  /* Base equal to the cap: always the cap. */
  w = (wdr_policy_wf_t){.retry_interval_ms = HOUR,
                        .max_retry_interval_ms = HOUR};
  for (int n = 1; n <= 5; n++) {
    assert_int_equal(wdr_policy_backoff_ms(&w, n, 0), HOUR);
    assert_int_equal(wdr_policy_backoff_ms(&w, n, UINT32_MAX), HOUR);
  }

  /* The largest configurable values (7 days) do not overflow. */
  w = (wdr_policy_wf_t){.retry_interval_ms = 7 * DAY,
                        .max_retry_interval_ms = 7 * DAY};
  assert_int_equal(wdr_policy_backoff_ms(&w, 100, UINT32_MAX), 7 * DAY);
  w = (wdr_policy_wf_t){.retry_interval_ms = 1,
                        .max_retry_interval_ms = 7 * DAY};
  for (int n = 1; n <= 64; n++)
    check_backoff(&w, n);
}

/* A failure signal that comes before the backoff has passed is not
 * dropped: it is scheduled for last_try + backoff. */
static void test_early_signal_waits_for_backoff(void **state) {
  (void)state;
  create(); /* RetryInterval 60 s, MaxRetryInterval 1 h */
  assert_int_equal(sig_scheduled(WF, "run-1", T0, 0), T0);
  wdr_policy_job_t job = take(T0);
  res(&job, WDR_OUTCOME_ACCEPTED, T0 + 200, 0);

  /* 1 s later: due at T0 + 60 s (one try, rnd 0). */
  wdr_signal_decision_t d = sig(WF, "run-1", T0 + SEC, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(d.at_ms, T0 + MIN);
  assert_int_equal(d.attempts, 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_SCHEDULED);
  assert_int_equal(r.next_at_ms, T0 + MIN);
  assert_int_equal(r.last_try_ms, T0 + MIN);
  assert_int_equal(r.tries, 2);
  take_none(T0 + SEC, T0 + MIN);
  take_none(T0 + MIN - 1, T0 + MIN);
  job = take(T0 + MIN);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 2, 0);
  res(&job, WDR_OUTCOME_ACCEPTED, T0 + MIN, 0);

  /* After two tries, with the largest jitter: from the last try (T0+60 s),
   * between 120 s and 240 s later. */
  int64_t want = T0 + MIN + wdr_policy_backoff_ms(&g_wf[WF], 2, UINT32_MAX);
  d = sig(WF, "run-1", T0 + MIN + 5 * SEC, UINT32_MAX);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(d.at_ms, want);
  assert_between(d.at_ms, T0 + 3 * MIN, T0 + 5 * MIN);
  job = take(d.at_ms);
  res(&job, WDR_OUTCOME_ACCEPTED, d.at_ms, 0);

  /* MaxAttempts 3 used: no more. */
  assert_int_equal(sig(WF, "run-1", T0 + DAY, 0).verdict, WDR_SIGNAL_EXHAUSTED);
}

/* A failure signal after the backoff has passed is due at once. */
static void test_late_signal_due_now(void **state) {
  (void)state;
  create();
  accepted_attempt(WF, "run-1", T0);
  /* backoff(1) is at most 2 min: 10 min later it has passed. */
  assert_int_equal(sig_scheduled(WF, "run-1", T0 + 10 * MIN, UINT32_MAX),
                   T0 + 10 * MIN);
}

/* --- budget ------------------------------------------------------------- */

static void assert_budget(size_t wf, const int64_t *want, size_t want_num) {
  size_t n = 99;
  const int64_t *t = wdr_policy_budget(g_p, wf, &n);
  assert_int_equal(n, want_num);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(t[i], want[i]);
}

/* The budget counts reruns sent (charged when taken to be sent) in a
 * sliding hour. */
static void test_budget_sliding_hour(void **state) {
  (void)state;
  g_wf[WF].max_reruns_per_hour = 2;
  create();
  assert_budget(WF, NULL, 0);
  accepted_attempt(WF, "run-1", T0);
  accepted_attempt(WF, "run-2", T0 + SEC);
  assert_budget(WF, (int64_t[]){T0, T0 + SEC}, 2);

  /* Over budget: a new run does not enter the table. */
  wdr_signal_decision_t d = sig(WF, "run-3", T0 + 2 * SEC, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_BUDGET);
  assert_int_equal(runs_num(), 2);
  assert_false(has_run(WF, "run-3"));
  assert_int_equal(sig(WF, "run-3", T0 + HOUR - 1, 0).verdict,
                   WDR_SIGNAL_BUDGET);
  assert_int_equal(runs_num(), 2);

  /* The first slot frees exactly 3600 s after it was taken. */
  accepted_attempt(WF, "run-3", T0 + HOUR);
  assert_budget(WF, (int64_t[]){T0 + SEC, T0 + HOUR}, 2);
  assert_int_equal(sig(WF, "run-4", T0 + HOUR + 1, 0).verdict,
                   WDR_SIGNAL_BUDGET);
  accepted_attempt(WF, "run-4", T0 + HOUR + SEC);
  assert_budget(WF, (int64_t[]){T0 + HOUR, T0 + HOUR + SEC}, 2);

  /* The other workflow has its own budget (unlimited here). */
  for (int i = 0; i < 20; i++) {
    char id[16];
    snprintf(id, sizeof(id), "dry-%d", i);
    sig_scheduled(DRY, id, T0 + 2 * HOUR, 0);
  }
  assert_budget(DRY, NULL, 0);

  for (int i = 0; i < 20; i++)
    res_ok(take(T0 + 2 * HOUR), T0 + 2 * HOUR);
  assert_budget(DRY, NULL, 0);
}

/* A rerun whose slot is gone when it is due (here: a send restored from
 * the state file after it was scheduled) waits for the next free slot
 * instead of being sent or dropped. */
static void test_budget_defers_at_send(void **state) {
  (void)state;
  g_wf[WF].max_reruns_per_hour = 1;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  /* Scheduled and unsent reruns hold slots too. */
  assert_int_equal(sig(WF, "run-2", T0, 0).verdict, WDR_SIGNAL_BUDGET);
  wdr_policy_restore_budget(g_p, WF, T0);
  take_none(T0, T0 + HOUR);
  wdr_policy_job_t job = take(T0 + HOUR);
  assert_int_equal(job.kind, WDR_JOB_RERUN);
  assert_int_equal(job.charged_ms, T0 + HOUR);
  assert_budget(WF, (int64_t[]){T0 + HOUR}, 1);
  /* A job put back gives its slot back. */
  wdr_policy_requeue(g_p, &job);
  assert_budget(WF, NULL, 0);
  job = take(T0 + HOUR);
  assert_budget(WF, (int64_t[]){T0 + HOUR}, 1);
}

/* A run already in the table that is over budget stays there, idle. */
static void test_budget_known_run(void **state) {
  (void)state;
  g_wf[WF].max_reruns_per_hour = 1;
  create();
  accepted_attempt(WF, "run-1", T0);
  wdr_signal_decision_t d = sig(WF, "run-1", T0 + 30 * MIN, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_BUDGET);
  assert_int_equal(d.attempts, 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_int_equal(r.tries, 1);
  assert_int_equal(r.last_signal_ms, T0 + 30 * MIN);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  assert_int_equal(sig_scheduled(WF, "run-1", T0 + HOUR, 0), T0 + HOUR);
}

/* Request retries of one attempt use no budget. */
static void test_budget_not_used_by_retries(void **state) {
  (void)state;
  g_wf[WF].max_reruns_per_hour = 1;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  wdr_result_decision_t d = res(&job, WDR_OUTCOME_RETRYABLE, T0, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRY);
  job = take(d.at_ms);
  d = res(&job, WDR_OUTCOME_AMBIGUOUS, d.at_ms, 0);
  job = take(d.at_ms);
  d = res(&job, WDR_OUTCOME_RERUN_NOT_SEEN, d.at_ms, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRY);
  assert_budget(WF, (int64_t[]){T0}, 1);
}

/* MaxRerunsPerHour bounds the reruns sent in any hour, also when a rerun is
 * scheduled long before it is sent (a signal during a long backoff): it is
 * charged when it is sent. (Found when the charge was taken at the
 * signal.) */
static void test_budget_bounds_reruns_sent_per_hour(void **state) {
  (void)state;
  g_wf[WF].max_reruns_per_hour = 2;
  g_wf[WF].retry_interval_ms = 2 * HOUR;
  g_wf[WF].max_retry_interval_ms = 4 * HOUR;
  create();
  int64_t sent[8];
  size_t sent_num = 0;

  accepted_attempt(WF, "run-a", T0);
  sent[sent_num++] = T0;
  /* run-a fails again a minute later: due 2 h after its first try. */
  assert_int_equal(sig_scheduled(WF, "run-a", T0 + MIN, 0), T0 + 2 * HOUR);

  /* An hour and a minute later the window is empty again. */
  accepted_attempt(WF, "run-b", T0 + HOUR + MIN);
  sent[sent_num++] = T0 + HOUR + MIN;
  /* run-a's scheduled rerun holds the other slot: run-c is refused. */
  assert_int_equal(sig(WF, "run-c", T0 + HOUR + 2 * MIN, 0).verdict,
                   WDR_SIGNAL_BUDGET);

  /* Then run-a's rerun goes out. */
  for (int64_t now = T0 + HOUR + 3 * MIN; now <= T0 + 3 * HOUR; now += MIN) {
    wdr_policy_job_t job;
    if (!wdr_policy_take_due(g_p, now, &job, NULL))
      continue;
    assert_int_equal(job.kind, WDR_JOB_RERUN);
    sent[sent_num++] = now;
    res(&job, WDR_OUTCOME_ACCEPTED, now, 0);
  }
  assert_int_equal(sent_num, 3);
  for (size_t i = 0; i < sent_num; i++) {
    size_t in_hour = 0;
    for (size_t j = i; j < sent_num && sent[j] < sent[i] + HOUR; j++)
      in_hour++;
    if (in_hour > 2)
      fail_msg("%zu reruns sent within an hour (from T0+%lld s), "
               "MaxRerunsPerHour is 2",
               in_hour, (long long)(sent[i] - T0) / 1000);
  }
}

/* --- reading the run before an attempt --------------------------------- */

static wdr_result_decision_t check(const wdr_policy_job_t *job,
                                   wdr_check_t verdict, char *const *tasks,
                                   size_t n, int64_t now) {
  return wdr_policy_on_check(g_p, job, verdict, tasks, n, now);
}

/* VerifyBeforeRerun: a read first; the rerun only after it passed. */
static void test_check_then_rerun(void **state) {
  (void)state;
  g_wf[WF].verify = true;
  g_wf[WF].max_reruns_per_hour = 5;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_int_equal(job.kind, WDR_JOB_CHECK);
  assert_int_equal(job.charged_ms, 0); /* a read uses no budget */
  assert_budget(WF, NULL, 0);
  wdr_result_decision_t d = check(&job, WDR_CHECK_PASS, NULL, 0, T0 + 10);
  assert_int_equal(d.verdict, WDR_RESULT_CHECKED);
  assert_int_equal(d.at_ms, T0 + 10);
  job = take(T0 + 10);
  assert_int_equal(job.kind, WDR_JOB_RERUN);
  assert_int_equal(job.execute_type, 0); /* as configured */
  assert_budget(WF, (int64_t[]){T0 + 10}, 1);
  assert_int_equal(res(&job, WDR_OUTCOME_ACCEPTED, T0 + 20, 0).verdict,
                   WDR_RESULT_ACCEPTED);
  /* A retry of the rerun itself does not read again. */
  g_wf[WF].verify = true;
  sig_scheduled(WF, "run-2", T0 + 30, 0);
  job = take(T0 + 30);
  check(&job, WDR_CHECK_PASS, NULL, 0, T0 + 30);
  job = take(T0 + 30);
  d = res(&job, WDR_OUTCOME_RETRYABLE, T0 + 40, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRY);
  assert_int_equal(take(d.at_ms).kind, WDR_JOB_RERUN);
}

static void test_check_verdicts(void **state) {
  (void)state;
  g_wf[WF].verify = true;
  const wdr_policy_wf_t *w = &g_wf[WF];
  assert_int_equal(wdr_policy_evaluate_check(w, "FAILED", true, 0),
                   WDR_CHECK_PASS);
  assert_int_equal(wdr_policy_evaluate_check(w, "FAILED", true, 2),
                   WDR_CHECK_PASS);
  assert_int_equal(wdr_policy_evaluate_check(w, "FAILED", true, 3),
                   WDR_CHECK_EXHAUSTED);
  assert_int_equal(wdr_policy_evaluate_check(w, "FAILED", false, 0),
                   WDR_CHECK_NOT_RERUNNABLE);
  /* In this order: not failed wins over the rest. */
  assert_int_equal(wdr_policy_evaluate_check(w, "SUCCESS", false, 9),
                   WDR_CHECK_NOT_FAILED);
  assert_int_equal(wdr_policy_evaluate_check(w, "QUEUED", true, 0),
                   WDR_CHECK_NOT_FAILED);
  assert_int_equal(wdr_policy_evaluate_check(w, NULL, true, 0),
                   WDR_CHECK_NOT_FAILED);
  /* Without VerifyBeforeRerun (TaskScope alone) every run passes. */
  g_wf[WF].verify = false;
  assert_int_equal(wdr_policy_evaluate_check(w, "SUCCESS", false, 9),
                   WDR_CHECK_PASS);
}

static void test_check_skips(void **state) {
  (void)state;
  g_wf[WF].verify = true;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_int_equal(check(&job, WDR_CHECK_NOT_FAILED, NULL, 0, T0).verdict,
                   WDR_RESULT_SKIPPED);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_IDLE);
  assert_int_equal(run_of(WF, "run-1").attempts, 0);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  /* A result for a job no longer in flight is stale. */
  assert_int_equal(check(&job, WDR_CHECK_PASS, NULL, 0, T0).verdict,
                   WDR_RESULT_STALE);
}

/* A read that fails is read again (verify_tries), never skipped to the
 * rerun; a permanent error ends the run. */
static void test_check_read_failures(void **state) {
  (void)state;
  g_wf[WF].verify = true;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  wdr_result_decision_t d = res(&job, WDR_OUTCOME_RETRYABLE, T0, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRY);
  assert_int_equal(run_of(WF, "run-1").request_retries, 0);
  assert_int_equal(run_of(WF, "run-1").verify_tries, 1);
  job = take(d.at_ms);
  assert_int_equal(job.kind, WDR_JOB_CHECK);
  for (int i = 0; i < 2; i++) {
    d = res(&job, WDR_OUTCOME_RETRYABLE, T0, 0);
    assert_int_equal(d.verdict, WDR_RESULT_RETRY);
    job = take(d.at_ms);
  }
  d = res(&job, WDR_OUTCOME_RETRYABLE, T0, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRIES_EXHAUSTED);
  assert_int_equal(run_of(WF, "run-1").attempts, 0); /* nothing was sent */

  sig_scheduled(WF, "run-2", T0, 0);
  job = take(T0);
  assert_int_equal(res(&job, WDR_OUTCOME_PERMANENT, T0, 0).verdict,
                   WDR_RESULT_PERMANENT);
  assert_int_equal(sig(WF, "run-2", T0 + DAY, 0).verdict, WDR_SIGNAL_PERMANENT);
}

/* TaskScope "incomplete": the unfinished tasks, once each; none left means
 * the whole workflow. */
static void test_scope_incomplete(void **state) {
  (void)state;
  g_wf[WF].scope_incomplete = true;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_int_equal(job.kind, WDR_JOB_CHECK);
  char *tasks[] = {"t2", "t3", "t2", "t4"};
  check(&job, WDR_CHECK_PASS, tasks, 4, T0);
  job = take(T0);
  assert_int_equal(job.kind, WDR_JOB_RERUN);
  assert_int_equal(job.execute_type, 2);
  assert_int_equal(job.task_ids_num, 3);
  assert_string_equal(job.task_ids[0], "t2");
  assert_string_equal(job.task_ids[1], "t3");
  assert_string_equal(job.task_ids[2], "t4");
  res(&job, WDR_OUTCOME_ACCEPTED, T0, 0);

  sig_scheduled(WF, "run-2", T0, 0);
  job = take(T0);
  check(&job, WDR_CHECK_PASS, NULL, 0, T0);
  job = take(T0);
  assert_int_equal(job.execute_type, 1);
  assert_int_equal(job.task_ids_num, 0);

  /* The next attempt reads again: the scope of the last one is gone. */
  res(&job, WDR_OUTCOME_ACCEPTED, T0, 0);
  sig_scheduled(WF, "run-2", T0 + DAY, 0);
  assert_int_equal(run_of(WF, "run-2").scope_num, 0);
  assert_int_equal(take(T0 + DAY).kind, WDR_JOB_CHECK);
}

/* EscalateToFull: after an accepted rerun, later attempts run it all. */
static void test_escalate_to_full(void **state) {
  (void)state;
  g_wf[WF].escalate = true;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_int_equal(job.execute_type, 0);
  res(&job, WDR_OUTCOME_ACCEPTED, T0, 0);
  int64_t at = sig_scheduled(WF, "run-1", T0 + DAY, 0);
  job = take(at);
  assert_int_equal(job.execute_type, 1);
  assert_int_equal(job.task_ids_num, 0);

  /* An attempt that only may have happened (its fate never learnt) counts
   * against MaxAttempts but is no accepted rerun: no escalation. */
  sig_scheduled(WF, "run-2", T0, 0);
  job = take(T0);
  wdr_result_decision_t d = res(&job, WDR_OUTCOME_AMBIGUOUS, T0, 0);
  for (int i = 0; i <= g_cfg.max_request_retries; i++) {
    job = take(d.at_ms);
    d = res(&job, WDR_OUTCOME_RETRYABLE, d.at_ms, 0);
  }
  assert_int_equal(d.verdict, WDR_RESULT_RETRIES_EXHAUSTED);
  assert_int_equal(run_of(WF, "run-2").attempts, 1);
  at = sig_scheduled(WF, "run-2", T0 + DAY, 0);
  assert_int_equal(take(at).execute_type, 0);
}

/* A polled FAILED run whose RerunTimes is below our accepted reruns is the
 * old failure: WeData has not caught up with our rerun yet. */
static void test_polled_run_not_caught_up(void **state) {
  (void)state;
  create();
  accepted_attempt(WF, "run-1", T0);
  wdr_signal_decision_t d =
      wdr_policy_on_polled(g_p, WF, "run-1", 0, T0 + DAY, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_DUPLICATE);
  d = wdr_policy_on_polled(g_p, WF, "run-1", -1, T0 + DAY, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  res_ok(take(d.at_ms), d.at_ms);
  /* Caught up (RerunTimes 2 after our 2): it failed again. */
  d = wdr_policy_on_polled(g_p, WF, "run-1", 2, T0 + 2 * DAY, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  /* A new run is like a signal. */
  d = wdr_policy_on_polled(g_p, WF, "run-2", 0, T0, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
}

/* --- request retries ---------------------------------------------------- */

/* Retryable errors: retry k waits d/2..d with d = 1 s * 2^(k-1), at most
 * 60 s, until MaxRequestRetries; the attempt then ends uncounted. */
static void retries_with(uint32_t rnd_kind) {
  const int64_t d[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
  int64_t now = T0;
  sig_scheduled(WF, "run-1", now, 0);
  wdr_policy_job_t job = take(now);
  for (int k = 1; k <= 8; k++) {
    uint32_t rnd = rnd_kind == 0   ? 0
                   : rnd_kind == 1 ? (uint32_t)(d[k - 1] / 2)
                                   : UINT32_MAX;
    wdr_result_decision_t r = wdr_policy_on_result(
        g_p, &job, WDR_OUTCOME_RETRYABLE, NULL, "InternalError", now, rnd);
    assert_int_equal(r.verdict, WDR_RESULT_RETRY);
    assert_int_equal(r.attempts, 0);
    if (rnd_kind == 0)
      assert_int_equal(r.at_ms, now + d[k - 1] / 2);
    else if (rnd_kind == 1)
      assert_int_equal(r.at_ms, now + d[k - 1]);
    else
      assert_between(r.at_ms, now + d[k - 1] / 2, now + d[k - 1]);
    wdr_run_t run = run_of(WF, "run-1");
    assert_int_equal(run.state, WDR_RUN_SCHEDULED);
    assert_int_equal(run.request_retries, k);
    assert_int_equal(run.next_at_ms, r.at_ms);
    assert_string_equal(run.last_error, "InternalError");
    take_none(r.at_ms - 1, r.at_ms);
    now = r.at_ms;
    job = take(now);
    assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 1, k);
  }
  wdr_result_decision_t r = wdr_policy_on_result(
      g_p, &job, WDR_OUTCOME_RETRYABLE, NULL, "ResourceInUse", now, 0);
  assert_int_equal(r.verdict, WDR_RESULT_RETRIES_EXHAUSTED);
  assert_int_equal(r.attempts, 0); /* provably never acted on */
  wdr_run_t run = run_of(WF, "run-1");
  assert_int_equal(run.state, WDR_RUN_IDLE);
  assert_int_equal(run.attempts, 0);
  assert_string_equal(run.last_error, "ResourceInUse");
  assert_int_equal(wdr_policy_pending(g_p), 0);
}

static void test_request_retries_lower_bound(void **state) {
  (void)state;
  g_cfg.max_request_retries = 8;
  create();
  retries_with(0);
}

static void test_request_retries_upper_bound(void **state) {
  (void)state;
  g_cfg.max_request_retries = 8;
  create();
  retries_with(1);
}

static void test_request_retries_max_rnd(void **state) {
  (void)state;
  g_cfg.max_request_retries = 8;
  create();
  retries_with(2);
}

/* The 60 s cap holds for any number of retries. */
static void test_request_retries_capped(void **state) {
  (void)state;
  g_cfg.max_request_retries = 20;
  create();
  int64_t now = T0;
  sig_scheduled(WF, "run-1", now, 0);
  wdr_policy_job_t job = take(now);
  for (int k = 1; k <= 20; k++) {
    wdr_result_decision_t r = res(&job, WDR_OUTCOME_RETRYABLE, now, UINT32_MAX);
    assert_int_equal(r.verdict, WDR_RESULT_RETRY);
    assert_between(r.at_ms - now, 500, WDR_REQUEST_RETRY_MAX_MS);
    if (k >= 7)
      assert_between(r.at_ms - now, WDR_REQUEST_RETRY_MAX_MS / 2,
                     WDR_REQUEST_RETRY_MAX_MS);
    now = r.at_ms;
    job = take(now);
  }
  assert_int_equal(res(&job, WDR_OUTCOME_RETRYABLE, now, 0).verdict,
                   WDR_RESULT_RETRIES_EXHAUSTED);
}

/* MaxRequestRetries 0: the first retryable error ends the attempt. A new
 * signal starts a new attempt, with fresh retries, after the backoff. */
static void test_no_request_retries(void **state) {
  (void)state;
  g_cfg.max_request_retries = 0;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_int_equal(res(&job, WDR_OUTCOME_RETRYABLE, T0, 0).verdict,
                   WDR_RESULT_RETRIES_EXHAUSTED);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_int_equal(r.attempts, 0);
  assert_int_equal(r.tries, 1);

  /* The next attempt counts the failed try for its backoff. */
  assert_int_equal(sig_scheduled(WF, "run-1", T0 + SEC, 0), T0 + MIN);
  r = run_of(WF, "run-1");
  assert_int_equal(r.tries, 2);
  assert_int_equal(r.request_retries, 0);
  job = take(T0 + MIN);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 2, 0);
}

/* --- re-signing and permanent errors ------------------------------------ */

static void test_resign_once(void **state) {
  (void)state;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  wdr_result_decision_t d =
      wdr_policy_on_result(g_p, &job, WDR_OUTCOME_RESIGN, NULL,
                           "AuthFailure.SignatureExpire", T0 + 100, 777);
  assert_int_equal(d.verdict, WDR_RESULT_RETRY);
  assert_int_equal(d.at_ms, T0 + 100); /* at once */
  wdr_run_t r = run_of(WF, "run-1");
  assert_true(r.resigned);
  assert_int_equal(r.request_retries, 0); /* not a request retry */
  assert_int_equal(r.state, WDR_RUN_SCHEDULED);
  assert_string_equal(r.last_error, "AuthFailure.SignatureExpire");
  job = take(T0 + 100);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 1, 0);

  d = res(&job, WDR_OUTCOME_RESIGN, T0 + 200, 0);
  assert_int_equal(d.verdict, WDR_RESULT_PERMANENT);
  assert_int_equal(d.attempts, 0);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_PERMANENT);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  assert_int_equal(sig(WF, "run-1", T0 + DAY / 2, 0).verdict,
                   WDR_SIGNAL_PERMANENT);
}

/* The re-sign allowance is per attempt. */
static void test_resign_per_attempt(void **state) {
  (void)state;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_int_equal(res(&job, WDR_OUTCOME_RESIGN, T0, 0).verdict,
                   WDR_RESULT_RETRY);
  job = take(T0);
  assert_int_equal(res(&job, WDR_OUTCOME_ACCEPTED, T0, 0).verdict,
                   WDR_RESULT_ACCEPTED);
  sig_scheduled(WF, "run-1", T0 + HOUR, 0);
  assert_false(run_of(WF, "run-1").resigned);
  job = take(T0 + HOUR);
  assert_int_equal(res(&job, WDR_OUTCOME_RESIGN, T0 + HOUR, 0).verdict,
                   WDR_RESULT_RETRY);
}

static void test_permanent(void **state) {
  (void)state;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  wdr_result_decision_t d = wdr_policy_on_result(
      g_p, &job, WDR_OUTCOME_PERMANENT, NULL, "InvalidParameter", T0 + 5, 0);
  assert_int_equal(d.verdict, WDR_RESULT_PERMANENT);
  assert_int_equal(d.attempts, 0);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_PERMANENT);
  assert_string_equal(r.last_error, "InvalidParameter");
  assert_int_equal(r.updated_ms, T0 + 5);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  take_none(T0 + 5, INT64_MAX);

  for (int i = 1; i <= 3; i++) {
    wdr_signal_decision_t s = sig(WF, "run-1", T0 + i * DAY / 4, 0);
    assert_int_equal(s.verdict, WDR_SIGNAL_PERMANENT);
    assert_int_equal(s.attempts, 0);
  }
  r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_PERMANENT);
  assert_int_equal(r.tries, 1);
  take_none(T0 + DAY, INT64_MAX);
}

/* --- ambiguous results and verification --------------------------------- */

/* Signals run-1 at now, answers its rerun request as ambiguous, and
 * returns the VERIFY job that follows. */
static wdr_policy_job_t ambiguous_then_verify(int64_t now) {
  sig_scheduled(WF, "run-1", now, 0);
  wdr_policy_job_t job = take(now);
  wdr_result_decision_t d =
      wdr_policy_on_result(g_p, &job, WDR_OUTCOME_AMBIGUOUS, NULL,
                           "ClientError.NetworkError", now, 0);
  assert_int_equal(d.verdict, WDR_RESULT_VERIFY);
  assert_int_equal(d.at_ms, now + WDR_VERIFY_DELAY_MS);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_VERIFY);
  assert_int_equal(r.next_at_ms, now + WDR_VERIFY_DELAY_MS);
  assert_int_equal(r.verify_tries, 0);
  assert_string_equal(r.last_error, "ClientError.NetworkError");
  assert_int_equal(wdr_policy_pending(g_p), 1);
  take_none(now + WDR_VERIFY_DELAY_MS - 1, now + WDR_VERIFY_DELAY_MS);
  job = take(now + WDR_VERIFY_DELAY_MS);
  assert_int_equal(job.kind, WDR_JOB_VERIFY);
  assert_string_equal(job.execution_id, "run-1");
  assert_false(job.dry_run);
  r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IN_FLIGHT);
  assert_int_equal(r.in_flight, WDR_JOB_VERIFY);
  return job;
}

static void test_ambiguous_verify_seen(void **state) {
  (void)state;
  create();
  accepted_attempt(WF, "run-1", T0 - DAY / 2);
  wdr_policy_job_t job = ambiguous_then_verify(T0);
  assert_int_equal(job.attempt, 2);
  assert_int_equal(job.known_attempts, 1);
  wdr_result_decision_t d =
      res(&job, WDR_OUTCOME_RERUN_SEEN, T0 + WDR_VERIFY_DELAY_MS + 100, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 2);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_int_equal(r.attempts, 2);
  assert_string_equal(r.last_async_id, "");
  assert_string_equal(r.last_error, "");
  assert_int_equal(wdr_policy_pending(g_p), 0);
}

/* An AsyncId from an earlier attempt is not kept as this attempt's. */
static void test_verify_seen_forgets_old_async_id(void **state) {
  (void)state;
  create();
  sig_scheduled(WF, "run-1", T0 - DAY / 2, 0);
  wdr_policy_job_t job = take(T0 - DAY / 2);
  wdr_policy_on_result(g_p, &job, WDR_OUTCOME_ACCEPTED, "async-old", NULL,
                       T0 - DAY / 2, 0);
  assert_string_equal(run_of(WF, "run-1").last_async_id, "async-old");
  job = ambiguous_then_verify(T0);
  res(&job, WDR_OUTCOME_RERUN_SEEN, T0 + WDR_VERIFY_DELAY_MS, 0);
  assert_string_equal(run_of(WF, "run-1").last_async_id, "");
}

static void test_verify_not_seen_resends(void **state) {
  (void)state;
  create();
  wdr_policy_job_t job = ambiguous_then_verify(T0);
  int64_t now = T0 + WDR_VERIFY_DELAY_MS;
  wdr_result_decision_t d = res(&job, WDR_OUTCOME_RERUN_NOT_SEEN, now, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRY);
  assert_int_equal(d.at_ms, now + 500); /* first retry: 0.5..1 s */
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_SCHEDULED);
  assert_int_equal(r.request_retries, 1);
  job = take(d.at_ms);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 1, 1);
  d = res(&job, WDR_OUTCOME_ACCEPTED, d.at_ms, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 1);
}

/* A resend after "not seen" is a request retry: with none left, the
 * attempt ends, uncounted (the run shows it was not acted on). */
static void test_verify_not_seen_without_retries(void **state) {
  (void)state;
  g_cfg.max_request_retries = 0;
  create();
  wdr_policy_job_t job = ambiguous_then_verify(T0);
  wdr_result_decision_t d =
      res(&job, WDR_OUTCOME_RERUN_NOT_SEEN, T0 + WDR_VERIFY_DELAY_MS, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRIES_EXHAUSTED);
  assert_int_equal(d.attempts, 0);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_IDLE);
}

/* Reads that fail are tried again (d/2 after, d doubling from 1 s) up to
 * MaxRequestRetries; then the attempt ends and counts as made, since the
 * rerun may have reached WeData. */
static void test_verify_read_failures(void **state) {
  (void)state;
  create(); /* MaxRequestRetries 3 */
  wdr_policy_job_t job = ambiguous_then_verify(T0);
  int64_t now = T0 + WDR_VERIFY_DELAY_MS;
  const wdr_outcome_t fails[] = {WDR_OUTCOME_RETRYABLE, WDR_OUTCOME_AMBIGUOUS,
                                 WDR_OUTCOME_RESIGN};
  const int64_t waits[] = {500, 1000, 2000};
  for (int k = 1; k <= 3; k++) {
    wdr_result_decision_t d = res(&job, fails[k - 1], now, 0);
    assert_int_equal(d.verdict, WDR_RESULT_VERIFY);
    assert_int_equal(d.at_ms, now + waits[k - 1]);
    assert_int_equal(d.attempts, 0);
    wdr_run_t r = run_of(WF, "run-1");
    assert_int_equal(r.state, WDR_RUN_VERIFY);
    assert_int_equal(r.verify_tries, k);
    assert_int_equal(r.request_retries, 0);
    take_none(d.at_ms - 1, d.at_ms);
    now = d.at_ms;
    job = take(now);
    assert_int_equal(job.kind, WDR_JOB_VERIFY);
  }
  wdr_result_decision_t d = res(&job, WDR_OUTCOME_RETRYABLE, now, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRIES_EXHAUSTED);
  assert_int_equal(d.attempts, 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_int_equal(r.attempts, 1);
  assert_int_equal(wdr_policy_pending(g_p), 0);
}

/* The read retries use the upper half of d too. */
static void test_verify_read_retry_bounds(void **state) {
  (void)state;
  g_cfg.max_request_retries = 10;
  create();
  wdr_policy_job_t job = ambiguous_then_verify(T0);
  int64_t now = T0 + WDR_VERIFY_DELAY_MS;
  const int64_t dd[] = {1000,  2000,  4000,  8000,  16000,
                        32000, 60000, 60000, 60000, 60000};
  for (int k = 1; k <= 10; k++) {
    wdr_result_decision_t d =
        res(&job, WDR_OUTCOME_RETRYABLE, now, k % 2 ? UINT32_MAX : 0);
    assert_int_equal(d.verdict, WDR_RESULT_VERIFY);
    assert_between(d.at_ms - now, dd[k - 1] / 2, dd[k - 1]);
    now = d.at_ms;
    job = take(now);
  }
  assert_int_equal(res(&job, WDR_OUTCOME_RETRYABLE, now, 0).verdict,
                   WDR_RESULT_RETRIES_EXHAUSTED);
}

/* A read that fails for good never leads to a blind resend: the attempt
 * ends and counts. */
static void test_verify_permanent_read(void **state) {
  (void)state;
  create();
  wdr_policy_job_t job = ambiguous_then_verify(T0);
  wdr_result_decision_t d =
      wdr_policy_on_result(g_p, &job, WDR_OUTCOME_PERMANENT, NULL,
                           "ResourceNotFound", T0 + WDR_VERIFY_DELAY_MS, 0);
  assert_int_equal(d.verdict, WDR_RESULT_RETRIES_EXHAUSTED);
  assert_int_equal(d.attempts, 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_string_equal(r.last_error, "ResourceNotFound");
}

/* A new ambiguity after a resend starts the read count again. */
static void test_verify_tries_reset(void **state) {
  (void)state;
  create();
  wdr_policy_job_t job = ambiguous_then_verify(T0);
  int64_t now = T0 + WDR_VERIFY_DELAY_MS;
  wdr_result_decision_t d = res(&job, WDR_OUTCOME_RETRYABLE, now, 0);
  job = take(d.at_ms);
  now = d.at_ms;
  assert_int_equal(run_of(WF, "run-1").verify_tries, 1);
  d = res(&job, WDR_OUTCOME_RERUN_NOT_SEEN, now, 0);
  job = take(d.at_ms);
  now = d.at_ms;
  d = res(&job, WDR_OUTCOME_AMBIGUOUS, now, 0);
  assert_int_equal(d.verdict, WDR_RESULT_VERIFY);
  assert_int_equal(d.at_ms, now + WDR_VERIFY_DELAY_MS);
  assert_int_equal(run_of(WF, "run-1").verify_tries, 0);
}

/* --- stale results and requeue ------------------------------------------ */

static void test_stale_results(void **state) {
  (void)state;
  create();
  sig_scheduled(WF, "run-1", T0, 0);

  /* Unknown run; unknown workflow. */
  wdr_policy_job_t ghost = {.wf = WF, .kind = WDR_JOB_RERUN, .attempt = 1};
  snprintf(ghost.execution_id, sizeof(ghost.execution_id), "nope");
  assert_int_equal(res(&ghost, WDR_OUTCOME_ACCEPTED, T0, 0).verdict,
                   WDR_RESULT_STALE);
  snprintf(ghost.execution_id, sizeof(ghost.execution_id), "run-1");
  ghost.wf = DRY;
  assert_int_equal(res(&ghost, WDR_OUTCOME_ACCEPTED, T0, 0).verdict,
                   WDR_RESULT_STALE);

  /* Not in flight (still scheduled). */
  ghost.wf = WF;
  assert_int_equal(res(&ghost, WDR_OUTCOME_ACCEPTED, T0, 0).verdict,
                   WDR_RESULT_STALE);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_SCHEDULED);

  /* In flight, but as the other kind of job. */
  wdr_policy_job_t job = take(T0);
  wdr_policy_job_t wrong = job;
  wrong.kind = WDR_JOB_VERIFY;
  assert_int_equal(res(&wrong, WDR_OUTCOME_RERUN_SEEN, T0, 0).verdict,
                   WDR_RESULT_STALE);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IN_FLIGHT);
  assert_int_equal(r.attempts, 0);
  assert_int_equal(r.updated_ms, T0);

  /* The real result counts once; the same result again is stale. */
  assert_int_equal(res(&job, WDR_OUTCOME_ACCEPTED, T0 + 1, 0).verdict,
                   WDR_RESULT_ACCEPTED);
  assert_int_equal(res(&job, WDR_OUTCOME_ACCEPTED, T0 + 2, 0).verdict,
                   WDR_RESULT_STALE);
  r = run_of(WF, "run-1");
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.updated_ms, T0 + 1);
}

static void test_requeue(void **state) {
  (void)state;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0 + 10);
  wdr_policy_requeue(g_p, &job);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_SCHEDULED);
  assert_int_equal(r.next_at_ms, T0);
  assert_int_equal(r.tries, 1);
  assert_int_equal(wdr_policy_pending(g_p), 1);
  /* Due at once, the same job. */
  wdr_policy_job_t again = take(T0 + 10);
  assert_job(&again, WF, "run-1", WDR_JOB_RERUN, 1, 0);

  /* A requeue of the wrong kind, or of a run not in flight, does nothing. */
  wdr_policy_job_t wrong = again;
  wrong.kind = WDR_JOB_VERIFY;
  wdr_policy_requeue(g_p, &wrong);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_IN_FLIGHT);
  wdr_policy_job_t ghost = again;
  snprintf(ghost.execution_id, sizeof(ghost.execution_id), "nope");
  wdr_policy_requeue(g_p, &ghost);
  assert_int_equal(runs_num(), 1);

  /* A verify job goes back as a verify. */
  wdr_result_decision_t d = res(&again, WDR_OUTCOME_AMBIGUOUS, T0 + 10, 0);
  job = take(d.at_ms);
  wdr_policy_requeue(g_p, &job);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_VERIFY);
  job = take(d.at_ms);
  assert_int_equal(job.kind, WDR_JOB_VERIFY);
  res(&job, WDR_OUTCOME_RERUN_SEEN, d.at_ms, 0);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_IDLE);
  wdr_policy_requeue(g_p, &job);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_IDLE);
  assert_int_equal(wdr_policy_pending(g_p), 0);
}

/* --- take_due ----------------------------------------------------------- */

static wdr_run_t restored(size_t wf, const char *id, wdr_run_state_t state,
                          int64_t next_at) {
  wdr_run_t r = {.wf = wf,
                 .state = state,
                 .tries = 1,
                 .first_signal_ms = T0 - MIN,
                 .last_signal_ms = T0 - MIN,
                 .last_try_ms = T0 - MIN,
                 .next_at_ms = next_at,
                 .updated_ms = T0 - MIN};
  snprintf(r.execution_id, sizeof(r.execution_id), "%s", id);
  return r;
}

static void restore_ok(wdr_run_t r, int64_t now) {
  assert_int_equal(wdr_policy_restore(g_p, &r, now), 0);
}

static void test_take_due_order(void **state) {
  (void)state;
  create();
  restore_ok(restored(WF, "c", WDR_RUN_SCHEDULED, T0 + 3000), T0);
  restore_ok(restored(WF, "a", WDR_RUN_SCHEDULED, T0 + 1000), T0);
  restore_ok(restored(WF, "idle", WDR_RUN_IDLE, T0 + 1), T0);
  restore_ok(restored(WF, "perm", WDR_RUN_PERMANENT, T0 + 2), T0);
  restore_ok(restored(DRY, "b", WDR_RUN_VERIFY, T0 + 1500), T0);
  restore_ok(restored(WF, "d", WDR_RUN_SCHEDULED, T0 + 9000), T0);
  assert_int_equal(wdr_policy_pending(g_p), 4);

  /* Idle and permanent runs are never due. */
  take_none(T0, T0 + 1000);
  take_none(T0 + 999, T0 + 1000);

  const char *order[] = {"a", "b", "c"};
  const wdr_job_kind_t kinds[] = {WDR_JOB_RERUN, WDR_JOB_VERIFY, WDR_JOB_RERUN};
  for (int i = 0; i < 3; i++) {
    wdr_policy_job_t job = take(T0 + 5000);
    assert_string_equal(job.execution_id, order[i]);
    assert_int_equal(job.kind, kinds[i]);
  }
  /* In-flight runs are not due either; the next is d. */
  take_none(T0 + 5000, T0 + 9000);
  assert_int_equal(wdr_policy_pending(g_p), 4);
  wdr_policy_job_t job;
  assert_false(wdr_policy_take_due(g_p, T0 + 5000, &job, NULL));
  job = take(T0 + 9000);
  assert_string_equal(job.execution_id, "d");
  take_none(T0 + 9000, INT64_MAX);
}

/* --- dry run ------------------------------------------------------------ */

static void test_dry_run(void **state) {
  (void)state;
  g_wf[DRY].max_attempts = 2;
  create();
  sig_scheduled(DRY, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_job(&job, DRY, "run-1", WDR_JOB_RERUN, 1, 0);
  assert_true(job.dry_run);
  wdr_result_decision_t d = res(&job, WDR_OUTCOME_DRY_RUN, T0, 0);
  assert_int_equal(d.verdict, WDR_RESULT_WOULD_RERUN);
  assert_int_equal(d.attempts, 1);
  assert_int_equal(run_of(DRY, "run-1").state, WDR_RUN_IDLE);

  /* Every rule applies as for real runs: backoff, MaxAttempts. */
  assert_int_equal(sig_scheduled(DRY, "run-1", T0 + SEC, 0), T0 + MIN);
  job = take(T0 + MIN);
  assert_true(job.dry_run);
  res(&job, WDR_OUTCOME_DRY_RUN, T0 + MIN, 0);
  wdr_signal_decision_t s = sig(DRY, "run-1", T0 + HOUR, 0);
  assert_int_equal(s.verdict, WDR_SIGNAL_EXHAUSTED);
  assert_true(s.gave_up);

  /* Only rerun jobs are flagged; the same run in a normal workflow is
   * not. */
  sig_scheduled(WF, "run-1", T0, 0);
  job = take(T0);
  assert_false(job.dry_run);
  restore_ok(restored(DRY, "run-2", WDR_RUN_VERIFY, T0), T0);
  job = take(T0);
  assert_int_equal(job.kind, WDR_JOB_VERIFY);
  assert_false(job.dry_run);
}

/* --- restore ------------------------------------------------------------ */

static void test_restore(void **state) {
  (void)state;
  create();
  wdr_run_t in = restored(WF, "flying", WDR_RUN_IN_FLIGHT, T0 - 5);
  in.in_flight = WDR_JOB_RERUN;
  in.attempts = 1;
  in.tries = 2;
  in.request_retries = 2;
  in.verify_tries = 3;
  in.resigned = true;
  snprintf(in.last_error, sizeof(in.last_error), "InternalError");
  restore_ok(in, T0);
  wdr_run_t r = run_of(WF, "flying");
  assert_int_equal(r.state, WDR_RUN_VERIFY);
  assert_int_equal(r.next_at_ms, T0 + WDR_VERIFY_DELAY_MS);
  assert_int_equal(r.verify_tries, 0);
  /* Everything else as it was. */
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.tries, 2);
  assert_int_equal(r.request_retries, 2);
  assert_true(r.resigned);
  assert_int_equal(r.first_signal_ms, T0 - MIN);
  assert_int_equal(r.last_try_ms, T0 - MIN);
  assert_int_equal(r.updated_ms, T0 - MIN);
  assert_string_equal(r.last_error, "InternalError");

  /* A verify that was out is read again too. */
  wdr_run_t v = restored(WF, "reading", WDR_RUN_IN_FLIGHT, T0 - 5);
  v.in_flight = WDR_JOB_VERIFY;
  restore_ok(v, T0 + 1);
  assert_int_equal(run_of(WF, "reading").state, WDR_RUN_VERIFY);
  assert_int_equal(run_of(WF, "reading").next_at_ms,
                   T0 + 1 + WDR_VERIFY_DELAY_MS);

  /* Other states come back unchanged. */
  restore_ok(restored(WF, "sched", WDR_RUN_SCHEDULED, T0 - HOUR), T0);
  assert_int_equal(run_of(WF, "sched").next_at_ms, T0 - HOUR);
  restore_ok(restored(WF, "perm", WDR_RUN_PERMANENT, 0), T0);
  assert_int_equal(run_of(WF, "perm").state, WDR_RUN_PERMANENT);

  /* The overdue scheduled run first, then the two verifies. */
  wdr_policy_job_t job = take(T0 + WDR_VERIFY_DELAY_MS + 1);
  assert_string_equal(job.execution_id, "sched");
  job = take(T0 + WDR_VERIFY_DELAY_MS + 1);
  assert_string_equal(job.execution_id, "flying");
  assert_int_equal(job.kind, WDR_JOB_VERIFY);
  assert_int_equal(job.known_attempts, 1);
  assert_int_equal(job.attempt, 2);
  job = take(T0 + WDR_VERIFY_DELAY_MS + 1);
  assert_string_equal(job.execution_id, "reading");

  /* Refused: a run already there, a workflow out of range, a bad state. */
  assert_int_equal(wdr_policy_restore(g_p, &in, T0), -1);
  wdr_run_t bad = restored(2, "x", WDR_RUN_IDLE, 0);
  assert_int_equal(wdr_policy_restore(g_p, &bad, T0), -1);
  bad = restored(WF, "x", WDR_RUN_STATE_NUM, 0);
  assert_int_equal(wdr_policy_restore(g_p, &bad, T0), -1);
  assert_int_equal(runs_num(), 4);
}

static void test_restore_full(void **state) {
  (void)state;
  g_cfg.max_runs = 3;
  create();
  restore_ok(restored(WF, "r1", WDR_RUN_IDLE, 0), T0);
  restore_ok(restored(WF, "r2", WDR_RUN_IDLE, 0), T0);
  sig_scheduled(WF, "r3", T0, 0);
  wdr_run_t r4 = restored(WF, "r4", WDR_RUN_IDLE, 0);
  assert_int_equal(wdr_policy_restore(g_p, &r4, T0), -1);
  assert_int_equal(runs_num(), 3);
  /* A new run's signal finds the table full; known runs still work. */
  wdr_signal_decision_t d = sig(WF, "r5", T0, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_FULL);
  assert_int_equal(runs_num(), 3);
  assert_int_equal(sig_scheduled(WF, "r1", T0, 0), T0); /* backoff over */
  /* A pruned slot is free again. */
  assert_int_equal(wdr_policy_prune(g_p, T0 + 2 * DAY), 1); /* r2 */
  assert_int_equal(sig_scheduled(WF, "r5", T0 + 2 * DAY, 0), T0 + 2 * DAY);
}

/* A signal that finds the table full uses no budget. */
static void test_full_does_not_use_budget(void **state) {
  (void)state;
  g_cfg.max_runs = 1;
  g_wf[WF].max_reruns_per_hour = 5;
  create();
  sig_scheduled(WF, "r1", T0, 0);
  for (int i = 0; i < 10; i++)
    assert_int_equal(sig(WF, "r2", T0 + i, 0).verdict, WDR_SIGNAL_FULL);
  assert_budget(WF, NULL, 0); /* charged only when sent */
  take(T0 + 10);
  assert_budget(WF, (int64_t[]){T0 + 10}, 1);
}

static void test_restore_budget(void **state) {
  (void)state;
  g_wf[WF].max_reruns_per_hour = 3;
  create();
  wdr_policy_restore_budget(g_p, WF, T0 - 3000);
  wdr_policy_restore_budget(g_p, WF, T0 - 2000);
  assert_budget(WF, (int64_t[]){T0 - 3000, T0 - 2000}, 2);
  wdr_policy_restore_budget(g_p, WF, T0 - 1000);
  /* Over the window's room: the newest are kept. */
  wdr_policy_restore_budget(g_p, WF, T0);
  assert_budget(WF, (int64_t[]){T0 - 2000, T0 - 1000, T0}, 3);
  /* A workflow without a budget, or out of range: ignored. */
  wdr_policy_restore_budget(g_p, DRY, T0);
  assert_budget(DRY, NULL, 0);
  wdr_policy_restore_budget(g_p, 7, T0);
  size_t n = 99;
  assert_null(wdr_policy_budget(g_p, 7, &n));
  assert_int_equal(n, 0);

  /* The restored window counts. */
  assert_int_equal(sig(WF, "r1", T0 + SEC, 0).verdict, WDR_SIGNAL_BUDGET);
  assert_int_equal(sig_scheduled(WF, "r1", T0 - 2000 + HOUR, 0),
                   T0 - 2000 + HOUR);
}

/* --- prune and pending -------------------------------------------------- */

static void test_prune(void **state) {
  (void)state;
  g_wf[WF].max_reruns_per_hour = 10;
  create(); /* retention one day */
  const wdr_run_state_t states[] = {WDR_RUN_IDLE, WDR_RUN_SCHEDULED,
                                    WDR_RUN_PERMANENT, WDR_RUN_VERIFY,
                                    WDR_RUN_IDLE};
  const char *ids[] = {"idle", "sched", "perm", "verify", "idle-new"};
  for (int i = 0; i < 5; i++) {
    wdr_run_t r = restored(WF, ids[i], states[i], T0 + 10 * DAY);
    r.updated_ms = i == 4 ? T0 + HOUR : T0;
    restore_ok(r, T0);
  }
  /* An in-flight run, last updated at T0 too. */
  restore_ok(restored(WF, "flying", WDR_RUN_SCHEDULED, T0), T0);
  take(T0);
  wdr_policy_restore_budget(g_p, WF, T0 - HOUR);
  wdr_policy_restore_budget(g_p, WF, T0 + DAY - HOUR + 2);

  /* Not older than the retention yet. */
  assert_int_equal(wdr_policy_prune(g_p, T0 + DAY), 0);
  assert_int_equal(runs_num(), 6);
  /* Idle and permanent runs older than the retention go; budget entries
   * older than an hour go. */
  assert_int_equal(wdr_policy_prune(g_p, T0 + DAY + 1), 2);
  assert_int_equal(runs_num(), 4);
  assert_false(has_run(WF, "idle"));
  assert_false(has_run(WF, "perm"));
  assert_int_equal(run_of(WF, "sched").state, WDR_RUN_SCHEDULED);
  assert_int_equal(run_of(WF, "verify").state, WDR_RUN_VERIFY);
  assert_int_equal(run_of(WF, "flying").state, WDR_RUN_IN_FLIGHT);
  assert_int_equal(run_of(WF, "idle-new").updated_ms, T0 + HOUR);
  assert_budget(WF, (int64_t[]){T0 + DAY - HOUR + 2}, 1);

  assert_int_equal(wdr_policy_prune(g_p, T0 + DAY + HOUR + 1), 1);
  assert_false(has_run(WF, "idle-new"));
  assert_budget(WF, NULL, 0);
  /* Pending runs are never forgotten. */
  assert_int_equal(wdr_policy_prune(g_p, T0 + 100 * DAY), 0);
  assert_int_equal(runs_num(), 3);
}

/* A forgotten run starts afresh. */
static void test_prune_forgets_exhausted(void **state) {
  (void)state;
  g_wf[WF].max_attempts = 1;
  create();
  accepted_attempt(WF, "run-1", T0);
  assert_int_equal(sig(WF, "run-1", T0 + HOUR, 0).verdict,
                   WDR_SIGNAL_EXHAUSTED);
  /* The exhausted signal touched it at T0 + 1 h. */
  assert_int_equal(wdr_policy_prune(g_p, T0 + HOUR + DAY), 0);
  assert_int_equal(wdr_policy_prune(g_p, T0 + HOUR + DAY + 1), 1);
  wdr_signal_decision_t d = sig(WF, "run-1", T0 + 2 * DAY, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(d.attempts, 0);
}

static void test_pending(void **state) {
  (void)state;
  create();
  assert_int_equal(wdr_policy_pending(g_p), 0);
  sig_scheduled(WF, "a", T0, 0);
  sig_scheduled(WF, "b", T0 + 1, 0);
  sig_scheduled(WF, "c", T0 + 2, 0);
  assert_int_equal(wdr_policy_pending(g_p), 3);
  wdr_policy_job_t a = take(T0 + 10); /* in flight */
  wdr_policy_job_t b = take(T0 + 10);
  wdr_policy_job_t c = take(T0 + 10);
  assert_int_equal(wdr_policy_pending(g_p), 3);
  res(&a, WDR_OUTCOME_ACCEPTED, T0 + 20, 0); /* idle */
  assert_int_equal(wdr_policy_pending(g_p), 2);
  res(&b, WDR_OUTCOME_PERMANENT, T0 + 20, 0); /* permanent */
  assert_int_equal(wdr_policy_pending(g_p), 1);
  res(&c, WDR_OUTCOME_AMBIGUOUS, T0 + 20, 0); /* verify */
  assert_int_equal(wdr_policy_pending(g_p), 1);
  assert_int_equal(runs_num(), 3);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_create_bad_input),
      T(test_state_names),
      T(test_first_signal_schedules_now),
      T(test_runs_keyed_by_workflow),
      T(test_bad_signal_input),
      T(test_duplicates),
      T(test_accepted_counts_attempt),
      T(test_max_attempts_exhausted),
      T(test_backoff_bounds),
      T(test_early_signal_waits_for_backoff),
      T(test_late_signal_due_now),
      T(test_budget_sliding_hour),
      T(test_budget_known_run),
      T(test_budget_not_used_by_retries),
      T(test_budget_bounds_reruns_sent_per_hour),
      T(test_budget_defers_at_send),
      T(test_check_then_rerun),
      T(test_check_verdicts),
      T(test_check_skips),
      T(test_check_read_failures),
      T(test_scope_incomplete),
      T(test_escalate_to_full),
      T(test_polled_run_not_caught_up),
      T(test_request_retries_lower_bound),
      T(test_request_retries_upper_bound),
      T(test_request_retries_max_rnd),
      T(test_request_retries_capped),
      T(test_no_request_retries),
      T(test_resign_once),
      T(test_resign_per_attempt),
      T(test_permanent),
      T(test_ambiguous_verify_seen),
      T(test_verify_seen_forgets_old_async_id),
      T(test_verify_not_seen_resends),
      T(test_verify_not_seen_without_retries),
      T(test_verify_read_failures),
      T(test_verify_read_retry_bounds),
      T(test_verify_permanent_read),
      T(test_verify_tries_reset),
      T(test_stale_results),
      T(test_requeue),
      T(test_take_due_order),
      T(test_dry_run),
      T(test_restore),
      T(test_restore_full),
      T(test_full_does_not_use_budget),
      T(test_restore_budget),
      T(test_prune),
      T(test_prune_forgets_exhausted),
      T(test_pending),
  };
  return cmocka_run_group_tests_name("wdr_policy", tests, NULL, NULL);
}
