/* wdr_config_doc: the option table's own documentation is sane: known
 * types, one-line meanings, defaults inside their ranges, the texts formatted
 * as the range errors format them. */
#include "testutil.h"

#include "wdr_config.h"

#include <strings.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_sane),
      cmocka_unit_test(test_known_rows),
      cmocka_unit_test(test_out_of_range),
  };
  return cmocka_run_group_tests_name("wdr_config_doc", tests, NULL, NULL);
}
