/* wdr_table: the policy's table of runs, at constant cost per event.
 *
 * Runs live in one dense array (removal moves the last run into the gap).
 * Beside it: a hash index by (workflow, run id), one min-heap per lane of
 * the runs waiting for a job (SCHEDULED, VERIFY, ASYNC, FOLLOW) by
 * next_at_ms (the owner says which lane a run's next job is in: one per API
 * action, so that one action waiting for its pace does not hold the others
 * back), a min-heap of finished runs (IDLE, PERMANENT) by updated_ms, and the
 * counts the policy asks for on every signal (pending runs; per workflow,
 * reruns scheduled and not yet charged to the budget). Lookup and insertion are
 * O(1), the next due run and the oldest finished one O(1), a change of a
 * run O(log n).
 *
 * The contract: after changing a run's state, next_at_ms, updated_ms,
 * request_retries, resigned, maybe_acted, checked (or anything else its
 * lane depends on), call wdr_table_settle on it. Pointers into
 * the table are valid until the next wdr_table_add or wdr_table_remove.
 * The table owns each run's execution_id (the key): wdr_table_add sets it,
 * and removal or wdr_table_destroy frees it; the rest of a run is the
 * owner's to free before wdr_table_remove.
 *
 * Pure; one owner thread (the policy's). */
#ifndef WDR_TABLE_H
#define WDR_TABLE_H

#include "wdr_policy.h"

#include <stddef.h>

typedef struct wdr_table_s wdr_table_t;

#define WDR_TABLE_LANES 3

/* The lane (0 <= lane < WDR_TABLE_LANES) of a run waiting for a job;
 * called by wdr_table_settle. */
typedef unsigned (*wdr_table_lane_fn)(const wdr_run_t *r, const void *ctx);

/* wdr_table_create: room for at most max_runs runs of wf_num workflows;
 * lane_of (with ctx) files waiting runs (NULL: all in lane 0). NULL on
 * bad input or no memory. */
wdr_table_t *wdr_table_create(size_t wf_num, size_t max_runs,
                              wdr_table_lane_fn lane_of, const void *ctx);
/* wdr_table_destroy frees the table (not what runs point to: the owner
 * clears those first). NULL is fine. */
void wdr_table_destroy(wdr_table_t *t);

wdr_run_t *wdr_table_find(const wdr_table_t *t, size_t wf, const char *id);

/* wdr_table_add: a new, zeroed run with its key set and indexed (IDLE, so
 * among the finished ones until settled otherwise). NULL when the table
 * holds max_runs runs, the key is bad or already there, or on no memory. */
wdr_run_t *wdr_table_add(wdr_table_t *t, size_t wf, const char *id);

/* wdr_table_remove forgets r (the owner has freed what it points to). */
void wdr_table_remove(wdr_table_t *t, wdr_run_t *r);

/* wdr_table_settle re-files r after a change (see the contract above). */
void wdr_table_settle(wdr_table_t *t, wdr_run_t *r);

/* The run waiting for a job that is due first in the lanes not in skip (a
 * bit per lane), or NULL; ties go first-come across lanes too. */
wdr_run_t *wdr_table_next_due(const wdr_table_t *t, unsigned skip);
/* The finished run updated longest ago, or NULL. */
wdr_run_t *wdr_table_oldest_finished(const wdr_table_t *t);

size_t wdr_table_size(const wdr_table_t *t);
size_t wdr_table_max(const wdr_table_t *t);
/* Run i (0 <= i < size), for walking the whole table (the state file). */
wdr_run_t *wdr_table_at(const wdr_table_t *t, size_t i);

/* --- what changed, for the journal ---------------------------------------
 *
 * Every run settled since the last drain is "changed", and every run
 * removed is "forgotten" (by key); a run moved by a removal counts as
 * changed too, so that a snapshot written in parts misses none. */

typedef struct {
  void (*changed)(void *ctx, const wdr_run_t *r);
  void (*forgotten)(void *ctx, size_t wf, const char *id);
  void *ctx;
} wdr_table_changes_t;

/* wdr_table_drain_changes hands each change since the last drain to c
 * (forgotten keys first, then changed runs in no particular order: applied
 * in that order they give the table as it is) and starts afresh. */
void wdr_table_drain_changes(wdr_table_t *t, const wdr_table_changes_t *c);

/* Runs SCHEDULED, VERIFY or IN_FLIGHT with a rerun, verify or check (reads
 * of a followed rerun are not waiting reruns). */
size_t wdr_table_pending(const wdr_table_t *t);
/* Runs of workflow wf SCHEDULED for the first request of an attempt (not a
 * retry, not a re-sign): the reruns the budget has not charged yet. */
size_t wdr_table_awaiting(const wdr_table_t *t, size_t wf);

#endif
