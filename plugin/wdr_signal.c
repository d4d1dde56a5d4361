#include "wdr_signal.h"

#include <string.h>

bool wdr_signal_is_own(const notification_t *n) {
  return strcmp(n->plugin, WDR_PLUGIN_NAME) == 0;
}

/* Returns the first meta called name, or NULL. */
static const notification_meta_t *meta_find(const notification_t *n,
                                            const char *name) {
  for (const notification_meta_t *m = n->meta; m != NULL; m = m->next)
    if (strcmp(m->name, name) == 0)
      return m;
  return NULL;
}

/* Run ids are UUID-like; anything else (spaces, quotes, control bytes, very
 * long text) is refused before it reaches a request, a log or a metric. */
static bool execution_id_ok(const char *s) {
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

wdr_signal_kind_t wdr_signal_classify(const wdr_workflow_cfg_t *w,
                                      const notification_t *n,
                                      char execution_id[WDR_ID_MAX]) {
  wdr_match_input_t in = {
      .severity = n->severity,
      .field = {[WDR_MATCH_HOST] = n->host,
                [WDR_MATCH_PLUGIN] = n->plugin,
                [WDR_MATCH_PLUGIN_INSTANCE] = n->plugin_instance,
                [WDR_MATCH_TYPE] = n->type,
                [WDR_MATCH_TYPE_INSTANCE] = n->type_instance},
  };
  bool matched = false;
  for (size_t i = 0; i < w->matches_num && !matched; i++)
    matched = wdr_match_eval(&w->matches[i], &in);
  if (!matched)
    return WDR_SIGNAL_NONE;

  /* A WorkflowId meta that is not a string cannot be compared: it may name
   * another workflow, so it is not taken as ours. */
  const notification_meta_t *wid = meta_find(n, "WorkflowId");
  if (wid != NULL && (wid->type != NM_TYPE_STRING ||
                      strcmp(wid->nm_value.nm_string, w->workflow_id) != 0))
    return WDR_SIGNAL_NONE;

  const notification_meta_t *meta = meta_find(n, "WorkflowExecutionId");
  if (meta == NULL)
    return WDR_SIGNAL_NO_EXECUTION_ID;
  if (meta->type != NM_TYPE_STRING ||
      !execution_id_ok(meta->nm_value.nm_string))
    return WDR_SIGNAL_BAD_EXECUTION_ID;
  const char *run = meta->nm_value.nm_string;
  memcpy(execution_id, run, strlen(run) + 1);
  return WDR_SIGNAL_RUN;
}
