#include "wdr_common.h"

#include <string.h>

/* Length of the longest prefix of s, at most max bytes, that does not end in
 * the middle of a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max) {
  if (len <= max)
    return len;
  size_t n = max;
  /* Step back over continuation bytes to the start of the cut character. */
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

static bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

void wdr_text_copy(char *dst, size_t size, const char *src) {
  if (size == 0)
    return;
  size_t n = utf8_cut(src, strlen(src), size - 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)src[i];
    dst[i] = is_control(c) ? ' ' : (char)c;
  }
  dst[n] = '\0';
}

bool wdr_text_is_clean(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p != '\0') {
    if (is_control(*p))
      return false;
    int extra = *p < 0x80             ? 0
                : (*p & 0xE0) == 0xC0 ? 1
                : (*p & 0xF0) == 0xE0 ? 2
                : (*p & 0xF8) == 0xF0 ? 3
                                      : -1;
    if (extra < 0 || (extra == 1 && *p < 0xC2))
      return false;
    p++;
    for (int i = 0; i < extra; i++, p++)
      if ((*p & 0xC0) != 0x80)
        return false;
  }
  return true;
}

bool wdr_run_id_is_safe(const char *s) {
  size_t len = strlen(s);
  if (len == 0 || len >= WDR_ID_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
          c == ':'))
      return false;
  }
  return true;
}
