#include "wdr_policy.h"
#include "wdr_backoff.h"
#include "wdr_policy_store.h"
#include "wdr_table.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS (3600 * 1000LL)

/* A workflow's budget window: send times within the last hour, oldest
 * first, at most max_reruns_per_hour of them. */
typedef struct {
  int64_t *t;
  size_t num;
  size_t cap;
  bool changed; /* charged or refunded since the last drain */
} window_t;

struct wdr_policy_s {
  wdr_policy_cfg_t cfg;
  wdr_table_t *table; /* the runs, indexed */
  window_t *budget;   /* one per workflow */
};

static const char *const state_names[WDR_RUN_STATE_NUM] = {
    [WDR_RUN_IDLE] = "idle",           [WDR_RUN_SCHEDULED] = "scheduled",
    [WDR_RUN_VERIFY] = "verify",       [WDR_RUN_IN_FLIGHT] = "in_flight",
    [WDR_RUN_PERMANENT] = "permanent", [WDR_RUN_ASYNC] = "async",
    [WDR_RUN_FOLLOW] = "follow",
};

const char *wdr_run_state_name(wdr_run_state_t s) {
  return s < WDR_RUN_STATE_NUM ? state_names[s] : "unknown";
}

static unsigned lane_of(const wdr_run_t *r, const void *ctx);
_Static_assert(WDR_LANES == WDR_TABLE_LANES, "one table lane per policy lane");

wdr_policy_t *wdr_policy_create(const wdr_policy_cfg_t *cfg) {
  if (cfg == NULL || cfg->wf == NULL || cfg->wf_num == 0 || cfg->max_runs == 0)
    return NULL;
  wdr_policy_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return NULL;
  p->cfg = *cfg;
  if ((p->table = wdr_table_create(cfg->wf_num, cfg->max_runs, lane_of, p)) ==
          NULL ||
      (p->budget = calloc(cfg->wf_num, sizeof(window_t))) == NULL)
    goto fail;
  for (size_t i = 0; i < cfg->wf_num; i++) {
    int max = cfg->wf[i].max_reruns_per_hour;
    if (max <= 0)
      continue;
    if ((p->budget[i].t = calloc((size_t)max, sizeof(int64_t))) == NULL)
      goto fail;
    p->budget[i].cap = (size_t)max;
  }
  return p;
fail:
  wdr_policy_destroy(p);
  return NULL;
}

static void scope_clear(wdr_run_t *r) {
  for (size_t i = 0; r->scope != NULL && r->scope[i] != NULL; i++)
    free(r->scope[i]);
  free(r->scope);
  r->scope = NULL;
}

/* Frees what the run owns beside its key, which is the table's. */
static void run_texts_clear(wdr_run_t *r) {
  scope_clear(r);
  wdr_cid_clear(&r->last_async_id);
  free(r->last_error);
  free(r->async_status);
  r->last_error = r->async_status = NULL;
}

void wdr_run_clear(wdr_run_t *r) {
  run_texts_clear(r);
  wdr_cid_clear(&r->execution_id);
}

int wdr_run_text_set(char **field, const char *s) {
  size_t n = s != NULL ? strnlen(s, WDR_ID_MAX) : 0;
  if (n >= WDR_ID_MAX)
    return -1;
  char *copy = NULL;
  if (n > 0 && (copy = strdup(s)) == NULL)
    return -1;
  free(*field);
  *field = copy;
  return 0;
}

void wdr_policy_destroy(wdr_policy_t *p) {
  if (p == NULL)
    return;
  if (p->budget != NULL)
    for (size_t i = 0; i < p->cfg.wf_num; i++)
      free(p->budget[i].t);
  free(p->budget);
  for (size_t i = 0; p->table != NULL && i < wdr_table_size(p->table); i++)
    run_texts_clear(wdr_table_at(p->table, i));
  wdr_table_destroy(p->table);
  free(p);
}

static wdr_run_t *find_run(wdr_policy_t *p, size_t wf, const char *id) {
  return wdr_table_find(p->table, wf, id);
}

/* Re-files a run after a public entry point changed it (wdr_table.h's
 * contract); a run that is gone needs nothing. */
static void settle(wdr_policy_t *p, size_t wf, const char *id) {
  wdr_run_t *r = find_run(p, wf, id);
  if (r != NULL)
    wdr_table_settle(p->table, r);
}

static void forget(wdr_policy_t *p, wdr_run_t *r) {
  run_texts_clear(r);
  wdr_table_remove(p->table, r);
}

/* A new run for (wf, id). A full table forgets its finished run updated
 * longest ago to make room (*ret_evicted says which workflow's); when every
 * run is still active there is none. */
static wdr_run_t *add_run(wdr_policy_t *p, size_t wf, const char *id,
                          bool *ret_evicted, size_t *ret_evicted_wf) {
  if (wdr_table_size(p->table) >= wdr_table_max(p->table)) {
    wdr_run_t *old = wdr_table_oldest_finished(p->table);
    if (old == NULL)
      return NULL;
    *ret_evicted = true;
    *ret_evicted_wf = old->wf;
    forget(p, old);
  }
  return wdr_table_add(p->table, wf, id);
}

static void window_expire(window_t *w, int64_t now_ms) {
  size_t keep = 0;
  while (keep < w->num && w->t[keep] <= now_ms - HOUR_MS)
    keep++;
  if (keep > 0) {
    memmove(w->t, w->t + keep, (w->num - keep) * sizeof(int64_t));
    w->num -= keep;
  }
}

int64_t wdr_policy_backoff_ms(const wdr_policy_wf_t *wf, int n, uint32_t rnd) {
  return wdr_backoff_ms(&(wdr_backoff_t){.base_ms = wf->retry_interval_ms,
                                         .cap_ms = wf->max_retry_interval_ms,
                                         .jitter = WDR_JITTER_UP},
                        n, rnd);
}

/* Request retries: from 1 s doubling to 60 s, jittered over the lower half
 * so that retries of many runs do not line up. */
static int64_t request_backoff_ms(int k, uint32_t rnd) {
  return wdr_backoff_ms(&wdr_request_backoff, k, rnd);
}

/* The next attempt for a failure of run (NULL: a run not in the table yet)
 * of workflow wf, which is IDLE: refused when its attempts or the hour's
 * budget are used up, else scheduled after its backoff. */
static wdr_signal_decision_t next_attempt(wdr_policy_t *p, size_t wf,
                                          wdr_run_t *run,
                                          const char *execution_id,
                                          int64_t now_ms, uint32_t rnd) {
  wdr_signal_decision_t d = {.verdict = WDR_SIGNAL_FULL};
  const wdr_policy_wf_t *w = &p->cfg.wf[wf];
  if (run != NULL) {
    d.attempts = run->attempts;
    if (run->attempts >= w->max_attempts) {
      d.verdict = WDR_SIGNAL_EXHAUSTED;
      d.gave_up = !run->gave_up;
      run->gave_up = true;
      return d;
    }
  }

  window_t *win = &p->budget[wf];
  if (w->max_reruns_per_hour > 0) {
    window_expire(win, now_ms);
    if (win->num + wdr_table_awaiting(p->table, wf) >= win->cap) {
      d.verdict = WDR_SIGNAL_BUDGET;
      return d;
    }
  }
  /* Only runs that get a rerun enter the table: a storm of signals over
   * budget must not fill it. */
  if (run == NULL) {
    if ((run = add_run(p, wf, execution_id, &d.evicted, &d.evicted_wf)) ==
        NULL) {
      d.verdict = WDR_SIGNAL_FULL;
      return d;
    }
    run->first_signal_ms = now_ms;
    run->last_signal_ms = now_ms;
  }
  int64_t at = now_ms;
  if (run->tries > 0) {
    int64_t earliest =
        run->last_try_ms + wdr_policy_backoff_ms(w, run->tries, rnd);
    if (earliest > at)
      at = earliest;
  }
  run->state = WDR_RUN_SCHEDULED;
  run->next_at_ms = at;
  run->tries++;
  run->last_try_ms = at;
  run->request_retries = 0;
  run->verify_tries = 0;
  run->resigned = false;
  run->maybe_acted = run->disputed = run->outage_verify = false;
  run->checked = false;
  scope_clear(run);
  run->updated_ms = now_ms;
  d.verdict = WDR_SIGNAL_SCHEDULED;
  d.at_ms = at;
  d.attempts = run->attempts;
  return d;
}

static wdr_signal_decision_t signal_run(wdr_policy_t *p, size_t wf,
                                        const char *execution_id,
                                        int64_t now_ms, uint32_t rnd) {
  wdr_signal_decision_t d = {.verdict = WDR_SIGNAL_FULL};
  if (wf >= p->cfg.wf_num || execution_id == NULL ||
      strlen(execution_id) >= WDR_ID_MAX)
    return d;
  wdr_run_t *run = find_run(p, wf, execution_id);
  if (run != NULL) {
    run->last_signal_ms = now_ms;
    run->updated_ms = now_ms;
    d.attempts = run->attempts;
    switch (run->state) {
    case WDR_RUN_SCHEDULED:
    case WDR_RUN_VERIFY:
    case WDR_RUN_IN_FLIGHT:
    case WDR_RUN_ASYNC: /* following its rerun decides what comes next */
    case WDR_RUN_FOLLOW:
      d.verdict = WDR_SIGNAL_DUPLICATE;
      return d;
    case WDR_RUN_PERMANENT:
      /* A permanent error is about the request as it was then (a
       * parameter, a permission, the run's state); after PermanentHold
       * a new failure deserves a new attempt. */
      if (now_ms - run->last_try_ms < p->cfg.permanent_hold_ms) {
        d.verdict = WDR_SIGNAL_PERMANENT;
        return d;
      }
      break;
    default:
      break;
    }
  }
  return next_attempt(p, wf, run, execution_id, now_ms, rnd);
}

wdr_signal_decision_t wdr_policy_on_signal(wdr_policy_t *p, size_t wf,
                                           const char *execution_id,
                                           int64_t now_ms, uint32_t rnd) {
  wdr_signal_decision_t d = signal_run(p, wf, execution_id, now_ms, rnd);
  settle(p, wf, execution_id);
  return d;
}

wdr_signal_decision_t wdr_policy_on_polled(wdr_policy_t *p, size_t wf,
                                           const char *execution_id,
                                           long long rerun_times,
                                           int64_t now_ms, uint32_t rnd) {
  wdr_run_t *run = wf < p->cfg.wf_num && execution_id != NULL
                       ? find_run(p, wf, execution_id)
                       : NULL;
  if (run != NULL && run->state == WDR_RUN_IDLE && rerun_times >= 0 &&
      rerun_times < run->attempts) {
    run->last_signal_ms = now_ms;
    run->updated_ms = now_ms;
    wdr_table_settle(p->table, run);
    return (wdr_signal_decision_t){.verdict = WDR_SIGNAL_DUPLICATE,
                                   .attempts = run->attempts};
  }
  /* WeData's own count is evidence too: a run it shows rerun MaxAttempts
   * times already gets no more, whatever the table knows (a state file
   * lost or moved aside, reruns by hand or by another tool). Not entered
   * in the table: a listing of such runs must not fill it. */
  if (wf < p->cfg.wf_num && (run == NULL || run->state == WDR_RUN_IDLE) &&
      rerun_times >= p->cfg.wf[wf].max_attempts)
    return (wdr_signal_decision_t){
        .verdict = WDR_SIGNAL_EXHAUSTED,
        .attempts = rerun_times > INT_MAX ? INT_MAX : (int)rerun_times};
  return wdr_policy_on_signal(p, wf, execution_id, now_ms, rnd);
}

/* The budget is charged when a rerun is sent, not when it is scheduled: a
 * rerun scheduled after a long backoff must count in the hour it leaves
 * in. One that finds the hour's budget used waits until a slot frees. */
/* A scheduled attempt whose run must be read first (VerifyBeforeRerun,
 * TaskScope "incomplete") and has not been yet. */
static bool needs_check(const wdr_policy_t *p, const wdr_run_t *r) {
  const wdr_policy_wf_t *w = &p->cfg.wf[r->wf];
  return r->state == WDR_RUN_SCHEDULED && (w->verify || w->scope_incomplete) &&
         !r->checked && wdr_run_awaits_first_send(r);
}

static bool budget_charge(wdr_policy_t *p, wdr_run_t *r, int64_t now_ms,
                          int64_t *ret_charged) {
  window_t *win = &p->budget[r->wf];
  *ret_charged = 0;
  if (win->cap == 0 || !wdr_run_awaits_first_send(r))
    return true;
  window_expire(win, now_ms);
  if (win->num >= win->cap) {
    r->next_at_ms = win->t[0] + HOUR_MS;
    return false;
  }
  win->t[win->num++] = now_ms;
  win->changed = true;
  *ret_charged = now_ms;
  return true;
}

/* Gives back the newest slot taken at charged_ms. */
static void budget_refund(wdr_policy_t *p, size_t wf, int64_t charged_ms) {
  window_t *win = &p->budget[wf];
  for (size_t i = win->num; i-- > 0;)
    if (win->t[i] == charged_ms) {
      memmove(win->t + i, win->t + i + 1, (win->num - i - 1) * sizeof(int64_t));
      win->num--;
      win->changed = true;
      return;
    }
}

/* The lane a waiting run's next job is in (the table asks). */
static unsigned lane_of(const wdr_run_t *r, const void *ctx) {
  switch (r->state) {
  case WDR_RUN_VERIFY:
  case WDR_RUN_FOLLOW:
    return WDR_LANE_READ_RUN;
  case WDR_RUN_ASYNC:
    return WDR_LANE_READ_JOB;
  default:
    return needs_check(ctx, r) ? WDR_LANE_READ_RUN : WDR_LANE_RERUN;
  }
}

wdr_lane_t wdr_policy_lane(wdr_job_kind_t kind) {
  switch (kind) {
  case WDR_JOB_RERUN:
    return WDR_LANE_RERUN;
  case WDR_JOB_ASYNC:
    return WDR_LANE_READ_JOB;
  default:
    return WDR_LANE_READ_RUN;
  }
}

bool wdr_policy_take_due(wdr_policy_t *p, int64_t now_ms, unsigned skip,
                         wdr_policy_job_t *job, int64_t *ret_next_ms) {
  wdr_run_t *best = NULL;
  int64_t charged = 0;
  for (;;) {
    best = wdr_table_next_due(p->table, skip);
    if (best == NULL || best->next_at_ms > now_ms) {
      if (ret_next_ms != NULL)
        *ret_next_ms = best != NULL ? best->next_at_ms : INT64_MAX;
      return false;
    }
    /* A deferred run is due later now, so this loop ends. Reads are not
     * reruns: they use no budget. */
    if (best->state != WDR_RUN_SCHEDULED || needs_check(p, best) ||
        budget_charge(p, best, now_ms, &charged))
      break;
    wdr_table_settle(p->table, best);
  }
  wdr_job_kind_t kind = best->state == WDR_RUN_VERIFY   ? WDR_JOB_VERIFY
                        : best->state == WDR_RUN_ASYNC  ? WDR_JOB_ASYNC
                        : best->state == WDR_RUN_FOLLOW ? WDR_JOB_FOLLOW
                        : needs_check(p, best)          ? WDR_JOB_CHECK
                                                        : WDR_JOB_RERUN;
  const wdr_policy_wf_t *w = &p->cfg.wf[best->wf];
  best->state = WDR_RUN_IN_FLIGHT;
  best->in_flight = kind;
  best->updated_ms = now_ms;
  *job = (wdr_policy_job_t){
      .wf = best->wf,
      .kind = kind,
      .attempt = best->tries,
      .retry = best->request_retries,
      .dry_run = kind == WDR_JOB_RERUN && w->dry_run,
      .known_attempts = best->attempts,
      .charged_ms = charged,
  };
  if (kind == WDR_JOB_RERUN && w->escalate && best->had_accepted)
    job->execute_type = 1; /* a rerun of part of it did not help */
  else if (kind == WDR_JOB_RERUN && w->scope_incomplete && best->checked) {
    size_t n = 0;
    while (best->scope != NULL && best->scope[n] != NULL)
      n++;
    job->execute_type = n > 0 ? 2 : 1;
    job->task_ids = best->scope;
    job->task_ids_num = n;
  }
  char buf[WDR_ID_MAX];
  const char *id = wdr_cid_str(&best->execution_id, buf);
  memcpy(job->execution_id, id, strlen(id) + 1);
  if (kind == WDR_JOB_ASYNC || kind == WDR_JOB_FOLLOW) {
    id = wdr_cid_str(&best->last_async_id, buf);
    memcpy(job->async_id, id, strlen(id) + 1);
  }
  if (job->dry_run) { /* decided here: nothing will be sent or answered */
    best->attempts++;
    best->state = WDR_RUN_IDLE;
  }
  wdr_table_settle(p->table, best);
  return true;
}

/* Texts from answers are cut to WDR_ID_MAX - 1 bytes. One that cannot be
 * kept (no memory) is left out: it is shown, never decided on, except
 * async_status, where "none" is the careful reading. */
static const char *bounded(const char *s, char buf[WDR_ID_MAX]) {
  size_t n = s != NULL ? strnlen(s, WDR_ID_MAX) : 0;
  if (n < WDR_ID_MAX)
    return s;
  memcpy(buf, s, WDR_ID_MAX - 1);
  buf[WDR_ID_MAX - 1] = '\0';
  return buf;
}

static void set_cid(wdr_cid_t *c, const char *s) {
  char buf[WDR_ID_MAX];
  if (wdr_cid_set(c, bounded(s, buf)) != 0)
    wdr_cid_clear(c);
}

static void set_text(char **field, const char *s) {
  char buf[WDR_ID_MAX];
  if (wdr_run_text_set(field, bounded(s, buf)) != 0)
    wdr_run_text_set(field, NULL);
}

/* An accepted rerun in a TrackAsync workflow is followed: its async job
 * first when its AsyncId is known, else the run itself. */
static void start_tracking(const wdr_policy_t *p, wdr_run_t *run,
                           int64_t now_ms, int64_t *ret_at) {
  if (!p->cfg.wf[run->wf].track)
    return;
  run->state =
      !wdr_cid_is_empty(&run->last_async_id) ? WDR_RUN_ASYNC : WDR_RUN_FOLLOW;
  run->track_ms = now_ms;
  run->track_reads = 0;
  set_text(&run->async_status, NULL);
  run->seen_active = false;
  /* The first read no later than AsyncTimeout, also when that is shorter
   * than the poll interval. */
  int64_t wait = p->cfg.async_poll_ms;
  if (run->state == WDR_RUN_ASYNC && p->cfg.async_timeout_ms < wait)
    wait = p->cfg.async_timeout_ms;
  run->next_at_ms = now_ms + wait;
  *ret_at = run->next_at_ms;
}

/* The current attempt cannot go on. A rerun request may still have reached
 * the server when maybe_sent: then it counts against MaxAttempts, since
 * counting one too many is safe and one too few is not. */
static wdr_result_verdict_t end_attempt(wdr_run_t *run, bool maybe_sent) {
  run->state = WDR_RUN_IDLE;
  if (maybe_sent)
    run->attempts++;
  return WDR_RESULT_RETRIES_EXHAUSTED;
}

/* One more try of the same request later: *tries (request_retries or
 * verify_tries) counts it and sets the backoff; the run waits in state. */
static void retry_later(wdr_run_t *run, int *tries, wdr_run_state_t state,
                        int64_t now_ms, uint32_t rnd, int64_t *ret_at) {
  (*tries)++;
  run->state = state;
  run->next_at_ms = now_ms + request_backoff_ms(*tries, rnd);
  *ret_at = run->next_at_ms;
}

/* Held back by the service or the credentials, not by anything about the
 * run: due again in state after a backoff that grows with the holds in a
 * row (so that a trouble only this run meets does not spin), and no retry
 * is used: after an outage of any length the run is still due. */
static wdr_result_verdict_t hold(wdr_run_t *run, wdr_run_state_t state,
                                 int64_t now_ms, uint32_t rnd,
                                 int64_t *ret_at) {
  if (run->held < UINT8_MAX)
    run->held++;
  run->state = state;
  run->next_at_ms = now_ms + request_backoff_ms(run->held, rnd);
  *ret_at = run->next_at_ms;
  return WDR_RESULT_HELD;
}

/* The rerun request may have been acted on: read the run before anything
 * is sent again. */
static wdr_result_verdict_t read_back(wdr_run_t *run, int64_t now_ms,
                                      int64_t *ret_at) {
  run->state = WDR_RUN_VERIFY;
  run->verify_tries = 0;
  run->next_at_ms = now_ms + WDR_VERIFY_DELAY_MS;
  *ret_at = run->next_at_ms;
  return WDR_RESULT_VERIFY;
}

static wdr_result_verdict_t retry_rerun(const wdr_policy_t *p, wdr_run_t *run,
                                        int64_t now_ms, uint32_t rnd,
                                        int64_t *ret_at) {
  if (run->request_retries >= p->cfg.max_request_retries)
    return end_attempt(run, false);
  retry_later(run, &run->request_retries, WDR_RUN_SCHEDULED, now_ms, rnd,
              ret_at);
  return WDR_RESULT_RETRY;
}

/* WeData took a rerun of run (async_id: its AsyncId, or unknown). */
static wdr_result_verdict_t accepted(const wdr_policy_t *p, wdr_run_t *run,
                                     const char *async_id, int64_t now_ms,
                                     int64_t *ret_at) {
  run->attempts++;
  run->had_accepted = true;
  run->maybe_acted = run->disputed = run->outage_verify = false;
  run->state = WDR_RUN_IDLE;
  set_cid(&run->last_async_id, async_id);
  set_text(&run->last_error, NULL);
  start_tracking(p, run, now_ms, ret_at);
  return WDR_RESULT_ACCEPTED;
}

static wdr_result_verdict_t
on_rerun_result(const wdr_policy_t *p, wdr_run_t *run, wdr_outcome_t outcome,
                const char *async_id, int64_t now_ms, uint32_t rnd,
                int64_t *ret_at) {
  switch (outcome) {
  case WDR_OUTCOME_ACCEPTED:
    return accepted(p, run, async_id, now_ms, ret_at);
  case WDR_OUTCOME_RESIGN:
    /* A stale timestamp: one immediate re-signed retry (the engine has
     * taken the server's time from the answer by then). Again in the same
     * attempt: a request retry like any other, never the run's end: the
     * clock is at fault, not the run. */
    if (!run->resigned) {
      run->resigned = true;
      run->state = WDR_RUN_SCHEDULED;
      run->next_at_ms = now_ms;
      *ret_at = now_ms;
      return WDR_RESULT_RETRY;
    }
    return hold(run, WDR_RUN_SCHEDULED, now_ms, rnd, ret_at);
  case WDR_OUTCOME_HELD:
    return hold(run, WDR_RUN_SCHEDULED, now_ms, rnd, ret_at);
  case WDR_OUTCOME_RETRYABLE:
    return retry_rerun(p, run, now_ms, rnd, ret_at);
  case WDR_OUTCOME_AMBIGUOUS:
  case WDR_OUTCOME_AMBIGUOUS_OUTAGE:
    run->maybe_acted = true;
    run->disputed = false;
    run->outage_verify = outcome == WDR_OUTCOME_AMBIGUOUS_OUTAGE;
    return read_back(run, now_ms, ret_at);
  case WDR_OUTCOME_PERMANENT:
  default:
    /* A refusal of a resend after an answer that may have come after
     * WeData acted ("the run is RUNNING") may be about our own accepted
     * rerun: the run is read before the refusal stands. */
    if (run->maybe_acted && !run->disputed) {
      run->disputed = true;
      run->outage_verify = false;
      return read_back(run, now_ms, ret_at);
    }
    run->state = WDR_RUN_PERMANENT;
    return WDR_RESULT_PERMANENT;
  }
}

static wdr_result_verdict_t
on_verify_result(const wdr_policy_t *p, wdr_run_t *run, wdr_outcome_t outcome,
                 int64_t now_ms, uint32_t rnd, int64_t *ret_at) {
  switch (outcome) {
  case WDR_OUTCOME_RERUN_SEEN:
    return accepted(p, run, NULL, now_ms, ret_at); /* AsyncId unknown */
  case WDR_OUTCOME_RERUN_NOT_SEEN:
    /* Provably not acted on. After a disputed refusal the refusal stands;
     * otherwise a resend is safe now, and after an outage it uses no retry
     * of the run. */
    if (run->disputed) {
      run->disputed = false;
      run->state = WDR_RUN_PERMANENT;
      return WDR_RESULT_PERMANENT;
    }
    if (run->outage_verify) {
      run->outage_verify = false;
      return hold(run, WDR_RUN_SCHEDULED, now_ms, rnd, ret_at);
    }
    return retry_rerun(p, run, now_ms, rnd, ret_at);
  case WDR_OUTCOME_HELD:
    return hold(run, WDR_RUN_VERIFY, now_ms, rnd, ret_at);
  case WDR_OUTCOME_RETRYABLE:
  case WDR_OUTCOME_AMBIGUOUS:
  case WDR_OUTCOME_AMBIGUOUS_OUTAGE:
  case WDR_OUTCOME_RESIGN:
    if (run->verify_tries < p->cfg.max_request_retries) {
      retry_later(run, &run->verify_tries, WDR_RUN_VERIFY, now_ms, rnd, ret_at);
      return WDR_RESULT_VERIFY;
    }
    return end_attempt(run, true);
  default:
    /* The run cannot be read (permanent error): never resend blindly. */
    return end_attempt(run, true);
  }
}

/* The read before an attempt got no usable answer: read again later (the
 * reads count in verify_tries, so the rerun's own retries and budget are
 * untouched), or end this attempt, which never sent anything. */
static wdr_result_verdict_t
on_check_failed(const wdr_policy_t *p, wdr_run_t *run, wdr_outcome_t outcome,
                int64_t now_ms, uint32_t rnd, int64_t *ret_at) {
  if (outcome == WDR_OUTCOME_PERMANENT) {
    run->state = WDR_RUN_PERMANENT;
    return WDR_RESULT_PERMANENT;
  }
  if (outcome == WDR_OUTCOME_HELD)
    return hold(run, WDR_RUN_SCHEDULED, now_ms, rnd, ret_at);
  if (run->verify_tries >= p->cfg.max_request_retries)
    return end_attempt(run, false);
  retry_later(run, &run->verify_tries, WDR_RUN_SCHEDULED, now_ms, rnd, ret_at);
  return WDR_RESULT_RETRY;
}

wdr_check_t wdr_policy_evaluate_check(const wdr_policy_wf_t *wf,
                                      const char *state, bool support_rerun,
                                      long long rerun_times) {
  if (!wf->verify)
    return WDR_CHECK_PASS;
  if (state == NULL || strcmp(state, "FAILED") != 0)
    return WDR_CHECK_NOT_FAILED;
  if (!support_rerun)
    return WDR_CHECK_NOT_RERUNNABLE;
  /* WeData's count is the authority: a restart, a lost state file, a
   * manual rerun or a second collectd cannot push a run past its attempts. */
  if (rerun_times >= wf->max_attempts)
    return WDR_CHECK_EXHAUSTED;
  return WDR_CHECK_PASS;
}

static wdr_result_decision_t check_run(wdr_policy_t *p,
                                       const wdr_policy_job_t *job,
                                       wdr_check_t check, char *const *tasks,
                                       size_t tasks_num, int64_t now_ms) {
  wdr_result_decision_t d = {.verdict = WDR_RESULT_STALE};
  wdr_run_t *run = find_run(p, job->wf, job->execution_id);
  if (run == NULL || run->state != WDR_RUN_IN_FLIGHT ||
      run->in_flight != WDR_JOB_CHECK)
    return d;
  run->updated_ms = now_ms;
  d.attempts = run->attempts;
  if (check != WDR_CHECK_PASS) {
    run->state = WDR_RUN_IDLE;
    d.verdict = WDR_RESULT_SKIPPED;
    return d;
  }
  scope_clear(run);
  size_t n = 0;
  if (tasks_num > 0 &&
      (run->scope = calloc(tasks_num + 1, sizeof(char *))) != NULL)
    for (size_t i = 0; i < tasks_num; i++) {
      bool seen = false;
      for (size_t j = 0; j < n && !seen; j++)
        seen = strcmp(run->scope[j], tasks[i]) == 0;
      if (!seen && (run->scope[n] = strdup(tasks[i])) != NULL)
        n++;
    }
  run->checked = true;
  run->verify_tries = 0;
  run->state = WDR_RUN_SCHEDULED;
  run->next_at_ms = now_ms;
  d.verdict = WDR_RESULT_CHECKED;
  d.at_ms = now_ms;
  return d;
}

wdr_result_decision_t wdr_policy_on_check(wdr_policy_t *p,
                                          const wdr_policy_job_t *job,
                                          wdr_check_t check, char *const *tasks,
                                          size_t tasks_num, int64_t now_ms) {
  wdr_result_decision_t d = check_run(p, job, check, tasks, tasks_num, now_ms);
  settle(p, job->wf, job->execution_id);
  return d;
}

static wdr_result_decision_t
result_run(wdr_policy_t *p, const wdr_policy_job_t *job, wdr_outcome_t outcome,
           const char *async_id, const char *error_code, int64_t now_ms,
           uint32_t rnd) {
  wdr_result_decision_t d = {.verdict = WDR_RESULT_STALE};
  wdr_run_t *run = find_run(p, job->wf, job->execution_id);
  if (run == NULL || run->state != WDR_RUN_IN_FLIGHT ||
      run->in_flight != job->kind || job->kind == WDR_JOB_ASYNC ||
      job->kind == WDR_JOB_FOLLOW)
    return d;
  run->updated_ms = now_ms;
  if (error_code != NULL && error_code[0] != '\0')
    set_text(&run->last_error, error_code);
  /* Holds in a row are counted through an outage that may have acted, the
   * read that follows it, and a clock off again; an answer about the run
   * ends the row. */
  if (outcome == WDR_OUTCOME_HELD) {
    if (job->charged_ms != 0)
      budget_refund(p, job->wf, job->charged_ms); /* nothing was done */
  } else if (outcome != WDR_OUTCOME_AMBIGUOUS_OUTAGE &&
             outcome != WDR_OUTCOME_RERUN_NOT_SEEN &&
             outcome != WDR_OUTCOME_RESIGN)
    run->held = 0;
  if (job->kind == WDR_JOB_RERUN)
    d.verdict =
        on_rerun_result(p, run, outcome, async_id, now_ms, rnd, &d.at_ms);
  else if (job->kind == WDR_JOB_VERIFY)
    d.verdict = on_verify_result(p, run, outcome, now_ms, rnd, &d.at_ms);
  else
    d.verdict = on_check_failed(p, run, outcome, now_ms, rnd, &d.at_ms);
  d.attempts = run->attempts;
  d.disputed = d.verdict == WDR_RESULT_VERIFY && run->disputed;
  if (d.verdict == WDR_RESULT_PERMANENT) {
    const char *code = wdr_run_text(run->last_error);
    memcpy(d.error_code, code, strlen(code) + 1);
  }
  return d;
}

wdr_result_decision_t
wdr_policy_on_result(wdr_policy_t *p, const wdr_policy_job_t *job,
                     wdr_outcome_t outcome, const char *async_id,
                     const char *error_code, int64_t now_ms, uint32_t rnd) {
  wdr_result_decision_t d =
      result_run(p, job, outcome, async_id, error_code, now_ms, rnd);
  settle(p, job->wf, job->execution_id);
  return d;
}

wdr_async_t wdr_policy_async_of(const char *status) {
  if (status != NULL &&
      (strcmp(status, "SUCCESS") == 0 || strcmp(status, "FAIL") == 0 ||
       strcmp(status, "PART_SUCCESS") == 0))
    return WDR_ASYNC_ENDED;
  return WDR_ASYNC_PENDING;
}

wdr_follow_t wdr_policy_follow_of(const char *state) {
  if (state != NULL && strcmp(state, "SUCCESS") == 0)
    return WDR_FOLLOW_SUCCESS;
  if (state != NULL && strcmp(state, "FAILED") == 0)
    return WDR_FOLLOW_FAILED;
  if (state != NULL && strcmp(state, "SKIPED") == 0)
    return WDR_FOLLOW_SKIPPED;
  return WDR_FOLLOW_RUNNING;
}

/* The run a tracking read of kind belongs to, if that read is out. */
static wdr_run_t *tracked(wdr_policy_t *p, const wdr_policy_job_t *job,
                          wdr_job_kind_t kind) {
  wdr_run_t *run = find_run(p, job->wf, job->execution_id);
  if (run == NULL || job->kind != kind || run->state != WDR_RUN_IN_FLIGHT ||
      run->in_flight != kind)
    return NULL;
  return run;
}

/* The wait before read n (0-based) of the run: from the async poll
 * interval, doubling, to WDR_FOLLOW_MAX_MS or the poll interval. */
static int64_t follow_delay_ms(const wdr_policy_t *p, int n) {
  int64_t d = p->cfg.async_poll_ms > 0 ? p->cfg.async_poll_ms : 1;
  int64_t cap = d > WDR_FOLLOW_MAX_MS ? d : WDR_FOLLOW_MAX_MS;
  for (int i = 0; i < n && d < cap; i++)
    d *= 2;
  return d < cap ? d : cap;
}

static void follow_next(const wdr_policy_t *p, wdr_run_t *run, int64_t now_ms,
                        wdr_track_decision_t *d, wdr_track_verdict_t verdict) {
  run->state = WDR_RUN_FOLLOW;
  run->next_at_ms = now_ms + follow_delay_ms(p, run->track_reads);
  d->verdict = verdict;
  d->at_ms = run->next_at_ms;
}

static wdr_track_decision_t async_run(wdr_policy_t *p,
                                      const wdr_policy_job_t *job,
                                      wdr_async_t what, const char *status,
                                      int64_t now_ms) {
  wdr_track_decision_t d = {.verdict = WDR_TRACK_STALE};
  wdr_run_t *run = tracked(p, job, WDR_JOB_ASYNC);
  if (run == NULL)
    return d;
  run->updated_ms = now_ms;
  d.attempts = run->attempts;
  if (status != NULL)
    set_text(&run->async_status, status);
  int64_t deadline = run->track_ms + p->cfg.async_timeout_ms;
  if (what == WDR_ASYNC_PENDING && now_ms < deadline) {
    run->state = WDR_RUN_ASYNC;
    run->next_at_ms = now_ms + p->cfg.async_poll_ms;
    if (run->next_at_ms > deadline)
      run->next_at_ms = deadline; /* one last read at the timeout */
    d.verdict = WDR_TRACK_WAIT;
    d.at_ms = run->next_at_ms;
    return d;
  }
  run->track_reads = 0;
  follow_next(p, run, now_ms, &d,
              what == WDR_ASYNC_PENDING ? WDR_TRACK_TIMEOUT : WDR_TRACK_FOLLOW);
  return d;
}

wdr_track_decision_t wdr_policy_on_async(wdr_policy_t *p,
                                         const wdr_policy_job_t *job,
                                         wdr_async_t what, const char *status,
                                         int64_t now_ms) {
  wdr_track_decision_t d = async_run(p, job, what, status, now_ms);
  settle(p, job->wf, job->execution_id);
  return d;
}

static wdr_track_decision_t follow_run(wdr_policy_t *p,
                                       const wdr_policy_job_t *job,
                                       wdr_follow_t what, long long rerun_times,
                                       int64_t now_ms, uint32_t rnd) {
  wdr_track_decision_t d = {.verdict = WDR_TRACK_STALE};
  wdr_run_t *run = tracked(p, job, WDR_JOB_FOLLOW);
  if (run == NULL)
    return d;
  run->updated_ms = now_ms;
  /* Reads that answered: they space the next read and make an old FAILED
   * believable; a failed read is made again at the same interval. */
  if (what != WDR_FOLLOW_UNKNOWN)
    run->track_reads++;
  d.attempts = run->attempts;
  switch (what) {
  case WDR_FOLLOW_SUCCESS:
    run->state = WDR_RUN_IDLE;
    d.verdict = WDR_TRACK_RECOVERED;
    d.recover_ms = now_ms - run->first_signal_ms;
    return d;
  case WDR_FOLLOW_GONE:
  case WDR_FOLLOW_SKIPPED:
    run->state = WDR_RUN_IDLE;
    d.verdict = WDR_TRACK_LOST;
    return d;
  case WDR_FOLLOW_FAILED: {
    /* Right after the rerun WeData may still show the old failure: believe
     * FAILED once there is a sign that it is the rerun's. */
    const char *status = wdr_run_text(run->async_status);
    bool async_failed =
        strcmp(status, "FAIL") == 0 || strcmp(status, "PART_SUCCESS") == 0;
    if (run->seen_active || async_failed || rerun_times < 0 ||
        rerun_times >= run->attempts ||
        run->track_reads >= WDR_FOLLOW_STALE_READS) {
      run->state = WDR_RUN_IDLE;
      d.verdict = WDR_TRACK_FAILED;
      char id[WDR_ID_MAX];
      d.signal = next_attempt(p, run->wf, run,
                              wdr_cid_str(&run->execution_id, id), now_ms, rnd);
      return d;
    }
    break;
  }
  case WDR_FOLLOW_RUNNING:
    run->seen_active = true;
    break;
  case WDR_FOLLOW_UNKNOWN:
  default:
    break;
  }
  if (now_ms - run->track_ms >= p->cfg.retention_ms) {
    run->state = WDR_RUN_IDLE;
    d.verdict = WDR_TRACK_LOST;
    return d;
  }
  follow_next(p, run, now_ms, &d, WDR_TRACK_WAIT);
  return d;
}

wdr_track_decision_t wdr_policy_on_follow(wdr_policy_t *p,
                                          const wdr_policy_job_t *job,
                                          wdr_follow_t what,
                                          long long rerun_times, int64_t now_ms,
                                          uint32_t rnd) {
  wdr_track_decision_t d = follow_run(p, job, what, rerun_times, now_ms, rnd);
  settle(p, job->wf, job->execution_id);
  return d;
}

/* What a rerun or a read of the run before or after one means, when the
 * API answered it (OK) or not: the policy's outcome vocabulary. Only
 * answers about the request itself may use up a run's retries: outages,
 * refused credentials and a clock off again hold the run back instead. */
static wdr_outcome_t outcome_of(const wdr_policy_job_t *job,
                                const wdr_answer_t *a, wdr_api_class_t cls) {
  if (job->kind == WDR_JOB_VERIFY && cls == WDR_CLASS_OK)
    /* Any state but FAILED (RUNNING, PENDING, SUCCESS, and undocumented
     * ones such as QUEUED) means the rerun started; so does a RerunTimes
     * above the reruns we know of (manual ones make this err on the side
     * of not resending). */
    return (strcmp(a->view.state, "FAILED") != 0 ||
            a->view.rerun_times > job->known_attempts)
               ? WDR_OUTCOME_RERUN_SEEN
               : WDR_OUTCOME_RERUN_NOT_SEEN;
  if (job->kind != WDR_JOB_RERUN) { /* a read: nothing to have acted on */
    if (wdr_answer_holds_sender(&a->res))
      return WDR_OUTCOME_HELD;
    return cls == WDR_CLASS_PERMANENT ? WDR_OUTCOME_PERMANENT
                                      : WDR_OUTCOME_RETRYABLE;
  }
  bool outage = wdr_answer_is_outage(&a->res);
  switch (cls) {
  case WDR_CLASS_OK:
    return WDR_OUTCOME_ACCEPTED;
  case WDR_CLASS_RETRYABLE:
    return outage ? WDR_OUTCOME_HELD : WDR_OUTCOME_RETRYABLE;
  case WDR_CLASS_CREDENTIALS:
    return WDR_OUTCOME_HELD;
  case WDR_CLASS_RESIGN:
    return WDR_OUTCOME_RESIGN;
  case WDR_CLASS_AMBIGUOUS:
    return outage ? WDR_OUTCOME_AMBIGUOUS_OUTAGE : WDR_OUTCOME_AMBIGUOUS;
  default:
    return WDR_OUTCOME_PERMANENT;
  }
}

/* A CHECK that read the run: rerun now, with which tasks, or not at all. */
static void answered_check(wdr_policy_t *p, const wdr_policy_job_t *job,
                           const wdr_run_view_t *v, int64_t now_ms,
                           wdr_answer_decision_t *d) {
  const wdr_policy_wf_t *w = &p->cfg.wf[job->wf];
  d->what = WDR_ANSWERED_CHECK;
  d->check =
      wdr_policy_evaluate_check(w, v->state, v->support_rerun, v->rerun_times);
  /* Tasks that cannot be named are rerun with the whole workflow: a
   * superset of what did not finish, never less. */
  d->whole = v->tasks_unnamed && w->scope_incomplete;
  d->result =
      wdr_policy_on_check(p, job, d->check, d->whole ? NULL : v->incomplete,
                          d->whole ? 0 : v->incomplete_num, now_ms);
}

/* A read of a followed rerun. A read that failed is made again later,
 * except after a permanent error: then the async job (or the run) is taken
 * as gone. */
static void answered_track(wdr_policy_t *p, const wdr_policy_job_t *job,
                           const wdr_answer_t *a, int64_t now_ms, uint32_t rnd,
                           wdr_answer_decision_t *d) {
  bool ok = d->cls == WDR_CLASS_OK;
  bool gone = d->cls == WDR_CLASS_PERMANENT;
  d->what = WDR_ANSWERED_TRACK;
  if (job->kind == WDR_JOB_ASYNC) {
    d->async = ok     ? wdr_policy_async_of(a->async.status)
               : gone ? WDR_ASYNC_GONE
                      : WDR_ASYNC_PENDING;
    d->track = wdr_policy_on_async(p, job, d->async,
                                   ok ? a->async.status : NULL, now_ms);
    return;
  }
  d->follow = ok     ? wdr_policy_follow_of(a->view.state)
              : gone ? WDR_FOLLOW_GONE
                     : WDR_FOLLOW_UNKNOWN;
  d->track = wdr_policy_on_follow(p, job, d->follow,
                                  ok ? a->view.rerun_times : -1, now_ms, rnd);
}

wdr_answer_decision_t wdr_policy_on_answer(wdr_policy_t *p,
                                           const wdr_policy_job_t *job,
                                           const wdr_answer_t *answer,
                                           int64_t now_ms, uint32_t rnd) {
  wdr_answer_decision_t d = {.cls = wdr_answer_classify(&answer->res),
                             .what = WDR_ANSWERED_RESULT,
                             .result = {.verdict = WDR_RESULT_STALE}};
  if (job->kind == WDR_JOB_ASYNC || job->kind == WDR_JOB_FOLLOW) {
    answered_track(p, job, answer, now_ms, rnd, &d);
    return d;
  }
  if (job->kind == WDR_JOB_CHECK && d.cls == WDR_CLASS_OK) {
    answered_check(p, job, &answer->view, now_ms, &d);
    return d;
  }
  if (job->kind > WDR_JOB_CHECK)
    return d; /* not a kind of the policy's */
  const wdr_response_t *r = &answer->res.response;
  d.result = wdr_policy_on_result(p, job, outcome_of(job, answer, d.cls),
                                  r->async_id, r->error_code, now_ms, rnd);
  return d;
}

/* The state a run waits in before a job of this kind is taken. */
static wdr_run_state_t state_of(wdr_job_kind_t kind) {
  switch (kind) {
  case WDR_JOB_VERIFY:
    return WDR_RUN_VERIFY;
  case WDR_JOB_ASYNC:
    return WDR_RUN_ASYNC;
  case WDR_JOB_FOLLOW:
    return WDR_RUN_FOLLOW;
  default:
    return WDR_RUN_SCHEDULED;
  }
}

void wdr_policy_requeue(wdr_policy_t *p, const wdr_policy_job_t *job) {
  wdr_run_t *run = find_run(p, job->wf, job->execution_id);
  if (run == NULL || run->state != WDR_RUN_IN_FLIGHT ||
      run->in_flight != job->kind)
    return;
  run->state = state_of(job->kind);
  wdr_table_settle(p->table, run);
  if (job->charged_ms != 0)
    budget_refund(p, job->wf, job->charged_ms);
}

size_t wdr_policy_pending(const wdr_policy_t *p) {
  return wdr_table_pending(p->table);
}

size_t wdr_policy_prune(wdr_policy_t *p, int64_t now_ms) {
  size_t removed = 0;
  wdr_run_t *r;
  while ((r = wdr_table_oldest_finished(p->table)) != NULL &&
         r->updated_ms < now_ms - p->cfg.retention_ms) {
    forget(p, r);
    removed++;
  }
  for (size_t i = 0; i < p->cfg.wf_num; i++)
    window_expire(&p->budget[i], now_ms);
  return removed;
}

size_t wdr_policy_runs_num(const wdr_policy_t *p) {
  return wdr_table_size(p->table);
}

const wdr_run_t *wdr_policy_run_at(const wdr_policy_t *p, size_t i) {
  return wdr_table_at(p->table, i);
}

const int64_t *wdr_policy_budget(const wdr_policy_t *p, size_t wf,
                                 size_t *ret_num) {
  *ret_num = wf < p->cfg.wf_num ? p->budget[wf].num : 0;
  return wf < p->cfg.wf_num ? p->budget[wf].t : NULL;
}

int wdr_policy_restore(wdr_policy_t *p, wdr_run_t *run, int64_t now_ms) {
  if (run->wf >= p->cfg.wf_num || run->state >= WDR_RUN_STATE_NUM)
    return -1;
  /* A restored run never pushes another out: the file holds at most what
   * the table held. */
  char buf[WDR_ID_MAX];
  wdr_run_t *r =
      wdr_table_add(p->table, run->wf, wdr_cid_str(&run->execution_id, buf));
  if (r == NULL)
    return -1;
  /* Everything but the key (the table's own copy) moves over. */
  wdr_cid_t key = r->execution_id;
  *r = *run;
  r->execution_id = key;
  memset(&run->last_async_id, 0, sizeof(run->last_async_id));
  run->last_error = run->async_status = NULL;
  r->checked = false;
  r->scope = NULL;
  if (r->in_flight >= WDR_RUN_JOB_KINDS)
    r->in_flight = WDR_JOB_RERUN;
  if (p->cfg.verbatim) {
    wdr_table_settle(p->table, r);
    return 0;
  }
  if (r->state == WDR_RUN_IN_FLIGHT) {
    if (r->in_flight == WDR_JOB_RERUN || r->in_flight == WDR_JOB_VERIFY) {
      /* Nobody knows whether the rerun request reached the server. */
      r->state = WDR_RUN_VERIFY;
      r->verify_tries = 0;
      r->next_at_ms = now_ms + WDR_VERIFY_DELAY_MS;
    } else {
      /* A read: doing it again is harmless. */
      r->state = state_of(r->in_flight);
      r->next_at_ms = now_ms;
    }
  }
  if ((r->state == WDR_RUN_ASYNC || r->state == WDR_RUN_FOLLOW) &&
      !p->cfg.wf[r->wf].track)
    r->state = WDR_RUN_IDLE; /* TrackAsync was switched off */
  if (r->state == WDR_RUN_ASYNC && wdr_cid_is_empty(&r->last_async_id))
    r->state = WDR_RUN_FOLLOW;
  /* Stopped by a credentials or clock error (older versions did that): the
   * key or the clock was at fault, not the run, and the failure that
   * started the attempt was never acted on: the attempt goes on (read
   * first when VerifyBeforeRerun is on). */
  int released = 0;
  if (r->state == WDR_RUN_PERMANENT &&
      (wdr_answer_code_is_credentials(r->last_error) ||
       strcmp(wdr_run_text(r->last_error), "AuthFailure.SignatureExpire") ==
           0)) {
    r->state = WDR_RUN_SCHEDULED;
    r->next_at_ms = now_ms;
    r->request_retries = r->verify_tries = 0;
    r->resigned = false;
    released = 1;
  }
  wdr_table_settle(p->table, r);
  return released;
}

size_t wdr_policy_release_permanent(wdr_policy_t *p, size_t wf) {
  size_t n = 0;
  for (size_t i = 0; i < wdr_table_size(p->table); i++) {
    wdr_run_t *r = wdr_table_at(p->table, i);
    if (r->wf != wf || r->state != WDR_RUN_PERMANENT)
      continue;
    r->state = WDR_RUN_IDLE;
    wdr_table_settle(p->table, r);
    n++;
  }
  return n;
}

void wdr_policy_restore_budget(wdr_policy_t *p, size_t wf, int64_t sent_ms) {
  if (wf >= p->cfg.wf_num)
    return;
  window_t *w = &p->budget[wf];
  if (w->cap == 0)
    return;
  if (w->num == w->cap) { /* keep the newest */
    memmove(w->t, w->t + 1, (w->num - 1) * sizeof(int64_t));
    w->num--;
  }
  w->t[w->num++] = sent_ms;
}

void wdr_policy_hold(wdr_policy_t *p, int64_t until_ms) {
  for (size_t i = 0; i < wdr_table_size(p->table); i++) {
    wdr_run_t *r = wdr_table_at(p->table, i);
    bool waits = r->state == WDR_RUN_SCHEDULED || r->state == WDR_RUN_VERIFY ||
                 r->state == WDR_RUN_ASYNC || r->state == WDR_RUN_FOLLOW;
    if (waits && r->next_at_ms < until_ms) {
      r->next_at_ms = until_ms;
      wdr_table_settle(p->table, r);
    }
  }
}

/* --- what changed, for the journal ---------------------------------------- */

typedef struct {
  const wdr_policy_changes_t *c;
} drain_ctx_t;

static void drained_run(void *ctx, const wdr_run_t *r) {
  const wdr_policy_changes_t *c = ((drain_ctx_t *)ctx)->c;
  c->run(c->ctx, r);
}

static void drained_key(void *ctx, size_t wf, const char *id) {
  const wdr_policy_changes_t *c = ((drain_ctx_t *)ctx)->c;
  c->forgotten(c->ctx, wf, id);
}

void wdr_policy_drain_changes(wdr_policy_t *p, const wdr_policy_changes_t *c) {
  drain_ctx_t d = {c};
  wdr_table_drain_changes(p->table,
                          &(wdr_table_changes_t){.changed = drained_run,
                                                 .forgotten = drained_key,
                                                 .ctx = &d});
  for (size_t wf = 0; wf < p->cfg.wf_num; wf++) {
    window_t *w = &p->budget[wf];
    if (!w->changed)
      continue;
    w->changed = false;
    c->budget(c->ctx, wf, w->t, w->num);
  }
}

void wdr_policy_forget(wdr_policy_t *p, size_t wf, const char *id) {
  wdr_run_t *r = find_run(p, wf, id);
  if (r != NULL)
    forget(p, r);
}

void wdr_policy_clear_budget(wdr_policy_t *p, size_t wf) {
  if (wf < p->cfg.wf_num)
    p->budget[wf].num = 0;
}
