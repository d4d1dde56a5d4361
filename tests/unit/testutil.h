/* Shared by the unit tests: cmocka's required includes and small helpers.
 * Tests run from tests/unit (the Makefile cds there), so data paths are
 * relative to it. */
#ifndef WDR_TESTUTIL_H
#define WDR_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole file into a NUL-terminated heap buffer (caller frees);
 * fails the test when it cannot. */
static inline char *test_read_file(const char *path, size_t *ret_len) {
  FILE *fh = fopen(path, "rb");
  if (fh == NULL)
    fail_msg("cannot open %s", path);
  fseek(fh, 0, SEEK_END);
  long size = ftell(fh);
  fseek(fh, 0, SEEK_SET);
  char *buf = malloc((size_t)size + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)size, fh), (size_t)size);
  buf[size] = '\0';
  fclose(fh);
  if (ret_len != NULL)
    *ret_len = (size_t)size;
  return buf;
}

#endif
