/* wdr_poll: finding failed runs by listing them (ListTriggerWorkflowRuns).
 *
 * Two kinds of listing share one bounded FIFO: a poll of one project's
 * workflows with `Poll true` (every PollInterval, one listing per project
 * and page, however many workflows it has), and the search for the newest
 * failed run of one workflow when a failure signal named no run. Pages are
 * followed while their runs are within PollLookback. A listing that got no
 * usable answer: a poll waits for the next PollInterval; a search is
 * retried with the shared request backoff (wdr_backoff.h) up to
 * MaxRequestRetries times.
 *
 * Pure: time and randomness are arguments; what a listing finds goes to the
 * caller's found() and its reports to the sink and the counters. One owner
 * thread (the engine's). */
#ifndef WDR_POLL_H
#define WDR_POLL_H

#include "wdr_answer.h"
#include "wdr_config.h"
#include "wdr_loglimit.h"
#include "wdr_metrics.h"
#include "wdr_sink.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WDR_POLL_LISTS_MAX 256 /* listings waiting to be sent */

/* One listing request. project_id and workflow_ids are borrowed from the
 * poll module (valid until wdr_poll_destroy): they are what its body
 * needs. */
typedef struct {
  bool resolve;   /* false: a poll of a project; true: search for wf */
  size_t project; /* poll: the project's index */
  size_t wf;      /* resolve: the workflow; poll: its first polled one */
  int page;       /* 1-based */
  int tries;      /* resolve: failed listings so far */
  int held;       /* resolve: listings in a row held back by an outage or
                     the credentials (they use no tries) */
  int64_t not_before;
  const char *project_id;
  const char *const *workflow_ids;
  size_t ids_num;
} wdr_poll_job_t;

typedef struct wdr_poll_s wdr_poll_t;

/* wdr_poll_create groups cfg's polled workflows by project. cfg, metrics
 * and sink are borrowed and must outlive the poll. Returns NULL on no
 * memory. */
wdr_poll_t *wdr_poll_create(const wdr_config_t *cfg, wdr_metrics_t *metrics,
                            const wdr_sink_t *sink);
void wdr_poll_destroy(wdr_poll_t *p);

/* wdr_poll_tick: when now_ms has reached the next poll, queues a listing of
 * every project that has none under way. Returns the time of the next
 * poll (INT64_MAX when no workflow polls). */
int64_t wdr_poll_tick(wdr_poll_t *p, int64_t now_ms);

/* wdr_poll_resolve: a failure signal for workflow wf without a run id.
 * Queues a search unless one for wf waits already (then the signal is
 * covered by it). A full queue counts skipped-no_failed_run. */
void wdr_poll_resolve(wdr_poll_t *p, size_t wf, int64_t now_ms);

/* wdr_poll_take_due: takes the oldest listing due at now_ms into job and
 * returns true; otherwise false, and lowers *next_ms to when one will be
 * due (if any waits). */
bool wdr_poll_take_due(wdr_poll_t *p, int64_t now_ms, wdr_poll_job_t *job,
                       int64_t *next_ms);

/* wdr_poll_requeue gives back a job taken by wdr_poll_take_due that was not
 * sent (no free worker, or the plugin stops). */
void wdr_poll_requeue(wdr_poll_t *p, const wdr_poll_job_t *job, int64_t now_ms);

/* A failed run that a listing found (FAILED and SupportRerun, within
 * PollLookback): the caller decides about it, as about a failure signal. */
typedef void (*wdr_poll_found_fn)(void *ctx, size_t wf,
                                  const wdr_run_brief_t *run, int64_t now_ms);

/* wdr_poll_on_answer: the listing job came back with answer (only read).
 * Reports failures (error counters, log), counts polled runs and signals,
 * hands each failed run to found() (a search: only the newest, then it
 * ends), queues the next page or a retry. */
void wdr_poll_on_answer(wdr_poll_t *p, const wdr_poll_job_t *job,
                        const wdr_answer_t *answer, int64_t now_ms,
                        uint32_t rnd, wdr_poll_found_fn found, void *ctx);

/* wdr_poll_workflows: the workflows job lists (a search: its one; a poll:
 * the project's polled ones) as indexes into *ret, borrowed from job or the
 * poll. Returns how many. */
size_t wdr_poll_workflows(const wdr_poll_t *p, const wdr_poll_job_t *job,
                          const size_t **ret);

/* wdr_poll_waiting: listings queued now (for the tests and the queue
 * gauge's neighbours). */
size_t wdr_poll_waiting(const wdr_poll_t *p);

#endif
