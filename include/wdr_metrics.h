/* wdr_metrics: the plugin's counters and gauges, and their names.
 *
 * Workers and notification callbacks update them from any thread (one mutex
 * inside); the read callback takes a consistent snapshot and emits every
 * value through a caller-supplied function, so this module never calls
 * collectd and tests see exactly what would be dispatched. */
#ifndef WDR_METRICS_H
#define WDR_METRICS_H

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
  WDR_SKIP_NO_EXECUTION_ID,   /* no WorkflowExecutionId meta */
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
#define WDR_ACTIONS_MAX 8

const char *wdr_counter_name(enum wdr_counter c);
const char *wdr_skip_name(enum wdr_skip s);

typedef struct wdr_metrics_s wdr_metrics_t;

/* wdr_metrics_create: counters for workflows_num workflows, or NULL. */
wdr_metrics_t *wdr_metrics_create(size_t workflows_num);
void wdr_metrics_destroy(wdr_metrics_t *m);

void wdr_metrics_count(wdr_metrics_t *m, size_t wf, enum wdr_counter c);
void wdr_metrics_skip(wdr_metrics_t *m, size_t wf, enum wdr_skip s);
/* wdr_metrics_error counts one error with this code (any text: it is made
 * safe for a type_instance here). */
void wdr_metrics_error(wdr_metrics_t *m, size_t wf, const char *code);
/* wdr_metrics_latency records the last call's duration; action must be a
 * string that outlives m (the WDR_ACTION_* constants). */
void wdr_metrics_latency(wdr_metrics_t *m, size_t wf, const char *action,
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

/* One value to dispatch. plugin_instance "" means plugin-wide. */
typedef struct {
  const char *plugin_instance;
  const char *type; /* "derive", "queue_length", "response_time", ... */
  const char *type_instance; /* may be "" */
  bool is_derive;
  uint64_t derive;
  double gauge;
} wdr_metric_t;

typedef void (*wdr_emit_fn)(void *ctx, const wdr_metric_t *v);

/* wdr_metrics_emit emits, per workflow (names[i] is workflow i's name):
 * every counter and skip reason, each error code seen, each action's last
 * latency, the last time to recover once there is one; then the
 * plugin-wide queue_length, gauge-breaker_open, gauge-credentials_ok,
 * gauge-rate_limit-current and gauge-clock_offset (each once set), and
 * derive-credential_refreshes. */
void wdr_metrics_emit(wdr_metrics_t *m, char *const *names, size_t queue_length,
                      wdr_emit_fn emit, void *ctx);

#endif
