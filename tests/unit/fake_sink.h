/* A wdr_sink_t for the unit tests that records every call.
 *
 *   fake_sink_t fs;
 *   fake_sink_init(&fs);
 *   module_create(..., &fs.sink);
 *   ...
 *   fake_sink_expect_log(&fs, WDR_LOG_NOTICE, "exact text");
 *   fake_sink_expect_none(&fs);      nothing else was logged or notified
 *   fake_sink_free(&fs);
 *
 * Every log line and notification is kept, in order (seq numbers them
 * across both kinds), with copies of the text, so a test can assert exactly
 * what a module reported. The expect functions consume lines and notes one
 * by one from where the last one stopped; lines[] and notes[] stay readable
 * directly. The state file lives in memory: load hands back what the last
 * save stored (1, "none yet", before the first), and a test can make any
 * of the three state calls fail.
 *
 * log and notify may run on any thread (a mutex guards the records); the
 * state calls, like the engine that makes them, on one. No callback
 * asserts: cmocka's asserts belong on the main thread, in the expect and
 * count functions. */
#ifndef WDR_FAKE_SINK_H
#define WDR_FAKE_SINK_H

#include "testutil.h"

#include "wdr_sink.h"

#include <pthread.h>

typedef struct {
  unsigned seq;
  wdr_log_level_t level;
  char *text; /* owned */
} fake_log_t;

typedef struct {
  unsigned seq;
  wdr_note_t note;
} fake_note_t;

typedef struct {
  wdr_sink_t sink; /* hand &fs.sink to the module under test */
  pthread_mutex_t lock;
  unsigned seq;
  fake_log_t *lines;
  size_t lines_num, lines_checked;
  fake_note_t *notes;
  size_t notes_num, notes_checked;
  bool out_of_memory; /* a record was lost: fake_sink_expect_none fails */
  /* The state file. */
  char *state;   /* NULL: none saved yet */
  char *journal; /* NULL: none written yet */
  char *temp;    /* a snapshot being written in parts */
  size_t appends;
  size_t loads, saves, moves_aside;
  bool fail_load, fail_save, fail_move_aside; /* make the next ones fail */
} fake_sink_t;

static inline void fake_sink_log_cb(void *ctx, wdr_log_level_t level,
                                    const char *text) {
  fake_sink_t *fs = ctx;
  pthread_mutex_lock(&fs->lock);
  fake_log_t *l = realloc(fs->lines, (fs->lines_num + 1) * sizeof(*l));
  char *copy = strdup(text);
  if (l != NULL)
    fs->lines = l;
  if (l == NULL || copy == NULL) {
    free(copy);
    fs->out_of_memory = true;
  } else {
    l[fs->lines_num++] = (fake_log_t){fs->seq++, level, copy};
  }
  pthread_mutex_unlock(&fs->lock);
}

static inline void fake_sink_notify_cb(void *ctx, const wdr_note_t *note) {
  fake_sink_t *fs = ctx;
  pthread_mutex_lock(&fs->lock);
  fake_note_t *n = realloc(fs->notes, (fs->notes_num + 1) * sizeof(*n));
  if (n == NULL) {
    fs->out_of_memory = true;
  } else {
    fs->notes = n;
    n[fs->notes_num++] = (fake_note_t){fs->seq++, *note};
  }
  pthread_mutex_unlock(&fs->lock);
}

static inline int fake_sink_load_cb(void *ctx, wdr_buf_t *out, char *err,
                                    size_t err_size) {
  fake_sink_t *fs = ctx;
  fs->loads++;
  if (fs->fail_load) {
    snprintf(err, err_size, "fake load failure");
    return -1;
  }
  if (fs->state == NULL)
    return 1;
  if (wdr_buf_append_str(out, fs->state) != 0) {
    snprintf(err, err_size, "fake state does not fit");
    return -1;
  }
  return 0;
}

/* A whole snapshot arrives in parts (begin without a next journal, parts,
 * commit without moving one); saves counts the commits. A fold (journal
 * past 1 MiB, with a next journal) is refused: no test of this header's
 * users writes that much. */
static inline int fake_sink_begin_cb(void *ctx, const wdr_buf_t *next_header,
                                     char *err, size_t err_size) {
  fake_sink_t *fs = ctx;
  if (next_header != NULL || fs->fail_save) {
    snprintf(err, err_size,
             next_header != NULL ? "no fold in the fake sink"
                                 : "fake save failure");
    return -1;
  }
  free(fs->temp);
  fs->temp = strdup("");
  return fs->temp != NULL ? 0 : -1;
}

static inline int fake_sink_part_cb(void *ctx, const wdr_buf_t *part, char *err,
                                    size_t err_size) {
  fake_sink_t *fs = ctx;
  size_t old = fs->temp != NULL ? strlen(fs->temp) : 0;
  char *t = fs->fail_save || fs->temp == NULL
                ? NULL
                : realloc(fs->temp, old + part->len + 1);
  if (t == NULL) {
    snprintf(err, err_size, "fake save failure");
    return -1;
  }
  memcpy(t + old, part->data, part->len);
  t[old + part->len] = '\0';
  fs->temp = t;
  return 0;
}

static inline int fake_sink_commit_cb(void *ctx, bool move_next, char *err,
                                      size_t err_size) {
  fake_sink_t *fs = ctx;
  if (move_next || fs->fail_save || fs->temp == NULL) {
    snprintf(err, err_size, "fake save failure");
    return -1;
  }
  fs->saves++;
  free(fs->state);
  fs->state = fs->temp;
  fs->temp = NULL;
  return 0;
}

static inline void fake_sink_abort_cb(void *ctx) {
  fake_sink_t *fs = ctx;
  free(fs->temp);
  fs->temp = NULL;
}

/* The journal: load finds none; a new journal or an append lands in
 * fs->journal (appends counted). */
static inline int fake_sink_load_journal_cb(void *ctx, wdr_buf_t *out,
                                            char *err, size_t err_size) {
  (void)ctx;
  (void)out;
  (void)err;
  (void)err_size;
  return 1;
}

static inline int fake_sink_journal_cb(fake_sink_t *fs, const wdr_buf_t *data,
                                       bool append, char *err,
                                       size_t err_size) {
  size_t old = append && fs->journal != NULL ? strlen(fs->journal) : 0;
  char *j = fs->fail_save
                ? NULL
                : realloc(append ? fs->journal : NULL, old + data->len + 1);
  if (j == NULL) {
    snprintf(err, err_size, "fake save failure");
    return -1;
  }
  if (!append)
    free(fs->journal);
  memcpy(j + old, data->data, data->len);
  j[old + data->len] = '\0';
  fs->journal = j;
  fs->appends += append;
  return 0;
}

static inline int fake_sink_save_journal_cb(void *ctx, const wdr_buf_t *data,
                                            char *err, size_t err_size) {
  return fake_sink_journal_cb(ctx, data, false, err, err_size);
}

static inline int fake_sink_append_cb(void *ctx, const wdr_buf_t *data,
                                      bool sync, char *err, size_t err_size) {
  (void)sync;
  return fake_sink_journal_cb(ctx, data, true, err, err_size);
}

static inline int fake_sink_no_next_cb(void *ctx, const wdr_buf_t *data,
                                       bool sync, char *err, size_t err_size) {
  (void)ctx;
  (void)data;
  (void)sync;
  snprintf(err, err_size, "no fold in the fake sink");
  return -1;
}

static inline void fake_sink_nothing_cb(void *ctx) { (void)ctx; }

static inline int fake_sink_move_aside_cb(void *ctx, int64_t now_s, char *where,
                                          size_t where_size) {
  fake_sink_t *fs = ctx;
  fs->moves_aside++;
  if (fs->fail_move_aside)
    return -1;
  snprintf(where, where_size, "state.bad-%lld", (long long)now_s);
  free(fs->state);
  fs->state = NULL;
  return 0;
}

static inline void fake_sink_init(fake_sink_t *fs) {
  *fs = (fake_sink_t){.sink = {.ctx = fs,
                               .log = fake_sink_log_cb,
                               .notify = fake_sink_notify_cb,
                               .load = fake_sink_load_cb,
                               .load_journal = fake_sink_load_journal_cb,
                               .save_journal = fake_sink_save_journal_cb,
                               .append = fake_sink_append_cb,
                               .move_aside = fake_sink_move_aside_cb,
                               .fold_begin = fake_sink_begin_cb,
                               .append_next = fake_sink_no_next_cb,
                               .fold_write = fake_sink_part_cb,
                               .fold_commit = fake_sink_commit_cb,
                               .fold_abort = fake_sink_abort_cb,
                               .load_next = fake_sink_load_journal_cb,
                               .discard_next = fake_sink_nothing_cb}};
  pthread_mutex_init(&fs->lock, NULL);
}

/* Forgets what was logged and notified (the state file stays). */
static inline void fake_sink_clear(fake_sink_t *fs) {
  pthread_mutex_lock(&fs->lock);
  for (size_t i = 0; i < fs->lines_num; i++)
    free(fs->lines[i].text);
  free(fs->lines);
  free(fs->notes);
  fs->lines = NULL;
  fs->notes = NULL;
  fs->lines_num = fs->lines_checked = 0;
  fs->notes_num = fs->notes_checked = 0;
  pthread_mutex_unlock(&fs->lock);
}

static inline void fake_sink_free(fake_sink_t *fs) {
  fake_sink_clear(fs);
  free(fs->state);
  free(fs->journal);
  free(fs->temp);
  fs->state = NULL;
  pthread_mutex_destroy(&fs->lock);
}

/* Lines logged at level (any level when level < 0) that contain part. */
static inline size_t fake_sink_count(fake_sink_t *fs, int level,
                                     const char *part) {
  size_t n = 0;
  pthread_mutex_lock(&fs->lock);
  for (size_t i = 0; i < fs->lines_num; i++)
    if ((level < 0 || (int)fs->lines[i].level == level) &&
        strstr(fs->lines[i].text, part) != NULL)
      n++;
  pthread_mutex_unlock(&fs->lock);
  return n;
}

/* The next unchecked line must be exactly (level, text). */
static inline void fake_sink_expect_log(fake_sink_t *fs, wdr_log_level_t level,
                                        const char *text) {
  if (fs->lines_checked == fs->lines_num)
    fail_msg("expected a log line \"%s\", got none", text);
  const fake_log_t *l = &fs->lines[fs->lines_checked++];
  assert_string_equal(l->text, text);
  assert_int_equal(l->level, level);
}

/* The next unchecked notification; the caller checks its fields. */
static inline const wdr_note_t *fake_sink_next_note(fake_sink_t *fs) {
  if (fs->notes_checked == fs->notes_num)
    fail_msg("expected a notification, got none");
  return &fs->notes[fs->notes_checked++].note;
}

/* Nothing was logged or notified beyond what was checked. */
static inline void fake_sink_expect_none(fake_sink_t *fs) {
  assert_false(fs->out_of_memory);
  if (fs->lines_checked < fs->lines_num)
    fail_msg("unexpected log line %d \"%s\"",
             (int)fs->lines[fs->lines_checked].level,
             fs->lines[fs->lines_checked].text);
  assert_int_equal(fs->notes_num, fs->notes_checked);
}

#endif
