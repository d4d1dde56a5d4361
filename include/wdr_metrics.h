/* wdr_metrics: the plugin's counters and gauges, and their names.
 *
 * Workers and notification callbacks update them from any thread (one mutex
 * inside); the read callback takes a consistent snapshot and emits every
 * value through a caller-supplied function, so this module never calls
 * collectd and tests see exactly what would be dispatched.
 *
 * Names are chosen for write_prometheus, which turns plugin_instance into a
 * label named after the plugin, and type_instance into "type" (or, without
 * a plugin_instance, into the plugin's label). So each plugin name holds one
 * kind of label value: WDR_PLUGIN_NAME a workflow, WDR_METRICS_API an API
 * action, WDR_METRICS_GLOBAL only the names of plugin-wide values. */
#ifndef WDR_METRICS_H
#define WDR_METRICS_H

#include "wdr_answer.h"
#include "wdr_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-workflow counters, dispatched as derive-<name> from the start. */
enum wdr_counter {
  WDR_CNT_SIGNALS,     /* matching failure signals received */
  WDR_CNT_ATTEMPTS,    /* rerun requests sent */
  WDR_CNT_ACCEPTED,    /* answered with an AsyncId */
  WDR_CNT_FAILED,      /* ended in an error of any kind */
  WDR_CNT_DROPPED,     /* queue full */
  WDR_CNT_RETRIES,     /* request retries */
  WDR_CNT_GAVE_UP,     /* runs given up after MaxAttempts */
  WDR_CNT_WOULD_RERUN, /* dry run: reruns not sent */
  WDR_CNT_POLLED,      /* runs examined by polling */
  WDR_CNT_RECOVERED,   /* TrackAsync: reruns followed to SUCCESS */
  /* TrackAsync: how the async jobs of accepted reruns ended. */
  WDR_CNT_ASYNC_SUCCESS,
  WDR_CNT_ASYNC_FAIL,
  WDR_CNT_ASYNC_PART_SUCCESS,
  WDR_CNT_ASYNC_TIMEOUT, /* still pending after AsyncTimeout */
  WDR_CNT_EVICTED,       /* finished runs forgotten early: MaxTrackedRuns */
  WDR_CNT_THROTTLED,     /* requests answered RequestLimitExceeded* */
  /* requests held back by an outage or refused credentials: due again
   * without using a retry of the run */
  WDR_CNT_HELD,
  WDR_CNT_NUM
};

/* Reasons a signal is not acted on: derive-skipped-<name>. */
enum wdr_skip {
  WDR_SKIP_BAD_EXECUTION_ID,  /* one that cannot be a run id */
  WDR_SKIP_DUPLICATE,         /* the run is already scheduled or in flight */
  WDR_SKIP_EXHAUSTED,         /* MaxAttempts used */
  WDR_SKIP_BUDGET,            /* MaxRerunsPerHour used */
  WDR_SKIP_PERMANENT_ERROR,   /* ended by a permanent API error */
  WDR_SKIP_RETRIES_EXHAUSTED, /* MaxRequestRetries used */
  WDR_SKIP_TABLE_FULL,        /* too many runs tracked */
  WDR_SKIP_NOT_FAILED,        /* VerifyBeforeRerun: the run is not FAILED */
  WDR_SKIP_NOT_RERUNNABLE,    /* VerifyBeforeRerun: SupportRerun is false */
  WDR_SKIP_NO_FAILED_RUN,     /* no run id, and no FAILED run to resolve to */
  WDR_SKIP_NUM
};

/* Distinct error codes kept per workflow; later ones count as "other", so a
 * server cannot make us create an unbounded number of series. */
#define WDR_ERRORS_MAX 32

/* The plugin names of the values that are not about one workflow. */
#define WDR_METRICS_API "wedata_rerun_api"       /* plugin_instance: action */
#define WDR_METRICS_GLOBAL "wedata_rerun_global" /* plugin-wide */

const char *wdr_counter_name(enum wdr_counter c);
const char *wdr_skip_name(enum wdr_skip s);

typedef struct wdr_metrics_s wdr_metrics_t;

/* wdr_metrics_create: the metrics of cfg's workflows, or NULL (no memory).
 * cfg is borrowed and must outlive m: it gives the workflows' names, and
 * what their options let happen: a series that the configuration keeps from
 * ever changing is not dispatched (would_rerun without DryRun, polled
 * without Poll, recovered, async-* and time_to_recover without TrackAsync,
 * skipped-not_failed and skipped-not_rerunnable without VerifyBeforeRerun,
 * skipped-budget without MaxRerunsPerHour, GetOpsAsyncJob's series without
 * a TrackAsync workflow, credential_refreshes unless the credentials come
 * from a profile file or the CVM role). */
wdr_metrics_t *wdr_metrics_create(const wdr_config_t *cfg);
void wdr_metrics_destroy(wdr_metrics_t *m);

void wdr_metrics_count(wdr_metrics_t *m, size_t wf, enum wdr_counter c);
void wdr_metrics_skip(wdr_metrics_t *m, size_t wf, enum wdr_skip s);
/* wdr_metrics_error counts one error with this code (any text: it is made
 * safe for a type_instance here). */
void wdr_metrics_error(wdr_metrics_t *m, size_t wf, const char *code);
/* How a request ended, for the per-action counters http_requests-<name>. */
enum wdr_outcome {
  WDR_OUTCOME_NONE,      /* nothing left (no usable credentials): not counted */
  WDR_OUTCOME_OK,        /* answered without Response.Error */
  WDR_OUTCOME_ERROR,     /* answered with a WeData error but a throttle */
  WDR_OUTCOME_THROTTLED, /* answered RequestLimitExceeded* */
  WDR_OUTCOME_FAILED,    /* no usable answer: network, HTTP status, body */
  WDR_OUTCOME_NUM
};

/* wdr_metrics_outcome: how the request that gave res ended. */
enum wdr_outcome wdr_metrics_outcome(const wdr_api_result_t *res);

/* wdr_metrics_request counts one request of action (a WDR_ACTION_*; others
 * are ignored) that ended with outcome; a request that got an HTTP answer
 * also adds its seconds to the action's latency of this interval. */
void wdr_metrics_request(wdr_metrics_t *m, const char *action,
                         enum wdr_outcome outcome, bool answered,
                         double seconds);

/* wdr_metrics_set_recovery: workflow wf's gauge duration-time_to_recover,
 * seconds from a run's first failure signal to its recovery (the latest
 * recovery; not emitted before the first). */
void wdr_metrics_set_recovery(wdr_metrics_t *m, size_t wf, double seconds);

/* wdr_metrics_set_breaker: the plugin-wide gauge-breaker_open (0 or 1). */
void wdr_metrics_set_breaker(wdr_metrics_t *m, bool open);

/* wdr_metrics_set_rate: the plugin-wide gauge-rate_limit-current, requests
 * a second the pace allows now. */
void wdr_metrics_set_rate(wdr_metrics_t *m, double rate);

/* wdr_metrics_set_credentials: the plugin-wide gauge-credentials_ok: 0
 * while WeData rejects the credentials, else 1. */
void wdr_metrics_set_credentials(wdr_metrics_t *m, bool ok);

/* wdr_metrics_set_clock_offset: the plugin-wide gauge-clock_offset, seconds
 * the server's clock is ahead of the host's (emitted once set). */
void wdr_metrics_set_clock_offset(wdr_metrics_t *m, double seconds);

/* wdr_metrics_count_refresh: the plugin-wide derive-credential_refreshes,
 * credentials replaced while collectd runs (a changed profile file). */
void wdr_metrics_count_refresh(wdr_metrics_t *m);

/* wdr_metrics_set_credentials_expiry: the plugin-wide
 * gauge-credentials-expires_in, seconds the temporary credentials have
 * left (emitted once set). */
void wdr_metrics_set_credentials_expiry(wdr_metrics_t *m, double seconds);

/* One value to dispatch. */
typedef struct {
  const char *plugin; /* WDR_PLUGIN_NAME, WDR_METRICS_API, WDR_METRICS_GLOBAL */
  const char *plugin_instance; /* may be "" */
  const char *type; /* "derive", "queue_length", "response_time", ... */
  const char *type_instance; /* may be "" */
  bool is_derive;
  uint64_t derive;
  double gauge;
} wdr_metric_t;

typedef void (*wdr_emit_fn)(void *ctx, const wdr_metric_t *v);

/* wdr_metrics_emit emits, per workflow (plugin_instance its name): every
 * counter and skip reason its options let change, each error code seen,
 * the last time to recover once there is one; per action (WDR_METRICS_API,
 * plugin_instance the action): http_requests-<outcome>, and
 * response_time-avg and response_time-max of the requests answered since
 * the last emit (none when there was none; the interval starts anew);
 * then, WDR_METRICS_GLOBAL: queue_length, gauge-breaker_open,
 * gauge-credentials_ok, gauge-rate_limit-current, gauge-clock_offset and
 * gauge-credentials-expires_in (each once set), derive-credential_refreshes.
 * Called by one thread at a time (collectd's read callback). */
void wdr_metrics_emit(wdr_metrics_t *m, size_t queue_length, wdr_emit_fn emit,
                      void *ctx);

#endif
