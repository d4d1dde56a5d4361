#include "wdr_queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A ring of cap slots of item_size bytes. head is the oldest item's slot,
 * tail the slot the next push fills; len tells full (cap) from empty (0),
 * which head == tail alone cannot. lock guards everything below it;
 * nonempty_or_stopped is signalled on push and broadcast on stop, and only
 * consumers in pop_wait ever wait on it (producers never block). */
struct wdr_queue_s {
  size_t item_size;
  size_t cap;
  pthread_mutex_t lock;
  pthread_cond_t nonempty_or_stopped;
  unsigned char *items;
  size_t head;
  size_t tail;
  size_t len;
  bool stopped;
};

/* Index arithmetic by comparison rather than modulo: head + 1 cannot
 * overflow (head < cap), and there is no division on the hot path. */
static size_t next_slot(const wdr_queue_t *q, size_t slot) {
  return slot + 1 == q->cap ? 0 : slot + 1;
}

/* Both ring helpers need q->lock held. */
static void ring_put(wdr_queue_t *q, const void *item) {
  memcpy(q->items + q->tail * q->item_size, item, q->item_size);
  q->tail = next_slot(q, q->tail);
  q->len++;
}

static void ring_take(wdr_queue_t *q, void *item) {
  memcpy(item, q->items + q->head * q->item_size, q->item_size);
  q->head = next_slot(q, q->head);
  q->len--;
}

/* The absolute timespec pthread_cond_timedwait wants. A negative deadline
 * becomes the epoch (already past: a timespec with negative fields would be
 * EINVAL, not a timeout), and one beyond what time_t holds (32-bit time_t)
 * becomes the largest time_t, i.e. no practical deadline. */
static struct timespec deadline_timespec(int64_t deadline_ms) {
  if (deadline_ms < 0)
    deadline_ms = 0;
  int64_t sec = deadline_ms / 1000;
  long nsec = (long)(deadline_ms % 1000) * 1000000L;
  const int64_t time_max =
      sizeof(time_t) >= sizeof(int64_t) ? INT64_MAX : (int64_t)INT32_MAX;
  if (sec > time_max) {
    sec = time_max;
    nsec = 999999999L;
  }
  return (struct timespec){.tv_sec = (time_t)sec, .tv_nsec = nsec};
}

wdr_queue_t *wdr_queue_create(size_t item_size, size_t cap) {
  if (item_size == 0 || cap == 0 || cap > SIZE_MAX / item_size)
    return NULL;
  wdr_queue_t *q = calloc(1, sizeof(*q));
  if (q == NULL)
    return NULL;
  q->item_size = item_size;
  q->cap = cap;
  q->items = malloc(cap * item_size);
  if (q->items == NULL)
    goto fail_items;
  /* The default condition clock is CLOCK_REALTIME, which is what
   * deadline_ms is measured in. */
  if (pthread_mutex_init(&q->lock, NULL) != 0)
    goto fail_lock;
  if (pthread_cond_init(&q->nonempty_or_stopped, NULL) != 0)
    goto fail_cond;
  return q;

fail_cond:
  pthread_mutex_destroy(&q->lock);
fail_lock:
  free(q->items);
fail_items:
  free(q);
  return NULL;
}

void wdr_queue_destroy(wdr_queue_t *q) {
  if (q == NULL)
    return;
  pthread_cond_destroy(&q->nonempty_or_stopped);
  pthread_mutex_destroy(&q->lock);
  free(q->items);
  free(q);
}

int wdr_queue_push(wdr_queue_t *q, const void *item) {
  int status = -1;
  pthread_mutex_lock(&q->lock);
  if (!q->stopped && q->len < q->cap) {
    ring_put(q, item);
    /* One item can satisfy one consumer: waking them all would only send
     * the rest back to sleep. */
    pthread_cond_signal(&q->nonempty_or_stopped);
    status = 0;
  }
  pthread_mutex_unlock(&q->lock);
  return status;
}

int wdr_queue_pop(wdr_queue_t *q, void *item) {
  int status = -1;
  pthread_mutex_lock(&q->lock);
  if (q->len > 0) {
    ring_take(q, item);
    status = 0;
  }
  pthread_mutex_unlock(&q->lock);
  return status;
}

int wdr_queue_pop_wait(wdr_queue_t *q, void *item, int64_t deadline_ms) {
  const struct timespec ts = deadline_timespec(deadline_ms);
  int status = -1;
  pthread_mutex_lock(&q->lock);
  /* Wake-ups may be spurious, or another consumer may have taken the item
   * first: only the predicate, re-checked under the lock, says whether to
   * go on sleeping. Any error from the wait (ETIMEDOUT, or EINVAL that
   * deadline_timespec should rule out) ends the sleep rather than turning
   * it into a spin. */
  while (q->len == 0 && !q->stopped) {
    int err = pthread_cond_timedwait(&q->nonempty_or_stopped, &q->lock, &ts);
    if (err != 0)
      break;
  }
  /* An item that arrived just as the deadline passed is still taken: the
   * caller would otherwise have to pop again to find it. */
  if (q->len > 0) {
    ring_take(q, item);
    status = 0;
  }
  pthread_mutex_unlock(&q->lock);
  return status;
}

void wdr_queue_stop(wdr_queue_t *q) {
  pthread_mutex_lock(&q->lock);
  q->stopped = true;
  /* Every waiter must see the stop, not just one. */
  pthread_cond_broadcast(&q->nonempty_or_stopped);
  pthread_mutex_unlock(&q->lock);
}

bool wdr_queue_stopped(wdr_queue_t *q) {
  pthread_mutex_lock(&q->lock);
  bool stopped = q->stopped;
  pthread_mutex_unlock(&q->lock);
  return stopped;
}

size_t wdr_queue_length(wdr_queue_t *q) {
  pthread_mutex_lock(&q->lock);
  size_t len = q->len;
  pthread_mutex_unlock(&q->lock);
  return len;
}
