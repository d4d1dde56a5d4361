/* wdr_config_doc: the option table's own documentation is sane, and the
 * README's option tables ("## Configuration") show exactly what it says.
 *
 * Each option of the table has one README row, rendered by render_row():
 *   | `Key` | `default` | MIN to MAX | meaning |
 * (the default is shown bare when it is "required", the cells are left empty
 * when there is nothing to show). When the README disagrees, the test prints
 * the row it expects, ready to paste. */
#include "testutil.h"

#include "wdr_config.h"

#include <strings.h>

#define README "../../README.md" /* the tests run from tests/unit */
#define ROW_MAX 1024
#define HEADER "| option | default | range | meaning |"

/* Rows of the workflow table that code parses by hand, not the table. */
static const char *const workflow_extra[] = {
    "`TaskId \"a\" \"b\" ...`",
    "`AdvancedParam \"key\" \"value\"`",
    "`<Match>`",
};

static wdr_config_doc_t doc_at(wdr_config_scope_t scope, size_t i) {
  wdr_config_doc_t d;
  assert_int_equal(wdr_config_doc(scope, i, &d), 0);
  return d;
}

/* --- the table itself ----------------------------------------------------- */

static void check_row_sane(wdr_config_scope_t scope, size_t i) {
  wdr_config_doc_t d = doc_at(scope, i);
  assert_true(d.key[0] != '\0');
  assert_true(d.meaning[0] != '\0');
  /* One line, and no '|': it must fit in one Markdown table cell. */
  assert_null(strpbrk(d.meaning, "|\n\r"));
  bool numeric =
      strcmp(d.type, "number") == 0 || strcmp(d.type, "integer") == 0;
  if (!numeric && strcmp(d.type, "string") != 0 &&
      strcmp(d.type, "secret") != 0 && strcmp(d.type, "boolean") != 0)
    fail_msg("%s: unknown type \"%s\"", d.key, d.type);
  assert_int_equal(numeric, d.range[0] != '\0');
  if (d.required) {
    assert_string_equal(d.default_text, "required");
    return;
  }
  if (strcmp(d.type, "secret") == 0)
    assert_string_equal(d.default_text, "");
  if (!numeric)
    return;
  /* A default outside the range could never be configured: a typo. */
  double min = 0, max = 0, def = 0;
  char end = 0;
  assert_int_equal(sscanf(d.range, "%lf to %lf%c", &min, &max, &end), 2);
  assert_int_equal(sscanf(d.default_text, "%lf%c", &def, &end), 1);
  if (!(min <= def && def <= max))
    fail_msg("%s: default %s is outside %s", d.key, d.default_text, d.range);
}

static void test_table_sane(void **state) {
  (void)state;
  const wdr_config_scope_t scopes[] = {WDR_CONFIG_PLUGIN, WDR_CONFIG_WORKFLOW};
  for (size_t s = 0; s < 2; s++) {
    size_t num = wdr_config_doc_count(scopes[s]);
    assert_true(num > 0);
    for (size_t i = 0; i < num; i++) {
      check_row_sane(scopes[s], i);
      for (size_t j = 0; j < i; j++)
        assert_true(strcasecmp(doc_at(scopes[s], i).key,
                               doc_at(scopes[s], j).key) != 0);
    }
  }
}

/* The texts come from the table, as the error messages format them. */
static void test_known_rows(void **state) {
  (void)state;
  wdr_config_doc_t d = doc_at(WDR_CONFIG_PLUGIN, 0);
  assert_string_equal(d.key, "Endpoint");
  assert_string_equal(d.default_text, WDR_DEFAULT_ENDPOINT);
  bool found = false;
  for (size_t i = 0; i < wdr_config_doc_count(WDR_CONFIG_PLUGIN); i++) {
    d = doc_at(WDR_CONFIG_PLUGIN, i);
    if (strcmp(d.key, "Timeout") == 0) {
      assert_string_equal(d.type, "number");
      assert_string_equal(d.default_text, "10");
      assert_string_equal(d.range, "0.001 to 3600");
      found = true;
    }
  }
  assert_true(found);
  d = doc_at(WDR_CONFIG_WORKFLOW, 2);
  assert_string_equal(d.key, "ExecuteType");
  assert_true(d.required);
  assert_string_equal(d.range, "1 to 2");
}

static void test_out_of_range(void **state) {
  (void)state;
  wdr_config_doc_t d = {.key = "untouched"};
  size_t num = wdr_config_doc_count(WDR_CONFIG_WORKFLOW);
  assert_int_equal(wdr_config_doc(WDR_CONFIG_WORKFLOW, num, &d), -1);
  assert_int_equal(wdr_config_doc((wdr_config_scope_t)42, 0, &d), -1);
  assert_int_equal(wdr_config_doc_count((wdr_config_scope_t)42), 0);
  assert_string_equal(d.key, "untouched");
}

/* --- the README ----------------------------------------------------------- */

/* Appends " text |" to buf, or " |" when text is empty. */
static void add_cell(char *buf, size_t size, const char *text) {
  size_t len = strlen(buf);
  int n =
      snprintf(buf + len, size - len, text[0] != '\0' ? " %s |" : "%s |", text);
  assert_true(n >= 0 && (size_t)n < size - len);
}

/* The README row for d (without the newline). */
static void render_row(const wdr_config_doc_t *d, char *buf, size_t size) {
  char key[96], def[WDR_CONFIG_DOC_TEXT + 2];
  snprintf(key, sizeof(key), "`%s`", d->key);
  if (d->required || d->default_text[0] == '\0')
    snprintf(def, sizeof(def), "%s", d->default_text);
  else
    snprintf(def, sizeof(def), "`%s`", d->default_text);
  snprintf(buf, size, "|");
  add_cell(buf, size, key);
  add_cell(buf, size, def);
  add_cell(buf, size, d->range);
  add_cell(buf, size, d->meaning);
}

/* Returns the subsection of text that starts with the line heading and ends
 * before the next heading, as a new string (caller frees). */
static char *subsection(const char *text, const char *heading) {
  const char *start = strstr(text, heading);
  if (start == NULL)
    fail_msg("README.md has no \"%s\"", heading);
  const char *end = strstr(start + strlen(heading), "\n#");
  size_t len = end != NULL ? (size_t)(end - start) : strlen(start);
  char *copy = strndup(start, len);
  assert_non_null(copy);
  return copy;
}

/* Copies the first cell of a table row ("| `Key` | ...") into key. */
static void first_cell(const char *row, char *key, size_t size) {
  const char *p = row + 2;
  const char *end = strstr(p, " |");
  size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
  snprintf(key, size, "%.*s", (int)len, p);
}

static bool is_extra(const char *cell, const char *const *extra,
                     size_t extra_num) {
  for (size_t i = 0; i < extra_num; i++)
    if (strcmp(cell, extra[i]) == 0)
      return true;
  return false;
}

/* Counts the problems in one README table: each option's row must appear
 * once and be exactly the rendered row; any other row must be one of
 * extra. With report, prints each problem. */
static int check_table(const char *section, wdr_config_scope_t scope,
                       const char *const *extra, size_t extra_num,
                       bool report) {
  int problems = 0;
  if (strstr(section, "\n" HEADER "\n") == NULL) {
    if (report)
      print_error("README.md: a table's header is not \"%s\"\n", HEADER);
    problems++;
  }
  size_t num = wdr_config_doc_count(scope);
  for (size_t i = 0; i < num; i++) {
    wdr_config_doc_t d = doc_at(scope, i);
    char want[ROW_MAX], key[96];
    render_row(&d, want, sizeof(want));
    snprintf(key, sizeof(key), "\n| `%s` |", d.key);
    int rows = 0, exact = 0;
    for (const char *p = strstr(section, key); p != NULL;
         p = strstr(p + 1, key)) {
      rows++;
      const char *line = p + 1;
      size_t len = strcspn(line, "\n");
      exact += len == strlen(want) && strncmp(line, want, len) == 0;
    }
    if (rows != 1 || exact != 1) {
      if (report)
        print_error("README.md: %d row(s) for %s, %d as expected; want:\n%s\n",
                    rows, d.key, exact, want);
      problems++;
    }
  }
  /* Rows for options that are no longer in the table. */
  for (const char *p = strstr(section, "\n| `"); p != NULL;
       p = strstr(p + 1, "\n| `")) {
    char cell[256];
    first_cell(p + 1, cell, sizeof(cell));
    bool known = is_extra(cell, extra, extra_num);
    for (size_t i = 0; i < num && !known; i++) {
      char key[96];
      snprintf(key, sizeof(key), "`%s`", doc_at(scope, i).key);
      known = strcmp(cell, key) == 0;
    }
    if (!known) {
      if (report)
        print_error("README.md: row for %s, which is not an option\n", cell);
      problems++;
    }
  }
  return problems;
}

static void test_readme_tables(void **state) {
  (void)state;
  char *readme = test_read_file(README, NULL);
  char *plugin = subsection(readme, "\n### Plugin-wide options\n");
  char *workflow = subsection(readme, "\n### `<Workflow \"name\">`\n");
  int problems =
      check_table(plugin, WDR_CONFIG_PLUGIN, NULL, 0, true) +
      check_table(workflow, WDR_CONFIG_WORKFLOW, workflow_extra,
                  sizeof(workflow_extra) / sizeof(*workflow_extra), true);
  free(workflow);
  free(plugin);
  free(readme);
  assert_int_equal(problems, 0);
}

/* The checker itself: a row that drifted is caught. */
static void test_readme_check_catches_drift(void **state) {
  (void)state;
  wdr_config_doc_t d = doc_at(WDR_CONFIG_PLUGIN, 0);
  char row[ROW_MAX], section[2 * ROW_MAX];
  render_row(&d, row, sizeof(row));
  snprintf(section, sizeof(section), "\n%s\n|---|---|---|---|\n%s\n", HEADER,
           row);
  /* Only the first option has a row: every other one is reported. */
  size_t num = wdr_config_doc_count(WDR_CONFIG_PLUGIN);
  assert_int_equal(check_table(section, WDR_CONFIG_PLUGIN, NULL, 0, false),
                   (int)num - 1);
  /* A changed meaning, and a row for an unknown option. */
  snprintf(section, sizeof(section),
           "\n%s\n%.*sX |\n| `NoSuchOption` | | | x |\n", HEADER,
           (int)strlen(row) - 2, row);
  assert_int_equal(check_table(section, WDR_CONFIG_PLUGIN, NULL, 0, false),
                   (int)num + 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_sane),
      cmocka_unit_test(test_known_rows),
      cmocka_unit_test(test_out_of_range),
      cmocka_unit_test(test_readme_tables),
      cmocka_unit_test(test_readme_check_catches_drift),
  };
  return cmocka_run_group_tests_name("wdr_config_doc", tests, NULL, NULL);
}
