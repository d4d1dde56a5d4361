#include "wdr_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_NAME_MAX 100 /* "error-" + code stays well under 128 */

typedef struct {
  char code[ERROR_NAME_MAX];
  uint64_t count;
} error_count_t;

typedef struct {
  const char *action;
  double seconds;
} latency_t;

typedef struct {
  uint64_t counter[WDR_CNT_NUM];
  uint64_t skipped[WDR_SKIP_NUM];
  error_count_t errors[WDR_ERRORS_MAX];
  size_t errors_num;
  uint64_t errors_other;
  latency_t latency[WDR_ACTIONS_MAX];
  size_t latency_num;
  bool recovered;
  double recover_seconds;
} wf_metrics_t;

struct wdr_metrics_s {
  pthread_mutex_t lock; /* guards every wf_metrics_t and breaker_open */
  wf_metrics_t *wf;
  size_t wf_num;
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
    [WDR_SKIP_NO_EXECUTION_ID] = "no_execution_id",
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

wdr_metrics_t *wdr_metrics_create(size_t workflows_num) {
  wdr_metrics_t *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return NULL;
  if ((m->wf = calloc(workflows_num ? workflows_num : 1,
                      sizeof(wf_metrics_t))) == NULL) {
    free(m);
    return NULL;
  }
  m->wf_num = workflows_num;
  m->rate = -1;
  pthread_mutex_init(&m->lock, NULL);
  return m;
}

void wdr_metrics_destroy(wdr_metrics_t *m) {
  if (m == NULL)
    return;
  pthread_mutex_destroy(&m->lock);
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

void wdr_metrics_latency(wdr_metrics_t *m, size_t wf, const char *action,
                         double seconds) {
  pthread_mutex_lock(&m->lock);
  wf_metrics_t *w = &m->wf[wf];
  size_t i = 0;
  while (i < w->latency_num && strcmp(w->latency[i].action, action) != 0)
    i++;
  if (i < WDR_ACTIONS_MAX) {
    w->latency[i] = (latency_t){.action = action, .seconds = seconds};
    if (i == w->latency_num)
      w->latency_num++;
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

static void emit_derive(wdr_emit_fn emit, void *ctx, const char *inst,
                        const char *type_instance, uint64_t value) {
  emit(ctx, &(wdr_metric_t){.plugin_instance = inst,
                            .type = "derive",
                            .type_instance = type_instance,
                            .is_derive = true,
                            .derive = value});
}

static void emit_workflow(const wf_metrics_t *w, const char *inst,
                          wdr_emit_fn emit, void *ctx) {
  char name[128];
  for (int c = 0; c < WDR_CNT_NUM; c++)
    emit_derive(emit, ctx, inst, counter_names[c], w->counter[c]);
  for (int s = 0; s < WDR_SKIP_NUM; s++) {
    snprintf(name, sizeof(name), "skipped-%s", skip_names[s]);
    emit_derive(emit, ctx, inst, name, w->skipped[s]);
  }
  for (size_t i = 0; i < w->errors_num; i++) {
    snprintf(name, sizeof(name), "error-%s", w->errors[i].code);
    emit_derive(emit, ctx, inst, name, w->errors[i].count);
  }
  if (w->errors_other > 0)
    emit_derive(emit, ctx, inst, "error-other", w->errors_other);
  for (size_t i = 0; i < w->latency_num; i++)
    emit(ctx, &(wdr_metric_t){.plugin_instance = inst,
                              .type = "response_time",
                              .type_instance = w->latency[i].action,
                              .gauge = w->latency[i].seconds});
  if (w->recovered)
    emit(ctx, &(wdr_metric_t){.plugin_instance = inst,
                              .type = "duration",
                              .type_instance = "time_to_recover",
                              .gauge = w->recover_seconds});
}

void wdr_metrics_emit(wdr_metrics_t *m, char *const *names, size_t queue_length,
                      wdr_emit_fn emit, void *ctx) {
  for (size_t i = 0; i < m->wf_num; i++) {
    /* Copy under the lock, emit without it: emit may be slow. */
    wf_metrics_t snap;
    pthread_mutex_lock(&m->lock);
    snap = m->wf[i];
    pthread_mutex_unlock(&m->lock);
    emit_workflow(&snap, names[i], emit, ctx);
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
  emit(ctx, &(wdr_metric_t){.plugin_instance = "",
                            .type = "queue_length",
                            .type_instance = "",
                            .gauge = (double)queue_length});
  emit(ctx, &(wdr_metric_t){.plugin_instance = "",
                            .type = "gauge",
                            .type_instance = "breaker_open",
                            .gauge = breaker_open ? 1.0 : 0.0});
  if (credentials_set)
    emit(ctx, &(wdr_metric_t){.plugin_instance = "",
                              .type = "gauge",
                              .type_instance = "credentials_ok",
                              .gauge = credentials_ok ? 1.0 : 0.0});
  if (rate >= 0)
    emit(ctx, &(wdr_metric_t){.plugin_instance = "",
                              .type = "gauge",
                              .type_instance = "rate_limit-current",
                              .gauge = rate});
  if (clock_set)
    emit(ctx, &(wdr_metric_t){.plugin_instance = "",
                              .type = "gauge",
                              .type_instance = "clock_offset",
                              .gauge = clock_offset});
  emit_derive(emit, ctx, "", "credential_refreshes", refreshes);
  if (expiry_set)
    emit(ctx, &(wdr_metric_t){.plugin_instance = "",
                              .type = "gauge",
                              .type_instance = "credentials-expires_in",
                              .gauge = expires_in});
}
