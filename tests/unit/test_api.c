/* The API client with a recording transport: the exact request it builds
 * (URL, headers, body, signature) and how it classifies every answer. */
#include "testutil.h"
#include "vectors.h"

#include "wdr_api.h"

typedef struct {
  /* what the client sent */
  char url[256];
  char headers[16][512];
  size_t headers_num;
  char body[4096];
  int calls;
  /* what to answer */
  wdr_http_outcome_t outcome;
  bool request_sent;
  long status;
  const char *answer;
  int post_result;
} fake_t;

static int fake_post(void *ctx, const wdr_http_request_t *req,
                     wdr_http_response_t *resp) {
  fake_t *f = ctx;
  f->calls++;
  snprintf(f->url, sizeof(f->url), "%s", req->url);
  assert_true(req->headers_num <= 16);
  f->headers_num = req->headers_num;
  for (size_t i = 0; i < req->headers_num; i++)
    snprintf(f->headers[i], sizeof(f->headers[i]), "%s", req->headers[i]);
  assert_true(req->body_len < sizeof(f->body));
  memcpy(f->body, req->body, req->body_len);
  f->body[req->body_len] = '\0';
  if (f->post_result != 0)
    return f->post_result;
  resp->outcome = f->outcome;
  resp->request_sent = f->request_sent;
  resp->status = f->status;
  resp->seconds = 0.25;
  if (f->outcome != WDR_HTTP_DONE)
    snprintf(resp->error, sizeof(resp->error), "%s", "Connection refused");
  if (f->answer != NULL)
    assert_int_equal(wdr_buf_append_str(&resp->body, f->answer), 0);
  return 0;
}

static const char *ok_answer = "{\"Response\":{\"Data\":{\"AsyncId\":\"async-"
                               "1\"},\"RequestId\":\"req-1\"}}";

static fake_t *new_fake(void) {
  fake_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->outcome = WDR_HTTP_DONE;
  f->request_sent = true;
  f->status = 200;
  f->answer = ok_answer;
  return f;
}

static const wdr_rerun_req_t minimal_req = {
    .project_id = "1460947878944567296",
    .workflow_id = "0fae8078-a7a7-4b67-afd1-8bf18e068dda",
    .execution_id = "001e2f39-a71d-4588-9a9a-9f244d32c96c",
    .execute_type = 1};

/* The whole request for vector wd-07 (plain application/json, as we send):
 * every header the official SDK's signer would produce, and the body. */
static void test_request_matches_sdk_vector(void **state) {
  (void)state;
  yajl_val vectors = vectors_load();
  yajl_val v = NULL;
  for (size_t i = 0; i < YAJL_GET_ARRAY(vectors)->len; i++) {
    yajl_val c = YAJL_GET_ARRAY(vectors)->values[i];
    if (strcmp(vstr(c, NULL, "id"), "wd-07-sdk-default-content-type") == 0)
      v = c;
  }
  assert_non_null(v);
  assert_string_equal(vstr(v, "inputs", "content_type"), WDR_API_CONTENT_TYPE);

  fake_t *f = new_fake();
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = vstr(v, "inputs", "url"),
                           .host = vstr(v, "inputs", "host"),
                           .region = vstr(v, "inputs", "region"),
                           .secret_id = vstr(v, "inputs", "secret_id"),
                           .secret_key = vstr(v, "inputs", "secret_key")};
  wdr_api_result_t res;
  assert_int_equal(wdr_api_rerun(&ep, &t, &minimal_req,
                                 vint(v, "inputs", "timestamp"), &res),
                   0);
  assert_int_equal(f->calls, 1);
  assert_string_equal(f->url, "https://wedata.tencentcloudapi.com/");
  assert_string_equal(f->body, vstr(v, "inputs", "payload"));

  const char *names[] = {"Host",         "Content-Type",   "X-TC-Action",
                         "X-TC-Version", "X-TC-Timestamp", "X-TC-Region",
                         "Authorization"};
  assert_int_equal(f->headers_num, 7);
  for (size_t i = 0; i < 7; i++) {
    const char *path[] = {"outputs", "request_headers", names[i], NULL};
    yajl_val value = yajl_tree_get(v, path, yajl_t_string);
    assert_non_null(value);
    char want[512];
    snprintf(want, sizeof(want), "%s: %s", names[i], YAJL_GET_STRING(value));
    assert_string_equal(f->headers[i], want);
  }
  assert_true(res.response.ok);
  assert_string_equal(res.response.async_id, "async-1");
  assert_string_equal(res.response.request_id, "req-1");
  assert_int_equal(res.http_status, 200);
  assert_true(res.seconds == 0.25);
  free(f);
  yajl_tree_free(vectors);
}

static void test_optional_headers(void **state) {
  (void)state;
  fake_t *f = new_fake();
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://127.0.0.1:8443/",
                           .host = "127.0.0.1:8443",
                           .region = "ap-shanghai",
                           .secret_id = "AKIDx",
                           .secret_key = "key",
                           .session_token = "tok-123",
                           .language = "en-US"};
  wdr_api_result_t res;
  assert_int_equal(wdr_api_rerun(&ep, &t, &minimal_req, 1767225600, &res), 0);
  assert_int_equal(f->headers_num, 9);
  assert_string_equal(f->headers[0], "Host: 127.0.0.1:8443");
  assert_string_equal(f->headers[4], "X-TC-Timestamp: 1767225600");
  assert_string_equal(f->headers[5], "X-TC-Region: ap-shanghai");
  assert_string_equal(f->headers[6], "X-TC-Token: tok-123");
  assert_string_equal(f->headers[7], "X-TC-Language: en-US");
  assert_true(strncmp(f->headers[8],
                      "Authorization: TC3-HMAC-SHA256 Credential=AKIDx/"
                      "2026-01-01/wedata/tc3_request, SignedHeaders=content-"
                      "type;host, Signature=",
                      118) == 0);
  free(f);
}

static void test_signed_afresh_each_call(void **state) {
  (void)state;
  fake_t *f = new_fake();
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://h/",
                           .host = "h",
                           .region = "ap-guangzhou",
                           .secret_id = "AKIDx",
                           .secret_key = "key"};
  wdr_api_result_t res;
  assert_int_equal(wdr_api_rerun(&ep, &t, &minimal_req, 1000, &res), 0);
  char first_auth[512], first_ts[512];
  snprintf(first_auth, sizeof(first_auth), "%s", f->headers[6]);
  snprintf(first_ts, sizeof(first_ts), "%s", f->headers[4]);
  assert_int_equal(wdr_api_rerun(&ep, &t, &minimal_req, 1001, &res), 0);
  assert_string_equal(first_ts, "X-TC-Timestamp: 1000");
  assert_string_equal(f->headers[4], "X-TC-Timestamp: 1001");
  assert_string_not_equal(first_auth, f->headers[6]);
  free(f);
}

static int run_with_rc(fake_t *f, wdr_api_result_t *res) {
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://h/",
                           .host = "h",
                           .region = "ap-guangzhou",
                           .secret_id = "AKIDx",
                           .secret_key = "key"};
  return wdr_api_rerun(&ep, &t, &minimal_req, 1000, res);
}

static void run_with(fake_t *f, wdr_api_result_t *res) {
  assert_int_equal(run_with_rc(f, res), 0);
}

static void test_classification(void **state) {
  (void)state;
  wdr_api_result_t res;
  fake_t *f = new_fake();

  f->outcome = WDR_HTTP_NETWORK;
  f->request_sent = false;
  f->status = 0;
  f->answer = NULL;
  run_with(f, &res);
  assert_false(res.response.ok);
  assert_string_equal(res.response.error_code, "ClientError.NetworkError");
  assert_string_equal(res.response.error_message, "Connection refused");
  assert_false(res.request_sent);
  assert_int_equal(res.http_status, 0);

  f->request_sent = true; /* a timeout after sending: the server may act */
  run_with(f, &res);
  assert_string_equal(res.response.error_code, "ClientError.NetworkError");
  assert_true(res.request_sent);

  f->outcome = WDR_HTTP_TOO_LARGE;
  f->status = 200;
  run_with(f, &res);
  assert_string_equal(res.response.error_code, "ClientError.ParseJsonError");

  f->outcome = WDR_HTTP_DONE;
  f->status = 503;
  f->answer = "{\"Response\":{\"Error\":{\"Code\":\"InternalError\"}}}";
  run_with(f, &res);
  assert_string_equal(res.response.error_code,
                      "ClientError.HttpStatusCodeError");
  assert_string_equal(res.response.error_message, "HTTP status 503");
  assert_int_equal(res.http_status, 503);

  f->status = 200;
  f->answer = "<html>gateway</html>";
  run_with(f, &res);
  assert_string_equal(res.response.error_code, "ClientError.ParseJsonError");

  f->answer = "{\"Response\":{\"Error\":{\"Code\":\"InvalidParameter\","
              "\"Message\":\"bad id\"},\"RequestId\":\"r-2\"}}";
  run_with(f, &res);
  assert_false(res.response.ok);
  assert_string_equal(res.response.error_code, "InvalidParameter");
  assert_string_equal(res.response.error_message, "bad id");
  assert_string_equal(res.response.request_id, "r-2");

  f->answer = ok_answer;
  run_with(f, &res);
  assert_true(res.response.ok);

  /* A transport that could not even try (out of memory). */
  f->post_result = -1;
  assert_int_equal(run_with_rc(f, &res), -1);
  assert_false(res.response.ok);
  assert_string_equal(res.response.error_code, "ClientError.NetworkError");
  free(f);
}

static void test_unbuildable_request_never_sent(void **state) {
  (void)state;
  fake_t *f = new_fake();
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://h/",
                           .host = "h",
                           .region = "ap-guangzhou",
                           .secret_id = "AKIDx",
                           .secret_key = "key"};
  wdr_rerun_req_t req = minimal_req;
  req.execution_id = "bad-\xc3";
  wdr_api_result_t res;
  assert_int_equal(wdr_api_rerun(&ep, &t, &req, 1000, &res), -1);
  assert_int_equal(f->calls, 0);
  assert_false(res.response.ok);
  assert_string_equal(res.response.error_code, "ClientError.ParseJsonError");
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_matches_sdk_vector),
      cmocka_unit_test(test_optional_headers),
      cmocka_unit_test(test_signed_afresh_each_call),
      cmocka_unit_test(test_classification),
      cmocka_unit_test(test_unbuildable_request_never_sent),
  };
  return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
