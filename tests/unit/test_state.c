/* wdr_state: the state file. Serialise and parse (round trip, the exact
 * JSON, every kind of corrupt input), and the file operations in a private
 * temporary folder. */
#include "run_util.h"
#include "testutil.h"

#include "wdr_policy_store.h"
#include "wdr_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T0 1767225600000LL
#define MIN 60000LL
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define POLL 5000LL /* AsyncPollInterval */

/* Three workflows: "etl" and "hourly" are persisted and follow their
 * reruns (TrackAsync: runs in ASYNC and FOLLOW survive a restore), "dry" is
 * a dry run. */
static wdr_policy_wf_t g_wf[3];
static char *g_names[] = {"etl", "hourly", "dry"};
static bool g_persist[] = {true, true, false};
static wdr_policy_t *g_p;   /* the source */
static wdr_policy_t *g_q;   /* parsed into */
static wdr_buf_t g_buf;     /* serialised */
static char g_dir[64] = ""; /* temporary folder */

static wdr_policy_t *new_policy(size_t max_runs) {
  wdr_policy_t *p =
      wdr_policy_create(&(wdr_policy_cfg_t){.wf = g_wf,
                                            .wf_num = 3,
                                            .max_request_retries = 3,
                                            .retention_ms = DAY,
                                            .max_runs = max_runs,
                                            .async_poll_ms = POLL,
                                            .async_timeout_ms = HOUR});
  assert_non_null(p);
  return p;
}

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < 3; i++)
    g_wf[i] = (wdr_policy_wf_t){.max_attempts = 3,
                                .retry_interval_ms = MIN,
                                .max_retry_interval_ms = HOUR,
                                .max_reruns_per_hour = 10,
                                .dry_run = i == 2,
                                .track = i != 2};
  g_p = new_policy(100);
  g_q = new_policy(100);
  wdr_buf_init(&g_buf, WDR_STATE_MAX);
  return 0;
}

/* Removes the temporary folder and whatever is in it. */
static void remove_dir(void) {
  if (g_dir[0] == '\0')
    return;
  DIR *d = opendir(g_dir);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char path[512];
      snprintf(path, sizeof(path), "%s/%s", g_dir, e->d_name);
      if (unlink(path) != 0)
        rmdir(path);
    }
    closedir(d);
  }
  rmdir(g_dir);
  g_dir[0] = '\0';
}

static int teardown(void **state) {
  (void)state;
  wdr_policy_destroy(g_p);
  wdr_policy_destroy(g_q);
  g_p = g_q = NULL;
  wdr_buf_free(&g_buf, false);
  remove_dir();
  return 0;
}

/* --- helpers ------------------------------------------------------------ */

static wdr_run_t make_run(size_t wf, const char *id, wdr_run_state_t state,
                          int seed) {
  wdr_run_t r = {.wf = wf,
                 .state = state,
                 .in_flight = (wdr_job_kind_t)(seed % WDR_RUN_JOB_KINDS),
                 .attempts = seed % 4,
                 .tries = seed % 4 + 1,
                 .request_retries = seed % 3,
                 .verify_tries = (seed + 1) % 3,
                 .resigned = seed % 2 == 0,
                 .gave_up = seed % 3 == 0,
                 .had_accepted = seed % 3 == 1,
                 .first_signal_ms = T0 - 100000 + seed,
                 .last_signal_ms = T0 - 50000 + seed,
                 .last_try_ms = T0 - 40000 + seed,
                 .next_at_ms = T0 + 1000 * seed,
                 .updated_ms = T0 - 30000 + seed,
                 .track_ms = T0 - 20000 + seed,
                 .track_reads = seed % 4,
                 .seen_active = seed % 2 == 1};
  set_cidf(&r.execution_id, "%s", id);
  set_cidf(&r.last_async_id, "async-%d", seed);
  set_textf(&r.last_error, "%s", seed % 2 ? "" : "InternalError");
  set_textf(&r.async_status, "%s",
            seed % 3 == 0   ? ""
            : seed % 3 == 1 ? "SUCCESS"
                            : "PART_SUCCESS");
  return r;
}

/* Restores r; its texts move into the table or are freed. */
static void restore(wdr_policy_t *p, wdr_run_t *r, int64_t now) {
  assert_int_equal(wdr_policy_restore(p, r, now), 0);
  wdr_run_clear(r);
}

static const wdr_run_t *find(wdr_policy_t *p, size_t wf, const char *id) {
  for (size_t i = 0; i < wdr_policy_runs_num(p); i++) {
    const wdr_run_t *r = wdr_policy_run_at(p, i);
    if (r->wf == wf && wdr_cid_eq(&r->execution_id, id))
      return r;
  }
  return NULL;
}

static void assert_runs_equal(const wdr_run_t *a, const wdr_run_t *b) {
  assert_int_equal(a->wf, b->wf);
  assert_string_equal(CID(a->execution_id), CID(b->execution_id));
  assert_int_equal(a->state, b->state);
  assert_int_equal(a->in_flight, b->in_flight);
  assert_int_equal(a->attempts, b->attempts);
  assert_int_equal(a->tries, b->tries);
  assert_int_equal(a->request_retries, b->request_retries);
  assert_int_equal(a->verify_tries, b->verify_tries);
  assert_int_equal(a->resigned, b->resigned);
  assert_int_equal(a->gave_up, b->gave_up);
  assert_int_equal(a->had_accepted, b->had_accepted);
  assert_int_equal(a->first_signal_ms, b->first_signal_ms);
  assert_int_equal(a->last_signal_ms, b->last_signal_ms);
  assert_int_equal(a->last_try_ms, b->last_try_ms);
  assert_int_equal(a->next_at_ms, b->next_at_ms);
  assert_int_equal(a->updated_ms, b->updated_ms);
  assert_string_equal(CID(a->last_async_id), CID(b->last_async_id));
  assert_string_equal(wdr_run_text(a->last_error), wdr_run_text(b->last_error));
  assert_int_equal(a->track_ms, b->track_ms);
  assert_int_equal(a->track_reads, b->track_reads);
  assert_string_equal(wdr_run_text(a->async_status),
                      wdr_run_text(b->async_status));
  assert_int_equal(a->seen_active, b->seen_active);
}

static void serialize(wdr_policy_t *p, int64_t now) {
  wdr_buf_reset(&g_buf);
  assert_int_equal(
      wdr_state_serialize(p, g_names, g_persist, 3, now, 1, &g_buf), 0);
}

/* Parses text into a fresh g_q, which must succeed. */
static wdr_state_stats_t parse_ok(const char *text, int64_t now) {
  wdr_policy_destroy(g_q);
  g_q = new_policy(100);
  wdr_state_stats_t stats;
  char err[256] = "";
  if (wdr_state_parse(text, strlen(text), g_q, g_names, 3, now, &stats, err,
                      sizeof(err)) != 0)
    fail_msg("parse failed: %s\n%s", err, text);
  return stats;
}

/* Parses text of len bytes, which must fail with exactly want (or, when
 * want ends in '*', an error that starts with it). */
static void parse_error_len(const char *text, size_t len, const char *want) {
  wdr_policy_destroy(g_q);
  g_q = new_policy(100);
  wdr_state_stats_t stats;
  char err[256] = "";
  if (wdr_state_parse(text, len, g_q, g_names, 3, T0, &stats, err,
                      sizeof(err)) != -1)
    fail_msg("parse accepted: %s", text);
  size_t n = strlen(want);
  if (n > 0 && want[n - 1] == '*') {
    if (strncmp(err, want, n - 1) != 0)
      fail_msg("error \"%s\" does not start with \"%.*s\"", err, (int)n - 1,
               want);
  } else
    assert_string_equal(err, want);
}

static void parse_error(const char *text, const char *want) {
  parse_error_len(text, strlen(text), want);
}

/* --- serialise and parse ------------------------------------------------ */

/* A policy with runs in every state, of two persisted workflows and the
 * dry-run one, plus budget windows. */
static void fill_source(void) {
  const wdr_run_state_t states[] = {WDR_RUN_IDLE,   WDR_RUN_SCHEDULED,
                                    WDR_RUN_VERIFY, WDR_RUN_PERMANENT,
                                    WDR_RUN_ASYNC,  WDR_RUN_FOLLOW};
  for (int i = 0; i < 6; i++) {
    char id[32];
    snprintf(id, sizeof(id), "etl-run-%d", i);
    wdr_run_t r = make_run(0, id, states[i], i + 1);
    restore(g_p, &r, T0);
    snprintf(id, sizeof(id), "hourly-run-%d", i);
    r = make_run(1, id, states[i], i + 7);
    restore(g_p, &r, T0);
  }
  /* The same id in another workflow is another run. */
  wdr_run_t r = make_run(1, "etl-run-0", WDR_RUN_IDLE, 20);
  restore(g_p, &r, T0);
  /* An in-flight run: restored scheduled, then taken. */
  r = make_run(0, "flying", WDR_RUN_SCHEDULED, 5);
  r.next_at_ms = T0 - HOUR; /* the earliest due */
  restore(g_p, &r, T0);
  wdr_policy_job_t job;
  assert_true(wdr_policy_take_due(g_p, T0, 0, &job, NULL));
  assert_string_equal(job.execution_id, "flying");
  /* Dry-run runs, which stay in memory only. */
  r = make_run(2, "dry-run-0", WDR_RUN_IDLE, 3);
  restore(g_p, &r, T0);
  r = make_run(2, "dry-run-1", WDR_RUN_SCHEDULED, 4);
  restore(g_p, &r, T0);

  wdr_policy_restore_budget(g_p, 0, T0 - 3000);
  wdr_policy_restore_budget(g_p, 0, T0 - 2000);
  wdr_policy_restore_budget(g_p, 0, T0 - 1000);
  wdr_policy_restore_budget(g_p, 1, T0 - 500);
  wdr_policy_restore_budget(g_p, 2, T0 - 100);
}

static void test_round_trip(void **state) {
  (void)state;
  fill_source();
  serialize(g_p, T0 + 1);
  const int64_t later = T0 + DAY / 2;
  wdr_state_stats_t st = parse_ok(wdr_buf_str(&g_buf), later);
  assert_int_equal(st.runs, 14);
  assert_int_equal(st.unknown_workflow, 0);
  assert_int_equal(st.rejected, 0);

  size_t n_src = wdr_policy_runs_num(g_p), n_dst = wdr_policy_runs_num(g_q);
  assert_int_equal(n_src, 16);
  assert_int_equal(n_dst, 14);
  size_t compared = 0;
  for (size_t i = 0; i < n_src; i++) {
    const wdr_run_t *one = wdr_policy_run_at(g_p, i);
    const wdr_run_t *got = find(g_q, one->wf, CID(one->execution_id));
    if (one->wf == 2) {
      assert_null(got);
      continue;
    }
    assert_non_null(got);
    wdr_run_t want = *one;
    if (want.state == WDR_RUN_IN_FLIGHT) {
      /* Nobody knows whether it reached WeData: read it first. */
      want.state = WDR_RUN_VERIFY;
      want.next_at_ms = later + WDR_VERIFY_DELAY_MS;
      want.verify_tries = 0;
    }
    assert_runs_equal(got, &want);
    compared++;
  }
  assert_int_equal(compared, 14);
  assert_int_equal(find(g_q, 0, "flying")->state, WDR_RUN_VERIFY);
  assert_int_equal(find(g_q, 0, "flying")->in_flight, WDR_JOB_RERUN);

  for (size_t wf = 0; wf < 3; wf++) {
    size_t n_a = 0, n_b = 0;
    const int64_t *a = wdr_policy_budget(g_p, wf, &n_a);
    const int64_t *b = wdr_policy_budget(g_q, wf, &n_b);
    if (wf == 2) {
      assert_int_equal(n_a, 1);
      assert_int_equal(n_b, 0); /* not persisted */
      continue;
    }
    assert_int_equal(n_a, n_b);
    for (size_t i = 0; i < n_a; i++)
      assert_int_equal(a[i], b[i]);
  }

  /* What was parsed serialises to a fixed point: parsed and serialised
   * again, it gives the same text. */
  wdr_buf_t text2, text3;
  wdr_buf_init(&text2, WDR_STATE_MAX);
  wdr_buf_init(&text3, WDR_STATE_MAX);
  wdr_policy_t *r = new_policy(100);
  wdr_state_stats_t st2;
  char err[256] = "";
  int rc2 = wdr_state_serialize(g_q, g_names, g_persist, 3, later, 1, &text2);
  int rc3 = wdr_state_parse(wdr_buf_str(&text2), text2.len, r, g_names, 3,
                            later + 1, &st2, err, sizeof(err));
  int rc4 = wdr_state_serialize(r, g_names, g_persist, 3, later, 1, &text3);
  bool same = strcmp(wdr_buf_str(&text2), wdr_buf_str(&text3)) == 0;
  wdr_policy_destroy(r);
  wdr_buf_free(&text2, false);
  wdr_buf_free(&text3, false);
  assert_int_equal(rc2, 0);
  assert_int_equal(rc3, 0);
  assert_int_equal(rc4, 0);
  assert_true(same);
}

/* A policy as the plugin makes it, through signals and results. */
static void test_round_trip_live(void **state) {
  (void)state;
  wdr_signal_decision_t d = wdr_policy_on_signal(g_p, 0, "live", T0, 0);
  assert_int_equal(d.verdict, WDR_SIGNAL_SCHEDULED);
  wdr_policy_job_t job;
  assert_true(wdr_policy_take_due(g_p, T0, 0, &job, NULL));
  wdr_policy_on_result(g_p, &job, WDR_OUTCOME_ACCEPTED, "async-9f",
                       "ignored-on-accept", T0 + 10, 0);
  serialize(g_p, T0 + 20);
  parse_ok(wdr_buf_str(&g_buf), T0 + 30);
  const wdr_run_t *a = find(g_p, 0, "live");
  const wdr_run_t *b = find(g_q, 0, "live");
  assert_non_null(a);
  assert_non_null(b);
  assert_runs_equal(a, b);
  assert_string_equal(CID(b->last_async_id), "async-9f");
  /* etl follows its reruns: the async job is read next. */
  assert_int_equal(b->state, WDR_RUN_ASYNC);
  assert_int_equal(b->track_ms, T0 + 10);
  assert_int_equal(b->next_at_ms, T0 + 10 + POLL);
  size_t n = 0;
  const int64_t *t = wdr_policy_budget(g_q, 0, &n);
  assert_int_equal(n, 1);
  assert_int_equal(t[0], T0);
}

/* The exact text, with every field away from its default. The run is being
 * followed (FOLLOW, in a TrackAsync workflow), its last request out an
 * async read. */
static const char *golden =
    "{\"version\":1,\"saved_ms\":1767225601234,\"runs\":[{\"workflow\":"
    "\"hourly\",\"execution_id\":\"run-42\",\"state\":\"follow\","
    "\"in_flight\":\"async\",\"attempts\":2,\"tries\":3,\"request_retries\":"
    "1,\"verify_tries\":2,\"resigned\":true,\"gave_up\":false,\"had_accepted\":"
    "true,"
    "\"first_signal_ms\":1767225500000,\"last_signal_ms\":1767225550000,"
    "\"last_try_ms\":1767225560000,\"next_at_ms\":1767225570000,"
    "\"updated_ms\":1767225580000,\"last_async_id\":\"a-\\\"q\\\"\","
    "\"last_error\":\"InvalidParameter\",\"track_ms\":1767225565000,"
    "\"track_reads\":4,\"async_status\":\"PART_SUCCESS\",\"seen_active\":"
    "true}],\"budget\":{\"hourly\":[1767225000000,1767225100000]}}";

/* The same state as version 2: a header, one line per run, one per
 * budget window. */
#define GOLDEN_RUN                                                             \
  "{\"workflow\":\"hourly\",\"execution_id\":\"run-42\",\"state\":"            \
  "\"follow\",\"in_flight\":\"async\",\"attempts\":2,\"tries\":3,"             \
  "\"request_retries\":1,\"verify_tries\":2,\"resigned\":true,\"gave_up\":"    \
  "false,\"had_accepted\":true,\"first_signal_ms\":1767225500000,"             \
  "\"last_signal_ms\":1767225550000,\"last_try_ms\":1767225560000,"            \
  "\"next_at_ms\":1767225570000,\"updated_ms\":1767225580000,"                 \
  "\"last_async_id\":\"a-\\\"q\\\"\",\"last_error\":\"InvalidParameter\","     \
  "\"track_ms\":1767225565000,\"track_reads\":4,\"async_status\":"             \
  "\"PART_SUCCESS\",\"seen_active\":true}"
static const char *golden_v2 =
    "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":1767225601234,"
    "\"journal\":1}\n"
    "{\"run\":" GOLDEN_RUN "}\n"
    "{\"budget\":{\"workflow\":\"hourly\",\"sent\":[1767225000000,"
    "1767225100000]}}\n";

static void add_golden_run(wdr_policy_t *p) {
  wdr_run_t r = {.wf = 1,
                 .state = WDR_RUN_FOLLOW,
                 .in_flight = WDR_JOB_ASYNC,
                 .attempts = 2,
                 .tries = 3,
                 .request_retries = 1,
                 .verify_tries = 2,
                 .resigned = true,
                 .gave_up = false,
                 .had_accepted = true,
                 .first_signal_ms = 1767225500000,
                 .last_signal_ms = 1767225550000,
                 .last_try_ms = 1767225560000,
                 .next_at_ms = 1767225570000,
                 .updated_ms = 1767225580000,
                 .track_ms = 1767225565000,
                 .track_reads = 4,
                 .seen_active = true};
  set_cidf(&r.execution_id, "run-42");
  set_cidf(&r.last_async_id, "a-\"q\"");
  set_textf(&r.last_error, "InvalidParameter");
  set_textf(&r.async_status, "PART_SUCCESS");
  restore(p, &r, T0);
  wdr_policy_restore_budget(p, 1, 1767225000000);
  wdr_policy_restore_budget(p, 1, 1767225100000);
}

static void test_golden(void **state) {
  (void)state;
  add_golden_run(g_p);
  serialize(g_p, 1767225601234);
  assert_string_equal(wdr_buf_str(&g_buf), golden_v2);
  /* The run's record is the version-1 file's run, word for word. */
  assert_non_null(strstr(golden, GOLDEN_RUN));

  /* Both read back, the same. */
  wdr_state_stats_t st = parse_ok(golden_v2, T0);
  assert_false(st.legacy);
  assert_int_equal(st.gen, 1);
  assert_int_equal(st.runs, 1);
  assert_runs_equal(find(g_q, 1, "run-42"), find(g_p, 1, "run-42"));
  st = parse_ok(golden, T0);
  assert_true(st.legacy);
  assert_int_equal(st.runs, 1);
  const wdr_run_t *r = find(g_q, 1, "run-42");
  assert_non_null(r);
  assert_runs_equal(r, find(g_p, 1, "run-42"));
  assert_int_equal(r->state, WDR_RUN_FOLLOW);
  assert_int_equal(r->in_flight, WDR_JOB_ASYNC);
  assert_int_equal(r->track_ms, 1767225565000);
  assert_int_equal(r->track_reads, 4);
  assert_string_equal(wdr_run_text(r->async_status), "PART_SUCCESS");
  assert_true(r->seen_active);
  assert_true(r->had_accepted);
}

/* A file the previous version wrote, from before TrackAsync: it has no
 * track_ms, track_reads, async_status or seen_active. */
static const char *golden_before_track =
    "{\"version\":1,\"saved_ms\":1767225601234,\"runs\":[{\"workflow\":"
    "\"hourly\",\"execution_id\":\"run-42\",\"state\":\"permanent\","
    "\"in_flight\":\"verify\",\"attempts\":2,\"tries\":3,\"request_retries\":"
    "1,\"verify_tries\":2,\"resigned\":true,\"gave_up\":false,\"had_accepted\":"
    "false,"
    "\"first_signal_ms\":1767225500000,\"last_signal_ms\":1767225550000,"
    "\"last_try_ms\":1767225560000,\"next_at_ms\":1767225570000,"
    "\"updated_ms\":1767225580000,\"last_async_id\":\"a-\\\"q\\\"\","
    "\"last_error\":\"InvalidParameter\"}],\"budget\":{\"hourly\":"
    "[1767225000000,1767225100000]}}";

/* Such a file still loads: the new fields are 0, "" and false (it follows
 * nothing), the rest as the file says. */
static void test_file_before_track(void **state) {
  (void)state;
  wdr_state_stats_t st = parse_ok(golden_before_track, T0);
  assert_int_equal(st.runs, 1);
  const wdr_run_t *r = find(g_q, 1, "run-42");
  assert_non_null(r);
  assert_int_equal(r->state, WDR_RUN_PERMANENT);
  assert_int_equal(r->in_flight, WDR_JOB_VERIFY);
  assert_int_equal(r->attempts, 2);
  assert_int_equal(r->tries, 3);
  assert_int_equal(r->request_retries, 1);
  assert_int_equal(r->verify_tries, 2);
  assert_true(r->resigned);
  assert_false(r->had_accepted);
  assert_int_equal(r->next_at_ms, 1767225570000);
  assert_string_equal(CID(r->last_async_id), "a-\"q\"");
  assert_string_equal(wdr_run_text(r->last_error), "InvalidParameter");
  assert_int_equal(r->track_ms, 0);
  assert_int_equal(r->track_reads, 0);
  assert_string_equal(wdr_run_text(r->async_status), "");
  assert_false(r->seen_active);
  size_t n = 0;
  (void)wdr_policy_budget(g_q, 1, &n);
  assert_int_equal(n, 2);

  /* Saved again, it has them: the text of the current version. */
  serialize(g_q, 1767225601234);
  assert_non_null(strstr(wdr_buf_str(&g_buf),
                         "\"last_error\":\"InvalidParameter\",\"track_ms\":0,"
                         "\"track_reads\":0,\"async_status\":\"\","
                         "\"seen_active\":false}"));
}

static const char *const kind_names[] = {"rerun", "verify", "check", "async",
                                         "follow"};

/* Every kind of request a run can have out is saved under its own name
 * and read back as itself (CHECK was once saved as "rerun"). */
static void test_in_flight_kinds_round_trip(void **state) {
  (void)state;
  assert_int_equal(WDR_RUN_JOB_KINDS, 5); /* a new kind needs a name here */
  for (int k = 0; k < WDR_RUN_JOB_KINDS; k++) {
    char id[32];
    snprintf(id, sizeof(id), "kind-%d", k);
    wdr_run_t r = make_run(0, id, WDR_RUN_IDLE, 3);
    r.in_flight = (wdr_job_kind_t)k;
    restore(g_p, &r, T0);
  }
  serialize(g_p, T0);
  for (int k = 0; k < WDR_RUN_JOB_KINDS; k++) {
    char want[128];
    snprintf(want, sizeof(want),
             "\"execution_id\":\"kind-%d\",\"state\":\"idle\","
             "\"in_flight\":\"%s\",",
             k, kind_names[k]);
    if (strstr(wdr_buf_str(&g_buf), want) == NULL)
      fail_msg("no %s in %s", want, wdr_buf_str(&g_buf));
  }
  wdr_state_stats_t st = parse_ok(wdr_buf_str(&g_buf), T0 + HOUR);
  assert_int_equal(st.runs, WDR_RUN_JOB_KINDS);
  for (int k = 0; k < WDR_RUN_JOB_KINDS; k++) {
    char id[32];
    snprintf(id, sizeof(id), "kind-%d", k);
    const wdr_run_t *got = find(g_q, 0, id);
    assert_non_null(got);
    assert_int_equal(got->in_flight, k);
    assert_runs_equal(got, find(g_p, 0, id));
  }
}

/* Takes the next due job of p at now, which must be of kind for run id. */
static void take_from(wdr_policy_t *p, int64_t now, const char *id,
                      wdr_job_kind_t kind) {
  wdr_policy_job_t job;
  assert_true(wdr_policy_take_due(p, now, 0, &job, NULL));
  assert_string_equal(job.execution_id, id);
  assert_int_equal(job.kind, kind);
}

/* Requests out when the state is saved, made by the policy as the plugin
 * does, through the file: after the restart a read of a followed rerun is
 * made again at once, a check is redone (due now: it sent nothing), a
 * rerun or a verify is verified first. */
static void test_in_flight_restored(void **state) {
  (void)state;
  g_wf[0].verify = true; /* etl reads the run before a rerun: CHECK */
  wdr_policy_job_t job;
  assert_int_equal(wdr_policy_on_signal(g_p, 0, "checking", T0, 0).verdict,
                   WDR_SIGNAL_SCHEDULED);
  assert_true(wdr_policy_take_due(g_p, T0, 0, &job, NULL));
  assert_int_equal(job.kind, WDR_JOB_CHECK);

  assert_int_equal(wdr_policy_on_signal(g_p, 1, "sending", T0, 0).verdict,
                   WDR_SIGNAL_SCHEDULED);
  take_from(g_p, T0, "sending", WDR_JOB_RERUN);

  assert_int_equal(wdr_policy_on_signal(g_p, 1, "verifying", T0, 0).verdict,
                   WDR_SIGNAL_SCHEDULED);
  assert_true(wdr_policy_take_due(g_p, T0, 0, &job, NULL));
  assert_int_equal(
      wdr_policy_on_result(g_p, &job, WDR_OUTCOME_AMBIGUOUS, NULL, NULL, T0, 0)
          .verdict,
      WDR_RESULT_VERIFY);
  take_from(g_p, T0 + WDR_VERIFY_DELAY_MS, "verifying", WDR_JOB_VERIFY);

  const int64_t a = T0 + 10000;
  assert_int_equal(wdr_policy_on_signal(g_p, 1, "reading-async", a, 0).verdict,
                   WDR_SIGNAL_SCHEDULED);
  assert_true(wdr_policy_take_due(g_p, a, 0, &job, NULL));
  assert_int_equal(wdr_policy_on_result(g_p, &job, WDR_OUTCOME_ACCEPTED,
                                        "async-7", NULL, a, 0)
                       .verdict,
                   WDR_RESULT_ACCEPTED);
  take_from(g_p, a + POLL, "reading-async", WDR_JOB_ASYNC);

  const int64_t f = T0 + 20000;
  assert_int_equal(wdr_policy_on_signal(g_p, 1, "reading-run", f, 0).verdict,
                   WDR_SIGNAL_SCHEDULED);
  assert_true(wdr_policy_take_due(g_p, f, 0, &job, NULL));
  assert_int_equal(
      wdr_policy_on_result(g_p, &job, WDR_OUTCOME_ACCEPTED, NULL, NULL, f, 0)
          .verdict,
      WDR_RESULT_ACCEPTED);
  take_from(g_p, f + POLL, "reading-run", WDR_JOB_FOLLOW);

  serialize(g_p, T0 + 30000);
  const char *saved[][2] = {{"checking", "check"},
                            {"sending", "rerun"},
                            {"verifying", "verify"},
                            {"reading-async", "async"},
                            {"reading-run", "follow"}};
  for (int i = 0; i < 5; i++) {
    char want[128];
    snprintf(want, sizeof(want),
             "\"execution_id\":\"%s\",\"state\":\"in_flight\","
             "\"in_flight\":\"%s\",",
             saved[i][0], saved[i][1]);
    if (strstr(wdr_buf_str(&g_buf), want) == NULL)
      fail_msg("no %s in %s", want, wdr_buf_str(&g_buf));
  }

  const int64_t later = T0 + HOUR;
  wdr_state_stats_t st = parse_ok(wdr_buf_str(&g_buf), later);
  assert_int_equal(st.runs, 5);
  const wdr_run_t *r = find(g_q, 0, "checking");
  assert_int_equal(r->state, WDR_RUN_SCHEDULED);
  assert_int_equal(r->next_at_ms, later);
  r = find(g_q, 1, "sending");
  assert_int_equal(r->state, WDR_RUN_VERIFY);
  assert_int_equal(r->next_at_ms, later + WDR_VERIFY_DELAY_MS);
  r = find(g_q, 1, "verifying");
  assert_int_equal(r->state, WDR_RUN_VERIFY);
  assert_int_equal(r->next_at_ms, later + WDR_VERIFY_DELAY_MS);
  r = find(g_q, 1, "reading-async");
  assert_int_equal(r->state, WDR_RUN_ASYNC);
  assert_int_equal(r->next_at_ms, later);
  assert_int_equal(r->track_ms, a);
  assert_int_equal(r->attempts, 1);
  assert_string_equal(CID(r->last_async_id), "async-7");
  r = find(g_q, 1, "reading-run");
  assert_int_equal(r->state, WDR_RUN_FOLLOW);
  assert_int_equal(r->next_at_ms, later);
  assert_int_equal(r->track_ms, f);

  /* What the restarted plugin sends, in the saved order. */
  take_from(g_q, later, "checking", WDR_JOB_CHECK);
  take_from(g_q, later, "reading-async", WDR_JOB_ASYNC);
  take_from(g_q, later, "reading-run", WDR_JOB_FOLLOW);
  int64_t next = 0;
  assert_false(wdr_policy_take_due(g_q, later, 0, &job, &next));
  assert_int_equal(next, later + WDR_VERIFY_DELAY_MS);
  take_from(g_q, later + WDR_VERIFY_DELAY_MS, "sending", WDR_JOB_VERIFY);
  take_from(g_q, later + WDR_VERIFY_DELAY_MS, "verifying", WDR_JOB_VERIFY);
}

/* Runs being followed (ASYNC, FOLLOW) come back as they were, with what
 * following has learnt so far. In a workflow that no longer follows its
 * reruns (TrackAsync off since) they come back IDLE. */
static void test_track_states_round_trip(void **state) {
  (void)state;
  wdr_run_t r = make_run(0, "waiting-async", WDR_RUN_ASYNC, 4);
  set_textf(&r.async_status, "RUNNING");
  restore(g_p, &r, T0);
  r = make_run(1, "waiting-run", WDR_RUN_FOLLOW, 5);
  r.track_reads = 3;
  r.seen_active = true;
  restore(g_p, &r, T0);
  r = make_run(0, "reading-run", WDR_RUN_FOLLOW, 6);
  restore(g_p, &r, T0);
  serialize(g_p, T0);
  const char *text = wdr_buf_str(&g_buf);
  assert_non_null(
      strstr(text, "\"execution_id\":\"waiting-async\",\"state\":\"async\""));
  assert_non_null(
      strstr(text, "\"execution_id\":\"waiting-run\",\"state\":\"follow\""));
  assert_non_null(strstr(text, "\"track_reads\":3,\"async_status\":"
                               "\"PART_SUCCESS\",\"seen_active\":true}"));
  assert_non_null(strstr(text, "\"async_status\":\"RUNNING\""));

  wdr_state_stats_t st = parse_ok(text, T0 + DAY / 2);
  assert_int_equal(st.runs, 3);
  const char *ids[] = {"waiting-async", "waiting-run", "reading-run"};
  const size_t wfs[] = {0, 1, 0};
  for (int i = 0; i < 3; i++)
    assert_runs_equal(find(g_q, wfs[i], ids[i]), find(g_p, wfs[i], ids[i]));

  g_wf[0].track = false;
  st = parse_ok(text, T0 + DAY / 2);
  assert_int_equal(st.runs, 3);
  assert_int_equal(find(g_q, 0, "waiting-async")->state, WDR_RUN_IDLE);
  assert_int_equal(find(g_q, 0, "reading-run")->state, WDR_RUN_IDLE);
  assert_int_equal(find(g_q, 1, "waiting-run")->state, WDR_RUN_FOLLOW);
}

/* An empty policy. */
static void test_empty(void **state) {
  (void)state;
  serialize(g_p, 5);
  assert_string_equal(wdr_buf_str(&g_buf),
                      "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":5,"
                      "\"journal\":1}\n");
  wdr_state_stats_t st = parse_ok(wdr_buf_str(&g_buf), T0);
  assert_int_equal(st.runs, 0);
  assert_int_equal(wdr_policy_runs_num(g_q), 0);
}

/* Runs and budgets of workflows no longer configured are dropped (the runs
 * counted); other keys are ignored; whitespace is fine. */
static void test_unknown_workflows(void **state) {
  (void)state;
  const char *text =
      "{ \"version\": 1, \"saved_ms\": 1, \"comment\": \"x\",\n"
      "  \"runs\": [\n"
      "    {\"workflow\":\"gone\",\"execution_id\":\"r1\",\"state\":\"idle\","
      "\"in_flight\":\"rerun\",\"attempts\":1,\"tries\":1,"
      "\"request_retries\":0,\"verify_tries\":0,\"resigned\":false,"
      "\"gave_up\":false,\"first_signal_ms\":1,\"last_signal_ms\":1,"
      "\"last_try_ms\":1,\"next_at_ms\":1,\"updated_ms\":1,"
      "\"last_async_id\":\"\",\"last_error\":\"\",\"extra\":[1,2]},\n"
      "    {\"workflow\":\"etl\",\"execution_id\":\"r2\",\"state\":\"idle\","
      "\"in_flight\":\"rerun\",\"attempts\":1,\"tries\":1,"
      "\"request_retries\":0,\"verify_tries\":0,\"resigned\":false,"
      "\"gave_up\":false,\"first_signal_ms\":1,\"last_signal_ms\":1,"
      "\"last_try_ms\":1,\"next_at_ms\":1,\"updated_ms\":1,"
      "\"last_async_id\":\"\",\"last_error\":\"\"},\n"
      "    {\"workflow\":\"ETL\",\"execution_id\":\"r3\",\"state\":\"idle\","
      "\"in_flight\":\"rerun\",\"attempts\":1,\"tries\":1,"
      "\"request_retries\":0,\"verify_tries\":0,\"resigned\":false,"
      "\"gave_up\":false,\"first_signal_ms\":1,\"last_signal_ms\":1,"
      "\"last_try_ms\":1,\"next_at_ms\":1,\"updated_ms\":1,"
      "\"last_async_id\":\"\",\"last_error\":\"\"}\n"
      "  ],\n"
      "  \"budget\": {\"gone\": [5, 6], \"etl\": [7]}\n"
      "}\n";
  wdr_state_stats_t st = parse_ok(text, T0);
  assert_int_equal(st.runs, 1);
  assert_int_equal(st.unknown_workflow, 2); /* names are exact */
  assert_int_equal(st.rejected, 0);
  assert_non_null(find(g_q, 0, "r2"));
  assert_int_equal(wdr_policy_runs_num(g_q), 1);
  size_t n = 0;
  const int64_t *t = wdr_policy_budget(g_q, 0, &n);
  assert_int_equal(n, 1);
  assert_int_equal(t[0], 7);
}

/* A run recorded twice: the later record wins (a journal replays over the
 * snapshot that way). Runs beyond the table's room are dropped and
 * counted. */
static void test_rejected_runs(void **state) {
  (void)state;
  wdr_run_t r = make_run(0, "dup", WDR_RUN_IDLE, 1);
  restore(g_p, &r, T0);
  r = make_run(0, "other", WDR_RUN_IDLE, 2);
  restore(g_p, &r, T0);
  r = make_run(1, "third", WDR_RUN_PERMANENT, 3);
  restore(g_p, &r, T0);
  serialize(g_p, T0);
  /* The records twice over, the second time with other attempts. */
  char *text = strdup(wdr_buf_str(&g_buf));
  assert_non_null(text);
  const char *records = strchr(text, '\n') + 1;
  wdr_buf_t doubled;
  wdr_buf_init(&doubled, WDR_STATE_MAX);
  assert_int_equal(wdr_buf_append_str(&doubled, text), 0);
  char *again = strdup(records);
  assert_non_null(again);
  for (char *a = strstr(again, "\"attempts\":"); a != NULL;
       a = strstr(a + 1, "\"attempts\":"))
    a[strlen("\"attempts\":")] = '7';
  assert_int_equal(wdr_buf_append_str(&doubled, again), 0);
  free(again);
  free(text);
  wdr_state_stats_t st = parse_ok(wdr_buf_str(&doubled), T0);
  assert_int_equal(st.runs, 3);
  assert_int_equal(st.rejected, 0);
  assert_int_equal(find(g_q, 0, "dup")->attempts, 7);
  assert_int_equal(find(g_q, 1, "third")->attempts, 7);

  /* A table with room for two. */
  wdr_policy_destroy(g_q);
  g_q = new_policy(2);
  char err[256] = "";
  assert_int_equal(wdr_state_parse(wdr_buf_str(&doubled), doubled.len, g_q,
                                   g_names, 3, T0, &st, err, sizeof(err)),
                   0);
  assert_int_equal(st.runs, 2);
  assert_int_equal(st.rejected, 2);
  wdr_buf_free(&doubled, false);
}

/* A journal replays over its snapshot: later records win, forget removes,
 * budget replaces; one of another generation is ignored, a torn last
 * record is ignored, a torn middle one is not; a newer version is refused
 * as such (-2). */
static void test_journal_replay(void **state) {
  (void)state;
  wdr_run_t r = make_run(0, "a", WDR_RUN_IDLE, 1);
  restore(g_p, &r, T0);
  r = make_run(0, "b", WDR_RUN_IDLE, 2);
  restore(g_p, &r, T0);
  serialize(g_p, T0);
  char *snap = strdup(wdr_buf_str(&g_buf));
  wdr_buf_t j;
  wdr_buf_init(&j, WDR_STATE_MAX);
  assert_int_equal(wdr_state_journal_header(1, T0, &j), 0);
  r = make_run(0, "a", WDR_RUN_PERMANENT, 9);
  assert_int_equal(wdr_state_record_run(&r, "etl", &j), 0);
  wdr_run_clear(&r);
  assert_int_equal(wdr_state_record_forget("etl", "b", &j), 0);
  r = make_run(1, "c", WDR_RUN_IDLE, 3);
  assert_int_equal(wdr_state_record_run(&r, "hourly", &j), 0);
  wdr_run_clear(&r);
  const int64_t sent[] = {T0 - 5, T0 - 4};
  assert_int_equal(wdr_state_record_budget("etl", sent, 2, &j), 0);
  assert_int_equal(wdr_state_record_forget("gone", "x", &j), 0);

  wdr_state_stats_t st;
  char err[256] = "";
  const char *jtexts[2];
  size_t jlens[2];
#define LOAD(snap_, jtext_, jlen_)                                             \
  (wdr_policy_destroy(g_q), g_q = new_policy(100), jtexts[0] = (jtext_),       \
   jlens[0] = (jlen_), jtexts[1] = NULL, jlens[1] = 0,                         \
   wdr_state_load(snap_, strlen(snap_), jtexts, jlens, 2, g_q, g_names, 3, T0, \
                  &st, err, sizeof(err)))
  assert_int_equal(LOAD(snap, wdr_buf_str(&j), j.len), 0);
  assert_int_equal(st.journal_records, 5);
  assert_false(st.torn);
  assert_int_equal(st.runs, 2);
  assert_int_equal(find(g_q, 0, "a")->state, WDR_RUN_PERMANENT);
  assert_null(find(g_q, 0, "b"));
  assert_non_null(find(g_q, 1, "c"));
  size_t n = 0;
  const int64_t *t = wdr_policy_budget(g_q, 0, &n);
  assert_int_equal(n, 2);
  assert_int_equal(t[1], T0 - 4);

  /* Torn last record: the ones before it count. */
  assert_int_equal(LOAD(snap, wdr_buf_str(&j), j.len - 5), 0);
  assert_true(st.torn);
  assert_int_equal(st.journal_records, 4);
  /* Torn in the middle: corrupt. */
  char *mid = strdup(wdr_buf_str(&j));
  char *second = strchr(strchr(mid, '\n') + 1, '\n');
  second[-3] = 'X';
  assert_int_equal(LOAD(snap, mid, strlen(mid)), -1);
  assert_non_null(strstr(err, "line 2: not JSON"));
  free(mid);
  /* Another generation: ignored whole. */
  wdr_buf_t old;
  wdr_buf_init(&old, WDR_STATE_MAX);
  assert_int_equal(wdr_state_journal_header(0, T0, &old), 0);
  assert_int_equal(wdr_state_record_forget("etl", "a", &old), 0);
  assert_int_equal(LOAD(snap, wdr_buf_str(&old), old.len), 0);
  assert_true(st.stale_journal);
  assert_non_null(find(g_q, 0, "a"));
  wdr_buf_free(&old, false);
  /* A fold cut short: the journal, then the next journal (a generation
   * up) both replay; once the new snapshot is in place (generation 2) the
   * old journal is ignored and the next one replays. */
  wdr_buf_t next;
  wdr_buf_init(&next, WDR_STATE_MAX);
  assert_int_equal(wdr_state_journal_header(2, T0, &next), 0);
  r = make_run(0, "d", WDR_RUN_IDLE, 4);
  assert_int_equal(wdr_state_record_run(&r, "etl", &next), 0);
  wdr_run_clear(&r);
  jtexts[0] = wdr_buf_str(&j);
  jlens[0] = j.len;
  jtexts[1] = wdr_buf_str(&next);
  jlens[1] = next.len;
  wdr_policy_destroy(g_q);
  g_q = new_policy(100);
  assert_int_equal(wdr_state_load(snap, strlen(snap), jtexts, jlens, 2, g_q,
                                  g_names, 3, T0, &st, err, sizeof(err)),
                   0);
  assert_int_equal(st.gen, 2);
  assert_null(find(g_q, 0, "b"));     /* from the journal */
  assert_non_null(find(g_q, 0, "d")); /* from the next one */
  wdr_buf_t snap2;
  wdr_buf_init(&snap2, WDR_STATE_MAX);
  assert_int_equal(
      wdr_state_serialize(g_p, g_names, g_persist, 3, T0, 2, &snap2),
      0); /* a and b, generation 2 */
  wdr_policy_destroy(g_q);
  g_q = new_policy(100);
  assert_int_equal(wdr_state_load(wdr_buf_str(&snap2), snap2.len, jtexts, jlens,
                                  2, g_q, g_names, 3, T0, &st, err,
                                  sizeof(err)),
                   0);
  assert_true(st.stale_journal);
  assert_non_null(find(g_q, 0, "b")); /* the old journal's forget ignored */
  assert_non_null(find(g_q, 0, "d"));
  wdr_buf_free(&snap2, false);
  wdr_buf_free(&next, false);

  /* A newer version is refused, and said to be newer. */
  const char *newer = "{\"version\":3,\"kind\":\"snapshot\",\"journal\":1}\n";
  assert_int_equal(LOAD(newer, NULL, 0), -2);
  assert_string_equal(err, "written by a newer version of the plugin (state "
                           "version 3, this one reads up to 2)");
#undef LOAD
  wdr_buf_free(&j, false);
  free(snap);
}

/* --- corrupt input ------------------------------------------------------ */

/* One run as JSON: every field valid, except key (if not NULL), whose raw
 * JSON value becomes value, or which is left out when value is NULL. */
static void run_json(char *out, size_t size, const char *key,
                     const char *value) {
  static const char *const fields[][2] = {
      {"workflow", "\"etl\""},
      {"execution_id", "\"run-1\""},
      {"state", "\"scheduled\""},
      {"in_flight", "\"rerun\""},
      {"attempts", "0"},
      {"tries", "1"},
      {"request_retries", "0"},
      {"verify_tries", "0"},
      {"resigned", "false"},
      {"gave_up", "false"},
      {"first_signal_ms", "1767225600000"},
      {"last_signal_ms", "1767225600000"},
      {"last_try_ms", "1767225600000"},
      {"next_at_ms", "1767225600000"},
      {"updated_ms", "1767225600000"},
      {"last_async_id", "\"\""},
      {"last_error", "\"\""},
      /* Optional: files from before them lack them. */
      {"had_accepted", "false"},
      {"track_ms", "0"},
      {"track_reads", "0"},
      {"async_status", "\"\""},
      {"seen_active", "false"},
  };
  size_t len = 0;
  len += (size_t)snprintf(out + len, size - len, "{");
  bool first = true;
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    const char *v = fields[i][1];
    if (key != NULL && strcmp(key, fields[i][0]) == 0) {
      if (value == NULL)
        continue;
      v = value;
    }
    len += (size_t)snprintf(out + len, size - len, "%s\"%s\":%s",
                            first ? "" : ",", fields[i][0], v);
    first = false;
  }
  snprintf(out + len, size - len, "}");
  assert_true(len + 2 < size);
}

/* A state with one run, whose field key is value (see run_json). */
static void state_json(char *out, size_t size, const char *key,
                       const char *value) {
  char run[2048];
  run_json(run, sizeof(run), key, value);
  snprintf(out, size,
           "{\"version\":1,\"saved_ms\":1,\"runs\":[%s],\"budget\":{}}", run);
}

static void run_field_error(const char *key, const char *value) {
  char text[4096];
  state_json(text, sizeof(text), key, value);
  parse_error(text, "run 1 is malformed");
}

static void test_template_is_valid(void **state) {
  (void)state;
  char text[4096];
  state_json(text, sizeof(text), NULL, NULL);
  wdr_state_stats_t st = parse_ok(text, T0);
  assert_int_equal(st.runs, 1);
  const wdr_run_t *r = find(g_q, 0, "run-1");
  assert_non_null(r);
  assert_int_equal(r->state, WDR_RUN_SCHEDULED);
  assert_int_equal(r->next_at_ms, T0);
}

static void test_corrupt_documents(void **state) {
  (void)state;
  parse_error("", "empty, or contains a NUL byte");
  parse_error_len("{\"version\":1}\0{}", 16, "empty, or contains a NUL byte");
  parse_error("garbage", "not JSON: *");
  parse_error("{\"version\":1,", "not JSON: *");
  /* Truncated: a valid state cut short. */
  add_golden_run(g_p);
  serialize(g_p, T0);
  /* (Without only its last newline a snapshot is whole: every record is.) */
  const size_t cuts[] = {g_buf.len - 3, g_buf.len - 2, g_buf.len / 2, 1};
  for (size_t i = 0; i < 4; i++) {
    char *cut = strndup(wdr_buf_str(&g_buf), cuts[i]);
    assert_non_null(cut);
    wdr_policy_destroy(g_q);
    g_q = new_policy(100);
    wdr_state_stats_t stats;
    char err[256] = "";
    int rc = wdr_state_parse(cut, cuts[i], g_q, g_names, 3, T0, &stats, err,
                             sizeof(err));
    free(cut);
    assert_int_equal(rc, -1);
    if (strstr(err, "not JSON: ") == NULL)
      fail_msg("cut at %zu: %s", cuts[i], err);
  }

  /* Nested deeper than any state can be: refused before a tree is built
   * (a recursive build of 100,000 levels overflows a thread's stack). */
  size_t depth = 100000;
  char *deep = malloc(2 * depth + 1);
  assert_non_null(deep);
  memset(deep, '[', depth);
  memset(deep + depth, ']', depth);
  deep[2 * depth] = '\0';
  parse_error(deep, "not JSON: nests deeper than 32 levels");
  free(deep);

  parse_error("[]", "no version");
  parse_error("42", "no version");
  parse_error("null", "no version");
  parse_error("{\"runs\":[],\"budget\":{}}", "no version");
  parse_error("{\"version\":\"1\",\"runs\":[],\"budget\":{}}", "no version");
  parse_error("{\"version\":1.0,\"runs\":[],\"budget\":{}}", "no version");
  parse_error("{\"version\":-1,\"runs\":[],\"budget\":{}}", "no version");
  parse_error("{\"version\":2,\"runs\":[],\"budget\":{}}",
              "the header is not a version-2 snapshot header (kind, journal)");
  parse_error("{\"version\":2,\"kind\":\"journal\",\"journal\":1}\n",
              "the header is not a version-2 snapshot header (kind, journal)");
  parse_error("{\"version\":2,\"kind\":\"snapshot\",\"journal\":1}\n"
              "{\"run\":{}}\n",
              "line 2: the run is malformed");
  parse_error("{\"version\":2,\"kind\":\"snapshot\",\"journal\":1}\n"
              "{\"rerun\":{}}\n",
              "line 2: unknown record \"rerun\"");
  parse_error("{\"version\":2,\"kind\":\"snapshot\",\"journal\":1}\n"
              "[1]\n",
              "line 2: not a record");
  parse_error("{\"version\":0,\"runs\":[],\"budget\":{}}",
              "version 0, expected 1 or 2");
  parse_error("{\"version\":1,\"budget\":{}}",
              "no runs array or budget object");
  parse_error("{\"version\":1,\"runs\":[]}", "no runs array or budget object");
  parse_error("{\"version\":1,\"runs\":{},\"budget\":{}}",
              "no runs array or budget object");
  parse_error("{\"version\":1,\"runs\":[],\"budget\":[]}",
              "no runs array or budget object");
  parse_error("{\"version\":1,\"runs\":[],\"budget\":null}",
              "no runs array or budget object");

  /* A workflow's budget that is not an array of integers. */
  parse_error("{\"version\":1,\"runs\":[],\"budget\":{\"etl\":5}}",
              "budget of \"etl\" is not an array");
  parse_error("{\"version\":1,\"runs\":[],\"budget\":{\"gone\":{}}}",
              "budget of \"gone\" is not an array");
  parse_error("{\"version\":1,\"runs\":[],\"budget\":{\"etl\":[1,1.5]}}",
              "budget of \"etl\" holds a non-integer");
  parse_error("{\"version\":1,\"runs\":[],\"budget\":{\"etl\":[\"1\"]}}",
              "budget of \"etl\" holds a non-integer");
  parse_error("{\"version\":1,\"runs\":[],\"budget\":{\"etl\":[null]}}",
              "budget of \"etl\" holds a non-integer");
}

static void test_corrupt_runs(void **state) {
  (void)state;
  /* Not an object. */
  parse_error("{\"version\":1,\"runs\":[5],\"budget\":{}}",
              "run 1 is malformed");
  parse_error("{\"version\":1,\"runs\":[[]],\"budget\":{}}",
              "run 1 is malformed");
  /* The second run is named. */
  char run[2048], text[4096];
  run_json(run, sizeof(run), NULL, NULL);
  snprintf(text, sizeof(text), "{\"version\":1,\"runs\":[%s,{}],\"budget\":{}}",
           run);
  parse_error(text, "run 2 is malformed");

  static const char *const keys[] = {
      "workflow",    "execution_id", "state",           "in_flight",
      "attempts",    "tries",        "request_retries", "verify_tries",
      "resigned",    "gave_up",      "first_signal_ms", "last_signal_ms",
      "last_try_ms", "next_at_ms",   "updated_ms",      "last_async_id",
      "last_error"};
  static const char *const strings[] = {"workflow",      "execution_id",
                                        "state",         "in_flight",
                                        "last_async_id", "last_error"};
  static const char *const bools[] = {"resigned", "gave_up"};
  static const char *const ints[] = {
      "attempts",     "tries",           "request_retries",
      "verify_tries", "first_signal_ms", "last_signal_ms",
      "last_try_ms",  "next_at_ms",      "updated_ms"};

  /* Every field is required. */
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    run_field_error(keys[i], NULL);
  /* Wrong types. */
  for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
    run_field_error(strings[i], "1");
    run_field_error(strings[i], "null");
    run_field_error(strings[i], "[\"x\"]");
  }
  for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
    run_field_error(bools[i], "1");
    run_field_error(bools[i], "\"true\"");
    run_field_error(bools[i], "null");
  }
  for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
    run_field_error(ints[i], "\"1\"");
    run_field_error(ints[i], "1.5");
    run_field_error(ints[i], "true");
    run_field_error(ints[i], "null");
    /* Negative numbers. */
    run_field_error(ints[i], "-1");
  }
  run_field_error("next_at_ms", "-1767225600000");
  /* Counters are bounded. */
  run_field_error("attempts", "1000001");
  run_field_error("tries", "99999999999");

  /* Unknown names. */
  run_field_error("state", "\"done\"");
  run_field_error("state", "\"IDLE\"");
  run_field_error("state", "\"unknown\"");
  run_field_error("state", "\"\"");
  run_field_error("in_flight", "\"both\"");
  run_field_error("in_flight", "\"\"");
  run_field_error("in_flight", "\"bogus\"");
  run_field_error("in_flight", "\"RERUN\"");
  run_field_error("in_flight", "\"Check\"");
  run_field_error("in_flight", "\"follow \"");
  run_field_error("in_flight", "\"in_flight\""); /* a state, not a kind */
  run_field_error("state", "\"ASYNC\"");
  run_field_error("state", "\"following\"");
  run_field_error("state", "\"check\""); /* a kind, not a state */

  /* execution_id: empty or longer than 127 bytes. */
  run_field_error("execution_id", "\"\"");
  char id[200];
  id[0] = '"';
  memset(id + 1, 'x', 128);
  snprintf(id + 129, sizeof(id) - 129, "\"");
  run_field_error("execution_id", id);
  /* 127 is fine. */
  id[128] = '"';
  id[129] = '\0';
  state_json(text, sizeof(text), "execution_id", id);
  parse_ok(text, T0);
  assert_int_equal(wdr_policy_runs_num(g_q), 1);
  assert_int_equal(strlen(CID(wdr_policy_run_at(g_q, 0)->execution_id)), 127);

  /* The other texts are bounded too. */
  memset(id + 1, 'e', 128);
  snprintf(id + 129, sizeof(id) - 129, "\"");
  run_field_error("last_error", id);
  run_field_error("last_async_id", id);

  /* Limits that are fine. */
  state_json(text, sizeof(text), "attempts", "1000000");
  parse_ok(text, T0);
  state_json(text, sizeof(text), "updated_ms", "9223372036854775807");
  parse_ok(text, T0);
  state_json(text, sizeof(text), "track_ms", "9223372036854775807");
  parse_ok(text, T0);
  assert_int_equal(find(g_q, 0, "run-1")->track_ms, INT64_MAX);
  state_json(text, sizeof(text), "track_reads", "1000000");
  parse_ok(text, T0);
  assert_int_equal(find(g_q, 0, "run-1")->track_reads, 1000000);
  memset(id + 1, 's', 127); /* 127 bytes: the longest Status that fits */
  snprintf(id + 128, sizeof(id) - 128, "\"");
  state_json(text, sizeof(text), "async_status", id);
  parse_ok(text, T0);
  assert_int_equal(strlen(wdr_run_text(find(g_q, 0, "run-1")->async_status)),
                   127);
  state_json(text, sizeof(text), "seen_active", "true");
  parse_ok(text, T0);
  assert_true(find(g_q, 0, "run-1")->seen_active);

  /* The fields added later may be left out, each on its own. */
  static const char *const optional[] = {
      "had_accepted", "track_ms", "track_reads", "async_status", "seen_active"};
  for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
    state_json(text, sizeof(text), optional[i], NULL);
    assert_null(strstr(text, optional[i]));
    parse_ok(text, T0);
    assert_non_null(find(g_q, 0, "run-1"));
  }
}

/* The fields TrackAsync added may be left out (a file from before it), but
 * when present they are checked like every other field: a wrong type, a
 * negative or too large number, an over-long text makes the run malformed
 * rather than a silent 0, "" or false (a FOLLOW run whose track_ms read as
 * 0 is LOST at its first read: "not ended within StateRetention"). */
static void test_corrupt_track_fields(void **state) {
  (void)state;
  static const char *const ints[] = {"track_ms", "track_reads"};
  for (size_t i = 0; i < 2; i++) {
    run_field_error(ints[i], "\"1\"");
    run_field_error(ints[i], "1.5");
    run_field_error(ints[i], "true");
    run_field_error(ints[i], "null");
    run_field_error(ints[i], "-1");
  }
  run_field_error("track_reads", "1000001");
  run_field_error("async_status", "1");
  run_field_error("async_status", "null");
  run_field_error("async_status", "[\"x\"]");
  char status[200];
  status[0] = '"';
  memset(status + 1, 's', 128);
  snprintf(status + 129, sizeof(status) - 129, "\"");
  run_field_error("async_status", status);
  run_field_error("seen_active", "1");
  run_field_error("seen_active", "\"true\"");
  run_field_error("seen_active", "null");
}

/* --- files -------------------------------------------------------------- */

static void make_dir(void) {
  snprintf(g_dir, sizeof(g_dir), "/tmp/wdr_test_stateXXXXXX");
  assert_non_null(mkdtemp(g_dir));
}

static size_t dir_entries(void) {
  DIR *d = opendir(g_dir);
  assert_non_null(d);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static void test_write_read_file(void **state) {
  (void)state;
  make_dir();
  char path[256];
  snprintf(path, sizeof(path), "%s/wedata_rerun.state", g_dir);
  fill_source();
  serialize(g_p, T0);

  char err[256] = "";
  mode_t old_mask = umask(022);
  int rc = wdr_state_write_file(path, &g_buf, err, sizeof(err));
  umask(old_mask);
  if (rc != 0)
    fail_msg("write failed: %s", err);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(dir_entries(), 1); /* no temporary file left */

  wdr_buf_t back;
  wdr_buf_init(&back, WDR_STATE_MAX);
  assert_int_equal(wdr_state_read_file(path, &back, err, sizeof(err)), 0);
  assert_int_equal(back.len, g_buf.len);
  assert_string_equal(wdr_buf_str(&back), wdr_buf_str(&g_buf));
  wdr_buf_free(&back, false);

  /* Replacing a file that is readable by all: the new one is 0600. */
  assert_int_equal(chmod(path, 0644), 0);
  wdr_buf_t small;
  wdr_buf_init(&small, 100);
  assert_int_equal(wdr_buf_append_str(&small, "{\"short\":1}"), 0);
  assert_int_equal(wdr_state_write_file(path, &small, err, sizeof(err)), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(dir_entries(), 1);
  wdr_buf_init(&back, WDR_STATE_MAX);
  assert_int_equal(wdr_state_read_file(path, &back, err, sizeof(err)), 0);
  assert_string_equal(wdr_buf_str(&back), "{\"short\":1}"); /* not a mix */
  wdr_buf_free(&back, false);

  /* An empty buffer makes an empty file. */
  wdr_buf_reset(&small);
  assert_int_equal(wdr_state_write_file(path, &small, err, sizeof(err)), 0);
  wdr_buf_free(&small, false);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 0);
  wdr_buf_init(&back, WDR_STATE_MAX);
  assert_int_equal(wdr_state_read_file(path, &back, err, sizeof(err)), 0);
  assert_int_equal(back.len, 0);
  wdr_buf_free(&back, false);
}

/* Appends through one descriptor land in order, the file is created 0600,
 * and a descriptor that points at a replaced file (renamed over) no longer
 * reaches the path: the owner must reopen (the plugin does). */
static void test_append(void **state) {
  (void)state;
  make_dir();
  char path[256], err[256] = "";
  snprintf(path, sizeof(path), "%s/wedata_rerun.state.journal", g_dir);
  int fd = wdr_state_append_open(path, err, sizeof(err));
  assert_true(fd >= 0);
  wdr_buf_t line;
  wdr_buf_init(&line, 100);
  assert_int_equal(wdr_buf_append_str(&line, "{\"a\":1}\n"), 0);
  assert_int_equal(wdr_state_append(fd, path, &line, false, err, sizeof(err)),
                   0);
  assert_int_equal(wdr_state_append(fd, path, &line, true, err, sizeof(err)),
                   0);
  wdr_buf_t back;
  wdr_buf_init(&back, WDR_STATE_MAX);
  assert_int_equal(wdr_state_read_file(path, &back, err, sizeof(err)), 0);
  assert_string_equal(wdr_buf_str(&back), "{\"a\":1}\n{\"a\":1}\n");
  wdr_buf_free(&back, false);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  /* Replaced: the old descriptor writes into the unlinked file. */
  assert_int_equal(wdr_state_write_file(path, &line, err, sizeof(err)), 0);
  assert_int_equal(wdr_state_append(fd, path, &line, true, err, sizeof(err)),
                   0);
  wdr_buf_init(&back, WDR_STATE_MAX);
  assert_int_equal(wdr_state_read_file(path, &back, err, sizeof(err)), 0);
  assert_string_equal(wdr_buf_str(&back), "{\"a\":1}\n");
  wdr_buf_free(&back, false);
  wdr_state_append_close(&fd);
  assert_int_equal(fd, -1);
  wdr_state_append_close(&fd); /* twice is fine */
  /* A closed descriptor: the append fails and says where. */
  assert_int_equal(wdr_state_append(-1, path, &line, false, err, sizeof(err)),
                   -1);
  assert_non_null(strstr(err, "write"));
  assert_non_null(strstr(err, path));
  wdr_buf_free(&line, false);
  /* A folder that does not exist: open fails and says so. */
  snprintf(path, sizeof(path), "%s/no/such/journal", g_dir);
  assert_int_equal(wdr_state_append_open(path, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "open"));
}

/* A snapshot in parts is the whole one, part for part; a cursor past the
 * runs (runs removed meanwhile) ends it. */
static void test_serialize_in_parts(void **state) {
  (void)state;
  fill_source();
  serialize(g_p, T0);
  wdr_buf_t parts;
  wdr_buf_init(&parts, WDR_STATE_MAX);
  assert_int_equal(wdr_state_snapshot_header(1, T0, NULL, &parts), 0);
  size_t cursor = 0, calls = 0;
  bool last = false;
  while (!last) {
    assert_int_equal(wdr_state_serialize_part(g_p, g_names, g_persist, 3,
                                              &cursor, 3, &parts, &last),
                     0);
    calls++;
  }
  assert_int_equal(calls, (wdr_policy_runs_num(g_p) + 2) / 3);
  assert_string_equal(wdr_buf_str(&parts), wdr_buf_str(&g_buf));
  wdr_buf_reset(&parts);
  cursor = wdr_policy_runs_num(g_p) + 5;
  assert_int_equal(wdr_state_serialize_part(g_p, g_names, g_persist, 3, &cursor,
                                            3, &parts, &last),
                   0);
  assert_true(last);
  assert_int_equal(cursor, wdr_policy_runs_num(g_p));
  assert_null(strstr(wdr_buf_str(&parts), "\"run\""));
  wdr_buf_free(&parts, false);
}

static void test_read_errors(void **state) {
  (void)state;
  make_dir();
  char path[256], err[256] = "";
  wdr_buf_t buf;
  wdr_buf_init(&buf, WDR_STATE_MAX);

  /* Missing: 1, nothing read. */
  snprintf(path, sizeof(path), "%s/missing.state", g_dir);
  assert_int_equal(wdr_state_read_file(path, &buf, err, sizeof(err)), 1);
  assert_int_equal(buf.len, 0);
  snprintf(path, sizeof(path), "%s/no/such/folder/x.state", g_dir);
  assert_int_equal(wdr_state_read_file(path, &buf, err, sizeof(err)), 1);

  /* A folder cannot be read. */
  assert_int_equal(wdr_state_read_file(g_dir, &buf, err, sizeof(err)), -1);
  assert_string_equal(err, "read: Is a directory");

  /* Larger than the buffer allows. */
  snprintf(path, sizeof(path), "%s/big.state", g_dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "0123456789abcdef", 16), 16);
  close(fd);
  wdr_buf_free(&buf, false);
  wdr_buf_init(&buf, 8);
  assert_int_equal(wdr_state_read_file(path, &buf, err, sizeof(err)), -1);
  assert_true(strncmp(err, "larger than ", 12) == 0);
  wdr_buf_free(&buf, false);

  /* Not readable (unless we are root, who reads anything). */
  if (geteuid() != 0) {
    assert_int_equal(chmod(path, 0), 0);
    wdr_buf_init(&buf, WDR_STATE_MAX);
    assert_int_equal(wdr_state_read_file(path, &buf, err, sizeof(err)), -1);
    assert_string_equal(err, "open: Permission denied");
    wdr_buf_free(&buf, false);
  }
}

static void test_write_errors(void **state) {
  (void)state;
  make_dir();
  char path[256], err[256] = "", want[512];
  wdr_buf_t data;
  wdr_buf_init(&data, 100);
  assert_int_equal(wdr_buf_append_str(&data, "{}"), 0);

  /* Into a folder that does not exist: the open of the temporary file. */
  snprintf(path, sizeof(path), "%s/missing/wedata_rerun.state", g_dir);
  assert_int_equal(wdr_state_write_file(path, &data, err, sizeof(err)), -1);
  snprintf(want, sizeof(want), "open %s.tmp-%ld: No such file or directory",
           path, (long)getpid());
  assert_string_equal(err, want);

  /* Over a folder: the rename fails, and the temporary file goes. */
  snprintf(path, sizeof(path), "%s/taken", g_dir);
  assert_int_equal(mkdir(path, 0700), 0);
  assert_int_equal(wdr_state_write_file(path, &data, err, sizeof(err)), -1);
  snprintf(want, sizeof(want), "rename %s.tmp-%ld: Is a directory", path,
           (long)getpid());
  assert_string_equal(err, want);
  assert_int_equal(dir_entries(), 1); /* only the folder "taken" */

  /* A path too long for the temporary name. */
  char long_path[5000];
  memset(long_path, 'p', sizeof(long_path) - 1);
  long_path[sizeof(long_path) - 1] = '\0';
  assert_int_equal(wdr_state_write_file(long_path, &data, err, sizeof(err)),
                   -1);
  assert_string_equal(err, "path too long");
  wdr_buf_free(&data, false);
}

static void test_move_aside(void **state) {
  (void)state;
  make_dir();
  char path[256], aside[512], want[512];
  snprintf(path, sizeof(path), "%s/wedata_rerun.state", g_dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "corrupt", 7), 7);
  close(fd);

  assert_int_equal(wdr_state_move_aside(path, 1767225600, aside, sizeof(aside)),
                   0);
  snprintf(want, sizeof(want), "%s.corrupt-1767225600", path);
  assert_string_equal(aside, want);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(errno, ENOENT);
  char *moved = test_read_file(aside, NULL);
  assert_string_equal(moved, "corrupt");
  free(moved);

  /* Nothing to move. */
  assert_int_equal(wdr_state_move_aside(path, 1767225601, aside, sizeof(aside)),
                   -1);
  /* The new name does not fit: nothing is moved. */
  assert_int_equal(rename(want, path), 0);
  char tiny[16];
  assert_int_equal(wdr_state_move_aside(path, 1767225602, tiny, sizeof(tiny)),
                   -1);
  assert_int_equal(access(path, F_OK), 0);
}

/* The lock: a second process is refused and told who holds it; the lock
 * goes with its holder, also when the holder dies. */
static void test_lock(void **state) {
  (void)state;
  make_dir();
  char path[256], err[256];
  snprintf(path, sizeof(path), "%s/wedata_rerun.state", g_dir);
  long holder = -1;
  int fd = wdr_state_lock(path, &holder, err, sizeof(err));
  assert_true(fd >= 0);
  char lock_path[300];
  snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
  char *text = test_read_file(lock_path, NULL);
  char want[32];
  snprintf(want, sizeof(want), "%ld\n", (long)getpid());
  assert_string_equal(text, want);
  free(text);

  /* Another process: refused, with our pid. */
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    long h = 0;
    char e[256];
    int rc = wdr_state_lock(path, &h, e, sizeof(e));
    char line[300];
    int n = snprintf(line, sizeof(line), "%d %ld %s", rc, h, e);
    if (write(pipefd[1], line, (size_t)n) != n)
      _exit(2);
    _exit(0);
  }
  close(pipefd[1]);
  char got[300] = "";
  assert_true(read(pipefd[0], got, sizeof(got) - 1) > 0);
  close(pipefd[0]);
  waitpid(child, NULL, 0);
  char expect[300];
  snprintf(expect, sizeof(expect), "-2 %ld held by process %ld", (long)getpid(),
           (long)getpid());
  assert_string_equal(got, expect);

  /* Released: another process takes it (and the holder's death frees it
   * without an unlock). */
  wdr_state_unlock(fd);
  child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    long h = 0;
    char e[256];
    _exit(wdr_state_lock(path, &h, e, sizeof(e)) >= 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  fd = wdr_state_lock(path, &holder, err, sizeof(err));
  assert_true(fd >= 0);
  wdr_state_unlock(fd);

  /* No folder: an error, not a holder. */
  holder = -1;
  assert_int_equal(
      wdr_state_lock("/nonexistent/dir/state", &holder, err, sizeof(err)), -1);
  assert_int_equal(holder, 0);
  assert_non_null(strstr(err, "No such file or directory"));
}

/* Temporary files of a crashed write go; nothing else does. */
static void test_remove_temps(void **state) {
  (void)state;
  make_dir();
  /* The first four go. */
  const char *names[] = {"wedata_rerun.state.tmp-123",
                         "wedata_rerun.state.tmp-9",
                         "wedata_rerun.state.journal.tmp-77",
                         "wedata_rerun.state.journal.next.tmp-78",
                         "wedata_rerun.state",
                         "wedata_rerun.state.corrupt-1767225600",
                         "wedata_rerun.state.tmp-",
                         "wedata_rerun.state.tmp-12x",
                         "other.state.tmp-123",
                         "wedata_rerun.state.journal",
                         "wedata_rerun.state.journal.nextx.tmp-1",
                         "wedata_rerun.state.lock"};
  const size_t names_num = sizeof(names) / sizeof(names[0]);
  for (size_t i = 0; i < names_num; i++) {
    char p[300];
    snprintf(p, sizeof(p), "%s/%s", g_dir, names[i]);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
  }
  char path[256];
  snprintf(path, sizeof(path), "%s/wedata_rerun.state", g_dir);
  assert_int_equal(wdr_state_remove_temps(path), 4);
  for (size_t i = 0; i < names_num; i++) {
    char p[300];
    snprintf(p, sizeof(p), "%s/%s", g_dir, names[i]);
    assert_int_equal(access(p, F_OK) == 0, i >= 4);
  }
  assert_int_equal(wdr_state_remove_temps(path), 0);
  assert_int_equal(wdr_state_remove_temps("/nonexistent/dir/state"), -1);
}

/* The config a snapshot was written under is in its header; a workflow
 * whose digest differs now is "changed", one without a recorded digest is
 * not (unknown), and either way the next snapshot should record it. The
 * runs a permanent error stopped in a changed workflow are released. */
static void test_config_digests(void **state) {
  (void)state;
  const char *was[] = {"aaaa", "bbbb", ""};
  wdr_state_config_t then = {g_names, was, 3};
  wdr_buf_t head;
  wdr_buf_init(&head, 4096);
  assert_int_equal(wdr_state_snapshot_header(7, T0, &then, &head), 0);
  assert_string_equal(wdr_buf_str(&head),
                      "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":"
                      "1767225600000,\"journal\":7,\"config\":{\"etl\":"
                      "\"aaaa\",\"hourly\":\"bbbb\"}}\n");
  bool changed[3], unrecorded = true;
  /* The same config: nothing changed, nothing to record. */
  assert_int_equal(wdr_state_config_changed(wdr_buf_str(&head), head.len, &then,
                                            changed, &unrecorded),
                   0);
  assert_false(unrecorded);
  /* hourly changed; dry is known now but was not recorded. */
  const char *now[] = {"aaaa", "cccc", "dddd"};
  wdr_state_config_t cfg = {g_names, now, 3};
  assert_int_equal(wdr_state_config_changed(wdr_buf_str(&head), head.len, &cfg,
                                            changed, &unrecorded),
                   1);
  assert_false(changed[0]);
  assert_true(changed[1]);
  assert_false(changed[2]);
  assert_true(unrecorded);
  /* No config in the header (older versions), or no header: unknown. */
  wdr_buf_reset(&head);
  assert_int_equal(wdr_state_snapshot_header(7, T0, NULL, &head), 0);
  assert_int_equal(wdr_state_config_changed(wdr_buf_str(&head), head.len, &cfg,
                                            changed, &unrecorded),
                   0);
  assert_true(unrecorded);
  assert_int_equal(
      wdr_state_config_changed("{\"runs\":[]}", 11, &cfg, changed, &unrecorded),
      0);
  assert_int_equal(
      wdr_state_config_changed("[[[[", 4, &cfg, changed, &unrecorded), 0);
  wdr_buf_free(&head, false);

  /* Releasing: only the changed workflow's permanent runs. */
  wdr_run_t r = make_run(0, "stopped-etl", WDR_RUN_PERMANENT, 1);
  restore(g_p, &r, T0);
  r = make_run(1, "stopped-hourly", WDR_RUN_PERMANENT, 2);
  restore(g_p, &r, T0);
  r = make_run(1, "idle-hourly", WDR_RUN_SCHEDULED, 3);
  restore(g_p, &r, T0);
  assert_int_equal(wdr_policy_release_permanent(g_p, 1), 1);
  assert_int_equal(find(g_p, 1, "stopped-hourly")->state, WDR_RUN_IDLE);
  assert_int_equal(find(g_p, 0, "stopped-etl")->state, WDR_RUN_PERMANENT);
  assert_int_equal(find(g_p, 1, "idle-hourly")->state, WDR_RUN_SCHEDULED);
  assert_int_equal(wdr_policy_release_permanent(g_p, 1), 0);
}

/* --- for a reader without a config (the state tool) ---------------------- */

/* Every workflow a snapshot and its journals name, once each, sorted, with
 * the longest budget window each has; lines that are not records (a
 * header, a line cut short, garbage) are passed over. */
static void test_workflows(void **state) {
  (void)state;
  const char *snapshot =
      "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":1,\"journal\":4,"
      "\"config\":{\"only_in_config\":\"d\"}}\n"
      "{\"run\":{\"workflow\":\"zeta\",\"execution_id\":\"a\"}}\n"
      "{\"run\":{\"workflow\":\"alpha\",\"execution_id\":\"b\"}}\n"
      "{\"run\":{\"workflow\":\"zeta\",\"execution_id\":\"c\"}}\n"
      "{\"budget\":{\"workflow\":\"alpha\",\"sent\":[1,2,3]}}\n"
      /* A key given twice: the first counts, as on load. */
      "{\"forget\":{\"workflow\":\"alpha\",\"workflow\":\"dup\","
      "\"execution_id\":\"y\"}}\n";
  const char *journal =
      "{\"version\":2,\"kind\":\"journal\",\"saved_ms\":1,\"journal\":4}\n"
      "{\"forget\":{\"workflow\":\"gone\",\"execution_id\":\"x\"}}\n"
      "{\"budget\":{\"sent\":[1],\"workflow\":\"alpha\"}}\n"
      "not json\n"
      "{\"run\":{\"workflow\":\"cut";
  const char *next =
      "{\"version\":2,\"kind\":\"journal\",\"saved_ms\":1,\"journal\":5}\n"
      "{\"budget\":{\"workflow\":\"beta\",\"sent\":[1,2,3,4,5]}}\n";
  const char *journals[] = {journal, next};
  const size_t lens[] = {strlen(journal), strlen(next)};
  wdr_state_workflow_t *w = NULL;
  size_t n = 0;
  assert_int_equal(wdr_state_workflows(snapshot, strlen(snapshot), journals,
                                       lens, 2, &w, &n),
                   0);
  assert_int_equal(n, 4);
  const char *want[] = {"alpha", "beta", "gone", "zeta"};
  const size_t budget[] = {3, 5, 0, 0};
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(w[i].name, want[i]);
    assert_int_equal(w[i].budget_max, budget[i]);
  }
  wdr_state_workflows_free(w, n);

  /* Version 1: the runs' workflows and the budget's keys. */
  const char *v1 = "{\"version\":1,\"runs\":[{\"workflow\":\"old\"},"
                   "{\"workflow\":\"b\"},{\"workflow\":\"old\"}],"
                   "\"budget\":{\"b\":[1,2],\"c\":[]}}";
  assert_int_equal(wdr_state_workflows(v1, strlen(v1), NULL, NULL, 0, &w, &n),
                   0);
  assert_int_equal(n, 3);
  assert_string_equal(w[0].name, "b");
  assert_int_equal(w[0].budget_max, 2);
  assert_string_equal(w[1].name, "c");
  assert_string_equal(w[2].name, "old");
  wdr_state_workflows_free(w, n);

  /* Nothing named: none, and NULL. */
  const char *empty =
      "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":1,\"journal\":1}\n";
  assert_int_equal(
      wdr_state_workflows(empty, strlen(empty), NULL, NULL, 0, &w, &n), 0);
  assert_int_equal(n, 0);
  assert_null(w);
}

/* Many workflows, records interleaved: each once, in order. */
static void test_workflows_many(void **state) {
  (void)state;
  wdr_buf_t text;
  wdr_buf_init(&text, WDR_STATE_MAX);
  assert_int_equal(wdr_state_snapshot_header(1, T0, NULL, &text), 0);
  for (int i = 0; i < 3000; i++) {
    char name[32];
    snprintf(name, sizeof(name), "wf-%04d", (i * 7919) % 1000);
    assert_int_equal(wdr_state_record_forget(name, "x", &text), 0);
  }
  wdr_state_workflow_t *w = NULL;
  size_t n = 0;
  assert_int_equal(
      wdr_state_workflows(wdr_buf_str(&text), text.len, NULL, NULL, 0, &w, &n),
      0);
  wdr_buf_free(&text, false);
  assert_int_equal(n, 1000);
  for (size_t i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof(name), "wf-%04zu", i);
    assert_string_equal(w[i].name, name);
  }
  wdr_state_workflows_free(w, n);
}

/* cfg.verbatim: runs go in as stored, none of a restart's changes (an
 * in-flight rerun read back, following switched off, a credentials stop
 * released). */
static void test_verbatim_restore(void **state) {
  (void)state;
  wdr_policy_wf_t wf = {.max_attempts = 1,
                        .retry_interval_ms = MIN,
                        .max_retry_interval_ms = HOUR};
  wdr_policy_t *p = wdr_policy_create(&(wdr_policy_cfg_t){
      .wf = &wf, .wf_num = 1, .max_runs = 10, .verbatim = true});
  assert_non_null(p);
  wdr_run_t r = make_run(0, "flying", WDR_RUN_IN_FLIGHT, 3);
  r.in_flight = WDR_JOB_RERUN;
  assert_int_equal(wdr_policy_restore(p, &r, T0), 0);
  wdr_run_clear(&r);
  r = make_run(0, "followed", WDR_RUN_FOLLOW, 4);
  assert_int_equal(wdr_policy_restore(p, &r, T0), 0);
  wdr_run_clear(&r);
  r = make_run(0, "stopped", WDR_RUN_PERMANENT, 5);
  set_textf(&r.last_error, "AuthFailure.SecretIdNotFound");
  assert_int_equal(wdr_policy_restore(p, &r, T0), 0);
  wdr_run_clear(&r);
  assert_int_equal(find(p, 0, "flying")->state, WDR_RUN_IN_FLIGHT);
  assert_int_equal(find(p, 0, "flying")->next_at_ms, T0 + 3000);
  assert_int_equal(find(p, 0, "followed")->state, WDR_RUN_FOLLOW);
  assert_int_equal(find(p, 0, "stopped")->state, WDR_RUN_PERMANENT);
  wdr_policy_destroy(p);
}

/* Which file was read, and what the path names afterwards: the same file
 * grown, another file renamed over it, or none. */
static void test_file_ids(void **state) {
  (void)state;
  make_dir();
  char path[256], other[256], err[256] = "";
  snprintf(path, sizeof(path), "%s/s", g_dir);
  snprintf(other, sizeof(other), "%s/o", g_dir);
  wdr_buf_t b;
  wdr_buf_init(&b, WDR_STATE_MAX);
  wdr_state_file_id_t id, now;
  assert_int_equal(wdr_state_read_file_id(path, &b, &id, err, sizeof(err)), 1);
  assert_false(id.exists);
  wdr_state_file_id_now(path, &now);
  assert_false(now.exists);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("abc", f);
  fclose(f);
  assert_int_equal(wdr_state_read_file_id(path, &b, &id, err, sizeof(err)), 0);
  assert_true(id.exists);
  assert_int_equal(id.size, 3);
  f = fopen(path, "a");
  fputs("de", f);
  fclose(f);
  wdr_state_file_id_now(path, &now);
  assert_true(now.exists);
  assert_int_equal(now.ino, id.ino);
  assert_int_equal(now.size, 5);
  f = fopen(other, "w");
  fclose(f);
  assert_int_equal(rename(other, path), 0);
  wdr_state_file_id_now(path, &now);
  assert_true(now.ino != id.ino || now.dev != id.dev);
  wdr_buf_free(&b, false);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_config_digests),
      T(test_lock),
      T(test_journal_replay),
      T(test_remove_temps),
      T(test_round_trip),
      T(test_round_trip_live),
      T(test_golden),
      T(test_file_before_track),
      T(test_in_flight_kinds_round_trip),
      T(test_in_flight_restored),
      T(test_track_states_round_trip),
      T(test_empty),
      T(test_unknown_workflows),
      T(test_rejected_runs),
      T(test_template_is_valid),
      T(test_corrupt_documents),
      T(test_corrupt_runs),
      T(test_corrupt_track_fields),
      T(test_write_read_file),
      T(test_append),
      T(test_serialize_in_parts),
      T(test_read_errors),
      T(test_write_errors),
      T(test_move_aside),
      T(test_workflows),
      T(test_workflows_many),
      T(test_verbatim_restore),
      T(test_file_ids),
  };
  return cmocka_run_group_tests_name("wdr_state", tests, NULL, NULL);
}
