/* wdr_sink: where the engine's reports and its durable state go.
 *
 * The engine decides; the sink carries what it decided out of the process:
 * log lines, the plugin's own notifications, and the state file. In the
 * plugin the collectd glue backs it (log through collectd, notifications
 * through the notifier thread's queue, the state through wdr_state's file
 * functions); in the unit tests a fake records every call. The engine calls
 * it from its one thread only. */
#ifndef WDR_SINK_H
#define WDR_SINK_H

#include "wdr_buf.h"
#include "wdr_common.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
  WDR_LOG_ERROR,
  WDR_LOG_WARNING,
  WDR_LOG_NOTICE,
  WDR_LOG_INFO
} wdr_log_level_t;

typedef enum {
  WDR_NOTE_FAILURE,
  WDR_NOTE_WARNING,
  WDR_NOTE_OKAY
} wdr_note_severity_t;

#define WDR_NOTE_META_MAX 6
#define WDR_NOTE_TEXT_MAX 256 /* collectd's NOTIF_MAX_MSG_LEN */

/* One of the plugin's own notifications, by value (it crosses threads). */
typedef struct {
  wdr_note_severity_t severity;
  char plugin_instance[WDR_NAME_MAX]; /* the workflow, or "" */
  char type[16];                      /* "rerun", "breaker" */
  char message[WDR_NOTE_TEXT_MAX];
  int meta_num;
  struct {
    const char *name; /* a string literal */
    char value[WDR_MSG_MAX];
  } meta[WDR_NOTE_META_MAX];
} wdr_note_t;

typedef struct {
  void *ctx;
  /* One line, without the plugin's prefix (the sink adds it). */
  void (*log)(void *ctx, wdr_log_level_t level, const char *text);
  /* Queues a notification; must not block. */
  void (*notify)(void *ctx, const wdr_note_t *note);
  /* The durable state (wdr_state.h): a snapshot and a journal.
   * load and load_journal fill out and return 0, 1 when there is none yet,
   * -1 on error (err says why); save_journal replaces the journal
   * atomically; append adds to the journal with one write and, when sync,
   * one fdatasync (which makes the earlier appends durable too) (0 or -1,
   * err says why); move_aside puts an unreadable state out of the way and
   * names where (0 or -1). */
  int (*load)(void *ctx, wdr_buf_t *out, char *err, size_t err_size);
  int (*load_journal)(void *ctx, wdr_buf_t *out, char *err, size_t err_size);
  int (*save_journal)(void *ctx, const wdr_buf_t *data, char *err,
                      size_t err_size);
  int (*append)(void *ctx, const wdr_buf_t *data, bool sync, char *err,
                size_t err_size);
  int (*move_aside)(void *ctx, int64_t now_s, char *where, size_t where_size);
  /* A new snapshot is always written in parts, so that memory holds one
   * part at a time. Folding the journal into it over many passes, so that
   * no pass waits for a whole snapshot: fold_begin creates the next journal
   * (atomically, holding next_header) and a new temporary snapshot;
   * append_next adds to the next journal (as append);
   * fold_write adds a part to the temporary snapshot; fold_commit makes it
   * durable and puts it in place of the snapshot, and (move_next) the next
   * journal in place of the journal; fold_abort drops the temporary
   * snapshot (the next journal stays: it may hold the only copy of recent
   * changes); load_next reads the next journal left by a crash (as
   * load_journal); discard_next removes it once a snapshot holds all it
   * says. A whole snapshot in one go is fold_begin with next_header NULL
   * (no next journal is touched), the parts, fold_commit without
   * move_next, then save_journal. */
  int (*fold_begin)(void *ctx, const wdr_buf_t *next_header, char *err,
                    size_t err_size);
  int (*append_next)(void *ctx, const wdr_buf_t *data, bool sync, char *err,
                     size_t err_size);
  int (*fold_write)(void *ctx, const wdr_buf_t *part, char *err,
                    size_t err_size);
  int (*fold_commit)(void *ctx, bool move_next, char *err, size_t err_size);
  void (*fold_abort)(void *ctx);
  int (*load_next)(void *ctx, wdr_buf_t *out, char *err, size_t err_size);
  void (*discard_next)(void *ctx);
} wdr_sink_t;

/* wdr_sink_logf formats one log line (cut at 1 KiB) and hands it to s. */
__attribute__((format(printf, 3, 4))) void
wdr_sink_logf(const wdr_sink_t *s, wdr_log_level_t level, const char *fmt, ...);

/* wdr_sink_notify builds a notification (text and meta values cut to fit;
 * control characters replaced), logs its text in full at info level, and
 * queues it. Meta comes as name, value pairs ending in NULL (names are
 * string literals); empty or NULL values are left out, as are pairs beyond
 * WDR_NOTE_META_MAX. */
__attribute__((sentinel)) void wdr_sink_notify(const wdr_sink_t *s,
                                               wdr_note_severity_t severity,
                                               const char *plugin_instance,
                                               const char *type,
                                               const char *text, ...);

#endif
