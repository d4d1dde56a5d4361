/* libFuzzer target: the config walker, over a collectd config tree built
 * from the input.
 *
 * collectd hands the plugin whatever tree its parser made of the config
 * files: any keys, any number and types of values, blocks nested anywhere.
 * The input is read as a small program that builds such a tree (keys drawn
 * from the plugin's own options, the block names and some that are not
 * options at all; strings, numbers and booleans); wdr_config_parse must
 * accept it or refuse it with an error line, and an accepted config must
 * give a fingerprint for every workflow. SecretKeyFile only ever names a
 * file this target wrote (or a missing one): the walker reads it. */
#include "wdr_buf.h"
#include "wdr_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ITEMS 400
#define MAX_CHILDREN 48
#define MAX_VALUES 6
#define MAX_DEPTH 5

typedef struct {
  const uint8_t *p;
  size_t left;
} input_t;

static uint8_t byte(input_t *in) {
  if (in->left == 0)
    return 0;
  in->left--;
  return *in->p++;
}

static const char *const extra_keys[] = {
    "Workflow", "Match", "TaskId",   "AdvancedParam",  "Plugin",
    "Host",     "Type",  "Severity", "PluginInstance", "TypeInstance",
    "Bogus",    "",      "workflow", "MATCH",          "SecretKeyFile"};

static const char *key_file; /* a key this target wrote */

static size_t keys_num;
static const char *keys[128];

static void init_keys(void) {
  if (keys_num > 0)
    return;
  for (size_t i = 0; i < sizeof(extra_keys) / sizeof(extra_keys[0]); i++)
    keys[keys_num++] = extra_keys[i];
  for (int scope = WDR_CONFIG_PLUGIN; scope <= WDR_CONFIG_WORKFLOW; scope++)
    for (size_t i = 0; i < wdr_config_doc_count(scope) && keys_num < 128; i++) {
      wdr_config_doc_t doc;
      if (wdr_config_doc(scope, i, &doc) == 0)
        keys[keys_num++] = doc.key;
    }
  static char path[] = "/tmp/wdr_fuzz_keyXXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) {
    (void)!write(fd, "fuzz-secret-key\n", 16);
    close(fd);
    key_file = path;
  }
}

static oconfig_item_t *new_items(size_t n) {
  return calloc(n, sizeof(oconfig_item_t));
}

static void free_item(oconfig_item_t *it) {
  for (int i = 0; i < it->values_num; i++)
    if (it->values[i].type == OCONFIG_TYPE_STRING)
      free(it->values[i].value.string);
  free(it->values);
  for (int i = 0; i < it->children_num; i++)
    free_item(&it->children[i]);
  free(it->children);
  free(it->key);
}

static char *fuzz_string(input_t *in, const char *key) {
  if (strcmp(key, "SecretKeyFile") == 0)
    return strdup(byte(in) % 2 && key_file ? key_file : "/nonexistent/key");
  size_t n = byte(in) % 64;
  char *s = malloc(n + 1);
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    s[i] = (char)byte(in);
  s[n] = '\0'; /* collectd's strings never hold a NUL */
  return s;
}

static void add_values(input_t *in, oconfig_item_t *it) {
  int n = byte(in) % (MAX_VALUES + 1);
  it->values = calloc((size_t)(n > 0 ? n : 1), sizeof(oconfig_value_t));
  if (it->values == NULL)
    return;
  for (int i = 0; i < n; i++) {
    oconfig_value_t *v = &it->values[it->values_num];
    switch (byte(in) % 3) {
    case 0:
      v->type = OCONFIG_TYPE_STRING;
      if ((v->value.string = fuzz_string(in, it->key)) == NULL)
        return;
      break;
    case 1: {
      v->type = OCONFIG_TYPE_NUMBER;
      int8_t small = (int8_t)byte(in);
      uint8_t scale = byte(in);
      v->value.number = scale % 4 == 0   ? small
                        : scale % 4 == 1 ? small / 8.0
                        : scale % 4 == 2 ? small * 1e6
                                         : small * 1e300;
      break;
    }
    default:
      v->type = OCONFIG_TYPE_BOOLEAN;
      v->value.boolean = byte(in) % 2;
    }
    it->values_num++;
  }
}

/* Builds the children of it from the input, up to MAX_DEPTH deep. */
static void build(input_t *in, oconfig_item_t *it, int depth, int *items) {
  int n = byte(in) % (MAX_CHILDREN + 1);
  if (depth >= MAX_DEPTH || *items >= MAX_ITEMS)
    n = 0;
  it->children = new_items(n > 0 ? (size_t)n : 1);
  if (it->children == NULL)
    return;
  for (int i = 0; i < n && *items < MAX_ITEMS && in->left > 0; i++) {
    oconfig_item_t *c = &it->children[it->children_num];
    c->parent = it;
    c->key = strdup(keys[byte(in) % keys_num]);
    if (c->key == NULL)
      return;
    it->children_num++;
    (*items)++;
    add_values(in, c);
    if (byte(in) % 4 == 0)
      build(in, c, depth + 1, items);
    else
      c->children = new_items(1);
  }
}

static const char *no_env(const char *name) {
  (void)name;
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_keys();
  input_t in = {data, size};
  oconfig_item_t root = {.key = strdup("Plugin")};
  if (root.key == NULL)
    return 0;
  root.values = calloc(1, sizeof(oconfig_value_t));
  if (root.values != NULL) {
    root.values[0].type = OCONFIG_TYPE_STRING;
    root.values[0].value.string = strdup("wedata_rerun");
    root.values_num = root.values[0].value.string != NULL;
  }
  int items = 0;
  build(&in, &root, 0, &items);
  wdr_config_t *cfg = NULL;
  char err[1024];
  if (wdr_config_parse(&root, no_env, &cfg, err, sizeof(err)) == 0) {
    for (size_t i = 0; i < cfg->workflows_num; i++) {
      wdr_buf_t fp;
      wdr_buf_init(&fp, 1024 * 1024);
      if (wdr_config_fingerprint(cfg, i, &fp) != 0)
        abort(); /* an accepted config always has one */
      wdr_buf_free(&fp, false);
    }
    wdr_config_free(cfg);
  } else if (err[0] == '\0' || memchr(err, '\n', strlen(err)) != NULL)
    abort(); /* a refusal says why, on one line */
  free_item(&root);
  return 0;
}
