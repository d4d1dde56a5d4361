/* wdr_state: the durable state, as a snapshot and a journal.
 *
 * Version 2: one JSON object per line, so that grep finds a run.
 *   <StateFile>          the snapshot: a header
 *                        {"version":2,"kind":"snapshot","saved_ms":..,
 *                         "journal":G}, then one record per run and budget
 *   <StateFile>.journal  what changed since: a header with kind "journal"
 *                        and its generation G, then one record per change
 *   <StateFile>.journal.next  while a new snapshot is being built: what
 *                        changed since it began (generation G+1)
 * Records: {"run":{"workflow":..,"execution_id":..,...}} (the run as it is
 * now), {"forget":{"workflow":..,"execution_id":..}} and
 * {"budget":{"workflow":..,"sent":[ms..]}}. Loading applies the snapshot,
 * then the journal, then the next journal, each in order; a journal of a
 * generation below the snapshot's is older than it and ignored. A journal's
 * last line cut short by a crash is ignored. Runs are stored by workflow name,
 * so reordering the config is harmless; runs of workflows no longer configured
 * are dropped on load. Version 1 (one JSON object) is still read, once, and
 * a file of a newer version is refused and left alone (the engine then
 * writes none).
 *
 * The record and snapshot writers and wdr_state_load are pure. The file
 * functions are the only I/O: a snapshot or a new journal replaces the old
 * one atomically (temporary file, fsync, rename, fsync of the folder); a
 * journal append is one write and one fdatasync. */
#ifndef WDR_STATE_H
#define WDR_STATE_H

#include "wdr_buf.h"
#include "wdr_policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WDR_STATE_VERSION 2
/* The bound of one file of the state: a tracked run takes about 520 bytes,
 * so MaxTrackedRuns (at most 1,000,000) runs fit with room to spare.
 * Buffers grow to what they hold, not to this. */
#define WDR_STATE_MAX (1024 * 1024 * 1024)

/* wdr_state_serialize_part appends the records of at most max_runs runs of
 * p, from run *cursor on (advanced past them), to out, and after the last
 * run the budget windows (*ret_last then true): a snapshot after its header
 * (wdr_state_snapshot_header), one part at a time, so that memory never
 * holds all of it. names[i] is workflow i's name; runs and budgets of
 * workflows with persist[i] false (dry run) are left out. Returns 0 or -1.
 * wdr_state_serialize appends a whole snapshot (journal generation gen):
 * the header, then every part. */
int wdr_state_serialize_part(const wdr_policy_t *p, char *const *names,
                             const bool *persist, size_t wf_num, size_t *cursor,
                             size_t max_runs, wdr_buf_t *out, bool *ret_last)
    __attribute__((warn_unused_result));
int wdr_state_serialize(const wdr_policy_t *p, char *const *names,
                        const bool *persist, size_t wf_num, int64_t now_ms,
                        uint64_t gen, wdr_buf_t *out)
    __attribute__((warn_unused_result));

/* wdr_state_job_name: how the state file names a run's in-flight job
 * (kinds RERUN to FOLLOW: "rerun", "verify", ...); "rerun" for any other
 * value, as a load reads it. */
const char *wdr_state_job_name(wdr_job_kind_t kind);

/* The config a snapshot was written under: workflow i's name and the
 * digest of its config (wdr_workflow_cfg_t.config_digest; "" unknown, left
 * out). A snapshot header holds them as "config":{name:digest,..}, which
 * older versions ignore. */
typedef struct {
  char *const *names;
  const char *const *digests;
  size_t num;
} wdr_state_config_t;

/* One line each, appended to out; 0 or -1. A snapshot written in parts is
 * its header, then records, like wdr_state_serialize's. config may be NULL
 * (no "config" in the header). */
int wdr_state_journal_header(uint64_t gen, int64_t now_ms, wdr_buf_t *out)
    __attribute__((warn_unused_result));
int wdr_state_snapshot_header(uint64_t gen, int64_t now_ms,
                              const wdr_state_config_t *config, wdr_buf_t *out)
    __attribute__((warn_unused_result));

/* wdr_state_config_changed reads the header of a snapshot (version 2; any
 * other text records nothing) and sets changed[i] for every workflow of
 * now whose digest is known and differs from the one recorded for it.
 * Returns how many changed, and sets *ret_unrecorded when the header does
 * not hold a known digest of now as it is (changed or not recorded): the
 * next snapshot should record it. Pure; a header it cannot read records
 * nothing. */
size_t wdr_state_config_changed(const char *snapshot, size_t len,
                                const wdr_state_config_t *now, bool *changed,
                                bool *ret_unrecorded);
int wdr_state_record_run(const wdr_run_t *r, const char *workflow,
                         wdr_buf_t *out) __attribute__((warn_unused_result));
int wdr_state_record_forget(const char *workflow, const char *execution_id,
                            wdr_buf_t *out) __attribute__((warn_unused_result));
int wdr_state_record_budget(const char *workflow, const int64_t *sent,
                            size_t num, wdr_buf_t *out)
    __attribute__((warn_unused_result));

typedef struct {
  size_t runs;             /* in the policy after loading */
  size_t unknown_workflow; /* records dropped: workflow not configured */
  size_t rejected;         /* dropped: the table was full */
  /* records of runs that a credentials error had stopped for good (older
   * versions), released on load */
  size_t released;
  bool legacy;            /* version 1: write version 2 now */
  uint64_t gen;           /* the snapshot's journal generation */
  size_t journal_records; /* applied from the journal */
  bool torn;              /* the journal's cut last record was ignored */
  bool stale_journal;     /* a journal of another generation was ignored */
} wdr_state_stats_t;

/* wdr_state_load restores a snapshot (NUL-terminated, snapshot_len bytes;
 * version 1 or 2) and then the journals, in the order given (NULL or empty
 * ones skipped), into p. A journal whose generation is below the
 * snapshot's is ignored; stats->gen is the highest generation applied.
 * Returns 0; -1 when they are not a state this version can read (err says
 * why; p may hold part of it: the caller discards p); -2 when the snapshot
 * was written by a newer version (err says so: leave the files alone). */
int wdr_state_load(const char *snapshot, size_t snapshot_len,
                   const char *const *journals, const size_t *journal_lens,
                   size_t journals_num, wdr_policy_t *p, char *const *names,
                   size_t wf_num, int64_t now_ms, wdr_state_stats_t *stats,
                   char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* wdr_state_parse is wdr_state_load of a snapshot without a journal. */
int wdr_state_parse(const char *text, size_t len, wdr_policy_t *p,
                    char *const *names, size_t wf_num, int64_t now_ms,
                    wdr_state_stats_t *stats, char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* The workflows a state names, for a reader without a config (the state
 * tool): name is a heap copy; budget_max the longest budget window
 * recorded for it (the policy's MaxRerunsPerHour must be at least that to
 * hold the window). */
typedef struct {
  char *name;
  size_t budget_max;
} wdr_state_workflow_t;

/* wdr_state_workflows lists every workflow that a record of the snapshot
 * (version 1 or 2, NUL-terminated, snapshot_len bytes) or of the journals
 * names (runs, forgets, budget windows), each once, sorted by name
 * (strcmp). Pure. Lines it cannot read are passed over: wdr_state_load
 * says what is wrong with them. Returns 0 with *ret (freed with
 * wdr_state_workflows_free; NULL when none) and *ret_num, or -1 when
 * memory ran out (*ret NULL). */
int wdr_state_workflows(const char *snapshot, size_t snapshot_len,
                        const char *const *journals, const size_t *journal_lens,
                        size_t journals_num, wdr_state_workflow_t **ret,
                        size_t *ret_num) __attribute__((warn_unused_result));
void wdr_state_workflows_free(wdr_state_workflow_t *w, size_t num);

/* wdr_state_read_file reads path into out. Returns 0, 1 when the file does
 * not exist, -1 on error (err says why). */
int wdr_state_read_file(const char *path, wdr_buf_t *out, char *err,
                        size_t err_size) __attribute__((warn_unused_result));

/* Which file was read: a reader that does not hold the lock (the state
 * tool) compares it with what the path names afterwards, to see whether
 * the file was replaced (renamed over) or grew while it read. exists is
 * false when there was none. */
typedef struct {
  bool exists;
  unsigned long long dev, ino;
  size_t size; /* bytes read */
} wdr_state_file_id_t;

/* wdr_state_read_file_id is wdr_state_read_file that also says which file
 * it read (*ret_id; exists false when it returns 1). */
int wdr_state_read_file_id(const char *path, wdr_buf_t *out,
                           wdr_state_file_id_t *ret_id, char *err,
                           size_t err_size) __attribute__((warn_unused_result));

/* wdr_state_file_id_now: what path names now (without reading it): the
 * file's device, inode and size, or exists false when there is none (or it
 * cannot be looked at). */
void wdr_state_file_id_now(const char *path, wdr_state_file_id_t *ret_id);

/* wdr_state_write_file replaces path with data atomically. Returns 0 or -1
 * (err says which step failed). */
int wdr_state_write_file(const char *path, const wdr_buf_t *data, char *err,
                         size_t err_size) __attribute__((warn_unused_result));

/* Appending to a journal. wdr_state_append_open opens path for appending
 * (created 0600 if missing) and returns the descriptor, or -1 (err says
 * why); the caller closes it, and must open it again once the file was
 * replaced (renamed over). wdr_state_append writes data with one write and,
 * when sync, one fdatasync, which also makes every earlier unsynced append
 * durable: a journal is synced only before something that must survive a
 * power loss (a rerun about to leave), while a killed process loses
 * nothing it wrote. Returns 0 or -1 (err says which step failed). */
int wdr_state_append_open(const char *path, char *err, size_t err_size);
/* wdr_state_append_close closes *fd if open and sets it to -1. */
void wdr_state_append_close(int *fd);
int wdr_state_append(int fd, const char *path, const wdr_buf_t *data, bool sync,
                     char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* A snapshot written in parts (a fold): wdr_state_fold_open creates the
 * temporary file "<path>.tmp-<pid>" and returns its descriptor (or -1);
 * wdr_state_fold_write appends a part (0 or -1); wdr_state_fold_commit
 * fsyncs and closes it, renames it over path, fsyncs the folder, then
 * (unless next is NULL) renames next over journal and fsyncs the folder
 * again (0 or -1, fd closed either way); wdr_state_fold_abort closes and
 * removes it. err says which step failed. */
int wdr_state_fold_open(const char *path, char *err, size_t err_size);
int wdr_state_fold_write(int fd, const wdr_buf_t *part, char *err,
                         size_t err_size) __attribute__((warn_unused_result));
int wdr_state_fold_commit(int fd, const char *path, const char *journal,
                          const char *next, char *err, size_t err_size)
    __attribute__((warn_unused_result));
void wdr_state_fold_abort(int fd, const char *path);

/* wdr_state_move_aside renames path to "<path>.corrupt-<now_s>" and writes
 * the new name into new_path. Returns 0 or -1. */
int wdr_state_move_aside(const char *path, int64_t now_s, char *new_path,
                         size_t new_path_size)
    __attribute__((warn_unused_result));

/* --- one owner ------------------------------------------------------------
 *
 * Two processes acting on one state would both rerun the same failure and
 * overwrite each other's file. The owner holds an exclusive lock (an
 * open-file-description lock, fcntl F_OFD_SETLK) on "<path>.lock", created
 * 0600 beside it and holding the owner's pid, for as long as it runs; the
 * kernel drops it when the process dies, so a crash never leaves a stale
 * lock behind. */

/* wdr_state_lock takes the lock for the state at path. Returns the lock's
 * file descriptor (>= 0; keep it open to keep the lock); -2 when another
 * process holds it (*ret_holder is its pid, or 0 when the lock file does
 * not say); -1 when it cannot be taken at all (a read-only folder, say:
 * *ret_holder 0, err says why). */
int wdr_state_lock(const char *path, long *ret_holder, char *err,
                   size_t err_size) __attribute__((warn_unused_result));

/* wdr_state_unlock releases the lock taken by wdr_state_lock (fd < 0 is
 * fine). */
void wdr_state_unlock(int fd);

/* wdr_state_remove_temps removes the temporary files "<path>.tmp-<pid>"
 * (and those of the journal and the next journal) that a crash in the
 * middle of a write left behind (ours too: a previous process may have had
 * our pid). Call it only while holding the lock.
 * Returns how many it removed, or -1 when the folder cannot be read. */
int wdr_state_remove_temps(const char *path);

#endif
