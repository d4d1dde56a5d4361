/* The TC3 signer against every vector in tests/vectors/tc3-signatures.json,
 * stage by stage. The vectors come from the official Node SDK's own signer
 * and the official documentation's worked example, not from this code. */
#include "testutil.h"
#include "vectors.h"

#include "wdr_sign.h"

static yajl_val vectors;

static int setup(void **state) {
  (void)state;
  vectors = vectors_load();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  yajl_tree_free(vectors);
  return 0;
}

static void hex_equal(const uint8_t *bytes, const char *want) {
  char got[2 * WDR_SHA256_LEN + 1];
  wdr_hex(bytes, WDR_SHA256_LEN, got);
  assert_string_equal(got, want);
}

static void check_vector(yajl_val v) {
  const char *id = vstr(v, NULL, "id");
  size_t payload_len = 0;
  uint8_t *payload = vpayload(v, &payload_len);
  const char *signed_headers = vstr(v, "inputs", "signed_headers");
  wdr_sign_input_t in = {
      .host = vstr(v, "inputs", "host"),
      .content_type = vstr(v, "inputs", "content_type"),
      .action = vstr(v, "inputs", "action"),
      .sign_action =
          strcmp(signed_headers, "content-type;host;x-tc-action") == 0,
      .service = vstr(v, "inputs", "service"),
      .payload = payload,
      .payload_len = payload_len,
      .timestamp = vint(v, "inputs", "timestamp"),
      .secret_id = vstr(v, "inputs", "secret_id"),
      .secret_key = vstr(v, "inputs", "secret_key"),
  };
  wdr_sign_t s;
  print_message("vector %s\n", id);
  if (in.secret_key != NULL) {
    assert_int_equal(wdr_sign_compute(&in, &s), 0);
    hex_equal(s.secret_date, vstr(v, "outputs", "secret_date_hex"));
    hex_equal(s.secret_service, vstr(v, "outputs", "secret_service_hex"));
  } else {
    /* The documentation masks this example's key but publishes the derived
     * signing key: sign with that. */
    uint8_t key[WDR_SHA256_LEN];
    unhex(vstr(v, "outputs", "secret_signing_hex"), key, sizeof(key));
    assert_int_equal(wdr_sign_compute_with_key(&in, key, &s), 0);
  }
  assert_string_equal(s.hashed_payload,
                      vstr(v, "outputs", "hashed_request_payload"));
  assert_string_equal(wdr_buf_str(&s.canonical_request),
                      vstr(v, "outputs", "canonical_request"));
  assert_string_equal(s.hashed_canonical_request,
                      vstr(v, "outputs", "hashed_canonical_request"));
  assert_string_equal(wdr_buf_str(&s.credential_scope),
                      vstr(v, "outputs", "credential_scope"));
  assert_string_equal(s.date, vstr(v, "inputs", "utc_date"));
  assert_string_equal(wdr_buf_str(&s.string_to_sign),
                      vstr(v, "outputs", "string_to_sign"));
  hex_equal(s.secret_signing, vstr(v, "outputs", "secret_signing_hex"));
  assert_string_equal(s.signature, vstr(v, "outputs", "signature"));
  assert_string_equal(wdr_buf_str(&s.authorization),
                      vstr(v, "outputs", "authorization"));
  wdr_sign_clear(&s);
  free(payload);
}

static void test_every_vector(void **state) {
  (void)state;
  size_t n = YAJL_GET_ARRAY(vectors)->len;
  for (size_t i = 0; i < n; i++)
    check_vector(YAJL_GET_ARRAY(vectors)->values[i]);
}

/* The published values of the documentation's example, checked on their
 * own so that a change to the vector file cannot hide a regression. */
static void test_doc_example_published(void **state) {
  (void)state;
  const char *payload = "{\"Limit\": 1, \"Filters\": [{\"Values\": "
                        "[\"\\u672a\\u547d\\u540d\"], \"Name\": "
                        "\"instance-name\"}]}";
  wdr_sign_input_t in = {.host = "cvm.tencentcloudapi.com",
                         .content_type = "application/json; charset=utf-8",
                         .action = "DescribeInstances",
                         .service = "cvm",
                         .payload = payload,
                         .payload_len = strlen(payload),
                         .timestamp = 1551113065,
                         .secret_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                         .secret_key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"};
  wdr_sign_t s;
  assert_int_equal(wdr_sign_compute(&in, &s), 0);
  assert_string_equal(
      s.hashed_payload,
      "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064");
  assert_string_equal(
      s.hashed_canonical_request,
      "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031");
  /* The scope date is the UTC date (2019-02-25), not Beijing's (02-26). */
  assert_string_equal(wdr_buf_str(&s.credential_scope),
                      "2019-02-25/cvm/tc3_request");
  assert_string_equal(
      s.signature,
      "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
  wdr_sign_clear(&s);
}

static void test_header_values_trimmed_and_lowered(void **state) {
  (void)state;
  wdr_sign_input_t in = {.host = "  WeData.TencentCloudAPI.com ",
                         .content_type = "Application/JSON",
                         .service = "wedata",
                         .payload = "{}",
                         .payload_len = 2,
                         .timestamp = 0,
                         .secret_id = "id",
                         .secret_key = "key"};
  wdr_sign_t s;
  assert_int_equal(wdr_sign_compute(&in, &s), 0);
  assert_string_equal(wdr_buf_str(&s.canonical_request),
                      "POST\n/\n\ncontent-type:application/json\n"
                      "host:wedata.tencentcloudapi.com\n\ncontent-type;host\n"
                      "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f"
                      "61caaff8a");
  /* Timestamp 0 is 1970-01-01 in UTC. */
  assert_string_equal(s.date, "1970-01-01");
  wdr_sign_clear(&s);
}

/* A valid input for the tests that change one field. */
static wdr_sign_input_t small_input(void) {
  return (wdr_sign_input_t){.host = "h",
                            .content_type = "application/json",
                            .action = "A",
                            .service = "wedata",
                            .payload = "{}",
                            .payload_len = 2,
                            .timestamp = 1,
                            .secret_id = "id",
                            .secret_key = "key"};
}

static void test_empty_payload_hashes_empty_string(void **state) {
  (void)state;
  wdr_sign_input_t in = small_input();
  in.payload = NULL;
  in.payload_len = 0;
  wdr_sign_t s;
  assert_int_equal(wdr_sign_compute(&in, &s), 0);
  assert_string_equal(
      s.hashed_payload,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  wdr_sign_clear(&s);
}

static void test_missing_inputs_fail(void **state) {
  (void)state;
  wdr_sign_input_t good = small_input();
  wdr_sign_t s;
  wdr_sign_input_t in = good;
  in.secret_key = NULL;
  assert_int_equal(wdr_sign_compute(&in, &s), -1);
  wdr_sign_clear(&s);
  in = good;
  in.secret_key = "";
  assert_int_equal(wdr_sign_compute(&in, &s), -1);
  wdr_sign_clear(&s);
  in = good;
  in.host = NULL;
  assert_int_equal(wdr_sign_compute(&in, &s), -1);
  wdr_sign_clear(&s);
  in = good;
  in.action = NULL;
  in.sign_action = true;
  assert_int_equal(wdr_sign_compute(&in, &s), -1);
  wdr_sign_clear(&s);
  in = good;
  in.payload = NULL; /* but a length */
  assert_int_equal(wdr_sign_compute(&in, &s), -1);
  wdr_sign_clear(&s);
  /* An over-long host is refused rather than truncated. */
  char *long_host = malloc(2000);
  assert_non_null(long_host);
  memset(long_host, 'a', 1999);
  long_host[1999] = '\0';
  in = good;
  in.host = long_host;
  assert_int_equal(wdr_sign_compute(&in, &s), -1);
  wdr_sign_clear(&s);
  free(long_host);
}

static void test_clear_wipes_keys(void **state) {
  (void)state;
  wdr_sign_input_t in = small_input();
  wdr_sign_t s;
  static const uint8_t zero[WDR_SHA256_LEN] = {0};
  assert_int_equal(wdr_sign_compute(&in, &s), 0);
  assert_memory_not_equal(s.secret_signing, zero, WDR_SHA256_LEN);
  wdr_sign_clear(&s);
  assert_memory_equal(s.secret_date, zero, WDR_SHA256_LEN);
  assert_memory_equal(s.secret_service, zero, WDR_SHA256_LEN);
  assert_memory_equal(s.secret_signing, zero, WDR_SHA256_LEN);
  assert_null(s.authorization.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_vector),
      cmocka_unit_test(test_doc_example_published),
      cmocka_unit_test(test_header_values_trimmed_and_lowered),
      cmocka_unit_test(test_empty_payload_hashes_empty_string),
      cmocka_unit_test(test_missing_inputs_fail),
      cmocka_unit_test(test_clear_wipes_keys),
  };
  return cmocka_run_group_tests_name("sign", tests, setup, teardown);
}
