/* The refresher thread with a fake fetch: it fills the store at start,
 * reports failures with their count, keeps the last good set, and stops at
 * once when asked (also in the middle of a long wait). */
#include "testutil.h"

#include "wdr_credrefresh.h"

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_calls, g_fail, g_reports_ok, g_reports_failed,
    g_last_failures;

static int fake_fetch(void *ctx, wdr_metadata_creds_t *out, char *err,
                      size_t err_size) {
  (void)ctx;
  int n = atomic_fetch_add(&g_calls, 1) + 1;
  memset(out, 0, sizeof(*out));
  if (atomic_load(&g_fail)) {
    snprintf(err, err_size, "the metadata service did not answer");
    return -1;
  }
  char id[32];
  snprintf(id, sizeof(id), "AKIDtmp%d", n);
  out->secret_id = strdup(id);
  out->secret_key = strdup("tmpkey");
  out->token = strdup("tmptoken");
  out->expires_at = (int64_t)time(NULL) + 3600;
  return 0;
}

static void fake_report(void *ctx, bool ok, int64_t expires_at, const char *err,
                        int failures) {
  (void)ctx;
  (void)expires_at;
  (void)err;
  if (ok)
    atomic_fetch_add(&g_reports_ok, 1);
  else
    atomic_fetch_add(&g_reports_failed, 1);
  atomic_store(&g_last_failures, failures);
}

static int create(pthread_t *t, void *(*fn)(void *), void *arg,
                  const char *name) {
  (void)name;
  return pthread_create(t, NULL, fn, arg);
}

static bool wait_for(atomic_int *v, int at_least, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    if (atomic_load(v) >= at_least)
      return true;
    usleep(10000);
  }
  return atomic_load(v) >= at_least;
}

static void test_refresh_thread(void **state) {
  (void)state;
  wdr_credstore_t *store = wdr_credstore_create(NULL, NULL, NULL);
  wdr_credrefresh_cfg_t cfg = {.store = store,
                               .fetch = fake_fetch,
                               .report = fake_report,
                               .timeout_s = 1,
                               .thread_create = create,
                               .seed = 7};
  int64_t expires = 0;
  assert_int_equal(wdr_credrefresh_fetch_now(&cfg, &expires), 0);
  assert_true(expires > (int64_t)time(NULL) + 3000);
  wdr_cred_snapshot_t snap;
  wdr_credstore_get(store, &snap);
  assert_string_equal(snap.secret_id, "AKIDtmp1");
  assert_string_equal(snap.token, "tmptoken");
  assert_int_equal(atomic_load(&g_reports_ok), 1);

  /* Failing from now on: the thread fetches at once, then backs off (1 s,
   * then 2 s...), counting the failures in a row; the set stays. */
  atomic_store(&g_fail, 1);
  wdr_credrefresh_t *r = wdr_credrefresh_start(&cfg, (int64_t)time(NULL));
  assert_non_null(r);
  assert_true(wait_for(&g_reports_failed, 2, 4000));
  assert_true(atomic_load(&g_last_failures) >= 2);
  wdr_credstore_get(store, &snap);
  assert_string_equal(snap.secret_id, "AKIDtmp1");

  /* Good again: the next try fills the store, and the following one is
   * planned 300 s before the hour is up: nothing more for now. */
  atomic_store(&g_fail, 0);
  assert_true(wait_for(&g_reports_ok, 2, 6000));
  wdr_credstore_get(store, &snap);
  assert_string_not_equal(snap.secret_id, "AKIDtmp1");
  int calls = atomic_load(&g_calls);
  usleep(1500000);
  assert_int_equal(atomic_load(&g_calls), calls);

  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  wdr_credrefresh_stop(r); /* in the middle of a wait of almost an hour */
  clock_gettime(CLOCK_MONOTONIC, &b);
  assert_true(b.tv_sec - a.tv_sec < 2);
  wdr_credrefresh_stop(NULL);
  wdr_cred_snapshot_wipe(&snap);
  wdr_credstore_destroy(store);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refresh_thread),
  };
  return cmocka_run_group_tests_name("wdr_credrefresh", tests, NULL, NULL);
}
