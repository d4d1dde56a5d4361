/* wdr_match: patterns (exact text or /regex/) and <Match> evaluation. */
#include "match_util.h"

/* NOTIF_FAILURE and friends: the severities a <Match> block compares. */
#include "collectd/core/daemon/plugin.h"

static wdr_match_input_t input(int severity, const char *host,
                               const char *plugin, const char *plugin_instance,
                               const char *type, const char *type_instance) {
  return (wdr_match_input_t){
      .severity = severity,
      .field = {[WDR_MATCH_HOST] = host,
                [WDR_MATCH_PLUGIN] = plugin,
                [WDR_MATCH_PLUGIN_INSTANCE] = plugin_instance,
                [WDR_MATCH_TYPE] = type,
                [WDR_MATCH_TYPE_INSTANCE] = type_instance}};
}

static void test_pattern_set(void **state) {
  (void)state;
  wdr_pattern_t *p = g_matches[0].field;
  char err[128] = "";
  assert_int_equal(wdr_pattern_set(&p[0], "exec", err, sizeof(err)), 0);
  assert_true(p[0].set);
  assert_false(p[0].is_regex);
  assert_string_equal(p[0].text, "exec");

  assert_int_equal(wdr_pattern_set(&p[1], "/^etl-[0-9]+$/", err, sizeof(err)),
                   0);
  assert_true(p[1].set);
  assert_true(p[1].is_regex);
  assert_string_equal(p[1].text, "^etl-[0-9]+$");

  /* One slash, or one at one end only, is plain text. */
  assert_int_equal(wdr_pattern_set(&p[2], "/", err, sizeof(err)), 0);
  assert_false(p[2].is_regex);
  assert_string_equal(p[2].text, "/");
  assert_int_equal(wdr_pattern_set(&p[3], "/abc", err, sizeof(err)), 0);
  assert_false(p[3].is_regex);
  assert_string_equal(p[3].text, "/abc");

  /* "//" is the empty regex. */
  assert_int_equal(wdr_pattern_set(&p[4], "//", err, sizeof(err)), 0);
  assert_true(p[4].is_regex);
  assert_string_equal(p[4].text, "");

  /* A bad regex leaves the pattern unset and says why. */
  wdr_pattern_t *q = g_matches[1].field;
  assert_int_equal(wdr_pattern_set(&q[0], "/(/", err, sizeof(err)), -1);
  assert_string_equal(err, "Unmatched ( or \\(");
  assert_false(q[0].set);
  assert_null(q[0].text);
  /* A short error buffer is not overrun. */
  char tiny[8];
  assert_int_equal(wdr_pattern_set(&q[0], "/a(/", tiny, sizeof(tiny)), -1);
  assert_string_equal(tiny, "Unmatch");
  assert_false(q[0].set);
}

static void test_match_exact(void **state) {
  (void)state;
  wdr_match_t *m = &g_matches[0];
  m->severity = NOTIF_FAILURE;
  set_pattern(m, WDR_MATCH_PLUGIN, "exec");
  wdr_match_input_t in = input(NOTIF_FAILURE, "h", "exec", "", "t", "");
  assert_true(wdr_match_eval(m, &in));
  const char *others[] = {"exec2", "exe", "Exec", " exec", ""};
  for (int i = 0; i < 5; i++) {
    in.field[WDR_MATCH_PLUGIN] = others[i];
    assert_false(wdr_match_eval(m, &in));
  }
  /* Regex characters in plain text are plain. */
  wdr_match_t *dots = &g_matches[1];
  dots->severity = NOTIF_FAILURE;
  set_pattern(dots, WDR_MATCH_HOST, "db.1");
  in = input(NOTIF_FAILURE, "db.1", "x", "", "", "");
  assert_true(wdr_match_eval(dots, &in));
  in.field[WDR_MATCH_HOST] = "dbx1";
  assert_false(wdr_match_eval(dots, &in));
}

static void test_match_regex(void **state) {
  (void)state;
  wdr_match_t *m = &g_matches[0];
  m->severity = NOTIF_FAILURE;
  set_pattern(m, WDR_MATCH_TYPE_INSTANCE, "/^etl-[0-9]+$/");
  wdr_match_input_t in = input(NOTIF_FAILURE, "h", "p", "", "t", "etl-42");
  assert_true(wdr_match_eval(m, &in));
  in.field[WDR_MATCH_TYPE_INSTANCE] = "etl-x";
  assert_false(wdr_match_eval(m, &in));
  in.field[WDR_MATCH_TYPE_INSTANCE] = "etl-42 ";
  assert_false(wdr_match_eval(m, &in));

  /* Not anchored unless the regex says so: it searches. */
  wdr_match_t *search = &g_matches[1];
  search->severity = NOTIF_FAILURE;
  set_pattern(search, WDR_MATCH_PLUGIN_INSTANCE, "/etl/");
  in = input(NOTIF_FAILURE, "h", "p", "my-etl-job", "t", "");
  assert_true(wdr_match_eval(search, &in));
  in.field[WDR_MATCH_PLUGIN_INSTANCE] = "ETL";
  assert_false(wdr_match_eval(search, &in)); /* case-sensitive */

  /* Extended syntax: alternation and groups without backslashes. */
  wdr_match_t *ere = &g_matches[2];
  ere->severity = NOTIF_FAILURE;
  set_pattern(ere, WDR_MATCH_HOST, "/^(db|etl)[0-9]+$/");
  in = input(NOTIF_FAILURE, "etl7", "p", "", "t", "");
  assert_true(wdr_match_eval(ere, &in));
  in.field[WDR_MATCH_HOST] = "web7";
  assert_false(wdr_match_eval(ere, &in));
}

static void test_match_unset_fields(void **state) {
  (void)state;
  wdr_match_t *m = &g_matches[0];
  m->severity = NOTIF_WARNING; /* no field given: any warning matches */
  wdr_match_input_t in = input(NOTIF_WARNING, "a", "b", "c", "d", "e");
  assert_true(wdr_match_eval(m, &in));
  in = input(NOTIF_WARNING, "", "", "", "", "");
  assert_true(wdr_match_eval(m, &in));
  in = input(NOTIF_WARNING, NULL, NULL, NULL, NULL, NULL);
  assert_true(wdr_match_eval(m, &in));

  /* Each field given must match; the others are free. */
  wdr_match_t *all = &g_matches[1];
  all->severity = NOTIF_FAILURE;
  const char *want[WDR_MATCH_FIELDS] = {"host", "plugin", "pi", "type", "ti"};
  for (int f = 0; f < WDR_MATCH_FIELDS; f++)
    set_pattern(all, (enum wdr_match_field)f, want[f]);
  in = input(NOTIF_FAILURE, "host", "plugin", "pi", "type", "ti");
  assert_true(wdr_match_eval(all, &in));
  for (int f = 0; f < WDR_MATCH_FIELDS; f++) {
    wdr_match_input_t wrong = in;
    wrong.field[f] = "other";
    assert_false(wdr_match_eval(all, &wrong));
  }
}

static void test_match_severity(void **state) {
  (void)state;
  const int severities[] = {NOTIF_FAILURE, NOTIF_WARNING, NOTIF_OKAY};
  for (int i = 0; i < 3; i++) {
    wdr_match_t m = {.severity = severities[i]};
    for (int j = 0; j < 3; j++) {
      wdr_match_input_t in = input(severities[j], "h", "p", "", "t", "");
      assert_int_equal(wdr_match_eval(&m, &in), i == j);
    }
    wdr_match_input_t in = input(0, "h", "p", "", "t", "");
    assert_false(wdr_match_eval(&m, &in));
    in.severity = NOTIF_FAILURE | NOTIF_WARNING | NOTIF_OKAY;
    assert_false(wdr_match_eval(&m, &in));
  }
}

/* A NULL field is compared as the empty string. */
static void test_match_null_fields(void **state) {
  (void)state;
  wdr_match_input_t in = input(NOTIF_FAILURE, NULL, NULL, NULL, NULL, NULL);
  wdr_match_t *exact = &g_matches[0];
  exact->severity = NOTIF_FAILURE;
  set_pattern(exact, WDR_MATCH_HOST, "h");
  assert_false(wdr_match_eval(exact, &in));

  wdr_match_t *empty_regex = &g_matches[1];
  empty_regex->severity = NOTIF_FAILURE;
  set_pattern(empty_regex, WDR_MATCH_TYPE, "/^$/");
  assert_true(wdr_match_eval(empty_regex, &in));
  in.field[WDR_MATCH_TYPE] = "x";
  assert_false(wdr_match_eval(empty_regex, &in));

  wdr_match_t *any_char = &g_matches[2];
  any_char->severity = NOTIF_FAILURE;
  set_pattern(any_char, WDR_MATCH_PLUGIN, "/./");
  in.field[WDR_MATCH_PLUGIN] = NULL;
  assert_false(wdr_match_eval(any_char, &in));

  /* An exact empty pattern (the config accepts Host "") matches an empty
   * or absent field. */
  wdr_match_clear(exact);
  exact->severity = NOTIF_FAILURE;
  set_pattern(exact, WDR_MATCH_HOST, "");
  in.field[WDR_MATCH_HOST] = NULL;
  assert_true(wdr_match_eval(exact, &in));
  in.field[WDR_MATCH_HOST] = "";
  assert_true(wdr_match_eval(exact, &in));
  in.field[WDR_MATCH_HOST] = "h";
  assert_false(wdr_match_eval(exact, &in));
}

static void test_match_clear_reuse(void **state) {
  (void)state;
  wdr_match_t *m = &g_matches[0];
  m->severity = NOTIF_FAILURE;
  set_pattern(m, WDR_MATCH_HOST, "/^a/");
  set_pattern(m, WDR_MATCH_PLUGIN, "b");
  wdr_match_clear(m);
  for (int f = 0; f < WDR_MATCH_FIELDS; f++) {
    assert_false(m->field[f].set);
    assert_false(m->field[f].is_regex);
    assert_null(m->field[f].text);
  }
  wdr_match_clear(m); /* twice is fine */
  set_pattern(m, WDR_MATCH_HOST, "/^z/");
  wdr_match_input_t in = input(NOTIF_FAILURE, "zeta", "anything", "", "", "");
  assert_true(wdr_match_eval(m, &in));
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_pattern_set),       T(test_match_exact),
      T(test_match_regex),       T(test_match_unset_fields),
      T(test_match_severity),    T(test_match_null_fields),
      T(test_match_clear_reuse),
  };
  return cmocka_run_group_tests_name("wdr_match", tests, NULL, NULL);
}
