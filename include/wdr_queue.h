/* wdr_queue: a bounded FIFO of fixed-size items, shared between threads.
 *
 * Items are copied in and out by value (item_size bytes each), so the queue
 * never holds a pointer into a caller's memory; an item that itself holds
 * pointers hands their ownership over with it. The queue is bounded (cap
 * items) and a push never blocks: a producer on a collectd thread must not be
 * held up by a slow consumer, so when full it is told so (-1) and decides
 * itself whether to drop or retry.
 *
 * Threading: every function except wdr_queue_create and wdr_queue_destroy is
 * thread-safe and may be called by any number of producers and consumers at
 * once. Consumers sleep in wdr_queue_pop_wait; nothing busy-waits.
 *
 * Shutdown: wdr_queue_stop wakes every waiter and refuses later pushes; what
 * is still queued can be drained with wdr_queue_pop or wdr_queue_pop_wait.
 * Once every thread that used the queue is done (joined), the owner calls
 * wdr_queue_destroy.
 *
 * The queue pointer passed to every function but wdr_queue_destroy must not
 * be NULL, nor may item. */
#ifndef WDR_QUEUE_H
#define WDR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wdr_queue_s wdr_queue_t;

/* wdr_queue_create: an empty queue of at most cap items of item_size bytes.
 * The caller owns it and frees it with wdr_queue_destroy. Returns NULL when
 * item_size or cap is 0, when cap * item_size does not fit in a size_t, or
 * when memory (or a pthread mutex / condition variable) cannot be had. */
wdr_queue_t *wdr_queue_create(size_t item_size, size_t cap);

/* wdr_queue_destroy frees q and every item still in it (items are plain
 * bytes: nothing they point to is freed). NULL is fine. No thread may use q
 * any more, nor be blocked in it: stop it and join its users first. */
void wdr_queue_destroy(wdr_queue_t *q);

/* wdr_queue_push copies item_size bytes from item to the back of q and wakes
 * one waiter. Never blocks. Returns 0, or -1 when q is full or stopped (q is
 * then unchanged; the caller still owns whatever item refers to). */
int wdr_queue_push(wdr_queue_t *q, const void *item)
    __attribute__((warn_unused_result));

/* wdr_queue_pop copies the oldest item into item (item_size bytes) and
 * removes it. Never blocks. Returns 0, or -1 when q is empty (item is then
 * untouched). Works after wdr_queue_stop, to drain what is left. */
int wdr_queue_pop(wdr_queue_t *q, void *item);

/* wdr_queue_pop_wait is wdr_queue_pop that sleeps while q is empty. Returns
 * 0 with the oldest item copied into item as soon as there is one (even
 * after stop), or -1 with item untouched when q is stopped and empty, or
 * when deadline_ms passes first. deadline_ms is an absolute CLOCK_REALTIME
 * time in milliseconds since the epoch (a deadline in the past, negative
 * included, means: take an item if there is one, never sleep). Being
 * absolute, the deadline does not drift across wake-ups; a step of the
 * system clock moves it. */
int wdr_queue_pop_wait(wdr_queue_t *q, void *item, int64_t deadline_ms);

/* wdr_queue_stop wakes every thread in wdr_queue_pop_wait and makes every
 * later push fail; items already queued can still be popped. Idempotent and
 * irreversible. */
void wdr_queue_stop(wdr_queue_t *q);

/* wdr_queue_stopped: true once wdr_queue_stop has been called. */
bool wdr_queue_stopped(wdr_queue_t *q);

/* wdr_queue_length: the number of items queued now (by the time the caller
 * looks at it, other threads may have changed it). */
size_t wdr_queue_length(wdr_queue_t *q);

#endif
