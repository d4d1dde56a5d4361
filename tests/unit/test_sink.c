/* wdr_sink: wdr_sink_logf formats one line and cuts it at 1 KiB;
 * wdr_sink_notify builds a notification that fits collectd's fields (text
 * cut on a UTF-8 boundary, control characters replaced, meta pairs chosen)
 * and logs the text in full, at info level, before queueing the note. */
#include "testutil.h"

#include "fake_sink.h"
#include "wdr_sink.h"

static fake_sink_t g_fs;

static int setup(void **state) {
  (void)state;
  fake_sink_init(&g_fs);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fake_sink_free(&g_fs);
  return 0;
}

/* n copies of unit (a NUL-terminated string), in a new string. */
static char *repeat(const char *unit, size_t n) {
  size_t len = strlen(unit);
  char *s = malloc(len * n + 1);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++)
    memcpy(s + i * len, unit, len);
  s[len * n] = '\0';
  return s;
}

/* --- wdr_sink_logf -------------------------------------------------------- */

static void test_logf_formats(void **state) {
  (void)state;
  wdr_sink_logf(&g_fs.sink, WDR_LOG_WARNING, "run %s of %s: %d tries, %.1f s",
                "r-1", "etl", 3, 2.5);
  wdr_sink_logf(&g_fs.sink, WDR_LOG_ERROR, "%s", "error");
  wdr_sink_logf(&g_fs.sink, WDR_LOG_NOTICE, "100%% done");
  wdr_sink_logf(&g_fs.sink, WDR_LOG_INFO, "%s", "");
  fake_sink_expect_log(&g_fs, WDR_LOG_WARNING,
                       "run r-1 of etl: 3 tries, 2.5 s");
  fake_sink_expect_log(&g_fs, WDR_LOG_ERROR, "error");
  fake_sink_expect_log(&g_fs, WDR_LOG_NOTICE, "100% done");
  fake_sink_expect_log(&g_fs, WDR_LOG_INFO, "");
  fake_sink_expect_none(&g_fs);
}

static void test_logf_cut_at_1k(void **state) {
  (void)state;
  char *x = repeat("x", 3000);
  /* 1023 characters and the NUL fit; one more is cut. */
  wdr_sink_logf(&g_fs.sink, WDR_LOG_INFO, "%.1023s", x);
  wdr_sink_logf(&g_fs.sink, WDR_LOG_INFO, "%.1024s", x);
  wdr_sink_logf(&g_fs.sink, WDR_LOG_INFO, "head %s", x);
  x[1023] = '\0';
  fake_sink_expect_log(&g_fs, WDR_LOG_INFO, x);
  fake_sink_expect_log(&g_fs, WDR_LOG_INFO, x);
  memcpy(x, "head ", 5);
  fake_sink_expect_log(&g_fs, WDR_LOG_INFO, x);
  fake_sink_expect_none(&g_fs);
  free(x);
}

/* --- wdr_sink_notify ------------------------------------------------------ */

static void test_notify_fields(void **state) {
  (void)state;
  static const char exec_id[] = "WorkflowExecutionId";
  wdr_sink_notify(&g_fs.sink, WDR_NOTE_FAILURE, "nightly_etl", "rerun",
                  "gave up on run r-1", exec_id, "r-1", "Error",
                  "InternalError", NULL);
  /* The log line first, then the note. */
  fake_sink_expect_log(&g_fs, WDR_LOG_INFO, "gave up on run r-1");
  const wdr_note_t *n = fake_sink_next_note(&g_fs);
  assert_true(g_fs.lines[0].seq < g_fs.notes[0].seq);
  assert_int_equal(n->severity, WDR_NOTE_FAILURE);
  assert_string_equal(n->plugin_instance, "nightly_etl");
  assert_string_equal(n->type, "rerun");
  assert_string_equal(n->message, "gave up on run r-1");
  assert_int_equal(n->meta_num, 2);
  assert_ptr_equal(n->meta[0].name, exec_id); /* names are not copied */
  assert_string_equal(n->meta[0].value, "r-1");
  assert_string_equal(n->meta[1].name, "Error");
  assert_string_equal(n->meta[1].value, "InternalError");
  fake_sink_expect_none(&g_fs);
}

static void test_notify_severities(void **state) {
  (void)state;
  const wdr_note_severity_t sev[] = {WDR_NOTE_WARNING, WDR_NOTE_OKAY,
                                     WDR_NOTE_FAILURE};
  for (size_t i = 0; i < 3; i++)
    wdr_sink_notify(&g_fs.sink, sev[i], "", "breaker", "text", NULL);
  for (size_t i = 0; i < 3; i++) {
    fake_sink_expect_log(&g_fs, WDR_LOG_INFO, "text");
    const wdr_note_t *n = fake_sink_next_note(&g_fs);
    assert_int_equal(n->severity, sev[i]);
    assert_string_equal(n->plugin_instance, ""); /* plugin-wide */
    assert_string_equal(n->type, "breaker");
    assert_int_equal(n->meta_num, 0);
  }
  fake_sink_expect_none(&g_fs);
}

/* The note's text is cut to its field on a UTF-8 boundary; the log keeps
 * it all. */
static void test_notify_long_text(void **state) {
  (void)state;
  char *e = repeat("\xc3\xa9", 200); /* é: 400 bytes */
  char text[512];
  snprintf(text, sizeof(text), "ab%s", e);
  wdr_sink_notify(&g_fs.sink, WDR_NOTE_WARNING, "wf", "rerun", text, NULL);
  fake_sink_expect_log(&g_fs, WDR_LOG_INFO, text);
  const wdr_note_t *n = fake_sink_next_note(&g_fs);
  /* 255 bytes would end inside an é: 254. */
  assert_int_equal(strlen(n->message), WDR_NOTE_TEXT_MAX - 2);
  assert_memory_equal(n->message, text, WDR_NOTE_TEXT_MAX - 2);
  assert_true(wdr_text_is_clean(n->message));
  /* With one byte less in front, 255 bytes fit exactly. */
  wdr_sink_notify(&g_fs.sink, WDR_NOTE_WARNING, "wf", "rerun", text + 1, NULL);
  fake_sink_expect_log(&g_fs, WDR_LOG_INFO, text + 1);
  n = fake_sink_next_note(&g_fs);
  assert_int_equal(strlen(n->message), WDR_NOTE_TEXT_MAX - 1);
  assert_memory_equal(n->message, text + 1, WDR_NOTE_TEXT_MAX - 1);
  fake_sink_expect_none(&g_fs);
  free(e);
}

static void test_notify_cuts_instance_type_meta(void **state) {
  (void)state;
  char *name = repeat("n", 100);
  char *type = repeat("t", 40);
  char *value = repeat("\xe4\xb8\xad", 300); /* 中: 900 bytes */
  wdr_sink_notify(&g_fs.sink, WDR_NOTE_OKAY, name, type, "ok", "Long", value,
                  NULL);
  const wdr_note_t *n = fake_sink_next_note(&g_fs);
  assert_int_equal(strlen(n->plugin_instance), WDR_NAME_MAX - 1);
  assert_memory_equal(n->plugin_instance, name, WDR_NAME_MAX - 1);
  assert_int_equal(strlen(n->type), sizeof(n->type) - 1);
  assert_memory_equal(n->type, type, sizeof(n->type) - 1);
  /* 511 bytes hold 170 whole characters of 3 bytes. */
  assert_int_equal(strlen(n->meta[0].value), 510);
  assert_memory_equal(n->meta[0].value, value, 510);
  free(name);
  free(type);
  free(value);
}

static void test_notify_replaces_control_characters(void **state) {
  (void)state;
  wdr_sink_notify(&g_fs.sink, WDR_NOTE_FAILURE, "w\tf", "re\nrun",
                  "line1\nline2\r\x1b[0m\x7f", "Error", "bad\x01value\n", NULL);
  const wdr_note_t *n = fake_sink_next_note(&g_fs);
  assert_string_equal(n->plugin_instance, "w f");
  assert_string_equal(n->type, "re run");
  assert_string_equal(n->message, "line1 line2  [0m ");
  assert_string_equal(n->meta[0].value, "bad value ");
}

static void test_notify_meta_selection(void **state) {
  (void)state;
  /* Empty and NULL values are left out (and take no slot); of the rest the
   * first WDR_NOTE_META_MAX are kept, in order. */
  wdr_sink_notify(&g_fs.sink, WDR_NOTE_WARNING, "wf", "rerun", "m", "A", "1",
                  "Empty", "", "B", "2", "Null", (const char *)NULL, "C", "3",
                  "D", "4", "E", "5", "F", "6", "G", "7", "H", "8", NULL);
  const wdr_note_t *n = fake_sink_next_note(&g_fs);
  assert_int_equal(n->meta_num, WDR_NOTE_META_MAX);
  const char *want[][2] = {{"A", "1"}, {"B", "2"}, {"C", "3"},
                           {"D", "4"}, {"E", "5"}, {"F", "6"}};
  for (int i = 0; i < WDR_NOTE_META_MAX; i++) {
    assert_string_equal(n->meta[i].name, want[i][0]);
    assert_string_equal(n->meta[i].value, want[i][1]);
  }
  /* No pairs at all, and only empty ones. */
  wdr_sink_notify(&g_fs.sink, WDR_NOTE_OKAY, "wf", "rerun", "m", NULL);
  wdr_sink_notify(&g_fs.sink, WDR_NOTE_OKAY, "wf", "rerun", "m", "A", "", "B",
                  (const char *)NULL, NULL);
  assert_int_equal(fake_sink_next_note(&g_fs)->meta_num, 0);
  assert_int_equal(fake_sink_next_note(&g_fs)->meta_num, 0);
  assert_int_equal(g_fs.lines_num, 3);
  assert_int_equal(g_fs.notes_num, 3);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_logf_formats),
      T(test_logf_cut_at_1k),
      T(test_notify_fields),
      T(test_notify_severities),
      T(test_notify_long_text),
      T(test_notify_cuts_instance_type_meta),
      T(test_notify_replaces_control_characters),
      T(test_notify_meta_selection),
  };
  return cmocka_run_group_tests_name("wdr_sink", tests, NULL, NULL);
}
