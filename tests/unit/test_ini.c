/* The credential profile reader: what it takes from a file, and the clear
 * error (never a value) for every file it cannot take. */
#include "testutil.h"

#include "wdr_ini.h"

static const char *const keys[] = {"secret_id", "secret_key", "token"};
#define KEYS 3

typedef struct {
  wdr_ini_status_t rc;
  char *v[KEYS];
  char err[WDR_INI_ERR_MAX];
} got_t;

static got_t get(const char *text, const char *section) {
  got_t g;
  g.rc = wdr_ini_get(text, strlen(text), section, keys, KEYS, g.v, g.err);
  return g;
}

static void done(got_t *g) { wdr_ini_free(g->v, KEYS); }

static void test_sections_comments_spaces(void **state) {
  (void)state;
  const char *text = "# written by tccli\n"
                     "; another comment\n"
                     "\n"
                     "[default]\n"
                     "secret_id = AKIDdefault\n"
                     "secret_key=keyDefault\n"
                     "\n"
                     "[ ops ]\n"
                     "  Secret_Id\t=  AKIDops  \n"
                     "SECRET_KEY: key=with=equals\n"
                     "token = \n"
                     "region = ap-guangzhou\n"
                     "[other]\n"
                     "secret_id = AKIDother\n";
  got_t g = get(text, "default");
  assert_int_equal(g.rc, WDR_INI_FOUND);
  assert_string_equal(g.v[0], "AKIDdefault");
  assert_string_equal(g.v[1], "keyDefault");
  assert_null(g.v[2]); /* missing: the caller decides */
  done(&g);

  g = get(text, "ops");
  assert_int_equal(g.rc, WDR_INI_FOUND);
  assert_string_equal(g.v[0], "AKIDops");
  /* The first of '=' and ':' separates; the rest belongs to the value. */
  assert_string_equal(g.v[1], "key=with=equals");
  assert_string_equal(g.v[2], ""); /* given, empty */
  done(&g);

  g = get(text, "Ops"); /* section names are exact */
  assert_int_equal(g.rc, WDR_INI_NO_SECTION);
  for (int i = 0; i < KEYS; i++)
    assert_null(g.v[i]);
  g = get("", "default");
  assert_int_equal(g.rc, WDR_INI_NO_SECTION);
  g = get("secret_id = x\n", "default"); /* before any section */
  assert_int_equal(g.rc, WDR_INI_NO_SECTION);
}

static void test_crlf_and_no_final_newline(void **state) {
  (void)state;
  got_t g = get("[default]\r\nsecret_id = AKIDcrlf\r\nsecret_key = k\r\n"
                "token = t",
                "default");
  assert_int_equal(g.rc, WDR_INI_FOUND);
  assert_string_equal(g.v[0], "AKIDcrlf");
  assert_string_equal(g.v[1], "k");
  assert_string_equal(g.v[2], "t");
  done(&g);
}

/* Errors name the line and the fault, never the text of a value. */
static void test_errors(void **state) {
  (void)state;
  static const struct {
    const char *text;
    const char *err;
  } cases[] = {
      {"[default]\nsecret_id = AKIDa\nsecretSECRET\n",
       "line 3 in [default]: not 'key = value'"},
      {"[default]\n= SECRETvalue\n",
       "line 2 in [default]: a value without a key"},
      {"[default]\nsecret_key = SECRETa\nSECRET_KEY = SECRETb\n",
       "line 3 in [default]: key secret_key is given twice"},
      {"[default]\nsecret_id = a\n[default]\n",
       "line 3: section [default] is given twice"},
      {"[default\nsecret_id = a\n", "line 1: a section header without its ']'"},
      {"[other]\nx = 1\n[broken\n", "line 3: a section header without its ']'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    got_t g = get(cases[i].text, "default");
    if (g.rc != WDR_INI_ERROR || strcmp(g.err, cases[i].err) != 0)
      fail_msg("case %zu: rc %d, \"%s\"", i, g.rc, g.err);
    for (int k = 0; k < KEYS; k++)
      assert_null(g.v[k]);
    assert_null(strstr(g.err, "SECRET"));
  }
  /* A line of someone else's profile is not ours to judge. */
  got_t g = get("[other]\nnonsense\n[default]\nsecret_id = a\n", "default");
  assert_int_equal(g.rc, WDR_INI_FOUND);
  assert_string_equal(g.v[0], "a");
  done(&g);
}

static void test_binary_junk(void **state) {
  (void)state;
  char junk[4096];
  for (size_t i = 0; i < sizeof(junk); i++)
    junk[i] = (char)(i * 151 + 7);
  char *v[KEYS];
  char err[WDR_INI_ERR_MAX];
  assert_int_equal(
      wdr_ini_get(junk, sizeof(junk), "default", keys, KEYS, v, err),
      WDR_INI_ERROR);
  assert_string_equal(err, "it holds a NUL byte: not a text file");
  for (int k = 0; k < KEYS; k++)
    assert_null(v[k]);
  /* Without NUL bytes, junk is lines of nobody's section. */
  for (size_t i = 0; i < sizeof(junk); i++)
    if (junk[i] == '\0')
      junk[i] = 'x';
  wdr_ini_status_t rc =
      wdr_ini_get(junk, sizeof(junk), "default", keys, KEYS, v, err);
  assert_true(rc == WDR_INI_NO_SECTION || rc == WDR_INI_ERROR);
  for (int k = 0; k < KEYS; k++)
    assert_null(v[k]);
}

/* A 1 MiB file of comments and other profiles, ours at the end. */
static void test_one_mib_file(void **state) {
  (void)state;
  size_t size = 1024 * 1024;
  char *text = malloc(size + 1);
  assert_non_null(text);
  size_t at = 0;
  for (int n = 0; at + 200 < size; n++)
    at +=
        (size_t)snprintf(text + at, size - at,
                         "# profile %d\n[p%d]\nsecret_id = AKID%d\n", n, n, n);
  at += (size_t)snprintf(text + at, size - at,
                         "[default]\nsecret_id = AKIDlast\nsecret_key = k\n");
  char *v[KEYS];
  char err[WDR_INI_ERR_MAX];
  assert_int_equal(wdr_ini_get(text, at, "default", keys, KEYS, v, err),
                   WDR_INI_FOUND);
  assert_string_equal(v[0], "AKIDlast");
  wdr_ini_free(v, KEYS);
  assert_int_equal(wdr_ini_get(text, at, "p1000", keys, KEYS, v, err),
                   WDR_INI_FOUND);
  assert_string_equal(v[0], "AKID1000");
  wdr_ini_free(v, KEYS);
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sections_comments_spaces),
      cmocka_unit_test(test_crlf_and_no_final_newline),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_binary_junk),
      cmocka_unit_test(test_one_mib_file),
  };
  return cmocka_run_group_tests_name("wdr_ini", tests, NULL, NULL);
}
