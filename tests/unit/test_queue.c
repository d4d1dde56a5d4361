/* wdr_queue: a bounded thread-safe FIFO of fixed-size items. Single-threaded
 * tests check order, bounds and stop; threaded ones check that waiters wake
 * and that nothing is lost, duplicated or reordered under contention.
 *
 * cmocka's asserts longjmp, which must not happen off the main thread: the
 * helper threads only record what they saw, and the main thread asserts. */
#include "testutil.h"

#include "wdr_queue.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

static int64_t realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Elapsed times are measured on the monotonic clock, so that a clock step
 * cannot fail (or pass) a test. */
static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* An odd size, so that a queue copying the wrong number of bytes, or
 * striding its slots wrongly, shows up in the items' contents. */
#define TAG_SIZE 5
typedef struct {
  unsigned char b[TAG_SIZE];
} tag_t;

static tag_t tag(unsigned n) {
  tag_t t;
  for (int i = 0; i < TAG_SIZE; i++)
    t.b[i] = (unsigned char)(n * 7 + (unsigned)i);
  return t;
}

static void push_tag(wdr_queue_t *q, unsigned n) {
  tag_t t = tag(n);
  assert_int_equal(wdr_queue_push(q, &t), 0);
}

static void pop_tag(wdr_queue_t *q, unsigned n) {
  tag_t want = tag(n), got;
  memset(&got, 0xAA, sizeof(got));
  assert_int_equal(wdr_queue_pop(q, &got), 0);
  assert_memory_equal(&got, &want, sizeof(want));
}

/* --- single thread ------------------------------------------------------ */

static void test_create_bad_input(void **state) {
  (void)state;
  assert_null(wdr_queue_create(0, 4));
  assert_null(wdr_queue_create(4, 0));
  assert_null(wdr_queue_create(0, 0));
  /* size * cap wraps around: a malloc of the wrapped (small) size would
   * make every push past it write out of bounds. */
  assert_null(wdr_queue_create(SIZE_MAX / 2 + 1, 2));
  assert_null(wdr_queue_create(2, SIZE_MAX / 2 + 1));
  assert_null(wdr_queue_create(SIZE_MAX, SIZE_MAX));
  assert_null(wdr_queue_create((SIZE_MAX >> 16) + 1, (size_t)1 << 16));
  wdr_queue_destroy(NULL);

  /* The smallest good queue. */
  wdr_queue_t *q = wdr_queue_create(1, 1);
  assert_non_null(q);
  assert_int_equal(wdr_queue_length(q), 0);
  assert_false(wdr_queue_stopped(q));
  wdr_queue_destroy(q);
}

static void test_fifo_wraps_around(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 4);
  assert_non_null(q);
  /* Pushing 3 and popping 2 each round moves head and tail one slot on, so
   * over 20 rounds every alignment of the ring's wrap point is crossed, with
   * the queue holding 1 to 4 items. */
  unsigned pushed = 0, popped = 0;
  for (int round = 0; round < 20; round++) {
    size_t room = 4 - wdr_queue_length(q);
    for (int i = 0; i < 3 && room > 0; i++, room--)
      push_tag(q, pushed++);
    assert_int_equal(wdr_queue_length(q), pushed - popped);
    for (int i = 0; i < 2; i++)
      pop_tag(q, popped++);
  }
  while (popped < pushed)
    pop_tag(q, popped++);
  assert_true(pushed > 40);
  assert_int_equal(wdr_queue_length(q), 0);
  wdr_queue_destroy(q);
}

static void test_full(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 3);
  assert_non_null(q);
  /* Start off slot 0, so that the full ring wraps. */
  push_tag(q, 100);
  pop_tag(q, 100);
  for (unsigned n = 1; n <= 3; n++)
    push_tag(q, n);
  assert_int_equal(wdr_queue_length(q), 3);

  tag_t extra = tag(99);
  assert_int_equal(wdr_queue_push(q, &extra), -1);
  assert_int_equal(wdr_queue_push(q, &extra), -1);
  assert_int_equal(wdr_queue_length(q), 3);
  for (unsigned n = 1; n <= 3; n++)
    pop_tag(q, n);
  assert_int_equal(wdr_queue_length(q), 0);

  /* A full queue that was popped takes pushes again. */
  push_tag(q, 4);
  pop_tag(q, 4);
  wdr_queue_destroy(q);
}

static void test_pop_empty(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 2);
  assert_non_null(q);
  tag_t got, untouched;
  memset(&got, 0x5C, sizeof(got));
  untouched = got;
  assert_int_equal(wdr_queue_pop(q, &got), -1);
  assert_memory_equal(&got, &untouched, sizeof(got));

  /* Emptied again after use. */
  push_tag(q, 1);
  pop_tag(q, 1);
  assert_int_equal(wdr_queue_pop(q, &got), -1);
  assert_memory_equal(&got, &untouched, sizeof(got));
  /* A deadline already past never sleeps, negative ones included. */
  assert_int_equal(wdr_queue_pop_wait(q, &got, realtime_ms() - 1000), -1);
  assert_int_equal(wdr_queue_pop_wait(q, &got, -1), -1);
  assert_int_equal(wdr_queue_pop_wait(q, &got, INT64_MIN), -1);
  assert_memory_equal(&got, &untouched, sizeof(got));
  assert_int_equal(wdr_queue_length(q), 0);
  wdr_queue_destroy(q);
}

static void test_pop_wait_takes_queued_item(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 2);
  assert_non_null(q);
  push_tag(q, 1);
  push_tag(q, 2);
  tag_t got, want = tag(1);
  /* Even with the deadline past, an item that is there is taken. */
  assert_int_equal(wdr_queue_pop_wait(q, &got, 0), 0);
  assert_memory_equal(&got, &want, sizeof(got));
  want = tag(2);
  assert_int_equal(wdr_queue_pop_wait(q, &got, realtime_ms() + 10000), 0);
  assert_memory_equal(&got, &want, sizeof(got));
  wdr_queue_destroy(q);
}

static void test_stop(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 4);
  assert_non_null(q);
  push_tag(q, 1);
  push_tag(q, 2);
  push_tag(q, 3);
  wdr_queue_stop(q);
  assert_true(wdr_queue_stopped(q));
  wdr_queue_stop(q);
  assert_true(wdr_queue_stopped(q));

  /* Room left, yet refused. */
  tag_t t = tag(9);
  assert_int_equal(wdr_queue_push(q, &t), -1);
  assert_int_equal(wdr_queue_length(q), 3);

  /* Draining still works, by either pop. */
  pop_tag(q, 1);
  tag_t got, want = tag(2);
  assert_int_equal(wdr_queue_pop_wait(q, &got, realtime_ms() + 10000), 0);
  assert_memory_equal(&got, &want, sizeof(got));
  pop_tag(q, 3);

  /* Stopped and empty: -1 at once, not at the deadline. */
  memset(&got, 0x33, sizeof(got));
  tag_t untouched = got;
  int64_t t0 = monotonic_ms();
  assert_int_equal(wdr_queue_pop_wait(q, &got, realtime_ms() + 10000), -1);
  assert_true(monotonic_ms() - t0 < 500);
  assert_memory_equal(&got, &untouched, sizeof(got));
  assert_int_equal(wdr_queue_pop(q, &got), -1);
  assert_int_equal(wdr_queue_push(q, &t), -1);
  assert_int_equal(wdr_queue_length(q), 0);
  wdr_queue_destroy(q);
}

static void test_pop_wait_times_out(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 2);
  assert_non_null(q);
  tag_t got;
  memset(&got, 0x11, sizeof(got));
  tag_t untouched = got;
  int64_t t0 = monotonic_ms();
  int64_t deadline = realtime_ms() + 50;
  assert_int_equal(wdr_queue_pop_wait(q, &got, deadline), -1);
  int64_t elapsed = monotonic_ms() - t0;
  /* Not before the deadline (on the clock it is set in), and not long
   * after it: the upper bound is loose for loaded machines and sanitizers. */
  assert_true(realtime_ms() >= deadline);
  assert_true(elapsed >= 40);
  assert_true(elapsed < 2000);
  assert_memory_equal(&got, &untouched, sizeof(got));
  assert_false(wdr_queue_stopped(q));
  wdr_queue_destroy(q);
}

/* --- waiters woken by another thread ------------------------------------ */

typedef struct {
  wdr_queue_t *q;
  int64_t deadline_ms;
  int rc;
  tag_t got;
  int64_t elapsed_ms;
  int finished; /* atomic: set once pop_wait has returned */
} waiter_t;

static void *waiter_main(void *arg) {
  waiter_t *w = arg;
  int64_t t0 = monotonic_ms();
  w->rc = wdr_queue_pop_wait(w->q, &w->got, w->deadline_ms);
  w->elapsed_ms = monotonic_ms() - t0;
  __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* Starts n waiters on q and gives them time to fall asleep. The sleep
 * cannot prove they did, but without it the wake-up would usually find no
 * one waiting and the test would prove even less. None may have returned:
 * there is nothing to take and the deadline is far. */
static void start_waiters(pthread_t *t, waiter_t *w, int n, wdr_queue_t *q,
                          int64_t deadline_ms) {
  for (int i = 0; i < n; i++) {
    w[i] = (waiter_t){.q = q, .deadline_ms = deadline_ms, .rc = 99};
    memset(&w[i].got, 0x77, sizeof(w[i].got));
    assert_int_equal(pthread_create(&t[i], NULL, waiter_main, &w[i]), 0);
  }
  sleep_ms(30);
  for (int i = 0; i < n; i++)
    assert_int_equal(__atomic_load_n(&w[i].finished, __ATOMIC_ACQUIRE), 0);
}

static void test_push_wakes_waiter(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 2);
  assert_non_null(q);
  pthread_t t;
  waiter_t w;
  start_waiters(&t, &w, 1, q, realtime_ms() + 3000);
  push_tag(q, 42);
  assert_int_equal(pthread_join(t, NULL), 0);
  tag_t want = tag(42);
  assert_int_equal(w.rc, 0);
  assert_memory_equal(&w.got, &want, sizeof(want));
  assert_true(w.elapsed_ms < 2000);
  assert_int_equal(wdr_queue_length(q), 0);
  wdr_queue_destroy(q);
}

static void test_stop_wakes_waiters(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 2);
  assert_non_null(q);
  /* Several waiters: stop must wake them all, not just one. One that is
   * not woken returns at its deadline, which the elapsed time catches. */
  enum { N = 3 };
  pthread_t t[N];
  waiter_t w[N];
  tag_t untouched;
  memset(&untouched, 0x77, sizeof(untouched));
  start_waiters(t, w, N, q, realtime_ms() + 3000);
  wdr_queue_stop(q);
  for (int i = 0; i < N; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(w[i].rc, -1);
    assert_memory_equal(&w[i].got, &untouched, sizeof(untouched));
    assert_true(w[i].elapsed_ms < 2000);
  }
  wdr_queue_destroy(q);
}

static void test_pushes_wake_each_waiter(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 4);
  assert_non_null(q);
  enum { N = 3 };
  pthread_t t[N];
  waiter_t w[N];
  start_waiters(t, w, N, q, realtime_ms() + 3000);
  /* Each push wakes one waiter; together they take every item once. */
  for (unsigned n = 0; n < N; n++)
    push_tag(q, n);
  bool seen[N] = {false};
  for (int i = 0; i < N; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(w[i].rc, 0);
    assert_true(w[i].elapsed_ms < 2000);
    bool known = false;
    for (unsigned n = 0; n < N; n++) {
      tag_t want = tag(n);
      if (memcmp(&w[i].got, &want, sizeof(want)) == 0) {
        assert_false(seen[n]);
        seen[n] = known = true;
      }
    }
    assert_true(known);
  }
  assert_int_equal(wdr_queue_length(q), 0);
  wdr_queue_destroy(q);
}

/* The largest deadline must mean "no deadline", not an invalid timespec
 * that returns at once. (Were push not to wake waiters, this would hang;
 * the tests above fail first.) */
static void test_pop_wait_far_deadline(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(sizeof(tag_t), 2);
  assert_non_null(q);
  pthread_t t;
  waiter_t w;
  start_waiters(&t, &w, 1, q, INT64_MAX);
  push_tag(q, 7);
  assert_int_equal(pthread_join(t, NULL), 0);
  tag_t want = tag(7);
  assert_int_equal(w.rc, 0);
  assert_memory_equal(&w.got, &want, sizeof(want));
  wdr_queue_destroy(q);
}

/* --- producers and a consumer ------------------------------------------- */

#define PRODUCERS 4
#define PER_PRODUCER 10000

typedef struct {
  uint32_t producer;
  uint32_t seq;
  uint64_t check; /* a function of the two, so a torn copy shows */
} msg_t;

static uint64_t msg_check(uint32_t producer, uint32_t seq) {
  return ((uint64_t)producer << 32 | seq) * 0x9E3779B97F4A7C15ULL;
}

typedef struct {
  wdr_queue_t *q;
  uint32_t id;
  unsigned long full; /* pushes refused, for the record */
} producer_t;

static void *producer_main(void *arg) {
  producer_t *p = arg;
  for (uint32_t seq = 0; seq < PER_PRODUCER; seq++) {
    msg_t m = {.producer = p->id, .seq = seq, .check = msg_check(p->id, seq)};
    while (wdr_queue_push(p->q, &m) != 0) {
      p->full++;
      sched_yield();
    }
  }
  return NULL;
}

static void test_producers_consumer(void **state) {
  (void)state;
  /* Small, so that producers find it full and the ring wraps many times. */
  wdr_queue_t *q = wdr_queue_create(sizeof(msg_t), 64);
  assert_non_null(q);
  pthread_t t[PRODUCERS];
  producer_t p[PRODUCERS];
  for (uint32_t i = 0; i < PRODUCERS; i++) {
    p[i] = (producer_t){.q = q, .id = i};
    assert_int_equal(pthread_create(&t[i], NULL, producer_main, &p[i]), 0);
  }

  /* Every item arrives once and each producer's in its order: seeing seq
   * exactly equal to the next expected one proves both, given the count. */
  uint32_t next[PRODUCERS] = {0};
  int64_t deadline = realtime_ms() + 10000;
  for (long n = 0; n < (long)PRODUCERS * PER_PRODUCER; n++) {
    msg_t m;
    if (wdr_queue_pop_wait(q, &m, deadline) != 0)
      fail_msg("pop_wait failed after %ld items", n);
    if (m.producer >= PRODUCERS || m.check != msg_check(m.producer, m.seq))
      fail_msg("torn item %u/%u", m.producer, m.seq);
    if (m.seq != next[m.producer])
      fail_msg("producer %u: got %u, expected %u", m.producer, m.seq,
               next[m.producer]);
    next[m.producer]++;
  }
  for (int i = 0; i < PRODUCERS; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(next[i], PER_PRODUCER);
  }
  msg_t m;
  assert_int_equal(wdr_queue_pop(q, &m), -1);
  assert_int_equal(wdr_queue_length(q), 0);
  wdr_queue_destroy(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_bad_input),
      cmocka_unit_test(test_fifo_wraps_around),
      cmocka_unit_test(test_full),
      cmocka_unit_test(test_pop_empty),
      cmocka_unit_test(test_pop_wait_takes_queued_item),
      cmocka_unit_test(test_stop),
      cmocka_unit_test(test_pop_wait_times_out),
      cmocka_unit_test(test_push_wakes_waiter),
      cmocka_unit_test(test_stop_wakes_waiters),
      cmocka_unit_test(test_pushes_wake_each_waiter),
      cmocka_unit_test(test_pop_wait_far_deadline),
      cmocka_unit_test(test_producers_consumer),
  };
  return cmocka_run_group_tests_name("wdr_queue", tests, NULL, NULL);
}
