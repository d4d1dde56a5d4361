/* wdr_text: wdr_text_copy (control characters replaced, cut only between
 * UTF-8 characters, never a byte past size) and wdr_text_is_clean (valid
 * UTF-8 without control characters). */
#include "testutil.h"

#include "wdr_common.h"

#include <stdbool.h>

#define CANARY 0x5a

/* Copies src into a buffer of exactly size bytes followed by canaries, which
 * must survive; returns the copy (static, valid until the next call). */
static const char *copy(const char *src, size_t size) {
  static char buf[1024 + 16];
  assert_true(size + 16 <= sizeof(buf));
  memset(buf, CANARY, sizeof(buf));
  wdr_text_copy(buf, size, src);
  for (size_t i = size; i < size + 16; i++)
    if ((unsigned char)buf[i] != CANARY)
      fail_msg("wdr_text_copy wrote byte %zu of a %zu-byte buffer", i, size);
  assert_true(strlen(buf) < size);
  return buf;
}

static void test_copy_plain(void **state) {
  (void)state;
  assert_string_equal(copy("hello", 16), "hello");
  assert_string_equal(copy("hello", 6), "hello"); /* exactly fits */
  assert_string_equal(copy("hello", 5), "hell");
  assert_string_equal(copy("", 8), "");
  assert_string_equal(copy("h\xc3\xa9llo \xe2\x82\xac", 32),
                      "h\xc3\xa9llo \xe2\x82\xac");
}

static void test_copy_size_one(void **state) {
  (void)state;
  assert_string_equal(copy("hello", 1), "");
  assert_string_equal(copy("\xc3\xa9", 1), "");
  assert_string_equal(copy("", 1), "");
}

static void test_copy_replaces_control_characters(void **state) {
  (void)state;
  /* Every C0 control and DEL becomes a space, one for one. */
  for (int c = 1; c < 0x80; c++) {
    char src[4] = {'a', (char)c, 'b', '\0'};
    char want[4] = {'a', (char)(c < 0x20 || c == 0x7f ? ' ' : c), 'b', '\0'};
    assert_string_equal(copy(src, 8), want);
  }
  assert_string_equal(copy("line1\nline2\r\n\tx\x1b[31m", 64),
                      "line1 line2   x [31m");
  /* Bytes of multi-byte characters are no control characters. */
  assert_string_equal(copy("\xc2\xa0\xe4\xb8\xad", 16), "\xc2\xa0\xe4\xb8\xad");
  /* Replaced and cut at once. */
  assert_string_equal(copy("\n\t\x7f\x01", 3), "  ");
}

/* Every size from 1 up: the copy is the longest whole-character prefix
 * that fits. The boundaries are listed by hand. */
static void test_copy_cuts_between_characters(void **state) {
  (void)state;
  /* a, é (2 bytes), € (3), 😀 (4), b, 中 (3) */
  const char *src = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                    "b\xe4\xb8\xad";
  const size_t bounds[] = {0, 1, 3, 6, 10, 11, 14};
  size_t len = strlen(src);
  assert_int_equal(len, 14);
  for (size_t size = 1; size <= len + 2; size++) {
    size_t want = 0;
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
      if (bounds[i] <= size - 1)
        want = bounds[i];
    const char *got = copy(src, size);
    if (strlen(got) != want || memcmp(got, src, want) != 0)
      fail_msg("size %zu: got %zu bytes, want %zu", size, strlen(got), want);
    assert_true(wdr_text_is_clean(got));
  }
}

static void test_copy_long_text(void **state) {
  (void)state;
  /* 300 two-byte characters into 256 bytes: 127 of them, never 127.5. */
  char src[601];
  for (int i = 0; i < 300; i++)
    memcpy(src + 2 * i, "\xc3\xa9", 2);
  src[600] = '\0';
  const char *got = copy(src, 256);
  assert_int_equal(strlen(got), 254);
  assert_memory_equal(got, src, 254);
  got = copy(src, 255);
  assert_int_equal(strlen(got), 254);
}

static void test_clean_valid(void **state) {
  (void)state;
  const char *ok[] = {
      "",
      "plain ascii ~!@#$%^&*()_+{}|:\"<>?",
      " ",
      "h\xc3\xa9llo",                          /* é */
      "\xc2\x80",                              /* the smallest two-byte form */
      "\xdf\xbf",                              /* the largest */
      "\xe2\x82\xac \xe4\xb8\xad\xe6\x96\x87", /* € 中文 */
      "\xf0\x9f\x98\x80",                      /* 😀 */
      "run-20260101-0001 (FAILED)",
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    if (!wdr_text_is_clean(ok[i]))
      fail_msg("\"%s\" (case %zu) is clean", ok[i], i);
}

static void test_clean_refuses(void **state) {
  (void)state;
  const char *bad[] = {
      "tab\there",
      "new\nline",
      "cr\r",
      "\x01",
      "\x1f",
      "del\x7f",
      "esc\x1b[0m",
      "\xc0\xaf", /* overlong '/' (C0 lead) */
      "\xc1\xbf", /* overlong (C1 lead) */
      "\xc0\x80", /* overlong NUL */
      "\x80",     /* a continuation byte without lead */
      "\xbf\x80\x80\x80",
      "\xf8\x80\x80\x80", /* no lead byte, however many follow */
      "\xff\x80\x80\x80",
      "a\xbf"
      "b",
      "\xf8\x88\x80\x80\x80", /* five-byte form */
      "\xfe",
      "\xff",
      "\xc3", /* truncated at the end */
      "\xe2\x82",
      "\xf0\x9f\x98",
      "\xc3"
      "A",                /* truncated, then ASCII */
      "\xe2\x28\xa1",     /* bad second byte */
      "\xe2\x82\x28",     /* bad third byte */
      "\xf0\x9f\x98\x28", /* bad fourth byte */
      "\xc3\xc3\xa9",     /* a lead where a continuation belongs */
      "\xc3\xc3",         /* a lead byte is no continuation */
      "\xe2\x82\xe2",
      "ok \xc3\xa9 then \x7f",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (wdr_text_is_clean(bad[i]))
      fail_msg("case %zu is not clean", i);
}

static void test_run_id_is_safe(void **state) {
  (void)state;
  static const char *const safe[] = {"0fae8078-a7a7-4b67-afd1-8bf18e068dda",
                                     "a", "run_1.2:3", "ABC-xyz"};
  for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
    if (!wdr_run_id_is_safe(safe[i]))
      fail_msg("\"%s\" refused", safe[i]);
  char longest[WDR_ID_MAX];
  memset(longest, 'a', sizeof(longest) - 1);
  longest[sizeof(longest) - 1] = '\0';
  assert_true(wdr_run_id_is_safe(longest));
  char too_long[WDR_ID_MAX + 1];
  memset(too_long, 'a', sizeof(too_long) - 1);
  too_long[sizeof(too_long) - 1] = '\0';
  assert_false(wdr_run_id_is_safe(too_long));
  static const char *const unsafe[] = {"",           "a\",\"ExecuteType\":\"2",
                                       "run 1",      "run\t1",
                                       "run\n1",     "../etc/passwd",
                                       "${jndi:x}",  "<b>",
                                       "r\xc3\xbcn", "run%0d%0a",
                                       "a\\b",       "run'1",
                                       "run;1"};
  for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
    if (wdr_run_id_is_safe(unsafe[i]))
      fail_msg("case %zu taken", i);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_plain),
      cmocka_unit_test(test_copy_size_one),
      cmocka_unit_test(test_copy_replaces_control_characters),
      cmocka_unit_test(test_copy_cuts_between_characters),
      cmocka_unit_test(test_copy_long_text),
      cmocka_unit_test(test_clean_valid),
      cmocka_unit_test(test_clean_refuses),
      cmocka_unit_test(test_run_id_is_safe),
  };
  return cmocka_run_group_tests_name("wdr_text", tests, NULL, NULL);
}
