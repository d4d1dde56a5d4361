/* Request bodies (exact bytes) and response decoding. */
#include "testutil.h"
#include "vectors.h"

#include "wdr_json.h"

#include <pthread.h>

#define PROJECT "1460947878944567296"
#define WORKFLOW "0fae8078-a7a7-4b67-afd1-8bf18e068dda"
#define RUN "001e2f39-a71d-4588-9a9a-9f244d32c96c"

static char *body_of(const wdr_rerun_req_t *req) {
  wdr_buf_t b;
  wdr_buf_init(&b, 1 << 20);
  assert_int_equal(wdr_json_rerun_body(req, &b), 0);
  char *s = strdup(wdr_buf_str(&b));
  wdr_buf_free(&b, false);
  return s;
}

static void test_body_minimal_matches_sdk(void **state) {
  (void)state;
  wdr_rerun_req_t req = {.project_id = PROJECT,
                         .workflow_id = WORKFLOW,
                         .execution_id = RUN,
                         .execute_type = 1};
  char *body = body_of(&req);
  /* The official Node SDK's bytes for the same call (vector wd-01). */
  assert_string_equal(
      body, "{\"ProjectId\":\"" PROJECT "\",\"WorkflowId\":\"" WORKFLOW
            "\",\"WorkflowExecutionId\":\"" RUN "\",\"ExecuteType\":\"1\"}");
  free(body);
}

static void test_body_every_field(void **state) {
  (void)state;
  char *tasks[] = {"task-a", "task-b"};
  wdr_param_t params[] = {{"bizdate", "20261127"}, {"env", "prod"}};
  wdr_rerun_req_t req = {.project_id = PROJECT,
                         .workflow_id = WORKFLOW,
                         .execution_id = RUN,
                         .execute_type = 2,
                         .task_ids = tasks,
                         .task_ids_num = 2,
                         .params = params,
                         .params_num = 2,
                         .scheduling_rg = "rg-sched",
                         .integration_rg = "rg-integ"};
  char *body = body_of(&req);
  assert_string_equal(
      body, "{\"ProjectId\":\"" PROJECT "\",\"WorkflowId\":\"" WORKFLOW
            "\",\"WorkflowExecutionId\":\"" RUN "\",\"ExecuteType\":\"2\","
            "\"TaskIds\":[\"task-a\",\"task-b\"],"
            "\"AdvancedParams\":[{\"ParamKey\":\"bizdate\",\"ParamValue\":"
            "\"20261127\"},{\"ParamKey\":\"env\",\"ParamValue\":\"prod\"}],"
            "\"SchedulingResourceGroup\":\"rg-sched\","
            "\"IntegrationResourceGroup\":\"rg-integ\"}");
  free(body);
}

static void test_body_empty_optionals_left_out(void **state) {
  (void)state;
  wdr_rerun_req_t req = {.project_id = PROJECT,
                         .workflow_id = WORKFLOW,
                         .execution_id = RUN,
                         .execute_type = 2,
                         .scheduling_rg = "",
                         .integration_rg = "rg-integ"};
  char *body = body_of(&req);
  assert_string_equal(
      body, "{\"ProjectId\":\"" PROJECT "\",\"WorkflowId\":\"" WORKFLOW
            "\",\"WorkflowExecutionId\":\"" RUN "\",\"ExecuteType\":\"2\","
            "\"IntegrationResourceGroup\":\"rg-integ\"}");
  free(body);
}

static void test_body_utf8_matches_sdk(void **state) {
  (void)state;
  /* Vector wd-04: raw UTF-8, including a 4-byte emoji, not \u escapes. */
  wdr_param_t params[] = {
      {"\xe5\xa4\x87\xe6\xb3\xa8",
       "\xe9\x87\x8d\xe8\xb7\x91\xef\xbc\x9a\xe6\x95\xb0\xe6\x8d\xae\xe6\x97"
       "\xa5\xe6\x9c\x9f 2025-08-06 \xe2\x9c\x93 \xe2\x80\x94 "
       "\xc3\x9c"
       "n"
       "\xc3\xaf"
       "c"
       "\xc3\xb8"
       "d"
       "\xc3\xa9 \xf0\x9f\x9a\x80"}};
  wdr_rerun_req_t req = {.project_id = PROJECT,
                         .workflow_id = WORKFLOW,
                         .execution_id = RUN,
                         .execute_type = 2,
                         .params = params,
                         .params_num = 1};
  char *body = body_of(&req);
  size_t want_len = 0;
  char *vectors = test_read_file("../vectors/tc3-signatures.json", &want_len);
  /* The vector file holds this exact payload (as escaped JSON text); check
   * ours against the payload_hex of wd-04 decoded by hand here. */
  const char *want_hex =
      "7b2250726f6a6563744964223a2231343630393437383738393434353637323936222c"
      "22576f726b666c6f774964223a2230666165383037382d613761372d346236372d6166"
      "64312d386266313865303638646461222c22576f726b666c6f77457865637574696f6e"
      "4964223a2230303165326633392d613731642d343538382d396139612d396632343464"
      "333263393663222c224578656375746554797065223a2232222c22416476616e636564"
      "506172616d73223a5b7b22506172616d4b6579223a22e5a487e6b3a8222c2250617261"
      "6d56616c7565223a22e9878de8b791efbc9ae695b0e68daee697a5e69c9f2032303235"
      "2d30382d303620e29c9320e2809420c39c6ec3af63c3b864c3a920f09f9a80227d5d7d";
  assert_non_null(strstr(vectors, want_hex));
  char got_hex[1024] = "";
  for (size_t i = 0; body[i] != '\0'; i++)
    snprintf(got_hex + 2 * i, 3, "%02x", (unsigned char)body[i]);
  assert_string_equal(got_hex, want_hex);
  free(vectors);
  free(body);
}

static void test_body_escapes(void **state) {
  (void)state;
  wdr_param_t params[] = {{"sql_filter", "a\"b\\c/d\n\te"}};
  wdr_rerun_req_t req = {.project_id = PROJECT,
                         .workflow_id = WORKFLOW,
                         .execution_id = RUN,
                         .execute_type = 2,
                         .params = params,
                         .params_num = 1};
  char *body = body_of(&req);
  /* As in vector wd-08: quote, backslash and control characters escaped,
   * the solidus left alone. */
  assert_non_null(strstr(
      body,
      "{\"ParamKey\":\"sql_filter\",\"ParamValue\":\"a\\\"b\\\\c/d\\n\\te\"}"));
  free(body);
}

static void test_body_refuses_bad_input(void **state) {
  (void)state;
  wdr_buf_t b;
  wdr_buf_init(&b, 1 << 20);
  wdr_rerun_req_t good = {.project_id = PROJECT,
                          .workflow_id = WORKFLOW,
                          .execution_id = RUN,
                          .execute_type = 1};
  wdr_rerun_req_t req = good;
  req.execute_type = 3;
  assert_int_equal(wdr_json_rerun_body(&req, &b), -1);
  req = good;
  req.execution_id = "";
  assert_int_equal(wdr_json_rerun_body(&req, &b), -1);
  req = good;
  req.project_id = NULL;
  assert_int_equal(wdr_json_rerun_body(&req, &b), -1);
  /* Invalid UTF-8 is refused, not sent. */
  char *bad_task[] = {"task-\xff"};
  req = good;
  req.execute_type = 2;
  req.task_ids = bad_task;
  req.task_ids_num = 1;
  assert_int_equal(wdr_json_rerun_body(&req, &b), -1);
  assert_int_equal(b.len, 0);
  wdr_buf_free(&b, false);
  /* A body larger than the buffer's bound fails. */
  wdr_buf_init(&b, 32);
  assert_int_equal(wdr_json_rerun_body(&good, &b), -1);
  assert_true(b.failed);
  wdr_buf_free(&b, false);
}

static void parse(const char *body, wdr_response_t *r) {
  wdr_json_parse_rerun(body, strlen(body), r);
}

static void test_parse_success(void **state) {
  (void)state;
  wdr_response_t r;
  parse("{\"Response\":{\"Data\":{\"AsyncId\":\"60a7f0f5-cea2-40fe-b607-"
        "a164d9615689\"},\"RequestId\":\"4a20bd2d-8053-4f9f-86b6-"
        "bda857e7fcf6\"}}",
        &r);
  assert_true(r.ok);
  assert_string_equal(r.async_id, "60a7f0f5-cea2-40fe-b607-a164d9615689");
  assert_string_equal(r.request_id, "4a20bd2d-8053-4f9f-86b6-bda857e7fcf6");
  assert_string_equal(r.error_code, "");
  /* Unknown extra fields are fine; RequestId is optional. */
  parse("{\"Response\":{\"Data\":{\"AsyncId\":\"a1\",\"X\":[1,2]},"
        "\"DeprecatedWarning\":\"x\"}}",
        &r);
  assert_true(r.ok);
  assert_string_equal(r.async_id, "a1");
  assert_string_equal(r.request_id, "");
}

static void test_parse_api_error(void **state) {
  (void)state;
  wdr_response_t r;
  parse("{\"Response\":{\"Error\":{\"Code\":\"InvalidParameter\",\"Message\":"
        "\"WorkflowExecutionId is invalid\"},\"RequestId\":\"req-9\"}}",
        &r);
  assert_false(r.ok);
  assert_string_equal(r.error_code, "InvalidParameter");
  assert_string_equal(r.error_message, "WorkflowExecutionId is invalid");
  assert_string_equal(r.request_id, "req-9");
  assert_string_equal(r.async_id, "");
  /* Error wins over Data, and a missing message is empty. */
  parse("{\"Response\":{\"Error\":{\"Code\":\"AuthFailure.SignatureFailure\"},"
        "\"Data\":{\"AsyncId\":\"x\"}}}",
        &r);
  assert_false(r.ok);
  assert_string_equal(r.error_code, "AuthFailure.SignatureFailure");
  assert_string_equal(r.error_message, "");
  assert_string_equal(r.async_id, "");
}

static void expect_parse_error(const char *body, size_t len,
                               const char *message_part) {
  wdr_response_t r;
  wdr_json_parse_rerun(body, len, &r);
  assert_false(r.ok);
  assert_string_equal(r.error_code, WDR_ERR_PARSE_JSON);
  if (strstr(r.error_message, message_part) == NULL)
    fail_msg("message \"%s\" lacks \"%s\"", r.error_message, message_part);
}

static void test_parse_malformed(void **state) {
  (void)state;
  static const struct {
    const char *body;
    const char *message_part;
  } cases[] = {
      {"{\"Response\":{\"Data\":", "not JSON"},       /* truncated */
      {"<html>502 Bad Gateway</html>", "not JSON"},   /* not JSON */
      {"[1,2,3]", "no Response object"},              /* wrong shape */
      {"{\"Response\":\"x\"}", "no Response object"}, /* wrong type */
      {"{\"code\":4000,\"message\":\"legacy\"}", "no Response object"},
      {"{\"Response\":{\"RequestId\":\"r\"}}", "AsyncId"}, /* no Data */
      {"{\"Response\":{\"Data\":null}}", "AsyncId"},
      {"{\"Response\":{\"Data\":{\"AsyncId\":42}}}", "AsyncId"},
      {"{\"Response\":{\"Data\":{\"AsyncId\":\"\"}}}", "AsyncId"},
      {"{\"Response\":{\"Data\":[\"AsyncId\"]}}", "AsyncId"},
      {"{\"Response\":{\"Error\":{\"Code\":7}}}", "Code"},
      {"{\"Response\":{\"Error\":\"oops\"}}", "Code"},
      {"{\"Response\":{\"Error\":{\"Code\":\"\"}}}", "Code"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    expect_parse_error(cases[i].body, strlen(cases[i].body),
                       cases[i].message_part);
  expect_parse_error("", 0, "empty");
  expect_parse_error(NULL, 0, "empty");
  /* An embedded NUL would hide the rest of the body from yajl. */
  expect_parse_error("{\"Response\":{}}\0{}", 17, "NUL");
}

static void test_parse_limits(void **state) {
  (void)state;
  wdr_response_t r;
  /* An AsyncId too long for its field is an error, never truncated. */
  char body[1024];
  char long_id[300];
  memset(long_id, 'a', sizeof(long_id) - 1);
  long_id[sizeof(long_id) - 1] = '\0';
  snprintf(body, sizeof(body), "{\"Response\":{\"Data\":{\"AsyncId\":\"%s\"}}}",
           long_id);
  expect_parse_error(body, strlen(body), "AsyncId");
  snprintf(body, sizeof(body), "{\"Response\":{\"Error\":{\"Code\":\"%s\"}}}",
           long_id);
  expect_parse_error(body, strlen(body), "Code");

  /* A long message is cut on a character boundary; control characters
   * become spaces so the text is safe in a log line. */
  char *msg_body = malloc(4096);
  assert_non_null(msg_body);
  int n = snprintf(
      msg_body, 4096,
      "{\"Response\":{\"Error\":{\"Code\":\"X\",\"Message\":\"a\\nb\\u0007");
  for (int i = 0; i < 600; i++)
    n += snprintf(msg_body + n, 4096 - (size_t)n, "\xc3\xa9");
  snprintf(msg_body + n, 4096 - (size_t)n, "\"}}}");
  parse(msg_body, &r);
  free(msg_body);
  assert_string_equal(r.error_code, "X");
  size_t len = strlen(r.error_message);
  assert_true(len < WDR_MSG_MAX);
  assert_memory_equal(r.error_message, "a b ", 4);
  /* 4 ASCII bytes then whole 2-byte characters only. */
  assert_int_equal((len - 4) % 2, 0);
  assert_int_equal((unsigned char)r.error_message[len - 2], 0xc3);
  assert_int_equal((unsigned char)r.error_message[len - 1], 0xa9);
}

/* {"Response": followed by depth-1 '[' and as many ']', then '}': the
 * answer that took collectd down. Caller frees. */
static char *deep_answer(size_t depth, size_t *ret_len) {
  static const char head[] = "{\"Response\":";
  size_t n = depth - 1, len = strlen(head) + 2 * n + 1;
  char *s = malloc(len + 1);
  assert_non_null(s);
  memcpy(s, head, strlen(head));
  memset(s + strlen(head), '[', n);
  memset(s + strlen(head) + n, ']', n);
  s[len - 1] = '}';
  s[len] = '\0';
  *ret_len = len;
  return s;
}

typedef struct {
  const char *body;
  size_t len;
  wdr_response_t r;
} deep_job_t;

static void *parse_in_thread(void *arg) {
  deep_job_t *j = arg;
  wdr_json_parse_rerun(j->body, j->len, &j->r);
  return NULL;
}

/* 260,000 levels (the 520 KB answer) on a thread with a 256 KiB stack:
 * a recursive tree build or free overflows it (SIGSEGV); the depth check
 * refuses the answer before any tree exists. */
static void test_parse_deep_nesting(void **state) {
  (void)state;
  size_t len = 0;
  deep_job_t j = {0};
  j.body = deep_answer(260000, &len);
  j.len = len;
  pthread_attr_t attr;
  pthread_t t;
  assert_int_equal(pthread_attr_init(&attr), 0);
  assert_int_equal(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
  assert_int_equal(pthread_create(&t, &attr, parse_in_thread, &j), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  pthread_attr_destroy(&attr);
  assert_false(j.r.ok);
  assert_string_equal(j.r.error_code, WDR_ERR_PARSE_JSON);
  assert_string_equal(j.r.error_message,
                      "response is not JSON: nests deeper than 32 levels");
  free((char *)j.body);

  /* Exactly WDR_JSON_DEPTH_MAX levels is still read (its Response is an
   * array, not an object); one more is refused. */
  wdr_response_t r;
  char *at = deep_answer(WDR_JSON_DEPTH_MAX, &len);
  wdr_json_parse_rerun(at, len, &r);
  assert_string_equal(r.error_message, "response has no Response object");
  free(at);
  char *over = deep_answer(WDR_JSON_DEPTH_MAX + 1, &len);
  wdr_json_parse_rerun(over, len, &r);
  assert_string_equal(r.error_message,
                      "response is not JSON: nests deeper than 32 levels");
  free(over);
  /* Every decoder goes through the same check. */
  wdr_run_view_t view = {0};
  over = deep_answer(WDR_JSON_DEPTH_MAX + 1, &len);
  wdr_json_parse_get_run(over, len, &r, &view);
  assert_string_equal(r.error_message,
                      "response is not JSON: nests deeper than 32 levels");
  wdr_async_view_t av = {0};
  wdr_json_parse_async_job(over, len, &r, &av);
  assert_string_equal(r.error_message,
                      "response is not JSON: nests deeper than 32 levels");
  wdr_run_list_t list = {0};
  wdr_json_parse_list_runs(over, len, &r, &list);
  assert_string_equal(r.error_message,
                      "response is not JSON: nests deeper than 32 levels");
  free(over);
}

static void test_tree_parse(void **state) {
  (void)state;
  char err[128];
  /* Depth counts arrays and objects alike, and closes bring it back. */
  const char *flat = "[[[1]],{\"a\":{\"b\":[]}}]";
  yajl_val v = wdr_json_tree_parse(flat, strlen(flat), 4, err, sizeof(err));
  assert_non_null(v);
  yajl_tree_free(v);
  assert_null(wdr_json_tree_parse(flat, strlen(flat), 3, err, sizeof(err)));
  assert_string_equal(err, "nests deeper than 3 levels");
  /* Syntax errors keep yajl's reason, on one line. */
  assert_null(wdr_json_tree_parse("[1,", 3, 8, err, sizeof(err)));
  assert_non_null(strstr(err, "premature EOF"));
  assert_null(strchr(err, '\n'));
  assert_null(wdr_json_tree_parse("[1]\0]", 5, 8, err, sizeof(err)));
  assert_string_equal(err, "contains a NUL byte");
  assert_null(wdr_json_tree_parse("", 0, 8, err, sizeof(err)));
  assert_string_equal(err, "empty");
  /* Comments are allowed, as yajl_tree_parse allows them. */
  v = wdr_json_tree_parse("/* c */ [1]", 11, 1, err, sizeof(err));
  assert_non_null(v);
  yajl_tree_free(v);
}

static void test_copy_text(void **state) {
  (void)state;
  char out[6];
  wdr_text_copy(out, sizeof(out), "ab\xe2\x9c\x93z"); /* ab✓z */
  assert_string_equal(out, "ab\xe2\x9c\x93");
  wdr_text_copy(out, 5, "ab\xe2\x9c\x93z"); /* no room for the ✓ */
  assert_string_equal(out, "ab");
  wdr_text_copy(out, sizeof(out), "\x01\x7f\tok");
  assert_string_equal(out, "   ok");
}

static void test_list_body(void **state) {
  (void)state;
  wdr_buf_t b;
  wdr_buf_init(&b, 1 << 16);
  const char *ids[] = {"wf-1", "wf-2"};
  assert_int_equal(
      wdr_json_list_runs_body("1460947878944567296", ids, 2, 3, 100, &b), 0);
  assert_string_equal(
      wdr_buf_str(&b),
      "{\"ProjectId\":\"1460947878944567296\",\"Filters\":[{\"Name\":"
      "\"WorkflowId\",\"Values\":[\"wf-1\",\"wf-2\"]}],\"OrderFields\":[{"
      "\"Name\":\"CreateTime\",\"Direction\":\"DESC\"}],\"PageNumber\":3,"
      "\"PageSize\":100}");
  wdr_buf_reset(&b);
  assert_int_equal(wdr_json_list_runs_body("p", ids, 0, 1, 100, &b), -1);
  assert_int_equal(wdr_json_list_runs_body("p", ids, 1, 0, 100, &b), -1);
  wdr_buf_free(&b, false);
}

static void test_list_parse(void **state) {
  (void)state;
  wdr_response_t r;
  wdr_run_list_t l;
  const char *body =
      "{\"Response\":{\"Data\":{\"TotalCount\":205,\"TotalPageNumber\":3,"
      "\"Items\":["
      "{\"ExecutionId\":\"e1\",\"WorkflowId\":\"w1\",\"ExecutionState\":"
      "\"FAILED\",\"SupportRerun\":true,\"RerunTimes\":2,\"CreateTime\":"
      "\"1766578800035\"},"
      "{\"ExecutionId\":\"e2\",\"WorkflowId\":\"w1\",\"ExecutionState\":"
      "\"QUEUED\",\"SupportRerun\":false,\"CreateTime\":1766578700000},"
      "{\"WorkflowId\":\"w1\",\"ExecutionState\":\"FAILED\"},"
      "{\"ExecutionId\":\"e\\\",\\\"ExecuteType\\\":\\\"2\",\"WorkflowId\":"
      "\"w1\",\"ExecutionState\":\"FAILED\"},"
      "{\"ExecutionId\":\"e 4\",\"WorkflowId\":\"w1\"},"
      "{\"ExecutionId\":\"e3\",\"WorkflowId\":\"w2\",\"CreateTime\":"
      "\"soon\"}]},\"RequestId\":\"r\"}}";
  wdr_json_parse_list_runs(body, strlen(body), &r, &l);
  assert_true(r.ok);
  assert_int_equal(l.total_pages, 3);
  /* Out: the one without ExecutionId, and two whose ids a signal could not
   * carry either (a quote, a space). */
  assert_int_equal(l.items_num, 3);
  assert_string_equal(l.items[0].execution_id, "e1");
  assert_string_equal(l.items[0].state, "FAILED");
  assert_true(l.items[0].support_rerun);
  assert_int_equal(l.items[0].rerun_times, 2);
  assert_int_equal(l.items[0].create_ms, 1766578800035LL);
  assert_false(l.items[1].support_rerun);
  assert_int_equal(l.items[1].rerun_times, -1);
  assert_int_equal(l.items[1].create_ms, 1766578700000LL);
  assert_string_equal(l.items[2].workflow_id, "w2");
  assert_string_equal(l.items[2].state, "");
  assert_int_equal(l.items[2].create_ms, 0);
  wdr_run_list_free(&l);

  const char *empty = "{\"Response\":{\"Data\":{\"Items\":null}}}";
  wdr_json_parse_list_runs(empty, strlen(empty), &r, &l);
  assert_true(r.ok);
  assert_int_equal(l.items_num, 0);
  const char *bad = "{\"Response\":{\"Data\":{\"Items\":{}}}}";
  wdr_json_parse_list_runs(bad, strlen(bad), &r, &l);
  assert_false(r.ok);
  assert_string_equal(r.error_code, WDR_ERR_PARSE_JSON);
  assert_null(l.items);
}

/* --- GetOpsAsyncJob ------------------------------------------------------ */

/* The vector of id (tests/vectors/tc3-signatures.json); free root with
 * yajl_tree_free. */
static yajl_val vector_of(yajl_val root, const char *id) {
  for (size_t i = 0; i < YAJL_GET_ARRAY(root)->len; i++) {
    yajl_val c = YAJL_GET_ARRAY(root)->values[i];
    if (strcmp(vstr(c, NULL, "id"), id) == 0)
      return c;
  }
  fail_msg("no vector %s", id);
  return NULL;
}

/* The body is exactly the payload of vector wd-10 (the official SDK's
 * bytes for GetOpsAsyncJob), checked against its payload_hex. */
static void test_async_job_body_matches_sdk(void **state) {
  (void)state;
  yajl_val root = vectors_load();
  yajl_val v = vector_of(root, "wd-10-getopsasyncjob");
  assert_string_equal(vstr(v, "inputs", "action"), "GetOpsAsyncJob");
  size_t want_len = 0;
  uint8_t *want = vpayload(v, &want_len);
  wdr_buf_t b;
  wdr_buf_init(&b, 1 << 16);
  int rc = wdr_json_async_job_body(PROJECT,
                                   "60a7f0f5-cea2-40fe-b607-a164d9615689", &b);
  bool same = rc == 0 && b.len == want_len &&
              memcmp(wdr_buf_str(&b), want, want_len) == 0;
  char got[256];
  snprintf(got, sizeof(got), "%s", wdr_buf_str(&b));
  free(want);
  wdr_buf_free(&b, false);
  yajl_tree_free(root);
  assert_int_equal(rc, 0);
  /* The same bytes, spelt out. */
  assert_string_equal(got, "{\"ProjectId\":\"1460947878944567296\","
                           "\"AsyncId\":\"60a7f0f5-cea2-40fe-b607-"
                           "a164d9615689\"}");
  assert_true(same);
}

static void test_async_job_body_refuses_bad_input(void **state) {
  (void)state;
  wdr_buf_t b;
  wdr_buf_init(&b, 1 << 16);
  assert_int_equal(wdr_json_async_job_body(PROJECT, "", &b), -1);
  assert_int_equal(wdr_json_async_job_body(PROJECT, NULL, &b), -1);
  assert_int_equal(wdr_json_async_job_body("", "a-1", &b), -1);
  assert_int_equal(wdr_json_async_job_body(NULL, "a-1", &b), -1);
  assert_int_equal(wdr_json_async_job_body(PROJECT, "bad-\xc3", &b), -1);
  assert_int_equal(b.len, 0);
  /* Escaped like every other string. */
  assert_int_equal(wdr_json_async_job_body("p", "a\"b\\c", &b), 0);
  assert_string_equal(wdr_buf_str(&b),
                      "{\"ProjectId\":\"p\",\"AsyncId\":\"a\\\"b\\\\c\"}");
  wdr_buf_free(&b, false);
}

/* Parses body into r and view, view poisoned first so that a field the
 * parser forgets to set shows. */
static void parse_async(const char *body, wdr_response_t *r,
                        wdr_async_view_t *view) {
  memset(view, 0x5a, sizeof(*view));
  view->status[sizeof(view->status) - 1] = '\0';
  view->error_desc[sizeof(view->error_desc) - 1] = '\0';
  wdr_json_parse_async_job(body, body != NULL ? strlen(body) : 0, r, view);
}

static void test_async_job_parse(void **state) {
  (void)state;
  wdr_response_t r;
  wdr_async_view_t v;
  parse_async("{\"Response\":{\"Data\":{\"AsyncId\":\"60a7f0f5\","
              "\"AsyncType\":\"RERUN_WORKFLOW\",\"Status\":\"FAIL\","
              "\"ErrorDesc\":\"task t2 failed\",\"TotalSubProcessCount\":3,"
              "\"FinishedSubProcessCount\":3,\"SuccessSubProcessCount\":2},"
              "\"RequestId\":\"req-a\"}}",
              &r, &v);
  assert_true(r.ok);
  assert_string_equal(r.request_id, "req-a");
  assert_string_equal(r.error_code, "");
  assert_string_equal(v.status, "FAIL");
  assert_string_equal(v.error_desc, "task t2 failed");

  /* ErrorDesc null or absent: "". */
  parse_async("{\"Response\":{\"Data\":{\"Status\":\"SUCCESS\","
              "\"ErrorDesc\":null}}}",
              &r, &v);
  assert_true(r.ok);
  assert_string_equal(v.status, "SUCCESS");
  assert_string_equal(v.error_desc, "");
  parse_async("{\"Response\":{\"Data\":{\"Status\":\"RUNNING\"}}}", &r, &v);
  assert_true(r.ok);
  assert_string_equal(v.status, "RUNNING");
  assert_string_equal(v.error_desc, "");
  /* Any Status string is read as it is: the policy decides what it means. */
  parse_async("{\"Response\":{\"Data\":{\"Status\":\"SOMETHING_NEW\","
              "\"ErrorDesc\":7}}}",
              &r, &v);
  assert_true(r.ok);
  assert_string_equal(v.status, "SOMETHING_NEW");
  assert_string_equal(v.error_desc, "");

  /* A long ErrorDesc is cut to fit, control characters made spaces. */
  char body[2048];
  int n = snprintf(body, sizeof(body),
                   "{\"Response\":{\"Data\":{\"Status\":\"FAIL\","
                   "\"ErrorDesc\":\"a\\nb");
  for (int i = 0; i < 700; i++)
    n += snprintf(body + n, sizeof(body) - (size_t)n, "x");
  snprintf(body + n, sizeof(body) - (size_t)n, "\"}}}");
  parse_async(body, &r, &v);
  assert_true(r.ok);
  assert_int_equal(strlen(v.error_desc), WDR_MSG_MAX - 1);
  assert_memory_equal(v.error_desc, "a bxx", 5);
}

static void expect_async_parse_error(const char *body,
                                     const char *message_part) {
  wdr_response_t r;
  wdr_async_view_t v;
  parse_async(body, &r, &v);
  assert_false(r.ok);
  assert_string_equal(r.error_code, WDR_ERR_PARSE_JSON);
  if (strstr(r.error_message, message_part) == NULL)
    fail_msg("%s: message \"%s\" lacks \"%s\"", body, r.error_message,
             message_part);
  assert_string_equal(v.status, "");
  assert_string_equal(v.error_desc, "");
}

static void test_async_job_parse_malformed(void **state) {
  (void)state;
  const char *status = "Response.Data.Status is missing or not a string";
  expect_async_parse_error("{\"Response\":{\"Data\":null}}", status);
  expect_async_parse_error("{\"Response\":{\"RequestId\":\"r\"}}", status);
  expect_async_parse_error("{\"Response\":{\"Data\":[]}}", status);
  expect_async_parse_error("{\"Response\":{\"Data\":{}}}", status);
  expect_async_parse_error("{\"Response\":{\"Data\":{\"ErrorDesc\":\"x\"}}}",
                           status);
  expect_async_parse_error("{\"Response\":{\"Data\":{\"Status\":5}}}", status);
  expect_async_parse_error("{\"Response\":{\"Data\":{\"Status\":null}}}",
                           status);
  expect_async_parse_error("{\"Response\":{\"Data\":{\"Status\":\"\"}}}",
                           status);
  expect_async_parse_error(
      "{\"Response\":{\"Data\":{\"Status\":[\"SUCCESS\"]}}}", status);
  /* A Status too long for its field is an error, never cut. */
  char body[512];
  char long_status[200];
  memset(long_status, 'S', sizeof(long_status) - 1);
  long_status[sizeof(long_status) - 1] = '\0';
  snprintf(body, sizeof(body), "{\"Response\":{\"Data\":{\"Status\":\"%s\"}}}",
           long_status);
  expect_async_parse_error(body, status);
  expect_async_parse_error("<html>502</html>", "not JSON");
  expect_async_parse_error("{\"Response\":{\"Data\":", "not JSON");
  expect_async_parse_error("[]", "no Response object");
  expect_async_parse_error("", "empty");
  expect_async_parse_error(NULL, "empty");
}

/* An API error envelope gives its code, message and RequestId. */
static void test_async_job_parse_api_error(void **state) {
  (void)state;
  wdr_response_t r;
  wdr_async_view_t v;
  parse_async("{\"Response\":{\"Error\":{\"Code\":\"ResourceNotFound\","
              "\"Message\":\"no such async job\"},\"RequestId\":\"req-e\"}}",
              &r, &v);
  assert_false(r.ok);
  assert_string_equal(r.error_code, "ResourceNotFound");
  assert_string_equal(r.error_message, "no such async job");
  assert_string_equal(r.request_id, "req-e");
  assert_string_equal(v.status, "");
  assert_string_equal(v.error_desc, "");
  /* The error wins over Data. */
  parse_async("{\"Response\":{\"Error\":{\"Code\":\"RequestLimitExceeded\"},"
              "\"Data\":{\"Status\":\"SUCCESS\"}}}",
              &r, &v);
  assert_false(r.ok);
  assert_string_equal(r.error_code, "RequestLimitExceeded");
  assert_string_equal(v.status, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_body_minimal_matches_sdk),
      cmocka_unit_test(test_body_every_field),
      cmocka_unit_test(test_body_empty_optionals_left_out),
      cmocka_unit_test(test_body_utf8_matches_sdk),
      cmocka_unit_test(test_body_escapes),
      cmocka_unit_test(test_body_refuses_bad_input),
      cmocka_unit_test(test_parse_success),
      cmocka_unit_test(test_parse_api_error),
      cmocka_unit_test(test_parse_malformed),
      cmocka_unit_test(test_parse_limits),
      cmocka_unit_test(test_parse_deep_nesting),
      cmocka_unit_test(test_tree_parse),
      cmocka_unit_test(test_copy_text),
      cmocka_unit_test(test_list_body),
      cmocka_unit_test(test_list_parse),
      cmocka_unit_test(test_async_job_body_matches_sdk),
      cmocka_unit_test(test_async_job_body_refuses_bad_input),
      cmocka_unit_test(test_async_job_parse),
      cmocka_unit_test(test_async_job_parse_malformed),
      cmocka_unit_test(test_async_job_parse_api_error),
  };
  return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
