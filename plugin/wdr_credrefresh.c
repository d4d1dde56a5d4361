#include "wdr_credrefresh.h"
#include "wdr_backoff.h"
#include "wdr_cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct wdr_credrefresh_s {
  wdr_credrefresh_cfg_t cfg;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stop;       /* guarded by lock */
  int64_t next_at; /* epoch s; the thread's own */
  int failures;
  uint32_t rnd;
};

/* Failed fetches are tried again from 1 s doubling to 60 s. */
static const wdr_backoff_t refresh_backoff = {
    .base_ms = 1000, .cap_ms = 60000, .jitter = WDR_JITTER_DOWN};

static int64_t now_s(void) { return (int64_t)time(NULL); }

static uint32_t next_rand(uint32_t *x) {
  /* xorshift32: jitter only. */
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

/* One fetch into the store; 0 or -1. */
static int fetch_once(const wdr_credrefresh_cfg_t *cfg, int failures,
                      int64_t *expires_at) {
  wdr_metadata_creds_t c;
  char err[512] = "";
  int rc = cfg->fetch(cfg->fetch_ctx, &c, err, sizeof(err));
  bool fetched = rc == 0;
  if (rc == 0 && wdr_credstore_set(cfg->store, c.secret_id, c.secret_key,
                                   c.token, c.expires_at) != 0) {
    snprintf(err, sizeof(err), "the role's credentials are too long");
    rc = -1;
  }
  if (rc == 0)
    *expires_at = c.expires_at;
  if (fetched)
    wdr_metadata_creds_free(&c);
  if (cfg->report != NULL)
    cfg->report(cfg->report_ctx, rc == 0, rc == 0 ? *expires_at : 0, err,
                rc == 0 ? 0 : failures + 1);
  return rc;
}

int wdr_credrefresh_fetch_now(const wdr_credrefresh_cfg_t *cfg,
                              int64_t *expires_at) {
  return fetch_once(cfg, 0, expires_at);
}

static void *refresh_main(void *arg) {
  wdr_credrefresh_t *r = arg;
  pthread_mutex_lock(&r->lock);
  while (!r->stop) {
    struct timespec until = {.tv_sec = (time_t)r->next_at};
    if (now_s() < r->next_at) {
      pthread_cond_timedwait(&r->wake, &r->lock, &until);
      continue; /* woken, or the time came: look again */
    }
    pthread_mutex_unlock(&r->lock);
    int64_t expires_at = 0;
    int64_t now = now_s();
    if (fetch_once(&r->cfg, r->failures, &expires_at) == 0) {
      r->failures = 0;
      r->next_at = wdr_cred_refresh_at(expires_at, now_s(), r->cfg.timeout_s);
    } else {
      r->failures++;
      int64_t wait_ms =
          wdr_backoff_ms(&refresh_backoff, r->failures, next_rand(&r->rnd));
      r->next_at = now + (wait_ms + 999) / 1000;
    }
    pthread_mutex_lock(&r->lock);
  }
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

wdr_credrefresh_t *wdr_credrefresh_start(const wdr_credrefresh_cfg_t *cfg,
                                         int64_t first_at) {
  wdr_credrefresh_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  r->cfg = *cfg;
  r->next_at = first_at;
  r->rnd = cfg->seed != 0 ? cfg->seed : 0x9e3779b9u;
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->wake, NULL);
  if (cfg->thread_create(&r->thread, refresh_main, r, "wdr#creds") != 0) {
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return NULL;
  }
  return r;
}

void wdr_credrefresh_stop(wdr_credrefresh_t *r) {
  if (r == NULL)
    return;
  pthread_mutex_lock(&r->lock);
  r->stop = true;
  pthread_cond_signal(&r->wake);
  pthread_mutex_unlock(&r->lock);
  pthread_join(r->thread, NULL);
  pthread_cond_destroy(&r->wake);
  pthread_mutex_destroy(&r->lock);
  free(r);
}
