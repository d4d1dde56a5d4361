/* wdr_api: WeData API 3.0 calls: JSON body + TC3 signature + transport.
 *
 * Pure apart from the transport it is handed: the caller passes the current
 * time, so every call is signed afresh and tests can pin the clock. */
#ifndef WDR_API_H
#define WDR_API_H

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

typedef struct {
  wdr_response_t response; /* ok, AsyncId or error code/message, RequestId */
  long http_status;        /* 0 when no HTTP answer came */
  bool request_sent;       /* false: provably never reached the server */
  double seconds;          /* time the HTTP exchange took */
} wdr_api_result_t;

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

/* What a result means for the caller's next step. */
typedef enum {
  WDR_CLASS_OK,        /* the action did what was asked */
  WDR_CLASS_RETRYABLE, /* refused, or provably never sent: may retry */
  WDR_CLASS_RESIGN,    /* AuthFailure.SignatureExpire: sign afresh, once */
  WDR_CLASS_PERMANENT, /* retrying will not help */
  WDR_CLASS_AMBIGUOUS, /* sent, no usable answer: the server may have acted */
} wdr_api_class_t;

/* wdr_api_classify: retryable codes are RequestLimitExceeded*,
 * InternalError*, ServiceUnavailable, ResourceUnavailable*, ResourceInUse*,
 * InvalidParameter.ServiceIsBusy and HTTP statuses below 500; ambiguous are
 * a transport failure after sending, HTTP 5xx and an unreadable answer;
 * unknown codes are permanent. */
wdr_api_class_t wdr_api_classify(const wdr_api_result_t *res);

#endif
