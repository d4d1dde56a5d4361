/* wdr_buf: a growable byte buffer with a hard size limit.
 *
 * The contents are always NUL-terminated (the terminator is not counted in
 * len and does not count against max), so a buffer can be handed to yajl or
 * printed as a C string. Once an append would exceed max, or memory runs out,
 * the buffer is freed and stays in an error state: every later append fails,
 * so a caller may chain appends and check once. */
#ifndef WDR_BUF_H
#define WDR_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  char *data; /* NULL until the first append */
  size_t len;
  size_t cap;
  size_t max;
  bool failed;
} wdr_buf_t;

/* wdr_buf_init prepares an empty buffer that will never hold more than max
 * bytes. It cannot fail and allocates nothing. */
void wdr_buf_init(wdr_buf_t *b, size_t max);

/* wdr_buf_reserve makes room for extra more bytes in one allocation (a
 * file of known size: growing by doubling would leave a trail of freed
 * blocks). Returns 0, or -1 when that would pass max or memory ran out (the
 * buffer is then in the error state). */
int wdr_buf_reserve(wdr_buf_t *b, size_t extra)
    __attribute__((warn_unused_result));

/* wdr_buf_append copies len bytes; returns 0, or -1 when the buffer is (now)
 * in the error state. */
int wdr_buf_append(wdr_buf_t *b, const void *p, size_t len)
    __attribute__((warn_unused_result));
int wdr_buf_append_str(wdr_buf_t *b, const char *s)
    __attribute__((warn_unused_result));
int wdr_buf_printf(wdr_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));

/* wdr_buf_str returns the contents ("" when empty or failed); borrowed, valid
 * until the next append or free. */
const char *wdr_buf_str(const wdr_buf_t *b);

/* wdr_buf_reset empties the buffer but keeps its memory and clears the error
 * state. */
void wdr_buf_reset(wdr_buf_t *b);

/* wdr_buf_free releases the memory; when wipe is true the bytes are zeroed
 * first (for anything that held secrets). Safe on a freed buffer. */
void wdr_buf_free(wdr_buf_t *b, bool wipe);

#endif
