#include "wdr_engine.h"
#include "wdr_breaker.h"
#include "wdr_loglimit.h"
#include "wdr_pace.h"
#include "wdr_policy.h"
#include "wdr_policy_store.h"
#include "wdr_poll.h"
#include "wdr_state.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wdr_engine_s {
  const wdr_config_t *cfg;
  wdr_metrics_t *metrics;
  const wdr_sink_t *sink;
  wdr_policy_t *policy;
  wdr_policy_wf_t *policy_wf;      /* one per workflow */
  bool *persist;                   /* false for dry-run workflows */
  char **names;                    /* the workflows' names, borrowed from cfg */
  const char **digests;            /* their config digests, borrowed from cfg */
  wdr_state_config_t state_config; /* names and digests, for snapshots */
  wdr_poll_t *poll;
  wdr_pace_t pace[WDR_QUOTA_NUM]; /* one per API action: each its quota */
  wdr_breaker_t breaker;
  /* Credentials rejected (AuthFailure.*, UnauthorizedOperation*): a breaker
   * that one such answer opens; while open, one probe per BreakerCooldown,
   * and the first clean answer closes it. */
  wdr_breaker_t credentials;
  int64_t next_prune;
  /* The durable state: the journal generation, the sizes that decide when
   * the journal is folded into a new snapshot, and whether the next save
   * must write one (first start, an upgrade, a corrupt file, a failed
   * write: the journal alone would not hold everything). */
  uint64_t gen; /* the highest generation any file of the state has */
  size_t snapshot_bytes, journal_bytes;
  bool need_snapshot;
  bool stopping;             /* the snapshot being written is the one at stop */
  int64_t snapshot_retry_ms; /* after a failed write: not before then */
  /* The journal on disk belongs to the snapshot on disk (it has their
   * header): appends make sense. Not before the first snapshot of a new or
   * rewritten state. */
  bool journal_valid;
  /* The state on disk is of a newer version: it is left as it is, and the
   * engine runs without a durable state (nothing is written). */
  bool memory_only;
  /* The changes not yet saved include some that must survive a power loss
   * (a newly scheduled rerun, a rerun about to leave): the next append
   * ends with an fdatasync. Answers and reads need none: a killed process
   * loses nothing it wrote, and after a power loss a run whose answer was
   * lost is read back (VERIFY), never resent blindly. */
  bool sync_due;
  /* Seconds to add to the host's clock when signing: what the server's Date
   * header said when it answered AuthFailure.SignatureExpire. */
  int64_t clock_offset_s;
  /* A fold under way: the new snapshot (generation gen) is written
   * WDR_ENGINE_FOLD_RUNS runs a save, from run fold_cursor on; changes go
   * to the next journal meanwhile. */
  bool folding;
  size_t fold_cursor, fold_bytes, next_bytes;
  int64_t hold_until; /* restored work and polls wait until then */
  wdr_loglimit_t limit_refused, limit_state, limit_throttle, limit_clock;
  wdr_loglimit_t limit_held;
};

static const wdr_workflow_cfg_t *wf_cfg(const wdr_engine_t *e, size_t wf) {
  return &e->cfg->workflows[wf];
}

/* Rate-limited log line: one per WDR_LOG_EVERY_SECONDS, with the count of
 * the ones held back appended. */
__attribute__((format(printf, 5, 6))) static void
log_limited(wdr_engine_t *e, wdr_log_level_t level, wdr_loglimit_t *l,
            int64_t now_ms, const char *fmt, ...) {
  uint64_t held = 0;
  if (!wdr_loglimit_allow(l, now_ms / 1000, &held))
    return;
  char text[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  wdr_sink_logf(e->sink, level, "%s (%" PRIu64 " more such messages held back)",
                text, held);
}

#define warn_limited(e, l, now_ms, ...)                                        \
  log_limited(e, WDR_LOG_WARNING, l, now_ms, __VA_ARGS__)

/* --- building and the state ---------------------------------------------- */

static wdr_policy_t *create_policy(const wdr_engine_t *e) {
  const wdr_config_t *cfg = e->cfg;
  return wdr_policy_create(&(wdr_policy_cfg_t){
      .wf = e->policy_wf,
      .wf_num = cfg->workflows_num,
      .max_request_retries = cfg->max_request_retries,
      .retention_ms = (int64_t)(cfg->state_retention * 1000.0),
      .permanent_hold_ms = (int64_t)(cfg->permanent_hold * 1000.0),
      .max_runs = (size_t)cfg->max_tracked_runs,
      .async_poll_ms = (int64_t)ceil(cfg->async_poll_interval * 1000.0),
      .async_timeout_ms = (int64_t)ceil(cfg->async_timeout * 1000.0)});
}

static int build_workflows(wdr_engine_t *e) {
  size_t n = e->cfg->workflows_num;
  e->policy_wf = calloc(n, sizeof(*e->policy_wf));
  e->persist = calloc(n, sizeof(*e->persist));
  e->names = calloc(n, sizeof(*e->names));
  e->digests = calloc(n, sizeof(*e->digests));
  if (e->policy_wf == NULL || e->persist == NULL || e->names == NULL ||
      e->digests == NULL)
    return -1;
  e->state_config = (wdr_state_config_t){e->names, e->digests, n};
  for (size_t i = 0; i < n; i++) {
    const wdr_workflow_cfg_t *w = wf_cfg(e, i);
    bool dry = w->dry_run < 0 ? e->cfg->dry_run : w->dry_run != 0;
    e->policy_wf[i] = (wdr_policy_wf_t){
        .max_attempts = w->max_attempts,
        .retry_interval_ms = (int64_t)ceil(w->retry_interval * 1000.0),
        .max_retry_interval_ms = (int64_t)ceil(w->max_retry_interval * 1000.0),
        .max_reruns_per_hour = w->max_reruns_per_hour,
        .dry_run = dry,
        .verify = w->verify_before_rerun,
        .scope_incomplete = w->scope_incomplete,
        .escalate = w->escalate_to_full,
        .track = w->track_async};
    /* Dry-run decisions stay in memory: they must not use up the attempts
     * of real reruns once DryRun is switched off. */
    e->persist[i] = !dry;
    e->names[i] = w->name;
    e->digests[i] = w->config_digest;
  }
  return 0;
}

static void discard_run(void *ctx, const wdr_run_t *r) {
  (void)ctx;
  (void)r;
}
static void discard_key(void *ctx, size_t wf, const char *id) {
  (void)ctx;
  (void)wf;
  (void)id;
}
static void discard_budget(void *ctx, size_t wf, const int64_t *t, size_t n) {
  (void)ctx;
  (void)wf;
  (void)t;
  (void)n;
}

/* What the files already hold is no change to record. */
static void forget_changes(wdr_engine_t *e) {
  wdr_policy_drain_changes(e->policy,
                           &(wdr_policy_changes_t){.run = discard_run,
                                                   .forgotten = discard_key,
                                                   .budget = discard_budget});
}

/* Workflows whose config changed since the snapshot was written: the runs
 * a permanent (business) error stopped may have been stopped by what
 * changed, so the next failure signal may rerun them. Returns true when a
 * workflow changed: the next save writes a whole snapshot, which records
 * the config as it is now (a config merely not recorded yet, as in files
 * of older versions, is recorded by the next fold). */
static bool release_changed(wdr_engine_t *e, const wdr_buf_t *snap) {
  size_t n = e->cfg->workflows_num;
  bool *changed = calloc(n, sizeof(*changed));
  bool unrecorded = true;
  if (changed == NULL)
    return false; /* nothing released: the stops hold, as before */
  size_t num = wdr_state_config_changed(wdr_buf_str(snap), snap->len,
                                        &e->state_config, changed, &unrecorded);
  for (size_t i = 0; i < n; i++) {
    if (!changed[i])
      continue;
    size_t released = wdr_policy_release_permanent(e->policy, i);
    wdr_sink_logf(e->sink, released > 0 ? WDR_LOG_NOTICE : WDR_LOG_INFO,
                  "workflow %s: its configuration changed since the state "
                  "was saved: %zu run(s) stopped by a permanent error will "
                  "be rerun on their next failure signal",
                  e->names[i], released);
  }
  free(changed);
  return num > 0;
}

/* Reads the state into the (empty) policy. A corrupt state is moved aside
 * and the engine starts empty: a bad file must not keep collectd down. A
 * state of a newer version is left alone, and the engine starts empty
 * without writing any state (memory_only): writing would overwrite it, and
 * refusing to work would leave every failure to the operator. Reruns then
 * have only VerifyBeforeRerun (on by default) to keep them from runs
 * WeData already reran, as after a corrupt state. Returns 0 or -1. */
static int load_state(wdr_engine_t *e, int64_t now_ms) {
  wdr_buf_t snap, journal, next;
  char err[256] = "", jerr[200] = "";
  const char *path = e->cfg->state_file;
  wdr_state_stats_t stats = {0};
  wdr_buf_init(&snap, WDR_STATE_MAX);
  wdr_buf_init(&journal, WDR_STATE_MAX);
  wdr_buf_init(&next, WDR_STATE_MAX);
  int status = 0;
  int rc = e->sink->load(e->sink->ctx, &snap, err, sizeof(err));
  int jrc = rc == 0 ? e->sink->load_journal(e->sink->ctx, &journal, jerr,
                                            sizeof(jerr))
                    : 1;
  /* A next journal is left only by a fold that a crash cut short. */
  int nrc = jrc != -1 && rc == 0
                ? e->sink->load_next(e->sink->ctx, &next, jerr, sizeof(jerr))
                : 1;
  if (nrc == -1)
    jrc = -1;
  e->need_snapshot = true;
  if (rc == 1) {
    wdr_sink_logf(e->sink, WDR_LOG_INFO,
                  "no state file \"%s\" yet: starting empty", path);
    /* Generations start again: a next journal from before must not be
     * replayed over the new snapshot. */
    e->sink->discard_next(e->sink->ctx);
    goto done;
  }
  int lrc = -1;
  if (rc == 0 && jrc == -1)
    snprintf(err, sizeof(err), "journal: %s", jerr);
  else if (rc == 0) {
    const char *journals[] = {jrc == 0 ? wdr_buf_str(&journal) : NULL,
                              nrc == 0 ? wdr_buf_str(&next) : NULL};
    const size_t lens[] = {jrc == 0 ? journal.len : 0, nrc == 0 ? next.len : 0};
    lrc = wdr_state_load(wdr_buf_str(&snap), snap.len, journals, lens, 2,
                         e->policy, e->names, e->cfg->workflows_num, now_ms,
                         &stats, err, sizeof(err));
  }
  if (lrc == -2) {
    wdr_sink_logf(e->sink, WDR_LOG_ERROR,
                  "state file \"%s\" is %s: left as it is; reruns go on, but "
                  "nothing is remembered across a restart (no state is "
                  "written) until the plugin is upgraded or the file is moved "
                  "away",
                  path, err);
    e->memory_only = true;
    e->need_snapshot = false;
    goto done;
  }
  if (lrc == 0) {
    /* Nothing restored leaves before the start hold is over. */
    wdr_policy_hold(e->policy, e->hold_until);
    forget_changes(e);
    e->gen = stats.gen;
    e->snapshot_bytes = snap.len;
    e->journal_bytes = jrc == 0 ? journal.len : 0;
    /* Appending after a journal that does not end in a newline (a record
     * a crash cut short, kept or ignored) would glue the next record to
     * it: a new snapshot and journal come first. */
    bool cut = stats.torn || (jrc == 0 && journal.len > 0 &&
                              journal.data[journal.len - 1] != '\n');
    e->need_snapshot =
        stats.legacy || stats.stale_journal || jrc == 1 || nrc == 0 || cut;
    e->journal_valid = !e->need_snapshot;
    wdr_sink_logf(e->sink, WDR_LOG_INFO,
                  "state file \"%s\": restored %zu run(s)%s; dropped %zu "
                  "record(s) of workflows no longer configured and %zu "
                  "others%s",
                  path, stats.runs,
                  stats.legacy ? " from a version-1 file, now rewritten" : "",
                  stats.unknown_workflow, stats.rejected,
                  stats.torn ? "; the journal's last record was cut short by "
                               "a crash and is ignored"
                             : "");
    if (stats.released > 0)
      wdr_sink_logf(e->sink, WDR_LOG_NOTICE,
                    "state file \"%s\": %zu run(s) that a credentials or "
                    "clock error (AuthFailure*, UnauthorizedOperation*) had "
                    "stopped for good are due again",
                    path, stats.released);
    if (release_changed(e, &snap))
      e->need_snapshot = true, e->journal_valid = false;
    goto done;
  }
  /* Part of the file may be in the policy: start again from nothing. */
  wdr_policy_destroy(e->policy);
  e->policy = create_policy(e);
  if (e->policy == NULL) {
    status = -1;
    goto done;
  }
  e->sink->discard_next(e->sink->ctx); /* see above */
  char aside[4096];
  if (e->sink->move_aside(e->sink->ctx, now_ms / 1000, aside, sizeof(aside)) ==
      0)
    wdr_sink_logf(e->sink, WDR_LOG_WARNING,
                  "state file \"%s\" is corrupt or unreadable (%s); moved it "
                  "to \"%s\" and started empty",
                  path, err, aside);
  else
    wdr_sink_logf(e->sink, WDR_LOG_WARNING,
                  "state file \"%s\" is corrupt or unreadable (%s) and cannot "
                  "be moved aside (%s); started empty, and it will be "
                  "overwritten",
                  path, err, aside);
done:
  wdr_buf_free(&snap, false);
  wdr_buf_free(&journal, false);
  wdr_buf_free(&next, false);
  return status;
}

wdr_engine_t *wdr_engine_create(const wdr_config_t *cfg, wdr_metrics_t *metrics,
                                const wdr_sink_t *sink, int64_t now_ms) {
  wdr_engine_t *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  e->cfg = cfg;
  e->metrics = metrics;
  e->sink = sink;
  e->hold_until = now_ms + WDR_ENGINE_START_HOLD_MS;
  /* The first prune when the start hold ends, not a whole prune period
   * later: a collectd restarted more often than WDR_ENGINE_PRUNE_MS would
   * otherwise never forget the runs StateRetention is over for. */
  e->next_prune = e->hold_until;
  wdr_breaker_init(&e->breaker, cfg->breaker_threshold,
                   (int64_t)(cfg->breaker_cooldown * 1000.0));
  wdr_breaker_init(&e->credentials, 1,
                   (int64_t)(cfg->breaker_cooldown * 1000.0));
  wdr_metrics_set_credentials(metrics, true);
  wdr_metrics_set_rate(metrics, cfg->rate_limit);
  int paced = 0;
  for (int q = 0; q < WDR_QUOTA_NUM; q++)
    paced |= wdr_pace_init(&e->pace[q], cfg->rate_limit, now_ms);
  if (paced != 0 || build_workflows(e) != 0 ||
      (e->policy = create_policy(e)) == NULL ||
      (e->poll = wdr_poll_create(cfg, metrics, sink)) == NULL ||
      load_state(e, now_ms) != 0) {
    wdr_engine_destroy(e);
    return NULL;
  }
  return e;
}

void wdr_engine_destroy(wdr_engine_t *e) {
  if (e == NULL)
    return;
  wdr_poll_destroy(e->poll);
  wdr_policy_destroy(e->policy);
  for (int q = 0; q < WDR_QUOTA_NUM; q++)
    wdr_pace_free(&e->pace[q]);
  free(e->policy_wf);
  free(e->persist);
  free(e->names);
  free(e->digests);
  free(e);
}

static void save_failed(wdr_engine_t *e, int64_t now_ms, const char *err) {
  uint64_t held = 0;
  /* The journal may now miss changes: only a snapshot holds them all. It
   * is tried again after a while, not at every pass: a full disk must not
   * make each event serialise the whole table. */
  e->need_snapshot = true;
  e->snapshot_retry_ms = now_ms + WDR_ENGINE_SNAPSHOT_RETRY_MS;
  /* The snapshot at stop is the last chance: its failure is always told,
   * however recent the last message (a disk full for a while before the
   * stop would otherwise hold it back). */
  if (e->stopping)
    wdr_sink_logf(e->sink, WDR_LOG_ERROR,
                  "cannot write the state file \"%s\" at stop: %s; the next "
                  "start will not know what changed since it was last "
                  "written",
                  e->cfg->state_file, err);
  else if (wdr_loglimit_allow(&e->limit_state, now_ms / 1000, &held))
    wdr_sink_logf(e->sink, WDR_LOG_ERROR,
                  "cannot write the state file \"%s\": %s (%" PRIu64
                  " more such messages held back); reruns go on, but a "
                  "restart would forget them",
                  e->cfg->state_file, err, held);
}

typedef struct {
  wdr_engine_t *e;
  wdr_buf_t *out;
  int status;
} record_ctx_t;

static void record_run(void *ctx, const wdr_run_t *r) {
  record_ctx_t *c = ctx;
  if (c->e->persist[r->wf] &&
      wdr_state_record_run(r, c->e->names[r->wf], c->out) != 0)
    c->status = -1;
}

static void record_forgotten(void *ctx, size_t wf, const char *id) {
  record_ctx_t *c = ctx;
  if (c->e->persist[wf] &&
      wdr_state_record_forget(c->e->names[wf], id, c->out) != 0)
    c->status = -1;
}

static void record_budget(void *ctx, size_t wf, const int64_t *t, size_t n) {
  record_ctx_t *c = ctx;
  if (c->e->persist[wf] &&
      wdr_state_record_budget(c->e->names[wf], t, n, c->out) != 0)
    c->status = -1;
}

/* Starts a fold: changes go to a next journal of a new generation from
 * now on, and the new snapshot is written in parts by fold_step. */
static void fold_begin(wdr_engine_t *e, int64_t now_ms) {
  char err[256] = "";
  wdr_buf_t header, head;
  wdr_buf_init(&header, 4096);
  wdr_buf_init(&head, 4096);
  uint64_t gen = e->gen + 1;
  if (wdr_state_journal_header(gen, now_ms, &header) != 0 ||
      wdr_state_snapshot_header(gen, now_ms, &e->state_config, &head) != 0)
    save_failed(e, now_ms, "cannot serialise the state");
  else if (e->sink->fold_begin(e->sink->ctx, &header, err, sizeof(err)) != 0 ||
           e->sink->fold_write(e->sink->ctx, &head, err, sizeof(err)) != 0) {
    e->sink->fold_abort(e->sink->ctx);
    save_failed(e, now_ms, err);
  } else {
    e->gen = gen;
    e->folding = true;
    e->fold_cursor = 0;
    e->fold_bytes = head.len;
    e->next_bytes = header.len;
  }
  wdr_buf_free(&header, false);
  wdr_buf_free(&head, false);
}

/* The next part of the new snapshot (WDR_ENGINE_FOLD_RUNS runs) from
 * *cursor on; *ret_last says whether it completes the snapshot. */
static int snapshot_part(wdr_engine_t *e, size_t *cursor, wdr_buf_t *part,
                         bool *ret_last) {
  return wdr_state_serialize_part(e->policy, e->names, e->persist,
                                  e->cfg->workflows_num, cursor,
                                  WDR_ENGINE_FOLD_RUNS, part, ret_last);
}

/* Writes the next part of the new snapshot and, after the last, puts it in
 * place. A run that a removal moves behind the cursor is recorded in the
 * next journal (the table marks it changed), so none is missed. */
static void fold_step(wdr_engine_t *e, int64_t now_ms) {
  char err[256] = "";
  wdr_buf_t part;
  wdr_buf_init(&part, WDR_STATE_MAX);
  bool last = false;
  int status = snapshot_part(e, &e->fold_cursor, &part, &last);
  if (status != 0)
    snprintf(err, sizeof(err), "cannot serialise the state");
  else if (part.len > 0)
    status = e->sink->fold_write(e->sink->ctx, &part, err, sizeof(err));
  e->fold_bytes += part.len;
  if (status == 0 && last)
    status = e->sink->fold_commit(e->sink->ctx, true, err, sizeof(err));
  wdr_buf_free(&part, false);
  if (status != 0) {
    e->sink->fold_abort(e->sink->ctx);
    e->folding = false;
    save_failed(e, now_ms, err);
    return;
  }
  if (!last)
    return;
  e->folding = false;
  e->snapshot_bytes = e->fold_bytes;
  e->journal_bytes = e->next_bytes;
}

/* A new snapshot of everything at once (at stop, and when there is no
 * journal to append to), then an empty journal of its generation. It is
 * written in parts like a fold, one part in memory at a time: the text of
 * 100,000 runs is 52 MB, and a buffer that size would stay in collectd's
 * RSS. A crash before the snapshot is in place leaves the files as they
 * were (a next journal left by an earlier crash included: it may hold the
 * only copy of recent changes); one between the snapshot and the journal
 * leaves the new snapshot and the old journal, whose generation it no
 * longer matches: the load ignores the journal, which holds nothing the
 * snapshot does not. */
static void write_snapshot(wdr_engine_t *e, int64_t now_ms) {
  char err[256] = "";
  wdr_buf_t part, header;
  wdr_buf_init(&part, WDR_STATE_MAX);
  wdr_buf_init(&header, 4096);
  if (e->folding) {
    e->sink->fold_abort(e->sink->ctx);
    e->folding = false;
  }
  /* Above every generation on disk: whatever a crash leaves of older
   * files is then ignored. */
  uint64_t gen = ++e->gen;
  size_t cursor = 0, bytes = 0;
  bool last = false, begun = false, committed = false;
  int status = 0;
  if (wdr_state_journal_header(gen, now_ms, &header) != 0 ||
      wdr_state_snapshot_header(gen, now_ms, &e->state_config, &part) != 0) {
    snprintf(err, sizeof(err), "cannot serialise the state");
    status = -1;
  } else {
    status = e->sink->fold_begin(e->sink->ctx, NULL, err, sizeof(err));
    begun = status == 0;
  }
  while (status == 0 && !last) {
    if (snapshot_part(e, &cursor, &part, &last) != 0) {
      snprintf(err, sizeof(err), "cannot serialise the state");
      status = -1;
      break;
    }
    status = e->sink->fold_write(e->sink->ctx, &part, err, sizeof(err));
    bytes += part.len;
    wdr_buf_reset(&part);
  }
  if (status == 0) {
    status = e->sink->fold_commit(e->sink->ctx, false, err, sizeof(err));
    committed = status == 0;
  }
  if (status == 0)
    status = e->sink->save_journal(e->sink->ctx, &header, err, sizeof(err));
  if (status != 0) {
    if (begun && !committed)
      e->sink->fold_abort(e->sink->ctx);
    save_failed(e, now_ms, err);
  } else {
    /* In the snapshot now; until here they were kept, so that a failed
     * snapshot leaves them for the journal. */
    forget_changes(e);
    e->sink->discard_next(e->sink->ctx);
    e->journal_valid = true;
    e->snapshot_bytes = bytes;
    e->journal_bytes = header.len;
    e->need_snapshot = false;
    e->sync_due = false;
  }
  wdr_buf_free(&part, false);
  wdr_buf_free(&header, false);
}

void wdr_engine_save(wdr_engine_t *e, int64_t now_ms, bool snapshot) {
  if (e->memory_only) {
    forget_changes(e); /* the change list stays bounded */
    return;
  }
  if (snapshot || (e->need_snapshot && now_ms >= e->snapshot_retry_ms)) {
    e->stopping = snapshot;
    write_snapshot(e, now_ms);
    e->stopping = false;
    return;
  }
  /* Waiting to retry a snapshot, with no journal of it to append to: the
   * changes wait in the table's list (bounded by the table) for it. */
  if (!e->journal_valid)
    return;
  char err[256] = "";
  wdr_buf_t buf;
  wdr_buf_init(&buf, WDR_STATE_MAX);
  record_ctx_t c = {e, &buf, 0};
  wdr_policy_drain_changes(
      e->policy, &(wdr_policy_changes_t){.run = record_run,
                                         .forgotten = record_forgotten,
                                         .budget = record_budget,
                                         .ctx = &c});
  int status = c.status;
  if (status != 0)
    snprintf(err, sizeof(err), "cannot serialise a change");
  else if (buf.len > 0)
    status = e->folding ? e->sink->append_next(e->sink->ctx, &buf, e->sync_due,
                                               err, sizeof(err))
                        : e->sink->append(e->sink->ctx, &buf, e->sync_due, err,
                                          sizeof(err));
  if (status == 0 && buf.len > 0)
    e->sync_due = false;
  if (status == 0 && e->folding)
    e->next_bytes += buf.len;
  else if (status == 0)
    e->journal_bytes += buf.len;
  wdr_buf_free(&buf, false);
  if (status != 0) {
    save_failed(e, now_ms, err);
    return;
  }
  size_t fold_at = e->snapshot_bytes > WDR_ENGINE_JOURNAL_MIN
                       ? e->snapshot_bytes
                       : WDR_ENGINE_JOURNAL_MIN;
  if (!e->folding && !e->need_snapshot && e->journal_bytes > fold_at)
    fold_begin(e, now_ms);
  if (e->folding)
    fold_step(e, now_ms);
}

size_t wdr_engine_pending(const wdr_engine_t *e) {
  return wdr_policy_pending(e->policy);
}

/* --- signals ------------------------------------------------------------- */

/* Counts and reports what the policy decided about a failure signal. */
static void report_decision(wdr_engine_t *e, size_t wf,
                            const char *execution_id,
                            const wdr_signal_decision_t *d, int64_t now_ms) {
  const wdr_workflow_cfg_t *w = wf_cfg(e, wf);
  char text[512], attempts[16];
  if (d->evicted)
    wdr_metrics_count(e->metrics, d->evicted_wf, WDR_CNT_EVICTED);
  if (d->verdict == WDR_SIGNAL_SCHEDULED)
    e->sync_due = true;
  switch (d->verdict) {
  case WDR_SIGNAL_SCHEDULED:
    if (d->at_ms > now_ms)
      wdr_sink_logf(e->sink, WDR_LOG_INFO,
                    "workflow %s: rerun of %s scheduled in %.1f s (backoff "
                    "after %d accepted rerun(s))",
                    w->name, execution_id, (double)(d->at_ms - now_ms) / 1000.0,
                    d->attempts);
    return;
  case WDR_SIGNAL_DUPLICATE:
    wdr_metrics_skip(e->metrics, wf, WDR_SKIP_DUPLICATE);
    return;
  case WDR_SIGNAL_EXHAUSTED:
    wdr_metrics_skip(e->metrics, wf, WDR_SKIP_EXHAUSTED);
    if (!d->gave_up)
      return;
    wdr_metrics_count(e->metrics, wf, WDR_CNT_GAVE_UP);
    snprintf(text, sizeof(text),
             "gave up on %s (workflow %s) after %d attempts: it failed "
             "again, and MaxAttempts is %d",
             execution_id, w->name, d->attempts, w->max_attempts);
    snprintf(attempts, sizeof(attempts), "%d", d->attempts);
    wdr_sink_notify(e->sink, WDR_NOTE_FAILURE, w->name, "rerun", text,
                    "WorkflowId", w->workflow_id, "WorkflowExecutionId",
                    execution_id, "Attempts", attempts, NULL);
    return;
  case WDR_SIGNAL_BUDGET:
    wdr_metrics_skip(e->metrics, wf, WDR_SKIP_BUDGET);
    warn_limited(e, &e->limit_refused, now_ms,
                 "workflow %s: MaxRerunsPerHour %d reached: no rerun of %s",
                 w->name, w->max_reruns_per_hour, execution_id);
    return;
  case WDR_SIGNAL_PERMANENT:
    wdr_metrics_skip(e->metrics, wf, WDR_SKIP_PERMANENT_ERROR);
    return;
  case WDR_SIGNAL_FULL:
    wdr_metrics_skip(e->metrics, wf, WDR_SKIP_TABLE_FULL);
    warn_limited(e, &e->limit_refused, now_ms,
                 "tracking %d runs already (MaxTrackedRuns), none of them "
                 "finished: no rerun of %s",
                 e->cfg->max_tracked_runs, execution_id);
    return;
  }
}

void wdr_engine_on_signal(wdr_engine_t *e, size_t wf, const char *execution_id,
                          int64_t now_ms, uint32_t rnd) {
  if (wf >= e->cfg->workflows_num)
    return;
  if (execution_id[0] == '\0') {
    wdr_poll_resolve(e->poll, wf, now_ms);
    return;
  }
  wdr_signal_decision_t d =
      wdr_policy_on_signal(e->policy, wf, execution_id, now_ms, rnd);
  report_decision(e, wf, execution_id, &d, now_ms);
}

typedef struct {
  wdr_engine_t *e;
  uint32_t rnd;
} found_ctx_t;

/* A failed run that a listing found: decided like a failure signal, with
 * WeData's RerunTimes as evidence. */
static void on_found(void *ctx, size_t wf, const wdr_run_brief_t *run,
                     int64_t now_ms) {
  found_ctx_t *f = ctx;
  wdr_signal_decision_t d = wdr_policy_on_polled(
      f->e->policy, wf, run->execution_id, run->rerun_times, now_ms, f->rnd);
  report_decision(f->e, wf, run->execution_id, &d, now_ms);
}

/* --- answers ------------------------------------------------------------- */

static void record_breaker(wdr_engine_t *e, bool success, int64_t now_ms) {
  int change = wdr_breaker_record(&e->breaker, success, now_ms);
  if (change == 0)
    return;
  wdr_metrics_set_breaker(e->metrics, change > 0);
  char text[256];
  if (change > 0)
    snprintf(text, sizeof(text),
             "%d requests in a row failed: no request for %.0f s, then one "
             "probe",
             e->breaker.failures, e->cfg->breaker_cooldown);
  else
    snprintf(text, sizeof(text), "a request succeeded: sending again");
  wdr_sink_notify(e->sink, change > 0 ? WDR_NOTE_WARNING : WDR_NOTE_OKAY, "",
                  "breaker", text, NULL);
}

/* The credentials' gate: a credentials error closes it for everything (one
 * ERROR line); while closed, any answer but a clean one (a throttle, an
 * outage, the clock) counts as a failed probe; the first clean answer
 * opens it again. */
static void record_credentials(wdr_engine_t *e, wdr_api_class_t cls, bool clean,
                               const wdr_response_t *r, int64_t now_ms) {
  bool rejected = cls == WDR_CLASS_CREDENTIALS;
  if (!rejected && !clean && !wdr_breaker_is_open(&e->credentials))
    return;
  int change = wdr_breaker_record(&e->credentials, !rejected && clean, now_ms);
  if (change == 0)
    return;
  wdr_metrics_set_credentials(e->metrics, change < 0);
  char text[1024];
  if (change > 0 && strcmp(r->error_code, WDR_ERR_NO_CREDENTIALS) == 0) {
    snprintf(text, sizeof(text),
             "No usable credentials: %s: %s. No request goes out but one "
             "probe every %g s (BreakerCooldown); every pending rerun is "
             "kept and goes out once there are. Check the CVM role and the "
             "metadata service (see the log).",
             r->error_code, r->error_message, e->cfg->breaker_cooldown);
    wdr_sink_logf(e->sink, WDR_LOG_ERROR, "%s", text);
  } else if (change > 0) {
    snprintf(text, sizeof(text),
             "WeData rejected the credentials: %s: %s. No request goes out "
             "but one probe every %g s (BreakerCooldown); every pending "
             "rerun is kept and goes out once they are accepted. Check "
             "SecretId, SecretKey, SessionToken and the CAM policy.",
             r->error_code, r->error_message, e->cfg->breaker_cooldown);
    wdr_sink_logf(e->sink, WDR_LOG_ERROR, "%s", text);
  } else {
    snprintf(text, sizeof(text),
             "WeData accepts the credentials again: sending resumes");
    wdr_sink_logf(e->sink, WDR_LOG_NOTICE, "%s", text);
  }
  wdr_sink_notify(e->sink, change > 0 ? WDR_NOTE_FAILURE : WDR_NOTE_OKAY, "",
                  "credentials", text, "ErrorCode",
                  change > 0 ? r->error_code : "", NULL);
}

/* The read before an attempt found the run: say why there is no rerun. */
static void report_check(wdr_engine_t *e, const wdr_policy_job_t *job,
                         const wdr_run_view_t *view,
                         const wdr_answer_decision_t *d) {
  const wdr_workflow_cfg_t *w = wf_cfg(e, job->wf);
  if (d->whole && d->check == WDR_CHECK_PASS)
    wdr_sink_logf(e->sink, WDR_LOG_INFO,
                  "workflow %s: run %s lists task runs without a usable "
                  "TaskId (or too many): rerunning the whole workflow",
                  w->name, job->execution_id);
  if (d->result.verdict != WDR_RESULT_SKIPPED)
    return;
  static const struct {
    enum wdr_skip skip;
    const char *why;
  } reasons[] = {
      [WDR_CHECK_NOT_FAILED] = {WDR_SKIP_NOT_FAILED, "it is not FAILED"},
      [WDR_CHECK_NOT_RERUNNABLE] = {WDR_SKIP_NOT_RERUNNABLE,
                                    "WeData says it cannot be rerun"},
      [WDR_CHECK_EXHAUSTED] = {WDR_SKIP_EXHAUSTED,
                               "WeData counts MaxAttempts reruns already"},
  };
  if (d->check == WDR_CHECK_PASS)
    return;
  wdr_metrics_skip(e->metrics, job->wf, reasons[d->check].skip);
  wdr_sink_logf(e->sink, WDR_LOG_INFO,
                "workflow %s: no rerun of %s: %s (state %s, SupportRerun %s, "
                "RerunTimes %lld)",
                w->name, job->execution_id, reasons[d->check].why, view->state,
                view->support_rerun ? "true" : "false", view->rerun_times);
}

/* What a read of the async job of a followed rerun found. */
static void report_async(wdr_engine_t *e, const wdr_policy_job_t *job,
                         const wdr_answer_t *a, const wdr_answer_decision_t *dd,
                         int64_t now_ms) {
  const wdr_workflow_cfg_t *w = wf_cfg(e, job->wf);
  const wdr_track_decision_t *d = &dd->track;
  const char *status = a->async.status;
  char text[1024];
  if (d->verdict == WDR_TRACK_TIMEOUT) {
    wdr_metrics_count(e->metrics, job->wf, WDR_CNT_ASYNC_TIMEOUT);
    snprintf(text, sizeof(text),
             "rerun of %s (workflow %s): async job %s has not ended after "
             "AsyncTimeout %g s (last status %s): following the run itself",
             job->execution_id, w->name, job->async_id, e->cfg->async_timeout,
             status[0] ? status : "unknown");
    wdr_sink_notify(e->sink, WDR_NOTE_WARNING, w->name, "rerun", text,
                    "AsyncId", job->async_id, "AsyncStatus", "TIMEOUT",
                    "WorkflowId", w->workflow_id, "WorkflowExecutionId",
                    job->execution_id, NULL);
    return;
  }
  if (d->verdict != WDR_TRACK_FOLLOW)
    return;
  if (dd->async == WDR_ASYNC_GONE) {
    wdr_sink_logf(e->sink, WDR_LOG_NOTICE,
                  "workflow %s: the async job %s of the rerun of %s cannot be "
                  "read (%s): following the run itself",
                  w->name, job->async_id, job->execution_id,
                  a->res.response.error_code);
    return;
  }
  bool success = strcmp(status, "SUCCESS") == 0;
  wdr_metrics_count(e->metrics, job->wf,
                    success                       ? WDR_CNT_ASYNC_SUCCESS
                    : strcmp(status, "FAIL") == 0 ? WDR_CNT_ASYNC_FAIL
                                                  : WDR_CNT_ASYNC_PART_SUCCESS);
  if (success) {
    wdr_sink_logf(e->sink, WDR_LOG_INFO,
                  "workflow %s: async job %s of the rerun of %s ended "
                  "SUCCESS: following the run, next read in %.1f s",
                  w->name, job->async_id, job->execution_id,
                  (double)(d->at_ms - now_ms) / 1000.0);
    return;
  }
  snprintf(text, sizeof(text),
           "rerun of %s (workflow %s): async job %s ended %s: %s; following "
           "the run",
           job->execution_id, w->name, job->async_id, status,
           a->async.error_desc[0] ? a->async.error_desc : "no ErrorDesc");
  wdr_sink_notify(e->sink, WDR_NOTE_WARNING, w->name, "rerun", text, "AsyncId",
                  job->async_id, "AsyncStatus", status, "ErrorDesc",
                  a->async.error_desc, "WorkflowId", w->workflow_id,
                  "WorkflowExecutionId", job->execution_id, NULL);
}

/* What a read of the run after its rerun found. */
static void report_follow(wdr_engine_t *e, const wdr_policy_job_t *job,
                          const wdr_answer_t *a,
                          const wdr_answer_decision_t *dd, int64_t now_ms) {
  const wdr_workflow_cfg_t *w = wf_cfg(e, job->wf);
  const wdr_track_decision_t *d = &dd->track;
  char text[1024], attempts[16], seconds[32];
  snprintf(attempts, sizeof(attempts), "%d", d->attempts);
  switch (d->verdict) {
  case WDR_TRACK_RECOVERED: {
    double s = (double)d->recover_ms / 1000.0;
    wdr_metrics_count(e->metrics, job->wf, WDR_CNT_RECOVERED);
    wdr_metrics_set_recovery(e->metrics, job->wf, s);
    snprintf(seconds, sizeof(seconds), "%.3f", s);
    snprintf(text, sizeof(text),
             "run %s (workflow %s) recovered: SUCCESS after %d rerun(s), "
             "%.1f s after its first failure signal",
             job->execution_id, w->name, d->attempts, s);
    wdr_sink_notify(e->sink, WDR_NOTE_OKAY, w->name, "rerun", text, "Attempts",
                    attempts, "TimeToRecover", seconds, "AsyncId",
                    job->async_id, "WorkflowId", w->workflow_id,
                    "WorkflowExecutionId", job->execution_id, NULL);
    return;
  }
  case WDR_TRACK_FAILED:
    if (d->signal.verdict == WDR_SIGNAL_SCHEDULED) {
      snprintf(text, sizeof(text),
               "run %s (workflow %s) failed again after %d rerun(s): next "
               "attempt in %.1f s",
               job->execution_id, w->name, d->attempts,
               (double)(d->signal.at_ms - now_ms) / 1000.0);
      wdr_sink_notify(e->sink, WDR_NOTE_WARNING, w->name, "rerun", text,
                      "Attempts", attempts, "WorkflowId", w->workflow_id,
                      "WorkflowExecutionId", job->execution_id, NULL);
    } else
      wdr_sink_logf(e->sink, WDR_LOG_INFO,
                    "workflow %s: run %s failed again after %d rerun(s)",
                    w->name, job->execution_id, d->attempts);
    report_decision(e, job->wf, job->execution_id, &d->signal, now_ms);
    return;
  case WDR_TRACK_LOST: {
    bool gone = dd->follow == WDR_FOLLOW_GONE;
    const char *why = gone ? "it cannot be read"
                      : dd->follow == WDR_FOLLOW_SKIPPED
                          ? "it was skipped (SKIPED)"
                          : "it has not ended within StateRetention";
    snprintf(text, sizeof(text),
             "stopped following the rerun of %s (workflow %s): %s%s%s",
             job->execution_id, w->name, why, gone ? ": " : "",
             gone ? a->res.response.error_code : "");
    wdr_sink_notify(e->sink, WDR_NOTE_WARNING, w->name, "rerun", text,
                    "Attempts", attempts, "WorkflowId", w->workflow_id,
                    "WorkflowExecutionId", job->execution_id, NULL);
    return;
  }
  default:
    return;
  }
}

/* A read of a followed rerun came back (or did not). */
static void report_track(wdr_engine_t *e, const wdr_policy_job_t *job,
                         const wdr_answer_t *a, const wdr_answer_decision_t *d,
                         int64_t now_ms) {
  const wdr_response_t *r = &a->res.response;
  if (d->cls != WDR_CLASS_OK) {
    bool async = job->kind == WDR_JOB_ASYNC;
    wdr_metrics_error(e->metrics, job->wf, r->error_code);
    wdr_sink_logf(e->sink, WDR_LOG_NOTICE,
                  "workflow %s: reading %s %s failed: %s: %s",
                  wf_cfg(e, job->wf)->name, async ? "the async job" : "the run",
                  async ? job->async_id : job->execution_id, r->error_code,
                  r->error_message);
  }
  if (job->kind == WDR_JOB_ASYNC)
    report_async(e, job, a, d, now_ms);
  else
    report_follow(e, job, a, d, now_ms);
}

/* A rerun, or a read of the run before or after one, that got an error. */
static void report_error(wdr_engine_t *e, const wdr_policy_job_t *job,
                         const wdr_response_t *r) {
  const wdr_workflow_cfg_t *w = wf_cfg(e, job->wf);
  char text[1024];
  wdr_metrics_error(e->metrics, job->wf, r->error_code);
  if (job->kind != WDR_JOB_RERUN) {
    wdr_sink_logf(e->sink, WDR_LOG_NOTICE,
                  "reading run %s (workflow %s) failed: %s: %s",
                  job->execution_id, w->name, r->error_code, r->error_message);
    return;
  }
  wdr_metrics_count(e->metrics, job->wf, WDR_CNT_FAILED);
  snprintf(text, sizeof(text), "rerun of %s (workflow %s) failed: %s: %s",
           job->execution_id, w->name, r->error_code, r->error_message);
  wdr_sink_notify(e->sink, WDR_NOTE_WARNING, w->name, "rerun", text,
                  "ErrorCode", r->error_code, "ErrorMessage", r->error_message,
                  "RequestId", r->request_id, "WorkflowId", w->workflow_id,
                  "WorkflowExecutionId", job->execution_id, NULL);
}

/* What the policy decided about a rerun or a read around one. */
static void report_result(wdr_engine_t *e, const wdr_policy_job_t *job,
                          const wdr_answer_t *a, const wdr_result_decision_t *d,
                          int64_t now_ms) {
  const wdr_workflow_cfg_t *w = wf_cfg(e, job->wf);
  const wdr_response_t *r = &a->res.response;
  bool rerun = job->kind == WDR_JOB_RERUN;
  char text[1024];
  switch (d->verdict) {
  case WDR_RESULT_ACCEPTED:
    wdr_metrics_count(e->metrics, job->wf, WDR_CNT_ACCEPTED);
    if (rerun)
      snprintf(text, sizeof(text),
               "rerun of %s (workflow %s) accepted: AsyncId %s",
               job->execution_id, w->name, r->async_id);
    else
      snprintf(text, sizeof(text),
               "rerun of %s (workflow %s) accepted: its answer was lost, but "
               "the run shows it (state %s, RerunTimes %lld); AsyncId unknown",
               job->execution_id, w->name, a->view.state, a->view.rerun_times);
    wdr_sink_notify(e->sink, WDR_NOTE_OKAY, w->name, "rerun", text, "AsyncId",
                    rerun ? r->async_id : "", "RequestId", r->request_id,
                    "WorkflowId", w->workflow_id, "WorkflowExecutionId",
                    job->execution_id, NULL);
    if (d->at_ms != 0) /* TrackAsync */
      wdr_sink_logf(e->sink, WDR_LOG_INFO,
                    "workflow %s: following the rerun of %s: first read of %s "
                    "in %.1f s",
                    w->name, job->execution_id,
                    rerun ? "its async job" : "the run",
                    (double)(d->at_ms - now_ms) / 1000.0);
    return;
  case WDR_RESULT_RETRY: {
    wdr_metrics_count(e->metrics, job->wf, WDR_CNT_RETRIES);
    const char *why = rerun ? r->error_code
                      : job->kind == WDR_JOB_VERIFY
                          ? "the run shows no rerun: resending"
                          : "reading the run before the rerun failed: "
                            "reading again";
    wdr_sink_logf(e->sink, WDR_LOG_INFO,
                  "workflow %s: rerun of %s: retrying in %.1f s (%s)", w->name,
                  job->execution_id, (double)(d->at_ms - now_ms) / 1000.0, why);
    return;
  }
  case WDR_RESULT_VERIFY:
    if (d->disputed) {
      wdr_sink_logf(e->sink, WDR_LOG_NOTICE,
                    "workflow %s: WeData refused a resend of the rerun of %s "
                    "(%s), but an earlier request of this attempt may have "
                    "been acted on: reading the run in %.1f s before the "
                    "refusal stands",
                    w->name, job->execution_id, r->error_code,
                    (double)(d->at_ms - now_ms) / 1000.0);
      return;
    }
    wdr_sink_logf(e->sink, WDR_LOG_NOTICE,
                  "workflow %s: the rerun request for %s may have reached "
                  "WeData (%s): reading the run in %.1f s before anything is "
                  "sent again",
                  w->name, job->execution_id, r->error_code,
                  (double)(d->at_ms - now_ms) / 1000.0);
    return;
  case WDR_RESULT_PERMANENT: {
    wdr_metrics_skip(e->metrics, job->wf, WDR_SKIP_PERMANENT_ERROR);
    /* A refusal confirmed by a read of the run: the answer is the read. */
    bool read = job->kind == WDR_JOB_VERIFY;
    const char *message = read ? "the run shows no rerun" : r->error_message;
    snprintf(text, sizeof(text),
             "rerun of %s (workflow %s) stopped: %s: %s; not retried for "
             "PermanentHold (%g s)",
             job->execution_id, w->name, d->error_code, message,
             e->cfg->permanent_hold);
    wdr_sink_notify(e->sink, WDR_NOTE_FAILURE, w->name, "rerun", text,
                    "ErrorCode", d->error_code, "ErrorMessage", message,
                    "RequestId", r->request_id, "WorkflowId", w->workflow_id,
                    "WorkflowExecutionId", job->execution_id, NULL);
    return;
  }
  case WDR_RESULT_HELD: {
    wdr_metrics_count(e->metrics, job->wf, WDR_CNT_HELD);
    const char *why =
        r->ok ? "the run shows no rerun after an outage" : r->error_code;
    log_limited(e, WDR_LOG_INFO, &e->limit_held, now_ms,
                "workflow %s: %s of %s waits (%s): the service or the "
                "credentials are at fault, not the run; again in %.1f s, no "
                "retry used",
                w->name,
                job->kind == WDR_JOB_RERUN || r->ok ? "rerun"
                                                    : "reading the run",
                job->execution_id, why, (double)(d->at_ms - now_ms) / 1000.0);
    return;
  }
  case WDR_RESULT_RETRIES_EXHAUSTED: {
    wdr_metrics_skip(e->metrics, job->wf, WDR_SKIP_RETRIES_EXHAUSTED);
    const char *ending =
        rerun ? ""
        : job->kind == WDR_JOB_VERIFY
            ? " and counts as made, since it may have reached WeData"
            : "; the run could not be read, and nothing was sent";
    snprintf(text, sizeof(text),
             "rerun of %s (workflow %s): %s after %d retries "
             "(MaxRequestRetries); this attempt ends%s",
             job->execution_id, w->name,
             r->error_code[0] ? r->error_code : "no answer",
             e->cfg->max_request_retries, ending);
    wdr_sink_notify(e->sink, WDR_NOTE_FAILURE, w->name, "rerun", text,
                    "ErrorCode", r->error_code, "ErrorMessage",
                    r->error_message, "WorkflowId", w->workflow_id,
                    "WorkflowExecutionId", job->execution_id, NULL);
    return;
  }
  case WDR_RESULT_STALE:
  case WDR_RESULT_CHECKED:
  case WDR_RESULT_SKIPPED:
    return;
  }
}

/* A request refused for the quota: the pace slows down, and the job is due
 * again as it was (no retry of the run used up, its budget charge given
 * back): it leaves when the slower pace allows. */
static void on_throttle(wdr_engine_t *e, const wdr_job_t *job,
                        const wdr_response_t *r, int64_t now_ms) {
  size_t wf = wdr_job_wf(job);
  wdr_metrics_count(e->metrics, wf, WDR_CNT_THROTTLED);
  wdr_metrics_error(e->metrics, wf, r->error_code);
  wdr_pace_t *pace = &e->pace[wdr_action_of(job->kind)->quota];
  wdr_pace_throttled(pace, now_ms);
  double rate = wdr_pace_rate(pace, now_ms);
  wdr_metrics_set_rate(e->metrics,
                       wdr_pace_rate(&e->pace[WDR_QUOTA_RERUN], now_ms));
  warn_limited(e, &e->limit_throttle, now_ms,
               "%s: %s: slowing down to %.1f requests/s (RateLimit %g; "
               "the account's quota is shared with its other clients)",
               wdr_action_of(job->kind)->action, r->error_code, rate,
               e->cfg->rate_limit);
  wdr_engine_requeue(e, job, now_ms);
}

/* AuthFailure.SignatureExpire: our clock is off the server's by more than
 * the signature allows (5 minutes). The answer's Date header says the
 * server's time: requests are signed with it from now on. */
static void correct_clock(wdr_engine_t *e, const wdr_api_result_t *res,
                          int64_t now_ms) {
  if (res->server_time <= 0)
    return; /* no Date header: the re-sign uses the host's clock */
  int64_t offset = res->server_time - now_ms / 1000;
  if (offset == e->clock_offset_s)
    return;
  e->clock_offset_s = offset;
  wdr_metrics_set_clock_offset(e->metrics, (double)offset);
  warn_limited(e, &e->limit_clock, now_ms,
               "WeData answered AuthFailure.SignatureExpire: this host's clock "
               "is %+lld s off the server's (its Date header); requests are "
               "signed with the server's time from now on. Fix the host's "
               "clock (NTP).",
               (long long)offset);
}

/* Every request that left, under its action: by outcome, and its latency
 * when an HTTP answer came. */
static void record_request(wdr_engine_t *e, const wdr_job_t *job,
                           const wdr_answer_t *a) {
  if (a->rc != 0)
    return;
  wdr_metrics_request(e->metrics, wdr_action_of(job->kind)->action,
                      wdr_metrics_outcome(&a->res), a->res.http_status != 0,
                      a->res.seconds);
}

void wdr_engine_on_answer(wdr_engine_t *e, const wdr_job_t *job,
                          wdr_answer_t *a, int64_t now_ms, uint32_t rnd) {
  if (wdr_action_of(job->kind) == NULL) {
    wdr_answer_free(a);
    return;
  }
  wdr_api_class_t cls = wdr_answer_classify(&a->res);
  record_request(e, job, a);
  bool throttle = a->rc == 0 && wdr_answer_is_throttle(&a->res);
  /* The breaker counts outages only: a throttle, a business error or a
   * refused key all say the server is up. */
  if (a->rc == 0) {
    bool outage = wdr_answer_is_outage(&a->res);
    record_breaker(e, !outage, now_ms);
    record_credentials(e, cls, !throttle && !wdr_answer_holds_sender(&a->res),
                       &a->res.response, now_ms);
  } else { /* nothing was sent: no verdict */
    wdr_breaker_cancel(&e->breaker);
    wdr_breaker_cancel(&e->credentials);
  }
  if (throttle) {
    on_throttle(e, job, &a->res.response, now_ms);
    wdr_answer_free(a);
    return;
  }
  if (cls == WDR_CLASS_RESIGN)
    correct_clock(e, &a->res, now_ms);
  if (job->kind == WDR_JOB_LIST) {
    found_ctx_t f = {e, rnd};
    wdr_poll_on_answer(e->poll, &job->list, a, now_ms, rnd, on_found, &f);
    wdr_answer_free(a);
    return;
  }
  const wdr_policy_job_t *pj = &job->run;
  wdr_answer_decision_t d = wdr_policy_on_answer(e->policy, pj, a, now_ms, rnd);
  switch (d.what) {
  case WDR_ANSWERED_TRACK:
    report_track(e, pj, a, &d, now_ms);
    break;
  case WDR_ANSWERED_CHECK:
    report_check(e, pj, &a->view, &d);
    break;
  case WDR_ANSWERED_RESULT:
    if (!a->res.response.ok)
      report_error(e, pj, &a->res.response);
    report_result(e, pj, a, &d.result, now_ms);
    break;
  }
  wdr_answer_free(a);
}

/* --- dispatch ------------------------------------------------------------ */

static void lower(int64_t *wake, int64_t at) {
  if (at < *wake)
    *wake = at;
}

typedef enum {
  SEND,  /* it may go */
  PACED, /* its action's pace says not yet: others may go */
  GATED, /* the credentials or the breaker say no: nothing may go */
} send_t;

/* May a request of this kind go now? Takes a place in its action's pace
 * and, when the credentials or the breaker only let a probe through, the
 * probe. Otherwise lowers *wake to when to try. */
static send_t may_send(wdr_engine_t *e, wdr_job_kind_t kind, int64_t now_ms,
                       int64_t *wake) {
  int64_t wait = 0;
  send_t why = PACED;
  /* The pace first: a refused place costs nothing, while a gate that lets
   * one probe through hands it out when it says yes. */
  if (wdr_pace_take(&e->pace[wdr_action_of(kind)->quota], now_ms, &wait)) {
    why = GATED;
    if (wdr_breaker_allow(&e->credentials, now_ms, &wait)) {
      if (wdr_breaker_allow(&e->breaker, now_ms, &wait))
        return SEND;
      wdr_breaker_cancel(&e->credentials);
    }
  }
  lower(wake, now_ms + (wait > 0 ? wait : WDR_ENGINE_IDLE_MS));
  return why;
}

static void report_dry_run(wdr_engine_t *e, const wdr_policy_job_t *job) {
  wdr_metrics_count(e->metrics, job->wf, WDR_CNT_WOULD_RERUN);
  wdr_sink_logf(e->sink, WDR_LOG_INFO,
                "dry run: would rerun %s of workflow %s (ExecuteType %d)",
                job->execution_id, wf_cfg(e, job->wf)->name,
                wf_cfg(e, job->wf)->execute_type);
}

size_t wdr_engine_dispatch(wdr_engine_t *e, int64_t now_ms, wdr_job_t *jobs,
                           size_t max, int64_t *ret_wake) {
  int64_t wake = now_ms + WDR_ENGINE_IDLE_MS;
  wdr_metrics_set_rate(e->metrics,
                       wdr_pace_rate(&e->pace[WDR_QUOTA_RERUN], now_ms));
  if (now_ms >= e->next_prune) {
    wdr_policy_prune(e->policy, now_ms);
    e->next_prune = now_ms + WDR_ENGINE_PRUNE_MS;
  }
  lower(&wake, e->next_prune);
  lower(&wake, now_ms < e->hold_until ? e->hold_until
                                      : wdr_poll_tick(e->poll, now_ms));
  size_t n = 0;
  /* Listings first (they find failures), then runs; each action has its
   * own pace, so listings waiting for theirs do not hold runs back. */
  while (n < max) {
    int64_t next = INT64_MAX;
    wdr_job_t *j = &jobs[n];
    *j = (wdr_job_t){.kind = WDR_JOB_LIST};
    if (!wdr_poll_take_due(e->poll, now_ms, &j->list, &next)) {
      lower(&wake, next);
      break;
    }
    if (may_send(e, WDR_JOB_LIST, now_ms, &wake) != SEND) {
      wdr_poll_requeue(e->poll, &j->list, now_ms);
      break;
    }
    n++;
  }
  /* A lane whose action's pace is used up is skipped for the rest of the
   * pass: the others go on. */
  unsigned skip = 0;
  while (n < max) {
    int64_t next = INT64_MAX;
    wdr_job_t *j = &jobs[n];
    *j = (wdr_job_t){.kind = WDR_JOB_RERUN};
    if (!wdr_policy_take_due(e->policy, now_ms, skip, &j->run, &next)) {
      lower(&wake, next);
      break;
    }
    j->kind = j->run.kind;
    if (j->run.dry_run) {
      report_dry_run(e, &j->run);
      continue;
    }
    send_t go = may_send(e, j->kind, now_ms, &wake);
    if (go != SEND)
      wdr_policy_requeue(e->policy, &j->run);
    if (go == PACED) {
      skip |= 1u << wdr_policy_lane(j->kind);
      continue;
    }
    if (go == GATED)
      break;
    if (j->kind == WDR_JOB_RERUN) {
      wdr_metrics_count(e->metrics, j->run.wf, WDR_CNT_ATTEMPTS);
      e->sync_due = true;
    }
    n++;
  }
  for (size_t i = 0; i < n; i++)
    jobs[i].clock_offset_s = e->clock_offset_s;
  /* The state says "in flight" before any of them can leave: after a crash
   * they are verified, never resent blindly. */
  if (n > 0)
    wdr_engine_save(e, now_ms, false);
  *ret_wake = wake;
  return n;
}

void wdr_engine_requeue(wdr_engine_t *e, const wdr_job_t *job, int64_t now_ms) {
  if (job->kind == WDR_JOB_LIST)
    wdr_poll_requeue(e->poll, &job->list, now_ms);
  else
    wdr_policy_requeue(e->policy, &job->run);
  wdr_breaker_cancel(&e->breaker);
  wdr_breaker_cancel(&e->credentials);
}
