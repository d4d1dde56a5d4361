#include "wdr_match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wdr_pattern_set(wdr_pattern_t *p, const char *text, char *err,
                    size_t err_size) {
  size_t len = strlen(text);
  bool is_regex = len >= 2 && text[0] == '/' && text[len - 1] == '/';
  char *copy = is_regex ? strndup(text + 1, len - 2) : strdup(text);
  if (copy == NULL) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  if (is_regex) {
    int status = regcomp(&p->re, copy, REG_EXTENDED | REG_NOSUB);
    if (status != 0) {
      char why[128];
      regerror(status, &p->re, why, sizeof(why));
      snprintf(err, err_size, "%s", why);
      free(copy);
      return -1;
    }
  }
  p->text = copy;
  p->is_regex = is_regex;
  p->set = true;
  return 0;
}

static bool pattern_eval(const wdr_pattern_t *p, const char *value) {
  if (!p->set)
    return true;
  if (value == NULL)
    value = "";
  if (p->is_regex)
    return regexec(&p->re, value, 0, NULL, 0) == 0;
  return strcmp(p->text, value) == 0;
}

bool wdr_match_eval(const wdr_match_t *m, const wdr_match_input_t *in) {
  if (m->severity != in->severity)
    return false;
  for (int i = 0; i < WDR_MATCH_FIELDS; i++)
    if (!pattern_eval(&m->field[i], in->field[i]))
      return false;
  return true;
}

void wdr_match_clear(wdr_match_t *m) {
  for (int i = 0; i < WDR_MATCH_FIELDS; i++) {
    wdr_pattern_t *p = &m->field[i];
    if (p->set && p->is_regex)
      regfree(&p->re);
    free(p->text);
    *p = (wdr_pattern_t){0};
  }
}
