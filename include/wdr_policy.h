/* wdr_policy: should this run be rerun now, later, or never? Pure.
 *
 * A table of the workflow runs the plugin has acted on, and the rules a
 * careful operator would follow: at most MaxAttempts accepted reruns per
 * run, exponential backoff with jitter between them, one rerun at a time
 * per run (duplicate signals are skipped), a per-workflow hourly budget,
 * request retries only for errors that can succeed on retry, and never a
 * blind resend after a request whose fate is unknown: the run is read
 * first (a "verify" job).
 *
 * Time (milliseconds since the epoch, wall clock, so that it survives a
 * restart) and randomness come in as arguments; nothing here reads a clock,
 * sleeps, locks or does I/O. One owner thread. */
#ifndef WDR_POLICY_H
#define WDR_POLICY_H

#include "wdr_answer.h"
#include "wdr_cid.h"
#include "wdr_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* After an ambiguous request, the run is read this long afterwards: a rerun
 * is asynchronous and needs a moment to show in the run's state. */
#define WDR_VERIFY_DELAY_MS 5000
/* Following a rerun (TrackAsync): the run's reads start at the async poll
 * interval and double up to this (or the poll interval, if longer). */
#define WDR_FOLLOW_MAX_MS 60000
/* A FAILED that the run shows before WeData has caught up with our rerun is
 * believed from this many reads on (see wdr_policy_on_follow). */
#define WDR_FOLLOW_STALE_READS 3

typedef struct {
  int max_attempts;              /* accepted reruns per run */
  int64_t retry_interval_ms;     /* backoff base */
  int64_t max_retry_interval_ms; /* backoff cap */
  int max_reruns_per_hour;       /* 0: unlimited */
  bool dry_run;                  /* decide everything, send nothing */
  bool verify; /* VerifyBeforeRerun: read the run, rerun only if due */
  bool scope_incomplete; /* TaskScope "incomplete": rerun unfinished tasks */
  bool escalate;         /* EscalateToFull: after an accepted rerun, run all */
  bool track;            /* TrackAsync: follow each accepted rerun to its end */
} wdr_policy_wf_t;

typedef struct {
  const wdr_policy_wf_t *wf; /* one per workflow, borrowed */
  size_t wf_num;
  int max_request_retries; /* per attempt */
  int64_t retention_ms;    /* forget finished runs this old */
  /* A run stopped by a permanent error stays stopped this long (from the
   * start of the attempt that ended in it); a failure signal after that
   * starts a new attempt. */
  int64_t permanent_hold_ms;
  size_t max_runs;          /* table bound */
  int64_t async_poll_ms;    /* AsyncPollInterval */
  int64_t async_timeout_ms; /* AsyncTimeout */
  /* Runs restored as the state file holds them, none of the changes a
   * restart makes (wdr_policy_restore): for the state tool, which shows
   * the runs and writes them back, and never acts on them. */
  bool verbatim;
} wdr_policy_cfg_t;

typedef enum {
  WDR_RUN_IDLE,      /* nothing pending; waits for a failure signal */
  WDR_RUN_SCHEDULED, /* a rerun request is due at next_at_ms */
  WDR_RUN_VERIFY,    /* read the run at next_at_ms before anything else */
  WDR_RUN_IN_FLIGHT, /* a request is out (after a crash: ambiguous) */
  WDR_RUN_PERMANENT, /* a permanent error ended it */
  WDR_RUN_ASYNC,     /* TrackAsync: read the async job at next_at_ms */
  WDR_RUN_FOLLOW,    /* TrackAsync: read the run at next_at_ms */
  WDR_RUN_STATE_NUM
} wdr_run_state_t;

/* The kinds of job a run can have in flight: RERUN to FOLLOW (see
 * wdr_common.h); LIST belongs to polling. */
#define WDR_RUN_JOB_KINDS WDR_JOB_LIST

/* One run the plugin has acted on. Everything in it is persisted, except
 * what is marked otherwise.
 *
 * Compact, because a busy account tracks 100,000 runs and more: the ids
 * are wdr_cid_t (a UUID packs into 17 bytes), the texts most runs never
 * have are heap copies or NULL, and the flags are bits. Ownership: the
 * table sets and frees execution_id (the key); every other text is the
 * run's own, freed with wdr_run_clear. */
typedef struct {
  int64_t first_signal_ms;
  int64_t last_signal_ms;
  int64_t last_try_ms; /* start of the last attempt: backoff counts from it */
  int64_t next_at_ms;  /* SCHEDULED and VERIFY */
  int64_t updated_ms;
  /* TrackAsync, for the accepted rerun being followed: when it was
   * accepted (AsyncTimeout and the end of following count from it). */
  int64_t track_ms;
  char *last_error;   /* the last error code; NULL: none */
  char *async_status; /* the async job's last Status; NULL: none */
  /* Not persisted: the tasks to rerun (TaskScope "incomplete"), found by
   * the check of the current attempt and redone after a restart; NULL or
   * NULL-terminated. */
  char **scope;
  uint32_t wf;
  int32_t attempts;        /* accepted reruns (verified ones included) */
  int32_t tries;           /* attempts started, accepted or not */
  int32_t request_retries; /* of the current attempt */
  int32_t verify_tries;    /* of the current ambiguity */
  int32_t track_reads;     /* TrackAsync: reads in the current phase */
  wdr_cid_t execution_id;
  wdr_cid_t last_async_id;
  wdr_run_state_t state : 8;
  wdr_job_kind_t in_flight : 8; /* what is out, when IN_FLIGHT */
  bool resigned : 1;            /* SignatureExpire re-signed in this attempt */
  bool gave_up : 1;             /* the gave_up notification went out */
  bool had_accepted : 1; /* WeData accepted a rerun of it (EscalateToFull) */
  /* TrackAsync: the run was seen in a state other than FAILED since the
   * accepted rerun. */
  bool seen_active : 1;
  bool checked : 1; /* not persisted: the current attempt's check is done */
  /* Not persisted (a restart reads every run in flight anyway): in the
   * current attempt a rerun request may have been acted on (an ambiguous
   * answer), so a refusal of a later resend is read back first; disputed:
   * such a refusal is being read back; outage_verify: the read-back
   * follows an outage, so a resend after it uses no retry. */
  bool maybe_acted : 1;
  bool disputed : 1;
  bool outage_verify : 1;
  /* Not persisted: answers in a row that held the run back without being
   * about it (outages, credentials): they space its next tries. */
  uint8_t held;
} wdr_run_t;

/* wdr_run_clear frees the texts r owns, execution_id included, and empties
 * them (r itself is the caller's). */
void wdr_run_clear(wdr_run_t *r);

/* wdr_run_text_set replaces one of r's optional texts (last_error,
 * async_status): NULL or "" empties it. Returns 0, or -1 when s is
 * WDR_ID_MAX bytes or longer or memory ran out (the old text stays). */
int wdr_run_text_set(char **field, const char *s);

/* wdr_run_awaits_first_send: the attempt's rerun request has not left yet
 * (no retry, re-sign or possibly acted-on request in this attempt): it is
 * charged to the budget when it does. The policy and the table's counts
 * both ask this one rule. */
static inline bool wdr_run_awaits_first_send(const wdr_run_t *r) {
  return r->state == WDR_RUN_SCHEDULED && r->request_retries == 0 &&
         !r->resigned && !r->maybe_acted;
}

/* A run's optional text, "" when it has none. */
static inline const char *wdr_run_text(const char *field) {
  return field != NULL ? field : "";
}

typedef enum {
  WDR_SIGNAL_SCHEDULED, /* a rerun is due at at_ms (now, or after backoff) */
  WDR_SIGNAL_DUPLICATE, /* already scheduled, being verified or in flight */
  WDR_SIGNAL_EXHAUSTED, /* MaxAttempts accepted reruns used */
  WDR_SIGNAL_BUDGET,    /* MaxRerunsPerHour sent in the last hour or due */
  WDR_SIGNAL_PERMANENT, /* a permanent error ended this run before */
  WDR_SIGNAL_FULL,      /* max_runs runs, all active (also: bad input) */
} wdr_signal_verdict_t;

typedef struct {
  wdr_signal_verdict_t verdict;
  int64_t at_ms; /* SCHEDULED: when */
  bool gave_up;  /* EXHAUSTED: first time: say "gave up" once */
  int attempts;  /* the run's accepted reruns so far */
  /* The table was full: the finished run updated longest ago (of workflow
   * evicted_wf) was forgotten to make room. FULL: every run is active. */
  bool evicted;
  size_t evicted_wf;
} wdr_signal_decision_t;

/* A request the policy wants sent. */
typedef struct {
  size_t wf;
  char execution_id[WDR_ID_MAX];
  wdr_job_kind_t kind;
  int attempt;  /* 1-based number of the attempt this request belongs to */
  int retry;    /* 0 for the first request of the attempt */
  bool dry_run; /* RERUN in a dry-run workflow: count, do not send */
  int known_attempts;        /* VERIFY: accepted reruns known before this one */
  int64_t charged_ms;        /* the budget slot this job took, 0 if none */
  char async_id[WDR_ID_MAX]; /* ASYNC: the job to read; FOLLOW: its job */
  /* RERUN: what to send instead of the configured ExecuteType and tasks.
   * execute_type 0: as configured; 1: the whole workflow (no TaskIds, no
   * AdvancedParams); 2: ExecuteType 2 with task_ids. task_ids is borrowed
   * from the policy: valid while the run is in flight. */
  int execute_type;
  char *const *task_ids;
  size_t task_ids_num;
} wdr_policy_job_t;

/* How a request ended, as the API client classifies it. */
typedef enum {
  WDR_OUTCOME_ACCEPTED,       /* RERUN: an AsyncId came back */
  WDR_OUTCOME_RETRYABLE,      /* refused for the request: may retry */
  WDR_OUTCOME_RESIGN,         /* AuthFailure.SignatureExpire: re-sign once */
  WDR_OUTCOME_PERMANENT,      /* rejected for good */
  WDR_OUTCOME_AMBIGUOUS,      /* the server may have acted (ResourceInUse) */
  WDR_OUTCOME_RERUN_SEEN,     /* VERIFY: the rerun did happen */
  WDR_OUTCOME_RERUN_NOT_SEEN, /* VERIFY: still FAILED, no new rerun */
  /* Nothing was done, and not for anything about the run: an outage before
   * the request was sent, the credentials refused, the clock off again.
   * The job is due again later and uses no retry of the run. */
  WDR_OUTCOME_HELD,
  /* The server may have acted, and the service was in trouble (a timeout,
   * HTTP 5xx, InternalError...): read the run first; a resend after that
   * read uses no retry either. */
  WDR_OUTCOME_AMBIGUOUS_OUTAGE,
} wdr_outcome_t;

typedef enum {
  WDR_RESULT_ACCEPTED,          /* count accepted; async_id may be "" */
  WDR_RESULT_RETRY,             /* rescheduled at at_ms; count a retry */
  WDR_RESULT_VERIFY,            /* read the run at at_ms */
  WDR_RESULT_PERMANENT,         /* ended by a permanent error */
  WDR_RESULT_RETRIES_EXHAUSTED, /* MaxRequestRetries used up */
  WDR_RESULT_CHECKED,           /* the check passed: the rerun is due now */
  WDR_RESULT_SKIPPED,           /* the check said no (wdr_policy_on_check) */
  WDR_RESULT_STALE,             /* the run is no longer in flight: ignore */
  WDR_RESULT_HELD, /* due again at at_ms; no retry used (WDR_OUTCOME_HELD) */
} wdr_result_verdict_t;

typedef struct {
  wdr_result_verdict_t verdict;
  int64_t at_ms;
  int attempts; /* accepted reruns after this result */
  /* VERIFY: WeData refused a resend, but an earlier request of the attempt
   * may have been acted on: the run is read before the refusal stands.
   * PERMANENT: error_code is the refusal (also when a read confirmed it). */
  bool disputed;
  char error_code[WDR_ID_MAX];
} wdr_result_decision_t;

typedef struct wdr_policy_s wdr_policy_t;

/* wdr_policy_create copies cfg (not the wf array: it must outlive the
 * policy). Returns NULL on bad input or no memory. */
wdr_policy_t *wdr_policy_create(const wdr_policy_cfg_t *cfg);
void wdr_policy_destroy(wdr_policy_t *p);

/* wdr_policy_on_signal: a failure signal for run execution_id of workflow
 * wf at now_ms. rnd is a uniform random 32-bit value (for the jitter). */
wdr_signal_decision_t wdr_policy_on_signal(wdr_policy_t *p, size_t wf,
                                           const char *execution_id,
                                           int64_t now_ms, uint32_t rnd);

/* wdr_policy_on_polled: a failure seen by listing the runs, which also
 * shows WeData's RerunTimes. A run whose RerunTimes is below the reruns
 * accepted for it here is DUPLICATE: WeData has not caught up with our
 * rerun yet, and the FAILED it shows is the old failure. A run not in the
 * table or IDLE whose RerunTimes is MaxAttempts or more is EXHAUSTED and
 * not added: WeData's count is evidence. Otherwise as wdr_policy_on_signal
 * (rerun_times -1: unknown). */
wdr_signal_decision_t wdr_policy_on_polled(wdr_policy_t *p, size_t wf,
                                           const char *execution_id,
                                           long long rerun_times,
                                           int64_t now_ms, uint32_t rnd);

/* The lanes due jobs wait in, one per API action they use, so that an
 * action waiting for its pace does not hold the others back: RERUN;
 * CHECK, VERIFY and FOLLOW (GetTriggerWorkflowRun); ASYNC (GetOpsAsyncJob). */
typedef enum {
  WDR_LANE_RERUN,
  WDR_LANE_READ_RUN,
  WDR_LANE_READ_JOB,
  WDR_LANES
} wdr_lane_t;

/* wdr_policy_lane: the lane of jobs of kind (RERUN to FOLLOW). */
wdr_lane_t wdr_policy_lane(wdr_job_kind_t kind);

/* wdr_policy_take_due: if a run is due at now_ms in a lane not in skip (a
 * bit per lane: 1u << WDR_LANE_...), marks it IN_FLIGHT, fills job and
 * returns true (the earliest due of those lanes first). Otherwise returns
 * false and sets *ret_next_ms to the earliest future due time in those
 * lanes (INT64_MAX if none). The first request of an attempt is charged to its
 * workflow's hourly budget here; when that is used up the run waits until a
 * slot frees (it is not dropped).
 *
 * The budget: a signal is refused (BUDGET) when the reruns sent in the
 * last hour plus those scheduled and not yet sent reach MaxRerunsPerHour;
 * a rerun is charged when it is sent. So at most MaxRerunsPerHour reruns
 * leave in any hour, also when one was scheduled long before (a backoff). */
bool wdr_policy_take_due(wdr_policy_t *p, int64_t now_ms, unsigned skip,
                         wdr_policy_job_t *job, int64_t *ret_next_ms);
/* A RERUN of a dry-run workflow comes out of wdr_policy_take_due already
 * decided (job->dry_run true, the run IDLE with the attempt counted): the
 * caller reports it and sends nothing; it has no answer to hand back. */

/* wdr_policy_on_result: the request for job ended with outcome at now_ms.
 * async_id: the AsyncId on ACCEPTED (may be NULL); error_code: the code on
 * failures (may be NULL), remembered as the run's last error. In a
 * TrackAsync workflow ACCEPTED starts following (at_ms: the first read).
 * ASYNC and FOLLOW jobs are answered with wdr_policy_on_async and
 * wdr_policy_on_follow, failed reads included; here they are STALE. */
wdr_result_decision_t
wdr_policy_on_result(wdr_policy_t *p, const wdr_policy_job_t *job,
                     wdr_outcome_t outcome, const char *async_id,
                     const char *error_code, int64_t now_ms, uint32_t rnd);

/* wdr_policy_requeue puts a job taken by wdr_policy_take_due back, due at
 * once, as if it had not been taken (the rate limit or the breaker said
 * not now, or the plugin is stopping before a worker took it); its budget
 * slot is given back. */
void wdr_policy_requeue(wdr_policy_t *p, const wdr_policy_job_t *job);

/* What the read before an attempt found. */
typedef enum {
  WDR_CHECK_PASS,           /* rerun it */
  WDR_CHECK_NOT_FAILED,     /* the run is not FAILED (any longer) */
  WDR_CHECK_NOT_RERUNNABLE, /* SupportRerun is false */
  WDR_CHECK_EXHAUSTED,      /* WeData's RerunTimes reached MaxAttempts */
} wdr_check_t;

/* wdr_policy_evaluate_check applies VerifyBeforeRerun's rules (in this
 * order) to what the run shows; without verify everything passes. */
wdr_check_t wdr_policy_evaluate_check(const wdr_policy_wf_t *wf,
                                      const char *state, bool support_rerun,
                                      long long rerun_times);

/* wdr_policy_on_check: the CHECK job read the run; check is the verdict,
 * tasks (copied) the unfinished tasks for TaskScope "incomplete". PASS
 * makes the rerun due at once (verdict CHECKED); anything else ends the
 * signal (verdict SKIPPED; the caller knows why from check); STALE for a
 * job that is not in flight. */
wdr_result_decision_t wdr_policy_on_check(wdr_policy_t *p,
                                          const wdr_policy_job_t *job,
                                          wdr_check_t check, char *const *tasks,
                                          size_t tasks_num, int64_t now_ms);

/* --- following an accepted rerun (TrackAsync) -------------------------- *
 *
 * In a TrackAsync workflow an accepted rerun (verdict ACCEPTED) does not
 * leave the run IDLE: it is ASYNC (its AsyncId is known: the async job is
 * read first) or FOLLOW (the run is read), the first read due at the
 * decision's at_ms. Signals for it are DUPLICATE until following ends. */

/* What a read of the async job (GetOpsAsyncJob) found. */
typedef enum {
  WDR_ASYNC_PENDING, /* INIT, RUNNING, a Status not known, or no answer */
  WDR_ASYNC_ENDED,   /* SUCCESS, FAIL or PART_SUCCESS */
  WDR_ASYNC_GONE,    /* the job cannot be read (a permanent error) */
} wdr_async_t;

/* What a read of the run after the rerun found. */
typedef enum {
  WDR_FOLLOW_RUNNING, /* a state that is not an end (PENDING, QUEUED, ...) */
  WDR_FOLLOW_UNKNOWN, /* no usable answer: read again */
  WDR_FOLLOW_SUCCESS,
  WDR_FOLLOW_FAILED,
  WDR_FOLLOW_SKIPPED, /* SKIPED (sic): it ended without running */
  WDR_FOLLOW_GONE,    /* the run cannot be read (a permanent error) */
} wdr_follow_t;

typedef enum {
  WDR_TRACK_WAIT,      /* read again at at_ms */
  WDR_TRACK_FOLLOW,    /* the async job ended (or is gone): the run is read
                          from at_ms */
  WDR_TRACK_TIMEOUT,   /* AsyncTimeout passed: the run is read from at_ms */
  WDR_TRACK_RECOVERED, /* the run is SUCCESS; recover_ms since the first
                          failure signal */
  WDR_TRACK_FAILED,    /* it failed again: signal says what comes next */
  WDR_TRACK_LOST,      /* stopped following: the run cannot be read, was
                          skipped, or did not end within the retention */
  WDR_TRACK_STALE,     /* the job is not in flight: ignore */
} wdr_track_verdict_t;

typedef struct {
  wdr_track_verdict_t verdict;
  int64_t at_ms;
  int64_t recover_ms;
  int attempts;                 /* accepted reruns of the run */
  wdr_signal_decision_t signal; /* FAILED: as for a failure signal */
} wdr_track_decision_t;

/* wdr_policy_async_of maps a GetOpsAsyncJob Status to ENDED or PENDING. */
wdr_async_t wdr_policy_async_of(const char *status);

/* wdr_policy_follow_of maps an ExecutionState to SUCCESS, FAILED, SKIPPED
 * (SKIPED, as WeData spells it) or RUNNING (anything else: RUNNING,
 * PENDING, QUEUED, undocumented ones). */
wdr_follow_t wdr_policy_follow_of(const char *state);

/* wdr_policy_on_async: the ASYNC job read the async job at now_ms. status
 * is its Status (remembered; may be NULL). PENDING reads again after
 * AsyncPollInterval unless AsyncTimeout has passed since the rerun was
 * accepted (then TIMEOUT); the last read is due at the timeout (the first
 * one too, when AsyncTimeout is shorter than AsyncPollInterval). */
wdr_track_decision_t wdr_policy_on_async(wdr_policy_t *p,
                                         const wdr_policy_job_t *job,
                                         wdr_async_t what, const char *status,
                                         int64_t now_ms);

/* wdr_policy_on_follow: the FOLLOW job read the run at now_ms.
 * SUCCESS ends following (RECOVERED, the run IDLE). FAILED counts as
 * failing again when WeData has caught up with the rerun (rerun_times, -1
 * when unknown, at least the reruns accepted here), the run was seen in
 * another state since, the async job ended FAIL or PART_SUCCESS, or this is
 * the WDR_FOLLOW_STALE_READS-th answered read or later; then the run takes
 * its next attempt as on a failure signal (backoff, MaxAttempts, budget).
 * Otherwise it is read again, at intervals doubling per answered read from
 * AsyncPollInterval to WDR_FOLLOW_MAX_MS (UNKNOWN: at the same interval),
 * until the retention has passed since the rerun was accepted (LOST). rnd:
 * for the backoff's jitter. */
wdr_track_decision_t wdr_policy_on_follow(wdr_policy_t *p,
                                          const wdr_policy_job_t *job,
                                          wdr_follow_t what,
                                          long long rerun_times, int64_t now_ms,
                                          uint32_t rnd);

/* --- one answer per job -------------------------------------------------
 *
 * wdr_policy_on_answer is how the engine hands back what came of a job of
 * kind RERUN to FOLLOW (LIST answers belong to polling). It classifies the
 * answer and applies the step below that fits: on_result, on_check,
 * on_async or on_follow; those stay exported for the unit tests only. */

typedef enum {
  WDR_ANSWERED_RESULT, /* result holds the verdict (RERUN, VERIFY, a CHECK
                          that got no usable answer) */
  WDR_ANSWERED_CHECK,  /* a CHECK read the run: check is what it found,
                          result the verdict (CHECKED, SKIPPED or STALE) */
  WDR_ANSWERED_TRACK,  /* an ASYNC or FOLLOW read: track holds the verdict,
                          async or follow what the read found */
} wdr_answered_t;

typedef struct {
  wdr_api_class_t cls; /* the answer's class */
  wdr_answered_t what;
  wdr_result_decision_t result;
  wdr_check_t check;
  bool whole; /* CHECK: task runs without usable TaskIds, so the attempt
                 reruns the whole workflow (TaskScope "incomplete") */
  wdr_async_t async;
  wdr_follow_t follow;
  wdr_track_decision_t track;
} wdr_answer_decision_t;

/* wdr_policy_on_answer: job (taken by wdr_policy_take_due, never a dry
 * run) got answer at now_ms; rnd is for the jitter. The answer is only
 * read: the caller still owns it. */
wdr_answer_decision_t wdr_policy_on_answer(wdr_policy_t *p,
                                           const wdr_policy_job_t *job,
                                           const wdr_answer_t *answer,
                                           int64_t now_ms, uint32_t rnd);

/* wdr_policy_pending: runs SCHEDULED, VERIFY or IN_FLIGHT (reads of a
 * followed rerun are not counted: they are not waiting reruns). */
size_t wdr_policy_pending(const wdr_policy_t *p);

/* wdr_policy_prune forgets IDLE and PERMANENT runs not updated within the
 * retention, and budget entries older than an hour. Returns how many runs
 * it removed. */
size_t wdr_policy_prune(wdr_policy_t *p, int64_t now_ms);

/* wdr_policy_backoff_ms: the wait before attempt n+1 after n tries (n >= 1):
 * at least retry_interval * 2^(n-1), plus up to as much again of jitter,
 * never above max_retry_interval. Exposed for the tests. */
int64_t wdr_policy_backoff_ms(const wdr_policy_wf_t *wf, int n, uint32_t rnd);

const char *wdr_run_state_name(wdr_run_state_t s);

#endif
