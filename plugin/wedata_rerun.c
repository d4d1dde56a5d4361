/* wedata_rerun: the collectd glue. Registers the callbacks and adapts.
 *
 *   config callback        -> wdr_config (the validated, immutable config)
 *   init callback          -> builds the sink, the engine (wdr_engine) and the
 *                             threads (wdr_runtime), then registers the rest
 *   notification callback  -> wdr_signal (which workflow, which run)
 *                             -> wdr_runtime_signal (a non-blocking push)
 *   read callback          -> wdr_metrics (every counter, dispatched)
 *   shutdown callback      -> wdr_runtime_stop, then frees everything
 *
 * Every decision lives below (wdr_engine and what it uses); this file only
 * turns collectd's types into the plugin's and back: log levels, the
 * notification_t of the plugin's own notifications, the values it
 * dispatches, threads created the collectd way.
 *
 * Lifetime: the config is built in the config callback, everything else in
 * init. plugin_state_lock guards the shared pointers against the one writer
 * that frees them (shutdown): collectd's callbacks hold it for reading while
 * they use them and see stopping == true afterwards. The runtime's threads
 * are joined before anything is freed. */

#include "collectd/core/daemon/collectd.h"

#include "collectd/core/daemon/plugin.h"
#include "collectd/core/utils/common/common.h"

#include "wdr_config.h"
#include "wdr_cred.h"
#include "wdr_credfile.h"
#include "wdr_credrefresh.h"
#include "wdr_credrole.h"
#include "wdr_credstore.h"
#include "wdr_crypto.h"
#include "wdr_engine.h"
#include "wdr_http.h"
#include "wdr_loglimit.h"
#include "wdr_metrics.h"
#include "wdr_runtime.h"
#include "wdr_signal.h"
#include "wdr_state.h"

#include <malloc.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX WDR_PLUGIN_NAME " plugin: "

/* Shared with collectd's threads (see the lock rule above). */
static pthread_rwlock_t plugin_state_lock = PTHREAD_RWLOCK_INITIALIZER;
static wdr_config_t *cfg;
static wdr_metrics_t *metrics;
static wdr_runtime_t *runtime;
/* The credentials requests are signed with, and the profile file they came
 * from when they did (looked at on each read callback). */
static wdr_credstore_t *creds;
static wdr_credfile_watch_t cred_watch;
static bool cred_watching;
/* The CVM role: the metadata service's fetcher and the thread that renews
 * the credentials (their reports come on that thread). */
static wdr_credrole_t *role_fetcher;
static wdr_credrefresh_t *refresher;
static wdr_credrefresh_cfg_t refresh_cfg;
static wdr_loglimit_t limit_refresh;
static bool role_ok; /* the last fetch worked; the refresher's thread */
/* The expiry of the role's set in use (0: none yet): a fetch that brings
 * another one replaced the credentials (credential_refreshes); the first,
 * or the same set again, did not. The refresher's thread. */
static int64_t role_expires_at;
static wdr_signal_index_t *signal_index;
static bool stopping;

/* Built in init, freed at shutdown. */
static wdr_engine_t *engine;
static int state_lock = -1;
static char *journal_path; /* <StateFile>.journal */
static char *next_path;    /* <StateFile>.journal.next, during a fold */
static bool http_ready;
static wdr_http_options_t http_options;
static wdr_sink_t sink;

static wdr_loglimit_t limit_dropped, limit_skipped;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the sink: the engine's reports, the collectd way -------------------- */

static void sink_log(void *ctx, wdr_log_level_t level, const char *text) {
  (void)ctx;
  static const int levels[] = {[WDR_LOG_ERROR] = LOG_ERR,
                               [WDR_LOG_WARNING] = LOG_WARNING,
                               [WDR_LOG_NOTICE] = LOG_NOTICE,
                               [WDR_LOG_INFO] = LOG_INFO};
  plugin_log(levels[level], LOG_PREFIX "%s", text);
}

static void sink_notify(void *ctx, const wdr_note_t *note) {
  (void)ctx;
  wdr_runtime_notify(runtime, note);
}

/* On the notifier thread: dispatching runs every other plugin's
 * notification callback. */
static void deliver_note(void *ctx, const wdr_note_t *m) {
  (void)ctx;
  static const int severities[] = {[WDR_NOTE_FAILURE] = NOTIF_FAILURE,
                                   [WDR_NOTE_WARNING] = NOTIF_WARNING,
                                   [WDR_NOTE_OKAY] = NOTIF_OKAY};
  notification_t n = {.severity = severities[m->severity], .time = cdtime()};
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

static int sink_load(void *ctx, wdr_buf_t *out, char *err, size_t err_size) {
  (void)ctx;
  return wdr_state_read_file(cfg->state_file, out, err, err_size);
}

static int sink_load_journal(void *ctx, wdr_buf_t *out, char *err,
                             size_t err_size) {
  (void)ctx;
  return wdr_state_read_file(journal_path, out, err, err_size);
}

/* The journal and the next journal stay open between appends: an open and
 * a close per pass cost more than the write. Whatever replaces or removes
 * one of the files closes its descriptor, and so does a failed append, so
 * that the next append opens the file afresh. */
static int journal_fd = -1, next_fd = -1;

static int append_to(int *fd, const char *path, const wdr_buf_t *data,
                     bool sync, char *err, size_t err_size) {
  if (*fd < 0 && (*fd = wdr_state_append_open(path, err, err_size)) < 0)
    return -1;
  if (wdr_state_append(*fd, path, data, sync, err, err_size) == 0)
    return 0;
  wdr_state_append_close(fd);
  return -1;
}

static int sink_save_journal(void *ctx, const wdr_buf_t *data, char *err,
                             size_t err_size) {
  (void)ctx;
  wdr_state_append_close(&journal_fd);
  return wdr_state_write_file(journal_path, data, err, err_size);
}

static int sink_append(void *ctx, const wdr_buf_t *data, bool sync, char *err,
                       size_t err_size) {
  (void)ctx;
  return append_to(&journal_fd, journal_path, data, sync, err, err_size);
}

static int fold_fd = -1; /* the snapshot being written in parts */

static int sink_fold_begin(void *ctx, const wdr_buf_t *next_header, char *err,
                           size_t err_size) {
  (void)ctx;
  wdr_state_append_close(&next_fd);
  if (next_header != NULL &&
      wdr_state_write_file(next_path, next_header, err, err_size) != 0)
    return -1;
  fold_fd = wdr_state_fold_open(cfg->state_file, err, err_size);
  return fold_fd >= 0 ? 0 : -1;
}

static int sink_append_next(void *ctx, const wdr_buf_t *data, bool sync,
                            char *err, size_t err_size) {
  (void)ctx;
  return append_to(&next_fd, next_path, data, sync, err, err_size);
}

static int sink_fold_write(void *ctx, const wdr_buf_t *part, char *err,
                           size_t err_size) {
  (void)ctx;
  return wdr_state_fold_write(fold_fd, part, err, err_size);
}

static int sink_fold_commit(void *ctx, bool move_next, char *err,
                            size_t err_size) {
  (void)ctx;
  int status = wdr_state_fold_commit(
      fold_fd, cfg->state_file, move_next ? journal_path : NULL,
      move_next ? next_path : NULL, err, err_size);
  fold_fd = -1;
  if (move_next) {
    wdr_state_append_close(&journal_fd);
    wdr_state_append_close(&next_fd);
  }
  return status;
}

static void sink_fold_abort(void *ctx) {
  (void)ctx;
  wdr_state_fold_abort(fold_fd, cfg->state_file);
  fold_fd = -1;
}

static int sink_load_next(void *ctx, wdr_buf_t *out, char *err,
                          size_t err_size) {
  (void)ctx;
  return wdr_state_read_file(next_path, out, err, err_size);
}

static void sink_discard_next(void *ctx) {
  (void)ctx;
  wdr_state_append_close(&next_fd);
  unlink(next_path); /* usually absent: nothing to say */
}

/* The snapshot is named in the warning; its journal goes with it. */
static int sink_move_aside(void *ctx, int64_t now_s, char *where,
                           size_t where_size) {
  (void)ctx;
  char journal_aside[4096];
  wdr_state_append_close(&journal_fd);
  wdr_state_append_close(&next_fd);
  if (wdr_state_move_aside(cfg->state_file, now_s, where, where_size) != 0) {
    sstrncpy(where, STRERRNO, where_size);
    return -1;
  }
  /* Missing (no journal yet) is fine; the snapshot was the one to keep. */
  const char *journals[] = {journal_path, next_path};
  for (size_t i = 0; i < 2; i++)
    if (wdr_state_move_aside(journals[i], now_s, journal_aside,
                             sizeof(journal_aside)) != 0 &&
        errno != ENOENT)
      WARNING(LOG_PREFIX "cannot move \"%s\" aside: %s", journals[i], STRERRNO);
  return 0;
}

static int thread_create(pthread_t *t, void *(*fn)(void *), void *arg,
                         const char *name) {
  return plugin_thread_create(t, fn, arg, name);
}

/* --- collectd callbacks -------------------------------------------------- */

/* Everything a failure signal needs, built at config time: collectd
 * answers PUTNOTIF (and other plugins dispatch notifications) as soon as
 * their own init is done, which may be before ours (the state load takes a
 * while); signals of that window wait in the runtime's queue (bounded by
 * QueueLimit) until the engine thread starts. On failure the caller frees
 * what was built (free_state). */
static int wdr_notification_cb(const notification_t *n, user_data_t *ud);
static void free_state(void);

static int build_intake(void) {
  sink = (wdr_sink_t){.log = sink_log,
                      .notify = sink_notify,
                      .load = sink_load,
                      .load_journal = sink_load_journal,
                      .save_journal = sink_save_journal,
                      .append = sink_append,
                      .move_aside = sink_move_aside,
                      .fold_begin = sink_fold_begin,
                      .append_next = sink_append_next,
                      .fold_write = sink_fold_write,
                      .fold_commit = sink_fold_commit,
                      .fold_abort = sink_fold_abort,
                      .load_next = sink_load_next,
                      .discard_next = sink_discard_next};
  creds = cfg->cred_from == WDR_CRED_CVM_ROLE
              ? wdr_credstore_create(NULL, NULL, NULL) /* filled at init */
              : wdr_credstore_create(cfg->secret_id, cfg->secret_key,
                                     cfg->session_token);
  if (creds == NULL) {
    ERROR(LOG_PREFIX "out of memory, or a credential longer than %d bytes",
          WDR_CRED_VALUE_MAX - 1);
    return -1;
  }
  if (cfg->cred_file != NULL) {
    if (wdr_credfile_watch_init(&cred_watch, cfg->cred_file,
                                cfg->profile ? cfg->profile : "default") != 0) {
      ERROR(LOG_PREFIX "out of memory");
      return -1;
    }
    cred_watching = true;
  }
  metrics = wdr_metrics_create(cfg);
  runtime = wdr_runtime_create(&(wdr_runtime_cfg_t){
      .cfg = cfg,
      .log = &sink,
      .thread_create = thread_create,
      .transport_open = wdr_http_transport_open,
      .transport_close = wdr_http_transport_close,
      .transport_ctx = &http_options,
      .deliver = deliver_note,
      .creds = creds,
      .seed = (uint32_t)now_ms() ^ ((uint32_t)getpid() << 16)});
  signal_index = wdr_signal_index_create(cfg->workflows, cfg->workflows_num);
  if (metrics == NULL || runtime == NULL || signal_index == NULL) {
    ERROR(LOG_PREFIX "out of memory");
    return -1;
  }
  if (plugin_register_notification(WDR_PLUGIN_NAME, wdr_notification_cb,
                                   NULL) != 0) {
    ERROR(LOG_PREFIX "cannot register the notification callback");
    return -1;
  }
  return 0;
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
  INFO(LOG_PREFIX "credentials from %s%s", cfg->cred_origin,
       cfg->session_token != NULL ? " (temporary, with a token)" : "");
  if (cfg->cred_warning[0] != '\0')
    WARNING(LOG_PREFIX "%s", cfg->cred_warning);
  /* The state remembers each workflow's config by its digest. */
  for (size_t i = 0; i < cfg->workflows_num; i++) {
    wdr_buf_t text;
    wdr_buf_init(&text, 1024 * 1024);
    if (wdr_config_fingerprint(cfg, i, &text) != 0 ||
        wdr_sha256_hex(text.data, text.len, cfg->workflows[i].config_digest) !=
            0)
      cfg->workflows[i].config_digest[0] = '\0'; /* unknown: no release */
    wdr_buf_free(&text, false);
  }
  if (build_intake() != 0) {
    plugin_unregister_notification(WDR_PLUGIN_NAME);
    free_state();
    return -1;
  }
  return 0;
}

static void enqueue(size_t wf, const char *execution_id) {
  if (wdr_runtime_signal(runtime, wf, execution_id) == 0)
    return;
  wdr_metrics_count(metrics, wf, WDR_CNT_DROPPED);
  uint64_t held = 0;
  if (wdr_loglimit_allow(&limit_dropped, (int64_t)time(NULL), &held))
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
  if (stopping || cfg == NULL || runtime == NULL || signal_index == NULL ||
      wdr_signal_is_own(n))
    goto out;
  /* With a WorkflowId meta only its workflows are looked at. */
  const size_t *candidates = NULL;
  size_t candidates_num = wdr_signal_candidates(signal_index, n, &candidates);
  for (size_t k = 0; k < candidates_num; k++) {
    size_t i = candidates[k];
    char run[WDR_ID_MAX];
    wdr_signal_kind_t kind = wdr_signal_classify(&cfg->workflows[i], n, run);
    if (kind == WDR_SIGNAL_NONE)
      continue;
    wdr_metrics_count(metrics, i, WDR_CNT_SIGNALS);
    if (kind == WDR_SIGNAL_RUN || kind == WDR_SIGNAL_NO_EXECUTION_ID) {
      /* Without a run id the engine looks for the newest failed run of the
       * workflow (an empty id asks for that). */
      enqueue(i, kind == WDR_SIGNAL_RUN ? run : "");
      continue;
    }
    enum wdr_skip why = WDR_SKIP_BAD_EXECUTION_ID;
    wdr_metrics_skip(metrics, i, why);
    uint64_t held = 0;
    if (wdr_loglimit_allow(&limit_skipped, (int64_t)time(NULL), &held))
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
  sstrncpy(vl.plugin, m->plugin, sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, m->plugin_instance, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, m->type, sizeof(vl.type));
  sstrncpy(vl.type_instance, m->type_instance, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

/* A changed profile file is read again, off the request path (collectd's
 * read thread); a broken one leaves the credentials as they were. */
static void reload_credentials(void) {
  char err[512];
  switch (wdr_credfile_reload(&cred_watch, creds, err, sizeof(err))) {
  case WDR_CREDFILE_RELOADED:
    INFO(LOG_PREFIX "credentials read again from profile file \"%s\", "
                    "section [%s]: it changed",
         cred_watch.path, cred_watch.section);
    wdr_metrics_count_refresh(metrics);
    break;
  case WDR_CREDFILE_FAILED:
    WARNING(LOG_PREFIX "%s; the credentials read before stay in use", err);
    break;
  case WDR_CREDFILE_UNCHANGED:
    break;
  }
}

static int wdr_read_cb(void) {
  pthread_rwlock_rdlock(&plugin_state_lock);
  if (!stopping && cred_watching)
    reload_credentials();
  int64_t expires_at =
      !stopping && creds != NULL ? wdr_credstore_expires_at(creds) : 0;
  if (expires_at > 0 && metrics != NULL)
    wdr_metrics_set_credentials_expiry(metrics,
                                       (double)(expires_at - time(NULL)));
  if (!stopping && metrics != NULL && runtime != NULL)
    wdr_metrics_emit(metrics, wdr_runtime_queued(runtime), dispatch_metric,
                     NULL);
  pthread_rwlock_unlock(&plugin_state_lock);
  return 0;
}

/* --- init and shutdown --------------------------------------------------- */

/* The refresher's report, on its thread: say when the role's credentials
 * come (the first time, and after failures), and why they do not. */
static void role_report(void *ctx, bool ok, int64_t expires_at, const char *err,
                        int failures) {
  (void)ctx;
  uint64_t held = 0;
  if (ok) {
    if (role_expires_at != 0 && expires_at != role_expires_at)
      wdr_metrics_count_refresh(metrics);
    role_expires_at = expires_at;
    if (!role_ok)
      INFO(LOG_PREFIX "credentials of the CVM role \"%s\" fetched from %s; "
                      "they expire in %lld s and are renewed before",
           wdr_credrole_role(role_fetcher), cfg->metadata_endpoint,
           (long long)(expires_at - (int64_t)time(NULL)));
  } else if (wdr_loglimit_allow(&limit_refresh, (int64_t)time(NULL), &held)) {
    int64_t left = wdr_credstore_expires_at(creds) - (int64_t)time(NULL);
    if (wdr_credstore_expires_at(creds) == 0)
      ERROR(LOG_PREFIX "no credentials from the CVM role yet: %s (try %d; "
                       "no request goes out until they come; %" PRIu64
                       " more such messages held back)",
            err, failures, held);
    else
      WARNING(LOG_PREFIX "cannot renew the CVM role's credentials: %s (try "
                         "%d); the current ones stay in use for %lld s "
                         "more (%" PRIu64 " more such messages held back)",
              err, failures, (long long)(left > 0 ? left : 0), held);
  }
  role_ok = ok;
}

static int role_fetch(void *ctx, wdr_metadata_creds_t *out, char *err,
                      size_t err_size) {
  return wdr_credrole_fetch(ctx, out, err, err_size);
}

/* The CVM role: the first set now (bounded by Timeout; a failure is not
 * fatal: requests wait for it), then the refresher. */
static int start_role(void) {
  role_fetcher = wdr_credrole_create(cfg->metadata_endpoint, cfg->role_name,
                                     (long)ceil(cfg->timeout * 1000.0));
  if (role_fetcher == NULL) {
    ERROR(LOG_PREFIX "out of memory");
    return -1;
  }
  refresh_cfg = (wdr_credrefresh_cfg_t){.store = creds,
                                        .fetch = role_fetch,
                                        .fetch_ctx = role_fetcher,
                                        .report = role_report,
                                        .timeout_s = cfg->timeout,
                                        .thread_create = thread_create,
                                        .seed = (uint32_t)getpid()};
  int64_t expires_at = 0, now = (int64_t)time(NULL);
  int64_t first = wdr_credrefresh_fetch_now(&refresh_cfg, &expires_at) == 0
                      ? wdr_cred_refresh_at(expires_at, now, cfg->timeout)
                      : now + 1;
  refresher = wdr_credrefresh_start(&refresh_cfg, first);
  if (refresher == NULL) {
    ERROR(LOG_PREFIX "cannot start the thread that renews the CVM role's "
                     "credentials");
    return -1;
  }
  return 0;
}

/* Frees everything config and init built; no thread of ours may be
 * running, and no collectd callback may be using it (the caller holds the
 * write lock, or the callbacks were never registered). */
static void free_state(void) {
  wdr_runtime_destroy(runtime);
  runtime = NULL;
  wdr_credstore_destroy(creds);
  creds = NULL;
  wdr_credrole_destroy(role_fetcher);
  role_fetcher = NULL;
  role_ok = false;
  role_expires_at = 0;
  if (cred_watching)
    wdr_credfile_watch_free(&cred_watch);
  cred_watching = false;
  wdr_signal_index_destroy(signal_index);
  signal_index = NULL;
  wdr_engine_destroy(engine);
  engine = NULL;
  wdr_metrics_destroy(metrics);
  metrics = NULL;
  if (fold_fd >= 0) /* the engine's stop aborts a fold: only a failed init */
    wdr_state_fold_abort(fold_fd, cfg->state_file);
  fold_fd = -1;
  wdr_state_append_close(&journal_fd);
  wdr_state_append_close(&next_fd);
  wdr_config_free(cfg);
  cfg = NULL;
  wdr_state_unlock(state_lock);
  state_lock = -1;
  free(journal_path);
  journal_path = NULL;
  free(next_path);
  next_path = NULL;
  if (http_ready)
    wdr_http_global_cleanup();
  http_ready = false;
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
  /* One process per state: a second daemon, or `collectd -T` on a live
   * host, must not act on runs the first one owns. */
  char err[256];
  long holder = 0;
  state_lock = wdr_state_lock(cfg->state_file, &holder, err, sizeof(err));
  if (state_lock == -2) {
    ERROR(LOG_PREFIX "state file \"%s\" is in use by process %ld (another "
                     "collectd, or a running one while this is a config "
                     "check): this process sends nothing for it",
          cfg->state_file, holder);
    goto fail;
  }
  /* A folder that cannot take the lock file cannot take the state either:
   * reruns go on (as with a full disk), unguarded, and the operator is
   * told. */
  if (state_lock < 0)
    WARNING(LOG_PREFIX "cannot lock the state file \"%s\" (%s): going on "
                       "without the guard against a second collectd on it",
            cfg->state_file, err);
  int temps = state_lock >= 0 ? wdr_state_remove_temps(cfg->state_file) : 0;
  if (temps > 0)
    INFO(LOG_PREFIX "removed %d temporary file(s) of \"%s\" left by a crash",
         temps, cfg->state_file);
  int64_t now = now_ms();
  http_options = (wdr_http_options_t){
      .ca_cert = cfg->ca_cert,
      .verify_peer = cfg->verify_peer,
      .timeout_ms = (long)ceil(cfg->timeout * 1000.0),
      .user_agent = "wedata_rerun/" WDR_VERSION " collectd"};
  if (asprintf(&journal_path, "%s.journal", cfg->state_file) < 0)
    journal_path = NULL; /* asprintf leaves it undefined */
  if (asprintf(&next_path, "%s.journal.next", cfg->state_file) < 0)
    next_path = NULL;
  if (journal_path == NULL || next_path == NULL) {
    ERROR(LOG_PREFIX "out of memory");
    goto fail;
  }
  engine = wdr_engine_create(cfg, metrics, &sink, now);
  if (engine == NULL) {
    ERROR(LOG_PREFIX "cannot start: out of memory, or the state file was "
                     "refused (see above)");
    goto fail;
  }
  /* The load's temporary memory (the file's text, a JSON tree per line) is
   * free again: give its pages back, or collectd's RSS keeps them. */
  malloc_trim(0);
  if (cfg->cred_from == WDR_CRED_CVM_ROLE && start_role() != 0)
    goto fail;
  if (wdr_runtime_start(runtime, engine) != 0)
    goto fail; /* the runtime said why */
  if (plugin_register_read(WDR_PLUGIN_NAME, wdr_read_cb) != 0) {
    ERROR(LOG_PREFIX "cannot register the read callback");
    goto fail;
  }
  INFO(LOG_PREFIX "watching %zu workflow(s), sending reruns to %s (region "
                  "%s) with %d worker(s), at most %g requests/s; state file "
                  "\"%s\"%s",
       cfg->workflows_num, cfg->url, cfg->region, cfg->workers, cfg->rate_limit,
       cfg->state_file, cfg->dry_run ? "; DRY RUN: no rerun is sent" : "");
  return 0;
fail:
  /* The notification callback is in since the config: signals stop with
   * the lock taken, and what they queued goes with the runtime. */
  wdr_credrefresh_stop(refresher);
  refresher = NULL;
  wdr_runtime_stop(runtime);
  pthread_rwlock_wrlock(&plugin_state_lock);
  stopping = true;
  plugin_unregister_notification(WDR_PLUGIN_NAME);
  free_state();
  pthread_rwlock_unlock(&plugin_state_lock);
  return -1;
}

static int wdr_shutdown(void) {
  /* Without the lock: a worker in the middle of a request finishes it (at
   * most Timeout), and the engine thread records its outcome; so does a
   * fetch of the refresher. */
  wdr_credrefresh_stop(refresher);
  refresher = NULL;
  wdr_runtime_stop(runtime);
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
