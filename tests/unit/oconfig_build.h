/* Builds collectd config trees (oconfig_item_t) by hand for the tests.
 *
 *   oconfig_item_t *root = ocb_root("Plugin");
 *   ocb_str(root, "Region", "ap-guangzhou");
 *   oconfig_item_t *wf = ocb_str(root, "Workflow", "etl");
 *   ocb_num(wf, "ExecuteType", 1);
 *   ocb_add_str(ocb_str(wf, "TaskId", "a"), "b");   TaskId "a" "b"
 *   ...
 *   ocb_free(root);
 *
 * Every item reserves room for OCB_MAX_CHILDREN children and OCB_MAX_VALUES
 * values up front, so the pointers these functions return stay valid while
 * more items are added anywhere in the tree. Strings are copied. */
#ifndef WDR_OCONFIG_BUILD_H
#define WDR_OCONFIG_BUILD_H

#include "testutil.h"

#include "liboconfig/oconfig.h"

#define OCB_MAX_CHILDREN 32
#define OCB_MAX_VALUES 8

static inline void ocb_init(oconfig_item_t *it, const char *key,
                            oconfig_item_t *parent) {
  *it = (oconfig_item_t){.parent = parent};
  it->key = strdup(key);
  it->values = calloc(OCB_MAX_VALUES, sizeof(*it->values));
  it->children = calloc(OCB_MAX_CHILDREN, sizeof(*it->children));
  assert_non_null(it->key);
  assert_non_null(it->values);
  assert_non_null(it->children);
}

/* A new top-level item, e.g. the <Plugin> block. */
static inline oconfig_item_t *ocb_root(const char *key) {
  oconfig_item_t *it = malloc(sizeof(*it));
  assert_non_null(it);
  ocb_init(it, key, NULL);
  return it;
}

/* Appends a child with no values yet: a block or an option. */
static inline oconfig_item_t *ocb_child(oconfig_item_t *parent,
                                        const char *key) {
  assert_true(parent->children_num < OCB_MAX_CHILDREN);
  oconfig_item_t *it = &parent->children[parent->children_num++];
  ocb_init(it, key, parent);
  return it;
}

static inline oconfig_value_t *ocb_value(oconfig_item_t *it, int type) {
  assert_true(it->values_num < OCB_MAX_VALUES);
  oconfig_value_t *v = &it->values[it->values_num++];
  v->type = type;
  return v;
}

/* Append one more value to it; each returns it. */
static inline oconfig_item_t *ocb_add_str(oconfig_item_t *it, const char *s) {
  oconfig_value_t *v = ocb_value(it, OCONFIG_TYPE_STRING);
  v->value.string = strdup(s);
  assert_non_null(v->value.string);
  return it;
}

static inline oconfig_item_t *ocb_add_num(oconfig_item_t *it, double d) {
  ocb_value(it, OCONFIG_TYPE_NUMBER)->value.number = d;
  return it;
}

static inline oconfig_item_t *ocb_add_bool(oconfig_item_t *it, int b) {
  ocb_value(it, OCONFIG_TYPE_BOOLEAN)->value.boolean = b;
  return it;
}

/* A child holding one value: `Key "s"`, `Key 1.5`, `Key true`. */
static inline oconfig_item_t *ocb_str(oconfig_item_t *parent, const char *key,
                                      const char *s) {
  return ocb_add_str(ocb_child(parent, key), s);
}

static inline oconfig_item_t *ocb_num(oconfig_item_t *parent, const char *key,
                                      double d) {
  return ocb_add_num(ocb_child(parent, key), d);
}

static inline oconfig_item_t *ocb_bool(oconfig_item_t *parent, const char *key,
                                       int b) {
  return ocb_add_bool(ocb_child(parent, key), b);
}

static inline void ocb_clear(oconfig_item_t *it) {
  for (int i = 0; i < it->values_num; i++)
    if (it->values[i].type == OCONFIG_TYPE_STRING)
      free(it->values[i].value.string);
  for (int i = 0; i < it->children_num; i++)
    ocb_clear(&it->children[i]);
  free(it->values);
  free(it->children);
  free(it->key);
}

/* Frees a tree made with ocb_root. NULL is fine. */
static inline void ocb_free(oconfig_item_t *root) {
  if (root == NULL)
    return;
  ocb_clear(root);
  free(root);
}

#endif
