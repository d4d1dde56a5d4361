#include "wdr_state.h"
#include "wdr_json.h"
#include "wdr_policy_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

/* --- serialisation ------------------------------------------------------ */

static const char *const kind_names[WDR_RUN_JOB_KINDS] = {
    [WDR_JOB_RERUN] = "rerun",   [WDR_JOB_VERIFY] = "verify",
    [WDR_JOB_CHECK] = "check",   [WDR_JOB_ASYNC] = "async",
    [WDR_JOB_FOLLOW] = "follow",
};

const char *wdr_state_job_name(wdr_job_kind_t kind) {
  return kind < WDR_RUN_JOB_KINDS ? kind_names[kind] : "rerun";
}

static int gen_run(yajl_gen g, const wdr_run_t *r, const char *workflow) {
  char id[WDR_ID_MAX], async_id[WDR_ID_MAX];
  if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_text(g, "workflow", workflow) != 0 ||
      wdr_json_gen_text(g, "execution_id", wdr_cid_str(&r->execution_id, id)) !=
          0 ||
      wdr_json_gen_text(g, "state", wdr_run_state_name(r->state)) != 0 ||
      wdr_json_gen_text(g, "in_flight", wdr_state_job_name(r->in_flight)) !=
          0 ||
      wdr_json_gen_int(g, "attempts", r->attempts) != 0 ||
      wdr_json_gen_int(g, "tries", r->tries) != 0 ||
      wdr_json_gen_int(g, "request_retries", r->request_retries) != 0 ||
      wdr_json_gen_int(g, "verify_tries", r->verify_tries) != 0 ||
      wdr_json_gen_bool(g, "resigned", r->resigned) != 0 ||
      wdr_json_gen_bool(g, "gave_up", r->gave_up) != 0 ||
      wdr_json_gen_bool(g, "had_accepted", r->had_accepted) != 0 ||
      wdr_json_gen_int(g, "first_signal_ms", r->first_signal_ms) != 0 ||
      wdr_json_gen_int(g, "last_signal_ms", r->last_signal_ms) != 0 ||
      wdr_json_gen_int(g, "last_try_ms", r->last_try_ms) != 0 ||
      wdr_json_gen_int(g, "next_at_ms", r->next_at_ms) != 0 ||
      wdr_json_gen_int(g, "updated_ms", r->updated_ms) != 0 ||
      wdr_json_gen_text(g, "last_async_id",
                        wdr_cid_str(&r->last_async_id, async_id)) != 0 ||
      wdr_json_gen_text(g, "last_error", wdr_run_text(r->last_error)) != 0 ||
      wdr_json_gen_int(g, "track_ms", r->track_ms) != 0 ||
      wdr_json_gen_int(g, "track_reads", r->track_reads) != 0 ||
      wdr_json_gen_text(g, "async_status", wdr_run_text(r->async_status)) !=
          0 ||
      wdr_json_gen_bool(g, "seen_active", r->seen_active) != 0)
    return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

/* One line: {"<kind>":{...}} with the body filled by fill, then '\n'. */
typedef int (*gen_body_fn)(yajl_gen g, const void *arg);

typedef struct {
  const char *kind;
  gen_body_fn body;
  const void *arg;
} line_args_t;

static int fill_line(yajl_gen g, const void *arg) {
  const line_args_t *a = arg;
  if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_str(g, a->kind) != 0 || a->body(g, a->arg) != 0)
    return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

static int gen_line(wdr_buf_t *out, const char *kind, gen_body_fn body,
                    const void *arg) {
  line_args_t a = {kind, body, arg};
  if (wdr_json_generate(out, fill_line, &a) != 0)
    return -1;
  return wdr_buf_append(out, "\n", 1);
}

typedef struct {
  const wdr_run_t *r;
  const char *workflow;
} run_args_t;

static int body_run(yajl_gen g, const void *arg) {
  const run_args_t *a = arg;
  return gen_run(g, a->r, a->workflow);
}

int wdr_state_record_run(const wdr_run_t *r, const char *workflow,
                         wdr_buf_t *out) {
  run_args_t a = {r, workflow};
  return gen_line(out, "run", body_run, &a);
}

typedef struct {
  const char *workflow;
  const char *id;
} forget_args_t;

static int body_forget(yajl_gen g, const void *arg) {
  const forget_args_t *a = arg;
  if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_text(g, "workflow", a->workflow) != 0 ||
      wdr_json_gen_text(g, "execution_id", a->id) != 0)
    return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

int wdr_state_record_forget(const char *workflow, const char *execution_id,
                            wdr_buf_t *out) {
  forget_args_t a = {workflow, execution_id};
  return gen_line(out, "forget", body_forget, &a);
}

typedef struct {
  const char *workflow;
  const int64_t *sent;
  size_t num;
} budget_args_t;

static int body_budget(yajl_gen g, const void *arg) {
  const budget_args_t *a = arg;
  if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_text(g, "workflow", a->workflow) != 0 ||
      wdr_json_gen_str(g, "sent") != 0 ||
      yajl_gen_array_open(g) != yajl_gen_status_ok)
    return -1;
  for (size_t i = 0; i < a->num; i++)
    if (yajl_gen_integer(g, a->sent[i]) != yajl_gen_status_ok)
      return -1;
  if (yajl_gen_array_close(g) != yajl_gen_status_ok)
    return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

int wdr_state_record_budget(const char *workflow, const int64_t *sent,
                            size_t num, wdr_buf_t *out) {
  budget_args_t a = {workflow, sent, num};
  return gen_line(out, "budget", body_budget, &a);
}

typedef struct {
  int64_t now_ms;
  uint64_t gen;
  bool snapshot;
  const wdr_state_config_t *config;
} header_args_t;

static int gen_config(yajl_gen g, const wdr_state_config_t *c) {
  if (wdr_json_gen_str(g, "config") != 0 ||
      yajl_gen_map_open(g) != yajl_gen_status_ok)
    return -1;
  for (size_t i = 0; i < c->num; i++)
    if (c->digests[i] != NULL && c->digests[i][0] != '\0' &&
        wdr_json_gen_text(g, c->names[i], c->digests[i]) != 0)
      return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

static int fill_header(yajl_gen g, const void *arg) {
  const header_args_t *a = arg;
  if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_int(g, "version", WDR_STATE_VERSION) != 0 ||
      wdr_json_gen_text(g, "kind", a->snapshot ? "snapshot" : "journal") != 0 ||
      wdr_json_gen_int(g, "saved_ms", a->now_ms) != 0 ||
      wdr_json_gen_int(g, "journal", (long long)a->gen) != 0 ||
      (a->config != NULL && gen_config(g, a->config) != 0))
    return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

static int gen_header(wdr_buf_t *out, bool snapshot, int64_t now_ms,
                      uint64_t gen, const wdr_state_config_t *config) {
  header_args_t a = {now_ms, gen, snapshot, config};
  if (wdr_json_generate(out, fill_header, &a) != 0)
    return -1;
  return wdr_buf_append(out, "\n", 1);
}

int wdr_state_journal_header(uint64_t gen, int64_t now_ms, wdr_buf_t *out) {
  return gen_header(out, false, now_ms, gen, NULL);
}

int wdr_state_snapshot_header(uint64_t gen, int64_t now_ms,
                              const wdr_state_config_t *config,
                              wdr_buf_t *out) {
  return gen_header(out, true, now_ms, gen, config);
}

int wdr_state_serialize_part(const wdr_policy_t *p, char *const *names,
                             const bool *persist, size_t wf_num, size_t *cursor,
                             size_t max_runs, wdr_buf_t *out, bool *ret_last) {
  size_t runs_num = wdr_policy_runs_num(p);
  if (*cursor > runs_num) /* runs were removed since the last part */
    *cursor = runs_num;
  size_t end = max_runs < runs_num - *cursor ? *cursor + max_runs : runs_num;
  *ret_last = false;
  for (; *cursor < end; (*cursor)++) {
    const wdr_run_t *r = wdr_policy_run_at(p, *cursor);
    if (r->wf < wf_num && persist[r->wf] &&
        wdr_state_record_run(r, names[r->wf], out) != 0)
      return -1;
  }
  if (*cursor < runs_num)
    return 0;
  for (size_t wf = 0; wf < wf_num; wf++) {
    size_t n = 0;
    const int64_t *t = wdr_policy_budget(p, wf, &n);
    if (persist[wf] && n > 0 && wdr_state_record_budget(names[wf], t, n, out))
      return -1;
  }
  *ret_last = true;
  return 0;
}

int wdr_state_serialize(const wdr_policy_t *p, char *const *names,
                        const bool *persist, size_t wf_num, int64_t now_ms,
                        uint64_t gen, wdr_buf_t *out) {
  if (gen_header(out, true, now_ms, gen, NULL) != 0)
    return -1;
  size_t cursor = 0;
  bool last = false;
  while (!last)
    if (wdr_state_serialize_part(p, names, persist, wf_num, &cursor, SIZE_MAX,
                                 out, &last) != 0)
      return -1;
  return 0;
}

/* --- parsing ------------------------------------------------------------ */

static const char *field_text(yajl_val obj, const char *key) {
  const char *path[] = {key, NULL};
  yajl_val v = yajl_tree_get(obj, path, yajl_t_string);
  return v != NULL ? YAJL_GET_STRING(v) : NULL;
}

static bool field_int(yajl_val obj, const char *key, long long min,
                      long long max, long long *ret) {
  const char *path[] = {key, NULL};
  yajl_val v = yajl_tree_get(obj, path, yajl_t_number);
  if (v == NULL || !YAJL_IS_INTEGER(v))
    return false;
  long long n = YAJL_GET_INTEGER(v);
  if (n < min || n > max)
    return false;
  *ret = n;
  return true;
}

static bool field_bool(yajl_val obj, const char *key, bool *ret) {
  const char *path[] = {key, NULL};
  yajl_val v = yajl_tree_get(obj, path, yajl_t_any);
  if (v == NULL || !(YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)))
    return false;
  *ret = YAJL_IS_TRUE(v);
  return true;
}

/* A text field into a run's id, or into one of its optional texts. */
static bool copy_id(wdr_cid_t *dst, yajl_val obj, const char *key,
                    bool allow_empty) {
  const char *s = field_text(obj, key);
  return s != NULL && (allow_empty || s[0] != '\0') && wdr_cid_set(dst, s) == 0;
}

static bool copy_text(char **dst, yajl_val obj, const char *key) {
  const char *s = field_text(obj, key);
  return s != NULL && wdr_run_text_set(dst, s) == 0;
}

static bool has(yajl_val obj, const char *key) {
  const char *path[] = {key, NULL};
  return yajl_tree_get(obj, path, yajl_t_any) != NULL;
}

static long find_workflow(char *const *names, size_t wf_num, const char *name) {
  for (size_t i = 0; i < wf_num; i++)
    if (strcmp(names[i], name) == 0)
      return (long)i;
  return -1;
}

/* Reads one run into r (zeroed); returns false when a field is missing or
 * malformed. Either way r may hold texts: the caller wdr_run_clear()s it. */
static bool parse_run(yajl_val obj, wdr_run_t *r) {
  long long n[9];
  static const char *const ints[] = {
      "attempts",     "tries",           "request_retries",
      "verify_tries", "first_signal_ms", "last_signal_ms",
      "last_try_ms",  "next_at_ms",      "updated_ms"};
  const char *state = field_text(obj, "state");
  const char *in_flight = field_text(obj, "in_flight");
  bool resigned, gave_up, had_accepted = false, seen_active = false;
  if (state == NULL || in_flight == NULL ||
      !copy_id(&r->execution_id, obj, "execution_id", false) ||
      !copy_id(&r->last_async_id, obj, "last_async_id", true) ||
      !copy_text(&r->last_error, obj, "last_error") ||
      !field_bool(obj, "resigned", &resigned) ||
      !field_bool(obj, "gave_up", &gave_up))
    return false;
  r->resigned = resigned;
  r->gave_up = gave_up;
  /* Added after the first files were written: absent means false, 0 or
   * "" (a file from before TrackAsync follows nothing); present, they must
   * be well-formed like the others. */
  long long track_ms = 0, track_reads = 0;
  if ((has(obj, "had_accepted") &&
       !field_bool(obj, "had_accepted", &had_accepted)) ||
      (has(obj, "seen_active") &&
       !field_bool(obj, "seen_active", &seen_active)) ||
      (has(obj, "track_ms") &&
       !field_int(obj, "track_ms", 0, INT64_MAX, &track_ms)) ||
      (has(obj, "track_reads") &&
       !field_int(obj, "track_reads", 0, 1000000, &track_reads)) ||
      (has(obj, "async_status") &&
       !copy_text(&r->async_status, obj, "async_status")))
    return false;
  r->had_accepted = had_accepted;
  r->seen_active = seen_active;
  r->track_ms = track_ms;
  r->track_reads = (int)track_reads;
  for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
    long long max = i < 4 ? 1000000 : INT64_MAX;
    if (!field_int(obj, ints[i], 0, max, &n[i]))
      return false;
  }
  r->attempts = (int)n[0];
  r->tries = (int)n[1];
  r->request_retries = (int)n[2];
  r->verify_tries = (int)n[3];
  r->first_signal_ms = n[4];
  r->last_signal_ms = n[5];
  r->last_try_ms = n[6];
  r->next_at_ms = n[7];
  r->updated_ms = n[8];
  r->state = WDR_RUN_STATE_NUM;
  for (int s = 0; s < WDR_RUN_STATE_NUM; s++)
    if (strcmp(state, wdr_run_state_name((wdr_run_state_t)s)) == 0)
      r->state = (wdr_run_state_t)s;
  if (r->state == WDR_RUN_STATE_NUM)
    return false;
  r->in_flight = WDR_RUN_JOB_KINDS;
  for (int k = 0; k < WDR_RUN_JOB_KINDS; k++)
    if (strcmp(in_flight, kind_names[k]) == 0)
      r->in_flight = (wdr_job_kind_t)k;
  return r->in_flight != WDR_RUN_JOB_KINDS;
}

#define PARSE_FAIL(...)                                                        \
  do {                                                                         \
    snprintf(err, err_size, __VA_ARGS__);                                      \
    goto cleanup;                                                              \
  } while (0)

/* Version 1: one JSON object holding every run and budget window. Read
 * once, on the first start after an upgrade; the engine then writes
 * version 2. */
static int parse_legacy(yajl_val root, wdr_policy_t *p, char *const *names,
                        size_t wf_num, int64_t now_ms, wdr_state_stats_t *stats,
                        char *err, size_t err_size) {
  static const char *p_runs[] = {"runs", NULL};
  static const char *p_budget[] = {"budget", NULL};
  int status = -1;
  yajl_val runs = yajl_tree_get(root, p_runs, yajl_t_array);
  yajl_val budget = yajl_tree_get(root, p_budget, yajl_t_object);
  if (runs == NULL || budget == NULL)
    PARSE_FAIL("no runs array or budget object");
  stats->legacy = true;

  for (size_t i = 0; i < YAJL_GET_ARRAY(runs)->len; i++) {
    yajl_val obj = YAJL_GET_ARRAY(runs)->values[i];
    wdr_run_t r = {0};
    const char *workflow =
        YAJL_IS_OBJECT(obj) ? field_text(obj, "workflow") : NULL;
    bool ok = workflow != NULL && parse_run(obj, &r);
    long wf = ok ? find_workflow(names, wf_num, workflow) : -1;
    if (ok && wf < 0)
      stats->unknown_workflow++;
    r.wf = wf >= 0 ? (uint32_t)wf : 0;
    int rc = wf >= 0 ? wdr_policy_restore(p, &r, now_ms) : -1;
    if (rc >= 0)
      stats->runs++;
    else if (wf >= 0)
      stats->rejected++;
    stats->released += rc == 1;
    wdr_run_clear(&r);
    if (!ok)
      PARSE_FAIL("run %zu is malformed", i + 1);
  }
  for (size_t i = 0; i < YAJL_GET_OBJECT(budget)->len; i++) {
    yajl_val times = YAJL_GET_OBJECT(budget)->values[i];
    long wf = find_workflow(names, wf_num, YAJL_GET_OBJECT(budget)->keys[i]);
    if (!YAJL_IS_ARRAY(times))
      PARSE_FAIL("budget of \"%s\" is not an array",
                 YAJL_GET_OBJECT(budget)->keys[i]);
    for (size_t j = 0; j < YAJL_GET_ARRAY(times)->len; j++) {
      yajl_val t = YAJL_GET_ARRAY(times)->values[j];
      if (!YAJL_IS_INTEGER(t))
        PARSE_FAIL("budget of \"%s\" holds a non-integer",
                   YAJL_GET_OBJECT(budget)->keys[i]);
      if (wf >= 0)
        wdr_policy_restore_budget(p, (size_t)wf, YAJL_GET_INTEGER(t));
    }
  }
  status = 0;
cleanup:
  return status;
}

/* --- version 2: one JSON object per line -------------------------------- */

typedef struct {
  wdr_policy_t *p;
  char *const *names;
  size_t wf_num;
  int64_t now_ms;
  wdr_state_stats_t *stats;
  char *err;
  size_t err_size;
} load_t;

static int apply_run(load_t *l, yajl_val body, size_t line) {
  wdr_run_t r = {0};
  const char *workflow =
      YAJL_IS_OBJECT(body) ? field_text(body, "workflow") : NULL;
  if (workflow == NULL || !parse_run(body, &r)) {
    wdr_run_clear(&r);
    snprintf(l->err, l->err_size, "line %zu: the run is malformed", line);
    return -1;
  }
  long wf = find_workflow(l->names, l->wf_num, workflow);
  if (wf < 0) {
    wdr_run_clear(&r);
    l->stats->unknown_workflow++;
    return 0;
  }
  r.wf = (uint32_t)wf;
  /* A later record of a run replaces the earlier one. */
  char id[WDR_ID_MAX];
  wdr_policy_forget(l->p, r.wf, wdr_cid_str(&r.execution_id, id));
  int rc = wdr_policy_restore(l->p, &r, l->now_ms);
  if (rc < 0)
    l->stats->rejected++;
  l->stats->released += rc == 1;
  wdr_run_clear(&r);
  return 0;
}

static int apply_forget(load_t *l, yajl_val body, size_t line) {
  const char *workflow =
      YAJL_IS_OBJECT(body) ? field_text(body, "workflow") : NULL;
  const char *id =
      YAJL_IS_OBJECT(body) ? field_text(body, "execution_id") : NULL;
  if (workflow == NULL || id == NULL) {
    snprintf(l->err, l->err_size, "line %zu: the forget is malformed", line);
    return -1;
  }
  long wf = find_workflow(l->names, l->wf_num, workflow);
  if (wf >= 0)
    wdr_policy_forget(l->p, (size_t)wf, id);
  return 0;
}

static int apply_budget(load_t *l, yajl_val body, size_t line) {
  static const char *p_sent[] = {"sent", NULL};
  const char *workflow =
      YAJL_IS_OBJECT(body) ? field_text(body, "workflow") : NULL;
  yajl_val sent =
      workflow != NULL ? yajl_tree_get(body, p_sent, yajl_t_array) : NULL;
  if (sent == NULL) {
    snprintf(l->err, l->err_size, "line %zu: the budget is malformed", line);
    return -1;
  }
  for (size_t j = 0; j < YAJL_GET_ARRAY(sent)->len; j++)
    if (!YAJL_IS_INTEGER(YAJL_GET_ARRAY(sent)->values[j])) {
      snprintf(l->err, l->err_size,
               "line %zu: budget of \"%s\" holds a non-integer", line,
               workflow);
      return -1;
    }
  long wf = find_workflow(l->names, l->wf_num, workflow);
  if (wf < 0)
    return 0;
  wdr_policy_clear_budget(l->p, (size_t)wf);
  for (size_t j = 0; j < YAJL_GET_ARRAY(sent)->len; j++)
    wdr_policy_restore_budget(
        l->p, (size_t)wf, YAJL_GET_INTEGER(YAJL_GET_ARRAY(sent)->values[j]));
  return 0;
}

/* One record: {"run":{..}}, {"forget":{..}} or {"budget":{..}}. */
static int apply_record(load_t *l, yajl_val root, size_t line) {
  if (!YAJL_IS_OBJECT(root) || YAJL_GET_OBJECT(root)->len != 1) {
    snprintf(l->err, l->err_size, "line %zu: not a record", line);
    return -1;
  }
  const char *kind = YAJL_GET_OBJECT(root)->keys[0];
  yajl_val body = YAJL_GET_OBJECT(root)->values[0];
  if (strcmp(kind, "run") == 0)
    return apply_run(l, body, line);
  if (strcmp(kind, "forget") == 0)
    return apply_forget(l, body, line);
  if (strcmp(kind, "budget") == 0)
    return apply_budget(l, body, line);
  snprintf(l->err, l->err_size, "line %zu: unknown record \"%.32s\"", line,
           kind);
  return -1;
}

/* Reads the header of a version-2 file: its kind and journal generation.
 * Returns 0, -1 when malformed, -2 for a version newer than ours. */
static int read_header(load_t *l, yajl_val root, const char *want_kind,
                       uint64_t *ret_gen) {
  long long version = 0, gen = 0;
  if (!YAJL_IS_OBJECT(root) ||
      !field_int(root, "version", 0, INT32_MAX, &version)) {
    snprintf(l->err, l->err_size, "no version");
    return -1;
  }
  if (version > WDR_STATE_VERSION) {
    snprintf(l->err, l->err_size,
             "written by a newer version of the plugin (state version %lld, "
             "this one reads up to %d)",
             version, WDR_STATE_VERSION);
    return -2;
  }
  const char *kind = field_text(root, "kind");
  if (version != WDR_STATE_VERSION || kind == NULL ||
      strcmp(kind, want_kind) != 0 ||
      !field_int(root, "journal", 0, INT64_MAX, &gen)) {
    snprintf(l->err, l->err_size,
             "the header is not a version-%d %s header (kind, journal)",
             WDR_STATE_VERSION, want_kind);
    return -1;
  }
  *ret_gen = (uint64_t)gen;
  return 0;
}

/* Parses line n (1-based) of len bytes into a tree; NULL with err set when
 * it is not JSON. */
static yajl_val parse_line(load_t *l, const char *text, size_t len, size_t n,
                           char **scratch, size_t *scratch_size) {
  if (len + 1 > *scratch_size) {
    char *b = realloc(*scratch, len + 1);
    if (b == NULL) {
      snprintf(l->err, l->err_size, "out of memory");
      return NULL;
    }
    *scratch = b;
    *scratch_size = len + 1;
  }
  memcpy(*scratch, text, len);
  (*scratch)[len] = '\0';
  char why[128] = "";
  yajl_val root =
      wdr_json_tree_parse(*scratch, len, WDR_JSON_DEPTH_MAX, why, sizeof(why));
  if (root == NULL)
    snprintf(l->err, l->err_size, "line %zu: not JSON: %s", n, why);
  return root;
}

/* Applies a version-2 file's records. The snapshot must be whole. A journal
 * may end in a record cut short by a crash: that one is ignored (it was
 * never acknowledged). A journal of another generation is ignored whole:
 * the snapshot already holds all it says. Returns 0, -1 or -2. */
static int load_lines(load_t *l, const char *text, size_t len, bool journal,
                      uint64_t *gen) {
  char *scratch = NULL;
  size_t scratch_size = 0, line = 0;
  int status = 0;
  for (size_t pos = 0; pos < len && status == 0;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl != NULL ? (size_t)(nl - text) : len;
    size_t n = end - pos;
    const char *start = text + pos;
    pos = end + 1;
    line++;
    if (n == 0)
      continue;
    yajl_val root = parse_line(l, start, n, line, &scratch, &scratch_size);
    if (root == NULL) {
      if (journal && line > 1 && nl == NULL) {
        l->stats->torn = true;
        status = 0;
        break;
      }
      status = -1;
      break;
    }
    if (line == 1) {
      uint64_t g = 0;
      status = read_header(l, root, journal ? "journal" : "snapshot", &g);
      if (status == 0 && !journal)
        *gen = g;
      else if (status == 0 && g < *gen) {
        /* Older than the snapshot: everything it says, the snapshot
         * says too. */
        l->stats->stale_journal = true;
        yajl_tree_free(root);
        break;
      } else if (status == 0 && g > l->stats->gen)
        l->stats->gen = g;
    } else {
      status = apply_record(l, root, line);
      if (status == 0 && journal)
        l->stats->journal_records++;
    }
    yajl_tree_free(root);
  }
  free(scratch);
  return status;
}

#define CONFIG_HEADER_MAX (4 * 1024 * 1024)

size_t wdr_state_config_changed(const char *snapshot, size_t len,
                                const wdr_state_config_t *now, bool *changed,
                                bool *ret_unrecorded) {
  for (size_t i = 0; i < now->num; i++)
    changed[i] = false;
  *ret_unrecorded = false;
  const char *nl = snapshot != NULL ? memchr(snapshot, '\n', len) : NULL;
  size_t n = nl != NULL ? (size_t)(nl - snapshot) : len;
  /* A header is one short line (about 100 bytes a workflow); a longer
   * first line is a version-1 document, which records no config. */
  char *line =
      snapshot != NULL && n <= CONFIG_HEADER_MAX ? strndup(snapshot, n) : NULL;
  yajl_val root =
      line != NULL ? wdr_json_tree_parse(line, n, WDR_JSON_DEPTH_MAX, NULL, 0)
                   : NULL;
  static const char *p_config[] = {"config", NULL};
  yajl_val config =
      root != NULL && YAJL_IS_OBJECT(root) && field_text(root, "kind") != NULL
          ? yajl_tree_get(root, p_config, yajl_t_object)
          : NULL;
  size_t num = 0;
  for (size_t i = 0; i < now->num; i++) {
    const char *digest = now->digests[i];
    if (digest == NULL || digest[0] == '\0')
      continue; /* unknown now: nothing to compare or record */
    const char *was = config != NULL ? field_text(config, now->names[i]) : NULL;
    if (was == NULL || strcmp(was, digest) != 0)
      *ret_unrecorded = true;
    if (was != NULL && strcmp(was, digest) != 0) {
      changed[i] = true;
      num++;
    }
  }
  yajl_tree_free(root);
  free(line);
  return num;
}

int wdr_state_load(const char *snapshot, size_t snapshot_len,
                   const char *const *journals, const size_t *journal_lens,
                   size_t journals_num, wdr_policy_t *p, char *const *names,
                   size_t wf_num, int64_t now_ms, wdr_state_stats_t *stats,
                   char *err, size_t err_size) {
  memset(stats, 0, sizeof(*stats));
  if (snapshot == NULL || snapshot_len == 0 ||
      strlen(snapshot) != snapshot_len) {
    snprintf(err, err_size, "empty, or contains a NUL byte");
    return -1;
  }
  load_t l = {p, names, wf_num, now_ms, stats, err, err_size};
  /* Version 2 starts with a header line of its own; anything else is read
   * as a version-1 document (one object, possibly over several lines). */
  const char *nl = memchr(snapshot, '\n', snapshot_len);
  size_t first = nl != NULL ? (size_t)(nl - snapshot) : snapshot_len;
  char *scratch = NULL;
  size_t scratch_size = 0;
  char line_err[8];
  load_t probe = l;
  probe.err = line_err;
  probe.err_size = sizeof(line_err);
  yajl_val head =
      parse_line(&probe, snapshot, first, 1, &scratch, &scratch_size);
  free(scratch);
  long long version = 0;
  bool v2 = head != NULL && YAJL_IS_OBJECT(head) &&
            field_int(head, "version", 0, INT32_MAX, &version) && version >= 2;
  yajl_tree_free(head);
  int status;
  if (v2) {
    uint64_t gen = 0;
    status = load_lines(&l, snapshot, snapshot_len, false, &gen);
    stats->gen = gen;
    for (size_t k = 0; status == 0 && k < journals_num; k++)
      if (journals[k] != NULL && journal_lens[k] > 0)
        status = load_lines(&l, journals[k], journal_lens[k], true, &gen);
  } else {
    char why[128] = "";
    yajl_val root = wdr_json_tree_parse(snapshot, snapshot_len,
                                        WDR_JSON_DEPTH_MAX, why, sizeof(why));
    if (root == NULL) {
      snprintf(err, err_size, "not JSON: %s", why);
      return -1;
    }
    if (!YAJL_IS_OBJECT(root) ||
        !field_int(root, "version", 0, INT32_MAX, &version)) {
      snprintf(err, err_size, "no version");
      status = -1;
    } else if (version != 1) {
      snprintf(err, err_size, "version %lld, expected 1 or %d", version,
               WDR_STATE_VERSION);
      status = -1;
    } else
      status =
          parse_legacy(root, p, names, wf_num, now_ms, stats, err, err_size);
    yajl_tree_free(root);
  }
  if (status == 0 && !stats->legacy) {
    stats->runs = wdr_policy_runs_num(p);
  }
  return status;
}

int wdr_state_parse(const char *text, size_t len, wdr_policy_t *p,
                    char *const *names, size_t wf_num, int64_t now_ms,
                    wdr_state_stats_t *stats, char *err, size_t err_size) {
  return wdr_state_load(text, len, NULL, NULL, 0, p, names, wf_num, now_ms,
                        stats, err, err_size);
}

/* --- the workflows a state names ----------------------------------------- */

typedef struct {
  wdr_state_workflow_t *w;
  size_t num, cap;
  int status;
} names_t;

static int cmp_workflow(const void *a, const void *b) {
  return strcmp(((const wdr_state_workflow_t *)a)->name,
                ((const wdr_state_workflow_t *)b)->name);
}

/* Sorts n and merges repeats (the longest budget window stays). */
static void names_compact(names_t *n) {
  if (n->num < 2)
    return;
  qsort(n->w, n->num, sizeof(*n->w), cmp_workflow);
  size_t out = 0;
  for (size_t i = 1; i < n->num; i++) {
    if (strcmp(n->w[out].name, n->w[i].name) == 0) {
      if (n->w[i].budget_max > n->w[out].budget_max)
        n->w[out].budget_max = n->w[i].budget_max;
      free(n->w[i].name);
    } else
      n->w[++out] = n->w[i];
  }
  n->num = out + 1;
}

static void names_add(names_t *n, const char *name, size_t budget) {
  if (n->status != 0 || name == NULL)
    return;
  /* Records of one workflow tend to come together. */
  if (n->num > 0 && strcmp(n->w[n->num - 1].name, name) == 0) {
    if (budget > n->w[n->num - 1].budget_max)
      n->w[n->num - 1].budget_max = budget;
    return;
  }
  /* Full: merge the repeats first, so that the list stays about twice the
   * workflows, not one entry per record. */
  if (n->num == n->cap) {
    names_compact(n);
    if (n->num * 2 >= n->cap) {
      size_t cap = n->cap > 0 ? n->cap * 2 : 16;
      wdr_state_workflow_t *w = realloc(n->w, cap * sizeof(*w));
      if (w == NULL) {
        n->status = -1;
        return;
      }
      n->w = w;
      n->cap = cap;
    }
  }
  char *copy = strdup(name);
  if (copy == NULL) {
    n->status = -1;
    return;
  }
  n->w[n->num++] = (wdr_state_workflow_t){.name = copy, .budget_max = budget};
}

/* One line of a version-2 file, read by yajl's streaming parser: only a
 * record's kind, its "workflow" and the number of values in a budget's
 * "sent" are looked at, and no tree is built (a state of 100,000 runs is
 * read twice by the state tool: here, and by wdr_state_load). */
enum { FIELD_OTHER, FIELD_WORKFLOW, FIELD_SENT };

typedef struct {
  names_t *n;
  unsigned depth; /* maps and arrays open */
  size_t kinds;   /* keys of the outer object */
  bool record;    /* its one key is run, forget or budget */
  bool budget;
  int field; /* the body's current key */
  size_t sent;
  char *name; /* the body's "workflow" */
} rec_t;

static bool key_is(const unsigned char *key, size_t len, const char *want) {
  return len == strlen(want) && memcmp(key, want, len) == 0;
}

static int rec_value(rec_t *r) {
  if (r->depth == 3 && r->field == FIELD_SENT)
    r->sent++;
  return 1;
}

static int rec_null(void *ctx) { return rec_value(ctx); }

static int rec_bool(void *ctx, int b) {
  (void)b;
  return rec_value(ctx);
}

static int rec_integer(void *ctx, long long v) {
  (void)v;
  return rec_value(ctx);
}

static int rec_double(void *ctx, double v) {
  (void)v;
  return rec_value(ctx);
}

static int rec_string(void *ctx, const unsigned char *s, size_t len) {
  rec_t *r = ctx;
  /* The first, as yajl_tree_get (wdr_state_load) finds it. */
  if (r->depth == 2 && r->field == FIELD_WORKFLOW && r->name == NULL) {
    if ((r->name = strndup((const char *)s, len)) == NULL) {
      r->n->status = -1;
      return 0;
    }
  }
  return rec_value(r);
}

static int rec_open(void *ctx) {
  rec_t *r = ctx;
  return ++r->depth <= WDR_JSON_DEPTH_MAX;
}

static int rec_key(void *ctx, const unsigned char *key, size_t len) {
  rec_t *r = ctx;
  if (r->depth == 1) {
    r->kinds++;
    r->budget = key_is(key, len, "budget");
    r->record = r->kinds == 1 && (r->budget || key_is(key, len, "run") ||
                                  key_is(key, len, "forget"));
  } else if (r->depth == 2)
    r->field = key_is(key, len, "workflow") ? FIELD_WORKFLOW
               : key_is(key, len, "sent")   ? FIELD_SENT
                                            : FIELD_OTHER;
  return 1;
}

static int rec_close_map(void *ctx) {
  rec_t *r = ctx;
  if (--r->depth == 0 && r->record && r->name != NULL)
    names_add(r->n, r->name, r->budget ? r->sent : 0);
  return r->n->status == 0;
}

static int rec_close_array(void *ctx) {
  rec_t *r = ctx;
  r->depth--;
  return 1;
}

static const yajl_callbacks rec_callbacks = {
    .yajl_null = rec_null,
    .yajl_boolean = rec_bool,
    .yajl_integer = rec_integer,
    .yajl_double = rec_double,
    .yajl_string = rec_string,
    .yajl_start_map = rec_open,
    .yajl_map_key = rec_key,
    .yajl_end_map = rec_close_map,
    .yajl_start_array = rec_open,
    .yajl_end_array = rec_close_array,
};

static void names_of_record(names_t *n, const char *text, size_t len) {
  rec_t r = {.n = n};
  yajl_handle h = yajl_alloc(&rec_callbacks, NULL, &r);
  if (h == NULL) {
    n->status = -1;
    return;
  }
  /* A line that is not a whole record adds nothing: wdr_state_load says
   * what is wrong with it. */
  if (yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok)
    (void)yajl_complete_parse(h);
  yajl_free(h);
  free(r.name);
}

/* Every line of a version-2 file; returns whether the first line is a
 * version-2 header (else the text is not read further). */
static bool names_of_lines(names_t *n, const char *text, size_t len) {
  const char *nl = memchr(text, '\n', len);
  size_t first = nl != NULL ? (size_t)(nl - text) : len;
  char *head = strndup(text, first);
  if (head == NULL) {
    n->status = -1;
    return false;
  }
  yajl_val root =
      wdr_json_tree_parse(head, strlen(head), WDR_JSON_DEPTH_MAX, NULL, 0);
  long long version = 0;
  bool v2 = root != NULL && YAJL_IS_OBJECT(root) &&
            field_int(root, "version", 0, INT32_MAX, &version) && version >= 2;
  yajl_tree_free(root);
  free(head);
  for (size_t pos = first + 1; v2 && pos < len && n->status == 0;) {
    nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl != NULL ? (size_t)(nl - text) : len;
    if (end > pos)
      names_of_record(n, text + pos, end - pos);
    pos = end + 1;
  }
  return v2;
}

/* Version 1: {"runs":[{"workflow":..},..],"budget":{name:[..],..}}. */
static void names_of_legacy(names_t *n, const char *text, size_t len) {
  static const char *p_runs[] = {"runs", NULL};
  static const char *p_budget[] = {"budget", NULL};
  yajl_val root = wdr_json_tree_parse(text, len, WDR_JSON_DEPTH_MAX, NULL, 0);
  yajl_val runs = yajl_tree_get(root, p_runs, yajl_t_array);
  yajl_val budget = yajl_tree_get(root, p_budget, yajl_t_object);
  for (size_t i = 0; runs != NULL && i < YAJL_GET_ARRAY(runs)->len; i++) {
    yajl_val r = YAJL_GET_ARRAY(runs)->values[i];
    if (YAJL_IS_OBJECT(r))
      names_add(n, field_text(r, "workflow"), 0);
  }
  for (size_t i = 0; budget != NULL && i < YAJL_GET_OBJECT(budget)->len; i++) {
    yajl_val t = YAJL_GET_OBJECT(budget)->values[i];
    names_add(n, YAJL_GET_OBJECT(budget)->keys[i],
              YAJL_IS_ARRAY(t) ? YAJL_GET_ARRAY(t)->len : 0);
  }
  yajl_tree_free(root);
}

int wdr_state_workflows(const char *snapshot, size_t snapshot_len,
                        const char *const *journals, const size_t *journal_lens,
                        size_t journals_num, wdr_state_workflow_t **ret,
                        size_t *ret_num) {
  names_t n = {0};
  *ret = NULL;
  *ret_num = 0;
  if (snapshot != NULL && snapshot_len > 0 &&
      !names_of_lines(&n, snapshot, snapshot_len) && n.status == 0 &&
      strlen(snapshot) == snapshot_len)
    names_of_legacy(&n, snapshot, snapshot_len);
  for (size_t k = 0; k < journals_num && n.status == 0; k++)
    if (journals[k] != NULL && journal_lens[k] > 0)
      names_of_lines(&n, journals[k], journal_lens[k]);
  if (n.status != 0) {
    wdr_state_workflows_free(n.w, n.num);
    return -1;
  }
  names_compact(&n);
  if (n.num == 0) {
    free(n.w);
    return 0;
  }
  *ret = n.w;
  *ret_num = n.num;
  return 0;
}

void wdr_state_workflows_free(wdr_state_workflow_t *w, size_t num) {
  for (size_t i = 0; w != NULL && i < num; i++)
    free(w[i].name);
  free(w);
}

/* --- files -------------------------------------------------------------- */

int wdr_state_read_file_id(const char *path, wdr_buf_t *out,
                           wdr_state_file_id_t *ret_id, char *err,
                           size_t err_size) {
  *ret_id = (wdr_state_file_id_t){0};
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return 1;
    snprintf(err, err_size, "open: %s", strerror(errno));
    return -1;
  }
  int status = -1;
  char chunk[65536];
  struct stat st;
  size_t before = out->len;
  if (fstat(fd, &st) == 0)
    *ret_id = (wdr_state_file_id_t){.exists = true,
                                    .dev = (unsigned long long)st.st_dev,
                                    .ino = (unsigned long long)st.st_ino};
  /* One allocation of the file's size (it may still grow while read). */
  if (ret_id->exists && st.st_size > 0 &&
      wdr_buf_reserve(out, (size_t)st.st_size) != 0) {
    snprintf(err, err_size, "larger than %d bytes", (int)WDR_STATE_MAX);
    goto cleanup;
  }
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(err, err_size, "read: %s", strerror(errno));
      goto cleanup;
    }
    if (n == 0)
      break;
    if (wdr_buf_append(out, chunk, (size_t)n) != 0) {
      snprintf(err, err_size, "larger than %d bytes", (int)WDR_STATE_MAX);
      goto cleanup;
    }
  }
  ret_id->exists = true;
  ret_id->size = out->len - before;
  status = 0;
cleanup:
  close(fd);
  return status;
}

int wdr_state_read_file(const char *path, wdr_buf_t *out, char *err,
                        size_t err_size) {
  wdr_state_file_id_t id;
  return wdr_state_read_file_id(path, out, &id, err, err_size);
}

void wdr_state_file_id_now(const char *path, wdr_state_file_id_t *ret_id) {
  struct stat st;
  *ret_id = (wdr_state_file_id_t){0};
  if (stat(path, &st) == 0)
    *ret_id = (wdr_state_file_id_t){.exists = true,
                                    .dev = (unsigned long long)st.st_dev,
                                    .ino = (unsigned long long)st.st_ino,
                                    .size = (size_t)st.st_size};
}

static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* fsync of the folder holding path, so the rename itself is durable. */
static int sync_dir(const char *path) {
  char *copy = strdup(path);
  if (copy == NULL)
    return -1;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(copy);
  if (fd < 0)
    return -1;
  int status = fsync(fd);
  close(fd);
  return status;
}

/* "<path>.tmp-<pid>": every temporary file of the state is named so, and
 * wdr_state_remove_temps finds the ones a crash left. */
static int temp_name(const char *path, char *tmp, size_t size) {
  return snprintf(tmp, size, "%s.tmp-%ld", path, (long)getpid()) < (int)size
             ? 0
             : -1;
}

int wdr_state_write_file(const char *path, const wdr_buf_t *data, char *err,
                         size_t err_size) {
  char tmp[4096];
  const char *err_op = NULL;
  int fd = -1;
  int saved = 0;
  if (temp_name(path, tmp, sizeof(tmp)) != 0) {
    snprintf(err, err_size, "path too long");
    return -1;
  }
  if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
    err_op = "open";
    goto fail;
  }
  if (write_all(fd, wdr_buf_str(data), data->len) != 0) {
    err_op = "write";
    goto fail;
  }
  if (fsync(fd) != 0) {
    err_op = "fsync";
    goto fail;
  }
  if (close(fd) != 0) {
    fd = -1;
    err_op = "close";
    goto fail;
  }
  fd = -1;
  if (rename(tmp, path) != 0) {
    err_op = "rename";
    goto fail;
  }
  if (sync_dir(path) != 0) {
    /* The new file is in place; only its durability is in doubt. */
    snprintf(err, err_size, "fsync of the folder: %s", strerror(errno));
    return -1;
  }
  return 0;
fail:
  saved = errno;
  if (fd >= 0)
    close(fd);
  unlink(tmp);
  snprintf(err, err_size, "%s %s: %s", err_op, tmp, strerror(saved));
  return -1;
}

int wdr_state_append_open(const char *path, char *err, size_t err_size) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    snprintf(err, err_size, "open %s: %s", path, strerror(errno));
  return fd;
}

void wdr_state_append_close(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

int wdr_state_append(int fd, const char *path, const wdr_buf_t *data, bool sync,
                     char *err, size_t err_size) {
  const char *err_op = NULL;
  if (write_all(fd, wdr_buf_str(data), data->len) != 0)
    err_op = "write";
  else if (sync && fdatasync(fd) != 0)
    err_op = "fdatasync";
  if (err_op != NULL)
    snprintf(err, err_size, "%s %s: %s", err_op, path, strerror(errno));
  return err_op == NULL ? 0 : -1;
}

int wdr_state_move_aside(const char *path, int64_t now_s, char *new_path,
                         size_t new_path_size) {
  if (snprintf(new_path, new_path_size, "%s.corrupt-%lld", path,
               (long long)now_s) >= (int)new_path_size)
    return -1;
  return rename(path, new_path);
}

/* --- one owner ----------------------------------------------------------- */

/* The pid written into the lock file by its holder, or 0. */
static long holder_of(int fd) {
  char text[32] = "";
  ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
  if (n <= 0)
    return 0;
  text[n] = '\0';
  char *end = NULL;
  long pid = strtol(text, &end, 10);
  return pid > 0 && end != text ? pid : 0;
}

int wdr_state_lock(const char *path, long *ret_holder, char *err,
                   size_t err_size) {
  char lock_path[4096];
  *ret_holder = 0;
  if (snprintf(lock_path, sizeof(lock_path), "%s.lock", path) >=
      (int)sizeof(lock_path)) {
    snprintf(err, err_size, "path too long");
    return -1;
  }
  int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(err, err_size, "open %s: %s", lock_path, strerror(errno));
    return -1;
  }
  /* An open-file-description lock: unlike a classic POSIX lock it is not
   * dropped when this process closes some other descriptor of the file,
   * and it goes when fd is closed or the process dies. */
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
    /* The kernel does not name an OFD lock's owner: the file does. */
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
      /* The lock holds either way; only the holder's name is missing. */
    }
    return fd;
  }
  int saved = errno, status = -1;
  if (saved == EACCES || saved == EAGAIN) {
    *ret_holder = holder_of(fd);
    snprintf(err, err_size, "held by process %ld", *ret_holder);
    status = -2;
  } else
    snprintf(err, err_size, "lock %s: %s", lock_path, strerror(saved));
  close(fd);
  return status;
}

void wdr_state_unlock(int fd) {
  if (fd >= 0)
    close(fd); /* the last descriptor of the description: the lock goes */
}

/* True when name is a temporary file of the state called base: base, or
 * its journal or next journal, + ".tmp-" + digits. */
static bool is_temp_of(const char *name, const char *base) {
  size_t n = strlen(base);
  if (strncmp(name, base, n) != 0)
    return false;
  name += n;
  if (strncmp(name, ".journal.next", 13) == 0)
    name += 13;
  else if (strncmp(name, ".journal", 8) == 0)
    name += 8;
  if (strncmp(name, ".tmp-", 5) != 0)
    return false;
  const char *p = name + 5;
  if (*p == '\0')
    return false;
  for (; *p != '\0'; p++)
    if (*p < '0' || *p > '9')
      return false;
  return true;
}

int wdr_state_remove_temps(const char *path) {
  char *dir_copy = strdup(path), *base_copy = strdup(path);
  int removed = -1;
  DIR *d = NULL;
  if (dir_copy == NULL || base_copy == NULL)
    goto done;
  const char *dir = dirname(dir_copy), *base = basename(base_copy);
  if ((d = opendir(dir)) == NULL)
    goto done;
  removed = 0;
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
    char full[4096];
    if (!is_temp_of(e->d_name, base) ||
        snprintf(full, sizeof(full), "%s/%s", dir, e->d_name) >=
            (int)sizeof(full))
      continue;
    if (unlink(full) == 0)
      removed++;
  }
done:
  if (d != NULL)
    closedir(d);
  free(dir_copy);
  free(base_copy);
  return removed;
}

/* --- a snapshot written in parts ----------------------------------------- */

int wdr_state_fold_open(const char *path, char *err, size_t err_size) {
  char tmp[4096];
  if (temp_name(path, tmp, sizeof(tmp)) != 0) {
    snprintf(err, err_size, "path too long");
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    snprintf(err, err_size, "open %s: %s", tmp, strerror(errno));
  return fd;
}

int wdr_state_fold_write(int fd, const wdr_buf_t *part, char *err,
                         size_t err_size) {
  if (write_all(fd, wdr_buf_str(part), part->len) == 0)
    return 0;
  snprintf(err, err_size, "write of the new snapshot: %s", strerror(errno));
  return -1;
}

int wdr_state_fold_commit(int fd, const char *path, const char *journal,
                          const char *next, char *err, size_t err_size) {
  char tmp[4096];
  const char *step = NULL;
  if (temp_name(path, tmp, sizeof(tmp)) != 0)
    step = "name";
  else if (fsync(fd) != 0)
    step = "fsync";
  int saved = errno;
  if (close(fd) != 0 && step == NULL) {
    step = "close";
    saved = errno;
  }
  if (step == NULL && rename(tmp, path) != 0) {
    step = "rename";
    saved = errno;
  }
  /* The snapshot first, the journal after: a crash between leaves the new
   * snapshot and the old journal, whose generation is below it. */
  if (step == NULL && sync_dir(path) != 0) {
    step = "fsync of the folder";
    saved = errno;
  }
  if (step == NULL && next != NULL &&
      (rename(next, journal) != 0 || sync_dir(path) != 0)) {
    step = "rename of the journal";
    saved = errno;
  }
  if (step == NULL)
    return 0;
  snprintf(err, err_size, "%s of the new snapshot: %s", step, strerror(saved));
  return -1;
}

void wdr_state_fold_abort(int fd, const char *path) {
  char tmp[4096];
  if (fd >= 0)
    close(fd);
  if (temp_name(path, tmp, sizeof(tmp)) == 0)
    unlink(tmp);
}
