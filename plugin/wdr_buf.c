#include "wdr_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wdr_buf_init(wdr_buf_t *b, size_t max) { *b = (wdr_buf_t){.max = max}; }

static void buf_fail(wdr_buf_t *b) {
  wdr_buf_free(b, true);
  b->failed = true;
}

/* Make room for extra more bytes plus the terminator: exactly that much
 * (exact), or doubling so that appends cost O(1) amortised. */
static int buf_grow(wdr_buf_t *b, size_t extra, bool exact) {
  if (b->failed)
    return -1;
  if (extra > b->max || b->len > b->max - extra) {
    buf_fail(b);
    return -1;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = exact ? need : b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  if (cap > b->max + 1)
    cap = b->max + 1;
  char *p = malloc(cap);
  if (p == NULL) {
    buf_fail(b);
    return -1;
  }
  /* Copy rather than realloc so that a buffer holding secrets never leaves
   * a stale copy behind in freed memory. */
  if (b->data != NULL) {
    memcpy(p, b->data, b->len + 1);
    explicit_bzero(b->data, b->cap);
    free(b->data);
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

int wdr_buf_reserve(wdr_buf_t *b, size_t extra) {
  return buf_grow(b, extra, true);
}

int wdr_buf_append(wdr_buf_t *b, const void *p, size_t len) {
  if (buf_grow(b, len, false) != 0)
    return -1;
  if (len > 0)
    memcpy(b->data + b->len, p, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int wdr_buf_append_str(wdr_buf_t *b, const char *s) {
  return wdr_buf_append(b, s, strlen(s));
}

int wdr_buf_printf(wdr_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || buf_grow(b, (size_t)n, false) != 0) {
    if (n < 0)
      buf_fail(b);
    return -1;
  }
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

const char *wdr_buf_str(const wdr_buf_t *b) {
  return (b->data != NULL && !b->failed) ? b->data : "";
}

void wdr_buf_reset(wdr_buf_t *b) {
  if (b->data != NULL)
    b->data[0] = '\0';
  b->len = 0;
  b->failed = false;
}

void wdr_buf_free(wdr_buf_t *b, bool wipe) {
  if (b->data != NULL) {
    if (wipe)
      explicit_bzero(b->data, b->cap);
    free(b->data);
  }
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}
