/* wdr_answer: what came back for a job, decoded, and what it means.
 *
 * The decoded forms of every API answer the plugin reads (filled by
 * wdr_json's decoders through wdr_api), one wdr_answer_t per job, and the
 * classification of an answer into "done", "may retry", "may have acted"...
 * Pure: no I/O, no yajl; answers are owned by whoever holds them and are
 * freed with wdr_answer_free. */
#ifndef WDR_ANSWER_H
#define WDR_ANSWER_H

#include "wdr_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  bool ok;                         /* an AsyncId came back */
  char async_id[WDR_ID_MAX];       /* "" unless ok */
  char request_id[WDR_ID_MAX];     /* "" when the server sent none */
  char error_code[WDR_ID_MAX];     /* "" when ok */
  char error_message[WDR_MSG_MAX]; /* control characters replaced by ' ' */
} wdr_response_t;

/* The parts of a workflow run (GetTriggerWorkflowRun) the policy reads. */
typedef struct {
  char state[WDR_ID_MAX]; /* ExecutionState, e.g. "FAILED", "RUNNING" */
  long long rerun_times;  /* RerunTimes; -1 when absent */
  bool support_rerun;     /* SupportRerun; false when absent */
  /* TaskIds of the task runs (Data.TriggerTaskRuns) not in state SUCCESS,
   * in the order given; owned: free with wdr_run_view_free. */
  char **incomplete;
  size_t incomplete_num;
  /* A task run not in SUCCESS had no usable TaskId, or there were more
   * than WDR_TASKS_MAX: incomplete is then empty and cannot be trusted. */
  bool tasks_unnamed;
} wdr_run_view_t;

#define WDR_TASKS_MAX 2000 /* task runs read from one workflow run */

/* wdr_run_view_free frees the task list and leaves it empty. */
void wdr_run_view_free(wdr_run_view_t *view);

/* The parts of an async job (GetOpsAsyncJob) the plugin reads. */
typedef struct {
  char status[WDR_ID_MAX];      /* Status: INIT, RUNNING, SUCCESS, FAIL, ... */
  char error_desc[WDR_MSG_MAX]; /* ErrorDesc; "" when null or absent */
} wdr_async_view_t;

/* One run of a ListTriggerWorkflowRuns page. */
typedef struct {
  char execution_id[WDR_ID_MAX];
  char workflow_id[WDR_ID_MAX];
  char state[WDR_ID_MAX];
  bool support_rerun;
  long long rerun_times; /* -1 when absent */
  long long create_ms;   /* CreateTime, epoch ms; 0 when absent */
} wdr_run_brief_t;

typedef struct {
  wdr_run_brief_t *items; /* owned: free with wdr_run_list_free */
  size_t items_num;
  long long total_pages; /* TotalPageNumber; 0 when absent */
} wdr_run_list_t;

#define WDR_LIST_PAGE_SIZE 100
#define WDR_LIST_ITEMS_MAX 1000 /* items read from one page */

void wdr_run_list_free(wdr_run_list_t *list);

/* How one request went, whatever the action. */
typedef struct {
  wdr_response_t response; /* ok, AsyncId or error code/message, RequestId */
  long http_status;        /* 0 when no HTTP answer came */
  bool request_sent;       /* false: provably never reached the server */
  double seconds;          /* time the HTTP exchange took */
  int64_t server_time;     /* the answer's Date header, epoch s; 0: none */
} wdr_api_result_t;

/* Everything that came back for one job: res always; view for VERIFY, CHECK
 * and FOLLOW, async for ASYNC, runs for LIST (the others stay empty). rc is
 * -1 when no request left at all (nothing to decide about the server). The
 * holder owns view and runs. */
typedef struct {
  int rc;
  wdr_api_result_t res;
  wdr_run_view_t view;
  wdr_async_view_t async;
  wdr_run_list_t runs;
} wdr_answer_t;

/* wdr_answer_init empties a (rerun_times -1); wdr_answer_free frees the
 * lists a owns (view.incomplete, runs.items) and empties them, leaving the
 * rest as it was (both are safe to repeat). */
void wdr_answer_init(wdr_answer_t *a);
void wdr_answer_free(wdr_answer_t *a);

/* What a result means for the next step. */
typedef enum {
  WDR_CLASS_OK,          /* the action did what was asked */
  WDR_CLASS_RETRYABLE,   /* refused before acting, or provably never sent:
                            may be resent without reading the run */
  WDR_CLASS_RESIGN,      /* AuthFailure.SignatureExpire: sign afresh */
  WDR_CLASS_PERMANENT,   /* retrying will not help */
  WDR_CLASS_AMBIGUOUS,   /* the server may have acted: read before resending */
  WDR_CLASS_CREDENTIALS, /* refused for the credentials (AuthFailure.*
                            but SignatureExpire, UnauthorizedOperation*):
                            nothing was done, and nothing will be until
                            the credentials are fixed */
} wdr_api_class_t;

/* wdr_answer_classify: only a refusal proves that nothing was done:
 * RequestLimitExceeded*, InvalidParameter.ServiceIsBusy, HTTP statuses
 * below 500 without an answer, and a transport failure before anything
 * was sent are RETRYABLE. InternalError*, ServiceUnavailable*,
 * ResourceUnavailable*, ResourceInUse*, HTTP 5xx, a transport failure
 * after sending and an unreadable answer are AMBIGUOUS (a gateway may
 * answer an error after WeData has acted). Unknown codes are PERMANENT. */
wdr_api_class_t wdr_answer_classify(const wdr_api_result_t *res);

/* wdr_answer_is_throttle: the server refused the request for the quota
 * (RequestLimitExceeded and its subcodes, such as UinLimitExceeded): it did
 * nothing, and the answer says "slow down", not "the run failed". */
bool wdr_answer_is_throttle(const wdr_api_result_t *res);

/* wdr_answer_is_outage: the answer says the service (or the way to it) is
 * in trouble, not that anything is wrong with the request: a transport
 * failure, HTTP 5xx, an unreadable answer, InternalError*,
 * ServiceUnavailable*, ResourceUnavailable*, InvalidParameter.ServiceIsBusy.
 * Outages count toward the breaker and never use up a run's retries. */
bool wdr_answer_is_outage(const wdr_api_result_t *res);

/* wdr_answer_holds_sender: the answer is about the sender, not the request
 * (an outage, refused credentials, a clock off): nothing in the request
 * was at fault, so it is made again later without using a retry. */
bool wdr_answer_holds_sender(const wdr_api_result_t *res);

/* wdr_answer_code_is_credentials: code (may be NULL) refuses the
 * credentials, not the request: AuthFailure.* but SignatureExpire (the
 * clock), UnauthorizedOperation*. */
bool wdr_answer_code_is_credentials(const char *code);

#endif
