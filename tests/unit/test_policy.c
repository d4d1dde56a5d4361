/* wdr_policy: every rule of the rerun state machine, with explicit times
 * (milliseconds) and fixed random values, so each decision is exact. */
#include "run_util.h"
#include "testutil.h"

#include "wdr_backoff.h"
#include "wdr_policy.h"
#include "wdr_policy_store.h"

#define T0 1767225600000LL /* 2026-01-01 00:00:00 UTC */
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

#define WF 0  /* a normal workflow */
#define DRY 1 /* a dry-run workflow */

/* TrackAsync: AsyncPollInterval and AsyncTimeout (the plugin's defaults). */
#define POLL (5 * SEC)
#define ATO HOUR

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
                             /* longer than the tests look: they see a
                              * permanent error stay (test_permanent_hold
                              * sets its own) */
                             .permanent_hold_ms = 2 * DAY,
                             .max_runs = 100,
                             .async_poll_ms = POLL,
                             .async_timeout_ms = ATO};
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

static size_t runs_num(void) { return wdr_policy_runs_num(g_p); }

/* The run in the table, or NULL. */
static const wdr_run_t *lookup(size_t wf, const char *id) {
  for (size_t i = 0; i < runs_num(); i++) {
    const wdr_run_t *r = wdr_policy_run_at(g_p, i);
    if (r->wf == wf && wdr_cid_eq(&r->execution_id, id))
      return r;
  }
  return NULL;
}

/* The run in the table (a copy: the table moves when it changes). */
static wdr_run_t run_of(size_t wf, const char *id) {
  const wdr_run_t *r = lookup(wf, id);
  if (r == NULL)
    fail_msg("run %zu/%s is not in the table", wf, id);
  return *r;
}

/* The run's last AsyncId, in a static buffer. */
static const char *async_id_of(size_t wf, const char *id) {
  static char buf[WDR_ID_MAX];
  wdr_run_t r = run_of(wf, id);
  const char *s = wdr_cid_str(&r.last_async_id, buf);
  return s == buf ? buf : strcpy(buf, s);
}

static bool has_run(size_t wf, const char *id) {
  return lookup(wf, id) != NULL;
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
  assert_true(wdr_policy_take_due(g_p, now, 0, &job, &next));
  assert_int_equal(next, -7); /* only set when nothing is due */
  return job;
}

static void take_none(int64_t now, int64_t want_next) {
  wdr_policy_job_t job;
  memset(&job, 0, sizeof(job));
  int64_t next = -7;
  assert_false(wdr_policy_take_due(g_p, now, 0, &job, &next));
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
  assert_string_equal(wdr_run_state_name(WDR_RUN_ASYNC), "async");
  assert_string_equal(wdr_run_state_name(WDR_RUN_FOLLOW), "follow");
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
  assert_string_equal(CID(r.last_async_id), "");
  assert_string_equal(wdr_run_text(r.last_error), "");
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
  assert_string_equal(CID(r.last_async_id), "async-1");
  assert_string_equal(wdr_run_text(r.last_error), "");
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
  assert_string_equal(wdr_run_text(run_of(WF, "run-1").last_error),
                      "RequestLimitExceeded");
  job = take(d.at_ms);
  d = wdr_policy_on_result(g_p, &job, WDR_OUTCOME_ACCEPTED, "async-2", "",
                           d.at_ms, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 2);
  r = run_of(WF, "run-1");
  assert_string_equal(CID(r.last_async_id), "async-2");
  assert_string_equal(wdr_run_text(r.last_error), "");

  /* An over-long code or AsyncId is cut to fit, NUL-terminated. */
  char long_code[300];
  memset(long_code, 'c', sizeof(long_code) - 1);
  long_code[sizeof(long_code) - 1] = '\0';
  sig_scheduled(WF, "run-2", T0, 0);
  job = take(T0);
  d = wdr_policy_on_result(g_p, &job, WDR_OUTCOME_PERMANENT, NULL, long_code,
                           T0, 0);
  assert_int_equal(d.verdict, WDR_RESULT_PERMANENT);
  assert_int_equal(strlen(wdr_run_text(run_of(WF, "run-2").last_error)),
                   WDR_ID_MAX - 1);
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
    assert_true(take(T0 + 2 * HOUR).dry_run); /* decided as taken */
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
    if (!wdr_policy_take_due(g_p, now, 0, &job, NULL))
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

/* A permanent error holds for PermanentHold from the start of the attempt
 * that ended in it; a failure signal after that starts a new attempt (the
 * accepted reruns still count toward MaxAttempts). */
static void test_permanent_hold(void **state) {
  (void)state;
  g_cfg.permanent_hold_ms = HOUR;
  create();
  accepted_attempt(WF, "run-1", T0);
  int64_t t = T0 + DAY;
  sig_scheduled(WF, "run-1", t, 0);
  wdr_policy_job_t job = take(t);
  assert_int_equal(res(&job, WDR_OUTCOME_PERMANENT, t + 5, 0).verdict,
                   WDR_RESULT_PERMANENT);
  /* Signals within the hour: held, and they do not extend the hold. */
  for (int64_t at = t + 10; at < t + HOUR; at += HOUR / 4)
    assert_int_equal(sig(WF, "run-1", at, 0).verdict, WDR_SIGNAL_PERMANENT);
  take_none(t + HOUR - 1, INT64_MAX);
  wdr_signal_decision_t d = sig(WF, "run-1", t + HOUR, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(d.attempts, 1);
  job = take(d.at_ms);
  assert_int_equal(job.attempt, 3);
  res_ok(job, d.at_ms);
  assert_int_equal(run_of(WF, "run-1").attempts, 2);
  assert_string_equal(wdr_run_text(run_of(WF, "run-1").last_error), "");
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
  assert_null(run_of(WF, "run-2").scope);
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

/* A listed run that WeData shows rerun MaxAttempts times already is
 * exhausted, whatever the table knows, and is not added to it. */
static void test_polled_rerun_times_is_evidence(void **state) {
  (void)state;
  create();
  int max = g_wf[WF].max_attempts;
  wdr_signal_decision_t d =
      wdr_policy_on_polled(g_p, WF, "lost-state", max, T0, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_EXHAUSTED);
  assert_int_equal(d.attempts, max);
  assert_false(d.gave_up); /* not our reruns: no gave_up of ours */
  assert_int_equal(runs_num(), 0);
  take_none(T0, INT64_MAX);
  d = wdr_policy_on_polled(g_p, WF, "by-hand", 1000000000000LL, T0, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_EXHAUSTED);
  assert_int_equal(runs_num(), 0);
  /* A run of ours, finished, that WeData shows at the limit. */
  accepted_attempt(WF, "ours", T0);
  d = wdr_policy_on_polled(g_p, WF, "ours", max, T0 + DAY, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_EXHAUSTED);
  /* One below: rerun as usual; unknown (-1): as a signal. */
  d = wdr_policy_on_polled(g_p, WF, "one-left", max - 1, T0 + DAY, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  d = wdr_policy_on_polled(g_p, WF, "unknown", -1, T0 + DAY, 0);
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
    assert_string_equal(wdr_run_text(run.last_error), "InternalError");
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
  assert_string_equal(wdr_run_text(run.last_error), "ResourceInUse");
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
    assert_between(r.at_ms - now, 500, wdr_request_backoff.cap_ms);
    if (k >= 7)
      assert_between(r.at_ms - now, wdr_request_backoff.cap_ms / 2,
                     wdr_request_backoff.cap_ms);
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
  assert_string_equal(wdr_run_text(r.last_error),
                      "AuthFailure.SignatureExpire");
  job = take(T0 + 100);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 1, 0);

  /* Again in the same attempt: held with backoff, never a retry used and
   * never the run's end (the clock is at fault, not the run). */
  for (int i = 1; i <= g_cfg.max_request_retries + 3; i++) {
    d = res(&job, WDR_OUTCOME_RESIGN, T0 + 200, 0);
    assert_int_equal(d.verdict, WDR_RESULT_HELD);
    assert_true(d.at_ms > T0 + 200);
    assert_int_equal(run_of(WF, "run-1").request_retries, 0);
    assert_int_equal(run_of(WF, "run-1").held, i);
    job = take(d.at_ms);
    assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 1, 0);
  }
  d = res(&job, WDR_OUTCOME_ACCEPTED, T0 + 300, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(run_of(WF, "run-1").held, 0);
}

/* Lanes: a run's next job waits in its action's lane; a skipped lane is
 * passed over (its action's pace is used up) and the others still hand out
 * their jobs; the next due time comes from the lanes not skipped. */
static void test_take_due_skips_lanes(void **state) {
  (void)state;
  g_wf[WF].verify = true;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  sig_scheduled(WF, "run-2", T0 + 10, 0);
  wdr_policy_job_t job = take(T0 + 10);
  assert_int_equal(job.kind, WDR_JOB_CHECK);
  assert_int_equal(wdr_policy_lane(job.kind), WDR_LANE_READ_RUN);
  wdr_policy_on_check(g_p, &job, WDR_CHECK_PASS, NULL, 0, T0 + 20);
  /* run-2's check (due at T0 + 10) is before run-1's rerun (T0 + 20), but
   * with the read lane skipped the rerun comes. */
  wdr_policy_job_t j;
  int64_t next = 0;
  assert_true(
      wdr_policy_take_due(g_p, T0 + 20, 1u << WDR_LANE_READ_RUN, &j, &next));
  assert_int_equal(j.kind, WDR_JOB_RERUN);
  assert_string_equal(j.execution_id, "run-1");
  assert_false(
      wdr_policy_take_due(g_p, T0 + 20, 1u << WDR_LANE_READ_RUN, &j, &next));
  assert_int_equal(next, INT64_MAX);
  assert_true(
      wdr_policy_take_due(g_p, T0 + 20, 1u << WDR_LANE_RERUN, &j, &next));
  assert_int_equal(j.kind, WDR_JOB_CHECK);
  assert_string_equal(j.execution_id, "run-2");
  assert_int_equal(wdr_policy_lane(WDR_JOB_ASYNC), WDR_LANE_READ_JOB);
  assert_int_equal(wdr_policy_lane(WDR_JOB_VERIFY), WDR_LANE_READ_RUN);
  assert_int_equal(wdr_policy_lane(WDR_JOB_FOLLOW), WDR_LANE_READ_RUN);
}

/* --- outages and credentials: the sender's trouble, not the run's ------- */

/* However long an outage lasts, a run held back by it stays due: no retry
 * used, the next try spaced by the backoff of the holds in a row (capped),
 * the budget slot given back each time (nothing was done). */
static void test_outage_holds_never_exhaust(void **state) {
  (void)state;
  g_wf[WF].max_reruns_per_hour = 1;
  create(); /* MaxRequestRetries 3 */
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_int_not_equal(job.charged_ms, 0);
  int64_t now = T0;
  for (int i = 1; i <= 40; i++) {
    wdr_result_decision_t d = wdr_policy_on_result(
        g_p, &job, WDR_OUTCOME_HELD, NULL,
        i % 2 ? "ClientError.NetworkError" : "AuthFailure.SecretIdNotFound",
        now, UINT32_MAX);
    assert_int_equal(d.verdict, WDR_RESULT_HELD);
    int64_t full = i >= 7 ? 60000 : (int64_t)1000 << (i - 1);
    assert_between(d.at_ms - now, full / 2, full);
    wdr_run_t r = run_of(WF, "run-1");
    assert_int_equal(r.state, WDR_RUN_SCHEDULED);
    assert_int_equal(r.request_retries, 0);
    assert_int_equal(r.attempts, 0);
    take_none(d.at_ms - 1, d.at_ms);
    now = d.at_ms;
    job = take(now); /* charged again: the slot came back */
    assert_int_equal(job.kind, WDR_JOB_RERUN);
    assert_int_equal(job.retry, 0);
    assert_int_equal(job.charged_ms, now);
  }
  assert_int_equal(
      wdr_policy_on_result(g_p, &job, WDR_OUTCOME_ACCEPTED, "a-1", NULL, now, 0)
          .verdict,
      WDR_RESULT_ACCEPTED);
  assert_int_equal(run_of(WF, "run-1").attempts, 1);
  assert_int_equal(run_of(WF, "run-1").held, 0);
}

/* A read before the rerun held back by an outage is read again, without
 * using a read retry. */
static void test_check_held(void **state) {
  (void)state;
  g_wf[WF].verify = true;
  g_cfg.max_request_retries = 0;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_int_equal(job.kind, WDR_JOB_CHECK);
  for (int i = 0; i < 5; i++) {
    wdr_result_decision_t d = res(&job, WDR_OUTCOME_HELD, T0, 0);
    assert_int_equal(d.verdict, WDR_RESULT_HELD);
    assert_int_equal(run_of(WF, "run-1").verify_tries, 0);
    job = take(d.at_ms);
    assert_int_equal(job.kind, WDR_JOB_CHECK);
  }
  /* A read refused for itself uses the (no) retries left. */
  assert_int_equal(res(&job, WDR_OUTCOME_RETRYABLE, T0, 0).verdict,
                   WDR_RESULT_RETRIES_EXHAUSTED);
}

/* An answer that may come after WeData acted, from a service in trouble
 * (InternalError from a gateway): the run is read first; shown rerun, it is
 * accepted; not shown, the resend uses no retry and no second budget
 * slot, and a read held back by the outage stays a read. */
static void test_outage_ambiguous(void **state) {
  (void)state;
  g_wf[WF].max_reruns_per_hour = 1;
  g_cfg.max_request_retries = 0;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  wdr_result_decision_t d = wdr_policy_on_result(
      g_p, &job, WDR_OUTCOME_AMBIGUOUS_OUTAGE, NULL, "InternalError", T0, 0);
  assert_int_equal(d.verdict, WDR_RESULT_VERIFY);
  job = take(d.at_ms);
  assert_int_equal(job.kind, WDR_JOB_VERIFY);
  d = res(&job, WDR_OUTCOME_HELD, d.at_ms, 0);
  assert_int_equal(d.verdict, WDR_RESULT_HELD);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_VERIFY);
  job = take(d.at_ms);
  assert_int_equal(job.kind, WDR_JOB_VERIFY);
  d = res(&job, WDR_OUTCOME_RERUN_NOT_SEEN, d.at_ms, 0);
  assert_int_equal(d.verdict, WDR_RESULT_HELD);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_SCHEDULED);
  assert_int_equal(r.request_retries, 0);
  assert_int_equal(r.held, 2); /* the held read, then this */
  job = take(d.at_ms);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 1, 0);
  assert_int_equal(job.charged_ms, 0); /* the first request's slot holds */
  d = res(&job, WDR_OUTCOME_ACCEPTED, d.at_ms, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 1);

  /* Shown rerun: accepted on the read, nothing resent. */
  sig_scheduled(WF, "run-2", T0 + 2 * HOUR, 0);
  job = take(T0 + 2 * HOUR);
  d = wdr_policy_on_result(g_p, &job, WDR_OUTCOME_AMBIGUOUS_OUTAGE, NULL,
                           "InternalError", T0 + 2 * HOUR, 0);
  job = take(d.at_ms);
  d = res(&job, WDR_OUTCOME_RERUN_SEEN, d.at_ms, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
}

/* A refusal of a resend after an answer that may have come after WeData
 * acted ("FailedOperation: the run is RUNNING") is not the end of an
 * attempt WeData accepted: the run is read; shown rerun, the attempt is
 * accepted; shown FAILED as before, the refusal stands. Without an earlier
 * ambiguity a refusal stands at once. */
static void test_disputed_refusal(void **state) {
  (void)state;
  create();
  for (int shown = 0; shown < 2; shown++) {
    const char *id = shown ? "run-seen" : "run-not-seen";
    int64_t now = T0 + shown * HOUR;
    sig_scheduled(WF, id, now, 0);
    wdr_policy_job_t job = take(now);
    wdr_result_decision_t d = wdr_policy_on_result(
        g_p, &job, WDR_OUTCOME_AMBIGUOUS, NULL, "ResourceInUse", now, 0);
    job = take(now = d.at_ms);
    d = res(&job, WDR_OUTCOME_RERUN_NOT_SEEN, now, 0); /* not caught up */
    assert_int_equal(d.verdict, WDR_RESULT_RETRY);
    job = take(now = d.at_ms);
    assert_int_equal(job.kind, WDR_JOB_RERUN);
    d = wdr_policy_on_result(g_p, &job, WDR_OUTCOME_PERMANENT, NULL,
                             "FailedOperation", now, 0);
    assert_int_equal(d.verdict, WDR_RESULT_VERIFY);
    assert_true(d.disputed);
    assert_int_equal(d.at_ms, now + WDR_VERIFY_DELAY_MS);
    job = take(now = d.at_ms);
    assert_int_equal(job.kind, WDR_JOB_VERIFY);
    d = res(&job, shown ? WDR_OUTCOME_RERUN_SEEN : WDR_OUTCOME_RERUN_NOT_SEEN,
            now, 0);
    if (shown) {
      assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
      assert_int_equal(d.attempts, 1);
      assert_int_equal(run_of(WF, id).state, WDR_RUN_IDLE);
    } else {
      assert_int_equal(d.verdict, WDR_RESULT_PERMANENT);
      assert_string_equal(d.error_code, "FailedOperation");
      assert_int_equal(run_of(WF, id).state, WDR_RUN_PERMANENT);
      assert_int_equal(d.attempts, 0);
    }
  }
  /* No ambiguity before: the refusal stands at once. */
  sig_scheduled(WF, "run-plain", T0 + 3 * HOUR, 0);
  wdr_policy_job_t job = take(T0 + 3 * HOUR);
  wdr_result_decision_t d =
      wdr_policy_on_result(g_p, &job, WDR_OUTCOME_PERMANENT, NULL,
                           "FailedOperation", T0 + 3 * HOUR, 0);
  assert_int_equal(d.verdict, WDR_RESULT_PERMANENT);
  assert_false(d.disputed);
  assert_string_equal(d.error_code, "FailedOperation");
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
  assert_string_equal(wdr_run_text(r.last_error), "InvalidParameter");
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
  assert_string_equal(wdr_run_text(r.last_error), "ClientError.NetworkError");
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
  assert_string_equal(CID(r.last_async_id), "");
  assert_string_equal(wdr_run_text(r.last_error), "");
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
  assert_string_equal(async_id_of(WF, "run-1"), "async-old");
  job = ambiguous_then_verify(T0);
  res(&job, WDR_OUTCOME_RERUN_SEEN, T0 + WDR_VERIFY_DELAY_MS, 0);
  assert_string_equal(async_id_of(WF, "run-1"), "");
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
  assert_string_equal(wdr_run_text(r.last_error), "ResourceNotFound");
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
  set_cidf(&r.execution_id, "%s", id);
  return r;
}

static void restore_ok(wdr_run_t r, int64_t now) {
  assert_int_equal(wdr_policy_restore(g_p, &r, now), 0);
}

/* Runs that older versions stopped for good on a credentials error are
 * released on load (the key was at fault); other permanent errors stay. */
static void test_restore_releases_credentials_stops(void **state) {
  (void)state;
  create();
  static const struct {
    const char *id, *code;
    int rc;
    wdr_run_state_t state;
  } cases[] = {
      {"secret", "AuthFailure.SecretIdNotFound", 1, WDR_RUN_SCHEDULED},
      {"expired", "AuthFailure.SignatureExpire", 1, WDR_RUN_SCHEDULED},
      {"bare", "AuthFailure", 1, WDR_RUN_SCHEDULED},
      {"cam", "UnauthorizedOperation.NoPermission", 1, WDR_RUN_SCHEDULED},
      {"param", "InvalidParameter", 0, WDR_RUN_PERMANENT},
      {"lookalike", "AuthFailureX", 0, WDR_RUN_PERMANENT},
      {"none", "", 0, WDR_RUN_PERMANENT},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wdr_run_t r = restored(WF, cases[i].id, WDR_RUN_PERMANENT, T0 - 5);
    set_textf(&r.last_error, "%s", cases[i].code);
    assert_int_equal(wdr_policy_restore(g_p, &r, T0), cases[i].rc);
    wdr_run_clear(&r);
    assert_int_equal(run_of(WF, cases[i].id).state, cases[i].state);
  }
  /* Released: the attempt goes on at once (its failure was never acted
   * on), with fresh retries; a signal meanwhile is a duplicate. */
  wdr_run_t r = run_of(WF, "secret");
  assert_int_equal(r.next_at_ms, T0);
  assert_int_equal(r.request_retries, 0);
  assert_int_equal(sig(WF, "secret", T0, 0).verdict, WDR_SIGNAL_DUPLICATE);
  assert_int_equal(sig(WF, "param", T0, 0).verdict, WDR_SIGNAL_PERMANENT);
  assert_int_equal(wdr_policy_pending(g_p), 4);
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
  assert_false(wdr_policy_take_due(g_p, T0 + 5000, 0, &job, NULL));
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
  /* Decided as it is taken: the attempt counts, nothing is in flight, and
   * an answer for it would be stale. */
  assert_int_equal(run_of(DRY, "run-1").attempts, 1);
  assert_int_equal(run_of(DRY, "run-1").state, WDR_RUN_IDLE);
  assert_int_equal(res(&job, WDR_OUTCOME_ACCEPTED, T0, 0).verdict,
                   WDR_RESULT_STALE);

  /* Every rule applies as for real runs: backoff, MaxAttempts. */
  assert_int_equal(sig_scheduled(DRY, "run-1", T0 + SEC, 0), T0 + MIN);
  job = take(T0 + MIN);
  assert_true(job.dry_run);
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
  set_textf(&in.last_error, "InternalError");
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
  assert_string_equal(wdr_run_text(r.last_error), "InternalError");

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
  restore_ok(restored(WF, "later", WDR_RUN_SCHEDULED, T0 + HOUR), T0);
  assert_int_equal(run_of(WF, "later").next_at_ms, T0 + HOUR);
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
  assert_int_equal(runs_num(), 5);
}

/* The start hold: what waits for a job is due no earlier than it; later
 * times, idle and in-flight runs are left alone. */
static void test_hold(void **state) {
  (void)state;
  create();
  restore_ok(restored(WF, "old", WDR_RUN_SCHEDULED, T0 - HOUR), T0);
  restore_ok(restored(WF, "late", WDR_RUN_SCHEDULED, T0 + HOUR), T0);
  restore_ok(restored(WF, "verify", WDR_RUN_VERIFY, T0 + 1), T0);
  restore_ok(restored(WF, "idle", WDR_RUN_IDLE, 0), T0);
  wdr_policy_hold(g_p, T0 + 3 * SEC);
  assert_int_equal(run_of(WF, "old").next_at_ms, T0 + 3 * SEC);
  assert_int_equal(run_of(WF, "verify").next_at_ms, T0 + 3 * SEC);
  assert_int_equal(run_of(WF, "late").next_at_ms, T0 + HOUR);
  assert_int_equal(run_of(WF, "idle").next_at_ms, 0);
  take_none(T0 + 3 * SEC - 1, T0 + 3 * SEC);
  assert_string_equal(take(T0 + 3 * SEC).execution_id, "old");
  assert_string_equal(take(T0 + 3 * SEC).execution_id, "verify");
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
  /* A new run's signal finds the table full: the finished run updated
   * longest ago (r1, then r2) makes room; known runs still work. */
  assert_int_equal(sig_scheduled(WF, "r2", T0 + 1, 0), T0 + 1);
  wdr_signal_decision_t d = sig(WF, "r5", T0 + 2, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  assert_true(d.evicted);
  assert_int_equal(d.evicted_wf, WF);
  assert_int_equal(runs_num(), 3);
  assert_false(has_run(WF, "r1"));
  /* Every run is active now: nothing is forgotten, the signal is FULL. */
  d = sig(WF, "r6", T0 + 3, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_FULL);
  assert_false(d.evicted);
  assert_int_equal(runs_num(), 3);
  assert_false(has_run(WF, "r6"));
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

/* --- following an accepted rerun (TrackAsync) -------------------------- */

static wdr_track_decision_t on_async(const wdr_policy_job_t *job,
                                     wdr_async_t what, const char *status,
                                     int64_t now) {
  return wdr_policy_on_async(g_p, job, what, status, now);
}

static wdr_track_decision_t on_follow(const wdr_policy_job_t *job,
                                      wdr_follow_t what, long long rerun_times,
                                      int64_t now, uint32_t rnd) {
  return wdr_policy_on_follow(g_p, job, what, rerun_times, now, rnd);
}

/* Starts over with a new policy from g_cfg (a test that tries several
 * configurations or cases). */
static void recreate(void) {
  wdr_policy_destroy(g_p);
  g_p = NULL;
  create();
}

/* Signals id at now (due at once), takes its rerun and accepts it at now
 * with async_id (NULL: none came back). */
static wdr_result_decision_t track_accept(size_t wf, const char *id,
                                          int64_t now, const char *async_id) {
  assert_int_equal(sig_scheduled(wf, id, now, 0), now);
  wdr_policy_job_t job = take(now);
  assert_int_equal(job.kind, WDR_JOB_RERUN);
  wdr_result_decision_t d = wdr_policy_on_result(
      g_p, &job, WDR_OUTCOME_ACCEPTED, async_id, NULL, now, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  return d;
}

/* The first FOLLOW job of run id of WF, signalled and accepted at T0. With
 * async_status (an end: SUCCESS, FAIL, PART_SUCCESS) its async job is read
 * at T0 + POLL and ends so, and the job is taken at T0 + 2 POLL; with NULL
 * no AsyncId came back and the job is taken at T0 + POLL. */
static wdr_policy_job_t follow_job(const char *id, const char *async_status) {
  wdr_result_decision_t d =
      track_accept(WF, id, T0, async_status != NULL ? "async-1" : NULL);
  assert_int_equal(d.at_ms, T0 + POLL);
  wdr_policy_job_t job = take(T0 + POLL);
  if (async_status != NULL) {
    assert_int_equal(job.kind, WDR_JOB_ASYNC);
    wdr_track_decision_t t =
        on_async(&job, WDR_ASYNC_ENDED, async_status, T0 + POLL);
    assert_int_equal(t.verdict, WDR_TRACK_FOLLOW);
    assert_int_equal(t.at_ms, T0 + 2 * POLL);
    job = take(T0 + 2 * POLL);
  }
  assert_int_equal(job.kind, WDR_JOB_FOLLOW);
  return job;
}

/* In a TrackAsync workflow an accepted rerun is followed: its async job is
 * read AsyncPollInterval later, by a job of its own that uses no budget
 * and is no waiting rerun. */
static void test_track_accepted_reads_async_job(void **state) {
  (void)state;
  g_wf[WF].track = true;
  g_wf[WF].max_reruns_per_hour = 5;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  assert_int_equal(job.kind, WDR_JOB_RERUN);
  assert_string_equal(job.async_id, ""); /* only reads carry one */
  wdr_result_decision_t d = wdr_policy_on_result(
      g_p, &job, WDR_OUTCOME_ACCEPTED, "async-1", NULL, T0 + 300, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 1);
  assert_int_equal(d.at_ms, T0 + 300 + POLL);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_ASYNC);
  assert_int_equal(r.next_at_ms, T0 + 300 + POLL);
  assert_int_equal(r.attempts, 1);
  assert_string_equal(CID(r.last_async_id), "async-1");
  assert_int_equal(r.track_ms, T0 + 300);
  assert_int_equal(r.track_reads, 0);
  assert_string_equal(wdr_run_text(r.async_status), "");
  assert_false(r.seen_active);
  assert_int_equal(wdr_policy_pending(g_p), 0);

  take_none(T0 + 300 + POLL - 1, T0 + 300 + POLL);
  job = take(T0 + 300 + POLL);
  assert_job(&job, WF, "run-1", WDR_JOB_ASYNC, 1, 0);
  assert_string_equal(job.async_id, "async-1");
  assert_false(job.dry_run);
  assert_int_equal(job.charged_ms, 0);
  assert_int_equal(job.known_attempts, 1);
  r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IN_FLIGHT);
  assert_int_equal(r.in_flight, WDR_JOB_ASYNC);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  assert_budget(WF, (int64_t[]){T0}, 1); /* the rerun's slot only */
  take_none(T0 + DAY, INT64_MAX);
}

/* Without TrackAsync an accepted rerun leaves the run IDLE, as before; a
 * dry run sent nothing, so there is nothing to follow even with it. */
static void test_untracked_accepted_is_idle(void **state) {
  (void)state;
  g_wf[DRY].track = true;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0);
  wdr_result_decision_t d = wdr_policy_on_result(
      g_p, &job, WDR_OUTCOME_ACCEPTED, "async-1", NULL, T0 + 300, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_string_equal(CID(r.last_async_id), "async-1");
  assert_int_equal(r.track_ms, 0);
  take_none(T0 + DAY, INT64_MAX);

  sig_scheduled(DRY, "run-2", T0, 0);
  job = take(T0);
  assert_true(job.dry_run);
  assert_int_equal(run_of(DRY, "run-2").state, WDR_RUN_IDLE);
  take_none(T0 + DAY, INT64_MAX);
}

/* No AsyncId came back (NULL or empty): the run itself is read. */
static void test_track_accepted_without_async_id(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  wdr_result_decision_t d = track_accept(WF, "run-1", T0, NULL);
  assert_int_equal(d.at_ms, T0 + POLL);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_FOLLOW);
  assert_int_equal(r.next_at_ms, T0 + POLL);
  assert_int_equal(r.track_ms, T0);
  assert_string_equal(CID(r.last_async_id), "");
  wdr_policy_job_t job = take(T0 + POLL);
  assert_job(&job, WF, "run-1", WDR_JOB_FOLLOW, 1, 0);
  assert_string_equal(job.async_id, "");
  assert_int_equal(job.charged_ms, 0);

  d = track_accept(WF, "run-2", T0 + POLL, "");
  assert_int_equal(d.at_ms, T0 + 2 * POLL);
  assert_int_equal(run_of(WF, "run-2").state, WDR_RUN_FOLLOW);
  assert_int_equal(take(T0 + 2 * POLL).kind, WDR_JOB_FOLLOW);
}

/* A pending async job is read every AsyncPollInterval; the last read is
 * due exactly AsyncTimeout after the acceptance, and a job still pending
 * then is given up on (TIMEOUT): the run itself is followed. */
static void test_async_pending_until_timeout(void **state) {
  (void)state;
  g_wf[WF].track = true;
  g_cfg.async_timeout_ms = 12 * SEC;
  create();
  const int64_t a = T0 + 100; /* accepted */
  track_accept(WF, "run-1", a, "async-1");
  wdr_policy_job_t job = take(a + POLL);
  wdr_track_decision_t t = on_async(&job, WDR_ASYNC_PENDING, "INIT", a + POLL);
  assert_int_equal(t.verdict, WDR_TRACK_WAIT);
  assert_int_equal(t.at_ms, a + 2 * POLL);
  assert_int_equal(t.attempts, 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_ASYNC);
  assert_int_equal(r.next_at_ms, a + 2 * POLL);
  assert_int_equal(r.updated_ms, a + POLL);
  assert_string_equal(wdr_run_text(r.async_status), "INIT");
  take_none(a + 2 * POLL - 1, a + 2 * POLL);

  /* A read without an answer keeps the last Status; the next read would
   * come after the timeout, so it comes at the timeout. */
  job = take(a + 2 * POLL);
  t = on_async(&job, WDR_ASYNC_PENDING, NULL, a + 2 * POLL);
  assert_int_equal(t.verdict, WDR_TRACK_WAIT);
  assert_int_equal(t.at_ms, a + 12 * SEC);
  assert_string_equal(wdr_run_text(run_of(WF, "run-1").async_status), "INIT");

  job = take(a + 12 * SEC);
  assert_int_equal(job.kind, WDR_JOB_ASYNC);
  t = on_async(&job, WDR_ASYNC_PENDING, "RUNNING", a + 12 * SEC);
  assert_int_equal(t.verdict, WDR_TRACK_TIMEOUT);
  assert_int_equal(t.at_ms, a + 12 * SEC + POLL);
  assert_int_equal(t.attempts, 1);
  r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_FOLLOW);
  assert_int_equal(r.next_at_ms, a + 12 * SEC + POLL);
  assert_string_equal(wdr_run_text(r.async_status), "RUNNING");
  assert_int_equal(r.track_reads, 0);
  assert_int_equal(r.track_ms, a); /* the timeout counts from acceptance */
  job = take(a + 12 * SEC + POLL);
  assert_job(&job, WF, "run-1", WDR_JOB_FOLLOW, 1, 0);
  assert_string_equal(job.async_id, "async-1");

  /* Read late (the plugin was busy): past the timeout, TIMEOUT at once. */
  const int64_t b = T0 + HOUR;
  track_accept(WF, "run-2", b, "async-2");
  job = take(b + 20 * SEC);
  assert_string_equal(job.execution_id, "run-2");
  t = on_async(&job, WDR_ASYNC_PENDING, "RUNNING", b + 20 * SEC);
  assert_int_equal(t.verdict, WDR_TRACK_TIMEOUT);
  assert_int_equal(t.at_ms, b + 20 * SEC + POLL);
  assert_int_equal(take(t.at_ms).kind, WDR_JOB_FOLLOW); /* left in flight */
  /* One millisecond before the timeout it is still worth a read. */
  const int64_t c = T0 + 2 * HOUR;
  track_accept(WF, "run-3", c, "async-3");
  job = take(c + 12 * SEC - 1);
  t = on_async(&job, WDR_ASYNC_PENDING, "RUNNING", c + 12 * SEC - 1);
  assert_int_equal(t.verdict, WDR_TRACK_WAIT);
  assert_int_equal(t.at_ms, c + 12 * SEC);
}

/* An async job that ended (any end) or cannot be read: the run is read
 * from AsyncPollInterval later; the Status is remembered. */
/* An AsyncTimeout shorter than AsyncPollInterval: the first read of the
 * async job is at the timeout, not after it, and a pending job there is a
 * TIMEOUT at once. The run itself is still read after the poll interval. */
static void test_async_timeout_shorter_than_poll(void **state) {
  (void)state;
  g_wf[WF].track = true;
  g_cfg.async_poll_ms = 5 * SEC;
  g_cfg.async_timeout_ms = 2 * SEC;
  recreate();
  wdr_result_decision_t d = track_accept(WF, "run-1", T0, "async-1");
  assert_int_equal(d.at_ms, T0 + 2 * SEC);
  take_none(T0 + 2 * SEC - 1, T0 + 2 * SEC);
  wdr_policy_job_t job = take(T0 + 2 * SEC);
  assert_int_equal(job.kind, WDR_JOB_ASYNC);
  wdr_track_decision_t t =
      on_async(&job, WDR_ASYNC_PENDING, "RUNNING", T0 + 2 * SEC);
  assert_int_equal(t.verdict, WDR_TRACK_TIMEOUT);
  assert_int_equal(t.at_ms, T0 + 7 * SEC);
  /* Without an AsyncId there is no async job to time out. */
  d = track_accept(WF, "run-2", T0, NULL);
  assert_int_equal(d.at_ms, T0 + 5 * SEC);
}

static void test_async_ended_or_gone(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  const char *ends[] = {"SUCCESS", "FAIL", "PART_SUCCESS"};
  for (int i = 0; i < 3; i++) {
    char id[32], async_id[32];
    snprintf(id, sizeof(id), "run-%d", i);
    snprintf(async_id, sizeof(async_id), "async-%d", i);
    const int64_t now = T0 + i * HOUR;
    track_accept(WF, id, now, async_id);
    wdr_policy_job_t job = take(now + POLL);
    wdr_track_decision_t t =
        on_async(&job, WDR_ASYNC_ENDED, ends[i], now + POLL + 7);
    assert_int_equal(t.verdict, WDR_TRACK_FOLLOW);
    assert_int_equal(t.at_ms, now + POLL + 7 + POLL);
    assert_int_equal(t.attempts, 1);
    wdr_run_t r = run_of(WF, id);
    assert_int_equal(r.state, WDR_RUN_FOLLOW);
    assert_int_equal(r.next_at_ms, t.at_ms);
    assert_string_equal(wdr_run_text(r.async_status), ends[i]);
    assert_int_equal(r.track_reads, 0);
    take_none(t.at_ms - 1, t.at_ms);
    job = take(t.at_ms);
    assert_job(&job, WF, id, WDR_JOB_FOLLOW, 1, 0);
    assert_string_equal(job.async_id, async_id);
    assert_int_equal(on_follow(&job, WDR_FOLLOW_SUCCESS, 1, t.at_ms, 0).verdict,
                     WDR_TRACK_RECOVERED);
  }

  /* Gone (a permanent error reading it): FOLLOW too, no Status. */
  track_accept(WF, "gone", T0 + 5 * HOUR, "async-g");
  wdr_policy_job_t job = take(T0 + 5 * HOUR + POLL);
  wdr_track_decision_t t =
      on_async(&job, WDR_ASYNC_GONE, NULL, T0 + 5 * HOUR + POLL);
  assert_int_equal(t.verdict, WDR_TRACK_FOLLOW);
  assert_int_equal(t.at_ms, T0 + 5 * HOUR + 2 * POLL);
  assert_int_equal(run_of(WF, "gone").state, WDR_RUN_FOLLOW);
  assert_string_equal(wdr_run_text(run_of(WF, "gone").async_status), "");
  assert_int_equal(take(t.at_ms).kind, WDR_JOB_FOLLOW);

  /* An end read after the timeout is still an end, not a TIMEOUT. */
  track_accept(WF, "late", T0 + 6 * HOUR, "async-l");
  job = take(T0 + 7 * HOUR + MIN);
  t = on_async(&job, WDR_ASYNC_ENDED, "FAIL", T0 + 7 * HOUR + MIN);
  assert_int_equal(t.verdict, WDR_TRACK_FOLLOW);
  assert_string_equal(wdr_run_text(run_of(WF, "late").async_status), "FAIL");
}

/* SUCCESS ends following: RECOVERED, timed from the run's first failure
 * signal; the run is IDLE, and a later failure is a new attempt. */
static void test_follow_success_recovers(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  sig_scheduled(WF, "run-1", T0, 0);
  wdr_policy_job_t job = take(T0 + 2 * SEC);
  wdr_result_decision_t d = wdr_policy_on_result(
      g_p, &job, WDR_OUTCOME_ACCEPTED, NULL, NULL, T0 + 2 * SEC, 0);
  assert_int_equal(d.at_ms, T0 + 2 * SEC + POLL);
  job = take(d.at_ms);
  wdr_track_decision_t t = on_follow(&job, WDR_FOLLOW_RUNNING, 0, d.at_ms, 0);
  assert_int_equal(t.verdict, WDR_TRACK_WAIT);
  job = take(t.at_ms);
  t = on_follow(&job, WDR_FOLLOW_SUCCESS, 1, T0 + 20 * SEC, 0);
  assert_int_equal(t.verdict, WDR_TRACK_RECOVERED);
  assert_int_equal(t.recover_ms, 20 * SEC);
  assert_int_equal(t.attempts, 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.updated_ms, T0 + 20 * SEC);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  take_none(T0 + DAY, INT64_MAX);
  assert_int_equal(sig_scheduled(WF, "run-1", T0 + HOUR, 0), T0 + HOUR);
}

/* Reads the run of a rerun accepted at T0 without an AsyncId (first read
 * at T0 + poll), answering each read with what; want[0] is the wait before
 * the first read, want[i] the one after read i. */
static void check_follow_waits(wdr_follow_t what, const int64_t *want,
                               size_t n) {
  wdr_result_decision_t d = track_accept(WF, "run-1", T0, NULL);
  assert_int_equal(d.at_ms - T0, want[0]);
  int64_t now = d.at_ms;
  for (size_t i = 1; i < n; i++) {
    wdr_policy_job_t job = take(now);
    wdr_track_decision_t t = on_follow(&job, what, 0, now, 0);
    assert_int_equal(t.verdict, WDR_TRACK_WAIT);
    if (t.at_ms - now != want[i])
      fail_msg("wait after read %zu: %lld ms, want %lld", i,
               (long long)(t.at_ms - now), (long long)want[i]);
    wdr_run_t r = run_of(WF, "run-1");
    assert_int_equal(r.state, WDR_RUN_FOLLOW);
    assert_int_equal(r.next_at_ms, t.at_ms);
    assert_int_equal(r.track_reads, (int)i);
    assert_true(r.seen_active);
    now = t.at_ms;
  }
}

/* A run that has not ended (RUNNING) is read again at intervals doubling
 * from AsyncPollInterval to WDR_FOLLOW_MAX_MS, or to the poll interval when
 * that is longer; it counts as the rerun being active. */
static void test_follow_read_intervals(void **state) {
  (void)state;
  g_wf[WF].track = true;
  const wdr_follow_t whats[] = {WDR_FOLLOW_RUNNING};
  for (int w = 0; w < 1; w++) {
    g_cfg.async_poll_ms = 5 * SEC;
    recreate();
    check_follow_waits(whats[w],
                       (int64_t[]){5 * SEC, 10 * SEC, 20 * SEC, 40 * SEC,
                                   WDR_FOLLOW_MAX_MS, WDR_FOLLOW_MAX_MS,
                                   WDR_FOLLOW_MAX_MS},
                       7);
    g_cfg.async_poll_ms = 7 * SEC; /* not a divisor of the cap */
    recreate();
    check_follow_waits(whats[w],
                       (int64_t[]){7 * SEC, 14 * SEC, 28 * SEC, 56 * SEC,
                                   WDR_FOLLOW_MAX_MS, WDR_FOLLOW_MAX_MS},
                       6);
    g_cfg.async_poll_ms = 100; /* 0.1 s, the smallest */
    recreate();
    check_follow_waits(whats[w],
                       (int64_t[]){100, 200, 400, 800, 1600, 3200, 6400, 12800,
                                   25600, 51200, WDR_FOLLOW_MAX_MS,
                                   WDR_FOLLOW_MAX_MS},
                       12);
    g_cfg.async_poll_ms = WDR_FOLLOW_MAX_MS;
    recreate();
    check_follow_waits(
        whats[w],
        (int64_t[]){WDR_FOLLOW_MAX_MS, WDR_FOLLOW_MAX_MS, WDR_FOLLOW_MAX_MS},
        3);
    g_cfg.async_poll_ms = 90 * SEC; /* longer than the cap */
    recreate();
    check_follow_waits(whats[w],
                       (int64_t[]){90 * SEC, 90 * SEC, 90 * SEC, 90 * SEC}, 4);
    g_cfg.async_poll_ms = HOUR; /* the largest */
    recreate();
    check_follow_waits(whats[w], (int64_t[]){HOUR, HOUR, HOUR}, 3);
  }
}

/* A read without a usable answer (UNKNOWN) is made again at the interval
 * reached so far: it neither doubles the interval nor counts as a read (so
 * it cannot make an old FAILED believable) nor as a sign of activity. */
static void test_follow_unknown_reads_keep_the_interval(void **state) {
  (void)state;
  g_wf[WF].track = true;
  g_cfg.async_poll_ms = 5 * SEC;
  recreate();
  wdr_result_decision_t d = track_accept(WF, "run-1", T0, NULL);
  int64_t now = d.at_ms;
  wdr_policy_job_t job = take(now);
  wdr_track_decision_t t = on_follow(&job, WDR_FOLLOW_RUNNING, 1, now, 0);
  assert_int_equal(t.at_ms - now, 10 * SEC);
  for (int i = 0; i < 4; i++) {
    now = t.at_ms;
    job = take(now);
    t = on_follow(&job, WDR_FOLLOW_UNKNOWN, -1, now, 0);
    assert_int_equal(t.verdict, WDR_TRACK_WAIT);
    assert_int_equal(t.at_ms - now, 10 * SEC);
    assert_int_equal(run_of(WF, "run-1").track_reads, 1);
  }
  /* A fresh run: failed reads alone never make a stale FAILED count. */
  recreate();
  d = track_accept(WF, "run-2", T0, NULL);
  now = d.at_ms;
  for (int i = 0; i < WDR_FOLLOW_STALE_READS + 2; i++) {
    job = take(now);
    t = on_follow(&job, WDR_FOLLOW_UNKNOWN, -1, now, 0);
    assert_int_equal(t.at_ms - now, 5 * SEC);
    now = t.at_ms;
  }
  wdr_run_t r = run_of(WF, "run-2");
  assert_int_equal(r.track_reads, 0);
  assert_false(r.seen_active);
  job = take(now);
  t = on_follow(&job, WDR_FOLLOW_FAILED, 0, now, 0); /* WeData behind */
  assert_int_equal(t.verdict, WDR_TRACK_WAIT);
}

/* SKIPED (it ended without running) and a run that cannot be read end the
 * following: LOST, IDLE; a later failure is a new attempt. */
static void test_follow_skipped_or_gone_lost(void **state) {
  (void)state;
  g_wf[WF].track = true;
  const wdr_follow_t whats[] = {WDR_FOLLOW_SKIPPED, WDR_FOLLOW_GONE};
  for (int i = 0; i < 2; i++) {
    recreate();
    wdr_policy_job_t job = follow_job("run-1", NULL);
    wdr_track_decision_t t = on_follow(&job, whats[i], -1, T0 + POLL, 0);
    assert_int_equal(t.verdict, WDR_TRACK_LOST);
    assert_int_equal(t.attempts, 1);
    wdr_run_t r = run_of(WF, "run-1");
    assert_int_equal(r.state, WDR_RUN_IDLE);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(wdr_policy_pending(g_p), 0);
    take_none(T0 + DAY, INT64_MAX);
    assert_int_equal(sig_scheduled(WF, "run-1", T0 + HOUR, 0), T0 + HOUR);
  }
}

/* A run that does not end is followed until the retention (one day here)
 * has passed since the rerun was accepted, however recent its last read;
 * then LOST. */
static void test_follow_lost_after_retention(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  const struct {
    const char *id;
    int64_t track_ms;
    wdr_follow_t what;
    wdr_track_verdict_t want;
  } cases[] = {
      {"young-running", T0 - DAY + 1, WDR_FOLLOW_RUNNING, WDR_TRACK_WAIT},
      {"old-running", T0 - DAY, WDR_FOLLOW_RUNNING, WDR_TRACK_LOST},
      {"old-unknown", T0 - DAY, WDR_FOLLOW_UNKNOWN, WDR_TRACK_LOST},
      /* FAILED, but not believed (RerunTimes behind, nothing else). */
      {"young-failed", T0 - DAY + 1, WDR_FOLLOW_FAILED, WDR_TRACK_WAIT},
      {"old-failed", T0 - 2 * DAY, WDR_FOLLOW_FAILED, WDR_TRACK_LOST},
  };
  const size_t n = sizeof(cases) / sizeof(cases[0]);
  for (size_t i = 0; i < n; i++) {
    wdr_run_t r = restored(WF, cases[i].id, WDR_RUN_FOLLOW, T0 - 10 + i);
    r.attempts = 1;
    r.track_ms = cases[i].track_ms;
    r.updated_ms = T0 - SEC; /* read a second ago */
    set_textf(&r.async_status, "SUCCESS");
    restore_ok(r, T0);
  }
  for (size_t i = 0; i < n; i++) {
    wdr_policy_job_t job = take(T0);
    assert_string_equal(job.execution_id, cases[i].id);
    wdr_track_decision_t t = on_follow(&job, cases[i].what, 0, T0, 0);
    if (t.verdict != cases[i].want)
      fail_msg("%s: verdict %d, want %d", cases[i].id, t.verdict,
               cases[i].want);
    assert_int_equal(run_of(WF, cases[i].id).state,
                     cases[i].want == WDR_TRACK_LOST ? WDR_RUN_IDLE
                                                     : WDR_RUN_FOLLOW);
  }
}

/* Right after the rerun WeData may still show the old FAILED. With
 * RerunTimes below the reruns accepted here, the run not seen in another
 * state and the async job ended SUCCESS, FAILED is believed only from the
 * WDR_FOLLOW_STALE_READS-th read; the reads before wait (doubling). Then
 * the next attempt is scheduled as for a failure signal: after the backoff
 * counted from the last attempt's start. */
static void test_follow_failed_stale_reads(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  wdr_policy_job_t job = follow_job("run-1", "SUCCESS");
  int64_t now = T0 + 2 * POLL;
  for (int i = 1; i < WDR_FOLLOW_STALE_READS; i++) {
    wdr_track_decision_t t = on_follow(&job, WDR_FOLLOW_FAILED, 0, now, 0);
    assert_int_equal(t.verdict, WDR_TRACK_WAIT);
    assert_int_equal(t.at_ms, now + (POLL << i));
    wdr_run_t r = run_of(WF, "run-1");
    assert_int_equal(r.state, WDR_RUN_FOLLOW);
    assert_int_equal(r.track_reads, i);
    assert_int_equal(r.tries, 1);
    now = t.at_ms;
    job = take(now);
    assert_int_equal(job.kind, WDR_JOB_FOLLOW);
  }
  wdr_track_decision_t t =
      on_follow(&job, WDR_FOLLOW_FAILED, 0, now, UINT32_MAX);
  assert_int_equal(t.verdict, WDR_TRACK_FAILED);
  assert_int_equal(t.attempts, 1);
  assert_int_equal(t.signal.verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(t.signal.attempts, 1);
  int64_t want = T0 + wdr_policy_backoff_ms(&g_wf[WF], 1, UINT32_MAX);
  assert_true(want > now);
  assert_int_equal(t.signal.at_ms, want);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_SCHEDULED);
  assert_int_equal(r.next_at_ms, want);
  assert_int_equal(r.last_try_ms, want);
  assert_int_equal(r.tries, 2);
  assert_int_equal(wdr_policy_pending(g_p), 1);
  take_none(want - 1, want);
  job = take(want);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 2, 0);
  assert_int_equal(job.known_attempts, 1);
}

/* FAILED is the rerun's own failure at once when WeData has caught up
 * (RerunTimes at least the reruns accepted here, or unknown), when the run
 * was seen in another state since the rerun, or when the async job ended
 * FAIL or PART_SUCCESS; otherwise it is read again. */
static void test_follow_failed_believed(void **state) {
  (void)state;
  g_wf[WF].track = true;
  const struct {
    const char *async_status; /* NULL: no AsyncId */
    bool running_first;       /* a RUNNING read before */
    long long rerun_times;
    bool believed;
  } cases[] = {
      {"SUCCESS", false, 1, true},  {"SUCCESS", false, 2, true},
      {"SUCCESS", false, -1, true}, {"SUCCESS", true, 0, true},
      {"FAIL", false, 0, true},     {"PART_SUCCESS", false, 0, true},
      {NULL, false, 1, true},       {NULL, true, 0, true},
      {"SUCCESS", false, 0, false}, {NULL, false, 0, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    recreate();
    wdr_policy_job_t job = follow_job("run-1", cases[i].async_status);
    int64_t now = T0 + (cases[i].async_status != NULL ? 2 : 1) * POLL;
    if (cases[i].running_first) {
      wdr_track_decision_t t = on_follow(&job, WDR_FOLLOW_RUNNING, 0, now, 0);
      assert_int_equal(t.verdict, WDR_TRACK_WAIT);
      assert_true(run_of(WF, "run-1").seen_active);
      now = t.at_ms;
      job = take(now);
    }
    wdr_track_decision_t t =
        on_follow(&job, WDR_FOLLOW_FAILED, cases[i].rerun_times, now, 0);
    wdr_run_t r = run_of(WF, "run-1");
    if (!cases[i].believed) {
      if (t.verdict != WDR_TRACK_WAIT)
        fail_msg("case %zu: verdict %d, want WAIT", i, t.verdict);
      assert_int_equal(r.state, WDR_RUN_FOLLOW);
      continue;
    }
    if (t.verdict != WDR_TRACK_FAILED)
      fail_msg("case %zu: verdict %d, want FAILED", i, t.verdict);
    assert_int_equal(t.signal.verdict, WDR_SIGNAL_SCHEDULED);
    assert_int_equal(t.signal.at_ms, T0 + MIN); /* backoff(1), rnd 0 */
    assert_int_equal(r.state, WDR_RUN_SCHEDULED);
    assert_int_equal(r.tries, 2);
  }
}

/* A FAILED that uses up MaxAttempts gives up (said once); one over the
 * hourly budget is refused. Either way the run is IDLE. */
static void test_follow_failed_exhausted_or_budget(void **state) {
  (void)state;
  g_wf[WF].track = true;
  g_wf[WF].max_attempts = 1;
  create();
  wdr_policy_job_t job = follow_job("run-1", "FAIL");
  wdr_track_decision_t t =
      on_follow(&job, WDR_FOLLOW_FAILED, 1, T0 + 2 * POLL, 0);
  assert_int_equal(t.verdict, WDR_TRACK_FAILED);
  assert_int_equal(t.attempts, 1);
  assert_int_equal(t.signal.verdict, WDR_SIGNAL_EXHAUSTED);
  assert_true(t.signal.gave_up);
  assert_int_equal(t.signal.attempts, 1);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_true(r.gave_up);
  assert_int_equal(r.tries, 1);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  take_none(T0 + DAY, INT64_MAX);
  wdr_signal_decision_t s = sig(WF, "run-1", T0 + HOUR, 0);
  assert_int_equal(s.verdict, WDR_SIGNAL_EXHAUSTED);
  assert_false(s.gave_up);

  g_wf[WF].max_attempts = 3;
  g_wf[WF].max_reruns_per_hour = 1;
  recreate();
  job = follow_job("run-1", "FAIL");
  t = on_follow(&job, WDR_FOLLOW_FAILED, 1, T0 + 2 * POLL, 0);
  assert_int_equal(t.verdict, WDR_TRACK_FAILED);
  assert_int_equal(t.signal.verdict, WDR_SIGNAL_BUDGET);
  assert_int_equal(t.signal.attempts, 1);
  r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_int_equal(r.tries, 1);
  assert_budget(WF, (int64_t[]){T0}, 1);
  take_none(T0 + DAY, INT64_MAX);
  /* An hour after the rerun a failure signal gets the next attempt. */
  assert_int_equal(sig_scheduled(WF, "run-1", T0 + HOUR, 0), T0 + HOUR);
}

/* The whole loop to MaxAttempts (3): signal, rerun, accepted, async job
 * read until it ends, run read until it fails again, the next attempt
 * after the backoff, ..., until the attempts are used up. */
static void test_track_cycle_exhausted(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  int64_t now = T0;
  int64_t last_try = T0;
  assert_int_equal(sig_scheduled(WF, "run-1", now, 0), now);
  for (int k = 1; k <= 3; k++) {
    wdr_policy_job_t job = take(now);
    assert_job(&job, WF, "run-1", WDR_JOB_RERUN, k, 0);
    assert_int_equal(job.known_attempts, k - 1);
    char async_id[32];
    snprintf(async_id, sizeof(async_id), "async-%d", k);
    wdr_result_decision_t d = wdr_policy_on_result(
        g_p, &job, WDR_OUTCOME_ACCEPTED, async_id, NULL, now, 0);
    assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
    assert_int_equal(d.attempts, k);
    assert_int_equal(d.at_ms, now + POLL);
    /* Failure signals while it is followed are duplicates. */
    assert_int_equal(sig(WF, "run-1", now + 1, 0).verdict,
                     WDR_SIGNAL_DUPLICATE);

    now = d.at_ms;
    job = take(now);
    assert_job(&job, WF, "run-1", WDR_JOB_ASYNC, k, 0);
    assert_string_equal(job.async_id, async_id);
    wdr_track_decision_t t = on_async(&job, WDR_ASYNC_PENDING, "RUNNING", now);
    assert_int_equal(t.verdict, WDR_TRACK_WAIT);
    assert_int_equal(t.at_ms, now + POLL);
    now = t.at_ms;
    job = take(now);
    t = on_async(&job, WDR_ASYNC_ENDED, "FAIL", now);
    assert_int_equal(t.verdict, WDR_TRACK_FOLLOW);
    assert_int_equal(t.at_ms, now + POLL);

    now = t.at_ms;
    job = take(now);
    assert_job(&job, WF, "run-1", WDR_JOB_FOLLOW, k, 0);
    assert_string_equal(job.async_id, async_id);
    t = on_follow(&job, WDR_FOLLOW_FAILED, k, now, 0);
    assert_int_equal(t.verdict, WDR_TRACK_FAILED);
    assert_int_equal(t.attempts, k);
    wdr_run_t r = run_of(WF, "run-1");
    if (k < 3) {
      int64_t want = last_try + wdr_policy_backoff_ms(&g_wf[WF], k, 0);
      assert_true(want > now);
      assert_int_equal(t.signal.verdict, WDR_SIGNAL_SCHEDULED);
      assert_int_equal(t.signal.at_ms, want);
      assert_int_equal(t.signal.attempts, k);
      assert_int_equal(r.state, WDR_RUN_SCHEDULED);
      assert_int_equal(r.tries, k + 1);
      take_none(want - 1, want);
      now = last_try = want;
    } else {
      assert_int_equal(t.signal.verdict, WDR_SIGNAL_EXHAUSTED);
      assert_true(t.signal.gave_up);
      assert_int_equal(t.signal.attempts, 3);
      assert_int_equal(r.state, WDR_RUN_IDLE);
      assert_int_equal(r.attempts, 3);
      assert_int_equal(r.tries, 3);
    }
  }
  assert_int_equal(last_try, T0 + 3 * MIN); /* backoffs of 1 and 2 min */
  assert_int_equal(wdr_policy_pending(g_p), 0);
  take_none(now + DAY, INT64_MAX);
  wdr_signal_decision_t s = sig(WF, "run-1", now + HOUR, 0);
  assert_int_equal(s.verdict, WDR_SIGNAL_EXHAUSTED);
  assert_false(s.gave_up);
}

/* A loop that ends well. The first rerun fails again (its async job ended
 * FAIL, the run was seen RUNNING); the second recovers the run. What the
 * first rerun showed does not carry over to the second: its first FAILED
 * read, with RerunTimes behind, is taken for the old failure again. */
static void test_track_cycle_recovered(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  wdr_policy_job_t job = follow_job("run-1", "FAIL"); /* at T0 + 10 s */
  wdr_track_decision_t t =
      on_follow(&job, WDR_FOLLOW_RUNNING, 1, T0 + 2 * POLL, 0);
  assert_int_equal(t.verdict, WDR_TRACK_WAIT);
  assert_int_equal(t.at_ms, T0 + 4 * POLL);
  job = take(T0 + 4 * POLL);
  t = on_follow(&job, WDR_FOLLOW_FAILED, 1, T0 + 4 * POLL, 0);
  assert_int_equal(t.verdict, WDR_TRACK_FAILED);
  assert_int_equal(t.signal.verdict, WDR_SIGNAL_SCHEDULED);
  assert_int_equal(t.signal.at_ms, T0 + MIN);

  job = take(T0 + MIN);
  assert_job(&job, WF, "run-1", WDR_JOB_RERUN, 2, 0);
  wdr_result_decision_t d = wdr_policy_on_result(
      g_p, &job, WDR_OUTCOME_ACCEPTED, "async-2", NULL, T0 + MIN, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 2);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_ASYNC);
  assert_int_equal(r.track_ms, T0 + MIN);
  assert_int_equal(r.track_reads, 0);
  assert_string_equal(wdr_run_text(r.async_status), "");
  assert_false(r.seen_active);
  assert_string_equal(CID(r.last_async_id), "async-2");

  job = take(T0 + MIN + POLL);
  assert_string_equal(job.async_id, "async-2");
  t = on_async(&job, WDR_ASYNC_ENDED, "SUCCESS", T0 + MIN + POLL);
  assert_int_equal(t.verdict, WDR_TRACK_FOLLOW);
  job = take(T0 + MIN + 2 * POLL);
  t = on_follow(&job, WDR_FOLLOW_FAILED, 1, T0 + MIN + 2 * POLL, 0);
  assert_int_equal(t.verdict, WDR_TRACK_WAIT); /* stale */
  assert_int_equal(t.at_ms, T0 + MIN + 4 * POLL);
  job = take(T0 + MIN + 4 * POLL);
  t = on_follow(&job, WDR_FOLLOW_RUNNING, 2, T0 + MIN + 4 * POLL, 0);
  assert_int_equal(t.verdict, WDR_TRACK_WAIT);
  assert_int_equal(t.at_ms, T0 + MIN + 8 * POLL);
  job = take(T0 + MIN + 8 * POLL);
  t = on_follow(&job, WDR_FOLLOW_SUCCESS, 2, T0 + MIN + 8 * POLL, 0);
  assert_int_equal(t.verdict, WDR_TRACK_RECOVERED);
  assert_int_equal(t.attempts, 2);
  assert_int_equal(t.recover_ms, MIN + 8 * POLL); /* from the first signal */
  r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IDLE);
  assert_int_equal(r.attempts, 2);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  take_none(T0 + DAY, INT64_MAX);
}

/* Signals and polled failures of run-1 at now are duplicates and change
 * nothing but last_signal_ms. */
static void assert_track_duplicate(int64_t now) {
  wdr_run_t before = run_of(WF, "run-1");
  wdr_signal_decision_t d = sig(WF, "run-1", now, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_DUPLICATE);
  assert_int_equal(d.attempts, 1);
  /* Polled: caught up (as for a new failure of an IDLE run), unknown. */
  d = wdr_policy_on_polled(g_p, WF, "run-1", 1, now, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_DUPLICATE);
  d = wdr_policy_on_polled(g_p, WF, "run-1", -1, now, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_DUPLICATE);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, before.state);
  assert_int_equal(r.in_flight, before.in_flight);
  assert_int_equal(r.next_at_ms, before.next_at_ms);
  assert_int_equal(r.tries, 1);
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.last_signal_ms, now);
}

/* While a rerun is followed (waiting or reading, the async job or the
 * run) the run is not rerun again: following decides what comes next. */
static void test_track_duplicates(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  track_accept(WF, "run-1", T0, "async-1");
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_ASYNC);
  assert_track_duplicate(T0 + 1);
  wdr_policy_job_t job = take(T0 + POLL);
  assert_int_equal(run_of(WF, "run-1").in_flight, WDR_JOB_ASYNC);
  assert_track_duplicate(T0 + POLL + 1);
  wdr_track_decision_t t =
      on_async(&job, WDR_ASYNC_ENDED, "SUCCESS", T0 + POLL + 2);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_FOLLOW);
  assert_track_duplicate(T0 + POLL + 3);
  job = take(t.at_ms);
  assert_int_equal(run_of(WF, "run-1").in_flight, WDR_JOB_FOLLOW);
  assert_track_duplicate(t.at_ms + 1);
  take_none(t.at_ms + 1, INT64_MAX);
}

/* A verify that sees the rerun happen: accepted, with no AsyncId, so the
 * run itself is followed, even when an earlier attempt left an AsyncId. */
static void test_track_verify_seen_follows_run(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  wdr_policy_job_t job = follow_job("run-1", "FAIL");
  wdr_track_decision_t t =
      on_follow(&job, WDR_FOLLOW_FAILED, 1, T0 + 2 * POLL, 0);
  assert_int_equal(t.signal.verdict, WDR_SIGNAL_SCHEDULED);
  assert_string_equal(async_id_of(WF, "run-1"), "async-1");

  job = take(t.signal.at_ms);
  assert_int_equal(job.kind, WDR_JOB_RERUN);
  const int64_t now = t.signal.at_ms;
  wdr_result_decision_t d = res(&job, WDR_OUTCOME_AMBIGUOUS, now, 0);
  assert_int_equal(d.verdict, WDR_RESULT_VERIFY);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_VERIFY);
  job = take(now + WDR_VERIFY_DELAY_MS);
  assert_int_equal(job.kind, WDR_JOB_VERIFY);
  d = res(&job, WDR_OUTCOME_RERUN_SEEN, now + WDR_VERIFY_DELAY_MS + 10, 0);
  assert_int_equal(d.verdict, WDR_RESULT_ACCEPTED);
  assert_int_equal(d.attempts, 2);
  assert_int_equal(d.at_ms, now + WDR_VERIFY_DELAY_MS + 10 + POLL);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_FOLLOW);
  assert_string_equal(CID(r.last_async_id), "");
  assert_int_equal(r.track_ms, now + WDR_VERIFY_DELAY_MS + 10);
  assert_string_equal(wdr_run_text(r.async_status), ""); /* not the old FAIL */
  job = take(d.at_ms);
  assert_job(&job, WF, "run-1", WDR_JOB_FOLLOW, 2, 0);
  assert_string_equal(job.async_id, "");
}

/* A read put back (rate limit, breaker, stop) waits in its state again,
 * due at once, and is not counted as pending. */
static void test_track_requeue(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  track_accept(WF, "run-1", T0, "async-1");
  wdr_policy_job_t job = take(T0 + POLL + 3);
  wdr_policy_requeue(g_p, &job);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_ASYNC);
  assert_int_equal(r.next_at_ms, T0 + POLL);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  wdr_policy_job_t again = take(T0 + POLL + 3);
  assert_job(&again, WF, "run-1", WDR_JOB_ASYNC, 1, 0);
  assert_string_equal(again.async_id, "async-1");
  /* A requeue of another kind does nothing. */
  wdr_policy_job_t wrong = again;
  wrong.kind = WDR_JOB_FOLLOW;
  wdr_policy_requeue(g_p, &wrong);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_IN_FLIGHT);

  wdr_track_decision_t t =
      on_async(&again, WDR_ASYNC_ENDED, "SUCCESS", T0 + POLL + 3);
  job = take(t.at_ms);
  assert_int_equal(job.kind, WDR_JOB_FOLLOW);
  wrong = job;
  wrong.kind = WDR_JOB_ASYNC;
  wdr_policy_requeue(g_p, &wrong);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_IN_FLIGHT);
  wdr_policy_requeue(g_p, &job);
  r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_FOLLOW);
  assert_int_equal(r.next_at_ms, t.at_ms);
  assert_int_equal(wdr_policy_pending(g_p), 0);
  again = take(t.at_ms);
  assert_job(&again, WF, "run-1", WDR_JOB_FOLLOW, 1, 0);
  assert_string_equal(again.async_id, "async-1");
}

/* wdr_policy_pending counts waiting reruns: not runs being followed, nor
 * their reads in flight. Due reads are taken in order with the reruns. */
static void test_track_pending(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  wdr_run_t r = restored(WF, "async-wait", WDR_RUN_ASYNC, T0 + HOUR);
  set_cidf(&r.last_async_id, "a-1");
  restore_ok(r, T0);
  restore_ok(restored(WF, "follow-wait", WDR_RUN_FOLLOW, T0 + HOUR), T0);
  r = restored(WF, "async-fly", WDR_RUN_ASYNC, T0 - 3);
  set_cidf(&r.last_async_id, "a-2");
  restore_ok(r, T0);
  restore_ok(restored(WF, "follow-fly", WDR_RUN_FOLLOW, T0 - 2), T0);
  restore_ok(restored(WF, "rerun-fly", WDR_RUN_SCHEDULED, T0 - 1), T0);
  restore_ok(restored(WF, "sched", WDR_RUN_SCHEDULED, T0 + HOUR), T0);
  assert_int_equal(wdr_policy_pending(g_p), 2);

  wdr_policy_job_t job = take(T0);
  assert_job(&job, WF, "async-fly", WDR_JOB_ASYNC, 1, 0);
  assert_string_equal(job.async_id, "a-2");
  job = take(T0);
  assert_job(&job, WF, "follow-fly", WDR_JOB_FOLLOW, 1, 0);
  job = take(T0);
  assert_job(&job, WF, "rerun-fly", WDR_JOB_RERUN, 1, 0);
  take_none(T0, T0 + HOUR);
  assert_int_equal(wdr_policy_pending(g_p), 2); /* sched, rerun-fly */
}

/* After a restart: a read of a followed rerun that was out is made again
 * at once (reading is harmless); a CHECK that was out is redone (SCHEDULED,
 * due now: it sent nothing, so there is nothing to verify); a rerun or a
 * verify that was out is verified after WDR_VERIFY_DELAY_MS, as before. An
 * ASYNC run without an AsyncId follows the run. */
static void test_track_restore(void **state) {
  (void)state;
  g_wf[WF].track = true;
  g_wf[WF].verify = true;
  create();
  const int64_t now = T0 + 10 * MIN;
  wdr_run_t r = restored(WF, "async", WDR_RUN_IN_FLIGHT, T0 - 5);
  r.in_flight = WDR_JOB_ASYNC;
  r.attempts = 1;
  r.track_ms = T0 - MIN;
  set_cidf(&r.last_async_id, "a-1");
  set_textf(&r.async_status, "RUNNING");
  restore_ok(r, now);
  r = restored(WF, "follow", WDR_RUN_IN_FLIGHT, T0 - 5);
  r.in_flight = WDR_JOB_FOLLOW;
  r.attempts = 1;
  r.track_ms = T0 - MIN;
  r.track_reads = 2;
  r.seen_active = true;
  restore_ok(r, now);
  r = restored(WF, "check", WDR_RUN_IN_FLIGHT, T0 - 5);
  r.in_flight = WDR_JOB_CHECK;
  restore_ok(r, now);
  r = restored(WF, "fly-no-id", WDR_RUN_IN_FLIGHT, T0 - 5);
  r.in_flight = WDR_JOB_ASYNC;
  restore_ok(r, now);
  r = restored(WF, "rerun", WDR_RUN_IN_FLIGHT, T0 - 5);
  r.in_flight = WDR_JOB_RERUN;
  restore_ok(r, now);
  r = restored(WF, "verify", WDR_RUN_IN_FLIGHT, T0 - 5);
  r.in_flight = WDR_JOB_VERIFY;
  restore_ok(r, now);
  restore_ok(restored(WF, "wait-no-id", WDR_RUN_ASYNC, T0 + HOUR), now);
  r = restored(WF, "wait", WDR_RUN_ASYNC, T0 + HOUR);
  set_cidf(&r.last_async_id, "a-3");
  restore_ok(r, now);

  r = run_of(WF, "async");
  assert_int_equal(r.state, WDR_RUN_ASYNC);
  assert_int_equal(r.next_at_ms, now);
  assert_int_equal(r.track_ms, T0 - MIN);
  assert_string_equal(wdr_run_text(r.async_status), "RUNNING");
  r = run_of(WF, "follow");
  assert_int_equal(r.state, WDR_RUN_FOLLOW);
  assert_int_equal(r.next_at_ms, now);
  assert_int_equal(r.track_reads, 2);
  assert_true(r.seen_active);
  r = run_of(WF, "check");
  assert_int_equal(r.state, WDR_RUN_SCHEDULED);
  assert_int_equal(r.next_at_ms, now);
  assert_int_equal(run_of(WF, "fly-no-id").state, WDR_RUN_FOLLOW);
  assert_int_equal(run_of(WF, "fly-no-id").next_at_ms, now);
  r = run_of(WF, "rerun");
  assert_int_equal(r.state, WDR_RUN_VERIFY);
  assert_int_equal(r.next_at_ms, now + WDR_VERIFY_DELAY_MS);
  r = run_of(WF, "verify");
  assert_int_equal(r.state, WDR_RUN_VERIFY);
  assert_int_equal(r.next_at_ms, now + WDR_VERIFY_DELAY_MS);
  r = run_of(WF, "wait-no-id");
  assert_int_equal(r.state, WDR_RUN_FOLLOW);
  assert_int_equal(r.next_at_ms, T0 + HOUR);
  r = run_of(WF, "wait");
  assert_int_equal(r.state, WDR_RUN_ASYNC);
  assert_int_equal(r.next_at_ms, T0 + HOUR);

  /* Due now, in table order: the reads, and the check (not a verify). */
  wdr_policy_job_t job = take(now);
  assert_job(&job, WF, "async", WDR_JOB_ASYNC, 1, 0);
  assert_string_equal(job.async_id, "a-1");
  job = take(now);
  assert_job(&job, WF, "follow", WDR_JOB_FOLLOW, 1, 0);
  job = take(now);
  assert_job(&job, WF, "check", WDR_JOB_CHECK, 1, 0);
  job = take(now);
  assert_job(&job, WF, "fly-no-id", WDR_JOB_FOLLOW, 1, 0);
  take_none(now, now + WDR_VERIFY_DELAY_MS);
  assert_int_equal(take(now + WDR_VERIFY_DELAY_MS).kind, WDR_JOB_VERIFY);
  assert_int_equal(take(now + WDR_VERIFY_DELAY_MS).kind, WDR_JOB_VERIFY);
}

/* TrackAsync switched off since the state was saved: nothing is followed;
 * the runs are IDLE and a failure starts the next attempt. */
static void test_track_restore_switched_off(void **state) {
  (void)state;
  create();
  const wdr_run_state_t states[] = {WDR_RUN_ASYNC, WDR_RUN_FOLLOW,
                                    WDR_RUN_IN_FLIGHT, WDR_RUN_IN_FLIGHT};
  const wdr_job_kind_t kinds[] = {WDR_JOB_ASYNC, WDR_JOB_FOLLOW, WDR_JOB_ASYNC,
                                  WDR_JOB_FOLLOW};
  for (int i = 0; i < 4; i++) {
    char id[32];
    snprintf(id, sizeof(id), "run-%d", i);
    wdr_run_t r = restored(WF, id, states[i], T0);
    r.in_flight = kinds[i];
    r.attempts = 1;
    set_cidf(&r.last_async_id, "a-%d", i);
    restore_ok(r, T0);
    assert_int_equal(run_of(WF, id).state, WDR_RUN_IDLE);
  }
  assert_int_equal(wdr_policy_pending(g_p), 0);
  take_none(T0 + DAY, INT64_MAX);
  assert_int_equal(sig_scheduled(WF, "run-0", T0 + HOUR, 0), T0 + HOUR);
}

/* ASYNC and FOLLOW jobs are answered with on_async and on_follow only, and
 * only while in flight; anything else is STALE and changes nothing. */
static void test_track_stale(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  track_accept(WF, "run-1", T0, "async-1");
  wdr_policy_job_t job = take(T0 + POLL);
  const wdr_outcome_t outcomes[] = {WDR_OUTCOME_ACCEPTED, WDR_OUTCOME_RETRYABLE,
                                    WDR_OUTCOME_PERMANENT,
                                    WDR_OUTCOME_AMBIGUOUS};
  for (int i = 0; i < 4; i++) {
    wdr_result_decision_t d = wdr_policy_on_result(
        g_p, &job, outcomes[i], "async-x", "InternalError", T0 + POLL + 1, 0);
    assert_int_equal(d.verdict, WDR_RESULT_STALE);
  }
  assert_int_equal(on_follow(&job, WDR_FOLLOW_SUCCESS, 1, T0 + POLL, 0).verdict,
                   WDR_TRACK_STALE);
  wdr_policy_job_t as_follow = job;
  as_follow.kind = WDR_JOB_FOLLOW;
  assert_int_equal(
      on_follow(&as_follow, WDR_FOLLOW_SUCCESS, 1, T0 + POLL, 0).verdict,
      WDR_TRACK_STALE);
  assert_int_equal(
      wdr_policy_on_check(g_p, &job, WDR_CHECK_PASS, NULL, 0, T0 + POLL)
          .verdict,
      WDR_RESULT_STALE);
  wdr_run_t r = run_of(WF, "run-1");
  assert_int_equal(r.state, WDR_RUN_IN_FLIGHT);
  assert_int_equal(r.in_flight, WDR_JOB_ASYNC);
  assert_int_equal(r.attempts, 1);
  assert_string_equal(CID(r.last_async_id), "async-1");
  assert_string_equal(wdr_run_text(r.last_error), "");
  assert_int_equal(r.updated_ms, T0 + POLL);

  /* Answered once; a second answer is stale. */
  wdr_track_decision_t t =
      on_async(&job, WDR_ASYNC_ENDED, "SUCCESS", T0 + POLL);
  assert_int_equal(t.verdict, WDR_TRACK_FOLLOW);
  assert_int_equal(
      on_async(&job, WDR_ASYNC_ENDED, "FAIL", T0 + POLL + 1).verdict,
      WDR_TRACK_STALE);
  r = run_of(WF, "run-1");
  assert_string_equal(wdr_run_text(r.async_status), "SUCCESS");
  assert_int_equal(r.next_at_ms, t.at_ms);
  assert_int_equal(r.updated_ms, T0 + POLL);

  wdr_policy_job_t fjob = take(t.at_ms);
  assert_int_equal(res(&fjob, WDR_OUTCOME_ACCEPTED, t.at_ms, 0).verdict,
                   WDR_RESULT_STALE);
  assert_int_equal(on_async(&fjob, WDR_ASYNC_ENDED, "SUCCESS", t.at_ms).verdict,
                   WDR_TRACK_STALE);
  assert_int_equal(run_of(WF, "run-1").in_flight, WDR_JOB_FOLLOW);
  /* Another run, or the same id in another workflow. */
  wdr_policy_job_t ghost = fjob;
  snprintf(ghost.execution_id, sizeof(ghost.execution_id), "nope");
  assert_int_equal(on_follow(&ghost, WDR_FOLLOW_SUCCESS, 1, t.at_ms, 0).verdict,
                   WDR_TRACK_STALE);
  ghost = fjob;
  ghost.wf = DRY;
  assert_int_equal(on_follow(&ghost, WDR_FOLLOW_SUCCESS, 1, t.at_ms, 0).verdict,
                   WDR_TRACK_STALE);
  assert_int_equal(on_follow(&fjob, WDR_FOLLOW_SUCCESS, 1, t.at_ms, 0).verdict,
                   WDR_TRACK_RECOVERED);
  assert_int_equal(
      on_follow(&fjob, WDR_FOLLOW_FAILED, 1, t.at_ms + 1, 0).verdict,
      WDR_TRACK_STALE);
  assert_int_equal(run_of(WF, "run-1").state, WDR_RUN_IDLE);

  /* A rerun in flight is not an async job, whatever the job says. */
  sig_scheduled(WF, "run-2", T0, 0);
  wdr_policy_job_t rjob = take(t.at_ms);
  assert_int_equal(rjob.kind, WDR_JOB_RERUN);
  assert_int_equal(on_async(&rjob, WDR_ASYNC_ENDED, "SUCCESS", t.at_ms).verdict,
                   WDR_TRACK_STALE);
  wdr_policy_job_t as_async = rjob;
  as_async.kind = WDR_JOB_ASYNC;
  assert_int_equal(
      on_async(&as_async, WDR_ASYNC_ENDED, "SUCCESS", t.at_ms).verdict,
      WDR_TRACK_STALE);
  assert_int_equal(run_of(WF, "run-2").in_flight, WDR_JOB_RERUN);
  assert_string_equal(wdr_run_text(run_of(WF, "run-2").async_status), "");
}

static void test_track_mappings(void **state) {
  (void)state;
  assert_int_equal(wdr_policy_async_of("SUCCESS"), WDR_ASYNC_ENDED);
  assert_int_equal(wdr_policy_async_of("FAIL"), WDR_ASYNC_ENDED);
  assert_int_equal(wdr_policy_async_of("PART_SUCCESS"), WDR_ASYNC_ENDED);
  /* Not ended, or not known: read again. */
  assert_int_equal(wdr_policy_async_of("INIT"), WDR_ASYNC_PENDING);
  assert_int_equal(wdr_policy_async_of("RUNNING"), WDR_ASYNC_PENDING);
  assert_int_equal(wdr_policy_async_of(NULL), WDR_ASYNC_PENDING);
  assert_int_equal(wdr_policy_async_of(""), WDR_ASYNC_PENDING);
  assert_int_equal(wdr_policy_async_of("success"), WDR_ASYNC_PENDING);
  assert_int_equal(wdr_policy_async_of("SUCCESSFUL"), WDR_ASYNC_PENDING);

  assert_int_equal(wdr_policy_follow_of("SUCCESS"), WDR_FOLLOW_SUCCESS);
  assert_int_equal(wdr_policy_follow_of("FAILED"), WDR_FOLLOW_FAILED);
  assert_int_equal(wdr_policy_follow_of("SKIPED"), WDR_FOLLOW_SKIPPED);
  /* Anything else has not ended. */
  assert_int_equal(wdr_policy_follow_of("RUNNING"), WDR_FOLLOW_RUNNING);
  assert_int_equal(wdr_policy_follow_of("PENDING"), WDR_FOLLOW_RUNNING);
  assert_int_equal(wdr_policy_follow_of("QUEUED"), WDR_FOLLOW_RUNNING);
  assert_int_equal(wdr_policy_follow_of("INIT"), WDR_FOLLOW_RUNNING);
  assert_int_equal(wdr_policy_follow_of(NULL), WDR_FOLLOW_RUNNING);
  assert_int_equal(wdr_policy_follow_of(""), WDR_FOLLOW_RUNNING);
  assert_int_equal(wdr_policy_follow_of("failed"), WDR_FOLLOW_RUNNING);
}

/* Runs being followed are never pruned, however old; once following ends
 * they age out like other IDLE runs. */
static void test_prune_keeps_followed(void **state) {
  (void)state;
  g_wf[WF].track = true;
  create();
  wdr_run_t r = restored(WF, "async", WDR_RUN_ASYNC, T0 + 100 * DAY);
  set_cidf(&r.last_async_id, "a-1");
  restore_ok(r, T0);
  restore_ok(restored(WF, "follow", WDR_RUN_FOLLOW, T0 + 100 * DAY), T0);
  r = restored(WF, "async-fly", WDR_RUN_ASYNC, T0);
  set_cidf(&r.last_async_id, "a-2");
  restore_ok(r, T0);
  restore_ok(restored(WF, "follow-fly", WDR_RUN_FOLLOW, T0 + 1), T0);
  restore_ok(restored(WF, "idle", WDR_RUN_IDLE, 0), T0);
  wdr_policy_job_t a = take(T0 + 1);
  wdr_policy_job_t f = take(T0 + 1);
  assert_int_equal(a.kind, WDR_JOB_ASYNC);
  assert_int_equal(f.kind, WDR_JOB_FOLLOW);
  /* All updated at T0 - 1 min, bar the two taken (at T0 + 1). */
  assert_int_equal(wdr_policy_prune(g_p, T0 + 10 * DAY), 1);
  assert_false(has_run(WF, "idle"));
  assert_int_equal(runs_num(), 4);
  assert_int_equal(run_of(WF, "async").state, WDR_RUN_ASYNC);
  assert_int_equal(run_of(WF, "follow").state, WDR_RUN_FOLLOW);
  assert_int_equal(run_of(WF, "async-fly").state, WDR_RUN_IN_FLIGHT);
  assert_int_equal(run_of(WF, "follow-fly").state, WDR_RUN_IN_FLIGHT);

  assert_int_equal(on_follow(&f, WDR_FOLLOW_SUCCESS, 1, T0 + 2, 0).verdict,
                   WDR_TRACK_RECOVERED);
  assert_int_equal(wdr_policy_prune(g_p, T0 + 2 + DAY), 0);
  assert_int_equal(wdr_policy_prune(g_p, T0 + 3 + DAY), 1);
  assert_false(has_run(WF, "follow-fly"));
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
      T(test_permanent_hold),
      T(test_restore_releases_credentials_stops),
      T(test_scope_incomplete),
      T(test_escalate_to_full),
      T(test_polled_run_not_caught_up),
      T(test_polled_rerun_times_is_evidence),
      T(test_request_retries_lower_bound),
      T(test_request_retries_upper_bound),
      T(test_request_retries_max_rnd),
      T(test_request_retries_capped),
      T(test_no_request_retries),
      T(test_resign_once),
      T(test_resign_per_attempt),
      T(test_take_due_skips_lanes),
      T(test_outage_holds_never_exhaust),
      T(test_check_held),
      T(test_outage_ambiguous),
      T(test_disputed_refusal),
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
      T(test_hold),
      T(test_restore_full),
      T(test_full_does_not_use_budget),
      T(test_restore_budget),
      T(test_prune),
      T(test_prune_forgets_exhausted),
      T(test_pending),
      T(test_track_accepted_reads_async_job),
      T(test_untracked_accepted_is_idle),
      T(test_track_accepted_without_async_id),
      T(test_async_pending_until_timeout),
      T(test_async_timeout_shorter_than_poll),
      T(test_async_ended_or_gone),
      T(test_follow_success_recovers),
      T(test_follow_read_intervals),
      T(test_follow_unknown_reads_keep_the_interval),
      T(test_follow_skipped_or_gone_lost),
      T(test_follow_lost_after_retention),
      T(test_follow_failed_stale_reads),
      T(test_follow_failed_believed),
      T(test_follow_failed_exhausted_or_budget),
      T(test_track_cycle_exhausted),
      T(test_track_cycle_recovered),
      T(test_track_duplicates),
      T(test_track_verify_seen_follows_run),
      T(test_track_requeue),
      T(test_track_pending),
      T(test_track_restore),
      T(test_track_restore_switched_off),
      T(test_track_stale),
      T(test_track_mappings),
      T(test_prune_keeps_followed),
  };
  return cmocka_run_group_tests_name("wdr_policy", tests, NULL, NULL);
}
