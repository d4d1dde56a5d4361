/* wdr_statetool: what the state tool (wedata-rerun-state) shows and does.
 *
 * Pure: the state loaded without a config (every workflow it names), a run
 * looked up, list and show rendered as text or as JSON (yajl), the forget
 * edit, and whether files read without the lock were read consistently.
 * No I/O, no clock: the tool's main (wedata_rerun_state.c) reads and
 * writes the files, holds the lock and passes the time in. One thread. */
#ifndef WDR_STATETOOL_H
#define WDR_STATETOOL_H

#include "wdr_buf.h"
#include "wdr_policy.h"
#include "wdr_state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The files of one state, in the order they are read and applied. */
enum { WDR_STATETOOL_SNAPSHOT, WDR_STATETOOL_JOURNAL, WDR_STATETOOL_NEXT };
#define WDR_STATETOOL_FILES 3

/* A loaded state. Owns everything in it; wdr_statetool_free frees it. */
typedef struct {
  wdr_policy_t *policy;     /* the runs, as stored (cfg.verbatim) */
  wdr_state_workflow_t *wf; /* every workflow named, sorted by name */
  size_t wf_num;
  char **names;  /* wf[i].name, as wdr_state_* take them (borrowed) */
  bool *persist; /* all true: every workflow's runs are written */
  wdr_policy_wf_t *policy_wf;
  wdr_state_stats_t stats;
} wdr_statetool_state_t;

/* wdr_statetool_load reads a snapshot (NUL-terminated, snapshot_len bytes)
 * and its journals (as wdr_state_load takes them) into *st, with every
 * workflow they name and every run exactly as stored (not as a restart
 * would resume it). Returns 0; -1 when it is not a state this version
 * can read (also when a record found no place: a run would be missing),
 * -2 when a newer version wrote it (err says why: the reason
 * wdr_state_load gives), -3 when memory ran out. *st is set either way:
 * free it with wdr_statetool_free. */
int wdr_statetool_load(const char *snapshot, size_t snapshot_len,
                       const char *const *journals, const size_t *journal_lens,
                       size_t journals_num, int64_t now_ms,
                       wdr_statetool_state_t *st, char *err, size_t err_size)
    __attribute__((warn_unused_result));
void wdr_statetool_free(wdr_statetool_state_t *st);

/* wdr_statetool_find looks up run id (a WorkflowExecutionId) of workflow
 * (NULL: of any workflow). Returns 0 with *ret (borrowed from st->policy,
 * valid until st changes); 1 when no such run is there; 2 when workflow is
 * NULL and runs of that id are there under several workflows (a run id is
 * unique per workflow only): err names them, the caller asks for one. */
int wdr_statetool_find(const wdr_statetool_state_t *st, const char *id,
                       const char *workflow, const wdr_run_t **ret, char *err,
                       size_t err_size) __attribute__((warn_unused_result));

/* wdr_statetool_list appends every run (of workflow only, unless NULL),
 * sorted by workflow then run id, to out. As text: a header row and one
 * aligned row per run (workflow, run, state, attempts, last AsyncId, last
 * error, and when its next request is due as "<UTC ISO-8601> (in N s)",
 * "(due)" once passed, or "-"), control characters shown as spaces. As
 * JSON: an array of objects with the same fields (texts null when empty;
 * the due time as unix ms, ISO text and seconds from now_ms, each null
 * when nothing is due). Returns 0, or -1 when out overflowed or memory ran
 * out. */
int wdr_statetool_list(const wdr_statetool_state_t *st, const char *workflow,
                       bool json, int64_t now_ms, wdr_buf_t *out)
    __attribute__((warn_unused_result));

/* wdr_statetool_show appends everything the state holds about run r (one
 * of st's) and its workflow's budget window: as "key: value" lines, or as
 * one JSON object (times as unix ms and ISO text). Returns 0 or -1. */
int wdr_statetool_show(const wdr_statetool_state_t *st, const wdr_run_t *r,
                       bool json, int64_t now_ms, wdr_buf_t *out)
    __attribute__((warn_unused_result));

/* wdr_statetool_forget removes run r (one of st's) and begins what then
 * replaces the files: *header_out the header of a new snapshot, of a
 * journal generation above every one read (so that any journal left on
 * disk is older than it and ignored), keeping the config digests of the
 * old snapshot's header (old_snapshot, NUL-terminated); *journal_out an
 * empty journal of that generation. The snapshot's records follow, a part
 * at a time, from wdr_statetool_snapshot_part. r is invalid afterwards.
 * Returns 0 or -1 (out of memory or bounds). */
int wdr_statetool_forget(wdr_statetool_state_t *st, const wdr_run_t *r,
                         const char *old_snapshot, size_t old_len,
                         int64_t now_ms, wdr_buf_t *header_out,
                         wdr_buf_t *journal_out)
    __attribute__((warn_unused_result));

/* wdr_statetool_snapshot_part appends the records of at most max_runs runs
 * of st, from *cursor on, and after the last run the budget windows
 * (*ret_last then true): a snapshot's records one part at a time, so that
 * its whole text is never in memory (wdr_state_serialize_part). Returns 0
 * or -1. */
int wdr_statetool_snapshot_part(const wdr_statetool_state_t *st, size_t *cursor,
                                size_t max_runs, wdr_buf_t *out, bool *ret_last)
    __attribute__((warn_unused_result));

/* wdr_statetool_forgotten appends what forget says when it is done: "forgot
 * run RUN of workflow WF" as text, {"forgotten":{"workflow":..,
 * "execution_id":..}} as JSON. Returns 0 or -1. */
int wdr_statetool_forgotten(const char *id, const char *workflow, bool json,
                            wdr_buf_t *out) __attribute__((warn_unused_result));

/* wdr_statetool_consistent: whether the snapshot, journal and next journal
 * (read[i]: what wdr_state_read_file_id read, in that order) still are the
 * files their paths name (now[i]: wdr_state_file_id_now afterwards), so
 * that together they are one state. The plugin replaces files only by
 * rename and appends whole records; a reader without the lock must read
 * again when a file was replaced, appeared or vanished meanwhile, or when
 * the journal grew after it was read while a next journal was there (a
 * fold began in between: the records between are in neither copy). */
bool wdr_statetool_consistent(const wdr_state_file_id_t *read,
                              const wdr_state_file_id_t *now);

#endif
