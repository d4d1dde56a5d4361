/* libFuzzer target: every API answer decoder over the same bytes.
 *
 * An answer is whatever a server (or a gateway, or an attacker on the
 * path) sends with HTTP 200: each decoder must fill its outputs with a
 * verdict, never crash, never read past the body, never leak. */
#include "fuzz_util.h"
#include "wdr_answer.h"
#include "wdr_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The decoders are handed bodies that are NUL-terminated (wdr_buf). */
  char *body = fuzz_text(data, size);
  if (body == NULL)
    return 0;

  wdr_answer_t a;
  wdr_answer_init(&a);
  wdr_json_parse_rerun(body, size, &a.res.response);
  wdr_answer_free(&a);

  wdr_answer_init(&a);
  wdr_json_parse_get_run(body, size, &a.res.response, &a.view);
  wdr_answer_free(&a);

  wdr_answer_init(&a);
  wdr_json_parse_async_job(body, size, &a.res.response, &a.async);
  wdr_answer_free(&a);

  wdr_answer_init(&a);
  wdr_json_parse_list_runs(body, size, &a.res.response, &a.runs);
  /* The verdict is always a decision the engine can act on. */
  (void)wdr_answer_classify(&a.res);
  wdr_answer_free(&a);

  free(body);
  return 0;
}
