/* wdr_inbox: the hand-offs between collectd's threads, the policy thread
 * and the workers: bounds, order, the shared job room, blocking and
 * waking, and nothing lost under concurrency. */
#include "testutil.h"

#include "wdr_inbox.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static wdr_inbox_t *g_ib;

static int teardown(void **state) {
  (void)state;
  wdr_inbox_destroy(g_ib);
  g_ib = NULL;
  return 0;
}

/* Items of three different sizes, to catch a size mix-up. */
typedef struct {
  int producer;
  int seq;
} signal_t;

typedef struct {
  int id;
  char pad[20];
} job_t;

typedef struct {
  int id;
  double value;
  char pad[40];
} result_t;

static wdr_inbox_t *create(size_t signal_cap, size_t job_cap) {
  assert_null(g_ib);
  g_ib = wdr_inbox_create(sizeof(signal_t), signal_cap, sizeof(job_t),
                          sizeof(result_t), job_cap);
  assert_non_null(g_ib);
  return g_ib;
}

static int64_t realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000,
                        .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int push_signal(int producer, int seq) {
  signal_t s = {.producer = producer, .seq = seq};
  return wdr_inbox_push_signal(g_ib, &s);
}

static int push_job(int id) {
  job_t j = {.id = id};
  memset(j.pad, id & 0xff, sizeof(j.pad));
  return wdr_inbox_push_job(g_ib, &j);
}

/* --- single thread ------------------------------------------------------ */

static void test_create_bad_input(void **state) {
  (void)state;
  assert_null(wdr_inbox_create(sizeof(signal_t), 0, sizeof(job_t),
                               sizeof(result_t), 1));
  assert_null(wdr_inbox_create(sizeof(signal_t), 1, sizeof(job_t),
                               sizeof(result_t), 0));
  wdr_inbox_destroy(NULL);
}

static void test_signals_bounded_fifo(void **state) {
  (void)state;
  create(3, 1);
  signal_t s;
  assert_int_equal(wdr_inbox_pop_signal(g_ib, &s), -1);
  assert_int_equal(wdr_inbox_signals(g_ib), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(push_signal(0, i), 0);
  assert_int_equal(push_signal(0, 3), -1); /* full */
  assert_int_equal(wdr_inbox_signals(g_ib), 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(wdr_inbox_pop_signal(g_ib, &s), 0);
    assert_int_equal(s.seq, i);
  }
  assert_int_equal(wdr_inbox_pop_signal(g_ib, &s), -1);

  /* Around the ring many times: order is kept. */
  int pushed = 100, popped = 100;
  for (int round = 0; round < 50; round++) {
    for (int k = 0; k < 1 + round % 2; k++)
      assert_int_equal(push_signal(0, pushed++), 0);
    while (wdr_inbox_signals(g_ib) > (size_t)(round % 2)) {
      assert_int_equal(wdr_inbox_pop_signal(g_ib, &s), 0);
      assert_int_equal(s.seq, popped++);
    }
  }
  while (wdr_inbox_pop_signal(g_ib, &s) == 0)
    assert_int_equal(s.seq, popped++);
  assert_int_equal(popped, pushed);
}

static void test_signals_after_stop(void **state) {
  (void)state;
  create(4, 1);
  assert_false(wdr_inbox_stopped(g_ib));
  assert_int_equal(push_signal(0, 1), 0);
  wdr_inbox_stop(g_ib);
  assert_true(wdr_inbox_stopped(g_ib));
  assert_int_equal(push_signal(0, 2), -1);
  assert_int_equal(wdr_inbox_signals(g_ib), 1);
  /* What was queued before can still be drained. */
  signal_t s;
  assert_int_equal(wdr_inbox_pop_signal(g_ib, &s), 0);
  assert_int_equal(s.seq, 1);
  assert_int_equal(wdr_inbox_pop_signal(g_ib, &s), -1);
}

/* job_cap slots, each held from push_job until its result is popped. */
static void test_job_room(void **state) {
  (void)state;
  create(1, 3);
  job_t j;
  result_t r;
  assert_int_equal(wdr_inbox_job_room(g_ib), 3);
  assert_int_equal(push_job(1), 0);
  assert_int_equal(push_job(2), 0);
  assert_int_equal(wdr_inbox_job_room(g_ib), 1);

  /* A worker takes job 1: still holds its slot. */
  assert_int_equal(wdr_inbox_pop_job(g_ib, &j), 0);
  assert_int_equal(j.id, 1);
  assert_int_equal(j.pad[19], 1);
  assert_int_equal(wdr_inbox_job_room(g_ib), 1);
  assert_int_equal(push_job(3), 0);
  assert_int_equal(wdr_inbox_job_room(g_ib), 0);
  assert_int_equal(push_job(4), -1); /* no room */

  /* Its result waits: the slot is still held. */
  result_t out = {.id = 1, .value = 2.5};
  wdr_inbox_push_result(g_ib, &out);
  assert_int_equal(wdr_inbox_job_room(g_ib), 0);
  assert_int_equal(push_job(4), -1);
  /* Popped: the slot is free. */
  assert_int_equal(wdr_inbox_pop_result(g_ib, &r), 0);
  assert_int_equal(r.id, 1);
  assert_true(r.value == 2.5);
  assert_int_equal(wdr_inbox_pop_result(g_ib, &r), -1);
  assert_int_equal(wdr_inbox_job_room(g_ib), 1);

  /* Jobs come out in order. */
  assert_int_equal(push_job(4), 0);
  for (int id = 2; id <= 4; id++) {
    assert_int_equal(wdr_inbox_pop_job(g_ib, &j), 0);
    assert_int_equal(j.id, id);
  }
  assert_int_equal(wdr_inbox_job_room(g_ib), 0); /* three being worked on */
  for (int id = 2; id <= 4; id++) {
    out.id = id;
    wdr_inbox_push_result(g_ib, &out);
  }
  for (int id = 2; id <= 4; id++) {
    assert_int_equal(wdr_inbox_pop_result(g_ib, &r), 0);
    assert_int_equal(r.id, id);
  }
  assert_int_equal(wdr_inbox_job_room(g_ib), 3);
}

static void test_unpush_job(void **state) {
  (void)state;
  create(1, 4);
  job_t j;
  assert_int_equal(wdr_inbox_unpush_job(g_ib, &j), -1);
  for (int id = 1; id <= 3; id++)
    assert_int_equal(push_job(id), 0);
  assert_int_equal(wdr_inbox_job_room(g_ib), 1);
  /* The newest comes back first, and its slot with it. */
  assert_int_equal(wdr_inbox_unpush_job(g_ib, &j), 0);
  assert_int_equal(j.id, 3);
  assert_int_equal(wdr_inbox_job_room(g_ib), 2);
  /* A job a worker has started cannot be taken back. */
  assert_int_equal(wdr_inbox_pop_job(g_ib, &j), 0);
  assert_int_equal(j.id, 1);
  assert_int_equal(wdr_inbox_unpush_job(g_ib, &j), 0);
  assert_int_equal(j.id, 2);
  assert_int_equal(wdr_inbox_unpush_job(g_ib, &j), -1);
  assert_int_equal(wdr_inbox_job_room(g_ib), 3);

  /* After stop_jobs (the plugin's shutdown) they can still be taken back,
   * but no worker gets them and none can be added. */
  assert_int_equal(push_job(5), 0);
  assert_int_equal(push_job(6), 0);
  wdr_inbox_stop_jobs(g_ib);
  assert_int_equal(wdr_inbox_job_room(g_ib), 0);
  assert_int_equal(push_job(7), -1);
  assert_int_equal(wdr_inbox_pop_job(g_ib, &j), -1);
  assert_int_equal(wdr_inbox_unpush_job(g_ib, &j), 0);
  assert_int_equal(j.id, 6);
  assert_int_equal(wdr_inbox_unpush_job(g_ib, &j), 0);
  assert_int_equal(j.id, 5);
  assert_int_equal(wdr_inbox_unpush_job(g_ib, &j), -1);
  /* Signals are not affected by stop_jobs. */
  assert_int_equal(push_signal(0, 0), 0);
  assert_false(wdr_inbox_stopped(g_ib));
}

/* --- blocking and waking ------------------------------------------------ */

typedef struct {
  job_t job;
  int rc;
  atomic_bool done;
} popper_t;

static void *pop_job_thread(void *arg) {
  popper_t *p = arg;
  p->rc = wdr_inbox_pop_job(g_ib, &p->job);
  atomic_store(&p->done, true);
  return NULL;
}

static void test_pop_job_blocks(void **state) {
  (void)state;
  create(1, 2);
  popper_t p = {.rc = 99};
  atomic_init(&p.done, false);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, pop_job_thread, &p), 0);
  sleep_ms(100);
  assert_false(atomic_load(&p.done)); /* nothing to take: it waits */
  assert_int_equal(push_job(42), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(atomic_load(&p.done));
  assert_int_equal(p.rc, 0);
  assert_int_equal(p.job.id, 42);
  assert_int_equal(p.job.pad[0], 42);
}

static void test_pop_job_stop(void **state) {
  (void)state;
  create(1, 2);
  popper_t p[3];
  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    p[i].rc = 99;
    atomic_init(&p[i].done, false);
    assert_int_equal(pthread_create(&t[i], NULL, pop_job_thread, &p[i]), 0);
  }
  sleep_ms(100);
  for (int i = 0; i < 3; i++)
    assert_false(atomic_load(&p[i].done));
  /* Every waiting worker wakes up and gets -1. */
  wdr_inbox_stop_jobs(g_ib);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(p[i].rc, -1);
  }
  /* And later calls fail at once. */
  job_t j;
  assert_int_equal(wdr_inbox_pop_job(g_ib, &j), -1);
}

typedef enum { WAKE_SIGNAL, WAKE_RESULT, WAKE_STOP } wake_t;

/* cmocka's assertions belong to the main thread: helper threads report
 * what they saw and the test checks it after the join. */
typedef struct {
  wake_t how;
  int delay_ms;
  int rc;
} waker_t;

static void *waker_thread(void *arg) {
  waker_t *w = arg;
  sleep_ms(w->delay_ms);
  if (w->how == WAKE_SIGNAL)
    w->rc = push_signal(1, 1);
  else if (w->how == WAKE_RESULT) {
    /* As a worker: take the job, hand back its result. */
    job_t j;
    w->rc = wdr_inbox_pop_job(g_ib, &j);
    result_t r = {.id = j.id};
    if (w->rc == 0)
      wdr_inbox_push_result(g_ib, &r);
  } else {
    wdr_inbox_stop(g_ib);
    w->rc = 0;
  }
  return NULL;
}

/* wdr_inbox_wait with a deadline 10 s away returns soon after the waker
 * acts, not at the deadline. */
static void wait_woken(wake_t how) {
  waker_t w = {.how = how, .delay_ms = 100, .rc = 99};
  pthread_t t;
  int64_t start = monotonic_ms();
  assert_int_equal(pthread_create(&t, NULL, waker_thread, &w), 0);
  wdr_inbox_wait(g_ib, realtime_ms() + 10000);
  int64_t took = monotonic_ms() - start;
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(w.rc, 0);
  if (took < 90 || took > 5000)
    fail_msg("wdr_inbox_wait returned after %lld ms", (long long)took);
}

static void test_wait_wakes_on_signal(void **state) {
  (void)state;
  create(4, 1);
  wait_woken(WAKE_SIGNAL);
  assert_int_equal(wdr_inbox_signals(g_ib), 1);
}

static void test_wait_wakes_on_result(void **state) {
  (void)state;
  create(4, 1);
  assert_int_equal(push_job(5), 0);
  wait_woken(WAKE_RESULT);
  result_t r;
  assert_int_equal(wdr_inbox_pop_result(g_ib, &r), 0);
  assert_int_equal(r.id, 5);
}

static void test_wait_wakes_on_stop(void **state) {
  (void)state;
  create(4, 1);
  wait_woken(WAKE_STOP);
  assert_true(wdr_inbox_stopped(g_ib));
  /* Stopped: it returns at once from now on. */
  int64_t start = monotonic_ms();
  wdr_inbox_wait(g_ib, realtime_ms() + 10000);
  assert_true(monotonic_ms() - start < 1000);
}

static void test_wait_deadline(void **state) {
  (void)state;
  create(4, 1);
  int64_t start = monotonic_ms();
  wdr_inbox_wait(g_ib, realtime_ms() + 150);
  int64_t took = monotonic_ms() - start;
  if (took < 140 || took > 5000)
    fail_msg("a 150 ms wait took %lld ms", (long long)took);

  /* A deadline already past, or a signal already there: no wait. */
  start = monotonic_ms();
  wdr_inbox_wait(g_ib, realtime_ms() - 1000);
  wdr_inbox_wait(g_ib, 0);
  assert_true(monotonic_ms() - start < 1000);
  assert_int_equal(push_signal(0, 0), 0);
  start = monotonic_ms();
  wdr_inbox_wait(g_ib, realtime_ms() + 10000);
  assert_true(monotonic_ms() - start < 1000);
}

/* A queued job does not wake the policy thread: only signals, results and
 * stop do. */
static void test_wait_not_woken_by_jobs(void **state) {
  (void)state;
  create(4, 2);
  assert_int_equal(push_job(1), 0);
  int64_t start = monotonic_ms();
  wdr_inbox_wait(g_ib, realtime_ms() + 150);
  assert_true(monotonic_ms() - start >= 140);
}

/* --- concurrency -------------------------------------------------------- */

#define PRODUCERS 4
#define PER_PRODUCER 20000

static void *producer_thread(void *arg) {
  int producer = (int)(intptr_t)arg;
  for (int seq = 0; seq < PER_PRODUCER;) {
    if (push_signal(producer, seq) == 0)
      seq++;
    else
      sched_yield(); /* full: let the consumer catch up */
  }
  return NULL;
}

static void test_concurrent_signals(void **state) {
  (void)state;
  create(16, 1);
  pthread_t t[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++)
    assert_int_equal(
        pthread_create(&t[i], NULL, producer_thread, (void *)(intptr_t)i), 0);
  int next[PRODUCERS] = {0};
  int total = 0;
  while (total < PRODUCERS * PER_PRODUCER) {
    signal_t s;
    if (wdr_inbox_pop_signal(g_ib, &s) != 0) {
      wdr_inbox_wait(g_ib, realtime_ms() + 100);
      continue;
    }
    assert_true(s.producer >= 0 && s.producer < PRODUCERS);
    /* Each producer's signals arrive whole and in order. */
    assert_int_equal(s.seq, next[s.producer]);
    next[s.producer]++;
    total++;
  }
  for (int i = 0; i < PRODUCERS; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(next[i], PER_PRODUCER);
  }
  assert_int_equal(wdr_inbox_signals(g_ib), 0);
}

#define WORKERS 4
#define JOBS 20000

static atomic_int g_worked;

static void *worker_thread(void *arg) {
  (void)arg;
  job_t j;
  while (wdr_inbox_pop_job(g_ib, &j) == 0) {
    result_t r = {.id = j.id, .value = j.id * 0.5};
    memset(r.pad, j.pad[0], sizeof(r.pad));
    atomic_fetch_add(&g_worked, 1);
    wdr_inbox_push_result(g_ib, &r);
  }
  return NULL;
}

/* The policy thread's loop: push jobs while there is room, drain results,
 * wait. Every job's result comes back exactly once, and the room never
 * goes above job_cap. */
static void test_concurrent_jobs(void **state) {
  (void)state;
  create(1, 3);
  atomic_store(&g_worked, 0);
  pthread_t t[WORKERS];
  for (int i = 0; i < WORKERS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, worker_thread, NULL), 0);
  unsigned char *seen = calloc(JOBS, 1);
  assert_non_null(seen);
  int pushed = 0, results = 0;
  while (results < JOBS) {
    size_t room = wdr_inbox_job_room(g_ib);
    assert_true(room <= 3);
    while (pushed < JOBS && wdr_inbox_job_room(g_ib) > 0)
      assert_int_equal(push_job(pushed++), 0);
    result_t r;
    bool any = false;
    while (wdr_inbox_pop_result(g_ib, &r) == 0) {
      any = true;
      assert_true(r.id >= 0 && r.id < JOBS);
      assert_int_equal(seen[r.id], 0);
      assert_true(r.value == r.id * 0.5);
      assert_int_equal(r.pad[39], (char)(r.id & 0xff));
      seen[r.id] = 1;
      results++;
    }
    if (!any)
      wdr_inbox_wait(g_ib, realtime_ms() + 100);
  }
  wdr_inbox_stop_jobs(g_ib);
  for (int i = 0; i < WORKERS; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  assert_int_equal(atomic_load(&g_worked), JOBS);
  for (int i = 0; i < JOBS; i++)
    assert_int_equal(seen[i], 1);
  free(seen);
  job_t j;
  assert_int_equal(wdr_inbox_unpush_job(g_ib, &j), -1);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_create_bad_input),     T(test_signals_bounded_fifo),
      T(test_signals_after_stop),   T(test_job_room),
      T(test_unpush_job),           T(test_pop_job_blocks),
      T(test_pop_job_stop),         T(test_wait_wakes_on_signal),
      T(test_wait_wakes_on_result), T(test_wait_wakes_on_stop),
      T(test_wait_deadline),        T(test_wait_not_woken_by_jobs),
      T(test_concurrent_signals),   T(test_concurrent_jobs),
  };
  return cmocka_run_group_tests_name("wdr_inbox", tests, NULL, NULL);
}
