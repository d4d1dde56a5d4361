/* wdr_state: the durable state file.
 *
 * The policy table as JSON, version 1:
 *   {"version":1,"saved_ms":..,"runs":[{"workflow":"name",
 *    "execution_id":"..","state":"scheduled",...}],"budget":{"name":[ms..]}}
 * Runs are stored by workflow name, so reordering the config is harmless;
 * runs of workflows no longer configured are dropped on load.
 *
 * wdr_state_serialize and wdr_state_parse are pure. wdr_state_write_file
 * and wdr_state_read_file are the only file I/O: the write is atomic (a
 * temporary file in the same folder, fsync, rename over the old file, fsync
 * of the folder), so a crash leaves the old file or the new one, never a
 * torn one. */
#ifndef WDR_STATE_H
#define WDR_STATE_H

#include "wdr_buf.h"
#include "wdr_policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WDR_STATE_VERSION 1
#define WDR_STATE_MAX (64 * 1024 * 1024) /* the file's size bound */

/* wdr_state_serialize appends the state of p to out. names[i] is workflow
 * i's name; runs of workflows with persist[i] false (dry run) are left out.
 * Returns 0 or -1. */
int wdr_state_serialize(const wdr_policy_t *p, char *const *names,
                        const bool *persist, size_t wf_num, int64_t now_ms,
                        wdr_buf_t *out) __attribute__((warn_unused_result));

typedef struct {
  size_t runs;             /* restored */
  size_t unknown_workflow; /* dropped: workflow not configured */
  size_t rejected;         /* dropped: duplicate, or the table was full */
} wdr_state_stats_t;

/* wdr_state_parse restores text (len bytes, NUL-terminated) into p.
 * Returns 0, or -1 when the text is not a version-1 state (err says why;
 * p may then hold part of it: the caller discards p). */
int wdr_state_parse(const char *text, size_t len, wdr_policy_t *p,
                    char *const *names, size_t wf_num, int64_t now_ms,
                    wdr_state_stats_t *stats, char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* wdr_state_read_file reads path into out. Returns 0, 1 when the file does
 * not exist, -1 on error (err says why). */
int wdr_state_read_file(const char *path, wdr_buf_t *out, char *err,
                        size_t err_size) __attribute__((warn_unused_result));

/* wdr_state_write_file replaces path with data atomically. Returns 0 or -1
 * (err says which step failed). */
int wdr_state_write_file(const char *path, const wdr_buf_t *data, char *err,
                         size_t err_size) __attribute__((warn_unused_result));

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
 * file descriptor (>= 0; keep it open to keep the lock). Returns -1 when
 * another process holds it (*ret_holder is its pid, or 0 when the system
 * lock file does not say) or on error (*ret_holder 0, err says why). */
int wdr_state_lock(const char *path, long *ret_holder, char *err,
                   size_t err_size) __attribute__((warn_unused_result));

/* wdr_state_unlock releases the lock taken by wdr_state_lock (fd < 0 is
 * fine). */
void wdr_state_unlock(int fd);

/* wdr_state_remove_temps removes the temporary files "<path>.tmp-<pid>"
 * that a crash in the middle of a write left behind (ours too: a previous
 * process may have had our pid). Call it only while holding the lock.
 * Returns how many it removed, or -1 when the folder cannot be read. */
int wdr_state_remove_temps(const char *path);

#endif
