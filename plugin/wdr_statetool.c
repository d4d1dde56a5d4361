#include "wdr_statetool.h"
#include "wdr_json.h"
#include "wdr_policy_store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

/* --- loading -------------------------------------------------------------- */

int wdr_statetool_load(const char *snapshot, size_t snapshot_len,
                       const char *const *journals, const size_t *journal_lens,
                       size_t journals_num, int64_t now_ms,
                       wdr_statetool_state_t *st, char *err, size_t err_size) {
  *st = (wdr_statetool_state_t){0};
  if (wdr_state_workflows(snapshot, snapshot_len, journals, journal_lens,
                          journals_num, &st->wf, &st->wf_num) != 0) {
    snprintf(err, err_size, "out of memory");
    return -3;
  }
  /* The policy wants one workflow at least; a state that names none has
   * no record that could use it. */
  size_t num = st->wf_num > 0 ? st->wf_num : 1;
  st->names = calloc(num, sizeof(*st->names));
  st->persist = calloc(num, sizeof(*st->persist));
  st->policy_wf = calloc(num, sizeof(*st->policy_wf));
  if (st->names == NULL || st->persist == NULL || st->policy_wf == NULL) {
    snprintf(err, err_size, "out of memory");
    return -3;
  }
  static char none[] = "";
  for (size_t i = 0; i < num; i++) {
    size_t budget = i < st->wf_num ? st->wf[i].budget_max : 0;
    st->names[i] = i < st->wf_num ? st->wf[i].name : none;
    st->persist[i] = true;
    /* Room for the budget window as recorded; nothing else of a
     * workflow's config matters to a policy that only holds runs. */
    st->policy_wf[i] = (wdr_policy_wf_t){
        .max_attempts = 1,
        .retry_interval_ms = 1000,
        .max_retry_interval_ms = 1000,
        .max_reruns_per_hour = budget < INT_MAX ? (int)budget : INT_MAX,
        .track = true};
  }
  st->policy = wdr_policy_create(&(wdr_policy_cfg_t){.wf = st->policy_wf,
                                                     .wf_num = num,
                                                     .retention_ms = 1,
                                                     .max_runs = UINT32_MAX / 4,
                                                     .async_poll_ms = 1,
                                                     .async_timeout_ms = 1,
                                                     .verbatim = true});
  if (st->policy == NULL) {
    snprintf(err, err_size, "out of memory");
    return -3;
  }
  int status = wdr_state_load(snapshot, snapshot_len, journals, journal_lens,
                              journals_num, st->policy, st->names, num, now_ms,
                              &st->stats, err, err_size);
  /* Every workflow named has a place and the table has no bound worth
   * the name: a run left out would be missing from list, and from the
   * snapshot forget writes. */
  if (status == 0 &&
      (st->stats.unknown_workflow > 0 || st->stats.rejected > 0)) {
    snprintf(err, err_size, "%zu record(s) could not be placed",
             st->stats.unknown_workflow + st->stats.rejected);
    status = -1;
  }
  return status;
}

void wdr_statetool_free(wdr_statetool_state_t *st) {
  wdr_policy_destroy(st->policy);
  wdr_state_workflows_free(st->wf, st->wf_num);
  free(st->names);
  free(st->persist);
  free(st->policy_wf);
  *st = (wdr_statetool_state_t){0};
}

/* --- looking up a run ----------------------------------------------------- */

int wdr_statetool_find(const wdr_statetool_state_t *st, const char *id,
                       const char *workflow, const wdr_run_t **ret, char *err,
                       size_t err_size) {
  *ret = NULL;
  size_t found = 0, len = 0;
  err[0] = '\0';
  for (size_t i = 0; i < wdr_policy_runs_num(st->policy); i++) {
    const wdr_run_t *r = wdr_policy_run_at(st->policy, i);
    if (r->wf >= st->wf_num || !wdr_cid_eq(&r->execution_id, id) ||
        (workflow != NULL && strcmp(st->names[r->wf], workflow) != 0))
      continue;
    *ret = r;
    found++;
    /* Names the workflows, as far as err holds them. */
    char name[WDR_ID_MAX];
    wdr_text_copy(name, sizeof(name), st->names[r->wf]);
    if (len < err_size) {
      int n = snprintf(err + len, err_size - len, "%s\"%s\"",
                       found > 1 ? ", " : "", name);
      len += n > 0 ? (size_t)n : 0;
    }
  }
  if (found == 1) {
    err[0] = '\0';
    return 0;
  }
  if (found == 0) {
    if (workflow != NULL)
      snprintf(err, err_size, "no run \"%s\" of workflow \"%s\"", id, workflow);
    else
      snprintf(err, err_size, "no run \"%s\"", id);
    return 1;
  }
  *ret = NULL;
  /* err holds the names: say what they are. */
  char *names = strdup(err);
  snprintf(err, err_size,
           "run \"%s\" is there under %zu workflows (%s): choose one with -w",
           id, found, names != NULL ? names : "");
  free(names);
  return 2;
}

/* --- the pieces of a row -------------------------------------------------- */

/* The time of a run's next job, when it waits for one; 0 otherwise. */
static int64_t next_due(const wdr_run_t *r) {
  switch (r->state) {
  case WDR_RUN_SCHEDULED:
  case WDR_RUN_VERIFY:
  case WDR_RUN_ASYNC:
  case WDR_RUN_FOLLOW:
    return r->next_at_ms;
  default:
    return 0;
  }
}

/* "2026-12-03T07:01:02Z", with ".345" before the Z when ms is true; ""
 * for a time of 0 (none). */
static void iso_time(int64_t t_ms, bool ms, char *buf, size_t size) {
  buf[0] = '\0';
  if (t_ms <= 0)
    return;
  time_t s = (time_t)(t_ms / 1000);
  struct tm tm;
  char base[32];
  if (gmtime_r(&s, &tm) == NULL ||
      strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
    return;
  if (ms)
    snprintf(buf, size, "%s.%03dZ", base, (int)(t_ms % 1000));
  else
    snprintf(buf, size, "%sZ", base);
}

/* Seconds from now to t: a time to come rounded up ("in 1 s" until it
 * is due), a past one as whole seconds ago (negative). */
static long long seconds_from(int64_t now_ms, int64_t t_ms) {
  int64_t d = t_ms - now_ms;
  return d >= 0 ? (long long)((d + 999) / 1000) : -(long long)((-d) / 1000);
}

/* "<ISO> (in N s)", "<ISO> (due)" or "<ISO> (N s ago)" for a time in the
 * past; "-" for none. due: a time something waits for (else "ago"). */
static void when(int64_t t_ms, int64_t now_ms, bool due, bool ms, char *buf,
                 size_t size) {
  char iso[48];
  iso_time(t_ms, ms, iso, sizeof(iso));
  if (iso[0] == '\0') {
    snprintf(buf, size, "-");
    return;
  }
  long long s = seconds_from(now_ms, t_ms);
  if (s > 0)
    snprintf(buf, size, "%s (in %lld s)", iso, s);
  else if (due)
    snprintf(buf, size, "%s (due)", iso);
  else
    snprintf(buf, size, "%s (%lld s ago)", iso, -s);
}

/* Text for a terminal: control characters become spaces (the state is
 * read from a file: it may hold anything a JSON string can); "-" for "".
 * Returns a heap copy, or NULL when memory ran out. */
static char *shown(const char *s) {
  if (s == NULL || s[0] == '\0')
    return strdup("-");
  size_t n = strlen(s) + 1;
  char *out = malloc(n);
  if (out != NULL)
    wdr_text_copy(out, n, s);
  return out;
}

/* Characters (not bytes) of UTF-8 text, for aligning columns. */
static size_t width(const char *s) {
  size_t w = 0;
  for (; *s != '\0'; s++)
    w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

static int pad(wdr_buf_t *out, const char *s, size_t w, bool last) {
  if (wdr_buf_append_str(out, s) != 0)
    return -1;
  if (last)
    return wdr_buf_append(out, "\n", 1);
  for (size_t n = width(s); n < w + 2; n++)
    if (wdr_buf_append(out, " ", 1) != 0)
      return -1;
  return 0;
}

/* --- list ----------------------------------------------------------------- */

typedef struct {
  const wdr_run_t *r;
  size_t id; /* offset of its id in the ids buffer */
} row_t;

typedef struct {
  const char *ids;
} sort_ctx_t;

static int cmp_row(const void *a, const void *b, void *arg) {
  const row_t *x = a, *y = b;
  const sort_ctx_t *c = arg;
  /* Workflows are numbered in name order (wdr_state_workflows). */
  if (x->r->wf != y->r->wf)
    return x->r->wf < y->r->wf ? -1 : 1;
  return strcmp(c->ids + x->id, c->ids + y->id);
}

/* The runs (of workflow, unless NULL), sorted; *ids holds their ids
 * (NUL-separated). */
static row_t *sorted_rows(const wdr_statetool_state_t *st, const char *workflow,
                          wdr_buf_t *ids, size_t *ret_num) {
  size_t all = wdr_policy_runs_num(st->policy), num = 0;
  row_t *rows = malloc((all > 0 ? all : 1) * sizeof(*rows));
  if (rows == NULL)
    return NULL;
  for (size_t i = 0; i < all; i++) {
    char buf[WDR_ID_MAX];
    const wdr_run_t *r = wdr_policy_run_at(st->policy, i);
    if (workflow != NULL && strcmp(st->names[r->wf], workflow) != 0)
      continue;
    rows[num] = (row_t){.r = r, .id = ids->len};
    const char *id = wdr_cid_str(&r->execution_id, buf);
    if (wdr_buf_append(ids, id, strlen(id) + 1) != 0) {
      free(rows);
      return NULL;
    }
    num++;
  }
  qsort_r(rows, num, sizeof(*rows), cmp_row,
          &(sort_ctx_t){.ids = wdr_buf_str(ids)});
  *ret_num = num;
  return rows;
}

#define LIST_COLUMNS 7

static const char *const list_heads[LIST_COLUMNS] = {
    "WORKFLOW",     "RUN",        "STATE",       "ATTEMPTS",
    "LAST ASYNCID", "LAST ERROR", "NEXT ATTEMPT"};

/* The cells of one row, each a heap copy ("-" for nothing). */
static int row_cells(const wdr_statetool_state_t *st, const row_t *row,
                     const char *ids, int64_t now_ms,
                     char *cells[LIST_COLUMNS]) {
  const wdr_run_t *r = row->r;
  char async_id[WDR_ID_MAX], attempts[16], next[96];
  snprintf(attempts, sizeof(attempts), "%d", (int)r->attempts);
  when(next_due(r), now_ms, true, false, next, sizeof(next));
  cells[0] = shown(st->names[r->wf]);
  cells[1] = shown(ids + row->id);
  cells[2] = strdup(wdr_run_state_name(r->state));
  cells[3] = strdup(attempts);
  cells[4] = shown(wdr_cid_str(&r->last_async_id, async_id));
  cells[5] = shown(r->last_error);
  cells[6] = strdup(next);
  for (int c = 0; c < LIST_COLUMNS; c++)
    if (cells[c] == NULL)
      return -1;
  return 0;
}

static void cells_free(char *cells[LIST_COLUMNS]) {
  for (int c = 0; c < LIST_COLUMNS; c++) {
    free(cells[c]);
    cells[c] = NULL;
  }
}

/* Two passes over the rows: the widths of the columns, then the text. */
static int list_text(const wdr_statetool_state_t *st, const row_t *rows,
                     size_t num, const char *ids, int64_t now_ms,
                     wdr_buf_t *out) {
  size_t w[LIST_COLUMNS];
  char *cells[LIST_COLUMNS] = {0};
  for (int c = 0; c < LIST_COLUMNS; c++)
    w[c] = width(list_heads[c]);
  for (size_t i = 0; i < num; i++) {
    int status = row_cells(st, &rows[i], ids, now_ms, cells);
    for (int c = 0; status == 0 && c < LIST_COLUMNS; c++)
      if (width(cells[c]) > w[c])
        w[c] = width(cells[c]);
    cells_free(cells);
    if (status != 0)
      return -1;
  }
  for (int c = 0; c < LIST_COLUMNS; c++)
    if (pad(out, list_heads[c], w[c], c == LIST_COLUMNS - 1) != 0)
      return -1;
  for (size_t i = 0; i < num; i++) {
    int status = row_cells(st, &rows[i], ids, now_ms, cells);
    for (int c = 0; status == 0 && c < LIST_COLUMNS; c++)
      status = pad(out, cells[c], w[c], c == LIST_COLUMNS - 1);
    cells_free(cells);
    if (status != 0)
      return -1;
  }
  return 0;
}

/* --- JSON ----------------------------------------------------------------- */

/* "key": text, or null when text is empty. */
static int gen_opt_text(yajl_gen g, const char *key, const char *text) {
  if (text != NULL && text[0] != '\0')
    return wdr_json_gen_text(g, key, text);
  return wdr_json_gen_str(g, key) != 0 || yajl_gen_null(g) != yajl_gen_status_ok
             ? -1
             : 0;
}

/* "<key>_ms": t, "<key>": ISO text, each null when t is 0; with in_s,
 * also "<key>_in_s": seconds from now. */
static int gen_time(yajl_gen g, const char *key, int64_t t_ms, int64_t now_ms,
                    bool in_s) {
  char name[64], iso[48];
  iso_time(t_ms, true, iso, sizeof(iso));
  snprintf(name, sizeof(name), "%s_ms", key);
  int status =
      t_ms > 0 ? wdr_json_gen_int(g, name, t_ms) : gen_opt_text(g, name, NULL);
  status |= gen_opt_text(g, key, iso);
  if (in_s) {
    snprintf(name, sizeof(name), "%s_in_s", key);
    status |= t_ms > 0 ? wdr_json_gen_int(g, name, seconds_from(now_ms, t_ms))
                       : gen_opt_text(g, name, NULL);
  }
  return status != 0 ? -1 : 0;
}

static int gen_row(yajl_gen g, const wdr_statetool_state_t *st,
                   const wdr_run_t *r, int64_t now_ms) {
  char id[WDR_ID_MAX], async_id[WDR_ID_MAX];
  if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_text(g, "workflow", st->names[r->wf]) != 0 ||
      wdr_json_gen_text(g, "execution_id", wdr_cid_str(&r->execution_id, id)) !=
          0 ||
      wdr_json_gen_text(g, "state", wdr_run_state_name(r->state)) != 0 ||
      wdr_json_gen_int(g, "attempts", r->attempts) != 0 ||
      gen_opt_text(g, "last_async_id",
                   wdr_cid_str(&r->last_async_id, async_id)) != 0 ||
      gen_opt_text(g, "last_error", r->last_error) != 0 ||
      gen_time(g, "next_at", next_due(r), now_ms, true) != 0)
    return -1;
  return 0; /* the caller adds the rest, or closes the map */
}

typedef struct {
  const wdr_statetool_state_t *st;
  const row_t *rows;
  size_t num;
  int64_t now_ms;
} list_args_t;

static int fill_list(yajl_gen g, const void *arg) {
  const list_args_t *a = arg;
  if (yajl_gen_array_open(g) != yajl_gen_status_ok)
    return -1;
  for (size_t i = 0; i < a->num; i++)
    if (gen_row(g, a->st, a->rows[i].r, a->now_ms) != 0 ||
        yajl_gen_map_close(g) != yajl_gen_status_ok)
      return -1;
  return yajl_gen_array_close(g) == yajl_gen_status_ok ? 0 : -1;
}

int wdr_statetool_list(const wdr_statetool_state_t *st, const char *workflow,
                       bool json, int64_t now_ms, wdr_buf_t *out) {
  wdr_buf_t ids;
  wdr_buf_init(&ids, WDR_STATE_MAX);
  size_t num = 0;
  int status = -1;
  row_t *rows = sorted_rows(st, workflow, &ids, &num);
  if (rows == NULL)
    goto cleanup;
  if (json) {
    list_args_t a = {st, rows, num, now_ms};
    status = wdr_json_generate(out, fill_list, &a) == 0 &&
                     wdr_buf_append(out, "\n", 1) == 0
                 ? 0
                 : -1;
  } else
    status = list_text(st, rows, num, wdr_buf_str(&ids), now_ms, out);
cleanup:
  free(rows);
  wdr_buf_free(&ids, false);
  return status;
}

/* --- show ----------------------------------------------------------------- */

/* What is out while IN_FLIGHT; "" otherwise. */
static const char *in_flight_of(const wdr_run_t *r) {
  return r->state == WDR_RUN_IN_FLIGHT ? wdr_state_job_name(r->in_flight) : "";
}

/* The workflow's budget window: reruns sent within the hour before now,
 * and the oldest of them (0: none). */
static size_t budget_in_hour(const wdr_statetool_state_t *st, size_t wf,
                             int64_t now_ms, int64_t *ret_oldest) {
  size_t n = 0, num = 0;
  const int64_t *t = wdr_policy_budget(st->policy, wf, &num);
  *ret_oldest = 0;
  for (size_t i = 0; i < num; i++)
    if (t[i] > now_ms - 3600 * 1000LL) {
      if (n == 0 || t[i] < *ret_oldest)
        *ret_oldest = t[i];
      n++;
    }
  return n;
}

typedef struct {
  const char *key;
  int64_t t_ms;
  bool due;
} time_field_t;

#define SHOW_TIMES 6

static void show_times(const wdr_run_t *r, time_field_t t[SHOW_TIMES]) {
  t[0] = (time_field_t){"first_signal", r->first_signal_ms, false};
  t[1] = (time_field_t){"last_signal", r->last_signal_ms, false};
  t[2] = (time_field_t){"last_try", r->last_try_ms, false};
  t[3] = (time_field_t){"next_at", next_due(r), true};
  t[4] = (time_field_t){"updated", r->updated_ms, false};
  t[5] = (time_field_t){"track_since", r->track_ms, false};
}

typedef struct {
  const wdr_statetool_state_t *st;
  const wdr_run_t *r;
  int64_t now_ms;
} show_args_t;

static int fill_show(yajl_gen g, const void *arg) {
  const show_args_t *a = arg;
  const wdr_run_t *r = a->r;
  time_field_t t[SHOW_TIMES];
  int64_t oldest = 0;
  size_t sent = budget_in_hour(a->st, r->wf, a->now_ms, &oldest);
  show_times(r, t);
  if (gen_row(g, a->st, r, a->now_ms) != 0 ||
      gen_opt_text(g, "in_flight", in_flight_of(r)) != 0 ||
      wdr_json_gen_int(g, "tries", r->tries) != 0 ||
      wdr_json_gen_int(g, "request_retries", r->request_retries) != 0 ||
      wdr_json_gen_int(g, "verify_tries", r->verify_tries) != 0 ||
      gen_opt_text(g, "async_status", r->async_status) != 0 ||
      wdr_json_gen_int(g, "track_reads", r->track_reads) != 0 ||
      wdr_json_gen_bool(g, "resigned", r->resigned) != 0 ||
      wdr_json_gen_bool(g, "gave_up", r->gave_up) != 0 ||
      wdr_json_gen_bool(g, "had_accepted", r->had_accepted) != 0 ||
      wdr_json_gen_bool(g, "seen_active", r->seen_active) != 0)
    return -1;
  /* The due time (next_at) is in the row already, with its "in" field. */
  for (int i = 0; i < SHOW_TIMES; i++)
    if (!t[i].due && gen_time(g, t[i].key, t[i].t_ms, a->now_ms, false) != 0)
      return -1;
  if (wdr_json_gen_int(g, "budget_sent_last_hour", (long long)sent) != 0 ||
      gen_time(g, "budget_oldest", oldest, a->now_ms, false) != 0)
    return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

static int show_line(wdr_buf_t *out, const char *key, const char *value) {
  char *v = shown(value);
  int status = v != NULL ? wdr_buf_printf(out, "%s: %s\n", key, v) : -1;
  free(v);
  return status;
}

static int show_int(wdr_buf_t *out, const char *key, long long value) {
  return wdr_buf_printf(out, "%s: %lld\n", key, value);
}

static int show_bool(wdr_buf_t *out, const char *key, bool value) {
  return wdr_buf_printf(out, "%s: %s\n", key, value ? "true" : "false");
}

static int show_text(const wdr_statetool_state_t *st, const wdr_run_t *r,
                     int64_t now_ms, wdr_buf_t *out) {
  char id[WDR_ID_MAX], async_id[WDR_ID_MAX], w[96];
  time_field_t t[SHOW_TIMES];
  int64_t oldest = 0;
  size_t sent = budget_in_hour(st, r->wf, now_ms, &oldest);
  show_times(r, t);
  if (show_line(out, "workflow", st->names[r->wf]) != 0 ||
      show_line(out, "execution_id", wdr_cid_str(&r->execution_id, id)) != 0 ||
      show_line(out, "state", wdr_run_state_name(r->state)) != 0 ||
      show_line(out, "in_flight", in_flight_of(r)) != 0 ||
      show_int(out, "attempts", r->attempts) != 0 ||
      show_int(out, "tries", r->tries) != 0 ||
      show_int(out, "request_retries", r->request_retries) != 0 ||
      show_int(out, "verify_tries", r->verify_tries) != 0 ||
      show_line(out, "last_async_id",
                wdr_cid_str(&r->last_async_id, async_id)) != 0 ||
      show_line(out, "last_error", r->last_error) != 0 ||
      show_line(out, "async_status", r->async_status) != 0 ||
      show_int(out, "track_reads", r->track_reads) != 0 ||
      show_bool(out, "resigned", r->resigned) != 0 ||
      show_bool(out, "gave_up", r->gave_up) != 0 ||
      show_bool(out, "had_accepted", r->had_accepted) != 0 ||
      show_bool(out, "seen_active", r->seen_active) != 0)
    return -1;
  for (int i = 0; i < SHOW_TIMES; i++) {
    when(t[i].t_ms, now_ms, t[i].due, true, w, sizeof(w));
    if (show_line(out, t[i].key, w) != 0)
      return -1;
  }
  when(oldest, now_ms, false, true, w, sizeof(w));
  if (show_int(out, "budget_sent_last_hour", (long long)sent) != 0 ||
      show_line(out, "budget_oldest", w) != 0)
    return -1;
  return 0;
}

int wdr_statetool_show(const wdr_statetool_state_t *st, const wdr_run_t *r,
                       bool json, int64_t now_ms, wdr_buf_t *out) {
  if (!json)
    return show_text(st, r, now_ms, out);
  show_args_t a = {st, r, now_ms};
  return wdr_json_generate(out, fill_show, &a) == 0 &&
                 wdr_buf_append(out, "\n", 1) == 0
             ? 0
             : -1;
}

/* --- forget --------------------------------------------------------------- */

/* The config digests recorded in a snapshot's header (borrowed from root,
 * which the caller frees): names and digests of c, NULL/0 when none. */
static int header_config(const char *snapshot, size_t len, yajl_val *ret_root,
                         wdr_state_config_t *c, char ***ret_names,
                         const char ***ret_digests) {
  static const char *p_config[] = {"config", NULL};
  *ret_root = NULL;
  *c = (wdr_state_config_t){0};
  *ret_names = NULL;
  *ret_digests = NULL;
  const char *nl = snapshot != NULL ? memchr(snapshot, '\n', len) : NULL;
  if (nl == NULL)
    return 0;
  char *line = strndup(snapshot, (size_t)(nl - snapshot));
  if (line == NULL)
    return -1;
  yajl_val root = wdr_json_tree_parse(line, (size_t)(nl - snapshot),
                                      WDR_JSON_DEPTH_MAX, NULL, 0);
  free(line);
  yajl_val config = root != NULL && YAJL_IS_OBJECT(root)
                        ? yajl_tree_get(root, p_config, yajl_t_object)
                        : NULL;
  *ret_root = root;
  if (config == NULL || YAJL_GET_OBJECT(config)->len == 0)
    return 0;
  size_t n = YAJL_GET_OBJECT(config)->len;
  char **names = calloc(n, sizeof(*names));
  const char **digests = calloc(n, sizeof(*digests));
  if (names == NULL || digests == NULL) {
    free(names);
    free(digests);
    return -1;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    yajl_val v = YAJL_GET_OBJECT(config)->values[i];
    if (!YAJL_IS_STRING(v))
      continue;
    names[k] = (char *)YAJL_GET_OBJECT(config)->keys[i];
    digests[k++] = YAJL_GET_STRING(v);
  }
  *c = (wdr_state_config_t){.names = names, .digests = digests, .num = k};
  *ret_names = names;
  *ret_digests = digests;
  return 0;
}

int wdr_statetool_forget(wdr_statetool_state_t *st, const wdr_run_t *r,
                         const char *old_snapshot, size_t old_len,
                         int64_t now_ms, wdr_buf_t *header_out,
                         wdr_buf_t *journal_out) {
  char id[WDR_ID_MAX], buf[WDR_ID_MAX];
  yajl_val root = NULL;
  wdr_state_config_t config;
  char **names = NULL;
  const char **digests = NULL;
  int status = -1;
  if (header_config(old_snapshot, old_len, &root, &config, &names, &digests) !=
      0)
    goto cleanup;
  /* wdr_cid_str may hand back the run's own copy, which forget frees. */
  snprintf(id, sizeof(id), "%s", wdr_cid_str(&r->execution_id, buf));
  wdr_policy_forget(st->policy, r->wf, id);
  /* Above every generation read: the journals still on disk are then
   * older than the new snapshot, and a load ignores them. */
  uint64_t gen = st->stats.gen + 1;
  if (wdr_state_snapshot_header(gen, now_ms, config.num > 0 ? &config : NULL,
                                header_out) != 0 ||
      wdr_state_journal_header(gen, now_ms, journal_out) != 0)
    goto cleanup;
  status = 0;
cleanup:
  yajl_tree_free(root);
  free(names);
  free(digests);
  return status;
}

int wdr_statetool_snapshot_part(const wdr_statetool_state_t *st, size_t *cursor,
                                size_t max_runs, wdr_buf_t *out,
                                bool *ret_last) {
  return wdr_state_serialize_part(st->policy, st->names, st->persist,
                                  st->wf_num > 0 ? st->wf_num : 1, cursor,
                                  max_runs, out, ret_last);
}

typedef struct {
  const char *id, *workflow;
} forgotten_args_t;

static int fill_forgotten(yajl_gen g, const void *arg) {
  const forgotten_args_t *a = arg;
  if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_str(g, "forgotten") != 0 ||
      yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_text(g, "workflow", a->workflow) != 0 ||
      wdr_json_gen_text(g, "execution_id", a->id) != 0 ||
      yajl_gen_map_close(g) != yajl_gen_status_ok)
    return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

int wdr_statetool_forgotten(const char *id, const char *workflow, bool json,
                            wdr_buf_t *out) {
  if (json) {
    forgotten_args_t a = {id, workflow};
    return wdr_json_generate(out, fill_forgotten, &a) == 0 &&
                   wdr_buf_append(out, "\n", 1) == 0
               ? 0
               : -1;
  }
  char *i = shown(id), *w = shown(workflow);
  int status = i != NULL && w != NULL
                   ? wdr_buf_printf(out, "forgot run %s of workflow %s\n", i, w)
                   : -1;
  free(i);
  free(w);
  return status;
}

/* --- a consistent read ---------------------------------------------------- */

static bool same_file(const wdr_state_file_id_t *a,
                      const wdr_state_file_id_t *b) {
  return a->exists == b->exists &&
         (!a->exists || (a->dev == b->dev && a->ino == b->ino));
}

bool wdr_statetool_consistent(const wdr_state_file_id_t *read,
                              const wdr_state_file_id_t *now) {
  if (!read[WDR_STATETOOL_SNAPSHOT].exists)
    return false;
  for (int i = 0; i < WDR_STATETOOL_FILES; i++)
    if (!same_file(&read[i], &now[i]))
      return false;
  /* Without a next journal, the journal read is a prefix of what is there
   * now: an earlier state, whole. With one, records appended to the
   * journal after it was read came before the next journal began: in
   * neither copy. */
  const wdr_state_file_id_t *j = &read[WDR_STATETOOL_JOURNAL];
  return !read[WDR_STATETOOL_NEXT].exists || !j->exists ||
         now[WDR_STATETOOL_JOURNAL].size == j->size;
}
