#include "wdr_runtime.h"
#include "wdr_inbox.h"
#include "wdr_loglimit.h"
#include "wdr_queue.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What travels from the notification callback to the engine thread. */
typedef struct {
  size_t wf;
  char execution_id[WDR_ID_MAX];
} signal_msg_t;

typedef struct {
  wdr_job_t job;
  wdr_answer_t answer; /* owned by whoever holds the message */
} result_msg_t;

struct wdr_runtime_s {
  wdr_runtime_cfg_t cfg;
  wdr_inbox_t *inbox; /* signals, jobs, results */
  wdr_queue_t *notes;
  wdr_engine_t *engine;
  pthread_t workers[WDR_RUNTIME_WORKERS_MAX];
  int workers_num;
  pthread_t engine_thread, notifier_thread;
  bool engine_running, notifier_running;
  _Atomic size_t pending; /* the engine's pending runs, for the gauge */
  uint32_t rng;           /* the engine thread's */
  wdr_loglimit_t limit_notes;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift32: jitter only needs to spread retries, not to be secret. */
static uint32_t next_rand(wdr_runtime_t *rt) {
  uint32_t x = rt->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rt->rng = x;
  return x;
}

wdr_runtime_t *wdr_runtime_create(const wdr_runtime_cfg_t *cfg) {
  if (cfg->cfg == NULL || cfg->cfg->workers < 1 ||
      cfg->cfg->workers > WDR_RUNTIME_WORKERS_MAX || cfg->cfg->queue_limit < 1)
    return NULL;
  wdr_runtime_t *rt = calloc(1, sizeof(*rt));
  if (rt == NULL)
    return NULL;
  rt->cfg = *cfg;
  rt->rng = cfg->seed != 0 ? cfg->seed : 0x9e3779b9u;
  rt->inbox = wdr_inbox_create(sizeof(signal_msg_t),
                               (size_t)cfg->cfg->queue_limit, sizeof(wdr_job_t),
                               sizeof(result_msg_t), (size_t)cfg->cfg->workers);
  rt->notes = wdr_queue_create(sizeof(wdr_note_t), WDR_RUNTIME_NOTES_MAX);
  if (rt->inbox == NULL || rt->notes == NULL) {
    wdr_runtime_destroy(rt);
    return NULL;
  }
  return rt;
}

void wdr_runtime_destroy(wdr_runtime_t *rt) {
  if (rt == NULL)
    return;
  wdr_inbox_destroy(rt->inbox);
  wdr_queue_destroy(rt->notes);
  free(rt);
}

/* --- notifier ------------------------------------------------------------ */

void wdr_runtime_notify(wdr_runtime_t *rt, const wdr_note_t *note) {
  if (wdr_queue_push(rt->notes, note) == 0)
    return;
  uint64_t held = 0;
  if (wdr_loglimit_allow(&rt->limit_notes, now_ms() / 1000, &held))
    wdr_sink_logf(rt->cfg.log, WDR_LOG_WARNING,
                  "%d notifications are waiting for the notification "
                  "callbacks of other plugins: dropped one (%" PRIu64
                  " more such messages held back)",
                  WDR_RUNTIME_NOTES_MAX, held);
}

static void *notifier_main(void *arg) {
  wdr_runtime_t *rt = arg;
  wdr_note_t *n = malloc(sizeof(*n)); /* 4 KiB: not on the stack */
  if (n == NULL) {
    wdr_sink_logf(rt->cfg.log, WDR_LOG_ERROR,
                  "the notifier thread has no memory; it stops");
    return NULL;
  }
  /* After stop, pop_wait still hands out what was queued, then fails. */
  while (wdr_queue_pop_wait(rt->notes, n, INT64_MAX) == 0)
    rt->cfg.deliver(rt->cfg.deliver_ctx, n);
  free(n);
  return NULL;
}

/* --- workers ------------------------------------------------------------- */

static void *worker_main(void *arg) {
  wdr_runtime_t *rt = arg;
  wdr_transport_t *t = rt->cfg.transport_open(rt->cfg.transport_ctx);
  result_msg_t *res = malloc(sizeof(*res));
  /* On the heap: 8 KiB is much for a thread's stack. */
  wdr_cred_snapshot_t *cred =
      rt->cfg.creds != NULL ? calloc(1, sizeof(*cred)) : NULL;
  if (t == NULL || res == NULL || (rt->cfg.creds != NULL && cred == NULL)) {
    wdr_sink_logf(rt->cfg.log, WDR_LOG_ERROR,
                  "a worker cannot create its HTTP handle; it stops");
    free(res);
    free(cred);
    if (t != NULL)
      rt->cfg.transport_close(rt->cfg.transport_ctx, t);
    return NULL;
  }
  while (wdr_inbox_pop_job(rt->inbox, &res->job) == 0) {
    /* Signed with the time it is sent at, not the time it was queued (and
     * the server's clock, when ours was found off), and with the
     * credentials of that moment. */
    if (cred != NULL)
      wdr_credstore_get(rt->cfg.creds, cred);
    wdr_action_execute(&res->job, rt->cfg.cfg, cred, t,
                       (int64_t)time(NULL) + res->job.clock_offset_s,
                       &res->answer);
    if (cred != NULL)
      wdr_cred_snapshot_wipe(cred);
    wdr_inbox_push_result(rt->inbox, res); /* the answer changes hands */
  }
  free(cred);
  free(res);
  rt->cfg.transport_close(rt->cfg.transport_ctx, t);
  return NULL;
}

/* --- engine thread ------------------------------------------------------- */

static void take_in(wdr_runtime_t *rt, int64_t now, result_msg_t *res) {
  while (wdr_inbox_pop_result(rt->inbox, res) == 0)
    wdr_engine_on_answer(rt->engine, &res->job, &res->answer, now,
                         next_rand(rt));
  signal_msg_t sig;
  while (wdr_inbox_pop_signal(rt->inbox, &sig) == 0)
    wdr_engine_on_signal(rt->engine, sig.wf, sig.execution_id, now,
                         next_rand(rt));
}

/* Hands due jobs to the workers: as many as there are free slots. */
static int64_t hand_out(wdr_runtime_t *rt, int64_t now) {
  wdr_job_t jobs[WDR_RUNTIME_WORKERS_MAX];
  size_t room = wdr_inbox_job_room(rt->inbox);
  if (room > WDR_RUNTIME_WORKERS_MAX)
    room = WDR_RUNTIME_WORKERS_MAX;
  int64_t wake = now + WDR_ENGINE_IDLE_MS;
  size_t n = wdr_engine_dispatch(rt->engine, now, jobs, room, &wake);
  for (size_t i = 0; i < n; i++)
    if (wdr_inbox_push_job(rt->inbox, &jobs[i]) != 0)
      wdr_engine_requeue(rt->engine, &jobs[i], now);
  return wake;
}

static void *engine_main(void *arg) {
  wdr_runtime_t *rt = arg;
  result_msg_t *res = malloc(sizeof(*res));
  if (res == NULL) {
    wdr_sink_logf(rt->cfg.log, WDR_LOG_ERROR,
                  "the engine thread has no memory; it stops");
    return NULL;
  }
  while (!wdr_inbox_stopped(rt->inbox)) {
    int64_t now = now_ms();
    take_in(rt, now, res);
    int64_t wake = hand_out(rt, now);
    wdr_engine_save(rt->engine, now, false);
    atomic_store(&rt->pending, wdr_engine_pending(rt->engine));
    wdr_inbox_wait(rt->inbox, wake);
  }
  /* The workers are joined: take their last answers, take back the jobs
   * none of them started, and leave an exact state behind. */
  int64_t now = now_ms();
  take_in(rt, now, res);
  wdr_job_t job;
  while (wdr_inbox_unpush_job(rt->inbox, &job) == 0)
    wdr_engine_requeue(rt->engine, &job, now);
  /* A snapshot at the end: the next start reads one file, not a journal. */
  wdr_engine_save(rt->engine, now, true);
  free(res);
  return NULL;
}

/* --- start and stop ------------------------------------------------------ */

int wdr_runtime_start(wdr_runtime_t *rt, wdr_engine_t *engine) {
  rt->engine = engine;
  atomic_store(&rt->pending, wdr_engine_pending(engine));
  int status = rt->cfg.thread_create(&rt->notifier_thread, notifier_main, rt,
                                     "wedata_notify");
  if (status != 0)
    goto fail;
  rt->notifier_running = true;
  for (int i = 0; i < rt->cfg.cfg->workers; i++) {
    char name[32]; /* at most 15 characters used: the kernel's limit */
    snprintf(name, sizeof(name), "wedata_rerun#%d", i);
    status = rt->cfg.thread_create(&rt->workers[i], worker_main, rt, name);
    if (status != 0)
      goto fail;
    rt->workers_num++;
  }
  status = rt->cfg.thread_create(&rt->engine_thread, engine_main, rt,
                                 "wedata_engine");
  if (status != 0)
    goto fail;
  rt->engine_running = true;
  return 0;
fail:
  wdr_sink_logf(rt->cfg.log, WDR_LOG_ERROR, "cannot start a thread: %s",
                strerror(status));
  wdr_runtime_stop(rt);
  return status;
}

int wdr_runtime_signal(wdr_runtime_t *rt, size_t wf, const char *execution_id) {
  signal_msg_t m = {.wf = wf};
  size_t n = strlen(execution_id);
  if (n >= sizeof(m.execution_id))
    return -1;
  memcpy(m.execution_id, execution_id, n + 1);
  return wdr_inbox_push_signal(rt->inbox, &m);
}

size_t wdr_runtime_queued(wdr_runtime_t *rt) {
  return wdr_inbox_signals(rt->inbox) + atomic_load(&rt->pending);
}

void wdr_runtime_stop(wdr_runtime_t *rt) {
  if (rt == NULL)
    return;
  size_t queued = wdr_inbox_signals(rt->inbox);
  if (queued > 0 && rt->engine_running)
    wdr_sink_logf(rt->cfg.log, WDR_LOG_WARNING,
                  "shutting down with %zu signal(s) not yet looked at; they "
                  "are dropped",
                  queued);
  wdr_inbox_stop_jobs(rt->inbox);
  for (int i = 0; i < rt->workers_num; i++)
    pthread_join(rt->workers[i], NULL);
  rt->workers_num = 0;
  wdr_inbox_stop(rt->inbox);
  if (rt->engine_running) {
    pthread_join(rt->engine_thread, NULL);
    rt->engine_running = false;
  }
  wdr_queue_stop(rt->notes);
  if (rt->notifier_running) {
    pthread_join(rt->notifier_thread, NULL);
    rt->notifier_running = false;
  }
}
