/* wdr_match: which collectd notifications mean "this workflow failed".
 *
 * A <Match> block holds a severity and up to five field patterns; a pattern
 * is exact text, or a POSIX extended regex written between slashes
 * ("/^etl-.*$/"). Fields not given match anything. Pure: no collectd calls,
 * so the tests build notification_t values by hand. */
#ifndef WDR_MATCH_H
#define WDR_MATCH_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
  bool set;
  bool is_regex;
  char *text; /* the exact text, or the regex source without slashes */
  regex_t re; /* compiled when is_regex */
} wdr_pattern_t;

enum wdr_match_field {
  WDR_MATCH_HOST,
  WDR_MATCH_PLUGIN,
  WDR_MATCH_PLUGIN_INSTANCE,
  WDR_MATCH_TYPE,
  WDR_MATCH_TYPE_INSTANCE,
  WDR_MATCH_FIELDS
};

typedef struct {
  int severity; /* NOTIF_FAILURE, NOTIF_WARNING or NOTIF_OKAY */
  wdr_pattern_t field[WDR_MATCH_FIELDS];
} wdr_match_t;

/* The notification fields a match looks at; borrowed strings. */
typedef struct {
  int severity;
  const char *field[WDR_MATCH_FIELDS];
} wdr_match_input_t;

/* wdr_pattern_set compiles text into p (which must be unset). On a bad regex
 * returns -1 and writes regerror's text into err. */
int wdr_pattern_set(wdr_pattern_t *p, const char *text, char *err,
                    size_t err_size) __attribute__((warn_unused_result));

/* wdr_match_eval: true when the severity and every set pattern match. */
bool wdr_match_eval(const wdr_match_t *m, const wdr_match_input_t *in);

/* wdr_match_clear frees the patterns; m may then be reused. */
void wdr_match_clear(wdr_match_t *m);

#endif
