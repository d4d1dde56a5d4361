#include "wdr_inbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A ring of fixed-size items; the inbox's lock guards it. */
typedef struct {
  unsigned char *items;
  size_t size;
  size_t cap;
  size_t head;
  size_t len;
} ring_t;

struct wdr_inbox_s {
  pthread_mutex_t lock;
  pthread_cond_t policy_cond; /* signals, results, stop */
  pthread_cond_t worker_cond; /* jobs, stop_jobs */
  ring_t signals;
  ring_t jobs;
  ring_t results;
  size_t busy; /* jobs taken by workers, result not pushed yet */
  bool jobs_stopped;
  bool stopped;
};

static int ring_init(ring_t *r, size_t size, size_t cap) {
  *r = (ring_t){.size = size, .cap = cap};
  return (r->items = calloc(cap, size)) != NULL ? 0 : -1;
}

static int ring_push(ring_t *r, const void *item) {
  if (r->len == r->cap)
    return -1;
  memcpy(r->items + ((r->head + r->len) % r->cap) * r->size, item, r->size);
  r->len++;
  return 0;
}

static int ring_pop(ring_t *r, void *item) {
  if (r->len == 0)
    return -1;
  memcpy(item, r->items + r->head * r->size, r->size);
  r->head = (r->head + 1) % r->cap;
  r->len--;
  return 0;
}

/* Removes the newest item (the one pushed last). */
static int ring_pop_back(ring_t *r, void *item) {
  if (r->len == 0)
    return -1;
  r->len--;
  memcpy(item, r->items + ((r->head + r->len) % r->cap) * r->size, r->size);
  return 0;
}

wdr_inbox_t *wdr_inbox_create(size_t signal_size, size_t signal_cap,
                              size_t job_size, size_t result_size,
                              size_t job_cap) {
  if (signal_cap == 0 || job_cap == 0)
    return NULL;
  wdr_inbox_t *ib = calloc(1, sizeof(*ib));
  if (ib == NULL)
    return NULL;
  if (ring_init(&ib->signals, signal_size, signal_cap) != 0 ||
      ring_init(&ib->jobs, job_size, job_cap) != 0 ||
      ring_init(&ib->results, result_size, job_cap) != 0) {
    free(ib->signals.items);
    free(ib->jobs.items);
    free(ib->results.items);
    free(ib);
    return NULL;
  }
  pthread_mutex_init(&ib->lock, NULL);
  pthread_cond_init(&ib->policy_cond, NULL);
  pthread_cond_init(&ib->worker_cond, NULL);
  return ib;
}

void wdr_inbox_destroy(wdr_inbox_t *ib) {
  if (ib == NULL)
    return;
  pthread_cond_destroy(&ib->worker_cond);
  pthread_cond_destroy(&ib->policy_cond);
  pthread_mutex_destroy(&ib->lock);
  free(ib->signals.items);
  free(ib->jobs.items);
  free(ib->results.items);
  free(ib);
}

int wdr_inbox_push_signal(wdr_inbox_t *ib, const void *signal) {
  pthread_mutex_lock(&ib->lock);
  int status = ib->stopped ? -1 : ring_push(&ib->signals, signal);
  if (status == 0)
    pthread_cond_signal(&ib->policy_cond);
  pthread_mutex_unlock(&ib->lock);
  return status;
}

int wdr_inbox_pop_signal(wdr_inbox_t *ib, void *signal) {
  pthread_mutex_lock(&ib->lock);
  int status = ring_pop(&ib->signals, signal);
  pthread_mutex_unlock(&ib->lock);
  return status;
}

int wdr_inbox_pop_result(wdr_inbox_t *ib, void *result) {
  pthread_mutex_lock(&ib->lock);
  int status = ring_pop(&ib->results, result);
  pthread_mutex_unlock(&ib->lock);
  return status;
}

static size_t job_room_nolock(const wdr_inbox_t *ib) {
  size_t used = ib->jobs.len + ib->busy + ib->results.len;
  return used < ib->jobs.cap ? ib->jobs.cap - used : 0;
}

size_t wdr_inbox_job_room(wdr_inbox_t *ib) {
  pthread_mutex_lock(&ib->lock);
  size_t room = ib->jobs_stopped ? 0 : job_room_nolock(ib);
  pthread_mutex_unlock(&ib->lock);
  return room;
}

int wdr_inbox_push_job(wdr_inbox_t *ib, const void *job) {
  int status = -1;
  pthread_mutex_lock(&ib->lock);
  if (!ib->jobs_stopped && job_room_nolock(ib) > 0 &&
      ring_push(&ib->jobs, job) == 0) {
    status = 0;
    pthread_cond_signal(&ib->worker_cond);
  }
  pthread_mutex_unlock(&ib->lock);
  return status;
}

int wdr_inbox_unpush_job(wdr_inbox_t *ib, void *job) {
  pthread_mutex_lock(&ib->lock);
  int status = ring_pop_back(&ib->jobs, job);
  pthread_mutex_unlock(&ib->lock);
  return status;
}

void wdr_inbox_wait(wdr_inbox_t *ib, int64_t deadline_ms) {
  /* A deadline before the epoch would make a negative timespec, which
   * timedwait refuses at once (EINVAL): the loop would spin. */
  if (deadline_ms < 0)
    deadline_ms = 0;
  struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                        .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
  pthread_mutex_lock(&ib->lock);
  while (!ib->stopped && ib->signals.len == 0 && ib->results.len == 0)
    if (pthread_cond_timedwait(&ib->policy_cond, &ib->lock, &ts) != 0)
      break; /* timed out (or any error: never spin) */
  pthread_mutex_unlock(&ib->lock);
}

int wdr_inbox_pop_job(wdr_inbox_t *ib, void *job) {
  int status = -1;
  pthread_mutex_lock(&ib->lock);
  while (!ib->jobs_stopped && ib->jobs.len == 0)
    pthread_cond_wait(&ib->worker_cond, &ib->lock);
  if (!ib->jobs_stopped && ring_pop(&ib->jobs, job) == 0) {
    ib->busy++;
    status = 0;
  }
  pthread_mutex_unlock(&ib->lock);
  return status;
}

void wdr_inbox_push_result(wdr_inbox_t *ib, const void *result) {
  pthread_mutex_lock(&ib->lock);
  /* Room is certain: the job's slot is still counted in busy. */
  (void)ring_push(&ib->results, result);
  if (ib->busy > 0)
    ib->busy--;
  pthread_cond_signal(&ib->policy_cond);
  pthread_mutex_unlock(&ib->lock);
}

size_t wdr_inbox_signals(wdr_inbox_t *ib) {
  pthread_mutex_lock(&ib->lock);
  size_t n = ib->signals.len;
  pthread_mutex_unlock(&ib->lock);
  return n;
}

void wdr_inbox_stop_jobs(wdr_inbox_t *ib) {
  pthread_mutex_lock(&ib->lock);
  ib->jobs_stopped = true;
  pthread_cond_broadcast(&ib->worker_cond);
  pthread_mutex_unlock(&ib->lock);
}

void wdr_inbox_stop(wdr_inbox_t *ib) {
  pthread_mutex_lock(&ib->lock);
  ib->stopped = true;
  pthread_cond_broadcast(&ib->policy_cond);
  pthread_mutex_unlock(&ib->lock);
}

bool wdr_inbox_stopped(wdr_inbox_t *ib) {
  pthread_mutex_lock(&ib->lock);
  bool stopped = ib->stopped;
  pthread_mutex_unlock(&ib->lock);
  return stopped;
}
