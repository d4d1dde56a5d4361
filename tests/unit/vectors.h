/* Access to tests/vectors/tc3-signatures.json (see shared/reference
 * wedata-api.md section 0 for its schema), for test_sign and test_api. */
#ifndef WDR_TEST_VECTORS_H
#define WDR_TEST_VECTORS_H

#include "testutil.h"

#include <yajl/yajl_tree.h>

#define VECTORS_PATH "../vectors/tc3-signatures.json"

/* Loads the array; free with yajl_tree_free. */
static inline yajl_val vectors_load(void) {
  char *text = test_read_file(VECTORS_PATH, NULL);
  char err[256] = "";
  yajl_val root = yajl_tree_parse(text, err, sizeof(err));
  free(text);
  if (root == NULL || !YAJL_IS_ARRAY(root))
    fail_msg("cannot parse %s: %s", VECTORS_PATH, err);
  assert_true(YAJL_GET_ARRAY(root)->len >= 14);
  return root;
}

/* The string at v.section.key (v.key when section is NULL), or NULL for
 * JSON null; fails the test when the key is missing. */
static inline const char *vstr(yajl_val v, const char *section,
                               const char *key) {
  const char *path[] = {section != NULL ? section : key,
                        section != NULL ? key : NULL, NULL};
  yajl_val s = yajl_tree_get(v, path, yajl_t_any);
  if (s == NULL)
    fail_msg("vector has no %s.%s", section ? section : "", key);
  if (YAJL_IS_NULL(s))
    return NULL;
  assert_true(YAJL_IS_STRING(s));
  return YAJL_GET_STRING(s);
}

static inline long long vint(yajl_val v, const char *section, const char *key) {
  const char *path[] = {section, key, NULL};
  yajl_val n = yajl_tree_get(v, path, yajl_t_number);
  assert_non_null(n);
  return YAJL_GET_INTEGER(n);
}

/* Decodes inputs.payload_hex (the authoritative bytes); caller frees. */
static inline uint8_t *vpayload(yajl_val v, size_t *ret_len) {
  const char *hex = vstr(v, "inputs", "payload_hex");
  size_t len = strlen(hex) / 2;
  uint8_t *out = malloc(len + 1);
  assert_non_null(out);
  for (size_t i = 0; i < len; i++) {
    unsigned int byte = 0;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
    out[i] = (uint8_t)byte;
  }
  out[len] = '\0';
  assert_int_equal(len, (size_t)vint(v, "inputs", "payload_length_bytes"));
  *ret_len = len;
  return out;
}

static inline void unhex(const char *hex, uint8_t *out, size_t len) {
  assert_int_equal(strlen(hex), 2 * len);
  for (size_t i = 0; i < len; i++) {
    unsigned int byte = 0;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
    out[i] = (uint8_t)byte;
  }
}

#endif
