/* The bounded buffer: limits, sticky failure, formatting. */
#include "testutil.h"

#include "wdr_buf.h"

static void test_append_and_limit(void **state) {
  (void)state;
  wdr_buf_t b;
  wdr_buf_init(&b, 10);
  assert_string_equal(wdr_buf_str(&b), "");
  assert_int_equal(wdr_buf_append_str(&b, "hello"), 0);
  assert_int_equal(wdr_buf_printf(&b, "%d%s", 12, "345"), 0);
  assert_string_equal(wdr_buf_str(&b), "hello12345");
  assert_int_equal(b.len, 10);
  /* One byte over the limit fails and the failure sticks. */
  assert_int_equal(wdr_buf_append(&b, "x", 1), -1);
  assert_true(b.failed);
  assert_null(b.data);
  assert_int_equal(wdr_buf_append(&b, "", 0), -1);
  assert_string_equal(wdr_buf_str(&b), "");
  wdr_buf_reset(&b);
  assert_int_equal(wdr_buf_append_str(&b, "again"), 0);
  assert_string_equal(wdr_buf_str(&b), "again");
  wdr_buf_free(&b, true);
  wdr_buf_free(&b, true); /* twice is fine */
}

static void test_growth_keeps_contents(void **state) {
  (void)state;
  wdr_buf_t b;
  wdr_buf_init(&b, 1 << 20);
  for (int i = 0; i < 10000; i++)
    assert_int_equal(wdr_buf_printf(&b, "%04d", i % 10000), 0);
  assert_int_equal(b.len, 40000);
  assert_memory_equal(b.data + 4 * 9999, "9999", 4);
  assert_int_equal(b.data[b.len], '\0');
  wdr_buf_free(&b, false);
}

static void test_huge_append_refused(void **state) {
  (void)state;
  wdr_buf_t b;
  wdr_buf_init(&b, 100);
  assert_int_equal(wdr_buf_append(&b, "x", SIZE_MAX), -1);
  wdr_buf_free(&b, false);
}

/* A reserve is one allocation of exactly what is asked; appends up to it
 * do not move the data; past max it fails and the failure sticks. */
static void test_reserve_exact(void **state) {
  (void)state;
  wdr_buf_t b;
  wdr_buf_init(&b, 1000);
  assert_int_equal(wdr_buf_append_str(&b, "ab"), 0);
  assert_int_equal(wdr_buf_reserve(&b, 700), 0);
  assert_int_equal(b.cap, 2 + 700 + 1);
  assert_string_equal(wdr_buf_str(&b), "ab");
  const char *data = b.data;
  char fill[700];
  memset(fill, 'x', sizeof(fill));
  assert_int_equal(wdr_buf_append(&b, fill, sizeof(fill)), 0);
  assert_ptr_equal(b.data, data);
  assert_int_equal(b.len, 702);
  assert_int_equal(wdr_buf_reserve(&b, 10), 0); /* grows again, exactly */
  assert_int_equal(b.cap, 702 + 10 + 1);
  assert_int_equal(wdr_buf_reserve(&b, 299), -1); /* past max */
  assert_true(b.failed);
  assert_int_equal(wdr_buf_append_str(&b, "y"), -1);
  wdr_buf_free(&b, false);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_and_limit),
      cmocka_unit_test(test_growth_keeps_contents),
      cmocka_unit_test(test_huge_append_refused),
      cmocka_unit_test(test_reserve_exact),
  };
  return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
