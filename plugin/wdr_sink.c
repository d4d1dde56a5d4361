#include "wdr_sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LOG_LINE_MAX 1024

void wdr_sink_logf(const wdr_sink_t *s, wdr_log_level_t level, const char *fmt,
                   ...) {
  char line[LOG_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  s->log(s->ctx, level, line);
}

void wdr_sink_notify(const wdr_sink_t *s, wdr_note_severity_t severity,
                     const char *plugin_instance, const char *type,
                     const char *text, ...) {
  wdr_note_t n = {.severity = severity};
  wdr_text_copy(n.plugin_instance, sizeof(n.plugin_instance), plugin_instance);
  wdr_text_copy(n.type, sizeof(n.type), type);
  wdr_text_copy(n.message, sizeof(n.message), text);
  va_list ap;
  va_start(ap, text);
  for (const char *name = va_arg(ap, const char *); name != NULL;
       name = va_arg(ap, const char *)) {
    const char *value = va_arg(ap, const char *);
    if (value == NULL || value[0] == '\0' || n.meta_num == WDR_NOTE_META_MAX)
      continue;
    n.meta[n.meta_num].name = name;
    wdr_text_copy(n.meta[n.meta_num].value, sizeof(n.meta[0].value), value);
    n.meta_num++;
  }
  va_end(ap);
  /* The notification keeps what fits; the log keeps it all. */
  s->log(s->ctx, WDR_LOG_INFO, text);
  s->notify(s->ctx, &n);
}
