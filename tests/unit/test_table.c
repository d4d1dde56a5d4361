/* wdr_table: the run table's index, heaps and counts against a plain model
 * (a linear scan over the same runs), through thousands of random changes,
 * plus the edges: full table, bad keys, first-come order among equal
 * times. */
#include "run_util.h"
#include "testutil.h"

#include "wdr_table.h"

#define WF_NUM 3

static uint32_t g_rng = 12345;

static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 17;
  g_rng ^= g_rng << 5;
  return g_rng;
}

/* What a linear scan says the table must say. */
static void check_against_scan(const wdr_table_t *t) {
  size_t n = wdr_table_size(t), pending = 0, awaiting[WF_NUM] = {0};
  int64_t due_min = INT64_MAX, fin_min = INT64_MAX;
  for (size_t i = 0; i < n; i++) {
    const wdr_run_t *r = wdr_table_at(t, i);
    assert_ptr_equal(wdr_table_find(t, r->wf, CID(r->execution_id)), r);
    wdr_run_state_t s = r->state;
    if (s == WDR_RUN_SCHEDULED || s == WDR_RUN_VERIFY || s == WDR_RUN_ASYNC ||
        s == WDR_RUN_FOLLOW)
      due_min = r->next_at_ms < due_min ? r->next_at_ms : due_min;
    if (s == WDR_RUN_IDLE || s == WDR_RUN_PERMANENT)
      fin_min = r->updated_ms < fin_min ? r->updated_ms : fin_min;
    pending += s == WDR_RUN_SCHEDULED || s == WDR_RUN_VERIFY ||
               (s == WDR_RUN_IN_FLIGHT && r->in_flight != WDR_JOB_ASYNC &&
                r->in_flight != WDR_JOB_FOLLOW);
    awaiting[r->wf] +=
        s == WDR_RUN_SCHEDULED && r->request_retries == 0 && !r->resigned;
  }
  const wdr_run_t *due = wdr_table_next_due(t, 0u);
  const wdr_run_t *fin = wdr_table_oldest_finished(t);
  assert_int_equal(due != NULL ? due->next_at_ms : INT64_MAX, due_min);
  assert_int_equal(fin != NULL ? fin->updated_ms : INT64_MAX, fin_min);
  assert_int_equal(wdr_table_pending(t), pending);
  for (size_t wf = 0; wf < WF_NUM; wf++)
    assert_int_equal(wdr_table_awaiting(t, wf), awaiting[wf]);
}

static void random_change(wdr_run_t *r) {
  r->state = (wdr_run_state_t)(rnd() % WDR_RUN_STATE_NUM);
  r->in_flight = (wdr_job_kind_t)(rnd() % WDR_RUN_JOB_KINDS);
  r->next_at_ms = rnd() % 50; /* few values: many ties */
  r->updated_ms = rnd() % 50;
  r->request_retries = rnd() % 3 == 0;
  r->resigned = rnd() % 5 == 0;
}

static void test_random_against_scan(void **state) {
  (void)state;
  wdr_table_t *t = wdr_table_create(WF_NUM, 500, NULL, NULL);
  assert_non_null(t);
  char id[64];
  for (int step = 0; step < 20000; step++) {
    size_t wf = rnd() % WF_NUM;
    /* Every form a key can take (wdr_cid.h): short, UUID, long. */
    unsigned n = rnd() % 700;
    if (n % 3 == 0)
      snprintf(id, sizeof(id), "run-%u", n);
    else if (n % 3 == 1)
      snprintf(id, sizeof(id), "%08x-cea2-40fe-b607-a164d9615689", n);
    else
      snprintf(id, sizeof(id), "a-run-id-longer-than-sixteen-%u", n);
    wdr_run_t *r = wdr_table_find(t, wf, id);
    uint32_t op = rnd() % 10;
    if (r == NULL && op < 6) {
      r = wdr_table_add(t, wf, id);
      if (wdr_table_size(t) < 500)
        assert_non_null(r);
      if (r != NULL) {
        assert_int_equal(r->wf, wf);
        assert_string_equal(CID(r->execution_id), id);
        random_change(r);
        wdr_table_settle(t, r);
      }
    } else if (r != NULL && op < 3) {
      wdr_table_remove(t, r);
      assert_null(wdr_table_find(t, wf, id));
    } else if (r != NULL) {
      random_change(r);
      wdr_table_settle(t, r);
    }
    if (step % 37 == 0)
      check_against_scan(t);
  }
  check_against_scan(t);
  /* Emptied again, everything agrees. */
  while (wdr_table_size(t) > 0)
    wdr_table_remove(t, wdr_table_at(t, rnd() % wdr_table_size(t)));
  check_against_scan(t);
  assert_null(wdr_table_next_due(t, 0u));
  wdr_table_destroy(t);
}

static void test_full_and_bad_keys(void **state) {
  (void)state;
  assert_null(wdr_table_create(0, 10, NULL, NULL));
  assert_null(wdr_table_create(1, 0, NULL, NULL));
  wdr_table_t *t = wdr_table_create(2, 3, NULL, NULL);
  assert_non_null(t);
  assert_non_null(wdr_table_add(t, 0, "a"));
  assert_null(wdr_table_add(t, 0, "a"));     /* already there */
  assert_non_null(wdr_table_add(t, 1, "a")); /* another workflow's */
  assert_null(wdr_table_add(t, 2, "b"));     /* no such workflow */
  assert_null(wdr_table_add(t, 0, ""));
  char long_id[WDR_ID_MAX + 1];
  memset(long_id, 'x', WDR_ID_MAX);
  long_id[WDR_ID_MAX] = '\0';
  assert_null(wdr_table_add(t, 0, long_id));
  assert_null(wdr_table_find(t, 0, long_id));
  assert_non_null(wdr_table_add(t, 0, "c"));
  assert_null(wdr_table_add(t, 0, "d")); /* full */
  assert_int_equal(wdr_table_size(t), 3);
  /* New runs are IDLE: finished, oldest first. */
  assert_non_null(wdr_table_oldest_finished(t));
  wdr_table_remove(t, wdr_table_find(t, 0, "a"));
  assert_non_null(wdr_table_add(t, 0, "d"));
  assert_non_null(wdr_table_find(t, 1, "a"));
  assert_non_null(wdr_table_find(t, 0, "c"));
  wdr_table_destroy(t);
}

/* Runs due at the same time leave in the order they became due. */
static void test_ties_first_come(void **state) {
  (void)state;
  wdr_table_t *t = wdr_table_create(1, 100, NULL, NULL);
  char id[16];
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof(id), "r%02d", i);
    wdr_run_t *r = wdr_table_add(t, 0, id);
    r->state = WDR_RUN_SCHEDULED;
    r->next_at_ms = 1000;
    wdr_table_settle(t, r);
  }
  for (int i = 0; i < 50; i++) {
    wdr_run_t *r = wdr_table_next_due(t, 0u);
    snprintf(id, sizeof(id), "r%02d", i);
    assert_string_equal(CID(r->execution_id), id);
    r->state = WDR_RUN_IN_FLIGHT;
    wdr_table_settle(t, r);
  }
  assert_null(wdr_table_next_due(t, 0u));
  assert_int_equal(wdr_table_pending(t), 50);
  wdr_table_destroy(t);
}

/* The owner's lane function files each waiting run; each lane is its own
 * heap, and a run moves between lanes when it is settled again. */
static unsigned lane_by_state(const wdr_run_t *r, const void *ctx) {
  (void)ctx;
  return r->state == WDR_RUN_VERIFY ? 1 : r->state == WDR_RUN_ASYNC ? 2 : 0;
}

static void test_lanes(void **state) {
  (void)state;
  wdr_table_t *t = wdr_table_create(1, 100, lane_by_state, NULL);
  const struct {
    const char *id;
    wdr_run_state_t state;
    int64_t at;
  } runs[] = {{"s1", WDR_RUN_SCHEDULED, 300}, {"s2", WDR_RUN_SCHEDULED, 100},
              {"v1", WDR_RUN_VERIFY, 50},     {"v2", WDR_RUN_VERIFY, 400},
              {"a1", WDR_RUN_ASYNC, 10},      {"f1", WDR_RUN_FOLLOW, 5}};
  for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
    wdr_run_t *r = wdr_table_add(t, 0, runs[i].id);
    r->state = runs[i].state;
    r->next_at_ms = runs[i].at;
    wdr_table_settle(t, r);
  }
  /* Each lane by itself (the others skipped), and all together. */
  assert_string_equal(CID(wdr_table_next_due(t, 6u)->execution_id), "f1");
  assert_string_equal(CID(wdr_table_next_due(t, 5u)->execution_id), "v1");
  assert_string_equal(CID(wdr_table_next_due(t, 3u)->execution_id), "a1");
  assert_string_equal(CID(wdr_table_next_due(t, 0u)->execution_id), "f1");
  assert_string_equal(CID(wdr_table_next_due(t, 1u)->execution_id), "a1");
  assert_null(wdr_table_next_due(t, 7u));
  /* f1 leaves lane 0 for lane 1 (as VERIFY), ahead of v1. */
  wdr_run_t *f1 = wdr_table_find(t, 0, "f1");
  f1->state = WDR_RUN_VERIFY;
  wdr_table_settle(t, f1);
  assert_string_equal(CID(wdr_table_next_due(t, 6u)->execution_id), "s2");
  assert_string_equal(CID(wdr_table_next_due(t, 5u)->execution_id), "f1");
  /* In flight: in no lane. */
  wdr_run_t *a1 = wdr_table_find(t, 0, "a1");
  a1->state = WDR_RUN_IN_FLIGHT;
  wdr_table_settle(t, a1);
  assert_null(wdr_table_next_due(t, 3u));
  /* Ties across lanes: first come first served (s1 came before v2). */
  wdr_run_t *v2 = wdr_table_find(t, 0, "v2"), *s1 = wdr_table_find(t, 0, "s1");
  v2->next_at_ms = s1->next_at_ms = 1;
  wdr_table_settle(t, v2); /* re-sorted in place: keeps its place in line */
  wdr_table_settle(t, s1);
  assert_string_equal(CID(wdr_table_next_due(t, 0u)->execution_id), "s1");
  wdr_table_destroy(t);
}

/* A large table stays exact (the index grows, probe chains survive
 * removals). */
static void test_many_runs(void **state) {
  (void)state;
  wdr_table_t *t = wdr_table_create(1, 100000, NULL, NULL);
  char id[32];
  for (int i = 0; i < 100000; i++) {
    snprintf(id, sizeof(id), "%08x-run", (unsigned)i * 2654435761u);
    assert_non_null(wdr_table_add(t, 0, id));
  }
  for (int i = 0; i < 100000; i += 2) {
    snprintf(id, sizeof(id), "%08x-run", (unsigned)i * 2654435761u);
    wdr_table_remove(t, wdr_table_find(t, 0, id));
  }
  for (int i = 0; i < 100000; i++) {
    snprintf(id, sizeof(id), "%08x-run", (unsigned)i * 2654435761u);
    wdr_run_t *r = wdr_table_find(t, 0, id);
    if (i % 2 == 0)
      assert_null(r);
    else
      assert_non_null(r);
  }
  assert_int_equal(wdr_table_size(t), 50000);
  wdr_table_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_against_scan),
      cmocka_unit_test(test_full_and_bad_keys),
      cmocka_unit_test(test_ties_first_come),
      cmocka_unit_test(test_lanes),
      cmocka_unit_test(test_many_runs),
  };
  return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
