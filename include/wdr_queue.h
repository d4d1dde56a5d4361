/* wdr_queue: the bounded hand-off between collectd's threads and ours.
 *
 * Producers (notification callbacks, on any collectd thread) never block:
 * push fails at once when the queue is full or stopped. Consumers (worker
 * threads) block in pop until a job arrives or the queue is stopped. All
 * functions are thread-safe. */
#ifndef WDR_QUEUE_H
#define WDR_QUEUE_H

#include "wdr_json.h" /* WDR_ID_MAX */

#include <stddef.h>
#include <stdint.h>

typedef struct {
  size_t workflow;               /* index into the config's workflows */
  char execution_id[WDR_ID_MAX]; /* the run to rerun */
  int64_t received;              /* Unix seconds, when the signal came */
} wdr_job_t;

typedef struct wdr_queue_s wdr_queue_t;

/* wdr_queue_create returns a queue holding at most limit jobs, or NULL. */
wdr_queue_t *wdr_queue_create(size_t limit);

/* wdr_queue_push copies job in. Returns 0, or -1 when full or stopped. */
int wdr_queue_push(wdr_queue_t *q, const wdr_job_t *job)
    __attribute__((warn_unused_result));

/* wdr_queue_pop waits for a job and copies it out. Returns 0, or -1 once the
 * queue is stopped (jobs still queued then are left for wdr_queue_length). */
int wdr_queue_pop(wdr_queue_t *q, wdr_job_t *job)
    __attribute__((warn_unused_result));

size_t wdr_queue_length(wdr_queue_t *q);

/* wdr_queue_stop wakes every waiting consumer; later pushes fail. */
void wdr_queue_stop(wdr_queue_t *q);

/* wdr_queue_destroy frees q; no thread may be using it any more. */
void wdr_queue_destroy(wdr_queue_t *q);

#endif
