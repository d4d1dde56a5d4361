/* wdr_statetool: the state tool's pure part. States made by the policy as
 * the plugin makes them (signals, results), written by wdr_state, loaded
 * without a config; list and show as text (exact) and JSON (parsed back);
 * the lookup; forget (gone after a reload, the rest untouched, journals
 * applied first and ignored afterwards); when a read without the lock was
 * consistent. */
#include "run_util.h"
#include "testutil.h"

#include "wdr_json.h"
#include "wdr_policy_store.h"
#include "wdr_statetool.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define MIN 60000LL
#define HOUR (60 * MIN)

static wdr_policy_wf_t g_wf[2];
static char *g_names[] = {"etl", "hourly"};
static bool g_persist[] = {true, true};
static wdr_policy_t *g_p;
static wdr_buf_t g_snap, g_out;
static wdr_statetool_state_t g_st;

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < 2; i++)
    g_wf[i] = (wdr_policy_wf_t){.max_attempts = 3,
                                .retry_interval_ms = MIN,
                                .max_retry_interval_ms = HOUR,
                                .max_reruns_per_hour = 10};
  g_p = wdr_policy_create(&(wdr_policy_cfg_t){.wf = g_wf,
                                              .wf_num = 2,
                                              .max_request_retries = 3,
                                              .retention_ms = HOUR,
                                              .max_runs = 100,
                                              .async_poll_ms = 5000,
                                              .async_timeout_ms = HOUR});
  assert_non_null(g_p);
  wdr_buf_init(&g_snap, WDR_STATE_MAX);
  wdr_buf_init(&g_out, WDR_STATE_MAX);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  wdr_policy_destroy(g_p);
  wdr_buf_free(&g_snap, false);
  wdr_buf_free(&g_out, false);
  wdr_statetool_free(&g_st);
  return 0;
}

/* One rerun of run id (workflow wf) at t, accepted with async_id (NULL:
 * refused with error), then (when again) a second failure, scheduled after
 * the backoff. */
static void rerun(size_t wf, const char *id, int64_t t, const char *async_id,
                  const char *error, bool again) {
  wdr_signal_decision_t d = wdr_policy_on_signal(g_p, wf, id, t, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  wdr_policy_job_t job;
  assert_true(wdr_policy_take_due(g_p, t, 0, &job, NULL));
  assert_string_equal(job.execution_id, id);
  wdr_policy_on_result(g_p, &job,
                       async_id != NULL ? WDR_OUTCOME_ACCEPTED
                                        : WDR_OUTCOME_PERMANENT,
                       async_id, error, t + 100, 0);
  if (again)
    assert_int_equal(wdr_policy_on_signal(g_p, wf, id, t + 1000, 0).verdict,
                     WDR_SIGNAL_SCHEDULED);
}

/* The usual state: etl/run-a accepted and failed again (scheduled), etl/
 * run-b refused for good, hourly/run-a accepted; a budget window. */
static void fill(void) {
  rerun(0, "run-b", T0, NULL, "InvalidParameter.WorkflowNotFound", false);
  rerun(0, "run-a", T0 + 10, "async-1", NULL, true);
  rerun(1, "run-a", T0 + 20, "0fae8078-a7a7-4b67-afd1-8bf18e068dda", NULL,
        false);
}

static void serialize(uint64_t gen) {
  wdr_buf_reset(&g_snap);
  assert_int_equal(
      wdr_state_serialize(g_p, g_names, g_persist, 2, T0, gen, &g_snap), 0);
}

/* Loads text (and journals) into g_st, which must succeed. */
static void load(const char *text, const char *journal, const char *next) {
  const char *journals[] = {journal, next};
  const size_t lens[] = {journal != NULL ? strlen(journal) : 0,
                         next != NULL ? strlen(next) : 0};
  char err[256] = "";
  wdr_statetool_free(&g_st);
  if (wdr_statetool_load(text, strlen(text), journals, lens, 2, T0 + 5000,
                         &g_st, err, sizeof(err)) != 0)
    fail_msg("load failed: %s\n%s", err, text);
}

static const wdr_run_t *find_ok(const char *id, const char *workflow) {
  const wdr_run_t *r = NULL;
  char err[256] = "";
  if (wdr_statetool_find(&g_st, id, workflow, &r, err, sizeof(err)) != 0)
    fail_msg("find %s: %s", id, err);
  return r;
}

static yajl_val parse_json(const char *text) {
  char why[128] = "";
  yajl_val v = wdr_json_tree_parse(text, strlen(text), WDR_JSON_DEPTH_MAX, why,
                                   sizeof(why));
  if (v == NULL)
    fail_msg("not JSON (%s): %s", why, text);
  return v;
}

static const char *j_text(yajl_val obj, const char *key) {
  const char *path[] = {key, NULL};
  yajl_val v = yajl_tree_get(obj, path, yajl_t_any);
  if (v == NULL)
    fail_msg("no \"%s\"", key);
  return YAJL_IS_NULL(v) ? NULL : YAJL_GET_STRING(v);
}

static long long j_int(yajl_val obj, const char *key) {
  const char *path[] = {key, NULL};
  yajl_val v = yajl_tree_get(obj, path, yajl_t_number);
  if (v == NULL || !YAJL_IS_INTEGER(v))
    fail_msg("no integer \"%s\"", key);
  return YAJL_GET_INTEGER(v);
}

static bool j_null(yajl_val obj, const char *key) {
  const char *path[] = {key, NULL};
  yajl_val v = yajl_tree_get(obj, path, yajl_t_any);
  return v != NULL && YAJL_IS_NULL(v);
}

/* --- list ---------------------------------------------------------------- */

static void test_list_text(void **state) {
  (void)state;
  fill();
  serialize(1);
  load(wdr_buf_str(&g_snap), NULL, NULL);
  assert_int_equal(g_st.wf_num, 2);
  assert_int_equal(wdr_statetool_list(&g_st, NULL, false, T0 + 5000, &g_out),
                   0);
  /* run-a failed again at T0 + 1010: due after the backoff of one minute
   * from the first attempt's start (T0 + 10), 55.01 s from now. */
  assert_string_equal(
      wdr_buf_str(&g_out),
      "WORKFLOW  RUN    STATE      ATTEMPTS  LAST ASYNCID                    "
      "      LAST ERROR                         NEXT ATTEMPT\n"
      "etl       run-a  scheduled  1         async-1                         "
      "      -                                  2026-01-01T00:01:00Z (in 56 "
      "s)\n"
      "etl       run-b  permanent  0         -                               "
      "      InvalidParameter.WorkflowNotFound  -\n"
      "hourly    run-a  idle       1         0fae8078-a7a7-4b67-afd1-"
      "8bf18e068dda  -                                  -\n");

  /* Only one workflow's. */
  wdr_buf_reset(&g_out);
  assert_int_equal(
      wdr_statetool_list(&g_st, "hourly", false, T0 + 5000, &g_out), 0);
  assert_non_null(strstr(wdr_buf_str(&g_out), "hourly    run-a"));
  assert_null(strstr(wdr_buf_str(&g_out), "etl"));

  /* Past its time, a run waiting for its turn is "due". */
  wdr_buf_reset(&g_out);
  assert_int_equal(
      wdr_statetool_list(&g_st, "etl", false, T0 + 2 * MIN, &g_out), 0);
  assert_non_null(strstr(wdr_buf_str(&g_out), "2026-01-01T00:01:00Z (due)"));
}

static void test_list_json(void **state) {
  (void)state;
  fill();
  serialize(1);
  load(wdr_buf_str(&g_snap), NULL, NULL);
  assert_int_equal(wdr_statetool_list(&g_st, NULL, true, T0 + 5000, &g_out), 0);
  yajl_val root = parse_json(wdr_buf_str(&g_out));
  assert_true(YAJL_IS_ARRAY(root));
  assert_int_equal(YAJL_GET_ARRAY(root)->len, 3);
  yajl_val a = YAJL_GET_ARRAY(root)->values[0];
  assert_string_equal(j_text(a, "workflow"), "etl");
  assert_string_equal(j_text(a, "execution_id"), "run-a");
  assert_string_equal(j_text(a, "state"), "scheduled");
  assert_int_equal(j_int(a, "attempts"), 1);
  assert_string_equal(j_text(a, "last_async_id"), "async-1");
  assert_true(j_null(a, "last_error"));
  assert_int_equal(j_int(a, "next_at_ms"), T0 + MIN + 10);
  assert_string_equal(j_text(a, "next_at"), "2026-01-01T00:01:00.010Z");
  assert_int_equal(j_int(a, "next_at_in_s"), 56);
  yajl_val b = YAJL_GET_ARRAY(root)->values[1];
  assert_string_equal(j_text(b, "last_error"),
                      "InvalidParameter.WorkflowNotFound");
  assert_true(j_null(b, "last_async_id"));
  assert_true(j_null(b, "next_at_ms"));
  assert_true(j_null(b, "next_at"));
  yajl_val c = YAJL_GET_ARRAY(root)->values[2];
  assert_string_equal(j_text(c, "workflow"), "hourly");
  yajl_tree_free(root);

  /* Nothing at all: a header row, and []. */
  wdr_statetool_free(&g_st);
  load("{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":1,\"journal\":1}\n",
       NULL, NULL);
  wdr_buf_reset(&g_out);
  assert_int_equal(wdr_statetool_list(&g_st, NULL, true, T0, &g_out), 0);
  assert_string_equal(wdr_buf_str(&g_out), "[]\n");
  wdr_buf_reset(&g_out);
  assert_int_equal(wdr_statetool_list(&g_st, NULL, false, T0, &g_out), 0);
  assert_string_equal(wdr_buf_str(&g_out),
                      "WORKFLOW  RUN  STATE  ATTEMPTS  LAST ASYNCID  LAST "
                      "ERROR  NEXT ATTEMPT\n");
}

/* Text from the file reaches a terminal without its control characters;
 * JSON keeps it exact. */
static void test_control_characters(void **state) {
  (void)state;
  const char *text =
      "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":1,\"journal\":1}\n"
      "{\"run\":{\"workflow\":\"w\\u001b[31m\",\"execution_id\":\"r\","
      "\"state\":\"idle\",\"in_flight\":\"rerun\",\"attempts\":0,\"tries\":0,"
      "\"request_retries\":0,\"verify_tries\":0,\"resigned\":false,"
      "\"gave_up\":false,\"first_signal_ms\":0,\"last_signal_ms\":0,"
      "\"last_try_ms\":0,\"next_at_ms\":0,\"updated_ms\":0,"
      "\"last_async_id\":\"\",\"last_error\":\"Bad\\nCode\"}}\n";
  load(text, NULL, NULL);
  assert_int_equal(wdr_statetool_list(&g_st, NULL, false, T0, &g_out), 0);
  assert_null(strchr(wdr_buf_str(&g_out), '\033'));
  assert_non_null(strstr(wdr_buf_str(&g_out), "w [31m"));
  assert_non_null(strstr(wdr_buf_str(&g_out), "Bad Code"));
  wdr_buf_reset(&g_out);
  assert_int_equal(
      wdr_statetool_show(&g_st, find_ok("r", NULL), false, T0, &g_out), 0);
  assert_null(strchr(wdr_buf_str(&g_out), '\033'));
  assert_non_null(strstr(wdr_buf_str(&g_out), "last_error: Bad Code\n"));
  wdr_buf_reset(&g_out);
  assert_int_equal(wdr_statetool_list(&g_st, NULL, true, T0, &g_out), 0);
  yajl_val root = parse_json(wdr_buf_str(&g_out));
  assert_string_equal(j_text(YAJL_GET_ARRAY(root)->values[0], "workflow"),
                      "w\033[31m");
  yajl_tree_free(root);
}

/* --- show ---------------------------------------------------------------- */

static void test_show(void **state) {
  (void)state;
  fill();
  wdr_policy_restore_budget(g_p, 0, T0 - 2 * HOUR); /* out of the hour */
  wdr_policy_restore_budget(g_p, 0, T0 - 1000);
  serialize(1);
  load(wdr_buf_str(&g_snap), NULL, NULL);
  const wdr_run_t *r = find_ok("run-a", "etl");
  assert_int_equal(wdr_statetool_show(&g_st, r, false, T0 + 5000, &g_out), 0);
  assert_string_equal(wdr_buf_str(&g_out),
                      "workflow: etl\n"
                      "execution_id: run-a\n"
                      "state: scheduled\n"
                      "in_flight: -\n"
                      "attempts: 1\n"
                      "tries: 2\n"
                      "request_retries: 0\n"
                      "verify_tries: 0\n"
                      "last_async_id: async-1\n"
                      "last_error: -\n"
                      "async_status: -\n"
                      "track_reads: 0\n"
                      "resigned: false\n"
                      "gave_up: false\n"
                      "had_accepted: true\n"
                      "seen_active: false\n"
                      "first_signal: 2026-01-01T00:00:00.010Z (4 s ago)\n"
                      "last_signal: 2026-01-01T00:00:01.010Z (3 s ago)\n"
                      "last_try: 2026-01-01T00:01:00.010Z (in 56 s)\n"
                      "next_at: 2026-01-01T00:01:00.010Z (in 56 s)\n"
                      "updated: 2026-01-01T00:00:01.010Z (3 s ago)\n"
                      "track_since: -\n"
                      "budget_sent_last_hour: 3\n"
                      "budget_oldest: 2025-12-31T23:59:59.000Z (6 s ago)\n");

  wdr_buf_reset(&g_out);
  assert_int_equal(wdr_statetool_show(&g_st, r, true, T0 + 5000, &g_out), 0);
  yajl_val o = parse_json(wdr_buf_str(&g_out));
  assert_true(YAJL_IS_OBJECT(o));
  assert_string_equal(j_text(o, "execution_id"), "run-a");
  assert_int_equal(j_int(o, "attempts"), 1);
  assert_int_equal(j_int(o, "tries"), 2);
  assert_int_equal(j_int(o, "first_signal_ms"), T0 + 10);
  assert_string_equal(j_text(o, "first_signal"), "2026-01-01T00:00:00.010Z");
  assert_int_equal(j_int(o, "next_at_ms"), T0 + MIN + 10);
  assert_true(j_null(o, "in_flight"));
  assert_true(j_null(o, "track_since_ms"));
  assert_int_equal(j_int(o, "budget_sent_last_hour"), 3);
  const char *path[] = {"had_accepted", NULL};
  assert_true(YAJL_IS_TRUE(yajl_tree_get(o, path, yajl_t_any)));
  yajl_tree_free(o);
}

/* A run in flight when the state was read shows what is out, not what a
 * restart would make of it. */
static void test_show_in_flight(void **state) {
  (void)state;
  assert_int_equal(wdr_policy_on_signal(g_p, 1, "flying", T0, 0).verdict,
                   WDR_SIGNAL_SCHEDULED);
  wdr_policy_job_t job;
  assert_true(wdr_policy_take_due(g_p, T0, 0, &job, NULL));
  serialize(1);
  load(wdr_buf_str(&g_snap), NULL, NULL);
  assert_int_equal(wdr_statetool_show(&g_st, find_ok("flying", NULL), false,
                                      T0 + 5000, &g_out),
                   0);
  assert_non_null(strstr(wdr_buf_str(&g_out), "state: in_flight\n"));
  assert_non_null(strstr(wdr_buf_str(&g_out), "in_flight: rerun\n"));
  assert_non_null(strstr(wdr_buf_str(&g_out), "next_at: -\n"));
}

/* --- find ---------------------------------------------------------------- */

static void test_find(void **state) {
  (void)state;
  fill();
  serialize(1);
  load(wdr_buf_str(&g_snap), NULL, NULL);
  const wdr_run_t *r = NULL;
  char err[256] = "";
  assert_int_equal(
      wdr_statetool_find(&g_st, "run-a", NULL, &r, err, sizeof(err)), 2);
  assert_null(r);
  assert_string_equal(err, "run \"run-a\" is there under 2 workflows "
                           "(\"etl\", \"hourly\"): choose one with -w");
  assert_int_equal(g_st.names[find_ok("run-a", "hourly")->wf][0], 'h');
  assert_int_equal(g_st.names[find_ok("run-b", NULL)->wf][0], 'e');
  assert_int_equal(
      wdr_statetool_find(&g_st, "run-b", "hourly", &r, err, sizeof(err)), 1);
  assert_string_equal(err, "no run \"run-b\" of workflow \"hourly\"");
  assert_int_equal(
      wdr_statetool_find(&g_st, "nope", NULL, &r, err, sizeof(err)), 1);
  assert_string_equal(err, "no run \"nope\"");
}

/* --- load ---------------------------------------------------------------- */

static void test_load_errors(void **state) {
  (void)state;
  char err[256] = "";
  const char *newer =
      "{\"version\":3,\"kind\":\"snapshot\",\"saved_ms\":1,\"journal\":1}\n";
  assert_int_equal(wdr_statetool_load(newer, strlen(newer), NULL, NULL, 0, T0,
                                      &g_st, err, sizeof(err)),
                   -2);
  assert_non_null(strstr(err, "newer version"));
  wdr_statetool_free(&g_st);
  const char *bad = "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":1,"
                    "\"journal\":1}\n{\"run\":{\"workflow\":\"w\"}}\n";
  assert_int_equal(wdr_statetool_load(bad, strlen(bad), NULL, NULL, 0, T0,
                                      &g_st, err, sizeof(err)),
                   -1);
  assert_string_equal(err, "line 2: the run is malformed");
}

/* --- forget -------------------------------------------------------------- */

/* The run's record line as the snapshot holds it. */
static char *record_of(const char *text, const char *workflow, const char *id) {
  char key[256];
  snprintf(key, sizeof(key),
           "{\"run\":{\"workflow\":\"%s\",\"execution_id\":\"%s\"", workflow,
           id);
  const char *at = strstr(text, key);
  if (at == NULL)
    return NULL;
  return strndup(at, strcspn(at, "\n"));
}

static void no_run(void *ctx, const wdr_run_t *r) {
  (void)ctx;
  (void)r;
}
static void no_forget(void *ctx, size_t wf, const char *id) {
  (void)ctx;
  (void)wf;
  (void)id;
}
static void no_budget(void *ctx, size_t wf, const int64_t *t, size_t n) {
  (void)ctx;
  (void)wf;
  (void)t;
  (void)n;
}

static void test_forget(void **state) {
  (void)state;
  fill();
  /* A snapshot of generation 4 with a config recorded, then a journal:
   * hourly/run-a rerun again, and a new run added; and a next journal
   * (a fold cut short) that forgets etl/run-b. */
  const wdr_state_config_t config = {.names = g_names,
                                     .digests =
                                         (const char *[]){"d-etl", "d-hourly"},
                                     .num = 2};
  wdr_buf_reset(&g_snap);
  assert_int_equal(wdr_state_snapshot_header(4, T0, &config, &g_snap), 0);
  size_t cursor = 0;
  bool last = false;
  assert_int_equal(wdr_state_serialize_part(g_p, g_names, g_persist, 2, &cursor,
                                            SIZE_MAX, &g_snap, &last),
                   0);
  wdr_buf_t journal, next;
  wdr_buf_init(&journal, WDR_STATE_MAX);
  wdr_buf_init(&next, WDR_STATE_MAX);
  assert_int_equal(wdr_state_journal_header(4, T0, &journal), 0);
  wdr_policy_drain_changes(g_p, &(wdr_policy_changes_t){.run = no_run,
                                                        .forgotten = no_forget,
                                                        .budget = no_budget});
  rerun(1, "journal-only", T0 + 30, "async-j", NULL, false);
  const wdr_run_t *jr = NULL;
  for (size_t i = 0; i < wdr_policy_runs_num(g_p); i++)
    if (wdr_cid_eq(&wdr_policy_run_at(g_p, i)->execution_id, "journal-only"))
      jr = wdr_policy_run_at(g_p, i);
  assert_non_null(jr);
  assert_int_equal(wdr_state_record_run(jr, "hourly", &journal), 0);
  assert_int_equal(wdr_state_journal_header(5, T0, &next), 0);
  assert_int_equal(wdr_state_record_forget("etl", "run-b", &next), 0);

  load(wdr_buf_str(&g_snap), wdr_buf_str(&journal), wdr_buf_str(&next));
  assert_int_equal(wdr_policy_runs_num(g_st.policy), 3);
  char *kept_before = record_of(wdr_buf_str(&g_snap), "hourly", "run-a");
  assert_non_null(kept_before);

  /* Forget etl/run-a. */
  wdr_buf_t snap2, journal2;
  wdr_buf_init(&snap2, WDR_STATE_MAX);
  wdr_buf_init(&journal2, WDR_STATE_MAX);
  assert_int_equal(wdr_statetool_forget(&g_st, find_ok("run-a", "etl"),
                                        wdr_buf_str(&g_snap), g_snap.len,
                                        T0 + 9000, &snap2, &journal2),
                   0);
  /* The records, a run at a time. */
  size_t parts = 0;
  last = false;
  for (size_t at = 0; !last; parts++)
    assert_int_equal(wdr_statetool_snapshot_part(&g_st, &at, 1, &snap2, &last),
                     0);
  assert_int_equal(parts, 2); /* two runs, the budget windows with the last */
  const char *s2 = wdr_buf_str(&snap2);
  /* Generation 6: above the next journal's 5. The config is kept. */
  assert_int_equal(strncmp(s2,
                           "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":"
                           "1767225609000,\"journal\":6,\"config\":{\"etl\":"
                           "\"d-etl\",\"hourly\":\"d-hourly\"}}\n",
                           strlen("{\"version\":2,\"kind\":\"snapshot\","
                                  "\"saved_ms\":1767225609000,\"journal\":6,"
                                  "\"config\":{\"etl\":\"d-etl\",\"hourly\":"
                                  "\"d-hourly\"}}\n")),
                   0);
  assert_string_equal(wdr_buf_str(&journal2),
                      "{\"version\":2,\"kind\":\"journal\",\"saved_ms\":"
                      "1767225609000,\"journal\":6}\n");
  assert_null(record_of(s2, "etl", "run-a"));
  assert_null(record_of(s2, "etl", "run-b")); /* the next journal's forget */
  char *kept_after = record_of(s2, "hourly", "run-a");
  assert_non_null(kept_after);
  assert_string_equal(kept_after, kept_before); /* untouched */
  char *from_journal = record_of(s2, "hourly", "journal-only");
  assert_non_null(from_journal);
  free(from_journal);
  free(kept_before);
  free(kept_after);
  assert_non_null(strstr(s2, "{\"budget\":{\"workflow\":\"etl\",\"sent\":["));

  /* Reloaded: the run is gone, the others are there. */
  char *copy = strdup(s2);
  load(copy, wdr_buf_str(&journal2), NULL);
  assert_int_equal(wdr_policy_runs_num(g_st.policy), 2);
  const wdr_run_t *r = NULL;
  char err[256];
  assert_int_equal(
      wdr_statetool_find(&g_st, "run-a", "etl", &r, err, sizeof(err)), 1);
  find_ok("run-a", "hourly");
  find_ok("journal-only", NULL);

  /* A crash after the snapshot, before the journal was replaced: the old
   * journals are of lower generations and ignored; the run stays gone. */
  load(copy, wdr_buf_str(&journal), wdr_buf_str(&next));
  assert_int_equal(wdr_policy_runs_num(g_st.policy), 2);
  assert_int_equal(
      wdr_statetool_find(&g_st, "run-a", "etl", &r, err, sizeof(err)), 1);
  assert_true(g_st.stats.stale_journal);
  free(copy);

  wdr_buf_reset(&g_out);
  assert_int_equal(wdr_statetool_forgotten("run-a", "etl", false, &g_out), 0);
  assert_string_equal(wdr_buf_str(&g_out),
                      "forgot run run-a of workflow etl\n");
  wdr_buf_reset(&g_out);
  assert_int_equal(wdr_statetool_forgotten("run-a", "etl", true, &g_out), 0);
  assert_string_equal(
      wdr_buf_str(&g_out),
      "{\"forgotten\":{\"workflow\":\"etl\",\"execution_id\":\"run-a\"}}\n");
  wdr_buf_free(&snap2, false);
  wdr_buf_free(&journal2, false);
  wdr_buf_free(&journal, false);
  wdr_buf_free(&next, false);
}

/* --- a consistent read --------------------------------------------------- */

static void test_consistent(void **state) {
  (void)state;
  const wdr_state_file_id_t none = {0};
  const wdr_state_file_id_t
      s = {.exists = true, .dev = 1, .ino = 10, .size = 100},
      s2 = {.exists = true, .dev = 1, .ino = 11, .size = 100},
      j = {.exists = true, .dev = 1, .ino = 20, .size = 50},
      j_grown = {.exists = true, .dev = 1, .ino = 20, .size = 80},
      j2 = {.exists = true, .dev = 1, .ino = 21, .size = 50},
      n = {.exists = true, .dev = 1, .ino = 30, .size = 5},
      n_grown = {.exists = true, .dev = 1, .ino = 30, .size = 9};
  const struct {
    wdr_state_file_id_t read[3], now[3];
    bool want;
    const char *what;
  } cases[] = {
      {{s, j, none}, {s, j, none}, true, "nothing changed"},
      {{s, j, none}, {s, j_grown, none}, true, "the journal grew: a prefix"},
      {{s, j, n}, {s, j, n_grown}, true, "the next journal grew"},
      {{s, j, n}, {s, j_grown, n}, false, "a fold began after the journal"},
      {{s, j, none}, {s, j, n}, false, "a fold began meanwhile"},
      {{s, j, n}, {s2, j, n}, false, "a new snapshot"},
      {{s, j, n}, {s2, j2, none}, false, "a fold ended"},
      {{s, j, none}, {s, j2, none}, false, "the journal replaced"},
      {{s, none, none}, {s, j, none}, false, "a journal appeared"},
      {{s, none, none}, {s, none, none}, true, "no journal"},
      {{none, none, none}, {none, none, none}, false, "no snapshot"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (wdr_statetool_consistent(cases[i].read, cases[i].now) != cases[i].want)
      fail_msg("%s: want %s", cases[i].what, cases[i].want ? "true" : "false");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_list_text),   T(test_list_json),      T(test_control_characters),
      T(test_show),        T(test_show_in_flight), T(test_find),
      T(test_load_errors), T(test_forget),         T(test_consistent),
  };
  return cmocka_run_group_tests_name("wdr_statetool", tests, NULL, NULL);
}
