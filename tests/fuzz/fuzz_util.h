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

/* A state loader under test: a snapshot (NUL-terminated) and one journal
 * (NULL for none). */
typedef void (*fuzz_state_load_fn)(const char *snap, size_t snap_len,
                                   const char *journal, size_t journal_len);

/* The three ways a state input is tried: as the snapshot alone, as the
 * journal of header (a small valid snapshot), and split at its first form
 * feed into a snapshot and a journal. */
static inline void fuzz_state_three_ways(const uint8_t *data, size_t size,
                                         const char *header,
                                         fuzz_state_load_fn load) {
  char *text = fuzz_text(data, size);
  if (text == NULL)
    return;
  load(text, size, NULL, 0);
  load(header, strlen(header), text, size);
  char *ff = memchr(text, '\f', size);
  if (ff != NULL) {
    *ff = '\0';
    load(text, (size_t)(ff - text), ff + 1, size - (size_t)(ff - text) - 1);
  }
  free(text);
}

#endif
