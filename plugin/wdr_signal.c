#include "wdr_signal.h"

#include <stdint.h>
#include <stdlib.h>
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
      !wdr_run_id_is_safe(meta->nm_value.nm_string))
    return WDR_SIGNAL_BAD_EXECUTION_ID;
  const char *run = meta->nm_value.nm_string;
  memcpy(execution_id, run, strlen(run) + 1);
  return WDR_SIGNAL_RUN;
}

/* --- the WorkflowId index ------------------------------------------------ */

/* One WorkflowId: its workflows are by[first .. first + num). */
typedef struct {
  const char *id;
  size_t first;
  size_t num;
} group_t;

struct wdr_signal_index_s {
  size_t num;  /* workflows */
  size_t *all; /* 0 .. num-1: every workflow, config order */
  size_t *by;  /* workflow indexes grouped by WorkflowId, config order */
  group_t *groups;
  size_t groups_num;
  /* Open addressing: group index + 1, 0 for empty; at most half full. */
  uint32_t *slots;
  size_t slots_cap;
};

static uint64_t id_hash(const char *s) {
  uint64_t h = 14695981039346656037ULL;
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
    h = (h ^ *p) * 1099511628211ULL;
  return h ^ (h >> 29);
}

/* The slot of id, or the empty slot where it would go. */
static size_t id_slot(const wdr_signal_index_t *x, const char *id) {
  size_t mask = x->slots_cap - 1;
  size_t i = (size_t)id_hash(id) & mask;
  while (x->slots[i] != 0 && strcmp(x->groups[x->slots[i] - 1].id, id) != 0)
    i = (i + 1) & mask;
  return i;
}

void wdr_signal_index_destroy(wdr_signal_index_t *x) {
  if (x == NULL)
    return;
  free(x->all);
  free(x->by);
  free(x->groups);
  free(x->slots);
  free(x);
}

wdr_signal_index_t *wdr_signal_index_create(const wdr_workflow_cfg_t *wf,
                                            size_t num) {
  wdr_signal_index_t *x = calloc(1, sizeof(*x));
  if (x == NULL)
    return NULL;
  x->num = num;
  x->slots_cap = 16;
  while (x->slots_cap < 2 * num + 2)
    x->slots_cap *= 2;
  x->all = calloc(num + 1, sizeof(*x->all));
  x->by = calloc(num + 1, sizeof(*x->by));
  x->groups = calloc(num + 1, sizeof(*x->groups));
  x->slots = calloc(x->slots_cap, sizeof(*x->slots));
  if (x->all == NULL || x->by == NULL || x->groups == NULL ||
      x->slots == NULL) {
    wdr_signal_index_destroy(x);
    return NULL;
  }
  /* First pass: one group per distinct id, counting its workflows. */
  for (size_t i = 0; i < num; i++) {
    x->all[i] = i;
    size_t s = id_slot(x, wf[i].workflow_id);
    if (x->slots[s] == 0) {
      x->groups[x->groups_num] = (group_t){.id = wf[i].workflow_id};
      x->slots[s] = (uint32_t)++x->groups_num;
    }
    x->groups[x->slots[s] - 1].num++;
  }
  size_t next = 0;
  for (size_t g = 0; g < x->groups_num; g++) {
    x->groups[g].first = next;
    next += x->groups[g].num;
    x->groups[g].num = 0;
  }
  /* Second pass, in config order: each group lists its workflows in it. */
  for (size_t i = 0; i < num; i++) {
    group_t *g = &x->groups[x->slots[id_slot(x, wf[i].workflow_id)] - 1];
    x->by[g->first + g->num++] = i;
  }
  return x;
}

size_t wdr_signal_candidates(const wdr_signal_index_t *x,
                             const notification_t *n, const size_t **ret) {
  const notification_meta_t *wid = meta_find(n, "WorkflowId");
  if (wid == NULL) {
    *ret = x->all;
    return x->num;
  }
  *ret = x->by;
  if (wid->type != NM_TYPE_STRING)
    return 0;
  uint32_t v = x->slots[id_slot(x, wid->nm_value.nm_string)];
  if (v == 0)
    return 0;
  *ret = &x->by[x->groups[v - 1].first];
  return x->groups[v - 1].num;
}
