/* wdr_engine: the plugin's decisions, without threads or collectd.
 *
 * The body of the engine thread. It owns the policy (the table of runs),
 * polling, one pace per API action, the breaker (outages) and the
 * credentials' gate; it takes failure signals and
 * answers in, hands out the jobs that are due, and reports everything it
 * decides through the sink (log lines, notifications, the durable state)
 * and the counters. Data flows one way:
 *
 *   wdr_engine_on_signal / wdr_engine_on_answer   (what happened)
 *   wdr_engine_dispatch -> jobs for the workers    (what to do now)
 *
 * Pure: time (wall-clock milliseconds, so that it survives a restart) and
 * randomness (uniform 32-bit values, for jitter) are arguments; nothing here
 * reads a clock, sleeps, locks or does I/O but through the sink. One owner
 * thread; the counters (wdr_metrics) are the only thing other threads read
 * meanwhile. */
#ifndef WDR_ENGINE_H
#define WDR_ENGINE_H

#include "wdr_action.h"
#include "wdr_config.h"
#include "wdr_metrics.h"
#include "wdr_sink.h"

#include <stddef.h>
#include <stdint.h>

#define WDR_ENGINE_PRUNE_MS 60000 /* forget old runs this often */
/* Work the engine finds at start (restored runs, the first poll) waits this
 * long: `collectd -T` checks a config by running init and exiting within
 * a fraction of a second, and a check must never act. Failure signals that
 * arrive meanwhile are acted on at once: a check receives none. */
#define WDR_ENGINE_START_HOLD_MS 3000
#define WDR_ENGINE_IDLE_MS 1000 /* longest wait between two passes */

typedef struct wdr_engine_s wdr_engine_t;

/* wdr_engine_create: an engine for cfg, reporting to metrics and sink (all
 * borrowed: they must outlive it), with the durable state loaded through
 * the sink (a corrupt one is moved aside and the engine starts empty, with
 * a WARNING). Restored runs and the first poll are due no earlier than
 * WDR_ENGINE_START_HOLD_MS after now_ms. Returns NULL on no memory. */
wdr_engine_t *wdr_engine_create(const wdr_config_t *cfg, wdr_metrics_t *metrics,
                                const wdr_sink_t *sink, int64_t now_ms);
void wdr_engine_destroy(wdr_engine_t *e);

/* wdr_engine_on_signal: a failure signal for run execution_id of workflow
 * wf; "" means "no run id": the newest failed run is looked for. */
void wdr_engine_on_signal(wdr_engine_t *e, size_t wf, const char *execution_id,
                          int64_t now_ms, uint32_t rnd);

/* wdr_engine_on_answer: job (handed out by wdr_engine_dispatch) came back
 * with answer. Takes what answer owns (it is freed here). */
void wdr_engine_on_answer(wdr_engine_t *e, const wdr_job_t *job,
                          wdr_answer_t *answer, int64_t now_ms, uint32_t rnd);

/* wdr_engine_dispatch: forgets old runs and starts polls when their time
 * has come, then hands out at most max due jobs (listings first: they find
 * failures) while their action's pace, the credentials' gate and the
 * breaker allow (an action waiting for its pace does not hold the others
 * back), writing the state
 * through the sink before returning any (so that after a crash a request
 * that may have left is verified, never resent blindly). Dry-run reruns are
 * decided and reported here and never handed out. Returns the number of
 * jobs in jobs; *ret_wake is when another pass could hand out more. */
size_t wdr_engine_dispatch(wdr_engine_t *e, int64_t now_ms, wdr_job_t *jobs,
                           size_t max, int64_t *ret_wake);

/* wdr_engine_requeue: a job from wdr_engine_dispatch that no worker took
 * (the queue was full, or the plugin stops): it is due again as before. */
void wdr_engine_requeue(wdr_engine_t *e, const wdr_job_t *job, int64_t now_ms);

/* The journal is folded into a new snapshot when it grows past the
 * snapshot (and past this), this many runs a save, so that no pass of the
 * engine waits for a whole snapshot. */
#define WDR_ENGINE_JOURNAL_MIN (1024 * 1024)
#define WDR_ENGINE_FOLD_RUNS 500
/* After a failed write of the state, the snapshot that must follow is
 * tried again this long after (journal appends go on meanwhile). */
#define WDR_ENGINE_SNAPSHOT_RETRY_MS 10000

/* wdr_engine_save records what changed since the last save: one journal
 * record per changed run (and budget window), all in one append (one
 * write, one fdatasync); nothing when nothing changed. When the journal
 * has outgrown the snapshot it starts a fold, and every save while one is
 * under way writes WDR_ENGINE_FOLD_RUNS runs of the new snapshot (the
 * changes going to the next journal meanwhile). It writes a whole snapshot
 * at once when snapshot is true (at stop), on the first save, after an
 * upgrade from a version-1 file, after a crash cut a fold short, and after
 * a failed write. A failed write is logged (rate-limited; at stop, always). */
void wdr_engine_save(wdr_engine_t *e, int64_t now_ms, bool snapshot);

/* wdr_engine_pending: runs waiting for a rerun or its read-back. */
size_t wdr_engine_pending(const wdr_engine_t *e);

#endif
