#include "wdr_queue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* A ring buffer; head is the oldest job. */
struct wdr_queue_s {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  wdr_job_t *jobs;
  size_t limit;
  size_t head;
  size_t len;
  bool stopped;
};

wdr_queue_t *wdr_queue_create(size_t limit) {
  if (limit == 0)
    return NULL;
  wdr_queue_t *q = calloc(1, sizeof(*q));
  if (q == NULL)
    return NULL;
  if ((q->jobs = calloc(limit, sizeof(wdr_job_t))) == NULL) {
    free(q);
    return NULL;
  }
  q->limit = limit;
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->cond, NULL);
  return q;
}

int wdr_queue_push(wdr_queue_t *q, const wdr_job_t *job) {
  int status = -1;
  pthread_mutex_lock(&q->lock);
  if (!q->stopped && q->len < q->limit) {
    q->jobs[(q->head + q->len) % q->limit] = *job;
    q->len++;
    status = 0;
    pthread_cond_signal(&q->cond);
  }
  pthread_mutex_unlock(&q->lock);
  return status;
}

int wdr_queue_pop(wdr_queue_t *q, wdr_job_t *job) {
  int status = -1;
  pthread_mutex_lock(&q->lock);
  while (!q->stopped && q->len == 0)
    pthread_cond_wait(&q->cond, &q->lock);
  if (!q->stopped) {
    *job = q->jobs[q->head];
    q->head = (q->head + 1) % q->limit;
    q->len--;
    status = 0;
  }
  pthread_mutex_unlock(&q->lock);
  return status;
}

size_t wdr_queue_length(wdr_queue_t *q) {
  pthread_mutex_lock(&q->lock);
  size_t len = q->len;
  pthread_mutex_unlock(&q->lock);
  return len;
}

void wdr_queue_stop(wdr_queue_t *q) {
  pthread_mutex_lock(&q->lock);
  q->stopped = true;
  pthread_cond_broadcast(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

void wdr_queue_destroy(wdr_queue_t *q) {
  if (q == NULL)
    return;
  pthread_cond_destroy(&q->cond);
  pthread_mutex_destroy(&q->lock);
  free(q->jobs);
  free(q);
}
