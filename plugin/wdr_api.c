#include "wdr_api.h"
#include "wdr_sign.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_BODY_MAX (1024 * 1024)
#define API_HEADERS_MAX 10

typedef struct {
  char *line[API_HEADERS_MAX];
  size_t num;
} headers_t;

__attribute__((format(printf, 2, 3))) static int
add_header(headers_t *h, const char *fmt, ...) {
  if (h->num >= API_HEADERS_MAX)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&h->line[h->num], fmt, ap);
  va_end(ap);
  if (n < 0) {
    h->line[h->num] = NULL;
    return -1;
  }
  h->num++;
  return 0;
}

static void headers_free(headers_t *h) {
  /* X-TC-Token is a credential: wipe every line rather than pick it out. */
  for (size_t i = 0; i < h->num; i++) {
    explicit_bzero(h->line[i], strlen(h->line[i]));
    free(h->line[i]);
  }
  h->num = 0;
}

static void set_client_error(wdr_api_result_t *out, const char *code,
                             const char *message) {
  out->response.ok = false;
  snprintf(out->response.error_code, sizeof(out->response.error_code), "%s",
           code);
  wdr_text_copy(out->response.error_message,
                sizeof(out->response.error_message), message);
}

/* Whether sending action twice does no harm: the reads. Any other action
 * (the rerun, and one added later until it is listed here) goes to the
 * transport as `once` (wdr_http.h). */
static bool action_is_idempotent(const char *action) {
  static const char *const reads[] = {WDR_ACTION_GET_RUN, WDR_ACTION_ASYNC_JOB,
                                      WDR_ACTION_LIST_RUNS};
  for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
    if (strcmp(action, reads[i]) == 0)
      return true;
  return false;
}

/* Signs and posts one action; fills out from the transport's answer, and
 * leaves the body in resp for the action-specific decoder. */
static int api_call(const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                    const char *action, const wdr_buf_t *body, int64_t now,
                    wdr_http_response_t *resp, wdr_api_result_t *out) {
  headers_t h = {.num = 0};
  wdr_sign_t sig;
  int status = -1;
  wdr_sign_input_t in = {.host = ep->host,
                         .content_type = WDR_API_CONTENT_TYPE,
                         .action = action,
                         .service = WDR_API_SERVICE,
                         .payload = body->data,
                         .payload_len = body->len,
                         .timestamp = now,
                         .secret_id = ep->secret_id,
                         .secret_key = ep->secret_key};
  if (wdr_sign_compute(&in, &sig) != 0) {
    set_client_error(out, WDR_ERR_NETWORK, "cannot sign the request");
    goto cleanup;
  }
  if (add_header(&h, "Host: %s", ep->host) != 0 ||
      add_header(&h, "Content-Type: %s", WDR_API_CONTENT_TYPE) != 0 ||
      add_header(&h, "X-TC-Action: %s", action) != 0 ||
      add_header(&h, "X-TC-Version: %s", WDR_API_VERSION) != 0 ||
      add_header(&h, "X-TC-Timestamp: %lld", (long long)now) != 0 ||
      add_header(&h, "X-TC-Region: %s", ep->region) != 0 ||
      (ep->session_token != NULL &&
       add_header(&h, "X-TC-Token: %s", ep->session_token) != 0) ||
      (ep->language != NULL &&
       add_header(&h, "X-TC-Language: %s", ep->language) != 0) ||
      add_header(&h, "Authorization: %s", wdr_buf_str(&sig.authorization)) !=
          0) {
    set_client_error(out, WDR_ERR_NETWORK, "out of memory");
    goto cleanup;
  }
  wdr_http_request_t req = {.url = ep->url,
                            .headers = h.line,
                            .headers_num = h.num,
                            .body = wdr_buf_str(body),
                            .body_len = body->len,
                            .once = !action_is_idempotent(action)};
  if (t->post(t->ctx, &req, resp) != 0) {
    set_client_error(out, WDR_ERR_NETWORK, "out of memory");
    goto cleanup;
  }
  out->http_status = resp->status;
  out->request_sent = resp->request_sent;
  out->seconds = resp->seconds;
  out->server_time = resp->server_time;
  status = 0;
  if (resp->outcome == WDR_HTTP_NETWORK)
    set_client_error(out, WDR_ERR_NETWORK, resp->error);
  else if (resp->outcome == WDR_HTTP_TOO_LARGE)
    set_client_error(out, WDR_ERR_PARSE_JSON, resp->error);
  else if (resp->status != 200) {
    char what[64];
    snprintf(what, sizeof(what), "HTTP status %ld", resp->status);
    set_client_error(out, WDR_ERR_HTTP_STATUS, what);
  } else
    status = 1; /* an HTTP 200 body to decode */
cleanup:
  wdr_sign_clear(&sig);
  headers_free(&h);
  return status;
}

int wdr_api_call(const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                 const char *action, const wdr_buf_t *body, bool body_ok,
                 int64_t now, wdr_api_decode_fn decode, void *extra,
                 wdr_api_result_t *out) {
  wdr_http_response_t resp;
  int status = -1;
  memset(out, 0, sizeof(*out));
  wdr_http_response_init(&resp);
  if (!body_ok) {
    set_client_error(out, WDR_ERR_PARSE_JSON,
                     "cannot build the request body (invalid UTF-8?)");
    goto cleanup;
  }
  int rc = api_call(ep, t, action, body, now, &resp, out);
  if (rc < 0)
    goto cleanup;
  if (rc == 1)
    decode(wdr_buf_str(&resp.body), resp.body.len, &out->response, extra);
  status = 0;
cleanup:
  wdr_http_response_free(&resp);
  return status;
}

static void decode_rerun(const char *body, size_t len, wdr_response_t *out,
                         void *extra) {
  (void)extra;
  wdr_json_parse_rerun(body, len, out);
}

static void decode_get_run(const char *body, size_t len, wdr_response_t *out,
                           void *extra) {
  wdr_json_parse_get_run(body, len, out, extra);
}

int wdr_api_rerun(const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                  const wdr_rerun_req_t *req, int64_t now,
                  wdr_api_result_t *out) {
  wdr_buf_t body;
  wdr_buf_init(&body, API_BODY_MAX);
  bool body_ok = wdr_json_rerun_body(req, &body) == 0;
  int status = wdr_api_call(ep, t, WDR_ACTION_RERUN, &body, body_ok, now,
                            decode_rerun, NULL, out);
  wdr_buf_free(&body, false);
  return status;
}

int wdr_api_get_run(const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                    const char *project_id, const char *execution_id,
                    int64_t now, wdr_api_result_t *out, wdr_run_view_t *view) {
  wdr_buf_t body;
  wdr_buf_init(&body, API_BODY_MAX);
  memset(view, 0, sizeof(*view));
  view->rerun_times = -1;
  bool body_ok = wdr_json_get_run_body(project_id, execution_id, &body) == 0;
  int status = wdr_api_call(ep, t, WDR_ACTION_GET_RUN, &body, body_ok, now,
                            decode_get_run, view, out);
  wdr_buf_free(&body, false);
  return status;
}

static void decode_list(const char *body, size_t len, wdr_response_t *out,
                        void *extra) {
  wdr_json_parse_list_runs(body, len, out, extra);
}

int wdr_api_list_runs(const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                      const char *project_id, const char *const *workflow_ids,
                      size_t ids_num, int page, int64_t now,
                      wdr_api_result_t *out, wdr_run_list_t *list) {
  wdr_buf_t body;
  wdr_buf_init(&body, API_BODY_MAX);
  memset(list, 0, sizeof(*list));
  bool body_ok = wdr_json_list_runs_body(project_id, workflow_ids, ids_num,
                                         page, WDR_LIST_PAGE_SIZE, &body) == 0;
  int status = wdr_api_call(ep, t, WDR_ACTION_LIST_RUNS, &body, body_ok, now,
                            decode_list, list, out);
  wdr_buf_free(&body, false);
  return status;
}

static void decode_async_job(const char *body, size_t len, wdr_response_t *out,
                             void *extra) {
  wdr_json_parse_async_job(body, len, out, extra);
}

int wdr_api_get_async_job(const wdr_api_endpoint_t *ep,
                          const wdr_transport_t *t, const char *project_id,
                          const char *async_id, int64_t now,
                          wdr_api_result_t *out, wdr_async_view_t *view) {
  wdr_buf_t body;
  wdr_buf_init(&body, API_BODY_MAX);
  memset(view, 0, sizeof(*view));
  bool body_ok = wdr_json_async_job_body(project_id, async_id, &body) == 0;
  int status = wdr_api_call(ep, t, WDR_ACTION_ASYNC_JOB, &body, body_ok, now,
                            decode_async_job, view, out);
  wdr_buf_free(&body, false);
  return status;
}
