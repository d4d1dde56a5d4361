/* The API client with a recording transport: the exact request it builds
 * (URL, headers, body, signature) and how it classifies every answer, for
 * RerunTriggerWorkflowRunAsync, GetTriggerWorkflowRun and GetOpsAsyncJob. */
#include "testutil.h"
#include "vectors.h"

#include "wdr_api.h"

typedef struct {
  /* what the client sent */
  char url[256];
  char headers[16][512];
  size_t headers_num;
  char body[4096];
  bool once;
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
  f->once = req->once;
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

/* --- classification ----------------------------------------------------- *
 * The classes of hand-built results are tested in test_answer.c. */

/* The classes of what the client itself produces for each answer. */
static void test_classify_from_transport(void **state) {
  (void)state;
  wdr_api_result_t res;
  fake_t *f = new_fake();
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_OK);

  f->answer = "{\"Response\":{\"Error\":{\"Code\":\"RequestLimitExceeded\","
              "\"Message\":\"slow down\"},\"RequestId\":\"r\"}}";
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_RETRYABLE);

  f->answer = "{\"Response\":{\"Error\":{\"Code\":\"AuthFailure."
              "SignatureExpire\",\"Message\":\"old\"},\"RequestId\":\"r\"}}";
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_RESIGN);

  f->answer = "{\"Response\":{\"Error\":{\"Code\":\"ResourceNotFound\","
              "\"Message\":\"no run\"},\"RequestId\":\"r\"}}";
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_PERMANENT);

  f->answer = "{\"Response\":{\"Data\":{}}}"; /* no AsyncId */
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_AMBIGUOUS);

  f->status = 429;
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_RETRYABLE);
  f->status = 502;
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_AMBIGUOUS);

  f->outcome = WDR_HTTP_NETWORK;
  f->status = 0;
  f->answer = NULL;
  f->request_sent = false;
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_RETRYABLE);
  f->request_sent = true;
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_AMBIGUOUS);

  f->outcome = WDR_HTTP_TOO_LARGE;
  f->status = 200;
  run_with(f, &res);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_AMBIGUOUS);
  free(f);

  /* A body that cannot be built is never sent, and never will be. */
  f = new_fake();
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://h/",
                           .host = "h",
                           .region = "ap-guangzhou",
                           .secret_id = "AKIDx",
                           .secret_key = "key"};
  wdr_rerun_req_t req = minimal_req;
  req.execution_id = "bad-\xc3";
  assert_int_equal(wdr_api_rerun(&ep, &t, &req, 1000, &res), -1);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_PERMANENT);
  free(f);
}

/* --- GetTriggerWorkflowRun ---------------------------------------------- */

static const char *run_answer =
    "{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
    "\"ExecutionId\":\"001e2f39-a71d-4588-9a9a-9f244d32c96c\","
    "\"WorkflowId\":\"0fae8078-a7a7-4b67-afd1-8bf18e068dda\","
    "\"WorkflowName\":\"nightly_etl\",\"ExecutionState\":\"RUNNING\","
    "\"RerunTimes\":2,\"SupportRerun\":true,\"ExecuteType\":\"1\","
    "\"StartTime\":\"2026-11-27 01:00:00\",\"EndTime\":null,"
    "\"CostTime\":null,\"TaskRunSize\":7,\"OwnerUin\":\"100000000001\"}},"
    "\"RequestId\":\"req-get-1\"}}";

static int get_run_with(fake_t *f, wdr_api_result_t *res,
                        wdr_run_view_t *view) {
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://wedata.tencentcloudapi.com/",
                           .host = "wedata.tencentcloudapi.com",
                           .region = "ap-guangzhou",
                           .secret_id = "AKIDx",
                           .secret_key = "key"};
  return wdr_api_get_run(&ep, &t, "1460947878944567296",
                         "001e2f39-a71d-4588-9a9a-9f244d32c96c", 1767225600,
                         res, view);
}

/* Poisons view, so that a field the client forgets to set shows. */
static void poison(wdr_run_view_t *view) {
  memset(view, 0x5a, sizeof(*view));
  view->state[sizeof(view->state) - 1] = '\0';
}

static void test_get_run_request(void **state) {
  (void)state;
  fake_t *f = new_fake();
  f->answer = run_answer;
  wdr_api_result_t res;
  wdr_run_view_t view;
  poison(&view);
  assert_int_equal(get_run_with(f, &res, &view), 0);
  assert_int_equal(f->calls, 1);
  assert_string_equal(f->url, "https://wedata.tencentcloudapi.com/");
  assert_string_equal(f->body,
                      "{\"ProjectId\":\"1460947878944567296\","
                      "\"WorkflowExecutionId\":\"001e2f39-a71d-4588-9a9a-"
                      "9f244d32c96c\"}");
  assert_int_equal(f->headers_num, 7);
  assert_string_equal(f->headers[0], "Host: wedata.tencentcloudapi.com");
  assert_string_equal(f->headers[1], "Content-Type: application/json");
  assert_string_equal(f->headers[2], "X-TC-Action: GetTriggerWorkflowRun");
  assert_string_equal(f->headers[3], "X-TC-Version: 2025-08-06");
  assert_string_equal(f->headers[4], "X-TC-Timestamp: 1767225600");
  assert_string_equal(f->headers[5], "X-TC-Region: ap-guangzhou");
  /* Signed for this action and body. */
  assert_true(strncmp(f->headers[6],
                      "Authorization: TC3-HMAC-SHA256 Credential=AKIDx/"
                      "2026-01-01/wedata/tc3_request, SignedHeaders=content-"
                      "type;host, Signature=",
                      118) == 0);
  char rerun_auth[512];
  snprintf(rerun_auth, sizeof(rerun_auth), "%s", f->headers[6]);

  assert_true(res.response.ok);
  assert_string_equal(res.response.request_id, "req-get-1");
  assert_string_equal(res.response.error_code, "");
  assert_int_equal(res.http_status, 200);
  assert_true(res.request_sent);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_OK);
  assert_string_equal(view.state, "RUNNING");
  assert_int_equal(view.rerun_times, 2);
  assert_true(view.support_rerun);

  /* A different body gives a different signature. */
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://wedata.tencentcloudapi.com/",
                           .host = "wedata.tencentcloudapi.com",
                           .region = "ap-guangzhou",
                           .secret_id = "AKIDx",
                           .secret_key = "key"};
  assert_int_equal(wdr_api_get_run(&ep, &t, "1460947878944567296", "other-run",
                                   1767225600, &res, &view),
                   0);
  assert_string_equal(f->body, "{\"ProjectId\":\"1460947878944567296\","
                               "\"WorkflowExecutionId\":\"other-run\"}");
  assert_string_not_equal(f->headers[6], rerun_auth);
  free(f);
}

/* Only the rerun may not be sent twice by the transport (wdr_http.h: curl's
 * quiet resend on a fresh connection); the reads may. */
static void test_only_the_rerun_is_sent_once(void **state) {
  (void)state;
  fake_t *f = new_fake();
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://wedata.tencentcloudapi.com/",
                           .host = "wedata.tencentcloudapi.com",
                           .region = "ap-guangzhou",
                           .secret_id = "AKIDx",
                           .secret_key = "key"};
  wdr_api_result_t res;
  assert_int_equal(wdr_api_rerun(&ep, &t, &minimal_req, 1767225600, &res), 0);
  assert_true(f->once);

  wdr_run_view_t view;
  f->answer = "{\"Response\":{\"RequestId\":\"r\"}}";
  assert_int_equal(
      wdr_api_get_run(&ep, &t, "1", "run-1", 1767225600, &res, &view), 0);
  assert_false(f->once);
  wdr_run_view_free(&view);

  wdr_async_view_t job;
  assert_int_equal(
      wdr_api_get_async_job(&ep, &t, "1", "job-1", 1767225600, &res, &job), 0);
  assert_false(f->once);

  wdr_run_list_t list;
  const char *const ids[] = {"wf-1"};
  assert_int_equal(
      wdr_api_list_runs(&ep, &t, "1", ids, 1, 1, 1767225600, &res, &list), 0);
  assert_false(f->once);
  wdr_run_list_free(&list);

  /* A made-up action is not known to be harmless twice (answered 503, so
   * that there is nothing to decode). */
  f->status = 503;
  wdr_buf_t body;
  wdr_buf_init(&body, 64);
  assert_int_equal(wdr_buf_append_str(&body, "{}"), 0);
  assert_int_equal(wdr_api_call(&ep, &t, "CreateSomething", &body, true,
                                1767225600, NULL, NULL, &res),
                   0);
  assert_true(f->once);
  wdr_buf_free(&body, false);
  assert_int_equal(f->calls, 5);
  free(f);
}

static void get_run_answer(const char *answer, wdr_api_result_t *res,
                           wdr_run_view_t *view) {
  fake_t *f = new_fake();
  f->answer = answer;
  poison(view);
  int rc = get_run_with(f, res, view);
  free(f);
  assert_int_equal(rc, 0);
}

/* TaskScope "incomplete" reads the task runs: every TaskId not SUCCESS,
 * in order; a malformed task run makes the whole answer unusable rather
 * than a shorter list. */
static void test_get_run_incomplete_tasks(void **state) {
  (void)state;
  wdr_api_result_t res;
  wdr_run_view_t view;
  get_run_answer("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                 "\"ExecutionState\":\"FAILED\"},\"TriggerTaskRuns\":["
                 "{\"TaskId\":\"t1\",\"ExecutionState\":\"SUCCESS\"},"
                 "{\"TaskId\":\"t2\",\"ExecutionState\":\"FAILED\"},"
                 "{\"TaskId\":\"t3\",\"ExecutionState\":\"PENDING\"},"
                 "{\"TaskId\":\"t4\",\"ExecutionState\":\"SKIP\"}]}}}",
                 &res, &view);
  assert_true(res.response.ok);
  assert_int_equal(view.incomplete_num, 3);
  assert_string_equal(view.incomplete[0], "t2");
  assert_string_equal(view.incomplete[1], "t3");
  assert_string_equal(view.incomplete[2], "t4");
  wdr_run_view_free(&view);
  assert_null(view.incomplete);
  assert_int_equal(view.incomplete_num, 0);

  get_run_answer("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                 "\"ExecutionState\":\"FAILED\"},\"TriggerTaskRuns\":["
                 "{\"TaskId\":\"t1\",\"ExecutionState\":\"SUCCESS\"}]}}}",
                 &res, &view);
  assert_true(res.response.ok);
  assert_int_equal(view.incomplete_num, 0);
  wdr_run_view_free(&view);

  get_run_answer("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                 "\"ExecutionState\":\"FAILED\"},\"TriggerTaskRuns\":["
                 "{\"TaskId\":\"t1\",\"ExecutionState\":\"FAILED\"},"
                 "{\"TaskId\":7,\"ExecutionState\":\"FAILED\"}]}}}",
                 &res, &view);
  /* The run's state is still usable; the list is not. */
  assert_true(res.response.ok);
  assert_string_equal(view.state, "FAILED");
  assert_true(view.tasks_unnamed);
  assert_null(view.incomplete);
  assert_int_equal(view.incomplete_num, 0);

  /* A task run without a state has not succeeded. */
  get_run_answer("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                 "\"ExecutionState\":\"FAILED\"},\"TriggerTaskRuns\":["
                 "{\"TaskId\":\"t1\",\"ExecutionState\":null}]}}}",
                 &res, &view);
  assert_true(res.response.ok);
  assert_false(view.tasks_unnamed);
  assert_int_equal(view.incomplete_num, 1);
  assert_string_equal(view.incomplete[0], "t1");
  wdr_run_view_free(&view);
}

static void test_get_run_views(void **state) {
  (void)state;
  wdr_api_result_t res;
  wdr_run_view_t view;

  /* A failed run, no rerun yet. */
  get_run_answer("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                 "\"ExecutionState\":\"FAILED\",\"RerunTimes\":0,"
                 "\"SupportRerun\":false}},\"RequestId\":\"r\"}}",
                 &res, &view);
  assert_true(res.response.ok);
  assert_string_equal(view.state, "FAILED");
  assert_int_equal(view.rerun_times, 0);
  assert_false(view.support_rerun);

  /* Only the state: the others take their defaults. */
  get_run_answer("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                 "\"ExecutionState\":\"SUCCESS\"}}}}",
                 &res, &view);
  assert_true(res.response.ok);
  assert_string_equal(view.state, "SUCCESS");
  assert_int_equal(view.rerun_times, -1);
  assert_false(view.support_rerun);

  /* RerunTimes that is not a whole number >= 0 is unknown (-1);
   * SupportRerun must be true itself. */
  const char *bad_times[] = {"\"2\"", "2.5", "-1", "null", "true", "[2]"};
  char answer[512];
  for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
    snprintf(answer, sizeof(answer),
             "{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
             "\"ExecutionState\":\"FAILED\",\"RerunTimes\":%s,"
             "\"SupportRerun\":\"true\"}}}}",
             bad_times[i]);
    get_run_answer(answer, &res, &view);
    assert_true(res.response.ok);
    assert_string_equal(view.state, "FAILED");
    if (view.rerun_times != -1)
      fail_msg("RerunTimes %s gave %lld", bad_times[i], view.rerun_times);
    assert_false(view.support_rerun);
  }
}

static void assert_malformed(const char *answer) {
  wdr_api_result_t res;
  wdr_run_view_t view;
  get_run_answer(answer, &res, &view);
  assert_false(res.response.ok);
  assert_string_equal(res.response.error_code, "ClientError.ParseJsonError");
  /* An answer came (request_sent): the class is ambiguous. */
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_AMBIGUOUS);
  assert_string_equal(view.state, "");
  assert_int_equal(view.rerun_times, -1);
  assert_false(view.support_rerun);
}

static void test_get_run_malformed(void **state) {
  (void)state;
  const char *state_error = "Response.Data.TriggerWorkflowRun.ExecutionState "
                            "is missing or not a string";
  wdr_api_result_t res;
  wdr_run_view_t view;

  get_run_answer("{\"Response\":{\"Data\":{},\"RequestId\":\"r-7\"}}", &res,
                 &view);
  assert_string_equal(res.response.error_message, state_error);
  assert_string_equal(res.response.request_id, "r-7");
  assert_malformed("{\"Response\":{\"Data\":{},\"RequestId\":\"r-7\"}}");
  assert_malformed("{\"Response\":{\"RequestId\":\"r\"}}");
  assert_malformed("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":null}}}");
  assert_malformed("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":[]}}}");
  assert_malformed("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{}}}}");
  assert_malformed("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                   "\"ExecutionState\":5,\"RerunTimes\":1}}}}");
  assert_malformed("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                   "\"ExecutionState\":null}}}}");
  assert_malformed("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                   "\"ExecutionState\":\"\"}}}}");
  assert_malformed("{\"Response\":{\"Data\":{\"ExecutionState\":\"FAILED\"}}}");
  assert_malformed("[]");
  assert_malformed("<html>bad gateway</html>");
  assert_malformed("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                   "\"ExecutionState\":\"RUNNING\"");
  get_run_answer("{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
                 "\"ExecutionState\":5}}}}",
                 &res, &view);
  assert_string_equal(res.response.error_message, state_error);
}

/* Errors reach the result as for a rerun; the view keeps its defaults. */
static void test_get_run_errors(void **state) {
  (void)state;
  wdr_api_result_t res;
  wdr_run_view_t view;
  get_run_answer("{\"Response\":{\"Error\":{\"Code\":\"ResourceNotFound\","
                 "\"Message\":\"no such run\"},\"RequestId\":\"r-3\"}}",
                 &res, &view);
  assert_false(res.response.ok);
  assert_string_equal(res.response.error_code, "ResourceNotFound");
  assert_string_equal(res.response.error_message, "no such run");
  assert_string_equal(res.response.request_id, "r-3");
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_PERMANENT);
  assert_string_equal(view.state, "");
  assert_int_equal(view.rerun_times, -1);

  fake_t *f = new_fake();
  f->status = 503;
  f->answer = run_answer; /* not read: the status says it all */
  poison(&view);
  assert_int_equal(get_run_with(f, &res, &view), 0);
  assert_string_equal(res.response.error_code,
                      "ClientError.HttpStatusCodeError");
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_AMBIGUOUS);
  assert_string_equal(view.state, "");
  assert_int_equal(view.rerun_times, -1);
  assert_false(view.support_rerun);

  f->outcome = WDR_HTTP_NETWORK;
  f->status = 0;
  f->request_sent = false;
  poison(&view);
  assert_int_equal(get_run_with(f, &res, &view), 0);
  assert_string_equal(res.response.error_code, "ClientError.NetworkError");
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_RETRYABLE);
  assert_string_equal(view.state, "");

  /* Nothing to send: no request at all. */
  f->calls = 0;
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://h/",
                           .host = "h",
                           .region = "ap-guangzhou",
                           .secret_id = "AKIDx",
                           .secret_key = "key"};
  poison(&view);
  assert_int_equal(
      wdr_api_get_run(&ep, &t, "1460947878944567296", "", 1, &res, &view), -1);
  assert_int_equal(wdr_api_get_run(&ep, &t, NULL, "run-1", 1, &res, &view), -1);
  assert_int_equal(wdr_api_get_run(&ep, &t, "1", "bad-\xc3", 1, &res, &view),
                   -1);
  assert_int_equal(f->calls, 0);
  assert_false(res.response.ok);
  assert_string_equal(res.response.error_code, "ClientError.ParseJsonError");
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_PERMANENT);
  assert_string_equal(view.state, "");
  assert_int_equal(view.rerun_times, -1);
  free(f);
}

/* --- GetOpsAsyncJob ------------------------------------------------------ */

static const char *async_answer =
    "{\"Response\":{\"Data\":{\"AsyncId\":\"60a7f0f5-cea2-40fe-b607-"
    "a164d9615689\",\"AsyncType\":\"RERUN_WORKFLOW\",\"Status\":"
    "\"PART_SUCCESS\",\"ErrorDesc\":\"1 of 3 tasks failed\"},"
    "\"RequestId\":\"req-async-1\"}}";

static void poison_async(wdr_async_view_t *view) {
  memset(view, 0x5a, sizeof(*view));
  view->status[sizeof(view->status) - 1] = '\0';
  view->error_desc[sizeof(view->error_desc) - 1] = '\0';
}

/* The request for the inputs of vector wd-10: its exact body and headers.
 * We send Content-Type application/json, the vector has "; charset=utf-8",
 * so the signature differs from the vector's. The one below was computed
 * for application/json with Python's hashlib and hmac, by the recipe that
 * gives the vector's own signature for its content type. */
static void test_async_job_request(void **state) {
  (void)state;
  yajl_val vectors = vectors_load();
  yajl_val v = NULL;
  for (size_t i = 0; i < YAJL_GET_ARRAY(vectors)->len; i++) {
    yajl_val c = YAJL_GET_ARRAY(vectors)->values[i];
    if (strcmp(vstr(c, NULL, "id"), "wd-10-getopsasyncjob") == 0)
      v = c;
  }
  assert_non_null(v);
  fake_t *f = new_fake();
  f->answer = async_answer;
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = vstr(v, "inputs", "url"),
                           .host = vstr(v, "inputs", "host"),
                           .region = vstr(v, "inputs", "region"),
                           .secret_id = vstr(v, "inputs", "secret_id"),
                           .secret_key = vstr(v, "inputs", "secret_key")};
  wdr_api_result_t res;
  wdr_async_view_t view;
  poison_async(&view);
  assert_int_equal(wdr_api_get_async_job(&ep, &t, "1460947878944567296",
                                         "60a7f0f5-cea2-40fe-b607-a164d9615689",
                                         vint(v, "inputs", "timestamp"), &res,
                                         &view),
                   0);
  assert_int_equal(f->calls, 1);
  assert_string_equal(f->url, "https://wedata.tencentcloudapi.com/");
  assert_string_equal(f->body, vstr(v, "inputs", "payload"));
  assert_string_equal(f->body,
                      "{\"ProjectId\":\"1460947878944567296\",\"AsyncId\":"
                      "\"60a7f0f5-cea2-40fe-b607-a164d9615689\"}");

  assert_int_equal(f->headers_num, 7);
  const char *from_vector[] = {"Host",           NULL,
                               "X-TC-Action",    "X-TC-Version",
                               "X-TC-Timestamp", "X-TC-Region"};
  for (size_t i = 0; i < 6; i++) {
    if (from_vector[i] == NULL)
      continue;
    const char *path[] = {"outputs", "request_headers", from_vector[i], NULL};
    yajl_val value = yajl_tree_get(v, path, yajl_t_string);
    assert_non_null(value);
    char want[512];
    snprintf(want, sizeof(want), "%s: %s", from_vector[i],
             YAJL_GET_STRING(value));
    assert_string_equal(f->headers[i], want);
  }
  assert_string_equal(f->headers[1], "Content-Type: application/json");
  assert_string_equal(f->headers[2], "X-TC-Action: GetOpsAsyncJob");
  assert_string_equal(
      f->headers[6],
      "Authorization: TC3-HMAC-SHA256 "
      "Credential=AKIDEXAMPLEwedata00000000000000000001/2025-09-15/wedata/"
      "tc3_request, SignedHeaders=content-type;host, "
      "Signature="
      "1381cf9d3afcedaac55da3e7110a61cb73b5a45c3ea42eb01f2fe7285f28676b");

  assert_true(res.response.ok);
  assert_string_equal(res.response.request_id, "req-async-1");
  assert_string_equal(res.response.error_code, "");
  assert_int_equal(res.http_status, 200);
  assert_true(res.request_sent);
  assert_true(res.seconds == 0.25);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_OK);
  assert_string_equal(view.status, "PART_SUCCESS");
  assert_string_equal(view.error_desc, "1 of 3 tasks failed");
  free(f);
  yajl_tree_free(vectors);
}

static int async_job_with(fake_t *f, const char *project_id,
                          const char *async_id, wdr_api_result_t *res,
                          wdr_async_view_t *view) {
  wdr_transport_t t = {.post = fake_post, .ctx = f};
  wdr_api_endpoint_t ep = {.url = "https://h/",
                           .host = "h",
                           .region = "ap-guangzhou",
                           .secret_id = "AKIDx",
                           .secret_key = "key"};
  poison_async(view);
  return wdr_api_get_async_job(&ep, &t, project_id, async_id, 1767225600, res,
                               view);
}

/* Answers the read of async job a-1 with answer (HTTP 200); returns the
 * class of the result. */
static wdr_api_class_t async_answered(const char *answer, wdr_api_result_t *res,
                                      wdr_async_view_t *view) {
  fake_t *f = new_fake();
  f->answer = answer;
  int rc = async_job_with(f, "1", "a-1", res, view);
  free(f);
  assert_int_equal(rc, 0);
  return wdr_answer_classify(res);
}

/* Errors reach the result, classified as for the other actions; the view
 * is left empty. */
static void test_async_job_errors(void **state) {
  (void)state;
  wdr_api_result_t res;
  wdr_async_view_t view;
  assert_int_equal(
      async_answered("{\"Response\":{\"Error\":{\"Code\":\"ResourceNotFound\","
                     "\"Message\":\"no such job\"},\"RequestId\":\"r-4\"}}",
                     &res, &view),
      WDR_CLASS_PERMANENT);
  assert_false(res.response.ok);
  assert_string_equal(res.response.error_code, "ResourceNotFound");
  assert_string_equal(res.response.error_message, "no such job");
  assert_string_equal(res.response.request_id, "r-4");
  assert_string_equal(view.status, "");
  assert_string_equal(view.error_desc, "");

  assert_int_equal(
      async_answered("{\"Response\":{\"Error\":{\"Code\":\"RequestLimit"
                     "Exceeded\"}}}",
                     &res, &view),
      WDR_CLASS_RETRYABLE);
  assert_int_equal(
      async_answered("{\"Response\":{\"Error\":{\"Code\":\"AuthFailure."
                     "SignatureExpire\"}}}",
                     &res, &view),
      WDR_CLASS_RESIGN);
  /* An answer without a usable Status (it came: the class is ambiguous). */
  assert_int_equal(
      async_answered("{\"Response\":{\"Data\":{\"ErrorDesc\":\"x\"}}}", &res,
                     &view),
      WDR_CLASS_AMBIGUOUS);
  assert_string_equal(res.response.error_code, "ClientError.ParseJsonError");
  assert_string_equal(res.response.error_message,
                      "Response.Data.Status is missing or not a string");
  assert_string_equal(view.status, "");
  assert_int_equal(
      async_answered("{\"Response\":{\"Data\":null}}", &res, &view),
      WDR_CLASS_AMBIGUOUS);

  fake_t *f = new_fake();
  f->status = 503;
  f->answer = async_answer; /* not read: the status says it all */
  assert_int_equal(async_job_with(f, "1", "a-1", &res, &view), 0);
  assert_string_equal(res.response.error_code,
                      "ClientError.HttpStatusCodeError");
  assert_int_equal(res.http_status, 503);
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_AMBIGUOUS);
  assert_string_equal(view.status, "");
  assert_string_equal(view.error_desc, "");

  f->outcome = WDR_HTTP_NETWORK;
  f->status = 0;
  f->request_sent = false;
  assert_int_equal(async_job_with(f, "1", "a-1", &res, &view), 0);
  assert_string_equal(res.response.error_code, "ClientError.NetworkError");
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_RETRYABLE);
  assert_string_equal(view.status, "");

  /* Nothing to send: no request at all. */
  f->calls = 0;
  assert_int_equal(async_job_with(f, "1", "", &res, &view), -1);
  assert_int_equal(async_job_with(f, "1", NULL, &res, &view), -1);
  assert_int_equal(async_job_with(f, NULL, "a-1", &res, &view), -1);
  assert_int_equal(async_job_with(f, "1", "bad-\xc3", &res, &view), -1);
  assert_int_equal(f->calls, 0);
  assert_false(res.response.ok);
  assert_string_equal(res.response.error_code, "ClientError.ParseJsonError");
  assert_int_equal(wdr_answer_classify(&res), WDR_CLASS_PERMANENT);
  assert_string_equal(view.status, "");
  assert_string_equal(view.error_desc, "");
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_matches_sdk_vector),
      cmocka_unit_test(test_optional_headers),
      cmocka_unit_test(test_signed_afresh_each_call),
      cmocka_unit_test(test_classification),
      cmocka_unit_test(test_unbuildable_request_never_sent),
      cmocka_unit_test(test_classify_from_transport),
      cmocka_unit_test(test_get_run_request),
      cmocka_unit_test(test_only_the_rerun_is_sent_once),
      cmocka_unit_test(test_get_run_views),
      cmocka_unit_test(test_get_run_incomplete_tasks),
      cmocka_unit_test(test_get_run_malformed),
      cmocka_unit_test(test_get_run_errors),
      cmocka_unit_test(test_async_job_request),
      cmocka_unit_test(test_async_job_errors),
  };
  return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
