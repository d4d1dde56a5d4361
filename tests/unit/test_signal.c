/* wdr_signal: what a notification means for one Workflow. Notifications
 * and their meta lists are built by hand on the stack: no collectd function
 * is called. */
#include "match_util.h"

#include "wdr_signal.h"

#define WORKFLOW_ID "wf-8d1c"

/* The Workflow under test: g_matches[0 .. matches_num). */
static wdr_workflow_cfg_t workflow(size_t matches_num) {
  return (wdr_workflow_cfg_t){.name = "etl",
                              .project_id = "1001",
                              .workflow_id = WORKFLOW_ID,
                              .execute_type = 1,
                              .matches = g_matches,
                              .matches_num = matches_num};
}

/* g_matches[0]: failures of plugin "exec", type instance /^etl/. */
static wdr_workflow_cfg_t exec_workflow(void) {
  g_matches[0].severity = NOTIF_FAILURE;
  set_pattern(&g_matches[0], WDR_MATCH_PLUGIN, "exec");
  set_pattern(&g_matches[0], WDR_MATCH_TYPE_INSTANCE, "/^etl/");
  return workflow(1);
}

static notification_t notification(int severity, const char *plugin,
                                   const char *type_instance) {
  notification_t n = {.severity = severity};
  snprintf(n.message, sizeof(n.message), "workflow failed");
  snprintf(n.host, sizeof(n.host), "node1");
  snprintf(n.plugin, sizeof(n.plugin), "%s", plugin);
  snprintf(n.type, sizeof(n.type), "gauge");
  snprintf(n.type_instance, sizeof(n.type_instance), "%s", type_instance);
  return n;
}

static notification_meta_t meta_string(const char *name, const char *value,
                                       notification_meta_t *next) {
  notification_meta_t m = {.type = NM_TYPE_STRING, .next = next};
  snprintf(m.name, sizeof(m.name), "%s", name);
  m.nm_value.nm_string = value;
  return m;
}

static notification_meta_t meta_int(const char *name, int64_t value,
                                    notification_meta_t *next) {
  notification_meta_t m = {.type = NM_TYPE_SIGNED_INT, .next = next};
  snprintf(m.name, sizeof(m.name), "%s", name);
  m.nm_value.nm_signed_int = value;
  return m;
}

/* Classifies n, which carries the single string meta WorkflowExecutionId
 * id; on anything but RUN the output buffer must be left alone. */
static wdr_signal_kind_t classify_id(const wdr_workflow_cfg_t *w,
                                     const char *id, char run[WDR_ID_MAX]) {
  notification_t n = notification(NOTIF_FAILURE, "exec", "etl_daily");
  notification_meta_t m = meta_string("WorkflowExecutionId", id, NULL);
  n.meta = &m;
  memset(run, '#', WDR_ID_MAX);
  wdr_signal_kind_t kind = wdr_signal_classify(w, &n, run);
  if (kind != WDR_SIGNAL_RUN)
    for (int i = 0; i < WDR_ID_MAX; i++)
      assert_int_equal(run[i], '#');
  return kind;
}

static void test_signal_run(void **state) {
  (void)state;
  wdr_workflow_cfg_t w = exec_workflow();
  char run[WDR_ID_MAX];
  assert_int_equal(classify_id(&w, "20240101-abc_1.2:3", run), WDR_SIGNAL_RUN);
  assert_string_equal(run, "20240101-abc_1.2:3");

  const char *uuid = "7b5c1f3e-0a9d-4c2b-9e61-3f0d2a8b4c71";
  assert_int_equal(classify_id(&w, uuid, run), WDR_SIGNAL_RUN);
  assert_string_equal(run, uuid);

  /* Among other meta, anywhere in the list. */
  notification_t n = notification(NOTIF_FAILURE, "exec", "etl");
  notification_meta_t last = meta_string("WorkflowExecutionId", "run-9", NULL);
  notification_meta_t mid = meta_int("Attempt", 3, &last);
  notification_meta_t first = meta_string("Owner", "data team", &mid);
  n.meta = &first;
  assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_RUN);
  assert_string_equal(run, "run-9");
}

static void test_signal_no_execution_id(void **state) {
  (void)state;
  wdr_workflow_cfg_t w = exec_workflow();
  char run[WDR_ID_MAX] = "untouched";
  notification_t n = notification(NOTIF_FAILURE, "exec", "etl");
  assert_int_equal(wdr_signal_classify(&w, &n, run),
                   WDR_SIGNAL_NO_EXECUTION_ID);
  assert_string_equal(run, "untouched");

  /* Other meta, or the name in another case, is no execution id. */
  notification_meta_t b = meta_string("workflowexecutionid", "run-1", NULL);
  notification_meta_t a = meta_string("ExecutionId", "run-1", &b);
  n.meta = &a;
  assert_int_equal(wdr_signal_classify(&w, &n, run),
                   WDR_SIGNAL_NO_EXECUTION_ID);
}

/* A WorkflowExecutionId that is not a string meta names something, but no
 * run id we could send: it is a bad id (not a missing one), and only the
 * first meta of that name counts. */
static void test_signal_execution_id_not_a_string(void **state) {
  (void)state;
  wdr_workflow_cfg_t w = exec_workflow();
  char run[WDR_ID_MAX] = "untouched";
  notification_t n = notification(NOTIF_FAILURE, "exec", "etl");

  notification_meta_t num = meta_int("WorkflowExecutionId", 12345, NULL);
  n.meta = &num;
  assert_int_equal(wdr_signal_classify(&w, &n, run),
                   WDR_SIGNAL_BAD_EXECUTION_ID);

  notification_meta_t dbl = {.type = NM_TYPE_DOUBLE,
                             .name = "WorkflowExecutionId",
                             .nm_value.nm_double = 1.5};
  n.meta = &dbl;
  assert_int_equal(wdr_signal_classify(&w, &n, run),
                   WDR_SIGNAL_BAD_EXECUTION_ID);

  notification_meta_t boolean = {.type = NM_TYPE_BOOLEAN,
                                 .name = "WorkflowExecutionId",
                                 .nm_value.nm_boolean = true};
  n.meta = &boolean;
  assert_int_equal(wdr_signal_classify(&w, &n, run),
                   WDR_SIGNAL_BAD_EXECUTION_ID);

  notification_meta_t later = meta_string("WorkflowExecutionId", "run-1", NULL);
  notification_meta_t first = meta_int("WorkflowExecutionId", 1, &later);
  n.meta = &first;
  assert_int_equal(wdr_signal_classify(&w, &n, run),
                   WDR_SIGNAL_BAD_EXECUTION_ID);
  assert_string_equal(run, "untouched");

  /* The other way round, the first (string) one is used. */
  notification_meta_t second = meta_int("WorkflowExecutionId", 1, NULL);
  notification_meta_t str =
      meta_string("WorkflowExecutionId", "run-2", &second);
  n.meta = &str;
  assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_RUN);
  assert_string_equal(run, "run-2");
}

static void test_signal_bad_execution_id(void **state) {
  (void)state;
  wdr_workflow_cfg_t w = exec_workflow();
  char run[WDR_ID_MAX];
  const char *bad[] = {"",
                       "run 1",
                       "run\"1",
                       "run'1",
                       "run\t1",
                       "run\n",
                       "run/1",
                       "run\\1",
                       "run;rm",
                       "r\xc3\xa9",
                       "run\x7f"
                       "1",
                       "<run>",
                       "{\"a\":1}",
                       "run%201",
                       " run1",
                       "run1 "};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (classify_id(&w, bad[i], run) != WDR_SIGNAL_BAD_EXECUTION_ID)
      fail_msg("execution id \"%s\" was not refused", bad[i]);

  /* Length: WDR_ID_MAX bytes with the NUL, so 127 characters fit and 128
   * do not. */
  char id[WDR_ID_MAX + 8];
  memset(id, 'a', sizeof(id));
  id[WDR_ID_MAX - 1] = '\0';
  assert_int_equal(strlen(id), 127);
  assert_int_equal(classify_id(&w, id, run), WDR_SIGNAL_RUN);
  assert_string_equal(run, id);
  id[WDR_ID_MAX - 1] = 'a';
  id[WDR_ID_MAX] = '\0';
  assert_int_equal(classify_id(&w, id, run), WDR_SIGNAL_BAD_EXECUTION_ID);
  id[WDR_ID_MAX + 7] = '\0';
  assert_int_equal(classify_id(&w, id, run), WDR_SIGNAL_BAD_EXECUTION_ID);
}

static void test_signal_workflow_id(void **state) {
  (void)state;
  wdr_workflow_cfg_t w = exec_workflow();
  char run[WDR_ID_MAX];
  notification_t n = notification(NOTIF_FAILURE, "exec", "etl");

  notification_meta_t id = meta_string("WorkflowExecutionId", "run-1", NULL);
  notification_meta_t same = meta_string("WorkflowId", WORKFLOW_ID, &id);
  n.meta = &same;
  assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_RUN);
  assert_string_equal(run, "run-1");

  const char *others[] = {"wf-other", "WF-8D1C", "wf-8d1c ", "wf-8d1", ""};
  for (int i = 0; i < 5; i++) {
    notification_meta_t other = meta_string("WorkflowId", others[i], &id);
    n.meta = &other;
    assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_NONE);
  }

  /* Before the execution id is looked at: another workflow's failure with a
   * bad or missing id is NONE too. */
  notification_meta_t bad_id = meta_string("WorkflowExecutionId", "a b", NULL);
  notification_meta_t other = meta_string("WorkflowId", "wf-other", &bad_id);
  n.meta = &other;
  assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_NONE);
  other.next = NULL;
  assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_NONE);
  same.next = NULL;
  n.meta = &same;
  assert_int_equal(wdr_signal_classify(&w, &n, run),
                   WDR_SIGNAL_NO_EXECUTION_ID);

  /* A WorkflowId that is not a string cannot be compared: it may name
   * another workflow, so the notification is not taken as ours. */
  notification_meta_t number = meta_int("WorkflowId", 42, &id);
  n.meta = &number;
  assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_NONE);
}

static void test_signal_not_matching(void **state) {
  (void)state;
  wdr_workflow_cfg_t w = exec_workflow();
  char run[WDR_ID_MAX] = "untouched";
  notification_meta_t id = meta_string("WorkflowExecutionId", "run-1", NULL);
  notification_meta_t wid = meta_string("WorkflowId", WORKFLOW_ID, &id);

  notification_t n = notification(NOTIF_WARNING, "exec", "etl");
  n.meta = &wid;
  assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_NONE);
  n = notification(NOTIF_FAILURE, "python", "etl");
  n.meta = &wid;
  assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_NONE);
  n = notification(NOTIF_FAILURE, "exec", "load_etl");
  n.meta = &wid;
  assert_int_equal(wdr_signal_classify(&w, &n, run), WDR_SIGNAL_NONE);
  assert_string_equal(run, "untouched");

  /* A Workflow without Match blocks (the config refuses it) matches
   * nothing. */
  wdr_workflow_cfg_t none = workflow(0);
  n = notification(NOTIF_FAILURE, "exec", "etl");
  n.meta = &id;
  assert_int_equal(wdr_signal_classify(&none, &n, run), WDR_SIGNAL_NONE);
}

/* Several Match blocks: any one of them is enough. */
static void test_signal_matches_or(void **state) {
  (void)state;
  g_matches[0].severity = NOTIF_FAILURE;
  set_pattern(&g_matches[0], WDR_MATCH_PLUGIN, "exec");
  g_matches[1].severity = NOTIF_WARNING;
  set_pattern(&g_matches[1], WDR_MATCH_PLUGIN, "/^py/");
  g_matches[2].severity = NOTIF_FAILURE;
  set_pattern(&g_matches[2], WDR_MATCH_HOST, "etl-master");
  wdr_workflow_cfg_t w = workflow(3);
  char run[WDR_ID_MAX];
  notification_meta_t id = meta_string("WorkflowExecutionId", "run-7", NULL);

  struct {
    int severity;
    const char *host, *plugin;
    wdr_signal_kind_t want;
  } cases[] = {
      {NOTIF_FAILURE, "node1", "exec", WDR_SIGNAL_RUN},       /* first */
      {NOTIF_WARNING, "node1", "python", WDR_SIGNAL_RUN},     /* second */
      {NOTIF_FAILURE, "etl-master", "tail", WDR_SIGNAL_RUN},  /* third */
      {NOTIF_FAILURE, "node1", "python", WDR_SIGNAL_NONE},    /* severity */
      {NOTIF_WARNING, "node1", "exec", WDR_SIGNAL_NONE},      /* severity */
      {NOTIF_WARNING, "etl-master", "tail", WDR_SIGNAL_NONE}, /* severity */
      {NOTIF_FAILURE, "node1", "tail", WDR_SIGNAL_NONE},      /* none */
      {NOTIF_OKAY, "etl-master", "exec", WDR_SIGNAL_NONE},    /* okay */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    notification_t n = notification(cases[i].severity, cases[i].plugin, "x");
    snprintf(n.host, sizeof(n.host), "%s", cases[i].host);
    n.meta = &id;
    if (wdr_signal_classify(&w, &n, run) != cases[i].want)
      fail_msg("case %zu (%s/%s, severity %d) gave the wrong kind", i,
               cases[i].host, cases[i].plugin, cases[i].severity);
  }
}

static void test_signal_is_own(void **state) {
  (void)state;
  notification_t n = notification(NOTIF_WARNING, "wedata_rerun", "");
  assert_true(wdr_signal_is_own(&n));
  /* Whatever the rest of it says. */
  snprintf(n.plugin_instance, sizeof(n.plugin_instance), "etl");
  snprintf(n.type, sizeof(n.type), "rerun");
  n.severity = NOTIF_OKAY;
  assert_true(wdr_signal_is_own(&n));

  const char *others[] = {"exec", "wedata_rerun2", "wedata", "WEDATA_RERUN",
                          ""};
  for (int i = 0; i < 5; i++) {
    notification_t o = notification(NOTIF_FAILURE, others[i], "");
    assert_false(wdr_signal_is_own(&o));
  }
  /* The name of the plugin in any other field does not count. */
  notification_t o = notification(NOTIF_FAILURE, "exec", "wedata_rerun");
  snprintf(o.host, sizeof(o.host), "wedata_rerun");
  assert_false(wdr_signal_is_own(&o));
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

/* The WorkflowId index: with the meta, only the blocks with that id, in
 * config order; without it, every block; a non-string one, none. */
static void test_candidates(void **state) {
  (void)state;
  const char *ids[] = {"wf-a", "wf-b", "wf-a", "wf-c", "wf-b", "wf-a"};
  wdr_workflow_cfg_t w[6];
  for (size_t i = 0; i < 6; i++)
    w[i] = (wdr_workflow_cfg_t){.workflow_id = (char *)ids[i]};
  wdr_signal_index_t *x = wdr_signal_index_create(w, 6);
  assert_non_null(x);
  notification_t n = notification(NOTIF_FAILURE, "exec", "etl");
  const size_t *c = NULL;
  assert_int_equal(wdr_signal_candidates(x, &n, &c), 6);
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(c[i], i);

  struct {
    const char *id;
    size_t num;
    size_t want[3];
  } cases[] = {{"wf-a", 3, {0, 2, 5}}, {"wf-b", 2, {1, 4}}, {"wf-c", 1, {3}},
               {"wf-d", 0, {0}},       {"wf-", 0, {0}},     {"", 0, {0}}};
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    notification_meta_t m = meta_string("WorkflowId", cases[k].id, NULL);
    n.meta = &m;
    assert_int_equal(wdr_signal_candidates(x, &n, &c), cases[k].num);
    for (size_t i = 0; i < cases[k].num; i++)
      assert_int_equal(c[i], cases[k].want[i]);
  }
  /* Found behind other meta too. */
  notification_meta_t id = meta_string("WorkflowId", "wf-c", NULL);
  notification_meta_t run = meta_string("WorkflowExecutionId", "r-1", &id);
  n.meta = &run;
  assert_int_equal(wdr_signal_candidates(x, &n, &c), 1);
  assert_int_equal(c[0], 3);
  notification_meta_t bad = meta_int("WorkflowId", 7, NULL);
  n.meta = &bad;
  assert_int_equal(wdr_signal_candidates(x, &n, &c), 0);
  wdr_signal_index_destroy(x);

  /* Many distinct ids: every one found, nothing else. */
  enum { MANY = 1000 };
  static wdr_workflow_cfg_t many[MANY];
  static char names[MANY][40];
  for (size_t i = 0; i < MANY; i++) {
    snprintf(names[i], sizeof(names[i]), "00000000-0000-0000-0000-%012zu", i);
    many[i] = (wdr_workflow_cfg_t){.workflow_id = names[i]};
  }
  x = wdr_signal_index_create(many, MANY);
  assert_non_null(x);
  for (size_t i = 0; i < MANY; i++) {
    notification_meta_t m = meta_string("WorkflowId", names[i], NULL);
    n.meta = &m;
    assert_int_equal(wdr_signal_candidates(x, &n, &c), 1);
    assert_int_equal(c[0], i);
  }
  wdr_signal_index_destroy(x);
  x = wdr_signal_index_create(NULL, 0);
  assert_non_null(x);
  n.meta = NULL;
  assert_int_equal(wdr_signal_candidates(x, &n, &c), 0);
  wdr_signal_index_destroy(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_candidates),
      T(test_signal_run),
      T(test_signal_no_execution_id),
      T(test_signal_execution_id_not_a_string),
      T(test_signal_bad_execution_id),
      T(test_signal_workflow_id),
      T(test_signal_not_matching),
      T(test_signal_matches_or),
      T(test_signal_is_own),
  };
  return cmocka_run_group_tests_name("wdr_signal", tests, NULL, NULL);
}
