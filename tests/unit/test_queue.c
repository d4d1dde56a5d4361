/* The bounded queue: order, bound, stop, and producers racing consumers. */
#include "testutil.h"

#include "wdr_queue.h"

#include <pthread.h>

static wdr_job_t job(size_t wf, const char *id) {
  wdr_job_t j = {.workflow = wf, .received = 42};
  snprintf(j.execution_id, sizeof(j.execution_id), "%s", id);
  return j;
}

static void test_fifo_and_bound(void **state) {
  (void)state;
  assert_null(wdr_queue_create(0));
  wdr_queue_t *q = wdr_queue_create(3);
  assert_non_null(q);
  for (int round = 0; round < 3; round++) { /* wraps around the ring */
    wdr_job_t a = job(0, "a"), b = job(1, "b"), c = job(2, "c"),
              d = job(3, "d"), out;
    assert_int_equal(wdr_queue_push(q, &a), 0);
    assert_int_equal(wdr_queue_push(q, &b), 0);
    assert_int_equal(wdr_queue_push(q, &c), 0);
    assert_int_equal(wdr_queue_push(q, &d), -1); /* full: refused at once */
    assert_int_equal(wdr_queue_length(q), 3);
    assert_int_equal(wdr_queue_pop(q, &out), 0);
    assert_string_equal(out.execution_id, "a");
    assert_int_equal(out.workflow, 0);
    assert_int_equal(out.received, 42);
    assert_int_equal(wdr_queue_pop(q, &out), 0);
    assert_string_equal(out.execution_id, "b");
    assert_int_equal(wdr_queue_pop(q, &out), 0);
    assert_string_equal(out.execution_id, "c");
    assert_int_equal(wdr_queue_length(q), 0);
  }
  wdr_queue_destroy(q);
}

static void *pop_until_stopped(void *arg) {
  wdr_queue_t *q = arg;
  wdr_job_t out;
  long popped = 0;
  while (wdr_queue_pop(q, &out) == 0)
    popped++;
  return (void *)popped;
}

static void test_stop_wakes_consumers(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(4);
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&t[i], NULL, pop_until_stopped, q), 0);
  wdr_queue_stop(q);
  for (int i = 0; i < 2; i++) {
    void *popped = NULL;
    pthread_join(t[i], &popped);
    assert_int_equal((long)popped, 0);
  }
  wdr_job_t j = job(0, "late");
  assert_int_equal(wdr_queue_push(q, &j), -1);
  wdr_queue_destroy(q);
}

#define PRODUCERS 4
#define PER_PRODUCER 5000

static void *produce(void *arg) {
  wdr_queue_t *q = arg;
  long refused = 0;
  for (int i = 0; i < PER_PRODUCER; i++) {
    wdr_job_t j = job((size_t)i, "x");
    if (wdr_queue_push(q, &j) != 0)
      refused++;
  }
  return (void *)refused;
}

/* Every push is either taken by a consumer or refused (counted as dropped
 * by the plugin): nothing is lost or duplicated. */
static void test_concurrent_accounting(void **state) {
  (void)state;
  wdr_queue_t *q = wdr_queue_create(64);
  pthread_t consumers[2], producers[PRODUCERS];
  for (int i = 0; i < 2; i++)
    pthread_create(&consumers[i], NULL, pop_until_stopped, q);
  for (int i = 0; i < PRODUCERS; i++)
    pthread_create(&producers[i], NULL, produce, q);
  long refused = 0;
  for (int i = 0; i < PRODUCERS; i++) {
    void *r = NULL;
    pthread_join(producers[i], &r);
    refused += (long)r;
  }
  /* Let the consumers drain what is left before stopping them. */
  while (wdr_queue_length(q) > 0)
    sched_yield();
  wdr_queue_stop(q);
  long popped = 0;
  for (int i = 0; i < 2; i++) {
    void *p = NULL;
    pthread_join(consumers[i], &p);
    popped += (long)p;
  }
  assert_int_equal(popped + refused, PRODUCERS * PER_PRODUCER);
  wdr_queue_destroy(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fifo_and_bound),
      cmocka_unit_test(test_stop_wakes_consumers),
      cmocka_unit_test(test_concurrent_accounting),
  };
  return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
