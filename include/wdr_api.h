/* wdr_api: WeData API 3.0 calls: JSON body + TC3 signature + transport.
 *
 * Pure apart from the transport it is handed: the caller passes the current
 * time, so every call is signed afresh and tests can pin the clock. */
#ifndef WDR_API_H
#define WDR_API_H

#include "wdr_answer.h"
#include "wdr_http.h"
#include "wdr_json.h"

#include <stdint.h>

#define WDR_API_VERSION "2025-08-06"
#define WDR_API_SERVICE "wedata"
#define WDR_API_CONTENT_TYPE "application/json"
#define WDR_ACTION_RERUN "RerunTriggerWorkflowRunAsync"
#define WDR_ACTION_GET_RUN "GetTriggerWorkflowRun"
#define WDR_ACTION_LIST_RUNS "ListTriggerWorkflowRuns"
#define WDR_ACTION_ASYNC_JOB "GetOpsAsyncJob"

/* Where and as whom to call; all borrowed. */
typedef struct {
  const char *url;    /* scheme://host[:port]/ */
  const char *host;   /* Host header value, signed */
  const char *region; /* X-TC-Region */
  const char *secret_id;
  const char *secret_key;
  const char *session_token; /* X-TC-Token, or NULL */
  const char *language;      /* X-TC-Language, or NULL */
} wdr_api_endpoint_t;

/* Decodes an HTTP 200 body of len bytes (body[len] is NUL) into out, and
 * the action's own part into extra. */
typedef void (*wdr_api_decode_fn)(const char *body, size_t len,
                                  wdr_response_t *out, void *extra);

/* wdr_api_call signs body (built by the caller; body_ok false when that
 * failed) for action at time now, posts it through t and, for an HTTP 200
 * answer, decodes it with decode. It always fills out: transport failures,
 * non-200 answers and unreadable bodies become ClientError.* codes. Returns
 * 0, or -1 when no request was sent because none could be built or the
 * transport could not even try (then out says why, as a ClientError code).
 * The one path every action takes; the wrappers below and wdr_action's
 * table use it. */
int wdr_api_call(const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                 const char *action, const wdr_buf_t *body, bool body_ok,
                 int64_t now, wdr_api_decode_fn decode, void *extra,
                 wdr_api_result_t *out) __attribute__((warn_unused_result));

/* wdr_api_rerun sends RerunTriggerWorkflowRunAsync for req, signed at time
 * now, and always fills out: transport failures, non-200 answers and
 * unreadable bodies become ClientError.* codes. Returns 0, or -1 when no
 * request was sent because none could be built or the transport could not
 * even try (then out says why, as a ClientError code). */
int wdr_api_rerun(const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                  const wdr_rerun_req_t *req, int64_t now,
                  wdr_api_result_t *out) __attribute__((warn_unused_result));

/* wdr_api_get_run reads a workflow run (GetTriggerWorkflowRun) into view,
 * filling out as wdr_api_rerun does. */
int wdr_api_get_run(const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                    const char *project_id, const char *execution_id,
                    int64_t now, wdr_api_result_t *out, wdr_run_view_t *view)
    __attribute__((warn_unused_result));

/* wdr_api_list_runs lists the runs of workflow_ids in project_id, newest
 * first, one page of WDR_LIST_PAGE_SIZE (ListTriggerWorkflowRuns). list is
 * filled on success; the caller frees it with wdr_run_list_free. */
int wdr_api_list_runs(const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                      const char *project_id, const char *const *workflow_ids,
                      size_t ids_num, int page, int64_t now,
                      wdr_api_result_t *out, wdr_run_list_t *list)
    __attribute__((warn_unused_result));

/* wdr_api_get_async_job reads an async job (GetOpsAsyncJob) into view,
 * filling out as wdr_api_rerun does. */
int wdr_api_get_async_job(const wdr_api_endpoint_t *ep,
                          const wdr_transport_t *t, const char *project_id,
                          const char *async_id, int64_t now,
                          wdr_api_result_t *out, wdr_async_view_t *view)
    __attribute__((warn_unused_result));

#endif
