/* wdr_runtime: the plugin's threads, their queues and the stop order.
 *
 *   notification callback --signals--> engine thread --jobs--> workers
 *          (any collectd thread)          ^    |                  |
 *                                         |    '--notes--> notifier thread
 *                                         '-------results---------'
 *
 * The engine thread is the engine's only user: it takes signals and results
 * in, asks the engine for due jobs and writes its state, then sleeps until
 * something arrives or the engine's next due time. Workers each own one
 * transport (an HTTP handle kept alive) and run jobs through the action
 * table. The notifier thread dispatches the plugin's own notifications,
 * which run every other plugin's notification callback (write_http posts,
 * exec forks): the engine must not wait for those.
 *
 * Threads only: the clock it reads is the wall clock (ms) that the engine's
 * times are in; everything else comes in through wdr_runtime_cfg_t. */
#ifndef WDR_RUNTIME_H
#define WDR_RUNTIME_H

#include "wdr_credstore.h"
#include "wdr_engine.h"
#include "wdr_http.h"
#include "wdr_sink.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WDR_RUNTIME_WORKERS_MAX 16
#define WDR_RUNTIME_NOTES_MAX                                                  \
  1024 /* notifications waiting for the notifier                               \
        */

typedef struct {
  const wdr_config_t *cfg; /* QueueLimit, Workers; borrowed */
  /* Log lines of the runtime itself (a full notification queue, a worker
   * that cannot start); borrowed. */
  const wdr_sink_t *log;
  /* Starts a thread named name (collectd's plugin_thread_create in the
   * plugin, pthread_create in the tests); 0 or an errno value. */
  int (*thread_create)(pthread_t *t, void *(*fn)(void *), void *arg,
                       const char *name);
  /* One worker's transport, opened on its thread (NULL: the worker stops,
   * with an ERROR) and closed there. */
  wdr_transport_t *(*transport_open)(void *ctx);
  void (*transport_close)(void *ctx, wdr_transport_t *t);
  void *transport_ctx;
  /* Dispatches one notification, on the notifier thread. */
  void (*deliver)(void *ctx, const wdr_note_t *note);
  void *deliver_ctx;
  uint32_t seed; /* for the jitter; any value */
  /* The credentials each request is signed with, copied per request
   * (borrowed; NULL: the config's own). */
  wdr_credstore_t *creds;
} wdr_runtime_cfg_t;

typedef struct wdr_runtime_s wdr_runtime_t;

/* wdr_runtime_create: the queues, no thread yet; cfg is copied (what it
 * points to is borrowed). NULL on bad input or no memory. */
wdr_runtime_t *wdr_runtime_create(const wdr_runtime_cfg_t *cfg);

/* wdr_runtime_notify queues a notification for the notifier thread; never
 * blocks: a full queue drops it with a rate-limited WARNING. Any thread;
 * usable from create on (the engine's sink points here). */
void wdr_runtime_notify(wdr_runtime_t *rt, const wdr_note_t *note);

/* wdr_runtime_start starts the notifier, the workers and the engine thread,
 * which from now on is engine's only user (engine is borrowed: it must
 * outlive wdr_runtime_stop). Returns 0, or an errno value after stopping
 * what it started. */
int wdr_runtime_start(wdr_runtime_t *rt, wdr_engine_t *engine);

/* wdr_runtime_signal hands a failure signal to the engine thread (execution
 * id "" for "no run id"); never blocks. Any thread. Returns 0, or -1 when
 * QueueLimit signals wait already or the runtime stops. */
int wdr_runtime_signal(wdr_runtime_t *rt, size_t wf, const char *execution_id);

/* wdr_runtime_queued: signals waiting plus runs waiting for a rerun (as of
 * the engine thread's last pass). Any thread. */
size_t wdr_runtime_queued(wdr_runtime_t *rt);

/* wdr_runtime_stop, in this order: workers finish the request they are in
 * (at most Timeout) and stop; the engine thread takes their last answers,
 * takes back the jobs none started, writes the state and stops; the notifier
 * dispatches what is queued and stops. Idempotent; safe after a failed
 * start. */
void wdr_runtime_stop(wdr_runtime_t *rt);

/* wdr_runtime_destroy frees rt; it must be stopped. NULL is fine. */
void wdr_runtime_destroy(wdr_runtime_t *rt);

#endif
