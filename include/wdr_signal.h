/* wdr_signal: decides what a collectd notification means for one Workflow.
 *
 * Pure: it reads the notification_t (fields and meta list) and the workflow's
 * config, calls nothing in collectd, and so runs safely on whichever collectd
 * thread dispatched the notification. */
#ifndef WDR_SIGNAL_H
#define WDR_SIGNAL_H

#include "wdr_config.h"

#include "collectd/core/daemon/plugin.h"

typedef enum {
  WDR_SIGNAL_NONE,             /* not for this workflow */
  WDR_SIGNAL_RUN,              /* rerun the run in execution_id */
  WDR_SIGNAL_NO_EXECUTION_ID,  /* matches, but names no run */
  WDR_SIGNAL_BAD_EXECUTION_ID, /* matches, names something that is no id */
} wdr_signal_kind_t;

/* wdr_signal_is_own: true for notifications this plugin dispatched. */
bool wdr_signal_is_own(const notification_t *n);

/* wdr_signal_classify: when a <Match> block of w matches n and n's string
 * meta WorkflowId (if any) equals w's WorkflowId, says whether n names a run
 * (string meta WorkflowExecutionId) and copies it into execution_id. Meta of
 * another type is never trusted: a non-string WorkflowId means NONE, a
 * non-string WorkflowExecutionId BAD_EXECUTION_ID. */
wdr_signal_kind_t wdr_signal_classify(const wdr_workflow_cfg_t *w,
                                      const notification_t *n,
                                      char execution_id[WDR_ID_MAX]);

/* --- which workflows a notification can be for ---------------------------
 *
 * A notification whose string meta WorkflowId names a workflow can only be
 * for the <Workflow> blocks with that WorkflowId: an index finds them in
 * constant time, so the callback evaluates match rules only for them, not
 * for every configured workflow. Without a WorkflowId meta every workflow is
 * a candidate. Built once at init, then read-only: any thread may use it. */
typedef struct wdr_signal_index_s wdr_signal_index_t;

/* wdr_signal_index_create indexes workflows[0..num) (borrowed: they must
 * outlive the index). NULL on no memory. */
wdr_signal_index_t *wdr_signal_index_create(const wdr_workflow_cfg_t *workflows,
                                            size_t num);
void wdr_signal_index_destroy(wdr_signal_index_t *idx);

/* wdr_signal_candidates: the workflows n can be for, as indexes in config
 * order into *ret (borrowed from the index). A string WorkflowId meta: the
 * workflows with that id (none when no workflow has it); a WorkflowId meta
 * of another type: none (wdr_signal_classify would refuse it anyway); no
 * WorkflowId meta: all. Returns how many. */
size_t wdr_signal_candidates(const wdr_signal_index_t *idx,
                             const notification_t *n, const size_t **ret);

#endif
