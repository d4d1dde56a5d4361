/* wedata_rerun: collectd registration and the plugin's threads.
 *
 * The only file that registers with the daemon. Data flows one way:
 *
 *   notification callback (any collectd thread: match, copy, push, return)
 *     -> inbox signals -> policy thread (the only owner of the policy table,
 *        the rate limiter, the breaker and the state file) -> inbox jobs
 *     -> worker threads (sign, POST, parse) -> inbox results -> policy thread
 *     -> counters, notifications, state file.
 *
 * The read callback only reads counters.
 *
 * Lifetime: the config is built in the config callback, everything else in
 * init. plugin_state_lock guards the shared pointers against the one writer
 * that frees them (shutdown): collectd's callbacks hold it for reading while
 * they use them and see stopping == true afterwards. Our own threads are
 * joined before anything is freed, so they use the pointers without it. */

#include "collectd/core/daemon/collectd.h"

#include "collectd/core/daemon/plugin.h"
#include "collectd/core/utils/common/common.h"

#include "wdr_api.h"
#include "wdr_breaker.h"
#include "wdr_config.h"
#include "wdr_http.h"
#include "wdr_inbox.h"
#include "wdr_metrics.h"
#include "wdr_policy.h"
#include "wdr_ratelimit.h"
#include "wdr_signal.h"
#include "wdr_state.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX WDR_PLUGIN_NAME " plugin: "
#define WORKERS_MAX 16
#define LOG_EVERY_SECONDS 10 /* per-signal messages during a storm */
#define MAX_RUNS 100000      /* runs the policy tracks at once */
#define PRUNE_EVERY_MS 60000 /* forget old runs this often */
#define IDLE_WAKE_MS 1000    /* longest sleep of the policy thread */

/* What travels through the inbox. */
typedef struct {
  size_t wf;
  char execution_id[WDR_ID_MAX];
} signal_msg_t;

/* A listing of runs (ListTriggerWorkflowRuns): a poll of one project's
 * polled workflows, or the search for the newest failed run of one
 * workflow (a failure signal without a run id). */
typedef struct {
  bool resolve;   /* false: a poll of project; true: resolve workflow wf */
  size_t project; /* index into projects */
  size_t wf;      /* resolve: the workflow */
  int page;
  int tries;          /* resolve: failed listings so far */
  int64_t not_before; /* resolve: retry time after a failure */
} list_job_t;

/* What the policy thread hands a worker: a policy job or a listing. */
typedef struct {
  bool is_list;
  wdr_policy_job_t job;
  list_job_t list;
} job_msg_t;

typedef struct {
  job_msg_t job;
  int rc; /* wdr_api_* return: -1 when no request left */
  wdr_api_result_t res;
  wdr_run_view_t view;    /* VERIFY, CHECK, FOLLOW; owned, freed by drain */
  wdr_async_view_t async; /* ASYNC jobs */
  wdr_run_list_t runs;    /* listings; owned, freed by drain */
} result_msg_t;

/* The polled workflows of one ProjectId. */
typedef struct {
  const char *project_id;
  size_t *wf;       /* indexes of its polled workflows, config order */
  const char **ids; /* their WorkflowIds */
  size_t num;
  bool busy; /* a poll of it is being listed */
} project_t;

#define LISTS_MAX 256 /* listings waiting to be sent */

/* One of the plugin's own notifications, queued for the notifier thread. */
#define NOTE_META_MAX 6
#define NOTES_MAX 1024
typedef struct {
  int severity;
  char plugin_instance[WDR_NAME_MAX];
  char type[16];
  char message[NOTIF_MAX_MSG_LEN];
  int meta_num;
  struct {
    const char *name; /* a string literal */
    char value[WDR_MSG_MAX];
  } meta[NOTE_META_MAX];
} note_msg_t;

/* Shared with collectd's threads (see the lock rule above). */
static pthread_rwlock_t plugin_state_lock = PTHREAD_RWLOCK_INITIALIZER;
static wdr_config_t *cfg;
static wdr_inbox_t *inbox;
static wdr_metrics_t *metrics;
static char **workflow_names; /* cfg's names, borrowed */
static _Atomic size_t pending_runs;
static bool stopping;
static bool http_ready;

/* Threads. */
static pthread_t workers[WORKERS_MAX];
static int workers_num;
static pthread_t policy_thread;
static bool policy_running;
static pthread_t notifier_thread;
static bool notifier_running;
/* Notifications go through their own queue and thread: dispatching runs
 * every notification callback of the daemon (write_http posts, exec forks)
 * in the caller's thread, and the policy thread must not wait for those. */
static wdr_inbox_t *notes;

/* Owned by the policy thread once it runs (by init before). */
static wdr_policy_t *policy;
static wdr_policy_wf_t *policy_wf;
static bool *persist_wf; /* false for dry-run workflows */
static wdr_ratelimit_t ratelimit;
static wdr_breaker_t breaker;
static bool state_dirty;
static uint32_t rng_state;
static project_t *projects;
static size_t projects_num;
static list_job_t lists[LISTS_MAX]; /* FIFO of listings waiting to be sent */
static size_t lists_num;
static int64_t next_poll;

/* Per-signal log lines are limited to one each LOG_EVERY_SECONDS, with a
 * count of what was held back, so a storm does not flood the log. */
typedef struct {
  _Atomic int64_t last;
  _Atomic uint64_t held;
} log_limit_t;

static log_limit_t limit_dropped, limit_skipped, limit_refused, limit_state,
    limit_notes;

static bool log_allowed(log_limit_t *l, uint64_t *ret_held) {
  int64_t now = (int64_t)time(NULL);
  int64_t last = atomic_load(&l->last);
  if (now - last < LOG_EVERY_SECONDS ||
      !atomic_compare_exchange_strong(&l->last, &last, now)) {
    atomic_fetch_add(&l->held, 1);
    return false;
  }
  *ret_held = atomic_exchange(&l->held, 0);
  return true;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift32: jitter only needs to spread retries, not to be secret. */
static uint32_t next_rand(void) {
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng_state = x;
  return x;
}

static const char *env_get(const char *name) { return getenv(name); }

static int wdr_config_cb(oconfig_item_t *ci) {
  char err[1024];
  if (cfg != NULL) {
    ERROR(LOG_PREFIX "<Plugin wedata_rerun> is given more than once; put "
                     "all Workflows in one block");
    return -1;
  }
  if (wdr_config_parse(ci, env_get, &cfg, err, sizeof(err)) != 0) {
    ERROR(LOG_PREFIX "%s", err);
    return -1;
  }
  return 0;
}

/* --- notifications -------------------------------------------------------
 */

/* Queues one of the plugin's own notifications for the notifier thread;
 * the message is also logged at info level in full (the notification keeps
 * what fits in its NOTIF_MAX_MSG_LEN bytes). Meta is given as name, value
 * pairs ending in NULL (names are string literals); empty values are left
 * out. */
__attribute__((sentinel)) static void notify(int severity,
                                             const char *plugin_instance,
                                             const char *type, const char *text,
                                             ...) {
  note_msg_t m = {.severity = severity};
  sstrncpy(m.plugin_instance, plugin_instance, sizeof(m.plugin_instance));
  sstrncpy(m.type, type, sizeof(m.type));
  sstrncpy(m.message, text, sizeof(m.message));
  va_list ap;
  va_start(ap, text);
  for (const char *name = va_arg(ap, const char *); name != NULL;
       name = va_arg(ap, const char *)) {
    const char *value = va_arg(ap, const char *);
    if (value == NULL || value[0] == '\0' || m.meta_num == NOTE_META_MAX)
      continue;
    m.meta[m.meta_num].name = name;
    sstrncpy(m.meta[m.meta_num].value, value, sizeof(m.meta[0].value));
    m.meta_num++;
  }
  va_end(ap);
  INFO(LOG_PREFIX "%s", text);
  uint64_t held = 0;
  if (wdr_inbox_push_signal(notes, &m) != 0 && log_allowed(&limit_notes, &held))
    WARNING(LOG_PREFIX "%d notifications are waiting for the notification "
                       "callbacks of other plugins: dropped one (%" PRIu64
                       " more such messages held back)",
            NOTES_MAX, held);
}

static void dispatch_note(const note_msg_t *m) {
  notification_t n = {.severity = m->severity, .time = cdtime()};
  sstrncpy(n.host, hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, WDR_PLUGIN_NAME, sizeof(n.plugin));
  sstrncpy(n.plugin_instance, m->plugin_instance, sizeof(n.plugin_instance));
  sstrncpy(n.type, m->type, sizeof(n.type));
  sstrncpy(n.message, m->message, sizeof(n.message));
  for (int i = 0; i < m->meta_num; i++)
    plugin_notification_meta_add_string(&n, m->meta[i].name, m->meta[i].value);
  plugin_dispatch_notification(&n);
  if (n.meta != NULL)
    plugin_notification_meta_free(n.meta);
}

static void *notifier_main(void *arg) {
  (void)arg;
  note_msg_t *m = malloc(sizeof(*m));
  if (m == NULL) {
    ERROR(LOG_PREFIX "the notifier thread has no memory; it stops");
    return NULL;
  }
  for (;;) {
    while (wdr_inbox_pop_signal(notes, m) == 0)
      dispatch_note(m);
    if (wdr_inbox_stopped(notes))
      break;
    wdr_inbox_wait(notes, now_ms() + 60000);
  }
  while (wdr_inbox_pop_signal(notes, m) == 0) /* pushed while stopping */
    dispatch_note(m);
  free(m);
  return NULL;
}

/* --- state file ----------------------------------------------------------
 */

static void save_state(void) {
  if (!state_dirty)
    return;
  char err[256] = "";
  wdr_buf_t buf;
  wdr_buf_init(&buf, WDR_STATE_MAX);
  int status = wdr_state_serialize(policy, workflow_names, persist_wf,
                                   cfg->workflows_num, now_ms(), &buf);
  if (status != 0)
    snprintf(err, sizeof(err), "cannot serialise the state");
  else
    status = wdr_state_write_file(cfg->state_file, &buf, err, sizeof(err));
  wdr_buf_free(&buf, false);
  uint64_t held = 0;
  if (status != 0 && log_allowed(&limit_state, &held))
    ERROR(LOG_PREFIX "cannot write the state file \"%s\": %s (%" PRIu64
                     " more such messages held back); reruns go on, but a "
                     "restart would forget them",
          cfg->state_file, err, held);
  state_dirty = status != 0;
}

static wdr_policy_t *create_policy(void) {
  return wdr_policy_create(&(wdr_policy_cfg_t){
      .wf = policy_wf,
      .wf_num = cfg->workflows_num,
      .max_request_retries = cfg->max_request_retries,
      .retention_ms = (int64_t)(cfg->state_retention * 1000.0),
      .max_runs = MAX_RUNS,
      .async_poll_ms = (int64_t)ceil(cfg->async_poll_interval * 1000.0),
      .async_timeout_ms = (int64_t)ceil(cfg->async_timeout * 1000.0)});
}

/* Reads the state file into the (empty) policy. A corrupt file is moved
 * aside and the plugin starts empty: a bad file must not keep collectd
 * down. Runs only in init. */
static int load_state(int64_t now) {
  wdr_buf_t buf;
  char err[256] = "";
  wdr_buf_init(&buf, WDR_STATE_MAX);
  wdr_state_stats_t stats = {0};
  int rc = wdr_state_read_file(cfg->state_file, &buf, err, sizeof(err));
  if (rc == 1) {
    INFO(LOG_PREFIX "no state file \"%s\" yet: starting empty",
         cfg->state_file);
    wdr_buf_free(&buf, false);
    return 0;
  }
  if (rc == 0 &&
      wdr_state_parse(wdr_buf_str(&buf), buf.len, policy, workflow_names,
                      cfg->workflows_num, now, &stats, err, sizeof(err)) == 0) {
    INFO(LOG_PREFIX "state file \"%s\": restored %zu run(s); dropped %zu of "
                    "workflows no longer configured and %zu others",
         cfg->state_file, stats.runs, stats.unknown_workflow, stats.rejected);
    wdr_buf_free(&buf, false);
    return 0;
  }
  wdr_buf_free(&buf, false);
  /* Part of the file may be in the policy: start again from nothing. */
  wdr_policy_destroy(policy);
  policy = create_policy();
  if (policy == NULL)
    return -1;
  char aside[4096];
  if (wdr_state_move_aside(cfg->state_file, now / 1000, aside, sizeof(aside)) ==
      0)
    WARNING(LOG_PREFIX "state file \"%s\" is corrupt or unreadable (%s); "
                       "moved it to \"%s\" and started empty",
            cfg->state_file, err, aside);
  else
    WARNING(LOG_PREFIX "state file \"%s\" is corrupt or unreadable (%s) and "
                       "cannot be moved aside (%s); started empty, and it "
                       "will be overwritten",
            cfg->state_file, err, STRERRNO);
  state_dirty = true;
  return 0;
}

/* --- policy thread -------------------------------------------------------
 */

static void add_list(const list_job_t *l);

/* Counts and reports what the policy decided about a failure signal. */
static void report_decision(size_t wf, const char *execution_id,
                            const wdr_signal_decision_t *dp, int64_t now) {
  const wdr_signal_decision_t d = *dp;
  const wdr_workflow_cfg_t *w = &cfg->workflows[wf];
  uint64_t held = 0;
  char text[512];
  switch (d.verdict) {
  case WDR_SIGNAL_SCHEDULED:
    state_dirty = true;
    if (d.at_ms > now)
      INFO(LOG_PREFIX "workflow %s: rerun of %s scheduled in %.1f s (backoff "
                      "after %d accepted rerun(s))",
           w->name, execution_id, (double)(d.at_ms - now) / 1000.0, d.attempts);
    break;
  case WDR_SIGNAL_DUPLICATE:
    wdr_metrics_skip(metrics, wf, WDR_SKIP_DUPLICATE);
    break;
  case WDR_SIGNAL_EXHAUSTED:
    wdr_metrics_skip(metrics, wf, WDR_SKIP_EXHAUSTED);
    if (d.gave_up) {
      state_dirty = true;
      wdr_metrics_count(metrics, wf, WDR_CNT_GAVE_UP);
      snprintf(text, sizeof(text),
               "gave up on %s (workflow %s) after %d attempts: it failed "
               "again, and MaxAttempts is %d",
               execution_id, w->name, d.attempts, w->max_attempts);
      char attempts[16];
      snprintf(attempts, sizeof(attempts), "%d", d.attempts);
      notify(NOTIF_FAILURE, w->name, "rerun", text, "WorkflowId",
             w->workflow_id, "WorkflowExecutionId", execution_id, "Attempts",
             attempts, NULL);
    }
    break;
  case WDR_SIGNAL_BUDGET:
    wdr_metrics_skip(metrics, wf, WDR_SKIP_BUDGET);
    if (log_allowed(&limit_refused, &held))
      WARNING(LOG_PREFIX "workflow %s: MaxRerunsPerHour %d reached: no rerun "
                         "of %s (%" PRIu64 " more such messages held back)",
              w->name, w->max_reruns_per_hour, execution_id, held);
    break;
  case WDR_SIGNAL_PERMANENT:
    wdr_metrics_skip(metrics, wf, WDR_SKIP_PERMANENT_ERROR);
    break;
  case WDR_SIGNAL_FULL:
    wdr_metrics_skip(metrics, wf, WDR_SKIP_TABLE_FULL);
    if (log_allowed(&limit_refused, &held))
      WARNING(LOG_PREFIX "tracking %d runs already: no rerun of %s (%" PRIu64
                         " more such messages held back)",
              MAX_RUNS, execution_id, held);
    break;
  }
}

static void handle_signal(const signal_msg_t *m, int64_t now) {
  if (m->execution_id[0] == '\0') {
    /* No run id: look for the newest failed run, unless that is already
     * being looked for. */
    for (size_t i = 0; i < lists_num; i++)
      if (lists[i].resolve && lists[i].wf == m->wf)
        return;
    add_list(&(list_job_t){.resolve = true, .wf = m->wf, .page = 1});
    return;
  }
  wdr_signal_decision_t d =
      wdr_policy_on_signal(policy, m->wf, m->execution_id, now, next_rand());
  report_decision(m->wf, m->execution_id, &d, now);
}

static wdr_outcome_t outcome_of(const result_msg_t *m, wdr_api_class_t cls) {
  if (m->job.job.kind == WDR_JOB_CHECK)
    return cls == WDR_CLASS_PERMANENT ? WDR_OUTCOME_PERMANENT
                                      : WDR_OUTCOME_RETRYABLE;
  if (m->job.job.kind == WDR_JOB_VERIFY) {
    if (cls == WDR_CLASS_OK)
      /* Any state but FAILED (RUNNING, PENDING, SUCCESS, and undocumented
       * ones such as QUEUED) means the rerun started; so does a RerunTimes
       * above the reruns we know of (manual ones make this err on the side
       * of not resending). */
      return (strcmp(m->view.state, "FAILED") != 0 ||
              m->view.rerun_times > m->job.job.known_attempts)
                 ? WDR_OUTCOME_RERUN_SEEN
                 : WDR_OUTCOME_RERUN_NOT_SEEN;
    return cls == WDR_CLASS_PERMANENT ? WDR_OUTCOME_PERMANENT
                                      : WDR_OUTCOME_RETRYABLE;
  }
  switch (cls) {
  case WDR_CLASS_OK:
    return WDR_OUTCOME_ACCEPTED;
  case WDR_CLASS_RETRYABLE:
    return WDR_OUTCOME_RETRYABLE;
  case WDR_CLASS_RESIGN:
    return WDR_OUTCOME_RESIGN;
  case WDR_CLASS_AMBIGUOUS:
    return WDR_OUTCOME_AMBIGUOUS;
  default:
    return WDR_OUTCOME_PERMANENT;
  }
}

static void record_breaker(bool success, int64_t now) {
  int change = wdr_breaker_record(&breaker, success, now);
  if (change == 0)
    return;
  wdr_metrics_set_breaker(metrics, change > 0);
  char text[256];
  if (change > 0)
    snprintf(text, sizeof(text),
             "%d requests in a row failed: no request for %.0f s, then one "
             "probe",
             breaker.failures, cfg->breaker_cooldown);
  else
    snprintf(text, sizeof(text), "a request succeeded: sending again");
  notify(change > 0 ? NOTIF_WARNING : NOTIF_OKAY, "", "breaker", text, NULL);
}

static void add_list(const list_job_t *l) {
  if (lists_num == LISTS_MAX) {
    uint64_t held = 0;
    if (log_allowed(&limit_refused, &held))
      WARNING(LOG_PREFIX "%d listings of runs wait already: dropped one "
                         "(%" PRIu64 " more such messages held back)",
              LISTS_MAX, held);
    if (!l->resolve)
      projects[l->project].busy = false;
    else
      wdr_metrics_skip(metrics, l->wf, WDR_SKIP_NO_FAILED_RUN);
    return;
  }
  lists[lists_num++] = *l;
}

/* The workflows a listing is about: one (resolve) or a project's. */
static size_t list_workflows(const list_job_t *l, const size_t **ret) {
  if (l->resolve) {
    *ret = &l->wf;
    return 1;
  }
  *ret = projects[l->project].wf;
  return projects[l->project].num;
}

/* A page of runs came back (or did not): feed the failed ones to the
 * policy like failure signals, and fetch the next page while it is still
 * within PollLookback. */
static void handle_list(const result_msg_t *m, int64_t now) {
  const list_job_t *l = &m->job.list;
  const wdr_response_t *r = &m->res.response;
  const size_t *wfs = NULL;
  size_t wfs_num = list_workflows(l, &wfs);
  wdr_api_class_t cls = wdr_api_classify(&m->res);
  for (size_t i = 0; i < wfs_num && m->res.http_status != 0; i++)
    wdr_metrics_latency(metrics, wfs[i], WDR_ACTION_LIST_RUNS, m->res.seconds);
  if (m->rc == 0)
    record_breaker(cls == WDR_CLASS_OK || cls == WDR_CLASS_PERMANENT ||
                       cls == WDR_CLASS_RESIGN,
                   now);
  else
    wdr_breaker_cancel(&breaker);

  if (!r->ok) {
    for (size_t i = 0; i < wfs_num; i++)
      wdr_metrics_error(metrics, wfs[i], r->error_code);
    NOTICE(LOG_PREFIX "listing the runs of %s failed: %s: %s",
           l->resolve ? cfg->workflows[l->wf].name
                      : projects[l->project].project_id,
           r->error_code, r->error_message);
    if (!l->resolve) { /* the next poll tries again */
      projects[l->project].busy = false;
      return;
    }
    if (cls != WDR_CLASS_PERMANENT && l->tries < cfg->max_request_retries) {
      list_job_t again = *l;
      again.tries++;
      again.not_before = now + (1000LL << (again.tries - 1));
      wdr_metrics_count(metrics, l->wf, WDR_CNT_RETRIES);
      add_list(&again);
    } else
      wdr_metrics_skip(metrics, l->wf, WDR_SKIP_RETRIES_EXHAUSTED);
    return;
  }

  int64_t cutoff = now - (int64_t)(cfg->poll_lookback * 1000.0);
  bool past_lookback = false;
  for (size_t i = 0; i < m->runs.items_num; i++) {
    const wdr_run_brief_t *b = &m->runs.items[i];
    if (b->create_ms != 0 && b->create_ms < cutoff) {
      past_lookback = true;
      continue;
    }
    size_t j = 0;
    while (j < wfs_num &&
           strcmp(cfg->workflows[wfs[j]].workflow_id, b->workflow_id) != 0)
      j++;
    if (j == wfs_num)
      continue;
    size_t wf = wfs[j];
    /* Only FAILED is a failure: RUNNING, QUEUED and undocumented states
     * are neither failed nor finished. */
    bool failed = strcmp(b->state, "FAILED") == 0 && b->support_rerun;
    if (!l->resolve) {
      wdr_metrics_count(metrics, wf, WDR_CNT_POLLED);
      if (!failed)
        continue;
      wdr_metrics_count(metrics, wf, WDR_CNT_SIGNALS);
    } else if (!failed)
      continue;
    wdr_signal_decision_t d = wdr_policy_on_polled(
        policy, wf, b->execution_id, b->rerun_times, now, next_rand());
    report_decision(wf, b->execution_id, &d, now);
    if (l->resolve) {
      INFO(LOG_PREFIX "workflow %s: a failure signal without a run id means "
                      "its newest failed run, %s",
           cfg->workflows[wf].name, b->execution_id);
      return;
    }
  }
  if (!past_lookback && m->runs.items_num > 0 &&
      l->page < m->runs.total_pages) {
    list_job_t next = *l;
    next.page++;
    next.tries = 0;
    add_list(&next);
    return;
  }
  if (!l->resolve)
    projects[l->project].busy = false;
  else {
    wdr_metrics_skip(metrics, l->wf, WDR_SKIP_NO_FAILED_RUN);
    INFO(LOG_PREFIX "workflow %s: a failure signal without a run id, and no "
                    "failed run within PollLookback: nothing to rerun",
         cfg->workflows[l->wf].name);
  }
}

/* The read before an attempt answered: rerun now, or say why not. */
static void handle_check(const result_msg_t *m, int64_t now) {
  const wdr_policy_job_t *job = &m->job.job;
  const wdr_workflow_cfg_t *w = &cfg->workflows[job->wf];
  wdr_check_t check =
      wdr_policy_evaluate_check(&policy_wf[job->wf], m->view.state,
                                m->view.support_rerun, m->view.rerun_times);
  /* Tasks that cannot be named are rerun with the whole workflow: a
   * superset of what did not finish, never less. */
  bool whole = m->view.tasks_unnamed && policy_wf[job->wf].scope_incomplete;
  if (whole && check == WDR_CHECK_PASS)
    INFO(LOG_PREFIX "workflow %s: run %s lists task runs without a usable "
                    "TaskId (or too many): rerunning the whole workflow",
         w->name, job->execution_id);
  wdr_result_decision_t d =
      wdr_policy_on_check(policy, job, check, whole ? NULL : m->view.incomplete,
                          whole ? 0 : m->view.incomplete_num, now);
  state_dirty = true;
  if (d.verdict != WDR_RESULT_SKIPPED)
    return;
  static const struct {
    enum wdr_skip skip;
    const char *why;
  } reasons[] = {
      [WDR_CHECK_NOT_FAILED] = {WDR_SKIP_NOT_FAILED, "it is not FAILED"},
      [WDR_CHECK_NOT_RERUNNABLE] = {WDR_SKIP_NOT_RERUNNABLE,
                                    "WeData says it cannot be rerun"},
      [WDR_CHECK_EXHAUSTED] = {WDR_SKIP_EXHAUSTED,
                               "WeData counts MaxAttempts reruns already"},
  };
  wdr_metrics_skip(metrics, job->wf, reasons[check].skip);
  INFO(LOG_PREFIX "workflow %s: no rerun of %s: %s (state %s, SupportRerun "
                  "%s, RerunTimes %lld)",
       w->name, job->execution_id, reasons[check].why, m->view.state,
       m->view.support_rerun ? "true" : "false", m->view.rerun_times);
}

/* What a read of the async job of a followed rerun found. */
static void report_async(const result_msg_t *m, wdr_async_t what,
                         const wdr_track_decision_t *d, int64_t now) {
  const wdr_policy_job_t *job = &m->job.job;
  const wdr_workflow_cfg_t *w = &cfg->workflows[job->wf];
  const char *status = m->async.status;
  char text[1024];
  if (d->verdict == WDR_TRACK_TIMEOUT) {
    wdr_metrics_count(metrics, job->wf, WDR_CNT_ASYNC_TIMEOUT);
    snprintf(text, sizeof(text),
             "rerun of %s (workflow %s): async job %s has not ended after "
             "AsyncTimeout %g s (last status %s): following the run itself",
             job->execution_id, w->name, job->async_id, cfg->async_timeout,
             status[0] ? status : "unknown");
    notify(NOTIF_WARNING, w->name, "rerun", text, "AsyncId", job->async_id,
           "AsyncStatus", "TIMEOUT", "WorkflowId", w->workflow_id,
           "WorkflowExecutionId", job->execution_id, NULL);
    return;
  }
  if (d->verdict != WDR_TRACK_FOLLOW)
    return;
  if (what == WDR_ASYNC_GONE) {
    NOTICE(LOG_PREFIX "workflow %s: the async job %s of the rerun of %s "
                      "cannot be read (%s): following the run itself",
           w->name, job->async_id, job->execution_id,
           m->res.response.error_code);
    return;
  }
  bool success = strcmp(status, "SUCCESS") == 0;
  wdr_metrics_count(metrics, job->wf,
                    success                       ? WDR_CNT_ASYNC_SUCCESS
                    : strcmp(status, "FAIL") == 0 ? WDR_CNT_ASYNC_FAIL
                                                  : WDR_CNT_ASYNC_PART_SUCCESS);
  if (success) {
    INFO(LOG_PREFIX "workflow %s: async job %s of the rerun of %s ended "
                    "SUCCESS: following the run, next read in %.1f s",
         w->name, job->async_id, job->execution_id,
         (double)(d->at_ms - now) / 1000.0);
    return;
  }
  snprintf(text, sizeof(text),
           "rerun of %s (workflow %s): async job %s ended %s: %s; following "
           "the run",
           job->execution_id, w->name, job->async_id, status,
           m->async.error_desc[0] ? m->async.error_desc : "no ErrorDesc");
  notify(NOTIF_WARNING, w->name, "rerun", text, "AsyncId", job->async_id,
         "AsyncStatus", status, "ErrorDesc", m->async.error_desc, "WorkflowId",
         w->workflow_id, "WorkflowExecutionId", job->execution_id, NULL);
}

/* What a read of the run after its rerun found. */
static void report_follow(const result_msg_t *m, wdr_follow_t what,
                          const wdr_track_decision_t *d, int64_t now) {
  const wdr_policy_job_t *job = &m->job.job;
  const wdr_workflow_cfg_t *w = &cfg->workflows[job->wf];
  char text[1024], attempts[16], seconds[32];
  snprintf(attempts, sizeof(attempts), "%d", d->attempts);
  switch (d->verdict) {
  case WDR_TRACK_RECOVERED: {
    double s = (double)d->recover_ms / 1000.0;
    wdr_metrics_count(metrics, job->wf, WDR_CNT_RECOVERED);
    wdr_metrics_set_recovery(metrics, job->wf, s);
    snprintf(seconds, sizeof(seconds), "%.3f", s);
    snprintf(text, sizeof(text),
             "run %s (workflow %s) recovered: SUCCESS after %d rerun(s), "
             "%.1f s after its first failure signal",
             job->execution_id, w->name, d->attempts, s);
    notify(NOTIF_OKAY, w->name, "rerun", text, "Attempts", attempts,
           "TimeToRecover", seconds, "AsyncId", job->async_id, "WorkflowId",
           w->workflow_id, "WorkflowExecutionId", job->execution_id, NULL);
    return;
  }
  case WDR_TRACK_FAILED:
    if (d->signal.verdict == WDR_SIGNAL_SCHEDULED) {
      snprintf(text, sizeof(text),
               "run %s (workflow %s) failed again after %d rerun(s): next "
               "attempt in %.1f s",
               job->execution_id, w->name, d->attempts,
               (double)(d->signal.at_ms - now) / 1000.0);
      notify(NOTIF_WARNING, w->name, "rerun", text, "Attempts", attempts,
             "WorkflowId", w->workflow_id, "WorkflowExecutionId",
             job->execution_id, NULL);
    } else
      INFO(LOG_PREFIX "workflow %s: run %s failed again after %d rerun(s)",
           w->name, job->execution_id, d->attempts);
    report_decision(job->wf, job->execution_id, &d->signal, now);
    return;
  case WDR_TRACK_LOST: {
    const char *why = what == WDR_FOLLOW_GONE      ? "it cannot be read"
                      : what == WDR_FOLLOW_SKIPPED ? "it was skipped (SKIPED)"
                                                   : "it has not ended within "
                                                     "StateRetention";
    snprintf(text, sizeof(text),
             "stopped following the rerun of %s (workflow %s): %s%s%s",
             job->execution_id, w->name, why,
             what == WDR_FOLLOW_GONE ? ": " : "",
             what == WDR_FOLLOW_GONE ? m->res.response.error_code : "");
    notify(NOTIF_WARNING, w->name, "rerun", text, "Attempts", attempts,
           "WorkflowId", w->workflow_id, "WorkflowExecutionId",
           job->execution_id, NULL);
    return;
  }
  default:
    return;
  }
}

/* A read of a followed rerun came back (or did not). A read that failed is
 * made again later, except after a permanent error: then the async job (or
 * the run) is taken as gone. */
static void handle_track(const result_msg_t *m, wdr_api_class_t cls,
                         int64_t now) {
  const wdr_policy_job_t *job = &m->job.job;
  const wdr_response_t *r = &m->res.response;
  bool ok = cls == WDR_CLASS_OK;
  if (!ok) {
    wdr_metrics_error(metrics, job->wf, r->error_code);
    NOTICE(LOG_PREFIX "workflow %s: reading %s %s failed: %s: %s",
           cfg->workflows[job->wf].name,
           job->kind == WDR_JOB_ASYNC ? "the async job" : "the run",
           job->kind == WDR_JOB_ASYNC ? job->async_id : job->execution_id,
           r->error_code, r->error_message);
  }
  state_dirty = true;
  if (job->kind == WDR_JOB_ASYNC) {
    wdr_async_t what = ok ? wdr_policy_async_of(m->async.status)
                       : cls == WDR_CLASS_PERMANENT ? WDR_ASYNC_GONE
                                                    : WDR_ASYNC_PENDING;
    wdr_track_decision_t d = wdr_policy_on_async(
        policy, job, what, ok ? m->async.status : NULL, now);
    report_async(m, what, &d, now);
    return;
  }
  wdr_follow_t what = ok ? wdr_policy_follow_of(m->view.state)
                      : cls == WDR_CLASS_PERMANENT ? WDR_FOLLOW_GONE
                                                   : WDR_FOLLOW_UNKNOWN;
  wdr_track_decision_t d = wdr_policy_on_follow(
      policy, job, what, ok ? m->view.rerun_times : -1, now, next_rand());
  report_follow(m, what, &d, now);
}

static void handle_result(const result_msg_t *m, int64_t now) {
  if (m->job.is_list) {
    handle_list(m, now);
    return;
  }
  const wdr_policy_job_t *job = &m->job.job;
  const wdr_workflow_cfg_t *w = &cfg->workflows[job->wf];
  const wdr_response_t *r = &m->res.response;
  bool rerun = job->kind == WDR_JOB_RERUN;
  wdr_api_class_t cls = wdr_api_classify(&m->res);
  char text[1024];

  if (m->res.http_status != 0)
    wdr_metrics_latency(metrics, job->wf,
                        rerun                        ? WDR_ACTION_RERUN
                        : job->kind == WDR_JOB_ASYNC ? WDR_ACTION_ASYNC_JOB
                                                     : WDR_ACTION_GET_RUN,
                        m->res.seconds);
  if (m->rc == 0)
    record_breaker(cls == WDR_CLASS_OK || cls == WDR_CLASS_PERMANENT ||
                       cls == WDR_CLASS_RESIGN,
                   now);
  else
    wdr_breaker_cancel(&breaker); /* nothing was sent: no verdict */
  if (job->kind == WDR_JOB_ASYNC || job->kind == WDR_JOB_FOLLOW) {
    handle_track(m, cls, now);
    return;
  }
  if (!r->ok) {
    wdr_metrics_error(metrics, job->wf, r->error_code);
    if (rerun) {
      wdr_metrics_count(metrics, job->wf, WDR_CNT_FAILED);
      snprintf(text, sizeof(text), "rerun of %s (workflow %s) failed: %s: %s",
               job->execution_id, w->name, r->error_code, r->error_message);
      notify(NOTIF_WARNING, w->name, "rerun", text, "ErrorCode", r->error_code,
             "ErrorMessage", r->error_message, "RequestId", r->request_id,
             "WorkflowId", w->workflow_id, "WorkflowExecutionId",
             job->execution_id, NULL);
    } else
      NOTICE(LOG_PREFIX "reading run %s (workflow %s) failed: %s: %s",
             job->execution_id, w->name, r->error_code, r->error_message);
  }

  if (job->kind == WDR_JOB_CHECK && cls == WDR_CLASS_OK) {
    handle_check(m, now);
    return;
  }
  wdr_result_decision_t d =
      wdr_policy_on_result(policy, job, outcome_of(m, cls), r->async_id,
                           r->error_code, now, next_rand());
  state_dirty = true;
  switch (d.verdict) {
  case WDR_RESULT_ACCEPTED:
    wdr_metrics_count(metrics, job->wf, WDR_CNT_ACCEPTED);
    if (rerun)
      snprintf(text, sizeof(text),
               "rerun of %s (workflow %s) accepted: AsyncId %s",
               job->execution_id, w->name, r->async_id);
    else
      snprintf(text, sizeof(text),
               "rerun of %s (workflow %s) accepted: its answer was lost, but "
               "the run shows it (state %s, RerunTimes %lld); AsyncId unknown",
               job->execution_id, w->name, m->view.state, m->view.rerun_times);
    notify(NOTIF_OKAY, w->name, "rerun", text, "AsyncId",
           rerun ? r->async_id : "", "RequestId", r->request_id, "WorkflowId",
           w->workflow_id, "WorkflowExecutionId", job->execution_id, NULL);
    if (d.at_ms != 0) /* TrackAsync */
      INFO(LOG_PREFIX "workflow %s: following the rerun of %s: first read of "
                      "%s in %.1f s",
           w->name, job->execution_id, rerun ? "its async job" : "the run",
           (double)(d.at_ms - now) / 1000.0);
    break;
  case WDR_RESULT_RETRY: {
    wdr_metrics_count(metrics, job->wf, WDR_CNT_RETRIES);
    const char *why = job->kind == WDR_JOB_RERUN ? r->error_code
                      : job->kind == WDR_JOB_VERIFY
                          ? "the run shows no rerun: resending"
                          : "reading the run before the rerun failed: "
                            "reading again";
    INFO(LOG_PREFIX "workflow %s: rerun of %s: retrying in %.1f s (%s)",
         w->name, job->execution_id, (double)(d.at_ms - now) / 1000.0, why);
    break;
  }
  case WDR_RESULT_VERIFY:
    NOTICE(LOG_PREFIX "workflow %s: the rerun request for %s may have reached "
                      "WeData (%s): reading the run in %.1f s before anything "
                      "is sent again",
           w->name, job->execution_id, r->error_code,
           (double)(d.at_ms - now) / 1000.0);
    break;
  case WDR_RESULT_PERMANENT:
    wdr_metrics_skip(metrics, job->wf, WDR_SKIP_PERMANENT_ERROR);
    snprintf(text, sizeof(text),
             "rerun of %s (workflow %s) stopped: %s: %s; not retried",
             job->execution_id, w->name, r->error_code, r->error_message);
    notify(NOTIF_FAILURE, w->name, "rerun", text, "ErrorCode", r->error_code,
           "ErrorMessage", r->error_message, "RequestId", r->request_id,
           "WorkflowId", w->workflow_id, "WorkflowExecutionId",
           job->execution_id, NULL);
    break;
  case WDR_RESULT_RETRIES_EXHAUSTED: {
    wdr_metrics_skip(metrics, job->wf, WDR_SKIP_RETRIES_EXHAUSTED);
    const char *ending =
        job->kind == WDR_JOB_RERUN ? ""
        : job->kind == WDR_JOB_VERIFY
            ? " and counts as made, since it may have reached WeData"
            : "; the run could not be read, and nothing was sent";
    snprintf(text, sizeof(text),
             "rerun of %s (workflow %s): %s after %d retries "
             "(MaxRequestRetries); this attempt ends%s",
             job->execution_id, w->name,
             r->error_code[0] ? r->error_code : "no answer",
             cfg->max_request_retries, ending);
    notify(NOTIF_FAILURE, w->name, "rerun", text, "ErrorCode", r->error_code,
           "ErrorMessage", r->error_message, "WorkflowId", w->workflow_id,
           "WorkflowExecutionId", job->execution_id, NULL);
    break;
  }
  case WDR_RESULT_WOULD_RERUN:
  case WDR_RESULT_STALE:
  case WDR_RESULT_CHECKED: /* handled in handle_check */
  case WDR_RESULT_SKIPPED:
    break;
  }
}

/* May one more request go now? Takes a rate-limit token and, when the
 * breaker is half-open, its probe. Otherwise lowers *wake to when to try. */
static bool may_send(int64_t now, int64_t *wake) {
  int64_t wait = 0;
  /* The rate limit first: a refused token costs nothing, while a
   * half-open breaker hands out its one probe when it says yes. */
  if (wdr_ratelimit_take(&ratelimit, now, &wait) &&
      wdr_breaker_allow(&breaker, now, &wait))
    return true;
  int64_t at = now + (wait > 0 ? wait : IDLE_WAKE_MS);
  if (at < *wake)
    *wake = at;
  return false;
}

/* Hands due work to the workers while the rate limit, the breaker and free
 * workers allow: listings of runs first (they find failures), then the
 * policy's jobs. Returns when the next attempt could succeed. */
static int64_t dispatch(int64_t now) {
  int64_t wake = now + IDLE_WAKE_MS;
  job_msg_t jobs[WORKERS_MAX];
  size_t jobs_num = 0;
  size_t room = wdr_inbox_job_room(inbox);
  bool blocked = false;
  for (size_t i = 0;
       i < lists_num && jobs_num < room && jobs_num < WORKERS_MAX;) {
    if (lists[i].not_before > now) {
      if (lists[i].not_before < wake)
        wake = lists[i].not_before;
      i++;
      continue;
    }
    if (!may_send(now, &wake)) {
      blocked = true;
      break;
    }
    jobs[jobs_num++] = (job_msg_t){.is_list = true, .list = lists[i]};
    memmove(&lists[i], &lists[i + 1], (lists_num - i - 1) * sizeof(lists[0]));
    lists_num--;
  }
  while (!blocked && jobs_num < room && jobs_num < WORKERS_MAX) {
    job_msg_t *msg = &jobs[jobs_num];
    wdr_policy_job_t *job = &msg->job;
    *msg = (job_msg_t){.is_list = false};
    int64_t next = INT64_MAX;
    if (!wdr_policy_take_due(policy, now, job, &next)) {
      if (next < wake)
        wake = next;
      break;
    }
    const wdr_workflow_cfg_t *w = &cfg->workflows[job->wf];
    if (job->dry_run) {
      wdr_metrics_count(metrics, job->wf, WDR_CNT_WOULD_RERUN);
      (void)wdr_policy_on_result(policy, job, WDR_OUTCOME_DRY_RUN, NULL, NULL,
                                 now, next_rand());
      INFO(LOG_PREFIX "dry run: would rerun %s of workflow %s (ExecuteType "
                      "%d)",
           job->execution_id, w->name, w->execute_type);
      continue;
    }
    if (!may_send(now, &wake)) {
      wdr_policy_requeue(policy, job);
      break;
    }
    if (job->kind == WDR_JOB_RERUN)
      wdr_metrics_count(metrics, job->wf, WDR_CNT_ATTEMPTS);
    jobs_num++;
  }
  if (jobs_num == 0)
    return wake;
  /* The state file says "in flight" before any of them can leave: after a
   * crash they are verified, never resent blindly. */
  state_dirty = true;
  save_state();
  for (size_t i = 0; i < jobs_num; i++)
    if (wdr_inbox_push_job(inbox, &jobs[i]) != 0) {
      if (jobs[i].is_list)
        add_list(&jobs[i].list);
      else
        wdr_policy_requeue(policy, &jobs[i].job);
      wdr_breaker_cancel(&breaker);
    }
  return wake;
}

static void drain(int64_t now) {
  result_msg_t res;
  while (wdr_inbox_pop_result(inbox, &res) == 0) {
    handle_result(&res, now);
    wdr_run_view_free(&res.view); /* the worker handed them over */
    wdr_run_list_free(&res.runs);
  }
  signal_msg_t sig;
  while (wdr_inbox_pop_signal(inbox, &sig) == 0)
    handle_signal(&sig, now);
}

static void *policy_main(void *arg) {
  (void)arg;
  int64_t next_prune = now_ms() + PRUNE_EVERY_MS;
  while (!wdr_inbox_stopped(inbox)) {
    int64_t now = now_ms();
    drain(now);
    if (now >= next_prune) {
      if (wdr_policy_prune(policy, now) > 0)
        state_dirty = true;
      next_prune = now + PRUNE_EVERY_MS;
    }
    if (projects_num > 0 && now >= next_poll) {
      for (size_t i = 0; i < projects_num; i++)
        if (!projects[i].busy) {
          projects[i].busy = true;
          add_list(&(list_job_t){.project = i, .page = 1});
        }
      next_poll = now + (int64_t)(cfg->poll_interval * 1000.0);
    }
    int64_t wake = dispatch(now);
    if (projects_num > 0 && next_poll < wake)
      wake = next_poll;
    save_state();
    atomic_store(&pending_runs, wdr_policy_pending(policy));
    wdr_inbox_wait(inbox, wake < next_prune ? wake : next_prune);
  }
  /* Workers are joined: take their last results, take back the jobs none
   * of them started, and leave an exact state file behind. */
  drain(now_ms());
  job_msg_t job;
  while (wdr_inbox_unpush_job(inbox, &job) == 0) {
    if (!job.is_list)
      wdr_policy_requeue(policy, &job.job);
    wdr_breaker_cancel(&breaker);
  }
  state_dirty = true;
  save_state();
  return NULL;
}

/* --- workers -------------------------------------------------------------
 */

static void run_job(const job_msg_t *msg, const wdr_transport_t *t,
                    result_msg_t *out) {
  const wdr_policy_job_t *job = &msg->job;
  const wdr_workflow_cfg_t *w = &cfg->workflows[job->wf];
  wdr_api_endpoint_t ep = {.url = cfg->url,
                           .host = cfg->host_header,
                           .region = cfg->region,
                           .secret_id = cfg->secret_id,
                           .secret_key = cfg->secret_key,
                           .session_token = cfg->session_token,
                           .language = cfg->language};
  out->job = *msg;
  /* Signed with the time it is sent at, not the time it was queued. */
  int64_t now = (int64_t)time(NULL);
  if (msg->is_list) {
    const list_job_t *l = &msg->list;
    const wdr_workflow_cfg_t *lw = &cfg->workflows[l->wf];
    const char *one = lw->workflow_id;
    out->rc = wdr_api_list_runs(
        &ep, t, l->resolve ? lw->project_id : projects[l->project].project_id,
        l->resolve ? &one : projects[l->project].ids,
        l->resolve ? 1 : projects[l->project].num, l->page, now, &out->res,
        &out->runs);
    return;
  }
  if (job->kind == WDR_JOB_ASYNC) {
    out->rc = wdr_api_get_async_job(&ep, t, w->project_id, job->async_id, now,
                                    &out->res, &out->async);
    return;
  }
  if (job->kind != WDR_JOB_RERUN) {
    out->rc = wdr_api_get_run(&ep, t, w->project_id, job->execution_id, now,
                              &out->res, &out->view);
    return;
  }
  wdr_rerun_req_t req = {.project_id = w->project_id,
                         .workflow_id = w->workflow_id,
                         .execution_id = job->execution_id,
                         .execute_type = w->execute_type,
                         .task_ids = w->task_ids,
                         .task_ids_num = w->task_ids_num,
                         .params = w->params,
                         .params_num = w->params_num,
                         .scheduling_rg = w->scheduling_rg,
                         .integration_rg = w->integration_rg};
  if (job->execute_type == 1) { /* the whole workflow, default parameters */
    req.execute_type = 1;
    req.task_ids_num = 0;
    req.params_num = 0;
  } else if (job->execute_type == 2) { /* only the tasks that did not finish */
    req.execute_type = 2;
    req.task_ids = job->task_ids;
    req.task_ids_num = job->task_ids_num;
  }
  out->rc = wdr_api_rerun(&ep, t, &req, now, &out->res);
}

/* Worker thread: owns one HTTP handle, kept alive between requests. */
static void *worker_main(void *arg) {
  (void)arg;
  wdr_http_t *http = wdr_http_create(&(wdr_http_options_t){
      .ca_cert = cfg->ca_cert,
      .verify_peer = cfg->verify_peer,
      .timeout_ms = (long)ceil(cfg->timeout * 1000.0),
      .user_agent = "wedata_rerun/" WDR_VERSION " collectd"});
  if (http == NULL) {
    ERROR(LOG_PREFIX "a worker cannot create its HTTP handle; it stops");
    return NULL;
  }
  wdr_transport_t t = {.post = wdr_http_post, .ctx = http};
  job_msg_t job;
  result_msg_t *res = malloc(sizeof(*res));
  while (res != NULL && wdr_inbox_pop_job(inbox, &job) == 0) {
    memset(res, 0, sizeof(*res));
    run_job(&job, &t, res);
    wdr_inbox_push_result(inbox, res);
  }
  free(res);
  wdr_http_destroy(http);
  return NULL;
}

/* --- collectd callbacks --------------------------------------------------
 */

static void enqueue(size_t wf, const char *execution_id) {
  signal_msg_t m = {.wf = wf};
  sstrncpy(m.execution_id, execution_id, sizeof(m.execution_id));
  if (wdr_inbox_push_signal(inbox, &m) == 0)
    return;
  wdr_metrics_count(metrics, wf, WDR_CNT_DROPPED);
  uint64_t held = 0;
  if (log_allowed(&limit_dropped, &held))
    WARNING(LOG_PREFIX "queue full (QueueLimit %d): dropped the signal for "
                       "%s of workflow %s (%" PRIu64 " more such "
                       "messages held back)",
            cfg->queue_limit, execution_id[0] ? execution_id : "(no run id)",
            cfg->workflows[wf].name, held);
}

/* Runs on whichever collectd thread dispatched n: no I/O here, only
 * matching, counting and a non-blocking push. */
static int wdr_notification_cb(const notification_t *n,
                               user_data_t __attribute__((unused)) * ud) {
  pthread_rwlock_rdlock(&plugin_state_lock);
  if (stopping || cfg == NULL || wdr_signal_is_own(n))
    goto out;
  for (size_t i = 0; i < cfg->workflows_num; i++) {
    char run[WDR_ID_MAX];
    wdr_signal_kind_t kind = wdr_signal_classify(&cfg->workflows[i], n, run);
    if (kind == WDR_SIGNAL_NONE)
      continue;
    wdr_metrics_count(metrics, i, WDR_CNT_SIGNALS);
    if (kind == WDR_SIGNAL_RUN || kind == WDR_SIGNAL_NO_EXECUTION_ID) {
      /* Without a run id the policy thread looks for the newest failed
       * run of the workflow (an empty id asks for that). */
      enqueue(i, kind == WDR_SIGNAL_RUN ? run : "");
      continue;
    }
    enum wdr_skip why = WDR_SKIP_BAD_EXECUTION_ID;
    wdr_metrics_skip(metrics, i, why);
    uint64_t held = 0;
    if (log_allowed(&limit_skipped, &held))
      NOTICE(LOG_PREFIX "workflow %s: skipped a failure signal (%s): it "
                        "needs string meta WorkflowExecutionId naming the "
                        "run (\"%s\" from host \"%s\", plugin \"%s\"; %" PRIu64
                        " more messages held back)",
             cfg->workflows[i].name, wdr_skip_name(why), n->message, n->host,
             n->plugin, held);
  }
out:
  pthread_rwlock_unlock(&plugin_state_lock);
  return 0;
}

static void dispatch_metric(void *ctx, const wdr_metric_t *m) {
  (void)ctx;
  value_t v = m->is_derive ? (value_t){.derive = (derive_t)m->derive}
                           : (value_t){.gauge = m->gauge};
  value_list_t vl = VALUE_LIST_INIT;
  vl.values = &v;
  vl.values_len = 1;
  sstrncpy(vl.plugin, WDR_PLUGIN_NAME, sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, m->plugin_instance, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, m->type, sizeof(vl.type));
  sstrncpy(vl.type_instance, m->type_instance, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

static int wdr_read_cb(void) {
  pthread_rwlock_rdlock(&plugin_state_lock);
  if (!stopping && metrics != NULL)
    wdr_metrics_emit(metrics, workflow_names,
                     wdr_inbox_signals(inbox) + atomic_load(&pending_runs),
                     dispatch_metric, NULL);
  pthread_rwlock_unlock(&plugin_state_lock);
  return 0;
}

/* --- init and shutdown ---------------------------------------------------
 */

/* Stops and joins every thread init started, in the order wdr_inbox.h
 * gives. */
static void stop_threads(void) {
  if (inbox == NULL)
    return;
  wdr_inbox_stop_jobs(inbox);
  for (int i = 0; i < workers_num; i++)
    pthread_join(workers[i], NULL);
  workers_num = 0;
  wdr_inbox_stop(inbox);
  if (policy_running)
    pthread_join(policy_thread, NULL);
  policy_running = false;
  if (notes != NULL)
    wdr_inbox_stop(notes);
  if (notifier_running)
    pthread_join(notifier_thread, NULL);
  notifier_running = false;
}

static void free_projects(void) {
  for (size_t i = 0; projects != NULL && i < projects_num; i++) {
    free(projects[i].wf);
    free(projects[i].ids);
  }
  free(projects);
  projects = NULL;
  projects_num = 0;
  lists_num = 0;
}

/* Frees everything init built; no thread of ours may be running, and no
 * collectd callback may be using it (the caller holds the write lock, or
 * the callbacks were never registered). */
static void free_state(void) {
  wdr_inbox_destroy(inbox);
  inbox = NULL;
  wdr_inbox_destroy(notes);
  notes = NULL;
  wdr_metrics_destroy(metrics);
  metrics = NULL;
  wdr_policy_destroy(policy);
  policy = NULL;
  free(policy_wf);
  policy_wf = NULL;
  free(persist_wf);
  persist_wf = NULL;
  free_projects();
  free(workflow_names);
  workflow_names = NULL;
  wdr_config_free(cfg);
  cfg = NULL;
  if (http_ready)
    wdr_http_global_cleanup();
  http_ready = false;
}

/* Groups the polled workflows by project: one listing per project and
 * page, however many workflows it has. */
static int build_projects(void) {
  size_t n = cfg->workflows_num;
  projects = calloc(n, sizeof(*projects));
  if (projects == NULL)
    return -1;
  for (size_t i = 0; i < n; i++) {
    const wdr_workflow_cfg_t *w = &cfg->workflows[i];
    if (!w->poll)
      continue;
    size_t p = 0;
    while (p < projects_num && strcmp(projects[p].project_id, w->project_id))
      p++;
    if (p == projects_num) {
      projects[p].project_id = w->project_id;
      projects[p].wf = calloc(n, sizeof(size_t));
      projects[p].ids = calloc(n, sizeof(char *));
      projects_num++;
      if (projects[p].wf == NULL || projects[p].ids == NULL)
        return -1;
    }
    projects[p].wf[projects[p].num] = i;
    projects[p].ids[projects[p].num] = w->workflow_id;
    projects[p].num++;
  }
  return 0;
}

static int build_policy(void) {
  size_t n = cfg->workflows_num;
  policy_wf = calloc(n, sizeof(*policy_wf));
  persist_wf = calloc(n, sizeof(*persist_wf));
  workflow_names = calloc(n, sizeof(*workflow_names));
  if (policy_wf == NULL || persist_wf == NULL || workflow_names == NULL)
    return -1;
  for (size_t i = 0; i < n; i++) {
    const wdr_workflow_cfg_t *w = &cfg->workflows[i];
    bool dry = w->dry_run < 0 ? cfg->dry_run : w->dry_run != 0;
    policy_wf[i] = (wdr_policy_wf_t){
        .max_attempts = w->max_attempts,
        .retry_interval_ms = (int64_t)ceil(w->retry_interval * 1000.0),
        .max_retry_interval_ms = (int64_t)ceil(w->max_retry_interval * 1000.0),
        .max_reruns_per_hour = w->max_reruns_per_hour,
        .dry_run = dry,
        .verify = w->verify_before_rerun,
        .scope_incomplete = w->scope_incomplete,
        .escalate = w->escalate_to_full,
        .track = w->track_async};
    /* Dry-run decisions stay in memory: they must not use up the attempts
     * of real reruns once DryRun is switched off. */
    persist_wf[i] = !dry;
    workflow_names[i] = w->name;
  }
  policy = create_policy();
  return policy != NULL ? 0 : -1;
}

static int wdr_init(void) {
  if (cfg == NULL) {
    ERROR(LOG_PREFIX "LoadPlugin wedata_rerun without a <Plugin "
                     "wedata_rerun> block: nothing to do");
    return -1;
  }
  /* libcurl's global init is not thread-safe: collectd is still
   * single-threaded while init callbacks run. */
  if (wdr_http_global_init() != 0) {
    ERROR(LOG_PREFIX "curl_global_init failed");
    goto fail;
  }
  http_ready = true;
  int64_t now = now_ms();
  rng_state = (uint32_t)now ^ ((uint32_t)getpid() << 16) ^ 0x9e3779b9u;
  if (rng_state == 0)
    rng_state = 1;
  next_poll = now; /* the first poll right at the start */
  if (build_policy() != 0 || build_projects() != 0 || load_state(now) != 0) {
    ERROR(LOG_PREFIX "out of memory");
    goto fail;
  }
  wdr_ratelimit_init(&ratelimit, cfg->rate_limit, 1.0, now);
  wdr_breaker_init(&breaker, cfg->breaker_threshold,
                   (int64_t)(cfg->breaker_cooldown * 1000.0));
  inbox = wdr_inbox_create(sizeof(signal_msg_t), (size_t)cfg->queue_limit,
                           sizeof(job_msg_t), sizeof(result_msg_t),
                           (size_t)cfg->workers);
  notes = wdr_inbox_create(sizeof(note_msg_t), NOTES_MAX, 1, 1, 1);
  metrics = wdr_metrics_create(cfg->workflows_num);
  if (inbox == NULL || notes == NULL || metrics == NULL) {
    ERROR(LOG_PREFIX "out of memory");
    goto fail;
  }
  atomic_store(&pending_runs, wdr_policy_pending(policy));
  for (int i = 0; i < cfg->workers; i++) {
    char name[32]; /* at most 15 characters: the kernel's limit */
    snprintf(name, sizeof(name), "wedata_rerun#%d", i);
    int status = plugin_thread_create(&workers[i], worker_main, NULL, name);
    if (status != 0) {
      ERROR(LOG_PREFIX "cannot start worker thread: %s", STRERROR(status));
      goto fail;
    }
    workers_num++;
  }
  int status = plugin_thread_create(&notifier_thread, notifier_main, NULL,
                                    "wedata_notify");
  if (status != 0) {
    ERROR(LOG_PREFIX "cannot start the notifier thread: %s", STRERROR(status));
    goto fail;
  }
  notifier_running = true;
  status =
      plugin_thread_create(&policy_thread, policy_main, NULL, "wedata_policy");
  if (status != 0) {
    ERROR(LOG_PREFIX "cannot start the policy thread: %s", STRERROR(status));
    goto fail;
  }
  policy_running = true;
  if (plugin_register_notification(WDR_PLUGIN_NAME, wdr_notification_cb,
                                   NULL) != 0) {
    ERROR(LOG_PREFIX "cannot register the notification callback");
    goto fail;
  }
  if (plugin_register_read(WDR_PLUGIN_NAME, wdr_read_cb) != 0) {
    ERROR(LOG_PREFIX "cannot register the read callback");
    plugin_unregister_notification(WDR_PLUGIN_NAME);
    goto fail;
  }
  INFO(LOG_PREFIX "watching %zu workflow(s), sending reruns to %s (region "
                  "%s) with %d worker(s), at most %g requests/s; state file "
                  "\"%s\"%s",
       cfg->workflows_num, cfg->url, cfg->region, cfg->workers, cfg->rate_limit,
       cfg->state_file, cfg->dry_run ? "; DRY RUN: no rerun is sent" : "");
  return 0;
fail:
  stop_threads();
  free_state();
  return -1;
}

static int wdr_shutdown(void) {
  if (inbox != NULL) {
    size_t queued = wdr_inbox_signals(inbox);
    if (queued > 0)
      WARNING(LOG_PREFIX "shutting down with %zu signal(s) not yet looked "
                         "at; they are dropped",
              queued);
  }
  /* Without the lock: a worker in the middle of a request finishes it (at
   * most Timeout), and the policy thread records its outcome. */
  stop_threads();
  pthread_rwlock_wrlock(&plugin_state_lock);
  stopping = true;
  free_state();
  pthread_rwlock_unlock(&plugin_state_lock);
  return 0;
}

void module_register(void) __attribute__((visibility("default")));
void module_register(void) {
  plugin_register_complex_config(WDR_PLUGIN_NAME, wdr_config_cb);
  plugin_register_init(WDR_PLUGIN_NAME, wdr_init);
  plugin_register_shutdown(WDR_PLUGIN_NAME, wdr_shutdown);
}
