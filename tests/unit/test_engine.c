/* wdr_engine with a fake sink, a fake clock and scripted answers: every
 * path that the collectd glue used to hold (each answer class for each job
 * kind, dry run, polling, resolving, gave_up, recovered, the breaker, the
 * rate limit and the state written before requests leave). */
#include "oconfig_build.h"
#include "testutil.h"

#include "wdr_engine.h"
#include "wdr_pace.h"
#include "wdr_state.h"

#define T0 1764000000000LL /* ms */
#define SEC 1000LL
#define HOUR_MS (3600 * SEC)
#define RUN "run-1"

/* --- the fake sink ------------------------------------------------------ */

#define LINES_MAX 256
typedef struct {
  wdr_log_level_t level[LINES_MAX];
  char line[LINES_MAX][1024];
  size_t lines;
  wdr_note_t notes[256];
  size_t notes_num;
  char *load_text;         /* the snapshot; NULL: no state yet */
  char *load_journal_text; /* NULL: no journal */
  int saves;               /* snapshots written */
  int appends;             /* journal appends */
  int syncs;               /* appends that end with an fdatasync */
  int fail_saves;          /* writes of any kind that fail from now on */
  char saved[1 << 21];     /* the last snapshot */
  char journal[1 << 21];   /* the journal: its header, then appends */
  int moved;
  /* A fold: the next journal and the snapshot being written in parts (a
   * whole snapshot too: whole, with no next journal). */
  bool has_next, folding, whole;
  char next[1 << 21];
  char part[1 << 21];
  int folds, fold_writes;
  int whole_writes;      /* parts of whole snapshots */
  size_t whole_part_max; /* the longest of them, bytes */
} fake_t;

static fake_t g_fake;

static void fake_log(void *ctx, wdr_log_level_t level, const char *text) {
  fake_t *f = ctx;
  assert_true(f->lines < LINES_MAX);
  f->level[f->lines] = level;
  snprintf(f->line[f->lines], sizeof(f->line[0]), "%s", text);
  f->lines++;
}

static void fake_notify(void *ctx, const wdr_note_t *n) {
  fake_t *f = ctx;
  assert_true(f->notes_num < 256);
  f->notes[f->notes_num++] = *n;
}

static int load_text(const char *text, wdr_buf_t *out) {
  if (text == NULL)
    return 1;
  return wdr_buf_append(out, text, strlen(text));
}

static int fake_load(void *ctx, wdr_buf_t *out, char *err, size_t err_size) {
  (void)err;
  (void)err_size;
  return load_text(((fake_t *)ctx)->load_text, out);
}

static int fake_load_journal(void *ctx, wdr_buf_t *out, char *err,
                             size_t err_size) {
  (void)err;
  (void)err_size;
  return load_text(((fake_t *)ctx)->load_journal_text, out);
}

static bool failing(fake_t *f, char *err, size_t err_size) {
  if (f->fail_saves == 0)
    return false;
  f->fail_saves--;
  snprintf(err, err_size, "disk full");
  return true;
}

static int fake_save_journal(void *ctx, const wdr_buf_t *data, char *err,
                             size_t err_size) {
  fake_t *f = ctx;
  if (failing(f, err, err_size))
    return -1;
  snprintf(f->journal, sizeof(f->journal), "%s", wdr_buf_str(data));
  return 0;
}

static int fake_append(void *ctx, const wdr_buf_t *data, bool sync, char *err,
                       size_t err_size) {
  fake_t *f = ctx;
  if (failing(f, err, err_size))
    return -1;
  f->syncs += sync;
  f->appends++;
  size_t n = strlen(f->journal);
  snprintf(f->journal + n, sizeof(f->journal) - n, "%s", wdr_buf_str(data));
  return 0;
}

static void add_text(char *dst, size_t size, const wdr_buf_t *data) {
  size_t n = strlen(dst);
  snprintf(dst + n, size - n, "%s", wdr_buf_str(data));
}

static int fake_fold_begin(void *ctx, const wdr_buf_t *header, char *err,
                           size_t err_size) {
  fake_t *f = ctx;
  if (failing(f, err, err_size))
    return -1;
  f->part[0] = '\0';
  if (header == NULL) {
    f->whole = true;
    return 0;
  }
  snprintf(f->next, sizeof(f->next), "%s", wdr_buf_str(header));
  f->has_next = f->folding = true;
  return 0;
}

static int fake_append_next(void *ctx, const wdr_buf_t *data, bool sync,
                            char *err, size_t err_size) {
  fake_t *f = ctx;
  if (failing(f, err, err_size))
    return -1;
  f->syncs += sync;
  f->appends++;
  add_text(f->next, sizeof(f->next), data);
  return 0;
}

static int fake_fold_write(void *ctx, const wdr_buf_t *part, char *err,
                           size_t err_size) {
  fake_t *f = ctx;
  if (failing(f, err, err_size))
    return -1;
  f->fold_writes += f->folding;
  if (f->whole) {
    f->whole_writes++;
    if (part->len > f->whole_part_max)
      f->whole_part_max = part->len;
  }
  add_text(f->part, sizeof(f->part), part);
  return 0;
}

static int fake_fold_commit(void *ctx, bool move_next, char *err,
                            size_t err_size) {
  fake_t *f = ctx;
  if (failing(f, err, err_size))
    return -1;
  snprintf(f->saved, sizeof(f->saved), "%s", f->part);
  if (!move_next) {
    assert_true(f->whole);
    f->saves++;
    f->whole = false;
    return 0;
  }
  assert_true(f->folding);
  f->folds++;
  snprintf(f->journal, sizeof(f->journal), "%s", f->next);
  f->has_next = f->folding = false;
  return 0;
}

static void fake_fold_abort(void *ctx) {
  fake_t *f = ctx;
  f->folding = f->whole = false;
}

static int fake_load_next(void *ctx, wdr_buf_t *out, char *err,
                          size_t err_size) {
  (void)err;
  (void)err_size;
  fake_t *f = ctx;
  return f->has_next ? wdr_buf_append(out, f->next, strlen(f->next)) : 1;
}

static void fake_discard_next(void *ctx) { ((fake_t *)ctx)->has_next = false; }

static int fake_move_aside(void *ctx, int64_t now_s, char *where,
                           size_t where_size) {
  fake_t *f = ctx;
  f->moved++;
  snprintf(where, where_size, "state.corrupt-%lld", (long long)now_s);
  return 0;
}

static const wdr_sink_t g_sink = {.ctx = &g_fake,
                                  .log = fake_log,
                                  .notify = fake_notify,
                                  .load = fake_load,
                                  .load_journal = fake_load_journal,
                                  .save_journal = fake_save_journal,
                                  .append = fake_append,
                                  .move_aside = fake_move_aside,
                                  .fold_begin = fake_fold_begin,
                                  .append_next = fake_append_next,
                                  .fold_write = fake_fold_write,
                                  .fold_commit = fake_fold_commit,
                                  .fold_abort = fake_fold_abort,
                                  .load_next = fake_load_next,
                                  .discard_next = fake_discard_next};

/* The log line containing text (fails when there is none). */
static const char *line_with(wdr_log_level_t level, const char *text) {
  for (size_t i = 0; i < g_fake.lines; i++)
    if (g_fake.level[i] == level && strstr(g_fake.line[i], text) != NULL)
      return g_fake.line[i];
  for (size_t i = 0; i < g_fake.lines; i++)
    print_message("log %d: %s\n", g_fake.level[i], g_fake.line[i]);
  fail_msg("no log line at level %d with \"%s\"", level, text);
  return NULL;
}

static size_t lines_with(const char *text) {
  size_t n = 0;
  for (size_t i = 0; i < g_fake.lines; i++)
    n += strstr(g_fake.line[i], text) != NULL;
  return n;
}

/* ERROR lines containing text (notifications are logged at INFO too). */
static size_t errors_with(const char *text) {
  size_t n = 0;
  for (size_t i = 0; i < g_fake.lines; i++)
    n += g_fake.level[i] == WDR_LOG_ERROR &&
         strstr(g_fake.line[i], text) != NULL;
  return n;
}

static const wdr_note_t *last_note(void) {
  assert_true(g_fake.notes_num > 0);
  return &g_fake.notes[g_fake.notes_num - 1];
}

/* The newest note of that type ("rerun", "breaker"). */
static const wdr_note_t *note_of(const char *type) {
  for (size_t i = g_fake.notes_num; i-- > 0;)
    if (strcmp(g_fake.notes[i].type, type) == 0)
      return &g_fake.notes[i];
  fail_msg("no %s notification", type);
  return NULL;
}

static const char *meta(const wdr_note_t *n, const char *name) {
  for (int i = 0; i < n->meta_num; i++)
    if (strcmp(n->meta[i].name, name) == 0)
      return n->meta[i].value;
  return NULL;
}

/* --- config, engine, counters -------------------------------------------- */

static oconfig_item_t *g_root;
static oconfig_item_t *g_wf;
static wdr_config_t *g_cfg;
static wdr_metrics_t *g_metrics;
static wdr_engine_t *g_e;

static const char *no_env(const char *name) {
  (void)name;
  return NULL;
}

static int setup(void **state) {
  (void)state;
  memset(&g_fake, 0, sizeof(g_fake));
  g_root = ocb_add_str(ocb_root("Plugin"), "wedata_rerun");
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretId", "AKIDtest");
  ocb_str(g_root, "SecretKey", "secret-test-key");
  ocb_num(g_root, "RateLimit", 1000);
  g_wf = ocb_str(g_root, "Workflow", "etl");
  ocb_str(g_wf, "ProjectId", "1460947878944567296");
  ocb_str(g_wf, "WorkflowId", "wf-etl");
  ocb_num(g_wf, "ExecuteType", 1);
  /* Most tests follow the requests themselves; the check has its own. */
  ocb_bool(g_wf, "VerifyBeforeRerun", false);
  ocb_str(ocb_child(g_wf, "Match"), "Plugin", "etl_monitor");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  wdr_engine_destroy(g_e);
  g_e = NULL;
  wdr_metrics_destroy(g_metrics);
  g_metrics = NULL;
  wdr_config_free(g_cfg);
  g_cfg = NULL;
  ocb_free(g_root);
  free(g_fake.load_text);
  free(g_fake.load_journal_text);
  return 0;
}

/* Sets the workflow's VerifyBeforeRerun, which setup() pins off. */
static void verify_before_rerun(bool on) {
  for (int i = 0; i < g_wf->children_num; i++)
    if (strcmp(g_wf->children[i].key, "VerifyBeforeRerun") == 0)
      g_wf->children[i].values[0].value.boolean = on;
}

static void start_at(int64_t now) {
  char err[512];
  if (wdr_config_parse(g_root, no_env, &g_cfg, err, sizeof(err)) != 0)
    fail_msg("config: %s", err);
  g_metrics = wdr_metrics_create(g_cfg);
  assert_non_null(g_metrics);
  g_e = wdr_engine_create(g_cfg, g_metrics, &g_sink, now);
  assert_non_null(g_e);
}

static void start(void) { start_at(T0); }

typedef struct {
  const char *id;
  bool found;
  uint64_t derive;
  double gauge;
} want_metric_t;

static void capture(void *ctx, const wdr_metric_t *m) {
  want_metric_t *w = ctx;
  char id[256];
  snprintf(id, sizeof(id), "%s/%s%s%s", m->plugin_instance, m->type,
           m->type_instance[0] ? "-" : "", m->type_instance);
  if (strcmp(id, w->id) != 0)
    return;
  w->found = true;
  w->derive = m->derive;
  w->gauge = m->gauge;
}

/* The value the read callback would dispatch as id ("etl/derive-accepted"). */
static want_metric_t metric(const char *id) {
  want_metric_t w = {.id = id};
  wdr_metrics_emit(g_metrics, 0, capture, &w);
  return w;
}

static uint64_t counter(const char *name) {
  char id[128];
  snprintf(id, sizeof(id), "etl/derive-%s", name);
  want_metric_t w = metric(id);
  if (!w.found)
    fail_msg("%s not emitted", id);
  return w.derive;
}

/* --- driving ------------------------------------------------------------- */

/* Hands out the due jobs at now; returns how many (jobs in out). */
static size_t dispatch(int64_t now, wdr_job_t *out, size_t max, int64_t *wake) {
  int64_t w = 0;
  size_t n = wdr_engine_dispatch(g_e, now, out, max, &w);
  if (wake != NULL)
    *wake = w;
  return n;
}

#define one_job(now, kind) one_job_at(now, kind, __LINE__)
static wdr_job_t one_job_at(int64_t now, wdr_job_kind_t kind, int line) {
  wdr_job_t jobs[4];
  size_t n = dispatch(now, jobs, 4, NULL);
  if (n != 1) {
    for (size_t i = 0; i < g_fake.lines; i++)
      print_message("log %d: %s\n", g_fake.level[i], g_fake.line[i]);
    fail_msg("line %d: %zu jobs at T0+%lld ms, expected one", line, n,
             (long long)(now - T0));
  }
  assert_int_equal(jobs[0].kind, kind);
  return jobs[0];
}

static void no_job(int64_t now) {
  wdr_job_t jobs[4];
  assert_int_equal(dispatch(now, jobs, 4, NULL), 0);
}

/* Answers: HTTP 200 with the API's success, or an API error code. */
static wdr_answer_t ok_answer(void) {
  wdr_answer_t a;
  wdr_answer_init(&a);
  a.res.http_status = 200;
  a.res.request_sent = true;
  a.res.seconds = 0.25;
  a.res.response.ok = true;
  snprintf(a.res.response.request_id, WDR_ID_MAX, "req-1");
  return a;
}

static wdr_answer_t accepted_answer(const char *async_id) {
  wdr_answer_t a = ok_answer();
  snprintf(a.res.response.async_id, WDR_ID_MAX, "%s", async_id);
  return a;
}

static wdr_answer_t error_answer(const char *code) {
  wdr_answer_t a = ok_answer();
  a.res.response.ok = false;
  snprintf(a.res.response.error_code, WDR_ID_MAX, "%s", code);
  snprintf(a.res.response.error_message, WDR_MSG_MAX, "scripted %s", code);
  return a;
}

/* A connection that broke after the request left: WeData may have acted. */
static wdr_answer_t network_answer(bool sent) {
  wdr_answer_t a = error_answer(WDR_ERR_NETWORK);
  a.res.http_status = 0;
  a.res.request_sent = sent;
  return a;
}

/* An HTTP status without an API answer (a gateway's). */
static wdr_answer_t http_answer(long status) {
  wdr_answer_t a = error_answer(WDR_ERR_HTTP_STATUS);
  a.res.http_status = status;
  return a;
}

static wdr_answer_t run_answer(const char *state, long long rerun_times) {
  wdr_answer_t a = ok_answer();
  snprintf(a.view.state, WDR_ID_MAX, "%s", state);
  a.view.rerun_times = rerun_times;
  a.view.support_rerun = true;
  return a;
}

static void answer(const wdr_job_t *job, wdr_answer_t a, int64_t now) {
  wdr_engine_on_answer(g_e, job, &a, now, 0);
}

static void signal_at(const char *run, int64_t now) {
  wdr_engine_on_signal(g_e, 0, run, now, 0);
}

/* --- tests --------------------------------------------------------------- */

static void test_signal_rerun_accepted(void **state) {
  (void)state;
  start();
  line_with(WDR_LOG_INFO, "no state file \"wedata_rerun.state\" yet");
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  assert_string_equal(job.run.execution_id, RUN);
  /* Written before the job is handed out, saying it is in flight: the
   * first write of a new state is a snapshot, with an empty journal. */
  assert_int_equal(g_fake.saves, 1);
  assert_int_equal(g_fake.appends, 0);
  assert_non_null(strstr(g_fake.saved, "\"in_flight\":\"rerun\""));
  assert_non_null(strstr(g_fake.saved, "\"state\":\"in_flight\""));
  assert_non_null(strstr(g_fake.saved, "{\"version\":2,\"kind\":\"snapshot\""));
  assert_non_null(strstr(g_fake.journal, "\"kind\":\"journal\""));
  assert_int_equal(counter("attempts"), 1);

  answer(&job, accepted_answer("async-7"), T0 + SEC);
  /* The interval's latency: one request of 0.25 s. Every emit starts a
   * new interval, so max is read first, then the counters. */
  want_metric_t lat = metric("RerunTriggerWorkflowRunAsync/response_time-max");
  assert_true(lat.found);
  assert_true(lat.gauge == 0.25);
  assert_false(metric("RerunTriggerWorkflowRunAsync/response_time-max").found);
  assert_int_equal(
      metric("RerunTriggerWorkflowRunAsync/http_requests-ok").derive, 1);
  assert_int_equal(counter("accepted"), 1);
  const wdr_note_t *n = last_note();
  assert_int_equal(n->severity, WDR_NOTE_OKAY);
  assert_string_equal(n->plugin_instance, "etl");
  assert_string_equal(
      n->message, "rerun of run-1 (workflow etl) accepted: AsyncId async-7");
  assert_string_equal(meta(n, "AsyncId"), "async-7");
  assert_string_equal(meta(n, "RequestId"), "req-1");
  assert_string_equal(meta(n, "WorkflowId"), "wf-etl");
  assert_string_equal(meta(n, "WorkflowExecutionId"), RUN);
  line_with(WDR_LOG_INFO, "accepted: AsyncId async-7");

  /* The next save appends one record: the run as it is now. */
  wdr_engine_save(g_e, T0 + SEC, false);
  assert_int_equal(g_fake.saves, 1);
  assert_int_equal(g_fake.appends, 1);
  const char *rec = strstr(g_fake.journal, "\n{\"run\":");
  assert_non_null(rec);
  assert_non_null(strstr(rec, "\"last_async_id\":\"async-7\""));
  assert_null(strstr(rec + 1, "\n{"));   /* one record */
  wdr_engine_save(g_e, T0 + SEC, false); /* unchanged: nothing written */
  assert_int_equal(g_fake.appends, 1);
  no_job(T0 + 10 * SEC);
  /* A second signal comes after the backoff (RetryInterval 60 s). */
  signal_at(RUN, T0 + 2 * SEC);
  no_job(T0 + 30 * SEC);
  one_job(T0 + 121 * SEC, WDR_JOB_RERUN);
}

static void test_permanent_error(void **state) {
  (void)state;
  start();
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  answer(&job, error_answer("InvalidParameter"), T0 + SEC);
  assert_int_equal(counter("failed"), 1);
  assert_int_equal(counter("error-InvalidParameter"), 1);
  assert_int_equal(counter("skipped-permanent_error"), 1);
  assert_int_equal(g_fake.notes_num, 2);
  assert_int_equal(g_fake.notes[0].severity, WDR_NOTE_WARNING);
  assert_string_equal(g_fake.notes[0].message,
                      "rerun of run-1 (workflow etl) failed: InvalidParameter: "
                      "scripted InvalidParameter");
  assert_string_equal(meta(&g_fake.notes[0], "ErrorCode"), "InvalidParameter");
  assert_int_equal(g_fake.notes[1].severity, WDR_NOTE_FAILURE);
  assert_string_equal(g_fake.notes[1].message,
                      "rerun of run-1 (workflow etl) stopped: "
                      "InvalidParameter: scripted InvalidParameter; not "
                      "retried for PermanentHold (3600 s)");
  no_job(T0 + 3600 * SEC);
  signal_at(RUN, T0 + 5 * SEC);
  assert_int_equal(counter("skipped-permanent_error"), 2);
}

/* A refusal of the request itself (here a gateway's 404, after one
 * "service busy" that held nothing) uses the attempt's retries. */
static void test_retryable_then_exhausted(void **state) {
  (void)state;
  ocb_num(g_root, "MaxRequestRetries", 1);
  start();
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  answer(&job, http_answer(404), T0);
  assert_int_equal(counter("retries"), 1);
  line_with(WDR_LOG_INFO, "workflow etl: rerun of run-1: retrying in 0.5 s "
                          "(ClientError.HttpStatusCodeError)");
  no_job(T0 + 499);
  job = one_job(T0 + 500, WDR_JOB_RERUN);
  assert_int_equal(job.run.retry, 1);
  answer(&job, error_answer("InvalidParameter.ServiceIsBusy"), T0 + 600);
  assert_int_equal(counter("held"), 1); /* an outage: no retry used */
  job = one_job(T0 + 1600, WDR_JOB_RERUN);
  assert_int_equal(job.run.retry, 1);
  answer(&job, http_answer(403), T0 + 1700);
  assert_int_equal(counter("skipped-retries_exhausted"), 1);
  const wdr_note_t *n = last_note();
  assert_int_equal(n->severity, WDR_NOTE_FAILURE);
  assert_string_equal(n->message,
                      "rerun of run-1 (workflow etl): "
                      "ClientError.HttpStatusCodeError after 1 retries "
                      "(MaxRequestRetries); this attempt ends");
}

static void test_ambiguous_is_verified(void **state) {
  (void)state;
  start();
  /* Not rerun by WeData: the read shows no rerun, so it is resent. */
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  answer(&job, network_answer(true), T0);
  line_with(WDR_LOG_NOTICE, "the rerun request for run-1 may have reached "
                            "WeData (ClientError.NetworkError): reading the "
                            "run in 5.0 s");
  assert_int_equal(counter("error-ClientError.NetworkError"), 1);
  no_job(T0 + 4999);
  job = one_job(T0 + 5 * SEC, WDR_JOB_VERIFY);
  answer(&job, run_answer("FAILED", 0), T0 + 5 * SEC);
  /* A timeout is an outage: the resend uses no retry of the run. */
  line_with(WDR_LOG_INFO, "rerun of run-1 waits (the run shows no rerun "
                          "after an outage)");
  job = one_job(T0 + 7 * SEC, WDR_JOB_RERUN);
  assert_int_equal(job.run.retry, 0);
  answer(&job, accepted_answer("async-2"), T0 + 7 * SEC);
  assert_int_equal(counter("accepted"), 1);
  assert_int_equal(counter("attempts"), 2);

  /* Rerun by WeData after all: accepted on the read, never resent. */
  signal_at("run-2", T0 + 8 * SEC);
  job = one_job(T0 + 8 * SEC, WDR_JOB_RERUN);
  wdr_answer_t a = error_answer(WDR_ERR_HTTP_STATUS);
  a.res.http_status = 502;
  answer(&job, a, T0 + 8 * SEC);
  job = one_job(T0 + 13 * SEC, WDR_JOB_VERIFY);
  answer(&job, run_answer("RUNNING", 1), T0 + 13 * SEC);
  assert_int_equal(counter("accepted"), 2);
  assert_string_equal(last_note()->message,
                      "rerun of run-2 (workflow etl) accepted: its answer was "
                      "lost, but the run shows it (state RUNNING, RerunTimes "
                      "1); AsyncId unknown");
  assert_null(meta(last_note(), "AsyncId"));
  assert_int_equal(counter("attempts"), 3);
  no_job(T0 + 60 * SEC);
}

/* A refusal of a resend after an answer that may have come after WeData
 * acted is read back before it stands; confirmed, it is reported with the
 * refusal's code. */
static void test_disputed_refusal_reported(void **state) {
  (void)state;
  start();
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  answer(&job, error_answer("ResourceInUse"), T0);
  job = one_job(T0 + 5 * SEC, WDR_JOB_VERIFY);
  answer(&job, run_answer("FAILED", 0), T0 + 5 * SEC);
  job = one_job(T0 + 6 * SEC, WDR_JOB_RERUN);
  answer(&job, error_answer("FailedOperation"), T0 + 6 * SEC);
  line_with(WDR_LOG_NOTICE, "workflow etl: WeData refused a resend of the "
                            "rerun of run-1 (FailedOperation), but an "
                            "earlier request of this attempt may have been "
                            "acted on: reading the run in 5.0 s before the "
                            "refusal stands");
  assert_int_equal(counter("skipped-permanent_error"), 0);
  job = one_job(T0 + 11 * SEC, WDR_JOB_VERIFY);
  answer(&job, run_answer("FAILED", 0), T0 + 11 * SEC);
  assert_int_equal(counter("skipped-permanent_error"), 1);
  const wdr_note_t *n = last_note();
  assert_int_equal(n->severity, WDR_NOTE_FAILURE);
  assert_string_equal(n->message,
                      "rerun of run-1 (workflow etl) stopped: FailedOperation: "
                      "the run shows no rerun; not retried for PermanentHold "
                      "(3600 s)");
  assert_string_equal(meta(n, "ErrorCode"), "FailedOperation");
  no_job(T0 + 600 * SEC);
}

static void test_dry_run(void **state) {
  (void)state;
  ocb_bool(g_root, "DryRun", 1);
  start();
  signal_at(RUN, T0);
  no_job(T0);
  assert_int_equal(counter("would_rerun"), 1);
  assert_int_equal(counter("attempts"), 0);
  line_with(WDR_LOG_INFO,
            "dry run: would rerun run-1 of workflow etl (ExecuteType 1)");
  /* Dry-run decisions are not persisted, in the snapshot or the journal. */
  wdr_engine_save(g_e, T0, false);
  assert_int_equal(g_fake.saves, 1);
  assert_null(strstr(g_fake.saved, RUN));
  signal_at(RUN, T0 + HOUR_MS);
  wdr_engine_save(g_e, T0 + HOUR_MS, false);
  assert_int_equal(g_fake.appends, 0);
  assert_null(strstr(g_fake.journal, RUN));
}

static void test_gave_up(void **state) {
  (void)state;
  ocb_num(g_wf, "MaxAttempts", 1);
  start();
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  answer(&job, accepted_answer("a"), T0);
  signal_at(RUN, T0 + 100 * SEC);
  assert_int_equal(counter("gave_up"), 1);
  assert_int_equal(counter("skipped-exhausted"), 1);
  const wdr_note_t *n = last_note();
  assert_int_equal(n->severity, WDR_NOTE_FAILURE);
  assert_string_equal(n->message, "gave up on run-1 (workflow etl) after 1 "
                                  "attempts: it failed again, and MaxAttempts "
                                  "is 1");
  assert_string_equal(meta(n, "Attempts"), "1");
  /* Said once: later signals are only counted. */
  signal_at(RUN, T0 + 200 * SEC);
  assert_int_equal(counter("gave_up"), 1);
  assert_int_equal(counter("skipped-exhausted"), 2);
  assert_int_equal(g_fake.notes_num, 2);
}

static void test_check_before_rerun(void **state) {
  (void)state;
  verify_before_rerun(true); /* the default */
  start();
  /* RateLimit 1000: one request per ms, so the clock moves between them. */
  int64_t t = T0;
  signal_at(RUN, t);
  wdr_job_t job = one_job(t, WDR_JOB_CHECK);
  answer(&job, run_answer("SUCCESS", 0), t);
  assert_int_equal(counter("skipped-not_failed"), 1);
  line_with(WDR_LOG_INFO, "workflow etl: no rerun of run-1: it is not FAILED "
                          "(state SUCCESS, SupportRerun true, RerunTimes 0)");
  no_job(t += 10);

  signal_at("run-2", t);
  job = one_job(t += 10, WDR_JOB_CHECK);
  answer(&job, run_answer("FAILED", 3), t); /* MaxAttempts 3 reached */
  assert_int_equal(counter("skipped-exhausted"), 1);
  line_with(WDR_LOG_INFO, "no rerun of run-2: WeData counts MaxAttempts "
                          "reruns already");

  signal_at("run-3", t);
  job = one_job(t += 10, WDR_JOB_CHECK);
  answer(&job, run_answer("FAILED", 0), t);
  job = one_job(t += 10, WDR_JOB_RERUN);
  assert_string_equal(job.run.execution_id, "run-3");

  /* A read that fails is made again, not a rerun. */
  signal_at("run-4", t);
  job = one_job(t += 10, WDR_JOB_CHECK);
  answer(&job, error_answer("InternalError"), t);
  line_with(WDR_LOG_NOTICE, "reading run run-4 (workflow etl) failed: "
                            "InternalError");
  line_with(WDR_LOG_INFO, "workflow etl: reading the run of run-4 waits "
                          "(InternalError): the service or the credentials "
                          "are at fault, not the run; again in 0.5 s, no "
                          "retry used");
  assert_int_equal(counter("held"), 1);
  job = one_job(t + SEC, WDR_JOB_CHECK);
  assert_string_equal(job.run.execution_id, "run-4");
  /* A refusal about the read itself is retried as a read, with a retry. */
  answer(&job, http_answer(404), t + SEC);
  line_with(WDR_LOG_INFO, "retrying in 0.5 s (reading the run before the "
                          "rerun failed: reading again)");
  job = one_job(t + 3 * SEC, WDR_JOB_CHECK);
  assert_string_equal(job.run.execution_id, "run-4");
}

static void test_track_until_recovered(void **state) {
  (void)state;
  ocb_bool(g_wf, "TrackAsync", 1);
  ocb_num(g_root, "AsyncPollInterval", 2);
  start();
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  answer(&job, accepted_answer("async-9"), T0 + SEC);
  line_with(WDR_LOG_INFO, "following the rerun of run-1: first read of its "
                          "async job in 2.0 s");
  no_job(T0 + 2 * SEC);
  job = one_job(T0 + 3 * SEC, WDR_JOB_ASYNC);
  assert_string_equal(job.run.async_id, "async-9");
  wdr_answer_t a = ok_answer();
  snprintf(a.async.status, WDR_ID_MAX, "RUNNING");
  answer(&job, a, T0 + 3 * SEC);
  job = one_job(T0 + 5 * SEC, WDR_JOB_ASYNC);
  a = ok_answer();
  snprintf(a.async.status, WDR_ID_MAX, "SUCCESS");
  answer(&job, a, T0 + 5 * SEC);
  assert_int_equal(counter("async-SUCCESS"), 1);
  line_with(WDR_LOG_INFO, "async job async-9 of the rerun of run-1 ended "
                          "SUCCESS: following the run, next read in 2.0 s");
  job = one_job(T0 + 7 * SEC, WDR_JOB_FOLLOW);
  answer(&job, run_answer("SUCCESS", 1), T0 + 10 * SEC);
  assert_int_equal(counter("recovered"), 1);
  const wdr_note_t *n = last_note();
  assert_int_equal(n->severity, WDR_NOTE_OKAY);
  assert_string_equal(n->message, "run run-1 (workflow etl) recovered: "
                                  "SUCCESS after 1 rerun(s), 10.0 s after its "
                                  "first failure signal");
  assert_string_equal(meta(n, "TimeToRecover"), "10.000");
  want_metric_t g = metric("etl/duration-time_to_recover");
  assert_true(g.found && g.gauge == 10.0);
  assert_true(metric("GetOpsAsyncJob/http_requests-ok").derive >= 1);
}

static void test_track_failed_again_and_async_fail(void **state) {
  (void)state;
  ocb_bool(g_wf, "TrackAsync", 1);
  ocb_num(g_root, "AsyncPollInterval", 1);
  start();
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  answer(&job, accepted_answer("async-1"), T0);
  job = one_job(T0 + SEC, WDR_JOB_ASYNC);
  wdr_answer_t a = ok_answer();
  snprintf(a.async.status, WDR_ID_MAX, "FAIL");
  snprintf(a.async.error_desc, WDR_MSG_MAX, "no resources");
  answer(&job, a, T0 + SEC);
  assert_int_equal(counter("async-FAIL"), 1);
  assert_string_equal(last_note()->message,
                      "rerun of run-1 (workflow etl): async job async-1 ended "
                      "FAIL: no resources; following the run");
  assert_string_equal(meta(last_note(), "ErrorDesc"), "no resources");
  job = one_job(T0 + 2 * SEC, WDR_JOB_FOLLOW);
  answer(&job, run_answer("FAILED", 1), T0 + 2 * SEC);
  assert_string_equal(last_note()->message,
                      "run run-1 (workflow etl) failed again after 1 "
                      "rerun(s): next attempt in 58.0 s");
  job = one_job(T0 + 62 * SEC, WDR_JOB_RERUN);
  assert_int_equal(job.run.attempt, 2);
  /* A read that cannot be made for good ends the following. */
  answer(&job, accepted_answer("async-2"), T0 + 62 * SEC);
  job = one_job(T0 + 63 * SEC, WDR_JOB_ASYNC);
  answer(&job, error_answer("ResourceNotFound"), T0 + 63 * SEC);
  line_with(WDR_LOG_NOTICE, "the async job async-2 of the rerun of run-1 "
                            "cannot be read (ResourceNotFound)");
  job = one_job(T0 + 64 * SEC, WDR_JOB_FOLLOW);
  answer(&job, error_answer("ResourceNotFound"), T0 + 64 * SEC);
  assert_string_equal(last_note()->message,
                      "stopped following the rerun of run-1 (workflow etl): "
                      "it cannot be read: ResourceNotFound");
  assert_int_equal(counter("error-ResourceNotFound"), 2);
}

static void test_poll_finds_failed_runs(void **state) {
  (void)state;
  ocb_bool(g_wf, "Poll", 1);
  start();
  /* The first poll waits for the start hold: a config check lists
   * nothing. */
  const int64_t P = T0 + WDR_ENGINE_START_HOLD_MS;
  no_job(P - 1);
  wdr_job_t job = one_job(P, WDR_JOB_LIST);
  assert_false(job.list.resolve);
  assert_string_equal(job.list.project_id, "1460947878944567296");
  assert_int_equal(job.list.ids_num, 1);
  assert_string_equal(job.list.workflow_ids[0], "wf-etl");
  wdr_answer_t a = ok_answer();
  a.runs.items = calloc(2, sizeof(*a.runs.items));
  assert_non_null(a.runs.items);
  a.runs.items_num = 2;
  a.runs.total_pages = 1;
  wdr_run_brief_t *b = a.runs.items;
  snprintf(b[0].execution_id, WDR_ID_MAX, "run-ok");
  snprintf(b[0].workflow_id, WDR_ID_MAX, "wf-etl");
  snprintf(b[0].state, WDR_ID_MAX, "SUCCESS");
  snprintf(b[1].execution_id, WDR_ID_MAX, "run-bad");
  snprintf(b[1].workflow_id, WDR_ID_MAX, "wf-etl");
  snprintf(b[1].state, WDR_ID_MAX, "FAILED");
  b[1].support_rerun = true;
  b[1].rerun_times = 0;
  b[1].create_ms = T0 - 60 * SEC;
  answer(&job, a, P); /* the engine frees the items */
  assert_int_equal(counter("polled"), 2);
  assert_int_equal(counter("signals"), 1);
  assert_int_equal(metric("ListTriggerWorkflowRuns/http_requests-ok").derive,
                   1);
  job = one_job(P + 10, WDR_JOB_RERUN);
  assert_string_equal(job.run.execution_id, "run-bad");
  /* The next poll comes PollInterval (60 s) later. */
  answer(&job, accepted_answer("x"), P + 10);
  no_job(P + 59 * SEC);
  one_job(P + 60 * SEC, WDR_JOB_LIST);
}

static void test_signal_without_run_id_is_resolved(void **state) {
  (void)state;
  start();
  signal_at("", T0);
  signal_at("", T0); /* the same search covers it */
  wdr_job_t job = one_job(T0, WDR_JOB_LIST);
  assert_true(job.list.resolve);
  wdr_answer_t a = ok_answer();
  a.runs.total_pages = 1;
  answer(&job, a, T0);
  assert_int_equal(counter("skipped-no_failed_run"), 1);
  line_with(WDR_LOG_INFO, "a failure signal without a run id, and no failed "
                          "run within PollLookback: nothing to rerun");
  no_job(T0 + 100 * SEC);
}

static void test_breaker_opens_and_closes(void **state) {
  (void)state;
  ocb_num(g_root, "BreakerThreshold", 2);
  ocb_num(g_root, "BreakerCooldown", 30);
  start();
  signal_at("run-a", T0);
  signal_at("run-b", T0);
  signal_at("run-c", T0);
  wdr_job_t jobs[4];
  assert_int_equal(dispatch(T0, jobs, 1, NULL), 1);
  assert_int_equal(dispatch(T0 + 10, jobs + 1, 1, NULL), 1);
  answer(&jobs[0], error_answer("InternalError"), T0 + 20);
  assert_int_equal(g_fake.notes_num, 1); /* the rerun's warning */
  answer(&jobs[1], error_answer("InternalError"), T0 + 20);
  const wdr_note_t *n = note_of("breaker");
  assert_int_equal(n->severity, WDR_NOTE_WARNING);
  assert_string_equal(n->message, "2 requests in a row failed: no request "
                                  "for 30 s, then one probe");
  assert_true(metric("/gauge-breaker_open").gauge == 1.0);
  int64_t wake = 0;
  assert_int_equal(dispatch(T0 + 10 * SEC, jobs, 4, &wake), 0);
  assert_true(wake > T0 + 10 * SEC && wake <= T0 + 30 * SEC + 20);
  /* One probe after the cooldown (from the opening answer at T0 + 20 ms);
   * its success closes the breaker. */
  assert_int_equal(dispatch(T0 + 30 * SEC + 19, jobs, 4, NULL), 0);
  assert_int_equal(dispatch(T0 + 30 * SEC + 20, jobs, 4, NULL), 1);
  answer(&jobs[0], accepted_answer("p"), T0 + 31 * SEC);
  assert_string_equal(note_of("breaker")->message, "a request succeeded: "
                                                   "sending again");
  assert_int_equal(note_of("breaker")->severity, WDR_NOTE_OKAY);
  assert_true(metric("/gauge-breaker_open").gauge == 0.0);
}

static void test_rate_limit_and_requeue(void **state) {
  (void)state;
  g_root->children[3].values[0].value.number = 1; /* RateLimit */
  start();
  signal_at("run-a", T0);
  signal_at("run-b", T0);
  wdr_job_t jobs[4];
  int64_t wake = 0;
  assert_int_equal(dispatch(T0, jobs, 4, &wake), 1);
  /* RateLimit 1: one a window (a second and the jitter margin); the
   * engine wakes at least once a second anyway. */
  assert_int_equal(wake, T0 + SEC);
  /* A job no worker took is due again as it was. */
  wdr_engine_requeue(g_e, &jobs[0], T0);
  assert_int_equal(dispatch(T0 + WDR_PACE_WINDOW_MS - 1, jobs, 4, NULL), 0);
  assert_int_equal(dispatch(T0 + WDR_PACE_WINDOW_MS, jobs, 4, NULL), 1);
  assert_int_equal(dispatch(T0 + 2 * WDR_PACE_WINDOW_MS, jobs, 4, NULL), 1);
  assert_int_equal(wdr_engine_pending(g_e), 2); /* both in flight */
}

/* AuthFailure.SignatureExpire with a Date header 10 minutes ahead: the next
 * requests carry the offset for signing, the gauge shows it, one WARNING
 * says so; without a Date header nothing changes; a second SignatureExpire
 * is a request retry, not the run's end. */
static void test_clock_offset_from_date(void **state) {
  (void)state;
  start();
  assert_false(metric("/gauge-clock_offset").found);
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  assert_int_equal(job.clock_offset_s, 0);
  wdr_answer_t a = error_answer("AuthFailure.SignatureExpire");
  a.res.server_time = T0 / 1000 + 600;
  answer(&job, a, T0 + 10);
  job = one_job(T0 + 10, WDR_JOB_RERUN); /* re-signed at once */
  assert_int_equal(job.clock_offset_s, 600);
  assert_true(metric("/gauge-clock_offset").gauge == 600.0);
  line_with(WDR_LOG_WARNING, "WeData answered AuthFailure.SignatureExpire: "
                             "this host's clock is +600 s off the server's "
                             "(its Date header); requests are signed with "
                             "the server's time from now on. Fix the host's "
                             "clock (NTP).");
  /* Again (no Date this time): held with backoff (no retry of the run
   * used), the offset kept. */
  answer(&job, error_answer("AuthFailure.SignatureExpire"), T0 + 20);
  assert_int_equal(counter("retries"), 1); /* the re-sign */
  assert_int_equal(counter("held"), 1);
  assert_int_equal(counter("skipped-permanent_error"), 0);
  int64_t t = T0 + 20;
  wdr_job_t jobs[4];
  int64_t wake = 0;
  while (dispatch(t, jobs, 4, &wake) == 0)
    t = wake;
  assert_int_equal(jobs[0].clock_offset_s, 600);
  answer(&jobs[0], accepted_answer("a-1"), t);
  assert_int_equal(counter("accepted"), 1);
}

/* A throttle is not the run's failure: the job is due again when the
 * slower pace allows, no retry of the run is used, the breaker does not
 * count it, and the pace drops to 0.7 x RateLimit and climbs back. */
static void test_throttle_slows_down(void **state) {
  (void)state;
  ocb_num(g_root, "MaxRequestRetries", 1);
  ocb_num(g_root, "BreakerThreshold", 2);
  g_root->children[3].values[0].value.number = 20; /* RateLimit */
  start();
  assert_true(metric("/gauge-rate_limit-current").gauge == 20.0);
  signal_at(RUN, T0);
  int64_t t = T0;
  wdr_job_t job = one_job(t, WDR_JOB_RERUN);
  for (int i = 0; i < 5; i++) {
    answer(&job, error_answer("RequestLimitExceeded.UinLimitExceeded"), t);
    assert_int_equal(job.run.retry, 0); /* never a retry of the run */
    wdr_job_t jobs[4];
    int64_t wake = 0;
    size_t n = dispatch(t, jobs, 4, &wake);
    assert_int_equal(n, 0); /* not at once: the pace waits */
    while (n == 0) {
      assert_true(wake > t && wake <= t + 2 * SEC); /* 0.5 a second at worst */
      t = wake;
      n = dispatch(t, jobs, 4, &wake);
    }
    assert_int_equal(n, 1);
    job = jobs[0];
  }
  assert_int_equal(counter("throttled"), 5);
  assert_int_equal(counter("retries"), 0);
  assert_int_equal(counter("failed"), 0);
  assert_int_equal(counter("skipped-retries_exhausted"), 0);
  assert_int_equal(counter("error-RequestLimitExceeded.UinLimitExceeded"), 5);
  for (size_t i = 0; i < g_fake.notes_num; i++) /* threshold 2: closed */
    assert_string_not_equal(g_fake.notes[i].type, "breaker");
  assert_true(metric("/gauge-breaker_open").gauge == 0.0);
  /* The first throttle: one request sent in the last second, so w_max is
   * 1 a second and the pace 0.8 of it; the others came lower still, down to
   * the floor. */
  double slow = metric("/gauge-rate_limit-current").gauge;
  assert_true(slow >= WDR_PACE_MIN_RATE && slow < 1.0);
  line_with(WDR_LOG_WARNING, "RerunTriggerWorkflowRunAsync: "
                             "RequestLimitExceeded.UinLimitExceeded: slowing "
                             "down to 0.8 requests/s (RateLimit 20; the "
                             "account's quota is shared with its other "
                             "clients)");
  answer(&job, accepted_answer("a-1"), t);
  assert_int_equal(counter("accepted"), 1);
  assert_int_equal(counter("attempts"), 6); /* each request sent */
  /* Clean answers from here: back at RateLimit within a minute. */
  no_job(t + 60 * SEC);
  assert_true(metric("/gauge-rate_limit-current").gauge == 20.0);
}

/* The next job handed out at or after *t (the engine's wake times
 * followed, at most limit_ms on); *t is when it came. */
static wdr_job_t next_job(int64_t *t, int64_t limit_ms) {
  wdr_job_t jobs[4];
  int64_t wake = 0, end = *t + limit_ms;
  size_t n;
  while ((n = dispatch(*t, jobs, 4, &wake)) == 0) {
    if (wake > end)
      fail_msg("no job within %lld ms", (long long)limit_ms);
    *t = wake;
  }
  assert_int_equal(n, 1);
  return jobs[0];
}

/* An outage of any length pauses the sender, not the run: connection
 * refused again and again (the breaker opening and probing) uses no retry
 * of the run, and the run goes out once the server is back. Business
 * errors and "in use" never open the breaker. */
static void test_outage_holds_the_sender(void **state) {
  (void)state;
  ocb_num(g_root, "MaxRequestRetries", 1);
  ocb_num(g_root, "BreakerThreshold", 3);
  ocb_num(g_root, "BreakerCooldown", 30);
  start();
  signal_at(RUN, T0);
  int64_t t = T0;
  wdr_job_t job = one_job(t, WDR_JOB_RERUN);
  for (int i = 0; i < 12; i++) { /* 3 to open, then failed probes */
    answer(&job, network_answer(false), t);
    job = next_job(&t, 31 * SEC);
    assert_int_equal(job.kind, WDR_JOB_RERUN);
    assert_int_equal(job.run.retry, 0);
  }
  /* 3 in a row opened it; every probe after waited out the cooldown. */
  assert_true(t >= T0 + 9 * 30 * SEC);
  assert_int_equal(counter("held"), 12);
  assert_int_equal(counter("retries"), 0);
  assert_int_equal(counter("skipped-retries_exhausted"), 0);
  assert_true(metric("/gauge-breaker_open").gauge == 1.0);
  assert_int_equal(note_of("breaker")->severity, WDR_NOTE_WARNING);
  answer(&job, accepted_answer("a-1"), t);
  assert_int_equal(counter("accepted"), 1);
  assert_true(metric("/gauge-breaker_open").gauge == 0.0);
  assert_int_equal(note_of("breaker")->severity, WDR_NOTE_OKAY);

  /* Answers about runs say the server is up: the breaker stays closed. */
  size_t notes = g_fake.notes_num;
  const char *codes[] = {"ResourceInUse", "FailedOperation",
                         "RequestLimitExceeded", "AuthFailure.SignatureExpire",
                         "InvalidParameter"};
  for (int i = 0; i < 5; i++) {
    char id[24];
    snprintf(id, sizeof(id), "run-b%d", i);
    signal_at(id, t);
    job = next_job(&t, 10 * SEC);
    answer(&job, error_answer(codes[i]), t);
  }
  assert_true(metric("/gauge-breaker_open").gauge == 0.0);
  for (size_t i = notes; i < g_fake.notes_num; i++)
    assert_string_not_equal(g_fake.notes[i].type, "breaker");
}

/* Each API action has its own quota, so its own pace: a read before a
 * rerun does not hold the rerun back, while a second read waits for the
 * read's spacing (RateLimit 2: 500 ms). */
static void test_pace_per_action(void **state) {
  (void)state;
  g_root->children[3].values[0].value.number = 2; /* RateLimit */
  verify_before_rerun(true);
  start();
  signal_at(RUN, T0);
  signal_at("run-2", T0);
  wdr_job_t job = one_job(T0, WDR_JOB_CHECK);
  answer(&job, run_answer("FAILED", 0), T0 + 1);
  job = one_job(T0 + 1, WDR_JOB_RERUN); /* its own pace: at once */
  assert_string_equal(job.run.execution_id, RUN);
  no_job(T0 + 499); /* run-2's read waits for the read's spacing */
  job = one_job(T0 + 500, WDR_JOB_CHECK);
  assert_string_equal(job.run.execution_id, "run-2");
}

/* Credentials rejected: one ERROR line naming the code, credentials_ok 0,
 * every pending rerun kept due and no request but one probe per
 * BreakerCooldown; the first clean answer resumes everything. */
static void test_credentials_rejected(void **state) {
  (void)state;
  ocb_num(g_root, "MaxRequestRetries", 0);
  ocb_num(g_root, "BreakerCooldown", 60);
  start();
  assert_true(metric("/gauge-credentials_ok").gauge == 1.0);
  signal_at(RUN, T0);
  signal_at("run-2", T0);
  wdr_job_t jobs[4];
  jobs[0] = one_job(T0, WDR_JOB_RERUN);
  jobs[1] = one_job(T0 + 5, WDR_JOB_RERUN); /* both out at once */
  answer(&jobs[0], error_answer("AuthFailure.SecretIdNotFound"), T0 + 10);
  answer(&jobs[1], error_answer("AuthFailure.SecretIdNotFound"), T0 + 20);
  line_with(WDR_LOG_ERROR,
            "WeData rejected the credentials: AuthFailure.SecretIdNotFound: "
            "scripted AuthFailure.SecretIdNotFound. No request goes out but "
            "one probe every 60 s (BreakerCooldown); every pending rerun is "
            "kept");
  assert_int_equal(errors_with("WeData rejected the credentials"), 1);
  assert_true(metric("/gauge-credentials_ok").gauge == 0.0);
  const wdr_note_t *n = note_of("credentials");
  assert_int_equal(n->severity, WDR_NOTE_FAILURE);
  assert_string_equal(meta(n, "ErrorCode"), "AuthFailure.SecretIdNotFound");
  assert_int_equal(wdr_engine_pending(g_e), 2);
  signal_at("run-3", T0 + SEC);
  assert_int_equal(wdr_engine_pending(g_e), 3);

  /* Nothing but one probe a cooldown. */
  assert_int_equal(dispatch(T0 + 30 * SEC, jobs, 4, NULL), 0);
  assert_int_equal(dispatch(T0 + 9 + 60 * SEC, jobs, 4, NULL), 0);
  assert_int_equal(dispatch(T0 + 10 + 60 * SEC, jobs, 4, NULL), 1);
  assert_int_equal(dispatch(T0 + 10 + 70 * SEC, jobs + 1, 3, NULL), 0);
  answer(&jobs[0], error_answer("AuthFailure.SecretIdNotFound"), T0 + 71 * SEC);
  assert_int_equal(errors_with("WeData rejected the credentials"), 1);
  assert_int_equal(dispatch(T0 + 130 * SEC, jobs, 4, NULL), 0);
  assert_int_equal(dispatch(T0 + 131 * SEC, jobs, 4, NULL), 1);
  answer(&jobs[0], accepted_answer("a-1"), T0 + 131 * SEC);
  line_with(WDR_LOG_NOTICE,
            "WeData accepts the credentials again: sending resumes");
  assert_true(metric("/gauge-credentials_ok").gauge == 1.0);
  assert_int_equal(note_of("credentials")->severity, WDR_NOTE_OKAY);
  /* The others go out as their holds end: none was dropped or retried. */
  int64_t t = T0 + 131 * SEC;
  for (int i = 0; i < 2; i++) {
    wdr_job_t job = next_job(&t, 2 * SEC);
    answer(&job, accepted_answer("a-x"), t);
  }
  assert_int_equal(counter("accepted"), 3);
  assert_int_equal(counter("retries"), 0);
  assert_int_equal(counter("skipped-permanent_error"), 0);
  assert_int_equal(counter("skipped-retries_exhausted"), 0);
  assert_int_equal(wdr_engine_pending(g_e), 0);
}

static void test_state_round_trip_and_corrupt(void **state) {
  (void)state;
  start();
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  (void)job;
  signal_at("run-2", T0); /* scheduled, due at once, never handed out */
  wdr_engine_save(g_e, T0, false);
  /* The snapshot holds run-1 in flight; run-2 is only in the journal. */
  assert_null(strstr(g_fake.saved, "run-2"));
  assert_non_null(strstr(g_fake.journal, "run-2"));
  wdr_engine_destroy(g_e);
  /* A restart: the rerun that was in flight is read back, never resent,
   * and nothing restored leaves in the start hold (a config check). */
  g_fake.load_text = strdup(g_fake.saved);
  g_fake.load_journal_text = strdup(g_fake.journal);
  g_e = wdr_engine_create(g_cfg, g_metrics, &g_sink, T0 + SEC);
  assert_non_null(g_e);
  line_with(WDR_LOG_INFO, "restored 2 run(s)");
  const int64_t hold = T0 + SEC + WDR_ENGINE_START_HOLD_MS;
  no_job(hold - 1);
  job = one_job(hold, WDR_JOB_RERUN);
  assert_string_equal(job.run.execution_id, "run-2");
  no_job(T0 + 6 * SEC - 1);
  one_job(T0 + 6 * SEC, WDR_JOB_VERIFY);
  wdr_engine_destroy(g_e);

  free(g_fake.load_text);
  free(g_fake.load_journal_text);
  g_fake.load_journal_text = NULL;
  g_fake.load_text = strdup("{\"version\":1,");
  g_e = wdr_engine_create(g_cfg, g_metrics, &g_sink, T0 + 2 * SEC);
  assert_non_null(g_e);
  assert_int_equal(g_fake.moved, 1);
  line_with(WDR_LOG_WARNING, "is corrupt or unreadable (not JSON: ");
  line_with(WDR_LOG_WARNING, "moved it to \"state.corrupt-1764000002\" and "
                             "started empty");
  no_job(T0 + 100 * SEC);
  wdr_engine_destroy(g_e);

  /* A state of a newer version is left alone: one ERROR, and reruns go on
   * without any state written (not at stop either). */
  free(g_fake.load_text);
  g_fake.load_text = strdup("{\"version\":3,\"kind\":\"snapshot\"}\n");
  int saves = g_fake.saves, appends = g_fake.appends;
  g_e = wdr_engine_create(g_cfg, g_metrics, &g_sink, T0 + 3 * SEC);
  assert_non_null(g_e);
  assert_int_equal(g_fake.moved, 1);
  line_with(WDR_LOG_ERROR, "is written by a newer version of the plugin "
                           "(state version 3, this one reads up to 2): left "
                           "as it is; reruns go on, but nothing is remembered "
                           "across a restart");
  signal_at("run-newer", T0 + 3 * SEC);
  one_job(T0 + 100 * SEC, WDR_JOB_RERUN);
  wdr_engine_save(g_e, T0 + 101 * SEC, false);
  wdr_engine_save(g_e, T0 + 102 * SEC, true); /* the one at stop */
  assert_int_equal(g_fake.saves, saves);
  assert_int_equal(g_fake.appends, appends);
  wdr_engine_destroy(g_e);
  g_e = NULL;
}

/* Finished runs older than StateRetention are forgotten after a restart
 * too: the first prune comes when the start hold ends, not a whole prune
 * period after the start, so that a collectd restarted more often than
 * that (a crash loop; the soak restarts it every 8 s) still forgets them. */
static void test_retention_after_restart(void **state) {
  (void)state;
  ocb_num(g_root, "StateRetention", 60);
  start();
  signal_at(RUN, T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN);
  answer(&job, accepted_answer("a"), T0);
  wdr_engine_save(g_e, T0, false);
  wdr_engine_destroy(g_e);
  g_fake.load_text = strdup(g_fake.saved);
  g_fake.load_journal_text = strdup(g_fake.journal);
  const int64_t restart = T0 + 61 * SEC;
  g_e = wdr_engine_create(g_cfg, g_metrics, &g_sink, restart);
  assert_non_null(g_e);
  line_with(WDR_LOG_INFO, "restored 1 run(s)");
  const int64_t hold = restart + WDR_ENGINE_START_HOLD_MS;
  no_job(hold);
  /* Forgotten: its next failure is a first attempt again, due at once. */
  signal_at(RUN, hold + 1);
  job = one_job(hold + 1, WDR_JOB_RERUN);
  assert_int_equal(job.run.attempt, 1);
}

/* A journal record cut short by a crash is ignored; the records before it
 * count. */
static void test_torn_journal_tail(void **state) {
  (void)state;
  start();
  signal_at("run-a", T0);
  one_job(T0, WDR_JOB_RERUN); /* the snapshot */
  signal_at("run-b", T0 + 10);
  wdr_engine_save(g_e, T0 + 10, false);
  signal_at("run-c", T0 + 20);
  wdr_engine_save(g_e, T0 + 20, false);
  assert_int_equal(g_fake.appends, 2);
  size_t len = strlen(g_fake.journal);
  wdr_engine_destroy(g_e);
  g_fake.load_text = strdup(g_fake.saved);
  g_fake.load_journal_text = strndup(g_fake.journal, len - 10); /* torn */
  g_e = wdr_engine_create(g_cfg, g_metrics, &g_sink, T0 + SEC);
  assert_non_null(g_e);
  line_with(WDR_LOG_INFO, "restored 2 run(s); dropped 0 record(s) of "
                          "workflows no longer configured and 0 others; the "
                          "journal's last record was cut short by a crash and "
                          "is ignored");
  /* The next write is a snapshot and a new journal, not an append glued
   * to the cut record. */
  int appends = g_fake.appends, saves = g_fake.saves;
  signal_at("run-d", T0 + 2 * SEC);
  wdr_engine_save(g_e, T0 + 2 * SEC, false);
  assert_int_equal(g_fake.appends, appends);
  assert_int_equal(g_fake.saves, saves + 1);
  assert_non_null(strstr(g_fake.saved, "run-d"));
  assert_non_null(strstr(g_fake.saved, "run-b"));
  assert_int_equal(g_fake.journal[strlen(g_fake.journal) - 1], '\n');
  wdr_engine_destroy(g_e);

  /* Cut right before its newline: the record counts, and still a
   * snapshot comes first. */
  free(g_fake.load_text);
  free(g_fake.load_journal_text);
  g_fake.load_text = strdup(g_fake.saved);
  size_t jl = strlen(g_fake.journal);
  g_fake.load_journal_text = strndup(g_fake.journal, jl - 1);
  g_e = wdr_engine_create(g_cfg, g_metrics, &g_sink, T0 + 3 * SEC);
  assert_non_null(g_e);
  saves = g_fake.saves;
  signal_at("run-e", T0 + 3 * SEC);
  wdr_engine_save(g_e, T0 + 3 * SEC, false);
  assert_int_equal(g_fake.saves, saves + 1);
}

/* Starting without a snapshot, a next journal left from before goes: it
 * must not be replayed over the new generations. */
static void test_start_empty_discards_next(void **state) {
  (void)state;
  g_fake.has_next = true;
  snprintf(g_fake.next, sizeof(g_fake.next),
           "{\"version\":2,\"kind\":\"journal\",\"saved_ms\":1,"
           "\"journal\":7}\n");
  start();
  assert_false(g_fake.has_next);
}

/* A failed snapshot keeps the changes, and is tried again only after
 * WDR_ENGINE_SNAPSHOT_RETRY_MS. Before the first snapshot of a state there
 * is no journal to append to: the changes wait for the snapshot. After
 * that, a failed append is followed by appends while the snapshot waits. */
static void test_failed_snapshot_retried_later(void **state) {
  (void)state;
  start();
  g_fake.fail_saves = 1;
  signal_at("run-a", T0);
  one_job(T0, WDR_JOB_RERUN); /* the first snapshot fails */
  assert_int_equal(g_fake.saves, 0);
  signal_at("run-b", T0 + SEC);
  wdr_engine_save(g_e, T0 + SEC, false);
  assert_int_equal(g_fake.saves, 0);
  assert_int_equal(g_fake.appends, 0); /* no journal of any snapshot yet */
  wdr_engine_save(g_e, T0 + WDR_ENGINE_SNAPSHOT_RETRY_MS, false);
  assert_int_equal(g_fake.saves, 1);
  assert_non_null(strstr(g_fake.saved, "run-a")); /* kept, not lost */
  assert_non_null(strstr(g_fake.saved, "run-b"));

  int64_t t = T0 + WDR_ENGINE_SNAPSHOT_RETRY_MS;
  g_fake.fail_saves = 1;
  signal_at("run-c", t += SEC);
  wdr_engine_save(g_e, t, false); /* this append fails */
  signal_at("run-d", t += SEC);
  wdr_engine_save(g_e, t, false); /* appended: the journal is the snapshot's */
  assert_int_equal(g_fake.appends, 1);
  assert_non_null(strstr(g_fake.journal, "run-d"));
  assert_int_equal(g_fake.saves, 1);
  wdr_engine_save(g_e, t + WDR_ENGINE_SNAPSHOT_RETRY_MS, false);
  assert_int_equal(g_fake.saves, 2);
  assert_non_null(strstr(g_fake.saved, "run-c"));
}

static void test_save_failure_logged_once(void **state) {
  (void)state;
  start();
  /* The first snapshot fails; the second dispatch does not retry it yet
   * (WDR_ENGINE_SNAPSHOT_RETRY_MS), and has no journal to append to. */
  g_fake.fail_saves = 1;
  signal_at("run-a", T0);
  one_job(T0, WDR_JOB_RERUN);
  signal_at("run-b", T0 + SEC);
  one_job(T0 + SEC, WDR_JOB_RERUN);
  assert_int_equal(g_fake.saves, 0);
  assert_int_equal(lines_with("cannot write the state file"), 1);
  line_with(WDR_LOG_ERROR, "cannot write the state file \"wedata_rerun.state\""
                           ": disk full (0 more such messages held back)");
  /* Every failure leaves a snapshot due: the next save writes one, with
   * both runs, and appends follow it. */
  wdr_engine_save(g_e, T0 + 20 * SEC, false);
  assert_int_equal(g_fake.saves, 1);
  assert_non_null(strstr(g_fake.saved, "run-a"));
  assert_non_null(strstr(g_fake.saved, "run-b"));
  signal_at("run-c", T0 + 21 * SEC);
  wdr_engine_save(g_e, T0 + 21 * SEC, false);
  assert_int_equal(g_fake.saves, 1);
  assert_int_equal(g_fake.appends, 1);
}

/* The snapshot at stop is the last chance to save the state: its failure
 * is logged even within the rate limit of the failure just before (a disk
 * full at stop would otherwise end collectd without a word about it). */
static void test_save_failure_at_stop_always_logged(void **state) {
  (void)state;
  start();
  g_fake.fail_saves = 1;
  signal_at("run-a", T0);
  one_job(T0, WDR_JOB_RERUN); /* the first snapshot fails: logged */
  assert_int_equal(lines_with("cannot write the state file"), 1);
  g_fake.fail_saves = 1;
  wdr_engine_save(g_e, T0 + SEC, true); /* the stop's, 1 s later */
  assert_int_equal(g_fake.saves, 0);
  assert_int_equal(lines_with("cannot write the state file"), 2);
  line_with(WDR_LOG_ERROR, "cannot write the state file \"wedata_rerun.state\""
                           " at stop: disk full; the next start will not know "
                           "what changed since it was last written");
  /* Later failures while running are rate-limited as before. */
  g_fake.fail_saves = 1;
  wdr_engine_save(g_e, T0 + WDR_ENGINE_SNAPSHOT_RETRY_MS, false);
  assert_int_equal(lines_with("cannot write the state file"), 2);
}

/* The journal is folded into a new snapshot when it outgrows the snapshot
 * and WDR_ENGINE_JOURNAL_MIN, WDR_ENGINE_FOLD_RUNS runs a save: changes
 * meanwhile go to the next journal, and a restart in the middle of the
 * fold (snapshot, journal and next journal) or after it knows every run. */
static void test_journal_folded_in_parts(void **state) {
  (void)state;
  start();
  char id[32];
  int64_t t = T0;
  /* 2400 finished runs, then changes of one run until the journal has
   * outgrown the snapshot. */
  for (int i = 0; i < 2400; i++) {
    snprintf(id, sizeof(id), "run-%04d", i);
    signal_at(id, t);
    wdr_job_t job = one_job(t += 2, WDR_JOB_RERUN);
    answer(&job, accepted_answer("a"), t);
    wdr_engine_save(g_e, t, false);
    g_fake.lines = g_fake.notes_num = 0; /* not looked at: room for more */
  }
  assert_int_equal(g_fake.saves, 1);
  /* The fill itself outgrew 1 MiB: let that fold end first. */
  while (g_fake.folding)
    wdr_engine_save(g_e, t += 2, false);
  int writes0 = g_fake.fold_writes, folds0 = g_fake.folds;
  signal_at("busy", t);
  wdr_job_t job = one_job(t += 2, WDR_JOB_RERUN);
  while (!g_fake.folding && t < T0 + 100000000) {
    wdr_engine_requeue(g_e, &job, t);
    job = one_job(t += 2, WDR_JOB_RERUN);
    wdr_engine_save(g_e, t, false);
    g_fake.lines = g_fake.notes_num = 0;
  }
  assert_true(g_fake.folding);
  /* Parts of 500 runs, one a save: the header and a part or two so far. */
  assert_in_range(g_fake.fold_writes - writes0, 2, 3);
  assert_non_null(strstr(g_fake.part, "\"kind\":\"snapshot\""));
  assert_non_null(strstr(g_fake.next, "\"kind\":\"journal\""));
  /* A change now goes to the next journal, not the old one. */
  signal_at("during", t);
  one_job(t += 2, WDR_JOB_RERUN);
  assert_true(g_fake.folding);
  assert_non_null(strstr(g_fake.next, "during"));
  assert_null(strstr(g_fake.journal, "during"));

  /* A crash now: snapshot + journal + next journal give every run. */
  static fake_t copy; /* 1 MiB: not on the stack */
  copy = g_fake;
  wdr_engine_t *live = g_e;
  g_fake.load_text = strdup(copy.saved);
  g_fake.load_journal_text = strdup(copy.journal);
  g_e = wdr_engine_create(g_cfg, g_metrics, &g_sink, t);
  assert_non_null(g_e);
  line_with(WDR_LOG_INFO, "restored 2402 run(s)");
  wdr_engine_destroy(g_e);
  free(g_fake.load_text);
  free(g_fake.load_journal_text);
  g_fake.load_text = g_fake.load_journal_text = NULL;
  g_fake = copy;
  g_e = live;

  /* The saves that follow finish it: 2402 runs in 5 parts, never a whole
   * snapshot at once. */
  while (g_fake.folding)
    wdr_engine_save(g_e, t += 2, false);
  assert_int_equal(g_fake.folds - folds0, 1);
  assert_int_equal(g_fake.fold_writes - writes0, 1 + 5);
  assert_false(g_fake.has_next);
  assert_non_null(strstr(g_fake.saved, "run-0000"));
  assert_non_null(strstr(g_fake.saved, "run-2399"));
  assert_non_null(strstr(g_fake.saved, "during"));
  assert_non_null(strstr(g_fake.journal, "during")); /* was in next */
  assert_int_equal(g_fake.saves, 1);

  /* The whole snapshot at stop comes in parts of 500 runs too: memory
   * never holds the text of every run at once. */
  size_t whole = strlen(g_fake.saved);
  g_fake.whole_writes = 0;
  g_fake.whole_part_max = 0;
  wdr_engine_save(g_e, t += 2, true);
  assert_int_equal(g_fake.saves, 2);
  assert_int_equal(g_fake.whole_writes, 5);
  assert_true(g_fake.whole_part_max < whole / 4);
  assert_non_null(strstr(g_fake.saved, "run-0000"));
  assert_non_null(strstr(g_fake.saved, "run-2399"));
  assert_non_null(strstr(g_fake.journal, "\"kind\":\"journal\""));
  assert_null(strstr(g_fake.journal, "during"));
}

/* Only what must survive a power loss ends an append with an fdatasync: a
 * newly scheduled rerun and a rerun about to leave. An answer's record is
 * written without one: a killed process loses nothing it wrote, and after
 * a power loss the run is read back, never resent blindly. */
static void test_journal_synced_only_for_reruns(void **state) {
  (void)state;
  start();
  signal_at("run-a", T0);
  wdr_job_t job = one_job(T0, WDR_JOB_RERUN); /* the first save: a snapshot */
  answer(&job, accepted_answer("async-a"), T0 + 5);
  wdr_engine_save(g_e, T0 + 5, false);
  assert_int_equal(g_fake.appends, 1);
  assert_int_equal(g_fake.syncs, 0); /* the answer */
  assert_non_null(strstr(g_fake.journal, "async-a"));
  /* A failure rerun at once: signal and request in one pass, one sync. */
  signal_at("run-b", T0 + 10);
  job = one_job(T0 + 10, WDR_JOB_RERUN);
  assert_int_equal(g_fake.appends, 2);
  assert_int_equal(g_fake.syncs, 1);
  answer(&job, error_answer("InternalError"), T0 + 15);
  wdr_engine_save(g_e, T0 + 15, false);
  assert_int_equal(g_fake.appends, 3);
  assert_int_equal(g_fake.syncs, 1);
  /* A signal whose run is scheduled in a pass without a request (the
   * start hold, a full worker queue, backoff) is synced on its own. */
  signal_at("run-c", T0 + 20);
  wdr_engine_save(g_e, T0 + 20, false);
  assert_int_equal(g_fake.appends, 4);
  assert_int_equal(g_fake.syncs, 2);
  /* A duplicate signal schedules nothing: its record (the time of the
   * last signal) is not synced. */
  signal_at("run-c", T0 + 30);
  wdr_engine_save(g_e, T0 + 30, false);
  assert_int_equal(g_fake.appends, 5);
  assert_int_equal(g_fake.syncs, 2);
}

/* MaxTrackedRuns: the finished run updated longest ago makes room and is
 * counted; when every run is active a new failure is refused. */
static void test_max_tracked_runs(void **state) {
  (void)state;
  ocb_num(g_root, "MaxTrackedRuns", 100);
  start();
  char id[32];
  int64_t t = T0;
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "run-%03d", i);
    signal_at(id, t);
    wdr_job_t job = one_job(t += 10, WDR_JOB_RERUN);
    answer(&job, accepted_answer("a"), t);
  }
  assert_int_equal(counter("evicted"), 0);
  signal_at("run-new", t += 10);
  assert_int_equal(counter("evicted"), 1);
  assert_int_equal(counter("skipped-table_full"), 0);
  wdr_job_t job = one_job(t += 10, WDR_JOB_RERUN);
  assert_string_equal(job.run.execution_id, "run-new");
  /* run-000 was forgotten: its next failure is a first attempt again. */
  signal_at("run-000", t += 10);
  assert_int_equal(counter("evicted"), 2);
  job = one_job(t += 10, WDR_JOB_RERUN);
  assert_int_equal(job.run.attempt, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_signal_rerun_accepted, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_permanent_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retryable_then_exhausted, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_ambiguous_is_verified, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_disputed_refusal_reported, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gave_up, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check_before_rerun, setup, teardown),
      cmocka_unit_test_setup_teardown(test_track_until_recovered, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_track_failed_again_and_async_fail,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_poll_finds_failed_runs, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_signal_without_run_id_is_resolved,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_breaker_opens_and_closes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_clock_offset_from_date, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_outage_holds_the_sender, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_credentials_rejected, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_pace_per_action, setup, teardown),
      cmocka_unit_test_setup_teardown(test_throttle_slows_down, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rate_limit_and_requeue, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_state_round_trip_and_corrupt, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_save_failure_logged_once, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_save_failure_at_stop_always_logged,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_tracked_runs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_journal_synced_only_for_reruns,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_journal_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retention_after_restart, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_start_empty_discards_next, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_failed_snapshot_retried_later, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_journal_folded_in_parts, setup,
                                      teardown),
  };
  return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
