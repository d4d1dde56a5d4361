#include "wdr_answer.h"

#include <stdlib.h>
#include <string.h>

void wdr_answer_init(wdr_answer_t *a) {
  memset(a, 0, sizeof(*a));
  a->view.rerun_times = -1;
}

void wdr_run_view_free(wdr_run_view_t *view) {
  for (size_t i = 0; i < view->incomplete_num; i++)
    free(view->incomplete[i]);
  free(view->incomplete);
  view->incomplete = NULL;
  view->incomplete_num = 0;
}

void wdr_run_list_free(wdr_run_list_t *list) {
  free(list->items);
  list->items = NULL;
  list->items_num = 0;
}

void wdr_answer_free(wdr_answer_t *a) {
  wdr_run_view_free(&a->view);
  wdr_run_list_free(&a->runs);
}

/* From wedata-api.md section 4: the codes of a service in trouble (the
 * request was fine); and the codes that may come after WeData has acted
 * (from a gateway, or about the run being busy). A code belongs to a family
 * when it equals an entry or starts with an entry and a dot. */
static const char *const outage_codes[] = {
    "InternalError",
    "ServiceUnavailable",
    "ResourceUnavailable",
    "InvalidParameter.ServiceIsBusy",
};
static const char *const ambiguous_codes[] = {
    "InternalError",
    "ServiceUnavailable",
    "ResourceUnavailable",
    "ResourceInUse",
};

static bool code_is(const char *code, const char *family) {
  size_t n = strlen(family);
  return strncmp(code, family, n) == 0 && (code[n] == '\0' || code[n] == '.');
}

static bool code_in(const char *code, const char *const *families, size_t num) {
  for (size_t i = 0; i < num; i++)
    if (code_is(code, families[i]))
      return true;
  return false;
}

#define CODE_IN(code, list) code_in(code, list, sizeof(list) / sizeof(list[0]))

bool wdr_answer_is_throttle(const wdr_api_result_t *res) {
  return !res->response.ok &&
         code_is(res->response.error_code, "RequestLimitExceeded");
}

bool wdr_answer_code_is_credentials(const char *code) {
  return code != NULL && strcmp(code, "AuthFailure.SignatureExpire") != 0 &&
         (code_is(code, "AuthFailure") ||
          code_is(code, "UnauthorizedOperation") ||
          strcmp(code, WDR_ERR_NO_CREDENTIALS) == 0);
}

bool wdr_answer_is_outage(const wdr_api_result_t *res) {
  const char *code = res->response.error_code;
  if (res->response.ok)
    return false;
  if (strcmp(code, WDR_ERR_NETWORK) == 0)
    return true;
  if (strcmp(code, WDR_ERR_HTTP_STATUS) == 0)
    return res->http_status >= 500;
  if (strcmp(code, WDR_ERR_PARSE_JSON) == 0)
    return res->request_sent; /* else: a body that could not be built */
  return CODE_IN(code, outage_codes);
}

bool wdr_answer_holds_sender(const wdr_api_result_t *res) {
  wdr_api_class_t cls = wdr_answer_classify(res);
  return cls == WDR_CLASS_CREDENTIALS || cls == WDR_CLASS_RESIGN ||
         wdr_answer_is_outage(res);
}

wdr_api_class_t wdr_answer_classify(const wdr_api_result_t *res) {
  const char *code = res->response.error_code;
  if (res->response.ok)
    return WDR_CLASS_OK;
  if (strcmp(code, WDR_ERR_NETWORK) == 0)
    return res->request_sent ? WDR_CLASS_AMBIGUOUS : WDR_CLASS_RETRYABLE;
  if (strcmp(code, WDR_ERR_HTTP_STATUS) == 0)
    return res->http_status >= 500 ? WDR_CLASS_AMBIGUOUS : WDR_CLASS_RETRYABLE;
  if (strcmp(code, WDR_ERR_PARSE_JSON) == 0)
    /* An answer came but cannot be read: the server may have acted. A body
     * we could not even build was never sent: that will not get better. */
    return res->request_sent ? WDR_CLASS_AMBIGUOUS : WDR_CLASS_PERMANENT;
  if (strcmp(code, "AuthFailure.SignatureExpire") == 0)
    return WDR_CLASS_RESIGN;
  if (wdr_answer_code_is_credentials(code))
    return WDR_CLASS_CREDENTIALS;
  if (code_is(code, "RequestLimitExceeded") ||
      code_is(code, "InvalidParameter.ServiceIsBusy"))
    return WDR_CLASS_RETRYABLE;
  if (CODE_IN(code, ambiguous_codes))
    return WDR_CLASS_AMBIGUOUS;
  return WDR_CLASS_PERMANENT;
}
