/* Shared by test_match and test_signal: both build wdr_match_t values that
 * own compiled regexes, and a failed assertion must not leak them. */
#ifndef WDR_MATCH_UTIL_H
#define WDR_MATCH_UTIL_H

#include "testutil.h"

#include "wdr_match.h"

/* The matches under test; the teardown clears them. */
#define MATCHES_MAX 3
static wdr_match_t g_matches[MATCHES_MAX];

static inline int teardown(void **state) {
  (void)state;
  for (int i = 0; i < MATCHES_MAX; i++)
    wdr_match_clear(&g_matches[i]);
  return 0;
}

static inline void set_pattern(wdr_match_t *m, enum wdr_match_field f,
                               const char *text) {
  char err[128] = "";
  if (wdr_pattern_set(&m->field[f], text, err, sizeof(err)) != 0)
    fail_msg("pattern \"%s\": %s", text, err);
}

#endif
