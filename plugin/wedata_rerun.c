/* wedata_rerun: collectd registration and the plugin's threads.
 *
 * The only file that registers with the daemon. Data flows one way:
 * notification callback (any collectd thread: match, copy, enqueue, return)
 * -> bounded queue -> worker threads (sign, POST, parse) -> counters and
 * notifications. The read callback only reads counters.
 *
 * Lifetime: the config is built in the config callback; everything else in
 * init. plugin_state_lock guards the pointers below against the one writer
 * that frees them (shutdown): every callback holds it for reading while it
 * uses them, and sees stopping == true after shutdown. */

#include "collectd/core/daemon/collectd.h"

#include "collectd/core/daemon/plugin.h"
#include "collectd/core/utils/common/common.h"

#include "wdr_api.h"
#include "wdr_config.h"
#include "wdr_http.h"
#include "wdr_metrics.h"
#include "wdr_queue.h"
#include "wdr_signal.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define LOG_PREFIX WDR_PLUGIN_NAME " plugin: "
#define WORKERS_MAX 16
#define LOG_EVERY_SECONDS 10 /* for per-signal messages during a storm */

static pthread_rwlock_t plugin_state_lock = PTHREAD_RWLOCK_INITIALIZER;
static wdr_config_t *cfg;
static wdr_queue_t *queue;
static wdr_metrics_t *metrics;
static char **workflow_names; /* cfg's names, as wdr_metrics_emit wants */
static pthread_t workers[WORKERS_MAX];
static int workers_num;
static bool stopping;
static bool http_ready;

/* Per-signal log lines are limited to one each LOG_EVERY_SECONDS, with a
 * count of what was held back, so a storm does not flood the log. */
typedef struct {
  _Atomic int64_t last;
  _Atomic uint64_t held;
} log_limit_t;

static log_limit_t limit_dropped, limit_skipped;

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

static void add_meta(notification_t *n, const char *name, const char *value) {
  if (value != NULL && value[0] != '\0')
    plugin_notification_meta_add_string(n, name, value);
}

/* Dispatches the plugin's own notification about one rerun result. */
static void notify_result(const wdr_workflow_cfg_t *w, const wdr_job_t *job,
                          const wdr_response_t *r) {
  notification_t n = {
      .severity = r->ok ? NOTIF_OKAY : NOTIF_WARNING,
      .time = cdtime(),
  };
  sstrncpy(n.host, hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, WDR_PLUGIN_NAME, sizeof(n.plugin));
  sstrncpy(n.plugin_instance, w->name, sizeof(n.plugin_instance));
  sstrncpy(n.type, "rerun", sizeof(n.type));
  /* The full text goes to the log; the notification keeps what fits in its
   * NOTIF_MAX_MSG_LEN bytes, the meta keeps every field whole. */
  char text[1024];
  if (r->ok)
    snprintf(text, sizeof(text),
             "rerun of %s (workflow %s) accepted: AsyncId %s",
             job->execution_id, w->name, r->async_id);
  else
    snprintf(text, sizeof(text), "rerun of %s (workflow %s) failed: %s: %s",
             job->execution_id, w->name, r->error_code, r->error_message);
  sstrncpy(n.message, text, sizeof(n.message));
  if (r->ok)
    add_meta(&n, "AsyncId", r->async_id);
  else {
    add_meta(&n, "ErrorCode", r->error_code);
    add_meta(&n, "ErrorMessage", r->error_message);
  }
  add_meta(&n, "RequestId", r->request_id);
  add_meta(&n, "WorkflowId", w->workflow_id);
  add_meta(&n, "WorkflowExecutionId", job->execution_id);
  INFO(LOG_PREFIX "%s%s%s", text, r->request_id[0] ? ", RequestId " : "",
       r->request_id);
  plugin_dispatch_notification(&n);
  if (n.meta != NULL)
    plugin_notification_meta_free(n.meta);
}

static void run_job(const wdr_job_t *job, const wdr_transport_t *t) {
  const wdr_workflow_cfg_t *w = &cfg->workflows[job->workflow];
  wdr_api_endpoint_t ep = {.url = cfg->url,
                           .host = cfg->host_header,
                           .region = cfg->region,
                           .secret_id = cfg->secret_id,
                           .secret_key = cfg->secret_key,
                           .session_token = cfg->session_token,
                           .language = cfg->language};
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
  wdr_api_result_t res;
  wdr_metrics_count(metrics, job->workflow, WDR_CNT_ATTEMPTS);
  /* Signed with the time it is sent at, not the time it was queued. */
  if (wdr_api_rerun(&ep, t, &req, (int64_t)time(NULL), &res) == 0 &&
      res.http_status != 0)
    wdr_metrics_latency(metrics, job->workflow, WDR_ACTION_RERUN, res.seconds);
  wdr_metrics_count(metrics, job->workflow,
                    res.response.ok ? WDR_CNT_ACCEPTED : WDR_CNT_FAILED);
  if (!res.response.ok)
    wdr_metrics_error(metrics, job->workflow, res.response.error_code);
  notify_result(w, job, &res.response);
}

/* Worker thread: owns one HTTP handle (kept alive between requests). Reads
 * cfg, queue and metrics without plugin_state_lock: shutdown frees them only
 * after joining every worker. */
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
  wdr_job_t job;
  while (wdr_queue_pop(queue, &job) == 0)
    run_job(&job, &t);
  wdr_http_destroy(http);
  return NULL;
}

static void enqueue(size_t wf, const char *execution_id) {
  wdr_job_t job = {.workflow = wf, .received = (int64_t)time(NULL)};
  sstrncpy(job.execution_id, execution_id, sizeof(job.execution_id));
  if (wdr_queue_push(queue, &job) == 0)
    return;
  wdr_metrics_count(metrics, wf, WDR_CNT_DROPPED);
  uint64_t held = 0;
  if (log_allowed(&limit_dropped, &held))
    WARNING(LOG_PREFIX "queue full (QueueLimit %d): dropped the signal for "
                       "%s of workflow %s (%" PRIu64 " more such "
                       "messages held back)",
            cfg->queue_limit, execution_id, cfg->workflows[wf].name, held);
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
    if (kind == WDR_SIGNAL_RUN) {
      enqueue(i, run);
      continue;
    }
    enum wdr_skip why = kind == WDR_SIGNAL_NO_EXECUTION_ID
                            ? WDR_SKIP_NO_EXECUTION_ID
                            : WDR_SKIP_BAD_EXECUTION_ID;
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
    wdr_metrics_emit(metrics, workflow_names, wdr_queue_length(queue),
                     dispatch_metric, NULL);
  pthread_rwlock_unlock(&plugin_state_lock);
  return 0;
}

/* Frees everything init built; the caller holds the write lock or is the
 * only thread. Workers must have been joined. */
static void free_state(void) {
  wdr_queue_destroy(queue);
  queue = NULL;
  wdr_metrics_destroy(metrics);
  metrics = NULL;
  free(workflow_names);
  workflow_names = NULL;
  wdr_config_free(cfg);
  cfg = NULL;
  if (http_ready)
    wdr_http_global_cleanup();
  http_ready = false;
}

static void stop_workers(void) {
  if (queue != NULL)
    wdr_queue_stop(queue);
  for (int i = 0; i < workers_num; i++)
    pthread_join(workers[i], NULL);
  workers_num = 0;
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
  queue = wdr_queue_create((size_t)cfg->queue_limit);
  metrics = wdr_metrics_create(cfg->workflows_num);
  workflow_names = calloc(cfg->workflows_num, sizeof(char *));
  if (queue == NULL || metrics == NULL || workflow_names == NULL) {
    ERROR(LOG_PREFIX "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < cfg->workflows_num; i++)
    workflow_names[i] = cfg->workflows[i].name;
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
                  "%s) with %d worker(s)",
       cfg->workflows_num, cfg->url, cfg->region, cfg->workers);
  return 0;
fail:
  stop_workers();
  free_state();
  return -1;
}

static int wdr_shutdown(void) {
  /* Wake the workers first, without the lock: a worker in the middle of a
   * request finishes it (at most Timeout) so that its outcome is counted. */
  if (queue != NULL) {
    size_t pending = wdr_queue_length(queue);
    if (pending > 0)
      WARNING(LOG_PREFIX "shutting down with %zu rerun(s) still queued; they "
                         "are not sent",
              pending);
  }
  stop_workers();
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
