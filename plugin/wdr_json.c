#include "wdr_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

static bool is_set(const char *s) { return s != NULL && s[0] != '\0'; }

int wdr_json_gen_str(yajl_gen g, const char *s) {
  return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) ==
                 yajl_gen_status_ok
             ? 0
             : -1;
}

int wdr_json_gen_text(yajl_gen g, const char *key, const char *value) {
  return (wdr_json_gen_str(g, key) == 0 && wdr_json_gen_str(g, value) == 0)
             ? 0
             : -1;
}

int wdr_json_gen_int(yajl_gen g, const char *key, long long value) {
  return (wdr_json_gen_str(g, key) == 0 &&
          yajl_gen_integer(g, value) == yajl_gen_status_ok)
             ? 0
             : -1;
}

int wdr_json_gen_bool(yajl_gen g, const char *key, bool value) {
  return (wdr_json_gen_str(g, key) == 0 &&
          yajl_gen_bool(g, value) == yajl_gen_status_ok)
             ? 0
             : -1;
}

/* Emits the body; a failed yajl call leaves the generator in an error state
 * (yajl_gen_status is sticky for invalid UTF-8), so one check at the end of
 * each group suffices. */
static int gen_rerun(yajl_gen g, const wdr_rerun_req_t *req) {
  char type[2] = {(char)('0' + req->execute_type), '\0'};
  if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_text(g, "ProjectId", req->project_id) != 0 ||
      wdr_json_gen_text(g, "WorkflowId", req->workflow_id) != 0 ||
      wdr_json_gen_text(g, "WorkflowExecutionId", req->execution_id) != 0 ||
      wdr_json_gen_text(g, "ExecuteType", type) != 0)
    return -1;
  if (req->task_ids_num > 0) {
    if (wdr_json_gen_str(g, "TaskIds") != 0 ||
        yajl_gen_array_open(g) != yajl_gen_status_ok)
      return -1;
    for (size_t i = 0; i < req->task_ids_num; i++)
      if (wdr_json_gen_str(g, req->task_ids[i]) != 0)
        return -1;
    if (yajl_gen_array_close(g) != yajl_gen_status_ok)
      return -1;
  }
  if (req->params_num > 0) {
    if (wdr_json_gen_str(g, "AdvancedParams") != 0 ||
        yajl_gen_array_open(g) != yajl_gen_status_ok)
      return -1;
    for (size_t i = 0; i < req->params_num; i++)
      if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
          wdr_json_gen_text(g, "ParamKey", req->params[i].key) != 0 ||
          wdr_json_gen_text(g, "ParamValue", req->params[i].value) != 0 ||
          yajl_gen_map_close(g) != yajl_gen_status_ok)
        return -1;
    if (yajl_gen_array_close(g) != yajl_gen_status_ok)
      return -1;
  }
  if (is_set(req->scheduling_rg) &&
      wdr_json_gen_text(g, "SchedulingResourceGroup", req->scheduling_rg) != 0)
    return -1;
  if (is_set(req->integration_rg) &&
      wdr_json_gen_text(g, "IntegrationResourceGroup", req->integration_rg) !=
          0)
    return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

int wdr_json_generate(wdr_buf_t *out, wdr_json_fill_fn fill, const void *arg) {
  yajl_gen g = yajl_gen_alloc(NULL);
  if (g == NULL)
    return -1;
  int status = -1;
  const unsigned char *text = NULL;
  size_t text_len = 0;
  /* Refuse to send or store bytes that are not valid UTF-8. */
  yajl_gen_config(g, yajl_gen_validate_utf8, 1);
  if (fill(g, arg) == 0 &&
      yajl_gen_get_buf(g, &text, &text_len) == yajl_gen_status_ok)
    status = wdr_buf_append(out, text, text_len);
  yajl_gen_free(g);
  return status;
}

static int fill_rerun(yajl_gen g, const void *arg) { return gen_rerun(g, arg); }

int wdr_json_rerun_body(const wdr_rerun_req_t *req, wdr_buf_t *out) {
  if (!is_set(req->project_id) || !is_set(req->workflow_id) ||
      !is_set(req->execution_id) ||
      (req->execute_type != 1 && req->execute_type != 2))
    return -1;
  return wdr_json_generate(out, fill_rerun, req);
}

/* --- bounded parsing ---------------------------------------------------- */

typedef struct {
  unsigned depth;
  unsigned max;
  bool too_deep;
} depth_ctx_t;

static int depth_open(void *ctx) {
  depth_ctx_t *d = ctx;
  if (++d->depth <= d->max)
    return 1;
  d->too_deep = true;
  return 0; /* cancels the parse */
}

static int depth_close(void *ctx) {
  ((depth_ctx_t *)ctx)->depth--;
  return 1;
}

/* Only nesting matters: scalars and keys need no callback. */
static const yajl_callbacks depth_callbacks = {
    .yajl_start_map = depth_open,
    .yajl_end_map = depth_close,
    .yajl_start_array = depth_open,
    .yajl_end_array = depth_close,
};

/* Returns true when text nests at most max levels deep. A syntax error is
 * not this check's business: yajl_tree_parse reports it next, at the same
 * place, before any deeper level could be reached. */
static bool depth_ok(const char *text, size_t len, unsigned max) {
  depth_ctx_t d = {.max = max};
  yajl_handle h = yajl_alloc(&depth_callbacks, NULL, &d);
  if (h == NULL)
    return false;
  /* The same grammar as yajl_tree_parse, which allows comments. */
  yajl_config(h, yajl_allow_comments, 1);
  if (yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok)
    (void)yajl_complete_parse(h);
  yajl_free(h);
  return !d.too_deep;
}

yajl_val wdr_json_tree_parse(const char *text, size_t len, unsigned max_depth,
                             char *err, size_t err_size) {
  char why[128] = "";
  if (text == NULL || len == 0) {
    snprintf(why, sizeof(why), "empty");
  } else if (strlen(text) != len) {
    snprintf(why, sizeof(why), "contains a NUL byte");
  } else if (!depth_ok(text, len, max_depth)) {
    snprintf(why, sizeof(why), "nests deeper than %u levels", max_depth);
  } else {
    yajl_val root = yajl_tree_parse(text, why, sizeof(why));
    if (root != NULL)
      return root;
  }
  /* yajl's message spans lines and quotes the text: keep it one line. */
  wdr_text_copy(err, err_size, why);
  return NULL;
}

static void set_parse_error(wdr_response_t *out, const char *what) {
  out->ok = false;
  out->async_id[0] = '\0';
  snprintf(out->error_code, sizeof(out->error_code), "%s", WDR_ERR_PARSE_JSON);
  wdr_text_copy(out->error_message, sizeof(out->error_message), what);
}

/* Returns the string at path below v, or NULL when absent or not a string. */
static const char *get_string(yajl_val v, const char **path) {
  yajl_val s = yajl_tree_get(v, path, yajl_t_string);
  return s != NULL ? YAJL_GET_STRING(s) : NULL;
}

/* A short identifier that must fit its field whole: truncating an AsyncId or
 * an error code would make it wrong, not shorter. */
static bool copy_id(char *dst, size_t size, const char *src) {
  if (src == NULL || src[0] == '\0' || strlen(src) >= size)
    return false;
  wdr_text_copy(dst, size, src);
  return true;
}

/* Parses the API 3.0 envelope into out (RequestId; Error code and message).
 * Returns the tree when the caller should read Response.Data (no Error):
 * the caller frees it. Returns NULL when out is complete (an API error or a
 * parse error). */
static yajl_val parse_envelope(const char *body, size_t len,
                               wdr_response_t *out) {
  memset(out, 0, sizeof(*out));
  char errbuf[128] = "";
  if (body == NULL || len == 0) {
    set_parse_error(out, "empty response body");
    return NULL;
  }
  if (strlen(body) != len) {
    set_parse_error(out, "response body contains a NUL byte");
    return NULL;
  }
  yajl_val root = wdr_json_tree_parse(body, len, WDR_JSON_DEPTH_MAX, errbuf,
                                      sizeof(errbuf));
  if (root == NULL) {
    char what[256];
    snprintf(what, sizeof(what), "response is not JSON: %s", errbuf);
    set_parse_error(out, what);
    return NULL;
  }

  static const char *p_response[] = {"Response", NULL};
  static const char *p_request_id[] = {"Response", "RequestId", NULL};
  static const char *p_error[] = {"Response", "Error", NULL};
  static const char *p_code[] = {"Response", "Error", "Code", NULL};
  static const char *p_message[] = {"Response", "Error", "Message", NULL};

  if (yajl_tree_get(root, p_response, yajl_t_object) == NULL) {
    set_parse_error(out, "response has no Response object");
    goto done;
  }
  const char *request_id = get_string(root, p_request_id);
  if (request_id != NULL && strlen(request_id) < sizeof(out->request_id))
    wdr_text_copy(out->request_id, sizeof(out->request_id), request_id);

  if (yajl_tree_get(root, p_error, yajl_t_any) != NULL) {
    if (!copy_id(out->error_code, sizeof(out->error_code),
                 get_string(root, p_code))) {
      set_parse_error(out, "Response.Error has no usable Code");
      goto done;
    }
    const char *message = get_string(root, p_message);
    wdr_text_copy(out->error_message, sizeof(out->error_message),
                  message != NULL ? message : "");
    goto done;
  }
  return root;
done:
  yajl_tree_free(root);
  return NULL;
}

void wdr_json_parse_rerun(const char *body, size_t len, wdr_response_t *out) {
  static const char *p_async_id[] = {"Response", "Data", "AsyncId", NULL};
  yajl_val root = parse_envelope(body, len, out);
  if (root == NULL)
    return;
  if (!copy_id(out->async_id, sizeof(out->async_id),
               get_string(root, p_async_id)))
    set_parse_error(out, "Response.Data.AsyncId is missing or not a string");
  else
    out->ok = true;
  yajl_tree_free(root);
}

/* A body of two string fields: {"ProjectId":..,"<key>":..}. */
typedef struct {
  const char *project_id;
  const char *key;
  const char *value;
} id_body_args_t;

static int fill_id_body(yajl_gen g, const void *arg) {
  const id_body_args_t *a = arg;
  return (yajl_gen_map_open(g) == yajl_gen_status_ok &&
          wdr_json_gen_text(g, "ProjectId", a->project_id) == 0 &&
          wdr_json_gen_text(g, a->key, a->value) == 0 &&
          yajl_gen_map_close(g) == yajl_gen_status_ok)
             ? 0
             : -1;
}

static int id_body(const char *project_id, const char *key, const char *value,
                   wdr_buf_t *out) {
  if (!is_set(project_id) || !is_set(value))
    return -1;
  id_body_args_t a = {project_id, key, value};
  return wdr_json_generate(out, fill_id_body, &a);
}

int wdr_json_get_run_body(const char *project_id, const char *execution_id,
                          wdr_buf_t *out) {
  return id_body(project_id, "WorkflowExecutionId", execution_id, out);
}

int wdr_json_async_job_body(const char *project_id, const char *async_id,
                            wdr_buf_t *out) {
  return id_body(project_id, "AsyncId", async_id, out);
}

void wdr_json_parse_async_job(const char *body, size_t len, wdr_response_t *out,
                              wdr_async_view_t *view) {
  static const char *p_data[] = {"Response", "Data", NULL};
  static const char *p_status[] = {"Status", NULL};
  static const char *p_desc[] = {"ErrorDesc", NULL};
  memset(view, 0, sizeof(*view));
  yajl_val root = parse_envelope(body, len, out);
  if (root == NULL)
    return;
  yajl_val data = yajl_tree_get(root, p_data, yajl_t_object);
  if (data == NULL || !copy_id(view->status, sizeof(view->status),
                               get_string(data, p_status))) {
    set_parse_error(out, "Response.Data.Status is missing or not a string");
    goto cleanup;
  }
  /* ErrorDesc is nullable: absent, null or not a string reads as "". */
  const char *desc = get_string(data, p_desc);
  wdr_text_copy(view->error_desc, sizeof(view->error_desc),
                desc != NULL ? desc : "");
  out->ok = true;
cleanup:
  yajl_tree_free(root);
}

/* Collects the TaskIds of the task runs that did not succeed. Lenient:
 * the answer is still good for its run state when a task run is odd; a
 * task run whose state is missing counts as not succeeded, and one that
 * needs naming but has no usable TaskId marks the list unusable. Returns
 * -1 only when out of memory. */
static int collect_incomplete(yajl_val tasks, wdr_run_view_t *view) {
  static const char *p_id[] = {"TaskId", NULL};
  static const char *p_state[] = {"ExecutionState", NULL};
  size_t n = tasks != NULL ? YAJL_GET_ARRAY(tasks)->len : 0;
  if (n == 0)
    return 0;
  if (n > WDR_TASKS_MAX) {
    view->tasks_unnamed = true;
    return 0;
  }
  if ((view->incomplete = calloc(n, sizeof(char *))) == NULL)
    return -1;
  for (size_t i = 0; i < n; i++) {
    yajl_val t = YAJL_GET_ARRAY(tasks)->values[i];
    const char *id = YAJL_IS_OBJECT(t) ? get_string(t, p_id) : NULL;
    const char *state = YAJL_IS_OBJECT(t) ? get_string(t, p_state) : NULL;
    if (state != NULL && strcmp(state, "SUCCESS") == 0)
      continue;
    if (id == NULL || id[0] == '\0' || strlen(id) >= WDR_ID_MAX) {
      view->tasks_unnamed = true;
      continue;
    }
    if ((view->incomplete[view->incomplete_num] = strdup(id)) == NULL)
      return -1;
    view->incomplete_num++;
  }
  if (view->tasks_unnamed) {
    wdr_run_view_free(view);
    view->tasks_unnamed = true;
  }
  return 0;
}

void wdr_json_parse_get_run(const char *body, size_t len, wdr_response_t *out,
                            wdr_run_view_t *view) {
  static const char *p_run[] = {"Response", "Data", "TriggerWorkflowRun", NULL};
  static const char *p_tasks[] = {"Response", "Data", "TriggerTaskRuns", NULL};
  static const char *p_state[] = {"ExecutionState", NULL};
  static const char *p_rerun_times[] = {"RerunTimes", NULL};
  static const char *p_support[] = {"SupportRerun", NULL};
  memset(view, 0, sizeof(*view));
  view->rerun_times = -1;
  yajl_val root = parse_envelope(body, len, out);
  if (root == NULL)
    return;
  yajl_val run = yajl_tree_get(root, p_run, yajl_t_object);
  const char *state = run != NULL ? get_string(run, p_state) : NULL;
  if (!copy_id(view->state, sizeof(view->state), state)) {
    set_parse_error(out, "Response.Data.TriggerWorkflowRun.ExecutionState is "
                         "missing or not a string");
    goto cleanup;
  }
  yajl_val n = yajl_tree_get(run, p_rerun_times, yajl_t_number);
  if (n != NULL && YAJL_IS_INTEGER(n) && YAJL_GET_INTEGER(n) >= 0)
    view->rerun_times = YAJL_GET_INTEGER(n);
  yajl_val b = yajl_tree_get(run, p_support, yajl_t_any);
  view->support_rerun = b != NULL && YAJL_IS_TRUE(b);
  if (collect_incomplete(yajl_tree_get(root, p_tasks, yajl_t_array), view) !=
      0) {
    wdr_run_view_free(view);
    set_parse_error(out, "out of memory");
    goto cleanup;
  }
  out->ok = true;
cleanup:
  yajl_tree_free(root);
}

typedef struct {
  const char *project_id;
  const char *const *ids;
  size_t ids_num;
  int page;
  int page_size;
} list_args_t;

static int fill_list(yajl_gen g, const void *arg) {
  const list_args_t *a = arg;
  if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_text(g, "ProjectId", a->project_id) != 0 ||
      wdr_json_gen_str(g, "Filters") != 0 ||
      yajl_gen_array_open(g) != yajl_gen_status_ok ||
      yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_text(g, "Name", "WorkflowId") != 0 ||
      wdr_json_gen_str(g, "Values") != 0 ||
      yajl_gen_array_open(g) != yajl_gen_status_ok)
    return -1;
  for (size_t i = 0; i < a->ids_num; i++)
    if (wdr_json_gen_str(g, a->ids[i]) != 0)
      return -1;
  if (yajl_gen_array_close(g) != yajl_gen_status_ok ||
      yajl_gen_map_close(g) != yajl_gen_status_ok ||
      yajl_gen_array_close(g) != yajl_gen_status_ok ||
      wdr_json_gen_str(g, "OrderFields") != 0 ||
      yajl_gen_array_open(g) != yajl_gen_status_ok ||
      yajl_gen_map_open(g) != yajl_gen_status_ok ||
      wdr_json_gen_text(g, "Name", "CreateTime") != 0 ||
      wdr_json_gen_text(g, "Direction", "DESC") != 0 ||
      yajl_gen_map_close(g) != yajl_gen_status_ok ||
      yajl_gen_array_close(g) != yajl_gen_status_ok ||
      wdr_json_gen_int(g, "PageNumber", a->page) != 0 ||
      wdr_json_gen_int(g, "PageSize", a->page_size) != 0)
    return -1;
  return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -1;
}

int wdr_json_list_runs_body(const char *project_id,
                            const char *const *workflow_ids, size_t ids_num,
                            int page, int page_size, wdr_buf_t *out) {
  if (!is_set(project_id) || ids_num == 0 || page < 1 || page_size < 1)
    return -1;
  for (size_t i = 0; i < ids_num; i++)
    if (!is_set(workflow_ids[i]))
      return -1;
  list_args_t a = {project_id, workflow_ids, ids_num, page, page_size};
  return wdr_json_generate(out, fill_list, &a);
}

/* CreateTime comes as epoch milliseconds in a string ("1766578800035");
 * accept a number too. 0 when absent or not a time. */
static long long time_ms(yajl_val v) {
  if (v == NULL)
    return 0;
  if (YAJL_IS_INTEGER(v))
    return YAJL_GET_INTEGER(v) > 0 ? YAJL_GET_INTEGER(v) : 0;
  if (!YAJL_IS_STRING(v))
    return 0;
  const char *s = YAJL_GET_STRING(v);
  char *end = NULL;
  errno = 0;
  long long n = strtoll(s, &end, 10);
  return (errno == 0 && end != s && *end == '\0' && n > 0) ? n : 0;
}

void wdr_json_parse_list_runs(const char *body, size_t len, wdr_response_t *out,
                              wdr_run_list_t *list) {
  static const char *p_items[] = {"Response", "Data", "Items", NULL};
  static const char *p_pages[] = {"Response", "Data", "TotalPageNumber", NULL};
  static const char *p_exec[] = {"ExecutionId", NULL};
  static const char *p_wf[] = {"WorkflowId", NULL};
  static const char *p_state[] = {"ExecutionState", NULL};
  static const char *p_support[] = {"SupportRerun", NULL};
  static const char *p_rerun_times[] = {"RerunTimes", NULL};
  static const char *p_create[] = {"CreateTime", NULL};
  memset(list, 0, sizeof(*list));
  yajl_val root = parse_envelope(body, len, out);
  if (root == NULL)
    return;
  yajl_val items = yajl_tree_get(root, p_items, yajl_t_any);
  if (items != NULL && !YAJL_IS_ARRAY(items) && !YAJL_IS_NULL(items)) {
    set_parse_error(out, "Response.Data.Items is not an array");
    goto cleanup;
  }
  size_t n =
      items != NULL && YAJL_IS_ARRAY(items) ? YAJL_GET_ARRAY(items)->len : 0;
  if (n > WDR_LIST_ITEMS_MAX) {
    set_parse_error(out, "Response.Data.Items is longer than a page can be");
    goto cleanup;
  }
  if (n > 0 && (list->items = calloc(n, sizeof(wdr_run_brief_t))) == NULL) {
    set_parse_error(out, "out of memory");
    goto cleanup;
  }
  for (size_t i = 0; i < n; i++) {
    yajl_val it = YAJL_GET_ARRAY(items)->values[i];
    wdr_run_brief_t *b = &list->items[list->items_num];
    /* A run id a signal could not carry is not taken from a listing either
     * (wdr_run_id_is_safe): the item is skipped like one without an id. */
    const char *exec = get_string(it, p_exec);
    if (!YAJL_IS_OBJECT(it) || exec == NULL || !wdr_run_id_is_safe(exec) ||
        !copy_id(b->execution_id, sizeof(b->execution_id), exec) ||
        !copy_id(b->workflow_id, sizeof(b->workflow_id), get_string(it, p_wf)))
      continue;
    const char *state = get_string(it, p_state);
    wdr_text_copy(b->state, sizeof(b->state), state ? state : "");
    yajl_val sup = yajl_tree_get(it, p_support, yajl_t_any);
    b->support_rerun = sup != NULL && YAJL_IS_TRUE(sup);
    yajl_val rt = yajl_tree_get(it, p_rerun_times, yajl_t_number);
    b->rerun_times =
        rt != NULL && YAJL_IS_INTEGER(rt) && YAJL_GET_INTEGER(rt) >= 0
            ? YAJL_GET_INTEGER(rt)
            : -1;
    b->create_ms = time_ms(yajl_tree_get(it, p_create, yajl_t_any));
    list->items_num++;
  }
  yajl_val pages = yajl_tree_get(root, p_pages, yajl_t_number);
  list->total_pages =
      pages != NULL && YAJL_IS_INTEGER(pages) ? YAJL_GET_INTEGER(pages) : 0;
  out->ok = true;
cleanup:
  yajl_tree_free(root);
}
