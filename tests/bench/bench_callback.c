/* Benchmark (prints figures, asserts nothing): what the notification
 * callback costs per call. It runs the callback's work outside collectd:
 * match the notification against every Workflow (wdr_signal_classify), count
 * the signal (wdr_metrics_count) and push it into the inbox
 * (wdr_inbox_push_signal); a consumer thread drains the inbox as the policy
 * thread would. Compared in the same run: 1, 10, 100 and 1000 workflows,
 * exact and regex matches, a notification that matches nothing, and one
 * that names its workflow in a WorkflowId meta (the index finds it: the
 * other workflows' rules are not evaluated). */
#include "wdr_inbox.h"
#include "wdr_metrics.h"
#include "wdr_signal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALLS 200000

typedef struct {
  size_t wf;
  char execution_id[WDR_ID_MAX];
} signal_msg_t;

static wdr_inbox_t *inbox;
static atomic_bool done;

static void *drain(void *arg) {
  (void)arg;
  signal_msg_t m;
  while (!atomic_load(&done)) {
    while (wdr_inbox_pop_signal(inbox, &m) == 0)
      ;
    wdr_inbox_wait(inbox, 0);
  }
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_workflows(wdr_workflow_cfg_t *w, size_t n, bool regex) {
  for (size_t i = 0; i < n; i++) {
    char name[64], id[64], pattern[64];
    snprintf(name, sizeof(name), "wf%zu", i);
    snprintf(id, sizeof(id), "00000000-0000-0000-0000-%012zu", i);
    snprintf(pattern, sizeof(pattern), regex ? "/^etl-%zu$/" : "etl-%zu", i);
    w[i] = (wdr_workflow_cfg_t){.name = strdup(name),
                                .workflow_id = strdup(id),
                                .matches = calloc(1, sizeof(wdr_match_t)),
                                .matches_num = 1};
    w[i].matches[0].severity = NOTIF_FAILURE;
    char err[128];
    if (wdr_pattern_set(&w[i].matches[0].field[WDR_MATCH_PLUGIN], "wedata", err,
                        sizeof(err)) != 0 ||
        wdr_pattern_set(&w[i].matches[0].field[WDR_MATCH_PLUGIN_INSTANCE],
                        pattern, err, sizeof(err)) != 0)
      abort();
  }
}

static void free_workflows(wdr_workflow_cfg_t *w, size_t n) {
  for (size_t i = 0; i < n; i++) {
    wdr_match_clear(&w[i].matches[0]);
    free(w[i].matches);
    free(w[i].name);
    free(w[i].workflow_id);
  }
}

/* The callback's body, as in wedata_rerun.c's wdr_notification_cb. */
static void callback(const wdr_workflow_cfg_t *w, const wdr_signal_index_t *x,
                     wdr_metrics_t *metrics, const notification_t *note) {
  if (wdr_signal_is_own(note))
    return;
  const size_t *c = NULL;
  size_t num = wdr_signal_candidates(x, note, &c);
  for (size_t k = 0; k < num; k++) {
    size_t i = c[k];
    signal_msg_t m = {.wf = i};
    wdr_signal_kind_t kind = wdr_signal_classify(&w[i], note, m.execution_id);
    if (kind == WDR_SIGNAL_NONE)
      continue;
    wdr_metrics_count(metrics, i, WDR_CNT_SIGNALS);
    if (kind == WDR_SIGNAL_RUN && wdr_inbox_push_signal(inbox, &m) != 0)
      wdr_metrics_count(metrics, i, WDR_CNT_DROPPED);
  }
}

/* Seconds per call: n workflows; the notification matches the last one (or
 * none); with_id: it carries that workflow's WorkflowId meta. */
static double run(size_t n, bool regex, bool matching, bool with_id) {
  wdr_workflow_cfg_t *w = calloc(n, sizeof(*w));
  make_workflows(w, n, regex);
  wdr_signal_index_t *x = wdr_signal_index_create(w, n);
  wdr_config_t cfg = {.workflows = w, .workflows_num = n};
  wdr_metrics_t *metrics = wdr_metrics_create(&cfg);
  notification_meta_t run_id = {.name = "WorkflowExecutionId",
                                .type = NM_TYPE_STRING,
                                .nm_value.nm_string =
                                    "001e2f39-a71d-4588-9a9a-9f244d32c96c"};
  notification_meta_t wf_id = {.name = "WorkflowId",
                               .type = NM_TYPE_STRING,
                               .nm_value.nm_string = w[n - 1].workflow_id,
                               .next = &run_id};
  notification_t note = {.severity = NOTIF_FAILURE,
                         .meta = with_id ? &wf_id : &run_id};
  snprintf(note.plugin, sizeof(note.plugin), "wedata");
  /* The last workflow matches: every one is looked at. */
  snprintf(note.plugin_instance, sizeof(note.plugin_instance), "etl-%zu",
           matching ? n - 1 : n + 1);
  int calls = n >= 1000 && !with_id ? CALLS / 10 : CALLS;
  double t0 = now_s();
  for (int i = 0; i < calls; i++)
    callback(w, x, metrics, &note);
  double per_call = (now_s() - t0) / calls;
  wdr_metrics_destroy(metrics);
  wdr_signal_index_destroy(x);
  free_workflows(w, n);
  free(w);
  return per_call;
}

int main(void) {
  inbox = wdr_inbox_create(sizeof(signal_msg_t), 1024, 1, 1, 1);
  pthread_t consumer;
  pthread_create(&consumer, NULL, drain, NULL);
  printf("notification callback cost, mean of %d calls (%d with 1000 "
         "workflows and no WorkflowId), ns per call\n",
         CALLS, CALLS / 10);
  printf("%-10s %-8s %14s %14s %18s\n", "workflows", "match", "matching",
         "not matching", "with WorkflowId");
  double base = 0;
  static const size_t sizes[] = {1, 10, 100, 1000};
  for (size_t s = 0; s < 4; s++)
    for (int regex = 0; regex < 2; regex++) {
      double hit = run(sizes[s], regex, true, false);
      double miss = run(sizes[s], regex, false, false);
      double named = run(sizes[s], regex, true, true);
      if (base == 0)
        base = hit;
      printf("%-10zu %-8s %14.0f %14.0f %18.0f   (x%.1f of 1 exact)\n",
             sizes[s], regex ? "regex" : "exact", hit * 1e9, miss * 1e9,
             named * 1e9, hit / base);
    }
  atomic_store(&done, true);
  wdr_inbox_stop(inbox);
  pthread_join(consumer, NULL);
  wdr_inbox_destroy(inbox);
  return 0;
}
