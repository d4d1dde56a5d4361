/* libFuzzer target: the credential profile reader (wdr_ini).
 *
 * The first byte picks the section asked for (a profile file names it, or
 * an option Profile does), the rest is the file. Whatever the bytes: a
 * found section gives values that are trimmed single lines, anything else
 * gives no value at all, and an error says why in a line of its own. */
#include "fuzz_util.h"
#include "wdr_ini.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char *const keys[] = {"secret_id", "secret_key", "token"};
#define KEYS 3

/* A CR may stay inside a value (only a CR right before the LF is a line
 * ending); an LF may not. */
static bool one_trimmed_line(const char *v) {
  size_t n = strlen(v);
  if (strchr(v, '\n') != NULL)
    return false;
  return n == 0 ||
         (v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' ' && v[n - 1] != '\t');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const sections[] = {"default", "ops", "", "a b"};
  if (size == 0)
    return 0;
  const char *section = sections[data[0] % 4];
  char *values[KEYS];
  char err[WDR_INI_ERR_MAX];
  wdr_ini_status_t rc = wdr_ini_get((const char *)data + 1, size - 1, section,
                                    keys, KEYS, values, err);
  for (int i = 0; i < KEYS; i++) {
    if (rc != WDR_INI_FOUND && values[i] != NULL)
      abort(); /* nothing may come out of a file that was refused */
    if (values[i] != NULL && !one_trimmed_line(values[i]))
      abort();
  }
  if (rc == WDR_INI_ERROR && (err[0] == '\0' || strchr(err, '\n') != NULL))
    abort();
  wdr_ini_free(values, KEYS);
  for (int i = 0; i < KEYS; i++)
    if (values[i] != NULL)
      abort();
  return 0;
}
