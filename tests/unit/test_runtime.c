/* wdr_runtime: the plugin's threads around a real engine, with fakes for
 * everything outside the process: a sink (log lines, the state file, and
 * notify feeding wdr_runtime_notify as the plugin's does), thread_create
 * (pthread_create behind a trampoline that names and counts threads), a
 * transport answering each API action with a canned HTTP 200 body, and
 * deliver recording the notes.
 *
 * What a test waits for it polls for (short sleeps, 5 s at most): a sleep
 * is never what an assertion relies on. Where an order matters (a request
 * in flight while stop begins, notes still queued at stop) a gate holds
 * the fake back, and the gate opens when the first worker closes its
 * transport, which happens only once stop has begun; and a save can hold
 * the engine thread until stop has stopped its inbox, so that only stop's
 * last pass can take an answer. The fakes run on the runtime's threads and
 * only record; cmocka asserts run on the main thread (they longjmp). */
#include "testutil.h"

#include "oconfig_build.h"
#include "rec_transport.h"

#include "wdr_runtime.h"

#include <errno.h>
#include <time.h>

#define WAIT_MS 5000
#define NOTES_KEPT 16 /* whole notes kept; later ones only by message */
#define SEQ_MAX 2048  /* messages kept, in delivery order */
#define LOGS_KEPT 64

/* The name the trampoline gave the calling thread ("" on the main one). */
static __thread char t_name[32];

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond; /* broadcast on every change */

  /* thread_create */
  size_t thread_calls, fail_at; /* fail_at: 1-based call that fails */
  size_t started, running;
  char names[8][32];

  /* transports */
  size_t opens, closes;
  bool open_fails;
  bool gate_posts, gate_deliver; /* hold posts / deliveries at the gate */
  bool gate_open;                /* opened by the first transport close */
  size_t entered, answered;      /* posts that began / that returned */
  rec_transport_t rec;

  /* deliver */
  size_t deliver_entered, notes_num;
  wdr_note_t notes[NOTES_KEPT];
  char note_thread[NOTES_KEPT][32];
  char seq[SEQ_MAX][32];

  /* sink */
  wdr_runtime_t *rt;
  size_t logs_num, errors, warnings;
  struct {
    wdr_log_level_t level;
    char text[512];
  } logs[LOGS_KEPT];
  size_t saves, answered_at_save, move_asides;
  char *state; /* the last state saved */
  char *temp;  /* a snapshot being written in parts */
  /* hold_save: the next save holds the engine thread until the runtime
   * refuses signals (stop has stopped the inbox); holding while it does. */
  bool hold_save, holding, hold_timed_out;
} fake_t;

static fake_t *F;
static wdr_config_t *g_cfg;
static wdr_metrics_t *g_metrics;
static wdr_runtime_t *g_rt;
static wdr_engine_t *g_engine;

/* --- clock ---------------------------------------------------------------- */

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* Polls expr (which reads the fakes through rd/has_state) until it holds;
 * fails the test after WAIT_MS. */
#define WAIT_FOR(expr)                                                         \
  do {                                                                         \
    int64_t end_ = mono_ms() + WAIT_MS;                                        \
    while (!(expr)) {                                                          \
      if (mono_ms() > end_)                                                    \
        fail_msg("timed out waiting for %s", #expr);                           \
      sleep_ms(2);                                                             \
    }                                                                          \
  } while (0)

/* A counter or flag of F, read under its lock. */
static size_t rd(const size_t *v) {
  pthread_mutex_lock(&F->lock);
  size_t n = *v;
  pthread_mutex_unlock(&F->lock);
  return n;
}

static bool rdb(const bool *v) {
  pthread_mutex_lock(&F->lock);
  bool b = *v;
  pthread_mutex_unlock(&F->lock);
  return b;
}

/* Whether the last state saved contains text. */
static bool has_state(const char *text) {
  pthread_mutex_lock(&F->lock);
  bool has = F->state != NULL && strstr(F->state, text) != NULL;
  pthread_mutex_unlock(&F->lock);
  return has;
}

/* --- thread_create -------------------------------------------------------- */

typedef struct {
  void *(*fn)(void *);
  void *arg;
  char name[32];
} tramp_t;

static void *trampoline(void *p) {
  tramp_t t = *(tramp_t *)p;
  free(p);
  snprintf(t_name, sizeof(t_name), "%s", t.name);
  void *ret = t.fn(t.arg);
  pthread_mutex_lock(&F->lock);
  F->running--;
  pthread_cond_broadcast(&F->cond);
  pthread_mutex_unlock(&F->lock);
  return ret;
}

static int fake_thread_create(pthread_t *t, void *(*fn)(void *), void *arg,
                              const char *name) {
  pthread_mutex_lock(&F->lock);
  bool fail = ++F->thread_calls == F->fail_at;
  pthread_mutex_unlock(&F->lock);
  if (fail)
    return EAGAIN;
  tramp_t *tr = malloc(sizeof(*tr));
  if (tr == NULL)
    return ENOMEM;
  *tr = (tramp_t){.fn = fn, .arg = arg};
  snprintf(tr->name, sizeof(tr->name), "%s", name);
  pthread_mutex_lock(&F->lock);
  F->running++; /* before the thread can end */
  pthread_mutex_unlock(&F->lock);
  int rc = pthread_create(t, NULL, trampoline, tr);
  pthread_mutex_lock(&F->lock);
  if (rc != 0) {
    F->running--;
    free(tr);
  } else if (F->started < 8)
    snprintf(F->names[F->started++], sizeof(F->names[0]), "%s", name);
  else
    F->started++;
  pthread_mutex_unlock(&F->lock);
  return rc;
}

/* --- transport ------------------------------------------------------------ */

static const rec_answer_t canned[] = {
    {.action = "RerunTriggerWorkflowRunAsync",
     .body = "{\"Response\":{\"Data\":{\"AsyncId\":\"a-1\"},\"RequestId\":"
             "\"r\"}}"},
    {.action = "GetTriggerWorkflowRun",
     .body = "{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
             "\"ExecutionState\":\"RUNNING\",\"RerunTimes\":1,"
             "\"SupportRerun\":true}},\"RequestId\":\"r\"}}"},
    {.action = "GetOpsAsyncJob",
     .body = "{\"Response\":{\"Data\":{\"Status\":\"SUCCESS\"},\"RequestId\":"
             "\"r\"}}"},
    {.action = "ListTriggerWorkflowRuns",
     .body = "{\"Response\":{\"Data\":{\"Items\":[],\"TotalPageNumber\":0},"
             "\"RequestId\":\"r\"}}"},
};

/* Waits at the gate when asked to, then answers from the canned bodies. */
static int gated_post(void *ctx, const wdr_http_request_t *req,
                      wdr_http_response_t *resp) {
  fake_t *f = ctx;
  pthread_mutex_lock(&f->lock);
  f->entered++;
  pthread_cond_broadcast(&f->cond);
  while (f->gate_posts && !f->gate_open)
    pthread_cond_wait(&f->cond, &f->lock);
  pthread_mutex_unlock(&f->lock);
  int rc = rec_post(&f->rec, req, resp);
  pthread_mutex_lock(&f->lock);
  f->answered++;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
  return rc;
}

static wdr_transport_t *fake_open(void *ctx) {
  fake_t *f = ctx;
  pthread_mutex_lock(&f->lock);
  f->opens++;
  bool fail = f->open_fails;
  pthread_mutex_unlock(&f->lock);
  if (fail)
    return NULL;
  wdr_transport_t *t = malloc(sizeof(*t));
  if (t != NULL)
    *t = (wdr_transport_t){.post = gated_post, .ctx = f};
  return t;
}

/* A worker closes its transport only once its jobs are stopped: the first
 * close says that stop has begun, and opens the gate. */
static void fake_close(void *ctx, wdr_transport_t *t) {
  fake_t *f = ctx;
  free(t);
  pthread_mutex_lock(&f->lock);
  f->closes++;
  f->gate_open = true;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
}

/* --- deliver -------------------------------------------------------------- */

static void fake_deliver(void *ctx, const wdr_note_t *note) {
  fake_t *f = ctx;
  pthread_mutex_lock(&f->lock);
  f->deliver_entered++;
  pthread_cond_broadcast(&f->cond);
  while (f->gate_deliver && !f->gate_open)
    pthread_cond_wait(&f->cond, &f->lock);
  size_t i = f->notes_num++;
  if (i < NOTES_KEPT) {
    f->notes[i] = *note;
    snprintf(f->note_thread[i], sizeof(f->note_thread[0]), "%s", t_name);
  }
  if (i < SEQ_MAX)
    snprintf(f->seq[i], sizeof(f->seq[0]), "%.31s", note->message);
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
}

/* --- sink ----------------------------------------------------------------- */

static void sink_log(void *ctx, wdr_log_level_t level, const char *text) {
  fake_t *f = ctx;
  pthread_mutex_lock(&f->lock);
  if (f->logs_num < LOGS_KEPT) {
    f->logs[f->logs_num].level = level;
    snprintf(f->logs[f->logs_num].text, sizeof(f->logs[0].text), "%s", text);
  }
  f->logs_num++;
  f->errors += level == WDR_LOG_ERROR;
  f->warnings += level == WDR_LOG_WARNING;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
}

/* As the plugin's sink: the engine's notes go to the notifier's queue. */
static void sink_notify(void *ctx, const wdr_note_t *note) {
  fake_t *f = ctx;
  wdr_runtime_notify(f->rt, note);
}

static int sink_load(void *ctx, wdr_buf_t *out, char *err, size_t err_size) {
  (void)ctx;
  (void)out;
  (void)err;
  (void)err_size;
  return 1; /* no state yet */
}

/* On the engine thread, in a save: waits until stop has stopped the inbox,
 * seen as wdr_runtime_signal failing (with QueueLimit far above the probes
 * sent, it cannot fail for being full). The probes name no workflow
 * (SIZE_MAX): the engine ignores them. */
static void hold_until_stopped(fake_t *f) {
  int64_t end = mono_ms() + WAIT_MS;
  while (wdr_runtime_signal(f->rt, SIZE_MAX, "") == 0) {
    if (mono_ms() > end) {
      pthread_mutex_lock(&f->lock);
      f->hold_timed_out = true;
      pthread_mutex_unlock(&f->lock);
      return;
    }
    sleep_ms(1);
  }
}

/* Any write of the state (a snapshot or a journal append) may be the one
 * a test holds the engine thread in. */
static void maybe_hold(fake_t *f) {
  pthread_mutex_lock(&f->lock);
  bool hold = f->hold_save;
  f->hold_save = false;
  f->holding = hold;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
  if (hold)
    hold_until_stopped(f);
}

/* A snapshot comes in parts (a whole one: no next journal); the commit
 * makes it the state. */
static int sink_snapshot_begin(void *ctx, const wdr_buf_t *h, char *err,
                               size_t err_size) {
  fake_t *f = ctx;
  if (h != NULL) { /* folds need a journal past 1 MiB: never here */
    snprintf(err, err_size, "no fold in this test");
    return -1;
  }
  maybe_hold(f);
  free(f->temp);
  if ((f->temp = strdup("")) == NULL) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  return 0;
}

static int sink_snapshot_part(void *ctx, const wdr_buf_t *part, char *err,
                              size_t err_size) {
  fake_t *f = ctx;
  size_t old = strlen(f->temp);
  char *t = realloc(f->temp, old + part->len + 1);
  if (t == NULL) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  memcpy(t + old, part->data, part->len);
  t[old + part->len] = '\0';
  f->temp = t;
  return 0;
}

static int sink_snapshot_commit(void *ctx, bool move_next, char *err,
                                size_t err_size) {
  fake_t *f = ctx;
  if (move_next) {
    snprintf(err, err_size, "no fold in this test");
    return -1;
  }
  pthread_mutex_lock(&f->lock);
  free(f->state);
  f->state = f->temp;
  f->temp = NULL;
  f->saves++;
  f->answered_at_save = f->answered;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
  return 0;
}

static void sink_snapshot_abort(void *ctx) {
  fake_t *f = ctx;
  free(f->temp);
  f->temp = NULL;
}

/* The journal: its header is dropped, its records join the last snapshot
 * in f->state, so that "the state holds X" reads both. Appends are not
 * counted as saves: the save at stop is a snapshot. */
static int sink_save_journal(void *ctx, const wdr_buf_t *data, char *err,
                             size_t err_size) {
  (void)ctx;
  (void)data;
  (void)err;
  (void)err_size;
  return 0;
}

static int sink_append(void *ctx, const wdr_buf_t *data, bool sync, char *err,
                       size_t err_size) {
  (void)sync;
  fake_t *f = ctx;
  maybe_hold(f);
  pthread_mutex_lock(&f->lock);
  size_t old = f->state != NULL ? strlen(f->state) : 0;
  char *joined = realloc(f->state, old + data->len + 1);
  if (joined != NULL) {
    memcpy(joined + old, data->data, data->len);
    joined[old + data->len] = '\0';
    f->state = joined;
  }
  pthread_mutex_unlock(&f->lock);
  if (joined == NULL) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  return 0;
}

static int sink_no_next(void *ctx, const wdr_buf_t *p, bool sync, char *err,
                        size_t err_size) {
  (void)ctx;
  (void)p;
  (void)sync;
  snprintf(err, err_size, "no fold in this test");
  return -1;
}
static void sink_fold_none(void *ctx) { (void)ctx; }

static int sink_move_aside(void *ctx, int64_t now_s, char *where,
                           size_t where_size) {
  fake_t *f = ctx;
  (void)now_s;
  pthread_mutex_lock(&f->lock);
  f->move_asides++;
  pthread_mutex_unlock(&f->lock);
  snprintf(where, where_size, "not in this test");
  return -1;
}

static wdr_sink_t g_sink;

/* Whether a log line at level says exactly text. */
static bool logged(wdr_log_level_t level, const char *text) {
  bool found = false;
  pthread_mutex_lock(&F->lock);
  for (size_t i = 0; i < F->logs_num && i < LOGS_KEPT && !found; i++)
    found = F->logs[i].level == level && strcmp(F->logs[i].text, text) == 0;
  pthread_mutex_unlock(&F->lock);
  return found;
}

static size_t count_logged(wdr_log_level_t level, const char *text) {
  size_t n = 0;
  pthread_mutex_lock(&F->lock);
  for (size_t i = 0; i < F->logs_num && i < LOGS_KEPT; i++)
    n += F->logs[i].level == level && strcmp(F->logs[i].text, text) == 0;
  pthread_mutex_unlock(&F->lock);
  return n;
}

/* --- building and tearing down ---------------------------------------------
 */

static const char *no_env(const char *name) {
  (void)name;
  return NULL;
}

static wdr_config_t *make_config(int workers, int queue_limit) {
  oconfig_item_t *r = ocb_add_str(ocb_root("Plugin"), "wedata_rerun");
  ocb_str(r, "Endpoint", "https://127.0.0.1:8443");
  ocb_str(r, "Region", "ap-guangzhou");
  ocb_str(r, "SecretId", "AKIDtest");
  ocb_str(r, "SecretKey", "keytest");
  ocb_num(r, "RateLimit", 1000); /* one token a millisecond: tests stay fast */
  ocb_num(r, "Workers", workers);
  ocb_num(r, "QueueLimit", queue_limit);
  oconfig_item_t *wf = ocb_str(r, "Workflow", "etl");
  ocb_str(wf, "ProjectId", "1001");
  ocb_str(wf, "WorkflowId", "wf-123");
  ocb_num(wf, "ExecuteType", 1);
  ocb_bool(wf, "VerifyBeforeRerun", false); /* the requests themselves */
  ocb_str(ocb_child(wf, "Match"), "Plugin", "exec");
  char err[1024] = "";
  wdr_config_t *cfg = NULL;
  int rc = wdr_config_parse(r, no_env, &cfg, err, sizeof(err));
  ocb_free(r);
  if (rc != 0)
    fail_msg("wdr_config_parse failed: %s", err);
  return cfg;
}

/* The plugin's init, with the fakes: the runtime first (the sink's notify
 * needs it), then the engine, which loads the (absent) state. */
static void build(int workers, int queue_limit) {
  g_cfg = make_config(workers, queue_limit);
  g_sink = (wdr_sink_t){.ctx = F,
                        .log = sink_log,
                        .notify = sink_notify,
                        .load = sink_load,
                        .load_journal = sink_load,
                        .save_journal = sink_save_journal,
                        .append = sink_append,
                        .move_aside = sink_move_aside,
                        .fold_begin = sink_snapshot_begin,
                        .append_next = sink_no_next,
                        .fold_write = sink_snapshot_part,
                        .fold_commit = sink_snapshot_commit,
                        .fold_abort = sink_snapshot_abort,
                        .load_next = sink_load,
                        .discard_next = sink_fold_none};
  g_metrics = wdr_metrics_create(g_cfg);
  assert_non_null(g_metrics);
  g_rt = wdr_runtime_create(
      &(wdr_runtime_cfg_t){.cfg = g_cfg,
                           .log = &g_sink,
                           .thread_create = fake_thread_create,
                           .transport_open = fake_open,
                           .transport_close = fake_close,
                           .transport_ctx = F,
                           .deliver = fake_deliver,
                           .deliver_ctx = F,
                           .seed = 12345});
  assert_non_null(g_rt);
  F->rt = g_rt;
  g_engine = wdr_engine_create(g_cfg, g_metrics, &g_sink, wall_ms());
  assert_non_null(g_engine);
}

/* Stops and frees whatever was built; opens the gates first, so that a
 * test failing with a gate closed still ends. */
static void unbuild(void) {
  if (F != NULL) {
    pthread_mutex_lock(&F->lock);
    F->gate_open = true;
    pthread_cond_broadcast(&F->cond);
    pthread_mutex_unlock(&F->lock);
  }
  wdr_runtime_stop(g_rt);
  wdr_runtime_destroy(g_rt);
  g_rt = NULL;
  wdr_engine_destroy(g_engine);
  g_engine = NULL;
  wdr_metrics_destroy(g_metrics);
  g_metrics = NULL;
  wdr_config_free(g_cfg);
  g_cfg = NULL;
}

static fake_t *fake_new(void) {
  fake_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  pthread_mutex_init(&f->lock, NULL);
  pthread_cond_init(&f->cond, NULL);
  rec_init(&f->rec, canned, sizeof(canned) / sizeof(canned[0]));
  return f;
}

static void fake_free(fake_t *f) {
  if (f == NULL)
    return;
  rec_free(&f->rec);
  free(f->state);
  free(f->temp);
  pthread_cond_destroy(&f->cond);
  pthread_mutex_destroy(&f->lock);
  free(f);
}

static int setup(void **state) {
  (void)state;
  F = fake_new();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unbuild();
  fake_free(F);
  F = NULL;
  return 0;
}

/* The note a rerun of run accepted with the canned answer gives. */
static void expect_accepted_note(size_t i, const char *run) {
  pthread_mutex_lock(&F->lock);
  wdr_note_t n = F->notes[i];
  char thread[32];
  snprintf(thread, sizeof(thread), "%s", F->note_thread[i]);
  pthread_mutex_unlock(&F->lock);
  char text[256];
  snprintf(text, sizeof(text),
           "rerun of %s (workflow etl) accepted: AsyncId a-1", run);
  assert_int_equal(n.severity, WDR_NOTE_OKAY);
  assert_string_equal(n.plugin_instance, "etl");
  assert_string_equal(n.type, "rerun");
  assert_string_equal(n.message, text);
  assert_int_equal(n.meta_num, 4);
  assert_string_equal(n.meta[0].name, "AsyncId");
  assert_string_equal(n.meta[0].value, "a-1");
  assert_string_equal(n.meta[1].name, "RequestId");
  assert_string_equal(n.meta[1].value, "r");
  assert_string_equal(n.meta[2].name, "WorkflowId");
  assert_string_equal(n.meta[2].value, "wf-123");
  assert_string_equal(n.meta[3].name, "WorkflowExecutionId");
  assert_string_equal(n.meta[3].value, run);
  /* Dispatched by the notifier, never by the engine or a worker. */
  assert_string_equal(thread, "wedata_notify");
}

/* --- the way through -------------------------------------------------------
 */

/* A signal becomes a rerun request on a worker, and its acceptance an OKAY
 * note on the notifier thread. */
static void test_signal_to_accepted_note(void **state) {
  (void)state;
  build(2, 16);
  assert_int_equal(wdr_runtime_start(g_rt, g_engine), 0);
  /* The notifier, the workers, then the engine thread; names fit the
   * kernel's 15 characters. */
  assert_int_equal(rd(&F->started), 4);
  assert_string_equal(F->names[0], "wedata_notify");
  assert_string_equal(F->names[1], "wedata_rerun#0");
  assert_string_equal(F->names[2], "wedata_rerun#1");
  assert_string_equal(F->names[3], "wedata_engine");

  int64_t t0 = (int64_t)time(NULL);
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-1"), 0);
  WAIT_FOR(rd(&F->notes_num) >= 1);
  int64_t t1 = (int64_t)time(NULL);
  wdr_runtime_stop(g_rt);

  assert_int_equal(rec_count(&F->rec), 1);
  assert_int_equal(F->rec.unscripted, 0);
  rec_request_t q;
  rec_get(&F->rec, 0, &q);
  assert_string_equal(q.url, "https://127.0.0.1:8443/");
  assert_string_equal(rec_header(&q, "X-TC-Action"),
                      "RerunTriggerWorkflowRunAsync");
  assert_string_equal(q.body,
                      "{\"ProjectId\":\"1001\",\"WorkflowId\":\"wf-123\","
                      "\"WorkflowExecutionId\":\"run-1\",\"ExecuteType\":"
                      "\"1\"}");
  /* Signed when it was sent. */
  long long ts = atoll(rec_header(&q, "X-TC-Timestamp"));
  assert_in_range(ts, t0, t1);

  assert_int_equal(rd(&F->notes_num), 1);
  expect_accepted_note(0, "run-1");
  assert_int_equal(rd(&F->errors), 0);
  assert_int_equal(rd(&F->warnings), 0);
  assert_true(logged(WDR_LOG_INFO,
                     "rerun of run-1 (workflow etl) accepted: AsyncId a-1"));
  assert_int_equal(rd(&F->opens), 2);
  assert_int_equal(rd(&F->closes), 2);
  assert_int_equal(rd(&F->running), 0);
  assert_int_equal(rd(&F->move_asides), 0);
}

/* --- signals ---------------------------------------------------------------
 */

/* queued counts signals not yet taken, then the runs waiting for a rerun
 * (one in flight, the others waiting for the one worker). */
static void test_queued(void **state) {
  (void)state;
  build(1, 3);
  F->gate_posts = true;
  assert_int_equal(wdr_runtime_queued(g_rt), 0);
  /* Before start nothing takes signals: they wait. */
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-a"), 0);
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-b"), 0);
  assert_int_equal(wdr_runtime_queued(g_rt), 2);
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-c"), 0);
  assert_int_equal(wdr_runtime_queued(g_rt), 3);
  /* QueueLimit 3: a fourth is refused, and not counted. */
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-d"), -1);
  assert_int_equal(wdr_runtime_queued(g_rt), 3);

  assert_int_equal(wdr_runtime_start(g_rt, g_engine), 0);
  WAIT_FOR(rd(&F->entered) == 1); /* one rerun held at the gate */
  WAIT_FOR(wdr_runtime_queued(g_rt) == 3);
  /* The signal queue is empty again: a new signal is taken. */
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-d"), 0);
  WAIT_FOR(wdr_runtime_queued(g_rt) == 4);
  assert_int_equal(rd(&F->notes_num), 0);

  pthread_mutex_lock(&F->lock);
  F->gate_open = true;
  pthread_cond_broadcast(&F->cond);
  pthread_mutex_unlock(&F->lock);
  WAIT_FOR(rd(&F->notes_num) == 4);
  WAIT_FOR(wdr_runtime_queued(g_rt) == 0);
  assert_int_equal(rec_count(&F->rec), 4);
  wdr_runtime_stop(g_rt); /* nothing more comes: read the notes at rest */

  /* Each run was rerun once, whatever the order. */
  const char *runs[] = {"run-a", "run-b", "run-c", "run-d"};
  for (size_t r = 0; r < 4; r++) {
    char text[128];
    snprintf(text, sizeof(text),
             "rerun of %s (workflow etl) accepted: AsyncId a-1", runs[r]);
    size_t seen = 0;
    for (size_t i = 0; i < 4; i++)
      if (strcmp(F->notes[i].message, text) == 0) {
        seen++;
        expect_accepted_note(i, runs[r]);
      }
    if (seen != 1)
      fail_msg("%zu notes for %s", seen, runs[r]);
  }
}

/* A run id that cannot be carried whole is refused, not cut; the longest
 * that fits (127 bytes) and "" (no run id) are taken. */
static void test_signal_refused(void **state) {
  (void)state;
  build(2, 3);
  char id[200];
  memset(id, 'x', sizeof(id));
  id[128] = '\0';
  assert_int_equal(wdr_runtime_signal(g_rt, 0, id), -1);
  id[150] = 'x';
  id[199] = '\0';
  assert_int_equal(wdr_runtime_signal(g_rt, 0, id), -1);
  assert_int_equal(wdr_runtime_queued(g_rt), 0);
  id[127] = '\0';
  assert_int_equal(wdr_runtime_signal(g_rt, 0, id), 0);
  assert_int_equal(wdr_runtime_signal(g_rt, 0, ""), 0);
  assert_int_equal(wdr_runtime_queued(g_rt), 2);

  /* A stopped runtime takes none (stop before start is fine too). */
  wdr_runtime_stop(g_rt);
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-1"), -1);
  assert_int_equal(rd(&F->started), 0);
}

/* --- stopping --------------------------------------------------------------
 */

/* Stop ends every thread, writes the state once more (it holds the run and
 * its AsyncId), and a second stop does nothing. */
static void test_stop(void **state) {
  (void)state;
  build(2, 16);
  assert_int_equal(wdr_runtime_start(g_rt, g_engine), 0);
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-1"), 0);
  WAIT_FOR(rd(&F->notes_num) == 1);
  /* The engine writes what the answer changed, then is idle. */
  WAIT_FOR(has_state("\"last_async_id\":\"a-1\""));
  size_t saves = rd(&F->saves);

  wdr_runtime_stop(g_rt);
  assert_int_equal(rd(&F->running), 0);
  assert_int_equal(rd(&F->closes), 2);
  assert_int_equal(rd(&F->saves), saves + 1); /* the save at stop */
  assert_true(has_state("\"execution_id\":\"run-1\",\"state\":\"idle\""));
  assert_true(has_state("\"attempts\":1,"));
  assert_true(has_state("\"last_async_id\":\"a-1\""));

  wdr_runtime_stop(g_rt); /* idempotent */
  assert_int_equal(rd(&F->saves), saves + 1);
  assert_int_equal(rd(&F->closes), 2);
  assert_int_equal(rd(&F->notes_num), 1);
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-2"), -1);
  assert_int_equal(rec_count(&F->rec), 1);
}

/* A request still out when stop begins: the worker finishes it, and the
 * engine thread, held in a save until the inbox is stopped (so that only
 * stop's last pass can take the answer), takes it, writes the state after
 * it, and gives back the job no worker took; the note the answer gives is
 * delivered before stop returns. */
static void test_stop_during_request(void **state) {
  (void)state;
  build(2, 1000);
  F->gate_posts = true; /* opens when the idle worker closes, at stop */
  assert_int_equal(wdr_runtime_start(g_rt, g_engine), 0);
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-1"), 0);
  WAIT_FOR(rd(&F->entered) == 1);
  /* The state says "in flight" before the request can leave. */
  assert_true(has_state("\"execution_id\":\"run-1\",\"state\":\"in_flight\""));
  assert_int_equal(rd(&F->answered), 0);

  /* run-2's job is taken, and the engine held in the save before it is
   * handed to the free worker. */
  pthread_mutex_lock(&F->lock);
  F->hold_save = true;
  pthread_mutex_unlock(&F->lock);
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-2"), 0);
  WAIT_FOR(rdb(&F->holding));

  wdr_runtime_stop(g_rt);
  assert_false(rdb(&F->hold_timed_out));
  assert_int_equal(rd(&F->running), 0);
  assert_int_equal(rd(&F->closes), 2);
  assert_int_equal(rd(&F->answered), 1);
  assert_int_equal(rec_count(&F->rec), 1); /* run-2 was never sent */
  /* The last save came after the answer, and holds both runs. */
  assert_int_equal(rd(&F->answered_at_save), 1);
  assert_true(has_state("\"execution_id\":\"run-1\",\"state\":\"idle\""));
  assert_true(has_state("\"last_async_id\":\"a-1\""));
  assert_true(has_state("\"execution_id\":\"run-2\",\"state\":\"scheduled\""));
  assert_int_equal(rd(&F->notes_num), 1);
  expect_accepted_note(0, "run-1");
}

/* Notes queued when stop begins are all dispatched, in order; a note that
 * finds the queue full is dropped with one WARNING. */
static void test_stop_delivers_queued_notes(void **state) {
  (void)state;
  build(1, 16);
  F->gate_deliver = true; /* opens when the worker closes, at stop */
  assert_int_equal(wdr_runtime_start(g_rt, g_engine), 0);
  wdr_note_t n = {.severity = WDR_NOTE_WARNING, .type = "rerun"};
  const size_t sent = 1 + WDR_RUNTIME_NOTES_MAX; /* one held, a full queue */
  for (size_t i = 0; i < sent + 1; i++) {
    snprintf(n.message, sizeof(n.message), "note %zu", i);
    wdr_runtime_notify(g_rt, &n);
    if (i == 0) /* the notifier holds it at the gate: the queue is empty */
      WAIT_FOR(rd(&F->deliver_entered) == 1);
  }
  assert_int_equal(rd(&F->notes_num), 0);
  assert_true(logged(WDR_LOG_WARNING,
                     "1024 notifications are waiting for the notification "
                     "callbacks of other plugins: dropped one (0 more such "
                     "messages held back)"));

  wdr_runtime_stop(g_rt);
  assert_int_equal(rd(&F->notes_num), sent);
  for (size_t i = 0; i < sent; i++) {
    char want[32];
    snprintf(want, sizeof(want), "note %zu", i);
    if (strcmp(F->seq[i], want) != 0)
      fail_msg("delivery %zu was \"%s\", not \"%s\"", i, F->seq[i], want);
  }
  assert_string_equal(F->note_thread[0], "wedata_notify");
  assert_int_equal(rd(&F->running), 0);
}

/* --- starting fails ------------------------------------------------------- */

/* Whichever thread cannot start, start says why, stops those it started
 * and leaves nothing running; stop and destroy afterwards are safe. */
static void test_start_failure(void **state) {
  (void)state;
  for (size_t n = 1; n <= 4; n++) {
    build(2, 16);
    F->fail_at = n;
    assert_int_equal(wdr_runtime_start(g_rt, g_engine), EAGAIN);
    assert_int_equal(rd(&F->started), n - 1);
    assert_int_equal(rd(&F->running), 0);
    assert_int_equal(
        count_logged(WDR_LOG_ERROR,
                     "cannot start a thread: Resource temporarily unavailable"),
        1);
    assert_int_equal(rd(&F->errors), 1);
    assert_int_equal(rd(&F->opens), rd(&F->closes));
    assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-1"), -1);
    wdr_runtime_stop(g_rt);
    assert_int_equal(rd(&F->running), 0);
    assert_int_equal(rec_count(&F->rec), 0);
    unbuild();
    fake_free(F);
    F = fake_new();
  }
}

/* Workers without a transport stop with an ERROR each; a job handed out
 * meanwhile is taken back at stop, so the state still has the run due. */
static void test_transport_open_fails(void **state) {
  (void)state;
  build(2, 16);
  F->open_fails = true;
  assert_int_equal(wdr_runtime_start(g_rt, g_engine), 0);
  WAIT_FOR(rd(&F->errors) == 2);
  assert_int_equal(
      count_logged(WDR_LOG_ERROR,
                   "a worker cannot create its HTTP handle; it stops"),
      2);
  WAIT_FOR(rd(&F->running) == 2); /* the notifier and the engine */
  assert_int_equal(wdr_runtime_signal(g_rt, 0, "run-9"), 0);
  WAIT_FOR(has_state("\"execution_id\":\"run-9\",\"state\":\"in_flight\""));

  wdr_runtime_stop(g_rt);
  assert_int_equal(rd(&F->running), 0);
  assert_int_equal(rd(&F->opens), 2);
  assert_int_equal(rd(&F->closes), 0); /* nothing to close */
  assert_int_equal(rec_count(&F->rec), 0);
  assert_int_equal(rd(&F->notes_num), 0);
  assert_true(has_state("\"execution_id\":\"run-9\",\"state\":\"scheduled\""));
  assert_int_equal(rd(&F->errors), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_signal_to_accepted_note, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_queued, setup, teardown),
      cmocka_unit_test_setup_teardown(test_signal_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_during_request, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_stop_delivers_queued_notes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_start_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_transport_open_fails, setup,
                                      teardown),
  };
  return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
