/* wdr_poll: which listings of runs go out and when, what their answers lead
 * to. A real parsed config, real counters (read back as the read callback
 * would emit them), a fake sink that records log lines, a fake clock (plain
 * milliseconds) and fixed random values, so every outcome is exact. */
#include "testutil.h"

#include "fake_sink.h"
#include "oconfig_build.h"
#include "wdr_config.h"
#include "wdr_metrics.h"
#include "wdr_poll.h"

#define T0 1767225600000LL /* 2026-01-01 00:00:00 UTC */
#define SEC 1000LL
#define MIN (60 * SEC)
#define INTERVAL MIN        /* PollInterval 60 */
#define LOOKBACK (60 * MIN) /* PollLookback 3600 */

/* The default config: two projects with polled workflows, a non-polled
 * workflow in one of them, and a project with no polled workflow at all. */
typedef struct {
  const char *name, *project, *id;
  bool poll;
} wf_spec_t;

enum { A1, A2, B1, QUIET, B2, C1 };
static const wf_spec_t g_default[] = {
    [A1] = {"a1", "P1", "wf-a1", true},
    [A2] = {"a2", "P1", "wf-a2", true},
    [B1] = {"b1", "P2", "wf-b1", true},
    [QUIET] = {"quiet", "P1", "wf-q", false},
    [B2] = {"b2", "P2", "wf-b2", true},
    [C1] = {"c1", "P3", "wf-c1", false},
};
#define DEFAULT_NUM (sizeof(g_default) / sizeof(g_default[0]))

/* What a test runs against; the teardown frees it even after a failed
 * assertion. */
static fake_sink_t g_sink;
static oconfig_item_t *g_root;
static size_t g_root_cap;
static wdr_config_t *g_cfg;
static wdr_metrics_t *g_metrics;
static char **g_names;
static wdr_poll_t *g_poll;

/* What found() was given. */
typedef struct {
  size_t wf;
  char id[WDR_ID_MAX];
  int64_t now;
} found_t;
static found_t g_found[16];
static size_t g_found_num;

static int setup(void **state) {
  (void)state;
  fake_sink_init(&g_sink);
  g_found_num = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  wdr_poll_destroy(g_poll);
  wdr_metrics_destroy(g_metrics);
  wdr_config_free(g_cfg);
  ocb_free(g_root);
  free(g_names);
  g_poll = NULL;
  g_metrics = NULL;
  g_cfg = NULL;
  g_root = NULL;
  g_names = NULL;
  fake_sink_free(&g_sink);
  return 0;
}

/* --- building the poll ---------------------------------------------------- */

static const char *no_env(const char *name) {
  (void)name;
  return NULL;
}

/* ocb_child for the <Plugin> block, whose child array is sized up front:
 * the full-queue tests need more workflows than OCB_MAX_CHILDREN. */
static oconfig_item_t *plugin_child(const char *key) {
  assert_true((size_t)g_root->children_num < g_root_cap);
  oconfig_item_t *it = &g_root->children[g_root->children_num++];
  ocb_init(it, key, g_root);
  return it;
}

/* Parses a config with these workflows and MaxRequestRetries, and creates
 * the counters and the poll over it. */
static void create(const wf_spec_t *wfs, size_t n, int max_retries) {
  g_root = ocb_add_str(ocb_root("Plugin"), "wedata_rerun");
  g_root_cap = n + 8;
  free(g_root->children);
  g_root->children = calloc(g_root_cap, sizeof(*g_root->children));
  assert_non_null(g_root->children);
  ocb_add_str(plugin_child("Region"), "ap-guangzhou");
  ocb_add_str(plugin_child("SecretId"), "AKIDtest");
  ocb_add_str(plugin_child("SecretKey"), "keytest");
  ocb_add_num(plugin_child("PollInterval"), (double)INTERVAL / SEC);
  ocb_add_num(plugin_child("PollLookback"), (double)LOOKBACK / SEC);
  ocb_add_num(plugin_child("MaxRequestRetries"), max_retries);
  for (size_t i = 0; i < n; i++) {
    oconfig_item_t *w = ocb_add_str(plugin_child("Workflow"), wfs[i].name);
    ocb_str(w, "ProjectId", wfs[i].project);
    ocb_str(w, "WorkflowId", wfs[i].id);
    ocb_num(w, "ExecuteType", 1);
    if (wfs[i].poll)
      ocb_bool(w, "Poll", 1);
    else /* a workflow needs a Match or Poll */
      ocb_str(ocb_child(w, "Match"), "Plugin", "exec");
  }
  char err[1024] = "";
  if (wdr_config_parse(g_root, no_env, &g_cfg, err, sizeof(err)) != 0)
    fail_msg("wdr_config_parse: %s", err);
  assert_int_equal(g_cfg->workflows_num, n);
  g_names = calloc(n, sizeof(*g_names));
  assert_non_null(g_names);
  for (size_t i = 0; i < n; i++)
    g_names[i] = g_cfg->workflows[i].name;
  g_metrics = wdr_metrics_create(g_cfg);
  assert_non_null(g_metrics);
  g_poll = wdr_poll_create(g_cfg, g_metrics, &g_sink.sink);
  assert_non_null(g_poll);
}

static void create_default(void) { create(g_default, DEFAULT_NUM, 2); }

/* --- reading counters back ------------------------------------------------ */

typedef struct {
  char want[160];
  bool seen;
  uint64_t value;
  uint64_t total; /* every derive value of every workflow */
} probe_t;

static void probe_cb(void *ctx, const wdr_metric_t *m) {
  probe_t *pr = ctx;
  if (!m->is_derive || strcmp(m->plugin, WDR_PLUGIN_NAME) != 0)
    return;
  pr->total += m->derive;
  char id[160];
  snprintf(id, sizeof(id), "%s/%s", m->plugin_instance, m->type_instance);
  if (strcmp(id, pr->want) == 0) {
    pr->seen = true;
    pr->value = m->derive;
  }
}

static probe_t probe(size_t wf, const char *name) {
  probe_t pr = {.seen = false};
  snprintf(pr.want, sizeof(pr.want), "%s/%s", g_names[wf], name);
  wdr_metrics_emit(g_metrics, 0, probe_cb, &pr);
  return pr;
}

/* Workflow wf's counter name, e.g. "polled", "skipped-no_failed_run",
 * "error-InternalError"; it must be emitted. */
static uint64_t cnt(size_t wf, const char *name) {
  probe_t pr = probe(wf, name);
  if (!pr.seen)
    fail_msg("%s was not emitted", pr.want);
  return pr.value;
}

static bool emitted(size_t wf, const char *name) {
  return probe(wf, name).seen;
}

/* The sum of all counters: whatever a test did not expect to be counted
 * shows up here. */
static uint64_t total(void) { return probe(0, "").total; }

/* --- jobs ---------------------------------------------------------------- */

static wdr_poll_job_t take(int64_t now) {
  wdr_poll_job_t job;
  memset(&job, 0xa5, sizeof(job));
  int64_t next = -7;
  assert_true(wdr_poll_take_due(g_poll, now, &job, &next));
  assert_int_equal(next, -7); /* only lowered when nothing is due */
  return job;
}

static void take_none(int64_t now, int64_t want_next) {
  wdr_poll_job_t job;
  int64_t next = INT64_MAX;
  assert_false(wdr_poll_take_due(g_poll, now, &job, &next));
  assert_int_equal(next, want_next);
}

/* The job's WorkflowIds, and the names of the workflows it lists, each
 * joined by spaces. */
static const char *ids_of(const wdr_poll_job_t *j) {
  static char buf[4096];
  buf[0] = '\0';
  for (size_t i = 0; i < j->ids_num; i++)
    snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "",
             j->workflow_ids[i]);
  return buf;
}

static const char *wfs_of(const wdr_poll_job_t *j) {
  static char buf[4096];
  const size_t *wfs = NULL;
  size_t n = wdr_poll_workflows(g_poll, j, &wfs);
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++)
    snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "",
             g_names[wfs[i]]);
  return buf;
}

static void expect_poll(const wdr_poll_job_t *j, const char *project_id,
                        int page, const char *ids, const char *names) {
  assert_false(j->resolve);
  assert_int_equal(j->page, page);
  assert_int_equal(j->tries, 0);
  assert_int_equal(j->not_before, 0);
  assert_string_equal(j->project_id, project_id);
  assert_string_equal(ids_of(j), ids);
  assert_string_equal(wfs_of(j), names);
}

static void expect_search(const wdr_poll_job_t *j, size_t wf, int page,
                          int tries, int64_t not_before) {
  assert_true(j->resolve);
  assert_int_equal(j->wf, wf);
  assert_int_equal(j->page, page);
  assert_int_equal(j->tries, tries);
  assert_int_equal(j->not_before, not_before);
  /* The body names the workflow's project and its one WorkflowId. */
  assert_string_equal(j->project_id, g_default[wf].project);
  assert_string_equal(ids_of(j), g_default[wf].id);
  assert_string_equal(wfs_of(j), g_default[wf].name);
}

/* --- answers ---------------------------------------------------------------
 * Built by hand. wdr_poll_on_answer only reads them, so the items are the
 * caller's arrays and nothing is allocated or freed here. */

static wdr_run_brief_t run(const char *exec, const char *wf_id,
                           const char *state, bool rerun, long long create) {
  wdr_run_brief_t b = {
      .support_rerun = rerun, .rerun_times = 0, .create_ms = create};
  snprintf(b.execution_id, sizeof(b.execution_id), "%s", exec);
  snprintf(b.workflow_id, sizeof(b.workflow_id), "%s", wf_id);
  snprintf(b.state, sizeof(b.state), "%s", state);
  return b;
}

static void on_found(void *ctx, size_t wf, const wdr_run_brief_t *b,
                     int64_t now_ms) {
  assert_ptr_equal(ctx, g_found); /* the caller's ctx comes through */
  assert_true(g_found_num < 16);
  found_t *f = &g_found[g_found_num++];
  f->wf = wf;
  snprintf(f->id, sizeof(f->id), "%s", b->execution_id);
  f->now = now_ms;
}

static void expect_found(size_t i, size_t wf, const char *id, int64_t now) {
  assert_true(i < g_found_num);
  assert_int_equal(g_found[i].wf, wf);
  assert_string_equal(g_found[i].id, id);
  assert_int_equal(g_found[i].now, now);
}

static void answer_page(const wdr_poll_job_t *j, wdr_run_brief_t *items,
                        size_t n, long long total_pages, int64_t now) {
  wdr_answer_t a;
  wdr_answer_init(&a);
  a.res.response.ok = true;
  a.res.http_status = 200;
  a.res.request_sent = true;
  a.runs.items = items;
  a.runs.items_num = n;
  a.runs.total_pages = total_pages;
  wdr_poll_on_answer(g_poll, j, &a, now, 0, on_found, g_found);
}

static void answer_empty(const wdr_poll_job_t *j, int64_t now) {
  answer_page(j, NULL, 0, 0, now);
}

/* An error answer; http_status 0 with a network error means the request
 * went out and nothing usable came back (ambiguous). */
static void answer_error(const wdr_poll_job_t *j, const char *code,
                         const char *msg, int64_t now, uint32_t rnd) {
  wdr_answer_t a;
  wdr_answer_init(&a);
  a.res.request_sent = true;
  a.res.http_status = strcmp(code, WDR_ERR_NETWORK) == 0 ? 0 : 200;
  snprintf(a.res.response.error_code, sizeof(a.res.response.error_code), "%s",
           code);
  snprintf(a.res.response.error_message, sizeof(a.res.response.error_message),
           "%s", msg);
  wdr_poll_on_answer(g_poll, j, &a, now, rnd, on_found, g_found);
}

/* Ticks at now and takes the poll of project_id; the other projects' polls
 * get empty pages, so that they are free again. */
static wdr_poll_job_t poll_of(const char *project_id, int64_t now) {
  assert_int_equal(wdr_poll_tick(g_poll, now), now + INTERVAL);
  wdr_poll_job_t want = {.page = 0};
  while (wdr_poll_waiting(g_poll) > 0) {
    wdr_poll_job_t j = take(now);
    if (!j.resolve && strcmp(j.project_id, project_id) == 0)
      want = j;
    else
      answer_empty(&j, now);
  }
  assert_int_equal(want.page, 1);
  return want;
}

/* --- projects and ticks --------------------------------------------------- */

static void test_projects_grouped(void **state) {
  (void)state;
  create_default();
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  /* One listing per project with polled workflows, in config order; the
   * non-polled workflow in P1 and project P3 are never listed. */
  wdr_poll_tick(g_poll, T0);
  assert_int_equal(wdr_poll_waiting(g_poll), 2);
  wdr_poll_job_t p1 = take(T0), p2 = take(T0);
  expect_poll(&p1, "P1", 1, "wf-a1 wf-a2", "a1 a2");
  expect_poll(&p2, "P2", 1, "wf-b1 wf-b2", "b1 b2");
  assert_int_equal(p1.ids_num, 2);
  assert_int_equal(p2.ids_num, 2);
  assert_int_not_equal(p1.project, p2.project);
  take_none(T0, INT64_MAX);
  fake_sink_expect_none(&g_sink);
  assert_int_equal(total(), 0);
}

static void test_tick_timing(void **state) {
  (void)state;
  create_default();
  /* The first tick polls at once, whatever the clock says. */
  assert_int_equal(wdr_poll_tick(g_poll, T0), T0 + INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 2);
  wdr_poll_job_t p1 = take(T0), p2 = take(T0);
  answer_empty(&p1, T0 + 1);
  answer_empty(&p2, T0 + 1);
  /* Not yet: nothing queued, the same next time. */
  assert_int_equal(wdr_poll_tick(g_poll, T0 + INTERVAL - 1), T0 + INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  assert_int_equal(wdr_poll_tick(g_poll, T0 + INTERVAL), T0 + 2 * INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 2);
  p1 = take(T0 + INTERVAL);
  p2 = take(T0 + INTERVAL);
  answer_empty(&p1, T0 + INTERVAL);
  answer_empty(&p2, T0 + INTERVAL);
  /* A late tick counts the interval from when it ran. */
  assert_int_equal(wdr_poll_tick(g_poll, T0 + 5 * INTERVAL + 7),
                   T0 + 6 * INTERVAL + 7);
  assert_int_equal(wdr_poll_waiting(g_poll), 2);
}

static void test_first_tick_at_zero(void **state) {
  (void)state;
  create_default();
  /* "Never polled" is not confused with a clock reading of 0. */
  assert_int_equal(wdr_poll_tick(g_poll, 0), INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 2);
}

static void test_no_polled_workflows(void **state) {
  (void)state;
  wf_spec_t wfs[DEFAULT_NUM];
  memcpy(wfs, g_default, sizeof(wfs));
  for (size_t i = 0; i < DEFAULT_NUM; i++)
    wfs[i].poll = false;
  create(wfs, DEFAULT_NUM, 2);
  assert_int_equal(wdr_poll_tick(g_poll, T0), INT64_MAX);
  assert_int_equal(wdr_poll_tick(g_poll, T0 + 10 * INTERVAL), INT64_MAX);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  take_none(T0, INT64_MAX);
  /* Searches still work: they do not need Poll. */
  wdr_poll_resolve(g_poll, QUIET, T0);
  wdr_poll_job_t j = take(T0);
  expect_search(&j, QUIET, 1, 0, 0);
}

static void test_busy_project_not_listed_again(void **state) {
  (void)state;
  create_default();
  wdr_poll_tick(g_poll, T0);
  wdr_poll_job_t p1 = take(T0); /* P1 in flight, P2 still waiting */
  expect_poll(&p1, "P1", 1, "wf-a1 wf-a2", "a1 a2");
  assert_int_equal(wdr_poll_tick(g_poll, T0 + INTERVAL), T0 + 2 * INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 1);
  /* P1's listing ends (its last page): P1 is listed at the next tick, P2,
   * still waiting, is not listed twice. */
  wdr_run_brief_t items[] = {run("r1", "wf-a1", "SUCCESS", false, T0)};
  answer_page(&p1, items, 1, 1, T0 + INTERVAL + 1);
  assert_int_equal(wdr_poll_tick(g_poll, T0 + 2 * INTERVAL), T0 + 3 * INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 2);
  wdr_poll_job_t j = take(T0 + 2 * INTERVAL);
  expect_poll(&j, "P2", 1, "wf-b1 wf-b2", "b1 b2");
  j = take(T0 + 2 * INTERVAL);
  expect_poll(&j, "P1", 1, "wf-a1 wf-a2", "a1 a2");
  take_none(T0 + 2 * INTERVAL, INT64_MAX);
}

/* --- what a poll finds -----------------------------------------------------
 */

static void test_found_failed_rerunnable_within_lookback(void **state) {
  (void)state;
  create_default();
  wdr_poll_job_t p1 = poll_of("P1", T0);
  int64_t now = T0 + SEC, cutoff = now - LOOKBACK;
  wdr_run_brief_t items[] = {
      run("r1", "wf-a1", "FAILED", true, T0 - 10 * MIN),  /* found */
      run("r2", "wf-a1", "FAILED", false, T0 - 11 * MIN), /* no rerun */
      run("r3", "wf-a2", "RUNNING", true, T0 - 12 * MIN),
      run("r4", "wf-q", "FAILED", true, T0 - 13 * MIN),  /* not polled */
      run("r5", "wf-a2", "FAILED", true, 0),             /* no CreateTime */
      run("r6", "wf-a2", "FAILED", true, cutoff),        /* just within */
      run("r7", "wf-b1", "FAILED", true, T0 - 14 * MIN), /* not listed */
      run("r8", "wf-a1", "SUCCESS", true, T0 - 15 * MIN),
      run("r9", "wf-a1", "FAILED", true, cutoff - 1), /* too old */
  };
  answer_page(&p1, items, sizeof(items) / sizeof(items[0]), 1, now);
  assert_int_equal(g_found_num, 3);
  expect_found(0, A1, "r1", now);
  expect_found(1, A2, "r5", now);
  expect_found(2, A2, "r6", now);
  /* Every run of a listed workflow within PollLookback is polled; the
   * failed rerunnable ones are signals as well. */
  assert_int_equal(cnt(A1, "polled"), 3);
  assert_int_equal(cnt(A1, "signals"), 1);
  assert_int_equal(cnt(A2, "polled"), 3);
  assert_int_equal(cnt(A2, "signals"), 2);
  assert_int_equal(total(), 9);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  fake_sink_expect_none(&g_sink);
}

static void test_paging_follows_pages(void **state) {
  (void)state;
  create_default();
  wdr_poll_job_t j = poll_of("P1", T0);
  wdr_run_brief_t page1[] = {run("r1", "wf-a1", "SUCCESS", true, T0 - MIN),
                             run("r2", "wf-a2", "RUNNING", true, T0 - MIN)};
  answer_page(&j, page1, 2, 3, T0 + SEC);
  assert_int_equal(wdr_poll_waiting(g_poll), 1);
  j = take(T0 + SEC);
  expect_poll(&j, "P1", 2, "wf-a1 wf-a2", "a1 a2");
  /* While the pages go on, P1 stays busy: a tick lists only P2. */
  assert_int_equal(wdr_poll_tick(g_poll, T0 + INTERVAL), T0 + 2 * INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 1);
  wdr_poll_job_t p2 = take(T0 + INTERVAL);
  expect_poll(&p2, "P2", 1, "wf-b1 wf-b2", "b1 b2");
  answer_empty(&p2, T0 + INTERVAL);

  wdr_run_brief_t page2[] = {run("r3", "wf-a2", "FAILED", true, T0 - MIN)};
  answer_page(&j, page2, 1, 3, T0 + INTERVAL);
  expect_found(0, A2, "r3", T0 + INTERVAL);
  j = take(T0 + INTERVAL);
  expect_poll(&j, "P1", 3, "wf-a1 wf-a2", "a1 a2");
  /* The last page: nothing more, and P1 is free for the next tick. */
  wdr_run_brief_t page3[] = {run("r4", "wf-a1", "SUCCESS", true, T0 - MIN)};
  answer_page(&j, page3, 1, 3, T0 + INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  assert_int_equal(g_found_num, 1);
  assert_int_equal(cnt(A1, "polled"), 2);
  assert_int_equal(cnt(A2, "polled"), 2);
  assert_int_equal(cnt(A2, "signals"), 1);
  assert_int_equal(total(), 5);
  assert_int_equal(wdr_poll_tick(g_poll, T0 + 2 * INTERVAL), T0 + 3 * INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 2);
  fake_sink_expect_none(&g_sink);
}

static void test_paging_stops(void **state) {
  (void)state;
  create_default();
  int64_t now = T0;
  wdr_run_brief_t fresh = run("r1", "wf-a1", "SUCCESS", true, T0 - MIN);
  /* A run before the cutoff: the later pages are older still. */
  wdr_poll_job_t j = poll_of("P1", now);
  wdr_run_brief_t old[] = {
      fresh, run("r0", "wf-a2", "FAILED", true, now - LOOKBACK - 1)};
  answer_page(&j, old, 2, 5, now);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  assert_int_equal(g_found_num, 0);
  /* The last page. */
  now += INTERVAL;
  j = poll_of("P1", now);
  answer_page(&j, &fresh, 1, 1, now);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  /* An empty page, whatever TotalPageNumber says. */
  now += INTERVAL;
  j = poll_of("P1", now);
  answer_page(&j, NULL, 0, 5, now);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  /* No TotalPageNumber. */
  now += INTERVAL;
  j = poll_of("P1", now);
  answer_page(&j, &fresh, 1, 0, now);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  /* Each listing ended, so P1 is listed again (poll_of checks that). */
  j = poll_of("P1", now + INTERVAL);
  assert_int_equal(cnt(A1, "polled"), 3);
  assert_int_equal(total(), 3);
  fake_sink_expect_none(&g_sink);
}

/* --- searches (a failure signal without a run id) ------------------------- */

static void test_search_dedup(void **state) {
  (void)state;
  create_default();
  wdr_poll_tick(g_poll, T0); /* P1 and P2 waiting: polls do not cover it */
  wdr_poll_resolve(g_poll, A1, T0);
  wdr_poll_resolve(g_poll, A1, T0 + 1); /* covered by the waiting one */
  wdr_poll_resolve(g_poll, QUIET, T0 + 2);
  assert_int_equal(wdr_poll_waiting(g_poll), 4);
  take(T0);
  take(T0);
  wdr_poll_job_t j = take(T0);
  expect_search(&j, A1, 1, 0, 0);
  j = take(T0);
  expect_search(&j, QUIET, 1, 0, 0); /* any workflow, polled or not */
  /* Once it has been taken, a new signal needs a new search. */
  wdr_poll_resolve(g_poll, A1, T0 + 3);
  assert_int_equal(wdr_poll_waiting(g_poll), 1);
  assert_int_equal(total(), 0);
  fake_sink_expect_none(&g_sink);
}

static void test_search_finds_newest_failed(void **state) {
  (void)state;
  create_default();
  wdr_poll_resolve(g_poll, A2, T0);
  wdr_poll_job_t j = take(T0);
  expect_search(&j, A2, 1, 0, 0);
  wdr_run_brief_t items[] = {
      run("r1", "wf-a2", "RUNNING", true, T0 - MIN),
      run("r2", "wf-a2", "FAILED", false, T0 - 2 * MIN), /* no rerun */
      run("r3", "wf-a2", "FAILED", true, T0 - 3 * MIN),  /* the newest */
      run("r4", "wf-a2", "FAILED", true, T0 - 4 * MIN),
  };
  answer_page(&j, items, 4, 3, T0 + SEC);
  assert_int_equal(g_found_num, 1);
  expect_found(0, A2, "r3", T0 + SEC);
  fake_sink_expect_log(&g_sink, WDR_LOG_INFO,
                       "workflow a2: a failure signal without a run id means "
                       "its newest failed run, r3");
  fake_sink_expect_none(&g_sink);
  /* Found: no next page; a search counts neither polled runs nor signals
   * (the signal was counted when it came). */
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  assert_int_equal(total(), 0);
}

static void test_search_without_failed_run(void **state) {
  (void)state;
  create_default();
  wdr_poll_resolve(g_poll, A1, T0);
  wdr_poll_job_t j = take(T0);
  /* Page 1: nothing failed that is A1's and rerunnable; page 2 follows. */
  wdr_run_brief_t page1[] = {run("r1", "wf-a1", "SUCCESS", true, T0 - MIN),
                             run("r2", "wf-a1", "FAILED", false, T0 - MIN),
                             run("r3", "wf-a2", "FAILED", true, T0 - MIN)};
  answer_page(&j, page1, 3, 2, T0);
  j = take(T0);
  expect_search(&j, A1, 2, 0, 0);
  /* Page 2: a failed run, but before the cutoff. */
  wdr_run_brief_t page2[] = {
      run("r4", "wf-a1", "FAILED", true, T0 - LOOKBACK - 1)};
  answer_page(&j, page2, 1, 2, T0);
  assert_int_equal(g_found_num, 0);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  assert_int_equal(cnt(A1, "skipped-no_failed_run"), 1);
  assert_int_equal(total(), 1);
  fake_sink_expect_log(&g_sink, WDR_LOG_INFO,
                       "workflow a1: a failure signal without a run id, and "
                       "no failed run within PollLookback: nothing to rerun");
  fake_sink_expect_none(&g_sink);
}

/* --- failed listings --------------------------------------------------------
 */

static void test_poll_listing_failed(void **state) {
  (void)state;
  create_default();
  wdr_poll_tick(g_poll, T0);
  wdr_poll_job_t p1 = take(T0);
  answer_error(&p1, "InternalError", "busy", T0 + SEC, 0);
  /* One error per workflow listed; no retry: the next poll is the retry. */
  assert_int_equal(cnt(A1, "error-InternalError"), 1);
  assert_int_equal(cnt(A2, "error-InternalError"), 1);
  assert_false(emitted(QUIET, "error-InternalError"));
  assert_false(emitted(B1, "error-InternalError"));
  assert_int_equal(total(), 2);
  fake_sink_expect_log(&g_sink, WDR_LOG_NOTICE,
                       "listing the runs of P1 failed: InternalError: busy");
  fake_sink_expect_none(&g_sink);
  assert_int_equal(wdr_poll_waiting(g_poll), 1);
  wdr_poll_job_t p2 = take(T0 + SEC); /* P2 now in flight */
  expect_poll(&p2, "P2", 1, "wf-b1 wf-b2", "b1 b2");
  /* P1 is free again, P2 is not. */
  wdr_poll_tick(g_poll, T0 + INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 1);
  p1 = take(T0 + INTERVAL);
  expect_poll(&p1, "P1", 1, "wf-a1 wf-a2", "a1 a2");
}

static void test_search_retried_with_backoff(void **state) {
  (void)state;
  create_default(); /* MaxRequestRetries 2 */
  wdr_poll_resolve(g_poll, A1, T0);
  wdr_poll_job_t j = take(T0);
  /* Retry 1 after 1 s with the jitter down: rnd 0 gives its low end. */
  answer_error(&j, "ResourceInUse", "in use", T0 + 10, 0);
  assert_int_equal(wdr_poll_waiting(g_poll), 1);
  wdr_poll_resolve(g_poll, A1, T0 + 20); /* the waiting retry covers it */
  assert_int_equal(wdr_poll_waiting(g_poll), 1);
  take_none(T0 + 509, T0 + 510);
  j = take(T0 + 510);
  expect_search(&j, A1, 1, 1, T0 + 510);
  /* Retry 2 after 2 s: rnd 1000 gives its high end, 1000 + 1000 % 1001. */
  answer_error(&j, "ResourceInUse", "in use", T0 + 600, 1000);
  take_none(T0 + 2599, T0 + 2600);
  j = take(T0 + 2600);
  expect_search(&j, A1, 1, 2, T0 + 2600);
  /* The third failure: no retries left. */
  answer_error(&j, "ResourceInUse", "in use", T0 + 2700, 0);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  assert_int_equal(cnt(A1, "retries"), 2);
  assert_int_equal(cnt(A1, "error-ResourceInUse"), 3);
  assert_int_equal(cnt(A1, "skipped-retries_exhausted"), 1);
  assert_int_equal(total(), 6);
  for (int i = 0; i < 3; i++)
    fake_sink_expect_log(
        &g_sink, WDR_LOG_NOTICE,
        "listing the runs of a1 failed: ResourceInUse: in use");
  fake_sink_expect_none(&g_sink);
  /* A new signal starts afresh. */
  wdr_poll_resolve(g_poll, A1, T0 + 3000);
  j = take(T0 + 3000);
  expect_search(&j, A1, 1, 0, 0);
}

static void test_search_retry_then_pages(void **state) {
  (void)state;
  create_default();
  wdr_poll_resolve(g_poll, B2, T0);
  wdr_poll_job_t j = take(T0);
  answer_error(&j, "RequestLimitExceeded", "slow down", T0, 0);
  j = take(T0 + 500);
  expect_search(&j, B2, 1, 1, T0 + 500);
  /* A good page: the next one starts with a clean slate of tries. */
  wdr_run_brief_t items[] = {run("r1", "wf-b2", "SUCCESS", true, T0)};
  answer_page(&j, items, 1, 2, T0 + SEC);
  j = take(T0 + SEC);
  expect_search(&j, B2, 2, 0, 0);
}

static void test_search_permanent_error_not_retried(void **state) {
  (void)state;
  create_default();
  wdr_poll_resolve(g_poll, A1, T0);
  wdr_poll_job_t j = take(T0);
  answer_error(&j, "InvalidParameter", "no such workflow", T0, 0);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  assert_int_equal(cnt(A1, "skipped-retries_exhausted"), 1);
  assert_int_equal(cnt(A1, "error-InvalidParameter"), 1);
  assert_int_equal(cnt(A1, "retries"), 0);
  fake_sink_expect_log(
      &g_sink, WDR_LOG_NOTICE,
      "listing the runs of a1 failed: InvalidParameter: no such workflow");
  /* A listing changes nothing: one that may have reached the server is
   * tried again like any other; an outage uses no retry. */
  wdr_poll_resolve(g_poll, A2, T0);
  j = take(T0);
  answer_error(&j, WDR_ERR_NETWORK, "timed out", T0, 0);
  j = take(T0 + 500);
  expect_search(&j, A2, 1, 0, T0 + 500);
  assert_int_equal(j.held, 1);
  assert_int_equal(cnt(A2, "retries"), 0);
  assert_int_equal(cnt(A2, "held"), 1);
  assert_int_equal(total(), 4);
  fake_sink_expect_log(&g_sink, WDR_LOG_NOTICE,
                       "listing the runs of a2 failed: " WDR_ERR_NETWORK
                       ": timed out");
  fake_sink_expect_none(&g_sink);
}

/* Outages and refused credentials are not the search's fault: however
 * many come, the search stays, spaced by the backoff of the holds in a
 * row, and a refusal about it after them starts its retries from 0. */
static void test_search_held_not_exhausted(void **state) {
  (void)state;
  create_default(); /* MaxRequestRetries 2 */
  wdr_poll_resolve(g_poll, A1, T0);
  wdr_poll_job_t j = take(T0);
  const char *codes[] = {"InternalError", WDR_ERR_NETWORK,
                         "AuthFailure.SecretIdNotFound", "ServiceUnavailable",
                         "AuthFailure.SignatureExpire"};
  int64_t t = T0;
  for (int i = 0; i < 5; i++) {
    answer_error(&j, codes[i], "down", t, 0);
    /* rnd 0: the jitter's low end, half the wait of hold i + 1. */
    t += ((int64_t)1000 << i) / 2;
    take_none(t - 1, t);
    j = take(t);
    expect_search(&j, A1, 1, 0, t);
    assert_int_equal(j.held, i + 1);
  }
  assert_int_equal(cnt(A1, "held"), 5);
  assert_int_equal(cnt(A1, "retries"), 0);
  assert_int_equal(cnt(A1, "skipped-retries_exhausted"), 0);
  answer_error(&j, "ResourceInUse", "in use", t, 0);
  j = take(t + 500);
  expect_search(&j, A1, 1, 1, t + 500);
  assert_int_equal(j.held, 0);
  assert_int_equal(cnt(A1, "retries"), 1);
}

static void test_search_no_retries(void **state) {
  (void)state;
  create(g_default, DEFAULT_NUM, 0); /* MaxRequestRetries 0 */
  wdr_poll_resolve(g_poll, A1, T0);
  wdr_poll_job_t j = take(T0);
  answer_error(&j, "ResourceInUse", "in use", T0, 0);
  assert_int_equal(wdr_poll_waiting(g_poll), 0);
  assert_int_equal(cnt(A1, "skipped-retries_exhausted"), 1);
  assert_int_equal(cnt(A1, "retries"), 0);
}

/* --- the queue ---------------------------------------------------------- */

static void test_take_due_order(void **state) {
  (void)state;
  create_default();
  /* A1's retry waits until T0 + 500; B1's search is due at once. */
  wdr_poll_resolve(g_poll, A1, T0);
  wdr_poll_job_t j = take(T0);
  answer_error(&j, "ResourceInUse", "in use", T0, 0);
  wdr_poll_resolve(g_poll, B1, T0 + 1);
  j = take(T0 + 100);
  expect_search(&j, B1, 1, 0, 0);
  take_none(T0 + 100, T0 + 500);
  /* next_ms is only ever lowered. */
  wdr_poll_job_t none;
  int64_t next = T0 + 200;
  assert_false(wdr_poll_take_due(g_poll, T0 + 100, &none, &next));
  assert_int_equal(next, T0 + 200);
  /* Once due, the oldest goes first. */
  wdr_poll_resolve(g_poll, B2, T0 + 300);
  j = take(T0 + 500);
  expect_search(&j, A1, 1, 1, T0 + 500);
  j = take(T0 + 500);
  expect_search(&j, B2, 1, 0, 0);
  take_none(T0 + 500, INT64_MAX);
}

static void test_requeue(void **state) {
  (void)state;
  create_default();
  wdr_poll_tick(g_poll, T0);
  wdr_poll_job_t p1 = take(T0);
  wdr_poll_requeue(g_poll, &p1, T0);
  assert_int_equal(wdr_poll_waiting(g_poll), 2);
  /* Still under way: the next tick does not list P1 again. */
  wdr_poll_tick(g_poll, T0 + INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 2);
  take(T0 + INTERVAL); /* P2 */
  wdr_poll_job_t again = take(T0 + INTERVAL);
  expect_poll(&again, "P1", 1, "wf-a1 wf-a2", "a1 a2");
  assert_int_equal(again.project, p1.project);
  /* A retry keeps its tries and its time. */
  wdr_poll_resolve(g_poll, A1, T0);
  wdr_poll_job_t j = take(T0);
  answer_error(&j, "ResourceInUse", "in use", T0, 0);
  j = take(T0 + 500);
  wdr_poll_requeue(g_poll, &j, T0 + 500);
  j = take(T0 + 500);
  expect_search(&j, A1, 1, 1, T0 + 500);
  assert_int_equal(total(), 2); /* A1's error and retry */
}

/* 260 polled workflows, each in its own project: one tick makes more
 * listings than the queue holds. */
#define MANY (WDR_POLL_LISTS_MAX + 4)
static char g_many_names[MANY][3][16];

static void create_many(void) {
  static wf_spec_t wfs[MANY];
  for (size_t i = 0; i < MANY; i++) {
    snprintf(g_many_names[i][0], 16, "w%zu", i);
    snprintf(g_many_names[i][1], 16, "P%zu", i);
    snprintf(g_many_names[i][2], 16, "wf-%zu", i);
    wfs[i] = (wf_spec_t){g_many_names[i][0], g_many_names[i][1],
                         g_many_names[i][2], true};
  }
  create(wfs, MANY, 2);
}

#define FULL_WARNING(held)                                                     \
  "256 listings of runs wait already: dropped one (" #held                     \
  " more such messages held back)"

static void test_queue_full_poll(void **state) {
  (void)state;
  create_many();
  wdr_poll_tick(g_poll, T0);
  assert_int_equal(wdr_poll_waiting(g_poll), WDR_POLL_LISTS_MAX);
  /* Four dropped, one warning for them. */
  fake_sink_expect_log(&g_sink, WDR_LOG_WARNING, FULL_WARNING(0));
  fake_sink_expect_none(&g_sink);
  /* The dropped projects are free again: with the others all in flight,
   * the next tick lists exactly those four. */
  for (size_t i = 0; i < WDR_POLL_LISTS_MAX; i++) {
    wdr_poll_job_t j = take(T0);
    char want[16];
    snprintf(want, sizeof(want), "P%zu", i);
    assert_string_equal(j.project_id, want);
  }
  wdr_poll_tick(g_poll, T0 + INTERVAL);
  assert_int_equal(wdr_poll_waiting(g_poll), 4);
  for (size_t i = WDR_POLL_LISTS_MAX; i < MANY; i++) {
    wdr_poll_job_t j = take(T0 + INTERVAL);
    char want[16];
    snprintf(want, sizeof(want), "P%zu", i);
    assert_string_equal(j.project_id, want);
    assert_string_equal(ids_of(&j), g_many_names[i][2]);
  }
  assert_int_equal(total(), 0);
  fake_sink_expect_none(&g_sink);
}

static void test_queue_full_search(void **state) {
  (void)state;
  create_many();
  wdr_poll_tick(g_poll, T0); /* full; 3 of 4 warnings held back */
  wdr_poll_resolve(g_poll, 5, T0);
  assert_int_equal(cnt(5, "skipped-no_failed_run"), 1);
  take(T0);
  wdr_poll_resolve(g_poll, 6, T0 + SEC); /* fits */
  assert_int_equal(wdr_poll_waiting(g_poll), WDR_POLL_LISTS_MAX);
  /* The next drop within the period is held back, the one after it goes
   * out with the count. */
  wdr_poll_resolve(g_poll, 7, T0 + 9 * SEC);
  wdr_poll_resolve(g_poll, 8, T0 + 10 * SEC);
  assert_int_equal(cnt(7, "skipped-no_failed_run"), 1);
  assert_int_equal(cnt(8, "skipped-no_failed_run"), 1);
  assert_int_equal(total(), 3);
  fake_sink_expect_log(&g_sink, WDR_LOG_WARNING, FULL_WARNING(0));
  fake_sink_expect_log(&g_sink, WDR_LOG_WARNING, FULL_WARNING(5));
  fake_sink_expect_none(&g_sink);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_projects_grouped),
      T(test_tick_timing),
      T(test_first_tick_at_zero),
      T(test_no_polled_workflows),
      T(test_busy_project_not_listed_again),
      T(test_found_failed_rerunnable_within_lookback),
      T(test_paging_follows_pages),
      T(test_paging_stops),
      T(test_search_dedup),
      T(test_search_finds_newest_failed),
      T(test_search_without_failed_run),
      T(test_poll_listing_failed),
      T(test_search_retried_with_backoff),
      T(test_search_retry_then_pages),
      T(test_search_permanent_error_not_retried),
      T(test_search_held_not_exhausted),
      T(test_search_no_retries),
      T(test_take_due_order),
      T(test_requeue),
      T(test_queue_full_poll),
      T(test_queue_full_search),
  };
  return cmocka_run_group_tests_name("wdr_poll", tests, NULL, NULL);
}
