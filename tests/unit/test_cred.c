/* The credential chain's pure parts: source names, which profile files are
 * looked at in which order, and what a profile section yields. */
#include "testutil.h"

#include "wdr_cred.h"

static const char *g_file, *g_home;

static const char *env(const char *name) {
  if (strcmp(name, "TENCENTCLOUD_CREDENTIALS_FILE") == 0)
    return g_file;
  if (strcmp(name, "HOME") == 0)
    return g_home;
  return NULL;
}

static void test_source_names(void **state) {
  (void)state;
  static const char *const names[] = {"config", "env", "profile", "cvm-role"};
  for (size_t i = 0; i < 4; i++) {
    wdr_cred_source_t s = WDR_CRED_CHAIN;
    assert_true(wdr_cred_source_parse(names[i], &s));
    assert_int_equal(s, (wdr_cred_source_t)(WDR_CRED_CONFIG + i));
    assert_string_equal(wdr_cred_source_name(s), names[i]);
  }
  wdr_cred_source_t s = WDR_CRED_CHAIN;
  assert_true(wdr_cred_source_parse("CVM-Role", &s));
  assert_int_equal(s, WDR_CRED_CVM_ROLE);
  assert_false(wdr_cred_source_parse("chain", &s));
  assert_false(wdr_cred_source_parse("", &s));
  assert_false(wdr_cred_source_parse("environment", &s));
  assert_string_equal(wdr_cred_source_name(WDR_CRED_CHAIN), "chain");
}

/* One rule for every source: a value that would break a signed header. */
static void test_value_ok(void **state) {
  (void)state;
  assert_true(wdr_cred_value_ok(NULL));
  assert_true(wdr_cred_value_ok(""));
  assert_true(wdr_cred_value_ok("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"));
  assert_true(wdr_cred_value_ok("a+b/c=d~\xe4\xb8\xad"));
  const char *bad[] = {"a b", "a\tb", "ab\n", "\rab", "a\x7f", "a\x01b"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (wdr_cred_value_ok(bad[i]))
      fail_msg("value %zu accepted", i);
}

static void test_profile_paths(void **state) {
  (void)state;
  char p[WDR_CRED_PATHS_MAX][WDR_CRED_PATH_MAX];
  g_home = "/home/ops";
  assert_int_equal(wdr_cred_profile_paths(env, p), 2);
  assert_string_equal(p[0], "/home/ops/.tencentcloud/credentials");
  assert_string_equal(p[1], "/etc/tencentcloud/credentials");
  assert_false(wdr_cred_profile_named(env));

  /* The operator named the file: that one only. */
  g_file = "/srv/creds.ini";
  assert_int_equal(wdr_cred_profile_paths(env, p), 1);
  assert_string_equal(p[0], "/srv/creds.ini");
  assert_true(wdr_cred_profile_named(env));

  g_file = "";
  g_home = NULL; /* collectd started without HOME */
  assert_int_equal(wdr_cred_profile_paths(env, p), 1);
  assert_string_equal(p[0], "/etc/tencentcloud/credentials");
  assert_false(wdr_cred_profile_named(env));
  assert_int_equal(wdr_cred_profile_paths(NULL, p), 1);
  g_file = g_home = NULL;
}

static void test_from_profile(void **state) {
  (void)state;
  const char *text = "[default]\nsecret_id = AKIDd\nsecret_key = kd\n"
                     "[ops]\nsecret_id=AKIDo\nsecret_key=ko\ntoken=to\n"
                     "[empty_token]\nsecret_id=a\nsecret_key=b\ntoken=\n"
                     "[no_key]\nsecret_id = AKIDx\n"
                     "[empty_key]\nsecret_id = AKIDx\nsecret_key =\n";
  char *id, *key, *token, err[200];
  assert_int_equal(wdr_cred_from_profile(text, strlen(text), "ops", &id, &key,
                                         &token, err, sizeof(err)),
                   WDR_CRED_FOUND);
  assert_string_equal(id, "AKIDo");
  assert_string_equal(key, "ko");
  assert_string_equal(token, "to");
  free(id);
  free(key);
  free(token);
  assert_int_equal(wdr_cred_from_profile(text, strlen(text), "empty_token", &id,
                                         &key, &token, err, sizeof(err)),
                   WDR_CRED_FOUND);
  assert_null(token);
  free(id);
  free(key);

  assert_int_equal(wdr_cred_from_profile(text, strlen(text), "nope", &id, &key,
                                         &token, err, sizeof(err)),
                   WDR_CRED_NONE);
  assert_null(id);
  assert_int_equal(wdr_cred_from_profile(text, strlen(text), "no_key", &id,
                                         &key, &token, err, sizeof(err)),
                   WDR_CRED_BAD);
  assert_string_equal(err, "section [no_key] has no secret_key");
  assert_null(id);
  assert_null(key);
  assert_int_equal(wdr_cred_from_profile(text, strlen(text), "empty_key", &id,
                                         &key, &token, err, sizeof(err)),
                   WDR_CRED_BAD);
  assert_string_equal(err, "section [empty_key] has no secret_key");
  const char *broken = "[default]\nsecret_id AKIDsecret\n";
  assert_int_equal(wdr_cred_from_profile(broken, strlen(broken), "default", &id,
                                         &key, &token, err, sizeof(err)),
                   WDR_CRED_BAD);
  assert_string_equal(err, "line 2 in [default]: not 'key = value'");
}

static void test_usable(void **state) {
  (void)state;
  assert_true(wdr_cred_usable("AKID", 0, 1000, 10)); /* never expire */
  assert_false(wdr_cred_usable("", 0, 1000, 10));    /* none yet */
  assert_false(wdr_cred_usable(NULL, 0, 1000, 10));
  assert_true(wdr_cred_usable("AKID", 1012, 1000, 10));  /* 12 s > 11 */
  assert_false(wdr_cred_usable("AKID", 1011, 1000, 10)); /* would expire */
  assert_false(wdr_cred_usable("AKID", 900, 1000, 10));  /* expired */
}

/* The schedule with a clock that only the test moves. */
static void test_refresh_schedule(void **state) {
  (void)state;
  /* A two-hour role: 300 s before, as the SDKs do. */
  assert_int_equal(wdr_cred_refresh_at(1000 + 7200, 1000, 10), 1000 + 6900);
  /* 20-second test credentials: half their life... */
  assert_int_equal(wdr_cred_refresh_at(1020, 1000, 3), 1010);
  /* ...but always early enough to outlast a request. */
  assert_int_equal(wdr_cred_refresh_at(1020, 1000, 10), 1007);
  /* Seen late (the service gave the same set again): soon, never now. */
  assert_int_equal(wdr_cred_refresh_at(1020, 1015, 3), 1016);
  assert_int_equal(wdr_cred_refresh_at(1020, 1030, 3), 1031);
  /* Each planned refresh comes while the set is still usable. */
  for (int64_t life = 5; life <= 7200; life += 5)
    for (double timeout = 1; timeout <= 30; timeout += 7) {
      int64_t at = wdr_cred_refresh_at(1000 + life, 1000, timeout);
      assert_true(at >= 1001);
      if (life > 2 * (timeout + 3) + 2)
        assert_true(wdr_cred_usable("AKID", 1000 + life, at, timeout));
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_source_names),
      cmocka_unit_test(test_value_ok),
      cmocka_unit_test(test_profile_paths),
      cmocka_unit_test(test_from_profile),
      cmocka_unit_test(test_usable),
      cmocka_unit_test(test_refresh_schedule),
  };
  return cmocka_run_group_tests_name("wdr_cred", tests, NULL, NULL);
}
