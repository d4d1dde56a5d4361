/* wdr_cid: every text comes back exactly as set, whichever form holds it
 * (packed UUID, inline, heap), equality agrees with the text, and a failed
 * set leaves the old value. Leaks of heap copies show under ASan. */
#include "testutil.h"

#include "wdr_cid.h"

/* Sets s, checks it reads back and compares equal to itself only. */
static void round_trip(const char *s) {
  wdr_cid_t c = {{0}};
  char buf[WDR_ID_MAX];
  assert_int_equal(wdr_cid_set(&c, s), 0);
  assert_string_equal(wdr_cid_str(&c, buf), s);
  assert_true(wdr_cid_eq(&c, s));
  assert_int_equal(wdr_cid_is_empty(&c), s[0] == '\0');
  wdr_cid_clear(&c);
  assert_true(wdr_cid_is_empty(&c));
  assert_string_equal(wdr_cid_str(&c, buf), "");
}

static void test_round_trip_every_form(void **state) {
  (void)state;
  static const char *texts[] = {
      "",
      "a",
      "run-1",
      "exactly-16-chars",                      /* the longest inline text */
      "seventeen-chars-x",                     /* the shortest heap text */
      "60a7f0f5-cea2-40fe-b607-a164d9615689",  /* packed, lowercase */
      "60A7F0F5-CEA2-40FE-B607-A164D9615689",  /* packed, uppercase */
      "00000000-0000-0000-0000-000000000000",  /* digits only */
      "60a7f0f5-cea2-40FE-b607-a164d9615689",  /* mixed case: heap */
      "60a7f0f5-cea2-40fe-b607-a164d961568g",  /* not hex: heap */
      "60a7f0f5_cea2-40fe-b607-a164d9615689",  /* no dash: heap */
      "60a7f0f5-cea2-40fe-b607-a164d96156890", /* 37 characters */
      "60a7f0f5-cea2-40fe-b607-a164d961568",   /* 35 characters */
      "-60a7f0f5cea2-40fe-b607-a164d9615689",  /* dash misplaced */
      "ResourceNotFound.WorkflowNotExist",
      "h\xc3\xa9llo w\xc3\xb6rld, l\xc3\xa4nger als 16",
  };
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
    round_trip(texts[i]);
  char longest[WDR_ID_MAX];
  memset(longest, 'x', sizeof(longest) - 1);
  longest[sizeof(longest) - 1] = '\0';
  round_trip(longest);
}

/* Equality never confuses forms or cases. */
static void test_eq_is_exact(void **state) {
  (void)state;
  wdr_cid_t c = {{0}};
  assert_true(wdr_cid_eq(&c, ""));
  assert_true(wdr_cid_eq(&c, NULL));
  assert_false(wdr_cid_eq(&c, "a"));
  assert_int_equal(wdr_cid_set(&c, "60a7f0f5-cea2-40fe-b607-a164d9615689"), 0);
  assert_false(wdr_cid_eq(&c, "60A7F0F5-CEA2-40FE-B607-A164D9615689"));
  assert_false(wdr_cid_eq(&c, "60a7f0f5-cea2-40fe-b607-a164d9615688"));
  assert_false(wdr_cid_eq(&c, "60a7f0f5"));
  assert_false(wdr_cid_eq(&c, ""));
  assert_int_equal(wdr_cid_set(&c, "abc"), 0);
  assert_false(wdr_cid_eq(&c, "ab"));
  assert_false(wdr_cid_eq(&c, "abcd"));
  assert_false(wdr_cid_eq(&c, ""));
  assert_int_equal(wdr_cid_set(&c, "exactly-16-chars"), 0);
  assert_false(wdr_cid_eq(&c, "exactly-16-chars!"));
  assert_int_equal(wdr_cid_set(&c, "a text longer than sixteen"), 0);
  assert_false(wdr_cid_eq(&c, "a text longer than sixteen!"));
  assert_true(wdr_cid_eq(&c, "a text longer than sixteen"));
  /* Replacing a heap text frees it (ASan would see the leak). */
  assert_int_equal(wdr_cid_set(&c, NULL), 0);
  assert_true(wdr_cid_is_empty(&c));
}

/* A text of WDR_ID_MAX bytes or more is refused and the old one stays. */
static void test_too_long_keeps_old(void **state) {
  (void)state;
  wdr_cid_t c = {{0}};
  char buf[WDR_ID_MAX];
  char *big = malloc(WDR_ID_MAX + 10);
  assert_non_null(big);
  memset(big, 'y', WDR_ID_MAX + 9);
  big[WDR_ID_MAX + 9] = '\0';
  assert_int_equal(wdr_cid_set(&c, "a text longer than sixteen"), 0);
  assert_int_equal(wdr_cid_set(&c, big), -1);
  assert_string_equal(wdr_cid_str(&c, buf), "a text longer than sixteen");
  big[WDR_ID_MAX] = '\0'; /* exactly WDR_ID_MAX bytes: still too long */
  assert_int_equal(wdr_cid_set(&c, big), -1);
  assert_false(wdr_cid_eq(&c, big));
  wdr_cid_clear(&c);
  free(big);
}

/* The point of it: a UUID and a short text take no heap at all. */
static void test_size(void **state) {
  (void)state;
  assert_int_equal(sizeof(wdr_cid_t), 17);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_every_form),
      cmocka_unit_test(test_eq_is_exact),
      cmocka_unit_test(test_too_long_keeps_old),
      cmocka_unit_test(test_size),
  };
  return cmocka_run_group_tests_name("wdr_cid", tests, NULL, NULL);
}
