/* wdr_answer: the empty answer, freeing what an answer owns, and the
 * classification of every kind of result into what the policy does next.
 * The results here are built by hand; test_api.c checks the classes of
 * what the API client itself produces for each transport outcome. */
#include "testutil.h"

#include "wdr_answer.h"

/* --- init and free ------------------------------------------------------- */

/* Poisons a, so that a field wdr_answer_init forgets shows. */
static void poison(wdr_answer_t *a) { memset(a, 0x5a, sizeof(*a)); }

/* An empty answer is all zeros but RerunTimes, which is -1 ("absent"): 0
 * would read as "WeData counts no rerun yet", which a check acts on. */
static void test_init(void **state) {
  (void)state;
  wdr_answer_t a, want;
  memset(&want, 0, sizeof(want));
  want.view.rerun_times = -1;
  poison(&a);
  wdr_answer_init(&a);
  assert_memory_equal(&a, &want, sizeof(want));
  /* The fields the engine reads, spelled out. */
  assert_int_equal(a.rc, 0);
  assert_false(a.res.response.ok);
  assert_string_equal(a.res.response.async_id, "");
  assert_string_equal(a.res.response.error_code, "");
  assert_int_equal(a.res.http_status, 0);
  assert_false(a.res.request_sent);
  assert_string_equal(a.view.state, "");
  assert_int_equal(a.view.rerun_times, -1);
  assert_false(a.view.support_rerun);
  assert_null(a.view.incomplete);
  assert_int_equal(a.view.incomplete_num, 0);
  assert_false(a.view.tasks_unnamed);
  assert_string_equal(a.async.status, "");
  assert_string_equal(a.async.error_desc, "");
  assert_null(a.runs.items);
  assert_int_equal(a.runs.items_num, 0);
  assert_int_equal(a.runs.total_pages, 0);

  /* Repeating it is harmless (nothing is owned yet). */
  wdr_answer_init(&a);
  assert_memory_equal(&a, &want, sizeof(want));
}

static char *dup(const char *s) {
  char *d = strdup(s);
  assert_non_null(d);
  return d;
}

/* An answer owning what a GetTriggerWorkflowRun and a listing leave in it:
 * the task list and the page of runs. */
static void fill_owned(wdr_answer_t *a) {
  wdr_answer_init(a);
  a->view.incomplete = calloc(3, sizeof(char *));
  assert_non_null(a->view.incomplete);
  a->view.incomplete[0] = dup("t1");
  a->view.incomplete[1] = dup("t2");
  a->view.incomplete[2] = dup("t3");
  a->view.incomplete_num = 3;
  a->runs.items = calloc(2, sizeof(wdr_run_brief_t));
  assert_non_null(a->runs.items);
  a->runs.items_num = 2;
}

/* Everything owned is freed (the leak checker of the sanitizer build
 * proves it) and the pointers are left empty, so a second free, or a free
 * by the next holder, is harmless. */
static void test_free_answer(void **state) {
  (void)state;
  wdr_answer_t a;
  fill_owned(&a);
  wdr_answer_free(&a);
  assert_null(a.view.incomplete);
  assert_int_equal(a.view.incomplete_num, 0);
  assert_null(a.runs.items);
  assert_int_equal(a.runs.items_num, 0);

  wdr_answer_free(&a); /* idempotent */
  assert_null(a.view.incomplete);
  assert_null(a.runs.items);

  /* A fresh answer owns nothing: freeing it is fine too. */
  wdr_answer_init(&a);
  wdr_answer_free(&a);
  assert_null(a.view.incomplete);
  assert_null(a.runs.items);
}

/* The two parts free independently (wdr_run_view_free and
 * wdr_run_list_free are what wdr_answer_free is made of). */
static void test_free_parts(void **state) {
  (void)state;
  wdr_answer_t a;
  fill_owned(&a);
  wdr_run_view_free(&a.view);
  assert_null(a.view.incomplete);
  assert_int_equal(a.view.incomplete_num, 0);
  assert_non_null(a.runs.items); /* untouched */
  assert_int_equal(a.runs.items_num, 2);
  wdr_run_list_free(&a.runs);
  assert_null(a.runs.items);
  assert_int_equal(a.runs.items_num, 0);
  wdr_answer_free(&a);
}

/* --- classification ------------------------------------------------------ */

static wdr_api_class_t classify(const char *code, long http_status,
                                bool request_sent) {
  wdr_api_result_t res;
  memset(&res, 0, sizeof(res));
  snprintf(res.response.error_code, sizeof(res.response.error_code), "%s",
           code);
  res.http_status = http_status;
  res.request_sent = request_sent;
  return wdr_answer_classify(&res);
}

static void test_classify_ok(void **state) {
  (void)state;
  wdr_api_result_t ok;
  memset(&ok, 0, sizeof(ok));
  ok.response.ok = true;
  ok.http_status = 200;
  ok.request_sent = true;
  snprintf(ok.response.async_id, sizeof(ok.response.async_id), "a-1");
  assert_int_equal(wdr_answer_classify(&ok), WDR_CLASS_OK);
}

static void test_classify_codes(void **state) {
  (void)state;
  /* Only a refusal proves nothing was done: the rate limits and "busy" may
   * be resent as they are. A family matches itself and its sub-codes
   * (after a dot). */
  const char *refused[] = {
      "RequestLimitExceeded",
      "RequestLimitExceeded.UinLimitExceeded",
      "RequestLimitExceeded.IPLimitExceeded",
      "InvalidParameter.ServiceIsBusy",
  };
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    if (classify(refused[i], 200, true) != WDR_CLASS_RETRYABLE)
      fail_msg("%s is not retryable", refused[i]);
    /* The transport details do not matter for a server's code. */
    if (classify(refused[i], 200, false) != WDR_CLASS_RETRYABLE)
      fail_msg("%s is not retryable when not sent", refused[i]);
  }
  /* Server trouble and "in use" may come after WeData acted (from a
   * gateway): ambiguous, like a timeout. */
  const char *ambiguous[] = {
      "InternalError",      "InternalError.X",     "InternalError.DbError",
      "ServiceUnavailable", "ResourceUnavailable", "ResourceUnavailable.X",
      "ResourceInUse",      "ResourceInUse.Task",
  };
  for (size_t i = 0; i < sizeof(ambiguous) / sizeof(ambiguous[0]); i++)
    if (classify(ambiguous[i], 200, true) != WDR_CLASS_AMBIGUOUS)
      fail_msg("%s is not ambiguous", ambiguous[i]);
  /* The credentials, not the request: the whole plugin waits for them. */
  const char *credentials[] = {
      "AuthFailure.SecretIdNotFound",
      "AuthFailure.SignatureFailure",
      "AuthFailure.TokenFailure",
      "AuthFailure",
      "AuthFailure.UnauthorizedOperation",
      "UnauthorizedOperation",
      "UnauthorizedOperation.UserNotInProject",
  };
  for (size_t i = 0; i < sizeof(credentials) / sizeof(credentials[0]); i++) {
    if (classify(credentials[i], 200, true) != WDR_CLASS_CREDENTIALS)
      fail_msg("%s is not a credentials error", credentials[i]);
    assert_true(wdr_answer_code_is_credentials(credentials[i]));
  }
  assert_false(wdr_answer_code_is_credentials("AuthFailure.SignatureExpire"));
  assert_false(wdr_answer_code_is_credentials("AuthFailureX"));
  assert_false(wdr_answer_code_is_credentials(NULL));

  /* Everything else the server says is final: unknown codes, and names
   * that only start like a family (no dot after it). */
  const char *permanent[] = {
      "InvalidParameter",
      "InvalidParameter.Other",
      "InvalidParameterValue",
      "ResourceNotFound",
      "ResourceNotFound.Workflow",
      "AuthFailureX",
      "UnauthorizedOperationX",
      "FailedOperation",
      "UnknownCode",
      "RequestLimitExceededX",
      "InternalErrorX",
      "InternalErrorX.y",
      "ResourceInUseX.y",
      "ResourceUnavailableX",
      "InvalidParameter.ServiceIsBusyNow",
      "ServiceUnavailable2",
      "ServiceUnavailableX",
      "xRequestLimitExceeded",
      "requestlimitexceeded",
      "",
  };
  for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++)
    if (classify(permanent[i], 200, true) != WDR_CLASS_PERMANENT)
      fail_msg("\"%s\" is not permanent", permanent[i]);

  /* A stale timestamp: sign again; anything longer is just unknown. */
  assert_int_equal(classify("AuthFailure.SignatureExpire", 200, true),
                   WDR_CLASS_RESIGN);
  assert_int_equal(classify("AuthFailure.SignatureExpire", 200, false),
                   WDR_CLASS_RESIGN);
  assert_int_equal(classify("AuthFailure.SignatureExpired", 200, true),
                   WDR_CLASS_CREDENTIALS);
  assert_int_equal(classify("AuthFailure.SignatureExpire.X", 200, true),
                   WDR_CLASS_CREDENTIALS);
}

static bool outage(const char *code, long status, bool sent) {
  wdr_api_result_t res;
  memset(&res, 0, sizeof(res));
  snprintf(res.response.error_code, sizeof(res.response.error_code), "%s",
           code);
  res.http_status = status;
  res.request_sent = sent;
  return wdr_answer_is_outage(&res);
}

/* Outages are the service's trouble (or the way to it), never the
 * request's: they pause the sender and count toward the breaker. */
static void test_outage(void **state) {
  (void)state;
  assert_true(outage(WDR_ERR_NETWORK, 0, false));
  assert_true(outage(WDR_ERR_NETWORK, 0, true));
  assert_true(outage(WDR_ERR_HTTP_STATUS, 500, true));
  assert_true(outage(WDR_ERR_HTTP_STATUS, 503, true));
  assert_false(outage(WDR_ERR_HTTP_STATUS, 404, true));
  assert_false(outage(WDR_ERR_HTTP_STATUS, 429, true));
  assert_true(outage(WDR_ERR_PARSE_JSON, 200, true));
  assert_false(outage(WDR_ERR_PARSE_JSON, 0, false)); /* never built */
  assert_true(outage("InternalError", 200, true));
  assert_true(outage("InternalError.DbError", 200, true));
  assert_true(outage("ServiceUnavailable", 200, true));
  assert_true(outage("ResourceUnavailable.X", 200, true));
  assert_true(outage("InvalidParameter.ServiceIsBusy", 200, true));
  /* Not outages: about the request or the run, the quota, the key. */
  assert_false(outage("ResourceInUse", 200, true));
  assert_false(outage("RequestLimitExceeded", 200, true));
  assert_false(outage("AuthFailure.SecretIdNotFound", 200, true));
  assert_false(outage("FailedOperation", 200, true));
  assert_false(outage("InvalidParameter", 200, true));
  assert_false(outage("InternalErrorX", 200, true));
  wdr_api_result_t ok;
  memset(&ok, 0, sizeof(ok));
  ok.response.ok = true;
  assert_false(wdr_answer_is_outage(&ok));
  assert_false(wdr_answer_holds_sender(&ok));
}

static bool holds(const char *code, long status, bool sent) {
  wdr_api_result_t res;
  memset(&res, 0, sizeof(res));
  snprintf(res.response.error_code, sizeof(res.response.error_code), "%s",
           code);
  res.http_status = status;
  res.request_sent = sent;
  return wdr_answer_holds_sender(&res);
}

/* The sender's trouble (outages, credentials, the clock) against the
 * request's (everything else). */
static void test_holds_sender(void **state) {
  (void)state;
  assert_true(holds(WDR_ERR_NETWORK, 0, false));
  assert_true(holds("InternalError", 200, true));
  assert_true(holds("AuthFailure.SecretIdNotFound", 200, true));
  assert_true(holds("UnauthorizedOperation", 200, true));
  assert_true(holds("AuthFailure.SignatureExpire", 200, true));
  assert_false(holds("ResourceInUse", 200, true));
  assert_false(holds("RequestLimitExceeded", 200, true));
  assert_false(holds("InvalidParameter", 200, true));
  assert_false(holds(WDR_ERR_HTTP_STATUS, 404, true));
}

static void test_classify_client_errors(void **state) {
  (void)state;
  /* No answer: retryable only when provably never sent. */
  assert_int_equal(classify(WDR_ERR_NETWORK, 0, false), WDR_CLASS_RETRYABLE);
  assert_int_equal(classify(WDR_ERR_NETWORK, 0, true), WDR_CLASS_AMBIGUOUS);

  /* A refusal below 500 did nothing; a 5xx may have. */
  assert_int_equal(classify(WDR_ERR_HTTP_STATUS, 429, true),
                   WDR_CLASS_RETRYABLE);
  assert_int_equal(classify(WDR_ERR_HTTP_STATUS, 404, true),
                   WDR_CLASS_RETRYABLE);
  assert_int_equal(classify(WDR_ERR_HTTP_STATUS, 499, true),
                   WDR_CLASS_RETRYABLE);
  assert_int_equal(classify(WDR_ERR_HTTP_STATUS, 500, true),
                   WDR_CLASS_AMBIGUOUS);
  assert_int_equal(classify(WDR_ERR_HTTP_STATUS, 502, true),
                   WDR_CLASS_AMBIGUOUS);
  assert_int_equal(classify(WDR_ERR_HTTP_STATUS, 503, true),
                   WDR_CLASS_AMBIGUOUS);
  assert_int_equal(classify(WDR_ERR_HTTP_STATUS, 504, true),
                   WDR_CLASS_AMBIGUOUS);

  /* An answer that cannot be read: the server may have acted. A body that
   * could not be built was never sent, and never will be. */
  assert_int_equal(classify(WDR_ERR_PARSE_JSON, 200, true),
                   WDR_CLASS_AMBIGUOUS);
  assert_int_equal(classify(WDR_ERR_PARSE_JSON, 0, false), WDR_CLASS_PERMANENT);

  /* The ClientError codes are exact: a look-alike is a server's unknown
   * code. */
  assert_int_equal(classify("ClientError.NetworkErrorX", 0, false),
                   WDR_CLASS_PERMANENT);
  assert_int_equal(classify("ClientError", 0, false), WDR_CLASS_PERMANENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init),
      cmocka_unit_test(test_free_answer),
      cmocka_unit_test(test_free_parts),
      cmocka_unit_test(test_classify_ok),
      cmocka_unit_test(test_outage),
      cmocka_unit_test(test_holds_sender),
      cmocka_unit_test(test_classify_codes),
      cmocka_unit_test(test_classify_client_errors),
  };
  return cmocka_run_group_tests_name("answer", tests, NULL, NULL);
}
