#include "wdr_ini.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
  const char *p;
  size_t len;
} span_t;

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static span_t trim(const char *p, size_t len) {
  while (len > 0 && is_blank(*p)) {
    p++;
    len--;
  }
  while (len > 0 && is_blank(p[len - 1]))
    len--;
  return (span_t){p, len};
}

static bool span_is(span_t s, const char *word) {
  return s.len == strlen(word) && memcmp(s.p, word, s.len) == 0;
}

static bool span_is_nocase(span_t s, const char *word) {
  return s.len == strlen(word) && strncasecmp(s.p, word, s.len) == 0;
}

__attribute__((format(printf, 2, 3))) static wdr_ini_status_t
fail(char err[WDR_INI_ERR_MAX], const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, WDR_INI_ERR_MAX, fmt, ap);
  va_end(ap);
  return WDR_INI_ERROR;
}

void wdr_ini_free(char **values, size_t num) {
  for (size_t i = 0; i < num; i++) {
    if (values[i] != NULL) {
      explicit_bzero(values[i], strlen(values[i]));
      free(values[i]);
    }
    values[i] = NULL;
  }
}

/* One line of the file, without its LF (and CR). Returns WDR_INI_FOUND to
 * go on, or an error. *in_section tracks whether the lines belong to the
 * section asked for; *seen whether it was met. */
static wdr_ini_status_t line(span_t raw, size_t lineno, const char *section,
                             const char *const *keys, size_t num, char **values,
                             bool *in_section, bool *seen,
                             char err[WDR_INI_ERR_MAX]) {
  span_t l = trim(raw.p, raw.len);
  if (l.len == 0 || l.p[0] == '#' || l.p[0] == ';')
    return WDR_INI_FOUND;
  if (l.p[0] == '[') {
    if (l.p[l.len - 1] != ']')
      return fail(err, "line %zu: a section header without its ']'", lineno);
    span_t name = trim(l.p + 1, l.len - 2);
    *in_section = span_is(name, section);
    if (*in_section && *seen)
      return fail(err, "line %zu: section [%s] is given twice", lineno,
                  section);
    *seen = *seen || *in_section;
    return WDR_INI_FOUND;
  }
  const char *eq = memchr(l.p, '=', l.len);
  const char *colon = memchr(l.p, ':', l.len);
  const char *sep = eq == NULL || (colon != NULL && colon < eq) ? colon : eq;
  if (!*in_section)
    return WDR_INI_FOUND; /* someone else's profile: not ours to judge */
  if (sep == NULL)
    return fail(err, "line %zu in [%s]: not 'key = value'", lineno, section);
  span_t key = trim(l.p, (size_t)(sep - l.p));
  span_t value = trim(sep + 1, l.len - (size_t)(sep - l.p) - 1);
  if (key.len == 0)
    return fail(err, "line %zu in [%s]: a value without a key", lineno,
                section);
  for (size_t i = 0; i < num; i++) {
    if (!span_is_nocase(key, keys[i]))
      continue;
    if (values[i] != NULL)
      return fail(err, "line %zu in [%s]: key %s is given twice", lineno,
                  section, keys[i]);
    if ((values[i] = strndup(value.p, value.len)) == NULL)
      return fail(err, "out of memory");
  }
  return WDR_INI_FOUND;
}

wdr_ini_status_t wdr_ini_get(const char *text, size_t len, const char *section,
                             const char *const *keys, size_t num, char **values,
                             char err[WDR_INI_ERR_MAX]) {
  err[0] = '\0';
  for (size_t i = 0; i < num; i++)
    values[i] = NULL;
  if (memchr(text, '\0', len) != NULL)
    return fail(err, "it holds a NUL byte: not a text file");
  bool in_section = false, seen = false;
  size_t lineno = 0;
  for (size_t at = 0; at < len;) {
    const char *start = text + at;
    const char *lf = memchr(start, '\n', len - at);
    size_t n = lf != NULL ? (size_t)(lf - start) : len - at;
    at += n + (lf != NULL);
    lineno++;
    if (n > 0 && start[n - 1] == '\r')
      n--;
    wdr_ini_status_t rc = line((span_t){start, n}, lineno, section, keys, num,
                               values, &in_section, &seen, err);
    if (rc != WDR_INI_FOUND) {
      wdr_ini_free(values, num);
      return rc;
    }
  }
  if (!seen) {
    wdr_ini_free(values, num);
    return WDR_INI_NO_SECTION;
  }
  return WDR_INI_FOUND;
}
