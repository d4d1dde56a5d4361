/* The CVM metadata service's answers: URLs, the role name, the role's
 * credentials; every malformed answer refused with a reason and no secret
 * in it. */
#include "testutil.h"

#include "wdr_metadata.h"

static void test_urls(void **state) {
  (void)state;
  char url[WDR_METADATA_URL_MAX];
  assert_int_equal(
      wdr_metadata_url(WDR_METADATA_DEFAULT_ENDPOINT, NULL, url, sizeof(url)),
      0);
  assert_string_equal(url, "http://metadata.tencentyun.com/latest/meta-data/"
                           "cam/security-credentials/");
  assert_int_equal(
      wdr_metadata_url("http://127.0.0.1:8080/", "role-a", url, sizeof(url)),
      0);
  assert_string_equal(url, "http://127.0.0.1:8080/latest/meta-data/cam/"
                           "security-credentials/role-a");
  char small[40];
  assert_int_equal(
      wdr_metadata_url("http://127.0.0.1:8080", NULL, small, sizeof(small)),
      -1);
}

static void test_role(void **state) {
  (void)state;
  char role[WDR_METADATA_ROLE_MAX], err[200];
  const char *good[] = {"wedata-role", "  wedata-role\n", "a+b=c,d.e@f_g-h\r\n",
                        "first\nsecond\n"};
  const char *want[] = {"wedata-role", "wedata-role", "a+b=c,d.e@f_g-h",
                        "first"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(wdr_metadata_parse_role(good[i], strlen(good[i]), role,
                                             err, sizeof(err)),
                     0);
    assert_string_equal(role, want[i]);
  }
  const char *bad[] = {"", "\n\n", "role name", "<html>", "role/../x"};
  for (size_t i = 0; i < 5; i++)
    if (wdr_metadata_parse_role(bad[i], strlen(bad[i]), role, err,
                                sizeof(err)) != -1)
      fail_msg("case %zu taken", i);
  assert_int_equal(wdr_metadata_parse_role("", 0, role, err, sizeof(err)), -1);
  assert_string_equal(err, "the metadata service names no role (is an "
                           "instance role attached to this CVM?)");
  char longest[WDR_METADATA_ROLE_MAX + 1];
  memset(longest, 'r', sizeof(longest) - 1);
  longest[sizeof(longest) - 1] = '\0';
  assert_int_equal(
      wdr_metadata_parse_role(longest, strlen(longest), role, err, sizeof(err)),
      -1);
}

static void test_creds(void **state) {
  (void)state;
  const char *ok = "{\"TmpSecretId\":\"AKIDtmp\",\"TmpSecretKey\":\"SECRETk\","
                   "\"ExpiredTime\":1764670000,\"Expiration\":\"2026-12-02T10:"
                   "06:40Z\",\"Token\":\"SECRETtok\",\"Code\":\"Success\"}";
  wdr_metadata_creds_t c;
  char err[200];
  assert_int_equal(
      wdr_metadata_parse_creds(ok, strlen(ok), &c, err, sizeof(err)), 0);
  assert_string_equal(c.secret_id, "AKIDtmp");
  assert_string_equal(c.secret_key, "SECRETk");
  assert_string_equal(c.token, "SECRETtok");
  assert_int_equal(c.expires_at, 1764670000);
  wdr_metadata_creds_free(&c);
  assert_null(c.secret_key);

  static const struct {
    const char *body, *err;
  } bad[] = {
      {"not json", "the role's credentials are not a JSON object: "},
      {"[1]", "the role's credentials are not a JSON object"},
      {"{\"a\":[[[[[1]]]]]}", "nests deeper than 4 levels"},
      {"{\"Code\":\"Failure\",\"TmpSecretId\":\"a\"}",
       "the metadata service answered Code other than \"Success\""},
      {"{\"TmpSecretKey\":\"SECRETk\",\"Token\":\"t\",\"ExpiredTime\":1}",
       "have no usable TmpSecretId"},
      {"{\"TmpSecretId\":\"a\",\"TmpSecretKey\":\"SECRET k\",\"Token\":\"t\","
       "\"ExpiredTime\":1}",
       "have no usable TmpSecretKey"},
      {"{\"TmpSecretId\":\"a\",\"TmpSecretKey\":\"SECRETk\",\"Token\":\"\","
       "\"ExpiredTime\":1}",
       "have no usable Token"},
      {"{\"TmpSecretId\":\"a\",\"TmpSecretKey\":\"SECRETk\",\"Token\":\"t\","
       "\"ExpiredTime\":\"1764670000\"}",
       "have no ExpiredTime"},
      {"{\"TmpSecretId\":\"a\",\"TmpSecretKey\":\"SECRETk\",\"Token\":\"t\","
       "\"ExpiredTime\":-5}",
       "have no ExpiredTime"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    wdr_metadata_creds_t d;
    int rc = wdr_metadata_parse_creds(bad[i].body, strlen(bad[i].body), &d, err,
                                      sizeof(err));
    if (rc != -1 || strstr(err, bad[i].err) == NULL)
      fail_msg("case %zu: rc %d, \"%s\"", i, rc, err);
    assert_null(strstr(err, "SECRET"));
    assert_null(d.secret_id);
    assert_null(d.secret_key);
    assert_null(d.token);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urls),
      cmocka_unit_test(test_role),
      cmocka_unit_test(test_creds),
  };
  return cmocka_run_group_tests_name("wdr_metadata", tests, NULL, NULL);
}
