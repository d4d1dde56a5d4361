/* The credential store: whole sets in, whole sets out, also while another
 * thread replaces them. */
#include "testutil.h"

#include "wdr_credstore.h"

#include <pthread.h>
#include <stdbool.h>

static void test_set_and_get(void **state) {
  (void)state;
  wdr_credstore_t *s = wdr_credstore_create("AKID1", "key1", NULL);
  assert_non_null(s);
  wdr_cred_snapshot_t snap;
  wdr_credstore_get(s, &snap);
  assert_string_equal(snap.secret_id, "AKID1");
  assert_string_equal(snap.secret_key, "key1");
  assert_string_equal(snap.token, "");
  assert_int_equal(snap.version, 1);

  assert_int_equal(wdr_credstore_set(s, "AKID2", "key2", "tok2", 1764670000),
                   0);
  wdr_credstore_get(s, &snap);
  assert_string_equal(snap.secret_id, "AKID2");
  assert_string_equal(snap.token, "tok2");
  assert_int_equal(snap.expires_at, 1764670000);
  assert_int_equal(snap.version, 2);

  /* Refused sets keep what was there. */
  char long_key[WDR_CRED_VALUE_MAX + 1];
  memset(long_key, 'k', sizeof(long_key) - 1);
  long_key[sizeof(long_key) - 1] = '\0';
  assert_int_equal(wdr_credstore_set(s, "AKID3", long_key, NULL, 0), -1);
  assert_int_equal(wdr_credstore_set(s, "", "key3", NULL, 0), -1);
  assert_int_equal(wdr_credstore_set(s, "AKID3", NULL, NULL, 0), -1);
  wdr_credstore_get(s, &snap);
  assert_string_equal(snap.secret_key, "key2");
  assert_int_equal(snap.version, 2);
  long_key[WDR_CRED_VALUE_MAX - 1] = '\0'; /* the longest that fits */
  assert_int_equal(wdr_credstore_set(s, "AKID4", long_key, long_key, 0), 0);
  wdr_credstore_get(s, &snap);
  assert_int_equal(strlen(snap.token), WDR_CRED_VALUE_MAX - 1);

  wdr_cred_snapshot_wipe(&snap);
  assert_string_equal(snap.secret_key, "");
  assert_string_equal(snap.token, "");
  wdr_credstore_destroy(s);
  wdr_credstore_destroy(NULL);
  long_key[WDR_CRED_VALUE_MAX - 1] = 'k'; /* one byte too long again */
  assert_null(wdr_credstore_create("AKID", long_key, NULL));
  assert_null(wdr_credstore_create("AKID", NULL, NULL));

  /* Empty until the first set (the CVM role's first fetch). */
  s = wdr_credstore_create(NULL, NULL, NULL);
  assert_non_null(s);
  wdr_credstore_get(s, &snap);
  assert_int_equal(snap.version, 0);
  assert_string_equal(snap.secret_id, "");
  assert_int_equal(wdr_credstore_set(s, "AKIDr", "keyr", "tokr", 99), 0);
  wdr_credstore_get(s, &snap);
  assert_int_equal(snap.version, 1);
  assert_int_equal(snap.expires_at, 99);
  assert_int_equal(wdr_credstore_expires_at(s), 99);
  wdr_cred_snapshot_wipe(&snap);
  wdr_credstore_destroy(s);
}

/* Two sets, A and B, swapped as fast as possible while readers check that
 * each snapshot is all A or all B. */
typedef struct {
  wdr_credstore_t *s;
  _Atomic bool stop;
  int torn;
} race_t;

static void *reader(void *arg) {
  race_t *r = arg;
  wdr_cred_snapshot_t *snap = malloc(sizeof(*snap));
  while (!r->stop) {
    wdr_credstore_get(r->s, snap);
    char which = snap->secret_id[4];
    if (snap->secret_key[3] != which || snap->token[3] != which)
      __atomic_add_fetch(&r->torn, 1, __ATOMIC_RELAXED);
  }
  free(snap);
  return NULL;
}

static void test_no_torn_snapshot(void **state) {
  (void)state;
  race_t r = {.s = wdr_credstore_create("AKIDA", "keyA", "tokA")};
  assert_non_null(r.s);
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&t[i], NULL, reader, &r), 0);
  for (int i = 0; i < 20000; i++) {
    if (i % 2)
      assert_int_equal(wdr_credstore_set(r.s, "AKIDA", "keyA", "tokA", 0), 0);
    else
      assert_int_equal(wdr_credstore_set(r.s, "AKIDB", "keyB", "tokB", 0), 0);
  }
  r.stop = true;
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(r.torn, 0);
  wdr_credstore_destroy(r.s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_set_and_get),
      cmocka_unit_test(test_no_torn_snapshot),
  };
  return cmocka_run_group_tests_name("wdr_credstore", tests, NULL, NULL);
}
