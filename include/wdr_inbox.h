/* wdr_inbox: the hand-offs between the plugin's threads.
 *
 *   collectd threads --signals--> policy thread --jobs--> workers
 *                                       ^----------results------'
 *
 * Signals: bounded (QueueLimit); a push never blocks and fails when full.
 * Jobs and results share one budget of job_cap slots: a slot is taken when
 * the policy pushes a job and given back when it pops the job's result, so
 * a worker's result always has room. The policy thread sleeps in
 * wdr_inbox_wait until a signal or result arrives or its timer runs out.
 * Items are copied in and out (fixed sizes). All functions are thread-safe. */
#ifndef WDR_INBOX_H
#define WDR_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wdr_inbox_s wdr_inbox_t;

wdr_inbox_t *wdr_inbox_create(size_t signal_size, size_t signal_cap,
                              size_t job_size, size_t result_size,
                              size_t job_cap);
void wdr_inbox_destroy(wdr_inbox_t *ib);

/* Producers (collectd threads). Returns 0, or -1 when full or stopped. */
int wdr_inbox_push_signal(wdr_inbox_t *ib, const void *signal)
    __attribute__((warn_unused_result));

/* Policy thread. pop_* return 0 with an item, -1 when there is none. */
int wdr_inbox_pop_signal(wdr_inbox_t *ib, void *signal);
int wdr_inbox_pop_result(wdr_inbox_t *ib, void *result);
/* Free job slots (job_cap minus jobs queued, being worked on, or whose
 * result waits). */
size_t wdr_inbox_job_room(wdr_inbox_t *ib);
/* Returns 0, or -1 when there is no room or jobs are stopped. */
int wdr_inbox_push_job(wdr_inbox_t *ib, const void *job)
    __attribute__((warn_unused_result));
/* Takes back a job no worker has started (at shutdown); 0 or -1. */
int wdr_inbox_unpush_job(wdr_inbox_t *ib, void *job);
/* Sleeps until a signal or result is there, wdr_inbox_stop, or
 * deadline_ms (CLOCK_REALTIME milliseconds) passes. */
void wdr_inbox_wait(wdr_inbox_t *ib, int64_t deadline_ms);

/* Workers. pop_job blocks; returns -1 once jobs are stopped. */
int wdr_inbox_pop_job(wdr_inbox_t *ib, void *job);
void wdr_inbox_push_result(wdr_inbox_t *ib, const void *result);

size_t wdr_inbox_signals(wdr_inbox_t *ib);

/* Shutdown, in this order: stop_jobs (workers finish their current job,
 * then pop_job fails), join the workers, stop (wakes the policy thread,
 * signal pushes fail), join the policy thread. */
void wdr_inbox_stop_jobs(wdr_inbox_t *ib);
void wdr_inbox_stop(wdr_inbox_t *ib);
bool wdr_inbox_stopped(wdr_inbox_t *ib);

#endif
