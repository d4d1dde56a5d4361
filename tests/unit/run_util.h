/* Shared by the unit tests that build or read runs: a run's ids are
 * wdr_cid_t and its optional texts are heap copies, so tests set them with
 * a format and read them through these. */
#ifndef WDR_RUN_UTIL_H
#define WDR_RUN_UTIL_H

#include "testutil.h"
#include "wdr_policy.h"

#include <stdio.h>

/* The text of a wdr_cid_t, in a buffer that lives to the end of the
 * enclosing block. */
#define CID(c) wdr_cid_str(&(c), (char[WDR_ID_MAX]){0})

/* Sets a run's text with a format: set_cidf(&r.last_async_id, "a-%d", i),
 * set_textf(&r.last_error, "InternalError"). */
#define RUN_SET_FMT(setter, field, ...)                                        \
  do {                                                                         \
    char run_fmt_buf_[WDR_ID_MAX + 64];                                        \
    snprintf(run_fmt_buf_, sizeof(run_fmt_buf_), __VA_ARGS__);                 \
    assert_int_equal(setter(field, run_fmt_buf_), 0);                          \
  } while (0)
#define set_cidf(c, ...) RUN_SET_FMT(wdr_cid_set, c, __VA_ARGS__)
#define set_textf(field, ...) RUN_SET_FMT(wdr_run_text_set, field, __VA_ARGS__)

#endif
