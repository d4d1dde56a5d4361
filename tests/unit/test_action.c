/* wdr_action: the table from job kind to API action, and the worker's whole
 * job through it, against a recording transport: for every kind the exact
 * request (action header, body bytes, signature at the given time, endpoint
 * and credentials from the config) and which part of the answer the reply
 * is decoded into; transport failures; wdr_job_wf. */
#include "testutil.h"

#include "oconfig_build.h"
#include "rec_transport.h"

#include "wdr_action.h"
#include "wdr_sign.h"

#define NOW 1767225600 /* 2026-01-01 00:00:00 UTC */

/* What a test built; the teardown frees whatever is left, so that a failed
 * assertion leaks nothing either. */
static wdr_config_t *g_cfg;
static rec_transport_t g_rec;
static bool g_rec_ready;
static wdr_answer_t g_ans;

static int teardown(void **state) {
  (void)state;
  wdr_answer_free(&g_ans);
  wdr_config_free(g_cfg);
  g_cfg = NULL;
  if (g_rec_ready)
    rec_free(&g_rec);
  g_rec_ready = false;
  return 0;
}

static const char *no_env(const char *name) {
  (void)name;
  return NULL;
}

/* Two workflows: 0 "adv" (ExecuteType 2 with its own tasks, parameters
 * and resource groups), 1 "whole" (ExecuteType 1, polled). extras adds a
 * session token and a language, which become headers. */
static wdr_config_t *make_config(bool extras) {
  oconfig_item_t *r = ocb_add_str(ocb_root("Plugin"), "wedata_rerun");
  ocb_str(r, "Endpoint", "https://127.0.0.1:8443");
  ocb_str(r, "Region", "ap-shanghai");
  ocb_str(r, "SecretId", "AKIDtest");
  ocb_str(r, "SecretKey", "keytest");
  if (extras) {
    ocb_str(r, "SessionToken", "tok-1");
    ocb_str(r, "Language", "en-US");
  }
  oconfig_item_t *adv = ocb_str(r, "Workflow", "adv");
  ocb_str(adv, "ProjectId", "1001");
  ocb_str(adv, "WorkflowId", "wf-adv");
  ocb_num(adv, "ExecuteType", 2);
  ocb_add_str(ocb_str(adv, "TaskId", "t1"), "t2");
  ocb_add_str(ocb_str(adv, "AdvancedParam", "k1"), "v1");
  ocb_add_str(ocb_str(adv, "AdvancedParam", "k2"), "v 2");
  ocb_str(adv, "SchedulingResourceGroup", "srg-1");
  ocb_str(adv, "IntegrationResourceGroup", "irg-1");
  ocb_str(ocb_child(adv, "Match"), "Plugin", "exec");
  oconfig_item_t *whole = ocb_str(r, "Workflow", "whole");
  ocb_str(whole, "ProjectId", "1002");
  ocb_str(whole, "WorkflowId", "wf-whole");
  ocb_num(whole, "ExecuteType", 1);
  ocb_bool(whole, "Poll", 1);

  char err[1024] = "";
  wdr_config_t *cfg = NULL;
  int rc = wdr_config_parse(r, no_env, &cfg, err, sizeof(err));
  ocb_free(r);
  if (rc != 0)
    fail_msg("wdr_config_parse failed: %s", err);
  return cfg;
}

/* The config and a recorder answering everything with answer. */
static void start(bool extras, const rec_answer_t *answer) {
  g_cfg = make_config(extras);
  rec_init(&g_rec, answer, answer != NULL ? 1 : 0);
  g_rec_ready = true;
}

static wdr_job_t run_job(wdr_job_kind_t kind, size_t wf, const char *run) {
  wdr_job_t j = {.kind = kind};
  j.run.kind = kind;
  j.run.wf = wf;
  j.run.attempt = 1;
  snprintf(j.run.execution_id, sizeof(j.run.execution_id), "%s", run);
  return j;
}

/* Runs job at time now through a transport on g_rec, into g_ans (poisoned
 * first: wdr_action_execute must initialise it). */
static void execute(const wdr_job_t *job, int64_t now) {
  wdr_transport_t t = rec_transport(&g_rec);
  wdr_answer_free(&g_ans);
  memset(&g_ans, 0x5a, sizeof(g_ans));
  wdr_action_execute(job, g_cfg, NULL, &t, now, &g_ans);
}

/* The Authorization a TC3 signer gives for this body, action and time
 * with the configured credentials (wdr_sign is checked against the
 * official vectors in test_sign.c). */
static void expected_auth(const char *action, const char *body, int64_t now,
                          char *out, size_t size) {
  wdr_sign_t sig;
  wdr_sign_input_t in = {.host = "127.0.0.1:8443",
                         .content_type = "application/json",
                         .action = action,
                         .service = "wedata",
                         .payload = body,
                         .payload_len = strlen(body),
                         .timestamp = now,
                         .secret_id = "AKIDtest",
                         .secret_key = "keytest"};
  assert_int_equal(wdr_sign_compute(&in, &sig), 0);
  snprintf(out, size, "Authorization: %s", wdr_buf_str(&sig.authorization));
  wdr_sign_clear(&sig);
}

/* Request i was exactly this: every header line in order, the body byte
 * for byte, signed for it at now. */
static void expect_request(size_t i, const char *action, int64_t now,
                           const char *body) {
  rec_request_t q;
  rec_get(&g_rec, i, &q);
  assert_string_equal(q.url, "https://127.0.0.1:8443/");
  assert_string_equal(q.body, body);
  char ts[64], act[128], auth[512];
  snprintf(ts, sizeof(ts), "X-TC-Timestamp: %lld", (long long)now);
  snprintf(act, sizeof(act), "X-TC-Action: %s", action);
  expected_auth(action, body, now, auth, sizeof(auth));
  const char *want[] = {"Host: 127.0.0.1:8443",
                        "Content-Type: application/json",
                        act,
                        "X-TC-Version: 2025-08-06",
                        ts,
                        "X-TC-Region: ap-shanghai",
                        auth};
  assert_int_equal(q.headers_num, 7);
  for (size_t h = 0; h < 7; h++)
    assert_string_equal(q.headers[h], want[h]);
}

/* --- the table ------------------------------------------------------------ */

static void test_action_of(void **state) {
  (void)state;
  static const struct {
    wdr_job_kind_t kind;
    const char *action;
  } rows[] = {
      {WDR_JOB_RERUN, "RerunTriggerWorkflowRunAsync"},
      {WDR_JOB_VERIFY, "GetTriggerWorkflowRun"},
      {WDR_JOB_CHECK, "GetTriggerWorkflowRun"},
      {WDR_JOB_ASYNC, "GetOpsAsyncJob"},
      {WDR_JOB_FOLLOW, "GetTriggerWorkflowRun"},
      {WDR_JOB_LIST, "ListTriggerWorkflowRuns"},
  };
  assert_int_equal(sizeof(rows) / sizeof(rows[0]), WDR_JOB_KIND_NUM);
  for (size_t i = 0; i < WDR_JOB_KIND_NUM; i++) {
    const wdr_action_t *a = wdr_action_of(rows[i].kind);
    assert_non_null(a);
    assert_int_equal(a->kind, rows[i].kind);
    assert_string_equal(a->action, rows[i].action);
    assert_non_null(a->call);
  }
  assert_null(wdr_action_of(WDR_JOB_KIND_NUM));
  assert_null(wdr_action_of((wdr_job_kind_t)(WDR_JOB_KIND_NUM + 1)));
  assert_null(wdr_action_of((wdr_job_kind_t)-1));
  assert_null(wdr_action_of((wdr_job_kind_t)1000000));
}

/* --- RerunTriggerWorkflowRunAsync ----------------------------------------- */

static const rec_answer_t rerun_ok = {
    .action = "RerunTriggerWorkflowRunAsync",
    .body = "{\"Response\":{\"Data\":{\"AsyncId\":\"async-7\"},"
            "\"RequestId\":\"req-7\"}}"};

/* The parts a rerun does not fill stay as wdr_answer_init leaves them. */
static void expect_only_res(void) {
  assert_string_equal(g_ans.view.state, "");
  assert_int_equal(g_ans.view.rerun_times, -1);
  assert_null(g_ans.view.incomplete);
  assert_int_equal(g_ans.view.incomplete_num, 0);
  assert_string_equal(g_ans.async.status, "");
  assert_null(g_ans.runs.items);
  assert_int_equal(g_ans.runs.items_num, 0);
}

/* Without an override the workflow's configured request goes out:
 * ExecuteType 2 with its TaskIds, AdvancedParams and resource groups. */
static void test_rerun_configured(void **state) {
  (void)state;
  start(false, &rerun_ok);
  wdr_job_t job = run_job(WDR_JOB_RERUN, 0, "run-1");
  execute(&job, NOW);
  assert_int_equal(rec_count(&g_rec), 1);
  expect_request(
      0, "RerunTriggerWorkflowRunAsync", NOW,
      "{\"ProjectId\":\"1001\",\"WorkflowId\":\"wf-adv\","
      "\"WorkflowExecutionId\":\"run-1\",\"ExecuteType\":\"2\","
      "\"TaskIds\":[\"t1\",\"t2\"],\"AdvancedParams\":[{\"ParamKey\":\"k1\","
      "\"ParamValue\":\"v1\"},{\"ParamKey\":\"k2\",\"ParamValue\":\"v 2\"}],"
      "\"SchedulingResourceGroup\":\"srg-1\","
      "\"IntegrationResourceGroup\":\"irg-1\"}");
  assert_int_equal(g_ans.rc, 0);
  assert_true(g_ans.res.response.ok);
  assert_string_equal(g_ans.res.response.async_id, "async-7");
  assert_string_equal(g_ans.res.response.request_id, "req-7");
  assert_string_equal(g_ans.res.response.error_code, "");
  assert_int_equal(g_ans.res.http_status, 200);
  assert_true(g_ans.res.request_sent);
  assert_true(g_ans.res.seconds == 0.125);
  assert_int_equal(wdr_answer_classify(&g_ans.res), WDR_CLASS_OK);
  expect_only_res();

  /* A workflow configured with ExecuteType 1 sends just that. */
  job = run_job(WDR_JOB_RERUN, 1, "run-2");
  execute(&job, NOW);
  expect_request(1, "RerunTriggerWorkflowRunAsync", NOW,
                 "{\"ProjectId\":\"1002\",\"WorkflowId\":\"wf-whole\","
                 "\"WorkflowExecutionId\":\"run-2\",\"ExecuteType\":\"1\"}");
  assert_string_equal(g_ans.res.response.async_id, "async-7");
}

/* execute_type 1 (EscalateToFull): the whole workflow with its default
 * parameters, whatever TaskIds and AdvancedParams are configured; where it
 * runs (the resource groups) stays as configured. */
static void test_rerun_whole_override(void **state) {
  (void)state;
  start(false, &rerun_ok);
  wdr_job_t job = run_job(WDR_JOB_RERUN, 0, "run-1");
  job.run.execute_type = 1;
  char *tasks[] = {"t9"}; /* ignored for a whole-workflow rerun */
  job.run.task_ids = tasks;
  job.run.task_ids_num = 1;
  execute(&job, NOW);
  assert_int_equal(rec_count(&g_rec), 1);
  expect_request(0, "RerunTriggerWorkflowRunAsync", NOW,
                 "{\"ProjectId\":\"1001\",\"WorkflowId\":\"wf-adv\","
                 "\"WorkflowExecutionId\":\"run-1\",\"ExecuteType\":\"1\","
                 "\"SchedulingResourceGroup\":\"srg-1\","
                 "\"IntegrationResourceGroup\":\"irg-1\"}");
  assert_true(g_ans.res.response.ok);
  assert_string_equal(g_ans.res.response.async_id, "async-7");
}

/* execute_type 2 (TaskScope "incomplete"): the tasks the policy picked
 * instead of the configured ones, in its order. */
static void test_rerun_tasks_override(void **state) {
  (void)state;
  start(false, &rerun_ok);
  wdr_job_t job = run_job(WDR_JOB_RERUN, 0, "run-1");
  char *tasks[] = {"t7", "t3", "t9"};
  job.run.execute_type = 2;
  job.run.task_ids = tasks;
  job.run.task_ids_num = 3;
  execute(&job, NOW);
  expect_request(
      0, "RerunTriggerWorkflowRunAsync", NOW,
      "{\"ProjectId\":\"1001\",\"WorkflowId\":\"wf-adv\","
      "\"WorkflowExecutionId\":\"run-1\",\"ExecuteType\":\"2\","
      "\"TaskIds\":[\"t7\",\"t3\",\"t9\"],\"AdvancedParams\":[{\"ParamKey\":"
      "\"k1\",\"ParamValue\":\"v1\"},{\"ParamKey\":\"k2\",\"ParamValue\":"
      "\"v 2\"}],\"SchedulingResourceGroup\":\"srg-1\","
      "\"IntegrationResourceGroup\":\"irg-1\"}");
  assert_true(g_ans.res.response.ok);
}

/* --- GetTriggerWorkflowRun ------------------------------------------------ */

static const rec_answer_t run_ok = {
    .action = "GetTriggerWorkflowRun",
    .body = "{\"Response\":{\"Data\":{\"TriggerWorkflowRun\":{"
            "\"ExecutionState\":\"FAILED\",\"RerunTimes\":2,"
            "\"SupportRerun\":true},\"TriggerTaskRuns\":["
            "{\"TaskId\":\"t1\",\"ExecutionState\":\"SUCCESS\"},"
            "{\"TaskId\":\"t2\",\"ExecutionState\":\"FAILED\"}]},"
            "\"RequestId\":\"req-r\"}}"};

/* VERIFY, CHECK and FOLLOW read the run the same way: the workflow's
 * project and the run id, decoded into view. */
static void test_get_run_kinds(void **state) {
  (void)state;
  start(false, &run_ok);
  const wdr_job_kind_t kinds[] = {WDR_JOB_VERIFY, WDR_JOB_CHECK,
                                  WDR_JOB_FOLLOW};
  for (size_t i = 0; i < 3; i++) {
    wdr_job_t job = run_job(kinds[i], 1, "run-3");
    snprintf(job.run.async_id, sizeof(job.run.async_id), "a-1"); /* unused */
    execute(&job, NOW + (int64_t)i);
    assert_int_equal(rec_count(&g_rec), i + 1);
    expect_request(i, "GetTriggerWorkflowRun", NOW + (int64_t)i,
                   "{\"ProjectId\":\"1002\",\"WorkflowExecutionId\":"
                   "\"run-3\"}");
    assert_int_equal(g_ans.rc, 0);
    assert_true(g_ans.res.response.ok);
    assert_string_equal(g_ans.res.response.request_id, "req-r");
    assert_string_equal(g_ans.res.response.async_id, "");
    assert_string_equal(g_ans.view.state, "FAILED");
    assert_int_equal(g_ans.view.rerun_times, 2);
    assert_true(g_ans.view.support_rerun);
    assert_int_equal(g_ans.view.incomplete_num, 1);
    assert_string_equal(g_ans.view.incomplete[0], "t2");
    assert_false(g_ans.view.tasks_unnamed);
    assert_string_equal(g_ans.async.status, "");
    assert_null(g_ans.runs.items);
    wdr_answer_free(&g_ans);
    assert_null(g_ans.view.incomplete);
  }
}

/* --- GetOpsAsyncJob ------------------------------------------------------- */

static void test_async_job(void **state) {
  (void)state;
  static const rec_answer_t async_ok = {
      .action = "GetOpsAsyncJob",
      .body = "{\"Response\":{\"Data\":{\"AsyncId\":\"a-9\",\"Status\":"
              "\"FAIL\",\"ErrorDesc\":\"task t2 failed\"},\"RequestId\":"
              "\"req-a\"}}"};
  start(false, &async_ok);
  wdr_job_t job = run_job(WDR_JOB_ASYNC, 0, "run-4");
  snprintf(job.run.async_id, sizeof(job.run.async_id), "a-9");
  execute(&job, NOW);
  assert_int_equal(rec_count(&g_rec), 1);
  expect_request(0, "GetOpsAsyncJob", NOW,
                 "{\"ProjectId\":\"1001\",\"AsyncId\":\"a-9\"}");
  assert_int_equal(g_ans.rc, 0);
  assert_true(g_ans.res.response.ok);
  assert_string_equal(g_ans.res.response.request_id, "req-a");
  assert_string_equal(g_ans.async.status, "FAIL");
  assert_string_equal(g_ans.async.error_desc, "task t2 failed");
  assert_string_equal(g_ans.view.state, "");
  assert_int_equal(g_ans.view.rerun_times, -1);
  assert_null(g_ans.runs.items);
}

/* --- ListTriggerWorkflowRuns ---------------------------------------------- */

static const rec_answer_t list_ok = {
    .action = "ListTriggerWorkflowRuns",
    .body = "{\"Response\":{\"Data\":{\"TotalPageNumber\":4,\"Items\":["
            "{\"ExecutionId\":\"e1\",\"WorkflowId\":\"wf-x\","
            "\"ExecutionState\":\"FAILED\",\"SupportRerun\":true,"
            "\"RerunTimes\":1,\"CreateTime\":\"1767225000000\"},"
            "{\"ExecutionId\":\"e2\",\"WorkflowId\":\"wf-adv\","
            "\"ExecutionState\":\"SUCCESS\"}]},\"RequestId\":\"req-l\"}}"};

/* The body comes from the job alone (the poll module chose the project,
 * the workflows and the page), not from a workflow's config. */
static void test_list(void **state) {
  (void)state;
  start(false, &list_ok);
  const char *ids[] = {"wf-adv", "wf-x"};
  wdr_job_t job = {
      .kind = WDR_JOB_LIST,
      .list = {
          .project_id = "2002", .workflow_ids = ids, .ids_num = 2, .page = 3}};
  execute(&job, NOW);
  assert_int_equal(rec_count(&g_rec), 1);
  expect_request(0, "ListTriggerWorkflowRuns", NOW,
                 "{\"ProjectId\":\"2002\",\"Filters\":[{\"Name\":"
                 "\"WorkflowId\",\"Values\":[\"wf-adv\",\"wf-x\"]}],"
                 "\"OrderFields\":[{\"Name\":\"CreateTime\",\"Direction\":"
                 "\"DESC\"}],\"PageNumber\":3,\"PageSize\":100}");
  assert_int_equal(g_ans.rc, 0);
  assert_true(g_ans.res.response.ok);
  assert_string_equal(g_ans.res.response.request_id, "req-l");
  assert_int_equal(g_ans.runs.items_num, 2);
  assert_int_equal(g_ans.runs.total_pages, 4);
  const wdr_run_brief_t *b = g_ans.runs.items;
  assert_string_equal(b[0].execution_id, "e1");
  assert_string_equal(b[0].workflow_id, "wf-x");
  assert_string_equal(b[0].state, "FAILED");
  assert_true(b[0].support_rerun);
  assert_int_equal(b[0].rerun_times, 1);
  assert_int_equal(b[0].create_ms, 1767225000000LL);
  assert_string_equal(b[1].execution_id, "e2");
  assert_string_equal(b[1].state, "SUCCESS");
  assert_false(b[1].support_rerun);
  assert_int_equal(b[1].rerun_times, -1);
  assert_string_equal(g_ans.view.state, "");
  assert_string_equal(g_ans.async.status, "");
}

/* --- time, endpoint, credentials ------------------------------------------ */

/* Each call is signed at the time it is handed, never at another: the
 * X-TC-Timestamp sent is it, and the signature (date scope included) is
 * the one for it. */
static void test_signed_at_now(void **state) {
  (void)state;
  start(false, &rerun_ok);
  const int64_t times[] = {NOW, NOW + 1, NOW + 86400 * 40};
  wdr_job_t job = run_job(WDR_JOB_RERUN, 1, "run-5");
  const char *body = "{\"ProjectId\":\"1002\",\"WorkflowId\":\"wf-whole\","
                     "\"WorkflowExecutionId\":\"run-5\",\"ExecuteType\":\"1\"}";
  for (size_t i = 0; i < 3; i++) {
    execute(&job, times[i]);
    expect_request(i, "RerunTriggerWorkflowRunAsync", times[i], body);
  }
  rec_request_t a, b, c;
  rec_get(&g_rec, 0, &a);
  rec_get(&g_rec, 1, &b);
  rec_get(&g_rec, 2, &c);
  assert_string_equal(rec_header(&a, "X-TC-Timestamp"), "1767225600");
  assert_string_equal(rec_header(&c, "X-TC-Timestamp"), "1770681600");
  assert_string_not_equal(rec_header(&a, "Authorization"),
                          rec_header(&b, "Authorization"));
  assert_non_null(strstr(rec_header(&a, "Authorization"),
                         "Credential=AKIDtest/2026-01-01/wedata/tc3_request"));
  assert_non_null(strstr(rec_header(&c, "Authorization"),
                         "Credential=AKIDtest/2026-02-10/wedata/tc3_request"));
}

/* The session token and the language of the config become headers. */
static void test_endpoint_from_config(void **state) {
  (void)state;
  start(true, &run_ok);
  wdr_job_t job = run_job(WDR_JOB_VERIFY, 0, "run-6");
  execute(&job, NOW);
  rec_request_t q;
  rec_get(&g_rec, 0, &q);
  assert_string_equal(q.url, "https://127.0.0.1:8443/");
  assert_int_equal(q.headers_num, 9);
  assert_string_equal(q.headers[0], "Host: 127.0.0.1:8443");
  assert_string_equal(q.headers[5], "X-TC-Region: ap-shanghai");
  assert_string_equal(q.headers[6], "X-TC-Token: tok-1");
  assert_string_equal(q.headers[7], "X-TC-Language: en-US");
  char auth[512];
  expected_auth("GetTriggerWorkflowRun",
                "{\"ProjectId\":\"1001\",\"WorkflowExecutionId\":\"run-6\"}",
                NOW, auth, sizeof(auth));
  assert_string_equal(q.headers[8], auth);
  assert_true(g_ans.res.response.ok);
}

/* Credentials from the store (the chain's, while collectd runs) are the
 * ones signed with; temporary ones that would expire before the request
 * arrives, or none yet, send nothing. */
static void test_credentials_snapshot(void **state) {
  (void)state;
  start(false, &rerun_ok);
  wdr_job_t job = run_job(WDR_JOB_RERUN, 1, "run-c");
  wdr_transport_t t = rec_transport(&g_rec);
  wdr_cred_snapshot_t cred = {.secret_id = "AKIDrole",
                              .secret_key = "rolekey",
                              .token = "roletoken",
                              .expires_at = NOW + 3600};
  wdr_answer_free(&g_ans);
  wdr_action_execute(&job, g_cfg, &cred, &t, NOW, &g_ans);
  rec_request_t q;
  rec_get(&g_rec, 0, &q);
  assert_non_null(strstr(rec_header(&q, "Authorization"),
                         "Credential=AKIDrole/2026-01-01/wedata/tc3_request"));
  assert_string_equal(rec_header(&q, "X-TC-Token"), "roletoken");
  assert_true(g_ans.res.response.ok);

  /* Timeout is 10 s in this config: 11 s left is not enough. */
  const int64_t left[] = {11, 0, -5};
  for (size_t i = 0; i < 3; i++) {
    cred.expires_at = NOW + left[i];
    wdr_answer_free(&g_ans);
    wdr_action_execute(&job, g_cfg, &cred, &t, NOW, &g_ans);
    assert_string_equal(g_ans.res.response.error_code, WDR_ERR_NO_CREDENTIALS);
    assert_false(g_ans.res.request_sent);
  }
  cred.secret_id[0] = '\0'; /* none fetched yet */
  cred.expires_at = 0;
  wdr_answer_free(&g_ans);
  wdr_action_execute(&job, g_cfg, &cred, &t, NOW, &g_ans);
  assert_string_equal(g_ans.res.response.error_message,
                      "no credentials from the CVM role yet");
  assert_int_equal(g_rec.num, 1); /* only the first left */
  cred.expires_at = NOW + 12;
  snprintf(cred.secret_id, sizeof(cred.secret_id), "AKIDrole");
  wdr_answer_free(&g_ans);
  wdr_action_execute(&job, g_cfg, &cred, &t, NOW, &g_ans);
  assert_int_equal(g_rec.num, 2);
}

/* --- failures ------------------------------------------------------------- */

/* A transport that fails becomes a ClientError code, with the transport's
 * details kept for the classification; the kind's own part stays empty. */
static void test_transport_failures(void **state) {
  (void)state;
  rec_answer_t answer = {
      .action = NULL, .outcome = WDR_HTTP_NETWORK, .not_sent = true};
  start(false, &answer);
  wdr_job_t job = run_job(WDR_JOB_CHECK, 0, "run-7");

  execute(&job, NOW);
  assert_int_equal(rec_count(&g_rec), 1);
  assert_int_equal(g_ans.rc, 0); /* a request was attempted */
  assert_false(g_ans.res.response.ok);
  assert_string_equal(g_ans.res.response.error_code,
                      "ClientError.NetworkError");
  assert_string_equal(g_ans.res.response.error_message, "Connection refused");
  assert_false(g_ans.res.request_sent);
  assert_int_equal(g_ans.res.http_status, 0);
  assert_int_equal(wdr_answer_classify(&g_ans.res), WDR_CLASS_RETRYABLE);
  assert_string_equal(g_ans.view.state, "");
  assert_int_equal(g_ans.view.rerun_times, -1);

  answer.not_sent = false; /* a timeout after sending */
  execute(&job, NOW);
  assert_string_equal(g_ans.res.response.error_code,
                      "ClientError.NetworkError");
  assert_true(g_ans.res.request_sent);
  assert_int_equal(wdr_answer_classify(&g_ans.res), WDR_CLASS_AMBIGUOUS);

  answer = (rec_answer_t){.action = NULL, .status = 503, .body = "busy"};
  job = run_job(WDR_JOB_RERUN, 0, "run-7");
  execute(&job, NOW);
  assert_int_equal(g_ans.rc, 0);
  assert_string_equal(g_ans.res.response.error_code,
                      "ClientError.HttpStatusCodeError");
  assert_string_equal(g_ans.res.response.error_message, "HTTP status 503");
  assert_int_equal(g_ans.res.http_status, 503);
  assert_string_equal(g_ans.res.response.async_id, "");

  /* A transport that could not even try: no request left (rc -1). */
  g_rec.post_result = -1;
  execute(&job, NOW);
  assert_int_equal(g_ans.rc, -1);
  assert_false(g_ans.res.response.ok);
  assert_string_equal(g_ans.res.response.error_code,
                      "ClientError.NetworkError");
  assert_int_equal(rec_count(&g_rec), 4);
}

/* A body that cannot be built is never sent (rc -1, ParseJsonError); a
 * kind without a row sends nothing and says so. */
static void test_nothing_sent(void **state) {
  (void)state;
  start(false, &run_ok);
  wdr_job_t job = run_job(WDR_JOB_VERIFY, 0, "");
  execute(&job, NOW);
  assert_int_equal(g_ans.rc, -1);
  assert_string_equal(g_ans.res.response.error_code,
                      "ClientError.ParseJsonError");
  assert_int_equal(g_ans.view.rerun_times, -1);

  job = run_job(WDR_JOB_RERUN, 0, "run-8");
  job.kind = WDR_JOB_KIND_NUM;
  execute(&job, NOW);
  assert_int_equal(g_ans.rc, -1);
  assert_false(g_ans.res.response.ok);
  assert_string_equal(g_ans.res.response.error_code,
                      "ClientError.NetworkError");
  assert_string_equal(g_ans.res.response.error_message,
                      "no action for job kind 6");
  assert_int_equal(g_ans.res.http_status, 0);
  assert_false(g_ans.res.request_sent);
  assert_int_equal(g_ans.view.rerun_times, -1);
  assert_null(g_ans.view.incomplete);
  assert_null(g_ans.runs.items);
  assert_int_equal(rec_count(&g_rec), 0);
}

/* --- wdr_job_wf ----------------------------------------------------------- */

static void log_nothing(void *ctx, wdr_log_level_t level, const char *text) {
  (void)ctx;
  (void)level;
  (void)text;
}

static void test_job_wf(void **state) {
  (void)state;
  start(false, NULL);
  for (int k = WDR_JOB_RERUN; k < WDR_JOB_LIST; k++) {
    wdr_job_t job = run_job((wdr_job_kind_t)k, 1, "run-9");
    assert_int_equal(wdr_job_wf(&job), 1);
    job.run.wf = 0;
    assert_int_equal(wdr_job_wf(&job), 0);
  }
  /* A search for a signal without a run id: its workflow. */
  wdr_job_t search = {.kind = WDR_JOB_LIST, .list = {.resolve = true, .wf = 1}};
  assert_int_equal(wdr_job_wf(&search), 1);

  /* A project's poll, as the poll module hands it out: its first polled
   * workflow, "whole" (1); "adv" (0) is not polled. */
  wdr_metrics_t *m = wdr_metrics_create(g_cfg);
  assert_non_null(m);
  wdr_sink_t sink = {.log = log_nothing};
  wdr_poll_t *p = wdr_poll_create(g_cfg, m, &sink);
  assert_non_null(p);
  wdr_poll_tick(p, 1000);
  wdr_job_t poll = {.kind = WDR_JOB_LIST};
  int64_t next = INT64_MAX;
  bool taken = wdr_poll_take_due(p, 1000, &poll.list, &next);
  size_t wf = wdr_job_wf(&poll);
  wdr_poll_destroy(p);
  wdr_metrics_destroy(m);
  assert_true(taken);
  assert_false(poll.list.resolve);
  assert_int_equal(wf, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_action_of, teardown),
      cmocka_unit_test_teardown(test_rerun_configured, teardown),
      cmocka_unit_test_teardown(test_rerun_whole_override, teardown),
      cmocka_unit_test_teardown(test_rerun_tasks_override, teardown),
      cmocka_unit_test_teardown(test_get_run_kinds, teardown),
      cmocka_unit_test_teardown(test_async_job, teardown),
      cmocka_unit_test_teardown(test_list, teardown),
      cmocka_unit_test_teardown(test_signed_at_now, teardown),
      cmocka_unit_test_teardown(test_endpoint_from_config, teardown),
      cmocka_unit_test_teardown(test_credentials_snapshot, teardown),
      cmocka_unit_test_teardown(test_transport_failures, teardown),
      cmocka_unit_test_teardown(test_nothing_sent, teardown),
      cmocka_unit_test_teardown(test_job_wf, teardown),
  };
  return cmocka_run_group_tests_name("action", tests, NULL, NULL);
}
