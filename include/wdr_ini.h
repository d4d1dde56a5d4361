/* wdr_ini: the reader of Tencent Cloud credential profile files.
 *
 * The format `tccli` and the SDKs read (Python configparser's): `[section]`
 * headers, `key = value` (or `key: value`) lines, blank lines, and whole-line
 * comments starting with `#` or `;`; spaces and tabs around names and values
 * are dropped, a CR before the LF is dropped (files written on Windows), key
 * names are compared without regard to case, section names exactly. Only the
 * section asked for is examined, so that a broken profile of someone else
 * does not stop this one; other sections' lines are only checked to be
 * lines.
 *
 * Pure: no I/O (the caller reads the file, with a bound on its size), no
 * state; thread-safe. Error messages name the line and what is wrong with
 * it, never a value: values are secrets. */
#ifndef WDR_INI_H
#define WDR_INI_H

#include <stddef.h>

#define WDR_INI_ERR_MAX 160

typedef enum {
  WDR_INI_FOUND = 0,      /* the section exists; values[i] NULL: key absent */
  WDR_INI_NO_SECTION = 1, /* no such section; every values[i] NULL */
  WDR_INI_ERROR = -1      /* err says why; every values[i] NULL */
} wdr_ini_status_t;

/* wdr_ini_get looks up keys[0..num) in section of the len bytes at text (no
 * NUL needed; a NUL byte in them is an error: not a text file). On
 * WDR_INI_FOUND, values[i] is a malloc'ed copy of the value of keys[i]
 * (possibly empty), or NULL when the section lacks it; the caller wipes and
 * frees them (values are secrets). A key given twice in the section, a
 * section given twice, a line in it that is neither a comment nor `key =
 * value`, and a `[` line without its `]` are errors; so is running out of
 * memory. */
wdr_ini_status_t wdr_ini_get(const char *text, size_t len, const char *section,
                             const char *const *keys, size_t num, char **values,
                             char err[WDR_INI_ERR_MAX]);

/* wdr_ini_free wipes and frees values[0..num) and sets them to NULL. */
void wdr_ini_free(char **values, size_t num);

#endif
