/* libFuzzer target: the request bodies and their UTF-8 checks, and the text
 * helpers every field from outside goes through (wdr_text_copy,
 * wdr_text_is_clean, wdr_run_id_is_safe).
 *
 * Run ids, task ids, parameters and resource groups reach a request body
 * from notifications, listings and the config. The input is split at NUL
 * bytes into those fields; every body builder must either refuse (a
 * missing field, text that is not UTF-8) or produce one JSON object that
 * parses back with the same text in it. */
#include "fuzz_util.h"
#include "wdr_buf.h"
#include "wdr_common.h"
#include "wdr_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS 12

static void must_parse(const wdr_buf_t *out, const char *must_hold) {
  char err[128];
  yajl_val v = wdr_json_tree_parse(wdr_buf_str(out), out->len,
                                   WDR_JSON_DEPTH_MAX, err, sizeof(err));
  if (v == NULL || !YAJL_IS_OBJECT(v))
    abort(); /* we sent something that is not a JSON object */
  static const char *p_project[] = {"ProjectId", NULL};
  yajl_val project = yajl_tree_get(v, p_project, yajl_t_string);
  if (project == NULL || strcmp(YAJL_GET_STRING(project), must_hold) != 0)
    abort(); /* the text did not survive the trip */
  yajl_tree_free(v);
}

static bool has_control(const char *s) {
  for (; *s != '\0'; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return true;
  return false;
}

/* wdr_text_copy never lets a control byte through, and cuts clean text
 * (valid UTF-8: what yajl hands over) only between characters; a run id
 * taken as safe is clean text as well. */
static void check_text(const char *field) {
  char small[8], id[WDR_ID_MAX];
  wdr_text_copy(small, sizeof(small), field);
  wdr_text_copy(id, sizeof(id), field);
  if (has_control(small) || has_control(id))
    abort();
  if (wdr_text_is_clean(field) &&
      (!wdr_text_is_clean(small) || !wdr_text_is_clean(id)))
    abort();
  if (wdr_run_id_is_safe(field) &&
      (!wdr_text_is_clean(field) || strcmp(id, field) != 0))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_text(data, size);
  if (text == NULL)
    return 0;
  const char *f[FIELDS];
  size_t n = 0;
  for (const char *p = text; n < FIELDS && p <= text + size; p += strlen(p) + 1)
    f[n++] = p;
  while (n < FIELDS)
    f[n++] = "";
  for (size_t i = 0; i < FIELDS; i++)
    check_text(f[i]);

  unsigned char shape = (unsigned char)f[3][0];
  char *tasks[3] = {(char *)f[4], (char *)f[5], (char *)f[6]};
  wdr_param_t params[2] = {{(char *)f[7], (char *)f[8]},
                           {(char *)f[9], (char *)f[10]}};
  wdr_rerun_req_t req = {.project_id = f[0],
                         .workflow_id = f[1],
                         .execution_id = f[2],
                         .execute_type = shape % 2 ? 2 : 1,
                         .task_ids = tasks,
                         .task_ids_num = shape % 4,
                         .params = params,
                         .params_num = (size_t)(shape / 4 % 3),
                         .scheduling_rg = f[11][0] ? f[11] : NULL,
                         .integration_rg = f[11]};
  if (req.task_ids_num > 3)
    req.task_ids_num = 3;
  wdr_buf_t out;
  wdr_buf_init(&out, 1024 * 1024);
  if (wdr_json_rerun_body(&req, &out) == 0)
    must_parse(&out, f[0]);
  wdr_buf_reset(&out);
  if (wdr_json_get_run_body(f[0], f[2], &out) == 0)
    must_parse(&out, f[0]);
  wdr_buf_reset(&out);
  if (wdr_json_async_job_body(f[0], f[1], &out) == 0)
    must_parse(&out, f[0]);
  wdr_buf_reset(&out);
  const char *ids[2] = {f[1], f[2]};
  if (wdr_json_list_runs_body(f[0], ids, 2, 1, 100, &out) == 0)
    must_parse(&out, f[0]);
  wdr_buf_free(&out, false);
  free(text);
  return 0;
}
