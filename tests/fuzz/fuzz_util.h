/* What every fuzz target shares: the input as the C string the plugin's
 * parsers are handed (wdr_buf keeps a NUL after its bytes). */
#ifndef WDR_FUZZ_UTIL_H
#define WDR_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A heap copy of data with a NUL after its size bytes (caller frees), or
 * NULL on no memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (text == NULL)
    return NULL;
  memcpy(text, data, size);
  text[size] = '\0';
  return text;
}

#endif
