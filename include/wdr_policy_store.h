/* wdr_policy_store: the policy's table as the state file sees it.
 *
 * Only the state file (wdr_state) reads the table out and puts runs back
 * in; the engine works through wdr_policy.h alone. Same threading as
 * wdr_policy: one owner. */
#ifndef WDR_POLICY_STORE_H
#define WDR_POLICY_STORE_H

#include "wdr_policy.h"

/* The table: wdr_policy_runs_num runs, run i by wdr_policy_run_at
 * (0 <= i < num; borrowed, valid until the next call that changes the
 * policy). A run that a change moves takes another index. */
size_t wdr_policy_runs_num(const wdr_policy_t *p);
const wdr_run_t *wdr_policy_run_at(const wdr_policy_t *p, size_t i);

/* The budget window of workflow wf: send times (ms) of the reruns counted
 * in the last hour, oldest first; borrowed like wdr_policy_run_at. */
const int64_t *wdr_policy_budget(const wdr_policy_t *p, size_t wf,
                                 size_t *ret_num);

/* wdr_policy_restore adds a run read back from the state file. A run that
 * was IN_FLIGHT with a rerun or verify request becomes VERIFY, due after
 * WDR_VERIFY_DELAY_MS from now_ms: after a crash nobody knows whether the
 * rerun reached the server. One that was in the middle of a read makes it
 * again, due at now_ms: a CHECK as SCHEDULED, an ASYNC or FOLLOW read as
 * ASYNC or FOLLOW. A run being followed in a workflow whose track is now
 * false becomes IDLE; ASYNC without an AsyncId becomes FOLLOW. A run that
 * an AuthFailure* or UnauthorizedOperation* code (or SignatureExpire) made
 * PERMANENT (older versions did) becomes SCHEDULED, due at now_ms with its
 * retries afresh: the credentials or the clock were at fault, not the run,
 * and its failure was never acted on. With cfg.verbatim none of this
 * happens: the run goes in as it was read. Returns 0, 1 when it was
 * released that way, or -1 when the table is full, wf is out of range or
 * the run is already there. On success the run's texts move into the table
 * (run keeps only its execution_id and scope); either way the caller
 * wdr_run_clear()s run afterwards. */
int wdr_policy_restore(wdr_policy_t *p, wdr_run_t *run, int64_t now_ms);

/* wdr_policy_release_permanent makes every run of workflow wf that a
 * permanent error stopped IDLE (the workflow's config changed since: the
 * next failure signal starts a new attempt). Walks the table once: for the
 * load, not for events. Returns how many it released. */
size_t wdr_policy_release_permanent(wdr_policy_t *p, size_t wf);

/* wdr_policy_restore_budget appends a send time to workflow wf's window. */
void wdr_policy_restore_budget(wdr_policy_t *p, size_t wf, int64_t sent_ms);

/* wdr_policy_hold makes every run that waits for a job due no earlier than
 * until_ms (restored work at start: a config check must not act). Walks
 * the table once: for the load, not for events. */
void wdr_policy_hold(wdr_policy_t *p, int64_t until_ms);

/* --- what changed, for the journal ---------------------------------------
 *
 * The state file records only what changed: the engine drains the changes
 * after each pass and appends one record per change. */
typedef struct {
  void (*run)(void *ctx, const wdr_run_t *r); /* a run as it is now */
  void (*forgotten)(void *ctx, size_t wf, const char *id); /* removed */
  /* Workflow wf's budget window as it is now (send times, oldest first). */
  void (*budget)(void *ctx, size_t wf, const int64_t *sent, size_t num);
  void *ctx;
} wdr_policy_changes_t;

/* wdr_policy_drain_changes hands every change since the last drain to c:
 * forgotten runs first, then changed runs, then changed budget windows
 * (in that order they rebuild the policy as it is), and starts afresh. */
void wdr_policy_drain_changes(wdr_policy_t *p, const wdr_policy_changes_t *c);

/* For replaying a journal: wdr_policy_forget removes run (wf, id) if it is
 * there; wdr_policy_clear_budget empties workflow wf's window (then
 * wdr_policy_restore_budget fills it again). */
void wdr_policy_forget(wdr_policy_t *p, size_t wf, const char *id);
void wdr_policy_clear_budget(wdr_policy_t *p, size_t wf);

#endif
