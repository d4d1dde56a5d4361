/* wdr_json: the WeData JSON codec, pure (yajl, no I/O).
 *
 * Builds request bodies with yajl_gen and decodes the API 3.0 response
 * envelope with yajl_tree, checking every type before reading it. Nothing a
 * server sends can make these functions read out of bounds: sizes are capped
 * and text is copied into fixed fields, truncated on a UTF-8 boundary. */
#ifndef WDR_JSON_H
#define WDR_JSON_H

#include "wdr_answer.h"
#include "wdr_buf.h"
#include "wdr_common.h"

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include <stdbool.h>
#include <stddef.h>

/* The deepest nesting of arrays and objects any JSON the plugin reads may
 * have. WeData's answers need about 6 levels and the state file 4; yajl_tree
 * builds and frees a tree recursively, so an unbounded depth would let one
 * answer overflow a thread's stack and take collectd down with it. */
#define WDR_JSON_DEPTH_MAX 32

/* wdr_json_tree_parse parses text (len bytes, text[len] == NUL) into a tree
 * that the caller frees with yajl_tree_free. The depth is checked first with
 * yajl's streaming parser, which keeps its nesting on the heap, so no tree is
 * built for a text that nests deeper than max_depth. Returns NULL on error,
 * with a one-line reason in err (control characters replaced): the depth
 * ("nests deeper than N levels"), a NUL byte, or yajl's syntax error. */
yajl_val wdr_json_tree_parse(const char *text, size_t len, unsigned max_depth,
                             char *err, size_t err_size);

typedef struct {
  char *key;
  char *value;
} wdr_param_t;

/* Everything borrowed; NULL or empty optional fields are left out. */
typedef struct {
  const char *project_id;
  const char *workflow_id;
  const char *execution_id;
  int execute_type; /* 1 or 2, sent as a string */
  char *const *task_ids;
  size_t task_ids_num;
  const wdr_param_t *params;
  size_t params_num;
  const char *scheduling_rg;
  const char *integration_rg;
} wdr_rerun_req_t;

/* wdr_json_generate runs fill on a fresh yajl generator (compact output,
 * UTF-8 validated) and appends the text to out. fill returns 0, or -1 to
 * abandon. Returns 0 or -1. The one place where generators are made. */
typedef int (*wdr_json_fill_fn)(yajl_gen g, const void *arg);
int wdr_json_generate(wdr_buf_t *out, wdr_json_fill_fn fill, const void *arg)
    __attribute__((warn_unused_result));

/* Generator helpers shared by every body and the state file: each emits
 * one string, or one "key": value member, and returns 0 or -1 (yajl's
 * status is sticky, so a caller may chain them and check once). */
int wdr_json_gen_str(yajl_gen g, const char *s);
int wdr_json_gen_text(yajl_gen g, const char *key, const char *value);
int wdr_json_gen_int(yajl_gen g, const char *key, long long value);
int wdr_json_gen_bool(yajl_gen g, const char *key, bool value);

/* wdr_json_rerun_body appends the RerunTriggerWorkflowRunAsync body to out:
 * compact JSON, keys in a fixed order (ProjectId, WorkflowId,
 * WorkflowExecutionId, ExecuteType, TaskIds, AdvancedParams,
 * SchedulingResourceGroup, IntegrationResourceGroup). Returns 0, or -1 when a
 * required field is missing, a string is not valid UTF-8, or out overflows. */
int wdr_json_rerun_body(const wdr_rerun_req_t *req, wdr_buf_t *out)
    __attribute__((warn_unused_result));

/* wdr_json_parse_rerun decodes an HTTP 200 body of len bytes (body[len] must
 * be NUL, as wdr_buf guarantees). It always fills out: ok with AsyncId and
 * RequestId; or the Response.Error code and message; or WDR_ERR_PARSE_JSON
 * with a message saying what was wrong. */
void wdr_json_parse_rerun(const char *body, size_t len, wdr_response_t *out);

/* wdr_json_get_run_body appends the GetTriggerWorkflowRun body
 * {"ProjectId":..,"WorkflowExecutionId":..} to out. Returns 0 or -1. */
int wdr_json_get_run_body(const char *project_id, const char *execution_id,
                          wdr_buf_t *out) __attribute__((warn_unused_result));

/* wdr_json_parse_get_run decodes a GetTriggerWorkflowRun answer like
 * wdr_json_parse_rerun; on success out->ok is true and view is filled from
 * Response.Data.TriggerWorkflowRun (ExecutionState is required). */
void wdr_json_parse_get_run(const char *body, size_t len, wdr_response_t *out,
                            wdr_run_view_t *view);

/* wdr_json_async_job_body appends the GetOpsAsyncJob body
 * {"ProjectId":..,"AsyncId":..} to out. Returns 0 or -1. */
int wdr_json_async_job_body(const char *project_id, const char *async_id,
                            wdr_buf_t *out) __attribute__((warn_unused_result));

/* wdr_json_parse_async_job decodes a GetOpsAsyncJob answer like
 * wdr_json_parse_rerun; on success out->ok is true and view holds
 * Response.Data's Status (required) and ErrorDesc. */
void wdr_json_parse_async_job(const char *body, size_t len, wdr_response_t *out,
                              wdr_async_view_t *view);

/* wdr_json_list_runs_body appends the ListTriggerWorkflowRuns body: the
 * project, a WorkflowId filter with the given ids, CreateTime descending,
 * page and page_size as numbers. Returns 0 or -1. */
int wdr_json_list_runs_body(const char *project_id,
                            const char *const *workflow_ids, size_t ids_num,
                            int page, int page_size, wdr_buf_t *out)
    __attribute__((warn_unused_result));

/* wdr_json_parse_list_runs decodes a ListTriggerWorkflowRuns answer like
 * wdr_json_parse_rerun; on success list holds Response.Data.Items (those
 * without ExecutionId or WorkflowId are left out). */
void wdr_json_parse_list_runs(const char *body, size_t len, wdr_response_t *out,
                              wdr_run_list_t *list);

#endif
