/* The profile file on disk: bounded reads, and a changed file taken into
 * the store (or, broken, not) while collectd runs. */
#include "testutil.h"

#include "wdr_credfile.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static char g_path[64];

static void write_file(const char *text) {
  /* A new file each time (rename over): a change of inode as editors and
   * tccli make it, whatever the clock's resolution. */
  char tmp[80];
  snprintf(tmp, sizeof(tmp), "%s.new", g_path);
  FILE *fh = fopen(tmp, "w");
  assert_non_null(fh);
  assert_int_equal(fputs(text, fh) >= 0, 1);
  assert_int_equal(fclose(fh), 0);
  assert_int_equal(rename(tmp, g_path), 0);
}

static int setup(void **state) {
  (void)state;
  snprintf(g_path, sizeof(g_path), "/tmp/wdr_test_profileXXXXXX");
  int fd = mkstemp(g_path);
  if (fd < 0)
    return -1;
  close(fd);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(g_path);
  return 0;
}

static void test_read_bounded(void **state) {
  (void)state;
  write_file("[default]\nsecret_id = a\n");
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(wdr_credfile_read(g_path, 64, &text, &len), 0);
  assert_int_equal(len, 24);
  assert_string_equal(text, "[default]\nsecret_id = a\n");
  free(text);
  assert_int_equal(wdr_credfile_read(g_path, 23, &text, &len), EFBIG);
  assert_int_equal(wdr_credfile_read("/nonexistent/wdr", 64, &text, &len),
                   ENOENT);
  assert_int_equal(wdr_credfile_read("/", 64, &text, &len), EISDIR);
}

static void test_reload_when_changed(void **state) {
  (void)state;
  write_file("[ops]\nsecret_id = AKID1\nsecret_key = key1\n");
  wdr_credstore_t *s = wdr_credstore_create("AKID1", "key1", NULL);
  wdr_credfile_watch_t w;
  assert_int_equal(wdr_credfile_watch_init(&w, g_path, "ops"), 0);
  char err[512] = "";
  wdr_cred_snapshot_t snap;

  assert_int_equal(wdr_credfile_reload(&w, s, err, sizeof(err)),
                   WDR_CREDFILE_UNCHANGED);

  write_file("[ops]\nsecret_id = AKID2\nsecret_key = key2\ntoken = tok2\n");
  assert_int_equal(wdr_credfile_reload(&w, s, err, sizeof(err)),
                   WDR_CREDFILE_RELOADED);
  wdr_credstore_get(s, &snap);
  assert_string_equal(snap.secret_id, "AKID2");
  assert_string_equal(snap.secret_key, "key2");
  assert_string_equal(snap.token, "tok2");
  assert_int_equal(wdr_credfile_reload(&w, s, err, sizeof(err)),
                   WDR_CREDFILE_UNCHANGED);

  /* Broken: said once per version of the file, the old set kept. */
  const char *broken[] = {
      "[ops]\nsecret_id = AKID3\n",
      "[other]\nsecret_id = AKID3\nsecret_key = k\n",
      "[ops]\nsecret_id = AKID 3\nsecret_key = k3\n",
  };
  const char *why[] = {"section [ops] has no secret_key",
                       "has no section [ops] any more",
                       "a value contains white space or control characters"};
  for (size_t i = 0; i < 3; i++) {
    write_file(broken[i]);
    assert_int_equal(wdr_credfile_reload(&w, s, err, sizeof(err)),
                     WDR_CREDFILE_FAILED);
    if (strstr(err, why[i]) == NULL || strstr(err, g_path) == NULL)
      fail_msg("case %zu: \"%s\"", i, err);
    assert_null(strstr(err, "AKID3"));
    assert_int_equal(wdr_credfile_reload(&w, s, err, sizeof(err)),
                     WDR_CREDFILE_UNCHANGED);
  }
  unlink(g_path);
  assert_int_equal(wdr_credfile_reload(&w, s, err, sizeof(err)),
                   WDR_CREDFILE_FAILED);
  assert_non_null(strstr(err, "No such file or directory"));
  wdr_credstore_get(s, &snap);
  assert_string_equal(snap.secret_id, "AKID2");
  assert_int_equal(snap.version, 2);

  write_file("[ops]\nsecret_id = AKID4\nsecret_key = key4\n");
  assert_int_equal(wdr_credfile_reload(&w, s, err, sizeof(err)),
                   WDR_CREDFILE_RELOADED);
  wdr_credstore_get(s, &snap);
  assert_string_equal(snap.secret_id, "AKID4");
  assert_string_equal(snap.token, "");
  wdr_cred_snapshot_wipe(&snap);
  wdr_credfile_watch_free(&w);
  wdr_credstore_destroy(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_read_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reload_when_changed, setup,
                                      teardown),
  };
  return cmocka_run_group_tests_name("wdr_credfile", tests, NULL, NULL);
}
