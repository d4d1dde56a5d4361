/* Benchmark (prints figures, asserts nothing): the durable state at scale.
 * An engine with a sink that counts what it would write (in memory, no
 * disk: the figures are the plugin's own work, not the disk's), filled
 * with N finished runs, then one more failure rerun and answered:
 *   - bytes appended, writes and fdatasyncs per rerun;
 *   - how long one pass of the engine takes with N runs tracked;
 *   - the longest single rerun (signal, dispatch, answer, saves): the
 *     engine's longest pause, folds of the journal included (they are
 *     written in parts), and how many folds ran;
 *   - how long the whole snapshot written at stop takes, and its size;
 *   - how long loading the snapshot takes, and the memory the loaded engine
 *     holds per run. */
#include "oconfig_build.h"

#include "wdr_engine.h"
#include "wdr_state.h"

#include <malloc.h>
#include <stdio.h>
#include <time.h>

typedef struct {
  size_t appends, syncs, append_bytes, append_records, snapshots,
      snapshot_bytes;
  size_t fold_parts, folds;
  bool whole;         /* a whole snapshot is being written */
  wdr_buf_t snapshot; /* the last one, for the load */
} count_t;

static void c_log(void *ctx, wdr_log_level_t l, const char *t) {
  (void)ctx;
  (void)l;
  (void)t;
}
static void c_notify(void *ctx, const wdr_note_t *n) {
  (void)ctx;
  (void)n;
}
static int c_none(void *ctx, wdr_buf_t *out, char *err, size_t err_size) {
  (void)ctx;
  (void)out;
  (void)err;
  (void)err_size;
  return 1;
}
static int c_load(void *ctx, wdr_buf_t *out, char *err, size_t err_size) {
  (void)err;
  (void)err_size;
  count_t *c = ctx;
  return wdr_buf_append(out, c->snapshot.data, c->snapshot.len);
}
static int c_journal(void *ctx, const wdr_buf_t *d, char *err,
                     size_t err_size) {
  (void)ctx;
  (void)d;
  (void)err;
  (void)err_size;
  return 0;
}
static int c_append(void *ctx, const wdr_buf_t *d, bool sync, char *err,
                    size_t err_size) {
  (void)err;
  (void)err_size;
  count_t *c = ctx;
  c->appends++;
  c->syncs += sync;
  c->append_bytes += d->len;
  for (size_t i = 0; i < d->len; i++)
    c->append_records += d->data[i] == '\n';
  return 0;
}
/* Folds: counted, their parts not kept (the disk's work is not ours). */
/* A whole snapshot (no next journal) is kept for the load; a fold's parts
 * are only counted. */
static int c_begin(void *ctx, const wdr_buf_t *h, char *err, size_t err_size) {
  (void)err;
  (void)err_size;
  count_t *c = ctx;
  c->whole = h == NULL;
  if (c->whole)
    wdr_buf_reset(&c->snapshot);
  return 0;
}
static int c_fold(void *ctx, const wdr_buf_t *d, char *err, size_t err_size) {
  (void)err;
  (void)err_size;
  count_t *c = ctx;
  if (c->whole)
    return wdr_buf_append(&c->snapshot, d->data, d->len);
  c->fold_parts++;
  return 0;
}
static int c_commit(void *ctx, bool move_next, char *err, size_t err_size) {
  (void)err;
  (void)err_size;
  count_t *c = ctx;
  if (move_next) {
    c->folds++;
  } else {
    c->snapshots++;
    c->snapshot_bytes = c->snapshot.len;
  }
  c->whole = false;
  return 0;
}
static void c_nothing(void *ctx) { (void)ctx; }
static int c_aside(void *ctx, int64_t s, char *w, size_t n) {
  (void)ctx;
  (void)s;
  snprintf(w, n, "-");
  return -1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes malloc has handed out and not had back, mmapped blocks included. */
static size_t in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static const char *no_env(const char *n) {
  (void)n;
  return NULL;
}

static wdr_answer_t accepted(void) {
  wdr_answer_t a;
  wdr_answer_init(&a);
  a.res.http_status = 200;
  a.res.response.ok = true;
  snprintf(a.res.response.async_id, WDR_ID_MAX,
           "60a7f0f5-cea2-40fe-b607-a1b2c3d4e5f6");
  return a;
}

/* One failure, rerun and accepted, at t; returns the seconds it took. */
static double one_rerun(wdr_engine_t *e, const char *id, int64_t *t) {
  double t0 = now_s();
  wdr_engine_on_signal(e, 0, id, *t, 1);
  wdr_job_t jobs[4];
  int64_t wake = 0;
  *t += 2;
  size_t n = wdr_engine_dispatch(e, *t, jobs, 4, &wake);
  for (size_t i = 0; i < n; i++) {
    wdr_answer_t a = accepted();
    wdr_engine_on_answer(e, &jobs[i], &a, *t, 1);
  }
  wdr_engine_save(e, *t, false);
  return now_s() - t0;
}

static void run(size_t tracked) {
  oconfig_item_t *root = ocb_add_str(ocb_root("Plugin"), "wedata_rerun");
  ocb_str(root, "Region", "ap-guangzhou");
  ocb_str(root, "SecretId", "AKIDbench");
  ocb_str(root, "SecretKey", "bench-key");
  ocb_num(root, "RateLimit", 1000);
  oconfig_item_t *wf = ocb_str(root, "Workflow", "etl");
  ocb_str(wf, "ProjectId", "1460947878944567296");
  ocb_str(wf, "WorkflowId", "0fae8078-a7a7-4b67-afd1-8bf18e068dda");
  ocb_num(wf, "ExecuteType", 1);
  ocb_bool(wf, "Poll", 1);
  wdr_config_t *cfg = NULL;
  char err[256];
  if (wdr_config_parse(root, no_env, &cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "config: %s\n", err);
    return;
  }
  count_t c = {0};
  wdr_buf_init(&c.snapshot, WDR_STATE_MAX);
  wdr_sink_t sink = {.ctx = &c,
                     .log = c_log,
                     .notify = c_notify,
                     .load = c_none,
                     .load_journal = c_none,
                     .save_journal = c_journal,
                     .append = c_append,
                     .move_aside = c_aside,
                     .fold_begin = c_begin,
                     .append_next = c_append,
                     .fold_write = c_fold,
                     .fold_commit = c_commit,
                     .fold_abort = c_nothing,
                     .load_next = c_none,
                     .discard_next = c_nothing};
  wdr_metrics_t *m = wdr_metrics_create(cfg);
  int64_t t = 1764000000000LL;
  wdr_engine_t *e = wdr_engine_create(cfg, m, &sink, t);
  char id[64];
  double longest = 0;
  for (size_t i = 0; i < tracked; i++) {
    snprintf(id, sizeof(id), "%08zx-a71d-4588-9a9a-9f244d32c96c", i);
    double d = one_rerun(e, id, &t);
    longest = d > longest ? d : longest;
  }
  /* Steady state: 1000 more reruns, timed, journal only. */
  size_t appends = c.appends, syncs = c.syncs, bytes = c.append_bytes,
         records = c.append_records;
  size_t snaps = c.snapshots;
  double total = 0;
  for (size_t i = 0; i < 1000; i++) {
    snprintf(id, sizeof(id), "%08zx-ffff-4588-9a9a-9f244d32c96c", i);
    double d = one_rerun(e, id, &t);
    total += d;
    longest = d > longest ? d : longest;
  }
  double per_rerun_us = total / 1000 * 1e6;
  double writes = (double)(c.appends - appends) / 1000;
  double fsyncs = (double)(c.syncs - syncs) / 1000;
  double per_bytes = (double)(c.append_bytes - bytes) / 1000;
  double per_records = (double)(c.append_records - records) / 1000;
  /* The snapshot at stop, the one written whole. */
  double t0 = now_s();
  wdr_engine_save(e, t, true);
  double stop_ms = (now_s() - t0) * 1e3;
  wdr_engine_destroy(e);
  /* The load of that snapshot, and the memory the loaded engine holds
   * (malloc's count of bytes in use: RSS in this process also holds what
   * the runs before freed; tests/bench/cpu.py measures a real collectd). */
  sink.load = c_load; /* the snapshot just written */
  size_t in_use0 = in_use();
  t0 = now_s();
  e = wdr_engine_create(cfg, m, &sink, t);
  double load_ms = (now_s() - t0) * 1e3;
  size_t in_use1 = in_use();
  printf("%9zu %9.1f %7.2f %7.2f %8.2f %7.0f %11.2f %6zu %8.1f %9.1f %8.1f "
         "%10.0f\n",
         tracked + 1000, per_rerun_us, writes, fsyncs, per_records, per_bytes,
         longest * 1e3, c.folds, stop_ms, (double)c.snapshot_bytes / 1e6,
         load_ms, (double)(in_use1 - in_use0) / (double)(tracked + 1000));
  (void)snaps;
  wdr_engine_destroy(e);
  wdr_metrics_destroy(m);
  wdr_config_free(cfg);
  wdr_buf_free(&c.snapshot, false);
  ocb_free(root);
}

int main(void) {
  printf("durable state: engine work per rerun (in memory, no disk), "
         "journal writes, fold and load\n");
  printf("%9s %9s %7s %7s %8s %7s %11s %6s %8s %9s %8s %10s\n", "runs",
         "us/rerun", "writes", "fsyncs", "records", "bytes", "longest ms",
         "folds", "stop ms", "snap MB", "load ms", "mem B/run");
  static const size_t sizes[] = {300, 10300, 100300};
  for (size_t i = 0; i < 3; i++)
    run(sizes[i]);
  return 0;
}
