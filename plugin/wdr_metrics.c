#include "wdr_metrics.h"

#include "wdr_api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_NAME_MAX 100 /* "error-" + code stays well under 128 */

typedef struct {
  char code[ERROR_NAME_MAX];
  uint64_t count;
} error_count_t;

/* The API actions, in the order their series are emitted. */
static const char *const action_names[] = {
    WDR_ACTION_RERUN,
    WDR_ACTION_GET_RUN,
    WDR_ACTION_LIST_RUNS,
    WDR_ACTION_ASYNC_JOB,
};
#define ACTIONS_NUM (sizeof(action_names) / sizeof(action_names[0]))

static const char *const outcome_names[WDR_OUTCOME_NUM] = {
    [WDR_OUTCOME_OK] = "ok",
    [WDR_OUTCOME_ERROR] = "error",
    [WDR_OUTCOME_THROTTLED] = "throttled",
    [WDR_OUTCOME_FAILED] = "failed",
};

typedef struct {
  uint64_t requests[WDR_OUTCOME_NUM];
  /* answered requests since the last emit */
  uint64_t answered;
  double seconds_sum;
  double seconds_max;
} action_metrics_t;

typedef struct {
  uint64_t counter[WDR_CNT_NUM];
  uint64_t skipped[WDR_SKIP_NUM];
  error_count_t errors[WDR_ERRORS_MAX];
  size_t errors_num;
  uint64_t errors_other;
  bool recovered;
  double recover_seconds;
} wf_metrics_t;

/* Which of a workflow's series its options let change. */
typedef struct {
  bool counter[WDR_CNT_NUM];
  bool skipped[WDR_SKIP_NUM];
  bool recovery;
} wf_series_t;

struct wdr_metrics_s {
  pthread_mutex_t lock; /* guards everything below but cfg and series */
  const wdr_config_t *cfg;
  wf_series_t *series; /* per workflow, fixed at create */
  bool action_used[ACTIONS_NUM];
  bool refreshable; /* credentials that can be replaced while running */
  wf_metrics_t *wf;
  size_t wf_num;
  action_metrics_t action[ACTIONS_NUM];
  bool breaker_open;
  bool credentials_ok;
  bool credentials_set;
  double rate; /* < 0: not set yet */
  bool clock_set;
  double clock_offset;
  uint64_t credential_refreshes;
  bool expiry_set;
  double expires_in;
};

static const char *const counter_names[WDR_CNT_NUM] = {
    [WDR_CNT_SIGNALS] = "signals",
    [WDR_CNT_ATTEMPTS] = "attempts",
    [WDR_CNT_ACCEPTED] = "accepted",
    [WDR_CNT_FAILED] = "failed",
    [WDR_CNT_DROPPED] = "dropped",
    [WDR_CNT_RETRIES] = "retries",
    [WDR_CNT_GAVE_UP] = "gave_up",
    [WDR_CNT_WOULD_RERUN] = "would_rerun",
    [WDR_CNT_POLLED] = "polled",
    [WDR_CNT_RECOVERED] = "recovered",
    [WDR_CNT_ASYNC_SUCCESS] = "async-SUCCESS",
    [WDR_CNT_ASYNC_FAIL] = "async-FAIL",
    [WDR_CNT_ASYNC_PART_SUCCESS] = "async-PART_SUCCESS",
    [WDR_CNT_ASYNC_TIMEOUT] = "async-TIMEOUT",
    [WDR_CNT_EVICTED] = "evicted",
    [WDR_CNT_THROTTLED] = "throttled",
    [WDR_CNT_HELD] = "held",
};

static const char *const skip_names[WDR_SKIP_NUM] = {
    [WDR_SKIP_BAD_EXECUTION_ID] = "bad_execution_id",
    [WDR_SKIP_DUPLICATE] = "duplicate",
    [WDR_SKIP_EXHAUSTED] = "exhausted",
    [WDR_SKIP_BUDGET] = "budget",
    [WDR_SKIP_PERMANENT_ERROR] = "permanent_error",
    [WDR_SKIP_RETRIES_EXHAUSTED] = "retries_exhausted",
    [WDR_SKIP_TABLE_FULL] = "table_full",
    [WDR_SKIP_NOT_FAILED] = "not_failed",
    [WDR_SKIP_NOT_RERUNNABLE] = "not_rerunnable",
    [WDR_SKIP_NO_FAILED_RUN] = "no_failed_run",
};

const char *wdr_counter_name(enum wdr_counter c) { return counter_names[c]; }
const char *wdr_skip_name(enum wdr_skip s) { return skip_names[s]; }

/* The series a workflow's options let change; the rest would be flat
 * lines forever. */
static wf_series_t series_of(const wdr_config_t *cfg,
                             const wdr_workflow_cfg_t *w) {
  wf_series_t s;
  for (int c = 0; c < WDR_CNT_NUM; c++)
    s.counter[c] = true;
  for (int k = 0; k < WDR_SKIP_NUM; k++)
    s.skipped[k] = true;
  bool dry_run = w->dry_run >= 0 ? w->dry_run != 0 : cfg->dry_run;
  s.counter[WDR_CNT_WOULD_RERUN] = dry_run;
  s.counter[WDR_CNT_POLLED] = w->poll;
  static const enum wdr_counter tracked[] = {
      WDR_CNT_RECOVERED, WDR_CNT_ASYNC_SUCCESS, WDR_CNT_ASYNC_FAIL,
      WDR_CNT_ASYNC_PART_SUCCESS, WDR_CNT_ASYNC_TIMEOUT};
  for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
    s.counter[tracked[i]] = w->track_async;
  s.recovery = w->track_async;
  s.skipped[WDR_SKIP_NOT_FAILED] = w->verify_before_rerun;
  s.skipped[WDR_SKIP_NOT_RERUNNABLE] = w->verify_before_rerun;
  s.skipped[WDR_SKIP_BUDGET] = w->max_reruns_per_hour > 0;
  return s;
}

wdr_metrics_t *wdr_metrics_create(const wdr_config_t *cfg) {
  wdr_metrics_t *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return NULL;
  size_t n = cfg->workflows_num ? cfg->workflows_num : 1;
  m->wf = calloc(n, sizeof(*m->wf));
  m->series = calloc(n, sizeof(*m->series));
  if (m->wf == NULL || m->series == NULL) {
    free(m->wf);
    free(m->series);
    free(m);
    return NULL;
  }
  m->cfg = cfg;
  m->wf_num = cfg->workflows_num;
  bool tracking = false;
  for (size_t i = 0; i < cfg->workflows_num; i++) {
    m->series[i] = series_of(cfg, &cfg->workflows[i]);
    tracking = tracking || cfg->workflows[i].track_async;
  }
  for (size_t i = 0; i < ACTIONS_NUM; i++)
    m->action_used[i] =
        tracking || strcmp(action_names[i], WDR_ACTION_ASYNC_JOB) != 0;
  m->refreshable =
      cfg->cred_from == WDR_CRED_PROFILE || cfg->cred_from == WDR_CRED_CVM_ROLE;
  m->rate = -1;
  pthread_mutex_init(&m->lock, NULL);
  return m;
}

void wdr_metrics_destroy(wdr_metrics_t *m) {
  if (m == NULL)
    return;
  pthread_mutex_destroy(&m->lock);
  free(m->series);
  free(m->wf);
  free(m);
}

void wdr_metrics_count(wdr_metrics_t *m, size_t wf, enum wdr_counter c) {
  pthread_mutex_lock(&m->lock);
  m->wf[wf].counter[c]++;
  pthread_mutex_unlock(&m->lock);
}

void wdr_metrics_skip(wdr_metrics_t *m, size_t wf, enum wdr_skip s) {
  pthread_mutex_lock(&m->lock);
  m->wf[wf].skipped[s]++;
  pthread_mutex_unlock(&m->lock);
}

/* Error codes are letters, digits and dots ("ClientError.NetworkError");
 * anything else a server might send is replaced, so the name is a safe
 * type_instance and file name. */
static void safe_code(char *dst, size_t size, const char *code) {
  size_t n = 0;
  for (; code[n] != '\0' && n + 1 < size; n++) {
    char c = code[n];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    dst[n] = ok ? c : '_';
  }
  if (n == 0)
    dst[n++] = '_';
  dst[n] = '\0';
}

void wdr_metrics_error(wdr_metrics_t *m, size_t wf, const char *code) {
  char name[ERROR_NAME_MAX];
  safe_code(name, sizeof(name), code != NULL ? code : "");
  pthread_mutex_lock(&m->lock);
  wf_metrics_t *w = &m->wf[wf];
  size_t i = 0;
  while (i < w->errors_num && strcmp(w->errors[i].code, name) != 0)
    i++;
  if (i < w->errors_num)
    w->errors[i].count++;
  else if (w->errors_num < WDR_ERRORS_MAX) {
    snprintf(w->errors[i].code, sizeof(w->errors[i].code), "%s", name);
    w->errors[i].count = 1;
    w->errors_num++;
  } else
    w->errors_other++;
  pthread_mutex_unlock(&m->lock);
}

enum wdr_outcome wdr_metrics_outcome(const wdr_api_result_t *res) {
  const char *code = res->response.error_code;
  if (strcmp(code, WDR_ERR_NO_CREDENTIALS) == 0)
    return WDR_OUTCOME_NONE;
  if (code[0] == '\0')
    return WDR_OUTCOME_OK;
  if (wdr_answer_is_throttle(res))
    return WDR_OUTCOME_THROTTLED;
  /* The SDKs' ClientError.* names say no WeData answer could be read. */
  if (strncmp(code, "ClientError.", strlen("ClientError.")) == 0)
    return WDR_OUTCOME_FAILED;
  return WDR_OUTCOME_ERROR;
}

void wdr_metrics_request(wdr_metrics_t *m, const char *action,
                         enum wdr_outcome outcome, bool answered,
                         double seconds) {
  size_t i = 0;
  while (i < ACTIONS_NUM && strcmp(action_names[i], action) != 0)
    i++;
  if (i == ACTIONS_NUM || outcome <= WDR_OUTCOME_NONE ||
      outcome >= WDR_OUTCOME_NUM)
    return;
  pthread_mutex_lock(&m->lock);
  action_metrics_t *a = &m->action[i];
  a->requests[outcome]++;
  if (answered) {
    a->answered++;
    a->seconds_sum += seconds;
    if (seconds > a->seconds_max)
      a->seconds_max = seconds;
  }
  pthread_mutex_unlock(&m->lock);
}

void wdr_metrics_set_recovery(wdr_metrics_t *m, size_t wf, double seconds) {
  pthread_mutex_lock(&m->lock);
  m->wf[wf].recovered = true;
  m->wf[wf].recover_seconds = seconds;
  pthread_mutex_unlock(&m->lock);
}

void wdr_metrics_set_breaker(wdr_metrics_t *m, bool open) {
  pthread_mutex_lock(&m->lock);
  m->breaker_open = open;
  pthread_mutex_unlock(&m->lock);
}

void wdr_metrics_set_credentials(wdr_metrics_t *m, bool ok) {
  pthread_mutex_lock(&m->lock);
  m->credentials_set = true;
  m->credentials_ok = ok;
  pthread_mutex_unlock(&m->lock);
}

void wdr_metrics_set_clock_offset(wdr_metrics_t *m, double seconds) {
  pthread_mutex_lock(&m->lock);
  m->clock_set = true;
  m->clock_offset = seconds;
  pthread_mutex_unlock(&m->lock);
}

void wdr_metrics_count_refresh(wdr_metrics_t *m) {
  pthread_mutex_lock(&m->lock);
  m->credential_refreshes++;
  pthread_mutex_unlock(&m->lock);
}

void wdr_metrics_set_credentials_expiry(wdr_metrics_t *m, double seconds) {
  pthread_mutex_lock(&m->lock);
  m->expiry_set = true;
  m->expires_in = seconds;
  pthread_mutex_unlock(&m->lock);
}

void wdr_metrics_set_rate(wdr_metrics_t *m, double rate) {
  pthread_mutex_lock(&m->lock);
  m->rate = rate;
  pthread_mutex_unlock(&m->lock);
}

static void emit_derive(wdr_emit_fn emit, void *ctx, const char *plugin,
                        const char *inst, const char *type_instance,
                        uint64_t value) {
  emit(ctx, &(wdr_metric_t){.plugin = plugin,
                            .plugin_instance = inst,
                            .type = "derive",
                            .type_instance = type_instance,
                            .is_derive = true,
                            .derive = value});
}

static void emit_gauge(wdr_emit_fn emit, void *ctx, const char *plugin,
                       const char *inst, const char *type,
                       const char *type_instance, double value) {
  emit(ctx, &(wdr_metric_t){.plugin = plugin,
                            .plugin_instance = inst,
                            .type = type,
                            .type_instance = type_instance,
                            .gauge = value});
}

static void emit_workflow(const wf_metrics_t *w, const wf_series_t *series,
                          const char *inst, wdr_emit_fn emit, void *ctx) {
  char name[128];
  for (int c = 0; c < WDR_CNT_NUM; c++)
    if (series->counter[c])
      emit_derive(emit, ctx, WDR_PLUGIN_NAME, inst, counter_names[c],
                  w->counter[c]);
  for (int s = 0; s < WDR_SKIP_NUM; s++) {
    if (!series->skipped[s])
      continue;
    snprintf(name, sizeof(name), "skipped-%s", skip_names[s]);
    emit_derive(emit, ctx, WDR_PLUGIN_NAME, inst, name, w->skipped[s]);
  }
  for (size_t i = 0; i < w->errors_num; i++) {
    snprintf(name, sizeof(name), "error-%s", w->errors[i].code);
    emit_derive(emit, ctx, WDR_PLUGIN_NAME, inst, name, w->errors[i].count);
  }
  if (w->errors_other > 0)
    emit_derive(emit, ctx, WDR_PLUGIN_NAME, inst, "error-other",
                w->errors_other);
  if (series->recovery && w->recovered)
    emit_gauge(emit, ctx, WDR_PLUGIN_NAME, inst, "duration", "time_to_recover",
               w->recover_seconds);
}

static void emit_action(const action_metrics_t *a, const char *action,
                        wdr_emit_fn emit, void *ctx) {
  for (int o = WDR_OUTCOME_OK; o < WDR_OUTCOME_NUM; o++)
    emit(ctx, &(wdr_metric_t){.plugin = WDR_METRICS_API,
                              .plugin_instance = action,
                              .type = "http_requests",
                              .type_instance = outcome_names[o],
                              .is_derive = true,
                              .derive = a->requests[o]});
  if (a->answered == 0)
    return;
  emit_gauge(emit, ctx, WDR_METRICS_API, action, "response_time", "avg",
             a->seconds_sum / (double)a->answered);
  emit_gauge(emit, ctx, WDR_METRICS_API, action, "response_time", "max",
             a->seconds_max);
}

void wdr_metrics_emit(wdr_metrics_t *m, size_t queue_length, wdr_emit_fn emit,
                      void *ctx) {
  for (size_t i = 0; i < m->wf_num; i++) {
    /* Copy under the lock, emit without it: emit may be slow. */
    wf_metrics_t snap;
    pthread_mutex_lock(&m->lock);
    snap = m->wf[i];
    pthread_mutex_unlock(&m->lock);
    emit_workflow(&snap, &m->series[i], m->cfg->workflows[i].name, emit, ctx);
  }
  for (size_t i = 0; i < ACTIONS_NUM; i++) {
    if (!m->action_used[i])
      continue;
    action_metrics_t snap;
    pthread_mutex_lock(&m->lock);
    snap = m->action[i];
    /* The latency is of this interval: the next one starts empty. */
    m->action[i].answered = 0;
    m->action[i].seconds_sum = 0;
    m->action[i].seconds_max = 0;
    pthread_mutex_unlock(&m->lock);
    emit_action(&snap, action_names[i], emit, ctx);
  }
  pthread_mutex_lock(&m->lock);
  bool breaker_open = m->breaker_open;
  bool credentials_set = m->credentials_set;
  bool credentials_ok = m->credentials_ok;
  double rate = m->rate;
  bool clock_set = m->clock_set;
  double clock_offset = m->clock_offset;
  uint64_t refreshes = m->credential_refreshes;
  bool expiry_set = m->expiry_set;
  double expires_in = m->expires_in;
  pthread_mutex_unlock(&m->lock);
  const char *g = WDR_METRICS_GLOBAL;
  emit_gauge(emit, ctx, g, "", "queue_length", "", (double)queue_length);
  emit_gauge(emit, ctx, g, "", "gauge", "breaker_open", breaker_open ? 1 : 0);
  if (credentials_set)
    emit_gauge(emit, ctx, g, "", "gauge", "credentials_ok",
               credentials_ok ? 1 : 0);
  if (rate >= 0)
    emit_gauge(emit, ctx, g, "", "gauge", "rate_limit-current", rate);
  if (clock_set)
    emit_gauge(emit, ctx, g, "", "gauge", "clock_offset", clock_offset);
  if (m->refreshable)
    emit_derive(emit, ctx, g, "", "credential_refreshes", refreshes);
  if (expiry_set)
    emit_gauge(emit, ctx, g, "", "gauge", "credentials-expires_in", expires_in);
}
