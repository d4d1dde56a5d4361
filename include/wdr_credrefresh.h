/* wdr_credrefresh: the thread that keeps temporary credentials fresh (the
 * CVM role), off the request path.
 *
 * It fetches (through cfg.fetch: the network) at start, then before each
 * set expires (wdr_cred_refresh_at), puts what it got into the store, and
 * after a failed fetch tries again after the one capped, jittered backoff
 * (1 s doubling to 60 s) while the set it has stays in use; a set that
 * expires meanwhile is no longer used (wdr_cred_usable), which holds the
 * requests back until a fetch succeeds. Each outcome is reported through
 * cfg.report on the refresher's thread.
 *
 * Thread contract: start and stop from one thread (collectd's init and
 * shutdown); stop wakes the thread, waits for the fetch in progress (at
 * most its timeout) and joins it. The store and what cfg points to are
 * borrowed and must outlive stop. */
#ifndef WDR_CREDREFRESH_H
#define WDR_CREDREFRESH_H

#include "wdr_credstore.h"
#include "wdr_metadata.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  wdr_credstore_t *store;
  /* Fetches a set now: 0 with out filled (freed by the refresher), or -1
   * with err. */
  int (*fetch)(void *ctx, wdr_metadata_creds_t *out, char *err,
               size_t err_size);
  void *fetch_ctx;
  /* One fetch's outcome: ok with the new set's expiry, or the error and the
   * failures in a row. */
  void (*report)(void *ctx, bool ok, int64_t expires_at, const char *err,
                 int failures);
  void *report_ctx;
  double timeout_s; /* a request's Timeout, for the schedule */
  int (*thread_create)(pthread_t *t, void *(*fn)(void *), void *arg,
                       const char *name);
  uint32_t seed; /* for the backoff's jitter */
} wdr_credrefresh_cfg_t;

typedef struct wdr_credrefresh_s wdr_credrefresh_t;

/* wdr_credrefresh_fetch_now: one fetch on the caller's thread (init: the
 * first set before any request), with its report. Returns 0 or -1. */
int wdr_credrefresh_fetch_now(const wdr_credrefresh_cfg_t *cfg,
                              int64_t *expires_at);

/* wdr_credrefresh_start: the thread, first fetching at first_at (epoch s).
 * NULL when it cannot start (no memory, no thread). */
wdr_credrefresh_t *wdr_credrefresh_start(const wdr_credrefresh_cfg_t *cfg,
                                         int64_t first_at);

/* wdr_credrefresh_stop: see the thread contract; NULL is fine. */
void wdr_credrefresh_stop(wdr_credrefresh_t *r);

#endif
