/* wdr_config_parse: every option, the defaults, the Endpoint forms, where
 * the credentials come from, the rerun policy options, and every refused
 * config with its exact error text (which must never show a secret). */
#include "testutil.h"

#include "oconfig_build.h"
#include "wdr_config.h"

#include "collectd/core/daemon/plugin.h" /* NOTIF_* */

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define P "<Plugin wedata_rerun>"
#define W P " <Workflow \"wf\">"
#define M1 W " <Match 1>"

/* What a test has built or parsed; the teardown frees whatever is left, so a
 * failed assertion leaks nothing either. */
static oconfig_item_t *g_root;
static wdr_config_t *g_cfg;
static char g_tmp[8][64];
static int g_tmp_num;

/* The fake environment. */
static const char *g_env_id;
static const char *g_env_key;
static const char *g_env_token;
static const char *g_env_home;
static const char *g_env_profile_file;

static const char *fake_env(const char *name) {
  if (strcmp(name, "HOME") == 0)
    return g_env_home;
  if (strcmp(name, "TENCENTCLOUD_CREDENTIALS_FILE") == 0)
    return g_env_profile_file;
  if (strcmp(name, "TENCENTCLOUD_SECRET_ID") == 0)
    return g_env_id;
  if (strcmp(name, "TENCENTCLOUD_SECRET_KEY") == 0)
    return g_env_key;
  if (strcmp(name, "TENCENTCLOUD_SESSION_TOKEN") == 0)
    return g_env_token;
  fail_msg("unexpected environment variable %s", name);
  return NULL;
}

static int teardown(void **state) {
  (void)state;
  ocb_free(g_root);
  g_root = NULL;
  wdr_config_free(g_cfg);
  g_cfg = NULL;
  for (int i = 0; i < g_tmp_num; i++)
    unlink(g_tmp[i]);
  g_tmp_num = 0;
  g_env_id = g_env_key = g_env_token = NULL;
  g_env_home = g_env_profile_file = NULL;
  return 0;
}

/* Writes len bytes into a new temporary file; the teardown removes it. */
static const char *temp_file(const char *data, size_t len) {
  assert_true(g_tmp_num < 8);
  char *path = g_tmp[g_tmp_num];
  snprintf(path, sizeof(g_tmp[0]), "/tmp/wdr_test_keyXXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  g_tmp_num++;
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  close(fd);
  return path;
}

/* --- building configs --------------------------------------------------- */

/* <Plugin wedata_rerun> with nothing in it. */
static oconfig_item_t *start_bare(void) {
  assert_null(g_root);
  g_root = ocb_add_str(ocb_root("Plugin"), "wedata_rerun");
  return g_root;
}

/* Region and credentials, no Workflow yet. */
static oconfig_item_t *start_creds(void) {
  oconfig_item_t *r = start_bare();
  ocb_str(r, "Region", "ap-guangzhou");
  ocb_str(r, "SecretId", "AKIDtest");
  ocb_str(r, "SecretKey", "keytest");
  return r;
}

/* The three required Workflow options, with a WorkflowId of its own. */
static oconfig_item_t *add_required_id(oconfig_item_t *wf, double execute_type,
                                       const char *workflow_id) {
  ocb_str(wf, "ProjectId", "1001");
  ocb_str(wf, "WorkflowId", workflow_id);
  ocb_num(wf, "ExecuteType", execute_type);
  return wf;
}

/* WorkflowId "wf-123" for the block "wf" (and blocks without a usable
 * name), "wf-<name>" for the others: two blocks may not share one. */
static oconfig_item_t *add_required(oconfig_item_t *wf, double execute_type) {
  char id[128] = "wf-123";
  if (wf->values_num == 1 && wf->values[0].type == OCONFIG_TYPE_STRING &&
      strcmp(wf->values[0].value.string, "wf") != 0)
    snprintf(id, sizeof(id), "wf-%s", wf->values[0].value.string);
  return add_required_id(wf, execute_type, id);
}

static oconfig_item_t *add_match(oconfig_item_t *wf) {
  oconfig_item_t *m = ocb_child(wf, "Match");
  ocb_str(m, "Plugin", "exec");
  return m;
}

/* A valid config with one Workflow "wf" (ExecuteType 1, one Match);
 * returns the Workflow item. */
static oconfig_item_t *start_valid(void) {
  oconfig_item_t *wf =
      add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  add_match(wf);
  return wf;
}

/* A valid config without Region or credentials. */
static oconfig_item_t *start_valid_no_creds(void) {
  oconfig_item_t *r = start_bare();
  add_match(add_required(ocb_str(r, "Workflow", "wf"), 1));
  return r;
}

/* --- parsing ------------------------------------------------------------ */

/* Parses g_root (and frees it), which must succeed; returns the config,
 * which the next parse or the teardown frees. */
static wdr_config_t *parse_ok(wdr_getenv_fn env) {
  char err[1024] = "";
  wdr_config_free(g_cfg);
  g_cfg = NULL;
  if (wdr_config_parse(g_root, env, &g_cfg, err, sizeof(err)) != 0)
    fail_msg("wdr_config_parse failed: %s", err);
  assert_non_null(g_cfg);
  ocb_free(g_root);
  g_root = NULL;
  return g_cfg;
}

/* Parses g_root (and frees it), which must fail with exactly want, and the
 * error must not contain secret (when not NULL). */
static void expect_error_hiding(wdr_getenv_fn env, const char *want,
                                const char *secret) {
  char err[1024] = "";
  wdr_config_t *cfg = NULL;
  assert_int_equal(wdr_config_parse(g_root, env, &cfg, err, sizeof(err)), -1);
  assert_null(cfg);
  assert_string_equal(err, want);
  if (secret != NULL && strstr(err, secret) != NULL)
    fail_msg("the error shows the secret: %s", err);
  ocb_free(g_root);
  g_root = NULL;
}

static void expect_error(const char *want) {
  expect_error_hiding(fake_env, want, NULL);
}

static void assert_pattern(const wdr_pattern_t *p, bool is_regex,
                           const char *text) {
  assert_true(p->set);
  assert_int_equal(p->is_regex, is_regex);
  assert_string_equal(p->text, text);
}

/* --- valid configs ------------------------------------------------------ */

static void test_full_config(void **state) {
  (void)state;
  const char *key_file = temp_file("not-this-key\n", 13);
  oconfig_item_t *r = start_bare();
  ocb_str(r, "Endpoint", "https://wedata.internal.example:8443");
  ocb_str(r, "Region", "ap-shanghai-fsi");
  ocb_str(r, "SecretId", "AKIDfull");
  ocb_str(r, "SecretKey", "keyfull");
  ocb_str(r, "SecretKeyFile", key_file);
  ocb_str(r, "SessionToken", "token.full");
  ocb_str(r, "CACert", "/etc/ssl/wedata-ca.pem");
  ocb_bool(r, "VerifyPeer", 0);
  ocb_num(r, "Timeout", 2.5);
  ocb_str(r, "Language", "en-US");
  ocb_num(r, "QueueLimit", 50);
  ocb_num(r, "Workers", 16);

  oconfig_item_t *wf = ocb_str(r, "Workflow", "etl_daily-1.0");
  ocb_str(wf, "ProjectId", "1460947878944567296");
  ocb_str(wf, "WorkflowId", "4e2e4a1c-wf");
  ocb_num(wf, "ExecuteType", 2);
  ocb_add_str(ocb_add_str(ocb_str(wf, "TaskId", "t1"), "t2"), "t3");
  ocb_str(wf, "TaskId", "t4");
  ocb_add_str(ocb_str(wf, "AdvancedParam", "bizdate"), "20240101");
  ocb_add_str(ocb_str(wf, "AdvancedParam", "mode"), "full reload");
  ocb_str(wf, "SchedulingResourceGroup", "srg-1");
  ocb_str(wf, "IntegrationResourceGroup", "irg-1");
  oconfig_item_t *m = ocb_child(wf, "Match");
  ocb_str(m, "Severity", "Warning");
  ocb_str(m, "Host", "db1.example");
  ocb_str(m, "Plugin", "/^etl_/");
  ocb_str(m, "PluginInstance", "nightly");
  ocb_str(m, "Type", "/^job(_[a-z]+)?$/");
  ocb_str(m, "TypeInstance", "status");
  ocb_str(ocb_child(wf, "Match"), "Plugin", "exec");
  m = ocb_child(wf, "Match");
  ocb_str(m, "Severity", "okay");
  ocb_str(m, "TypeInstance", "/done/");

  wf = ocb_str(r, "Workflow", "second");
  add_match(add_required(wf, 1));

  const wdr_config_t *c = parse_ok(fake_env);
  assert_string_equal(c->endpoint, "https://wedata.internal.example:8443");
  assert_string_equal(c->url, "https://wedata.internal.example:8443/");
  assert_string_equal(c->host_header, "wedata.internal.example:8443");
  assert_string_equal(c->region, "ap-shanghai-fsi");
  assert_string_equal(c->secret_id, "AKIDfull");
  assert_string_equal(c->secret_key, "keyfull"); /* not the file's */
  assert_string_equal(c->secret_key_file, key_file);
  assert_string_equal(c->session_token, "token.full");
  assert_string_equal(c->ca_cert, "/etc/ssl/wedata-ca.pem");
  assert_false(c->verify_peer);
  assert_true(c->timeout == 2.5);
  assert_string_equal(c->language, "en-US");
  assert_int_equal(c->queue_limit, 50);
  assert_int_equal(c->workers, 16);
  assert_int_equal(c->workflows_num, 2);

  const wdr_workflow_cfg_t *w = &c->workflows[0];
  assert_string_equal(w->name, "etl_daily-1.0");
  assert_string_equal(w->project_id, "1460947878944567296");
  assert_string_equal(w->workflow_id, "4e2e4a1c-wf");
  assert_int_equal(w->execute_type, 2);
  assert_int_equal(w->task_ids_num, 4);
  assert_string_equal(w->task_ids[0], "t1");
  assert_string_equal(w->task_ids[1], "t2");
  assert_string_equal(w->task_ids[2], "t3");
  assert_string_equal(w->task_ids[3], "t4");
  assert_int_equal(w->params_num, 2);
  assert_string_equal(w->params[0].key, "bizdate");
  assert_string_equal(w->params[0].value, "20240101");
  assert_string_equal(w->params[1].key, "mode");
  assert_string_equal(w->params[1].value, "full reload");
  assert_string_equal(w->scheduling_rg, "srg-1");
  assert_string_equal(w->integration_rg, "irg-1");
  assert_int_equal(w->matches_num, 3);

  const wdr_match_t *m0 = &w->matches[0];
  assert_int_equal(m0->severity, NOTIF_WARNING);
  assert_pattern(&m0->field[WDR_MATCH_HOST], false, "db1.example");
  assert_pattern(&m0->field[WDR_MATCH_PLUGIN], true, "^etl_");
  assert_pattern(&m0->field[WDR_MATCH_PLUGIN_INSTANCE], false, "nightly");
  assert_pattern(&m0->field[WDR_MATCH_TYPE], true, "^job(_[a-z]+)?$");
  assert_pattern(&m0->field[WDR_MATCH_TYPE_INSTANCE], false, "status");
  /* The regexes are compiled. */
  wdr_match_input_t in = {
      .severity = NOTIF_WARNING,
      .field = {"db1.example", "etl_load", "nightly", "job_batch", "status"}};
  assert_true(wdr_match_eval(m0, &in));
  in.field[WDR_MATCH_TYPE] = "jobs";
  assert_false(wdr_match_eval(m0, &in));

  const wdr_match_t *m1 = &w->matches[1];
  assert_int_equal(m1->severity, NOTIF_FAILURE);
  assert_pattern(&m1->field[WDR_MATCH_PLUGIN], false, "exec");
  assert_false(m1->field[WDR_MATCH_HOST].set);
  assert_false(m1->field[WDR_MATCH_PLUGIN_INSTANCE].set);
  assert_false(m1->field[WDR_MATCH_TYPE].set);
  assert_false(m1->field[WDR_MATCH_TYPE_INSTANCE].set);

  const wdr_match_t *m2 = &w->matches[2];
  assert_int_equal(m2->severity, NOTIF_OKAY);
  assert_pattern(&m2->field[WDR_MATCH_TYPE_INSTANCE], true, "done");

  w = &c->workflows[1];
  assert_string_equal(w->name, "second");
  assert_int_equal(w->execute_type, 1);
  assert_int_equal(w->matches_num, 1);
}

static void test_defaults(void **state) {
  (void)state;
  start_valid();
  const wdr_config_t *c = parse_ok(fake_env);
  assert_string_equal(c->endpoint, "https://wedata.tencentcloudapi.com");
  assert_string_equal(c->url, "https://wedata.tencentcloudapi.com/");
  assert_string_equal(c->host_header, "wedata.tencentcloudapi.com");
  assert_true(c->verify_peer);
  assert_true(c->timeout == 10.0);
  assert_int_equal(c->queue_limit, 16384);
  assert_int_equal(c->workers, 2);
  assert_null(c->secret_key_file);
  assert_null(c->session_token);
  assert_null(c->ca_cert);
  assert_null(c->language);
  assert_int_equal(c->workflows_num, 1);
  const wdr_workflow_cfg_t *w = &c->workflows[0];
  assert_string_equal(w->name, "wf");
  assert_int_equal(w->task_ids_num, 0);
  assert_int_equal(w->params_num, 0);
  assert_null(w->scheduling_rg);
  assert_null(w->integration_rg);
  assert_int_equal(w->matches_num, 1);
  assert_int_equal(w->matches[0].severity, NOTIF_FAILURE);
}

/* Option names and Severity values are case-insensitive. */
static void test_case_insensitive(void **state) {
  (void)state;
  oconfig_item_t *r = start_bare();
  ocb_str(r, "REGION", "ap-guangzhou");
  ocb_str(r, "secretid", "AKIDtest");
  ocb_str(r, "secretKEY", "keytest");
  ocb_bool(r, "verifypeer", 0);
  oconfig_item_t *wf = ocb_str(r, "workflow", "wf");
  ocb_str(wf, "projectid", "1");
  ocb_str(wf, "WORKFLOWID", "2");
  ocb_num(wf, "executetype", 2);
  ocb_str(wf, "taskid", "t");
  ocb_add_str(ocb_str(wf, "advancedparam", "k"), "v");
  oconfig_item_t *m = ocb_child(wf, "MATCH");
  ocb_str(m, "severity", "OKAY");
  ocb_str(m, "typeinstance", "x");
  const wdr_config_t *c = parse_ok(fake_env);
  assert_false(c->verify_peer);
  assert_int_equal(c->workflows[0].task_ids_num, 1);
  assert_int_equal(c->workflows[0].params_num, 1);
  assert_int_equal(c->workflows[0].matches[0].severity, NOTIF_OKAY);
  assert_true(c->workflows[0].matches[0].field[WDR_MATCH_TYPE_INSTANCE].set);
}

/* Values at the edges of their ranges are accepted. */
static void test_range_edges_accepted(void **state) {
  (void)state;
  start_valid();
  ocb_num(g_root, "Timeout", 3600);
  ocb_num(g_root, "QueueLimit", 100000);
  ocb_num(g_root, "Workers", 1);
  ocb_str(g_root, "Language", "zh-CN");
  const wdr_config_t *c = parse_ok(fake_env);
  assert_true(c->timeout == 3600);
  assert_int_equal(c->queue_limit, 100000);
  assert_int_equal(c->workers, 1);
  assert_string_equal(c->language, "zh-CN");

  start_valid();
  ocb_num(g_root, "Timeout", 0.25);
  ocb_num(g_root, "QueueLimit", 1);
  c = parse_ok(fake_env);
  assert_true(c->timeout == 0.25);
  assert_int_equal(c->queue_limit, 1);

  /* ExecuteType 2 needs no TaskId; an AdvancedParam value may be empty. */
  oconfig_item_t *wf =
      add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_str(ocb_str(wf, "AdvancedParam", "k"), "");
  add_match(wf);
  c = parse_ok(fake_env);
  assert_int_equal(c->workflows[0].task_ids_num, 0);
  assert_string_equal(c->workflows[0].params[0].value, "");

  /* Longest string and longest Workflow name. */
  char text[1025];
  memset(text, 'a', 1024);
  text[1024] = '\0';
  char name[64];
  memset(name, 'n', 63);
  name[63] = '\0';
  wf = add_required(ocb_str(start_creds(), "Workflow", name), 1);
  add_match(wf);
  ocb_str(g_root, "CACert", text);
  c = parse_ok(fake_env);
  assert_string_equal(c->workflows[0].name, name);
  assert_string_equal(c->ca_cert, text);
}

/* --- Endpoint ----------------------------------------------------------- */

static void endpoint_ok(const char *endpoint, const char *url,
                        const char *host) {
  start_valid();
  ocb_str(g_root, "Endpoint", endpoint);
  const wdr_config_t *c = parse_ok(fake_env);
  assert_string_equal(c->endpoint, endpoint);
  assert_string_equal(c->url, url);
  assert_string_equal(c->host_header, host);
}

static void endpoint_error(const char *endpoint, const char *what) {
  char want[512];
  snprintf(want, sizeof(want), P ": option \"Endpoint\": \"%s\"%s", endpoint,
           what);
  start_valid();
  ocb_str(g_root, "Endpoint", endpoint);
  expect_error(want);
}

static void test_endpoint_forms(void **state) {
  (void)state;
  endpoint_ok("https://h:8443", "https://h:8443/", "h:8443");
  endpoint_ok("https://h:8443/", "https://h:8443/", "h:8443");
  endpoint_ok("https://wedata.tencentcloudapi.com:443",
              "https://wedata.tencentcloudapi.com/",
              "wedata.tencentcloudapi.com");
  endpoint_ok("http://127.0.0.1:8080", "http://127.0.0.1:8080/",
              "127.0.0.1:8080");
  endpoint_ok("http://h:80", "http://h/", "h");
  endpoint_ok("http://h:443", "http://h:443/", "h:443");
  endpoint_ok("https://h:80", "https://h:80/", "h:80");
  endpoint_ok("https://h:08443", "https://h:8443/", "h:8443");
  endpoint_ok("https://h:65535", "https://h:65535/", "h:65535");
  endpoint_ok("HTTPS://WeData.Example.COM:8443/",
              "https://wedata.example.com:8443/", "wedata.example.com:8443");
  endpoint_ok("Http://LOCALHOST", "http://localhost/", "localhost");
  endpoint_ok("https://wedata.ap-guangzhou.tencentcloudapi.com/",
              "https://wedata.ap-guangzhou.tencentcloudapi.com/",
              "wedata.ap-guangzhou.tencentcloudapi.com");
}

static void test_endpoint_errors(void **state) {
  (void)state;
  const char *path = ": only scheme, host and port are allowed (API 3.0 "
                     "always posts to /)";
  endpoint_error("https://h/v3", path);
  endpoint_error("https://h:8443/x", path);
  endpoint_error("https://h//", path);
  endpoint_error("https://h?a=1", path);
  endpoint_error("https://h/?a=1", path);
  endpoint_error("https://h#top", path);
  endpoint_error("https://h:80a", path); /* digits, then not a path */
  endpoint_error("https://", " has no host");
  endpoint_error("https:///", " has no host");
  endpoint_error("https://:8443", " has no host");
  endpoint_error("http://?x", " has no host");
  endpoint_error("https://h:0", " has an invalid port");
  endpoint_error("https://h:70000", " has an invalid port");
  endpoint_error("https://h:65536", " has an invalid port");
  endpoint_error("https://h:123456", " has an invalid port");
  endpoint_error("https://h:abc", " has an invalid port");
  endpoint_error("https://h:", " has an invalid port");
  endpoint_error("https://h:-1", " has an invalid port");
  endpoint_error("https://user@h", " has an invalid host");
  endpoint_error("https://h_1", " has an invalid host");
  endpoint_error("https://[::1]:8443", " has an invalid host");
  endpoint_error("ftp://h", " is not an http:// or https:// URL");
  endpoint_error("wedata.tencentcloudapi.com",
                 " is not an http:// or https:// URL");
  endpoint_error("https:/h", " is not an http:// or https:// URL");
  endpoint_error("httpss://h", " is not an http:// or https:// URL");
}

/* --- credentials -------------------------------------------------------- */

static void test_credentials_from_env(void **state) {
  (void)state;
  g_env_id = "AKIDenv";
  g_env_key = "keyenv";
  g_env_token = "tokenenv";
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  const wdr_config_t *c = parse_ok(fake_env);
  assert_string_equal(c->secret_id, "AKIDenv");
  assert_string_equal(c->secret_key, "keyenv");
  assert_string_equal(c->session_token, "tokenenv");

  /* Empty environment variables count as unset. */
  g_env_token = "";
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  c = parse_ok(fake_env);
  assert_null(c->session_token);
}

static void test_credentials_config_wins(void **state) {
  (void)state;
  g_env_id = "AKIDenv";
  g_env_key = "keyenv";
  g_env_token = "tokenenv";
  start_valid();
  ocb_str(g_root, "SessionToken", "tokencfg");
  const wdr_config_t *c = parse_ok(fake_env);
  assert_string_equal(c->secret_id, "AKIDtest");
  assert_string_equal(c->secret_key, "keytest");
  assert_string_equal(c->session_token, "tokencfg");

  /* A token belongs to its temporary key: the environment's token is not
   * paired with the config's key. */
  start_valid();
  c = parse_ok(fake_env);
  assert_string_equal(c->secret_id, "AKIDtest");
  assert_string_equal(c->secret_key, "keytest");
  assert_null(c->session_token);

  /* Key and token both from the environment go together. */
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  c = parse_ok(fake_env);
  assert_string_equal(c->secret_id, "AKIDenv");
  assert_string_equal(c->secret_key, "keyenv");
  assert_string_equal(c->session_token, "tokenenv");

  assert_int_equal(c->cred_from, WDR_CRED_ENV);
  assert_string_equal(c->cred_origin, "the environment");

  /* A source is taken whole: a SecretId in the config does not borrow the
   * environment's key. */
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretId", "AKIDcfg");
  expect_error(P ": no SecretKey: set SecretKey or SecretKeyFile with "
                 "SecretId");

  /* No get_env at all is fine when the config has everything. */
  start_valid();
  c = parse_ok(NULL);
  assert_string_equal(c->secret_key, "keytest");
  assert_null(c->session_token);
}

/* A HOME with .tencentcloud/credentials holding text, mode mode; returns
 * HOME. remove_home() takes it away again. */
static char g_home[64];
static const char *make_home(const char *text, mode_t mode) {
  char path[128];
  snprintf(g_home, sizeof(g_home), "/tmp/wdr_test_homeXXXXXX");
  assert_non_null(mkdtemp(g_home));
  snprintf(path, sizeof(path), "%s/.tencentcloud", g_home);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof(path), "%s/.tencentcloud/credentials", g_home);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  assert_int_equal(chmod(path, mode), 0);
  return g_home;
}

static void remove_home(void) {
  char path[128];
  snprintf(path, sizeof(path), "%s/.tencentcloud/credentials", g_home);
  unlink(path);
  snprintf(path, sizeof(path), "%s/.tencentcloud", g_home);
  rmdir(path);
  rmdir(g_home);
}

static void start_no_creds_region(void) {
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
}

/* Step 3 of the chain, and CredentialSource pinning one step. */
static void test_credentials_from_profile(void **state) {
  (void)state;
  g_env_home = make_home("# tccli\r\n[default]\r\nsecret_id = AKIDprof\r\n"
                         "secret_key = keyprof\r\n[ops]\nsecret_id=AKIDops\n"
                         "secret_key=keyops\ntoken=tokops\n",
                         0600);
  start_no_creds_region();
  const wdr_config_t *c = parse_ok(fake_env);
  assert_string_equal(c->secret_id, "AKIDprof");
  assert_string_equal(c->secret_key, "keyprof");
  assert_null(c->session_token);
  assert_int_equal(c->cred_from, WDR_CRED_PROFILE);
  char want[512];
  snprintf(want, sizeof(want),
           "profile file \"%s/.tencentcloud/credentials\", section [default]",
           g_env_home);
  assert_string_equal(c->cred_origin, want);
  assert_string_equal(c->cred_warning, "");

  start_no_creds_region();
  ocb_str(g_root, "Profile", "ops");
  c = parse_ok(fake_env);
  assert_string_equal(c->secret_id, "AKIDops");
  assert_string_equal(c->session_token, "tokops");

  /* The environment comes first, unless the profile is asked for. */
  g_env_id = "AKIDenv";
  g_env_key = "keyenv";
  start_no_creds_region();
  c = parse_ok(fake_env);
  assert_string_equal(c->secret_id, "AKIDenv");
  start_no_creds_region();
  ocb_str(g_root, "CredentialSource", "profile");
  c = parse_ok(fake_env);
  assert_string_equal(c->secret_id, "AKIDprof");
  g_env_id = g_env_key = NULL;

  /* A section that is not there: the last step, the CVM role. */
  start_no_creds_region();
  ocb_str(g_root, "Profile", "missing");
  c = parse_ok(fake_env);
  assert_int_equal(c->cred_from, WDR_CRED_CVM_ROLE);
  assert_null(c->secret_id);
  snprintf(want, sizeof(want),
           "the CVM role the service names (metadata service "
           "http://metadata.tencentyun.com); nothing in the config, the "
           "environment or a profile file [missing] (looked at "
           "%s/.tencentcloud/credentials, /etc/tencentcloud/credentials)",
           g_env_home);
  assert_string_equal(c->cred_origin, want);
  start_no_creds_region();
  ocb_str(g_root, "Profile", "missing");
  ocb_str(g_root, "CredentialSource", "profile");
  snprintf(want, sizeof(want),
           P ": CredentialSource \"profile\", but no profile file has a "
             "section [missing] (looked at %s/.tencentcloud/credentials, "
             "/etc/tencentcloud/credentials)",
           g_env_home);
  expect_error(want);
  remove_home();

  /* Readable by others: taken, with a warning for the log. */
  g_env_home = make_home("[default]\nsecret_id=a\nsecret_key=b\n", 0644);
  start_no_creds_region();
  c = parse_ok(fake_env);
  snprintf(want, sizeof(want),
           "the profile file \"%s/.tencentcloud/credentials\" is open to "
           "group or others (mode 644): chmod 600 it",
           g_env_home);
  assert_string_equal(c->cred_warning, want);
  remove_home();

  /* A broken section the operator meant is an error naming the line. */
  g_env_home = make_home("[default]\nsecret_id = AKIDx\nsecret_key\n", 0600);
  start_no_creds_region();
  snprintf(want, sizeof(want),
           P ": profile file \"%s/.tencentcloud/credentials\": line 3 in "
             "[default]: not 'key = value'",
           g_env_home);
  expect_error(want);
  remove_home();
  g_env_home = NULL;

  /* A file named by TENCENTCLOUD_CREDENTIALS_FILE must be there. */
  g_env_profile_file = "/nonexistent/wdr-profile";
  start_no_creds_region();
  expect_error(P ": profile file \"/nonexistent/wdr-profile\" cannot be "
                 "read: No such file or directory (named by "
                 "TENCENTCLOUD_CREDENTIALS_FILE)");
  const char *named = "[default]\nsecret_id=AKIDnamed\nsecret_key=k\n";
  g_env_profile_file = temp_file(named, strlen(named));
  start_no_creds_region();
  c = parse_ok(fake_env);
  assert_string_equal(c->secret_id, "AKIDnamed");
  g_env_profile_file = NULL;
}

static void test_credential_source_option(void **state) {
  (void)state;
  start_no_creds_region();
  ocb_str(g_root, "CredentialSource", "vault");
  expect_error(P ": option \"CredentialSource\": \"vault\" is not config, "
                 "env, profile or cvm-role");
  /* The CVM role, pinned, with a role and a local metadata service. */
  g_env_id = "AKIDenv"; /* not looked at */
  g_env_key = "keyenv";
  start_no_creds_region();
  ocb_str(g_root, "CredentialSource", "cvm-role");
  ocb_str(g_root, "RoleName", "wedata-role");
  ocb_str(g_root, "MetadataEndpoint", "http://127.0.0.1:8080");
  const wdr_config_t *role = parse_ok(fake_env);
  assert_int_equal(role->cred_from, WDR_CRED_CVM_ROLE);
  assert_null(role->secret_id);
  assert_string_equal(role->role_name, "wedata-role");
  assert_string_equal(role->cred_origin,
                      "the CVM role \"wedata-role\" (metadata service "
                      "http://127.0.0.1:8080)");
  g_env_id = g_env_key = NULL;
  const char *bad[] = {"metadata.tencentyun.com",
                       "ftp://x",
                       "http://",
                       "http://host/latest",
                       "http://u@host",
                       "http://:80",
                       "http://host?x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    start_no_creds_region();
    ocb_str(g_root, "MetadataEndpoint", bad[i]);
    char want[256];
    snprintf(want, sizeof(want),
             P ": option \"MetadataEndpoint\": \"%s\" is not http:// or "
               "https:// with a host and an optional port (no path)",
             bad[i]);
    expect_error(want);
  }
  start_valid();
  ocb_str(g_root, "CredentialSource", "env");
  expect_error(P ": CredentialSource \"env\", but the config sets SecretId, "
                 "SecretKey, SecretKeyFile or SessionToken: remove them or "
                 "the option");
  start_no_creds_region();
  ocb_str(g_root, "CredentialSource", "env");
  expect_error(P ": CredentialSource \"env\", but TENCENTCLOUD_SECRET_ID and "
                 "TENCENTCLOUD_SECRET_KEY are not set");
  start_no_creds_region();
  ocb_str(g_root, "CredentialSource", "config");
  expect_error(P ": no SecretId: set SecretId with SecretKey or SecretKeyFile "
                 "(or leave all of them out for the environment or the "
                 "profile file)");
  g_env_key = "keyenv";
  start_no_creds_region();
  expect_error(P ": TENCENTCLOUD_SECRET_KEY is set but not "
                 "TENCENTCLOUD_SECRET_ID");
  g_env_key = NULL;
  start_valid();
  ocb_str(g_root, "CredentialSource", "Config");
  const wdr_config_t *c = parse_ok(fake_env);
  assert_int_equal(c->cred_source, WDR_CRED_CONFIG);
  assert_int_equal(c->cred_from, WDR_CRED_CONFIG);
  assert_string_equal(c->cred_origin, "the config");
}

static void test_secret_key_file(void **state) {
  (void)state;
  const char *lf = temp_file("filekey-lf\n", 11);
  const char *crlf = temp_file("filekey-crlf\r\n", 14);
  const char *bare = temp_file("filekey-bare", 12);
  const char *many = temp_file("filekey-many\r\n\n\r", 16);
  const char *files[] = {lf, crlf, bare, many};
  const char *keys[] = {"filekey-lf", "filekey-crlf", "filekey-bare",
                        "filekey-many"};
  g_env_key = "keyenv";
  for (int i = 0; i < 4; i++) {
    start_valid_no_creds();
    ocb_str(g_root, "Region", "ap-guangzhou");
    ocb_str(g_root, "SecretId", "AKIDtest");
    ocb_str(g_root, "SecretKeyFile", files[i]);
    const wdr_config_t *c = parse_ok(fake_env); /* file beats env */
    assert_string_equal(c->secret_key, keys[i]);
    assert_string_equal(c->secret_key_file, files[i]);
  }

  /* SecretKey beats SecretKeyFile: the file is not even read. */
  start_valid();
  ocb_str(g_root, "SecretKeyFile", "/nonexistent/wdr-key");
  const wdr_config_t *c = parse_ok(fake_env);
  assert_string_equal(c->secret_key, "keytest");

  /* The largest file accepted: 4096 bytes. */
  char *big = malloc(4098);
  assert_non_null(big);
  memset(big, 'k', 4097);
  const char *max = temp_file(big, 4096);
  free(big);
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretId", "AKIDtest");
  ocb_str(g_root, "SecretKeyFile", max);
  c = parse_ok(fake_env);
  assert_int_equal(strlen(c->secret_key), 4096);
}

static void key_file_error(const char *path, const char *what) {
  char want[512];
  snprintf(want, sizeof(want), P ": option \"SecretKeyFile\": %s", what);
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretId", "AKIDtest");
  ocb_str(g_root, "SecretKeyFile", path);
  expect_error(want);
}

static void test_secret_key_file_errors(void **state) {
  (void)state;
  char want[256];
  g_env_key = "keyenv"; /* not a fallback for a broken file */
  key_file_error("/nonexistent/wdr-key",
                 "cannot read \"/nonexistent/wdr-key\": No such file or "
                 "directory");
  key_file_error("/", "cannot read \"/\": Is a directory");

  const char *empty = temp_file("", 0);
  snprintf(want, sizeof(want), "\"%s\" holds no key", empty);
  key_file_error(empty, want);

  const char *newline = temp_file("\r\n", 2);
  snprintf(want, sizeof(want), "\"%s\" holds no key", newline);
  key_file_error(newline, want);

  const char *nul = temp_file("secret\0key\n", 11);
  snprintf(want, sizeof(want), "\"%s\" holds no key", nul);
  key_file_error(nul, want);

  char *big = malloc(4097);
  assert_non_null(big);
  memset(big, 'k', 4096);
  big[4096] = '\n'; /* 4096 bytes of key and a newline: one too many */
  const char *large = temp_file(big, 4097);
  free(big);
  snprintf(want, sizeof(want), "\"%s\" is larger than 4096 bytes", large);
  key_file_error(large, want);
}

static void test_missing_credentials(void **state) {
  (void)state;
  const char *no_id =
      P ": no SecretId: set SecretId with SecretKey or SecretKeyFile (or "
        "leave all of them out for the environment or the profile file)";
  const char *no_key =
      P ": no SecretKey: set SecretKey or SecretKeyFile with SecretId";
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretKey", "keytest");
  expect_error(no_id);

  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretKey", "keytest");
  expect_error_hiding(NULL, no_id, NULL);

  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretId", "AKIDtest");
  expect_error(no_key);

  g_env_key = "";
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretId", "AKIDtest");
  expect_error(no_key);

  /* A token alone is no key. */
  g_env_token = "tokenenv";
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretId", "AKIDtest");
  expect_error(no_key);
}

/* Every error about a key or token, and none shows it. */
static void test_secrets_never_shown(void **state) {
  (void)state;
  const char *bad_key = P ": the SecretKey contains white space or control "
                          "characters";
  const char *secret = "Zq8sEcReT";

  start_valid();
  ocb_str(g_root, "SecretKey", "Zq8sEcReT with space");
  expect_error_hiding(
      fake_env, P ": option \"SecretKey\" is given more than once", secret);

  oconfig_item_t *r = start_bare();
  ocb_str(r, "SecretKey", "Zq8sEcReT with space");
  ocb_str(r, "Region", "ap-guangzhou");
  ocb_str(r, "SecretId", "AKIDtest");
  add_match(add_required(ocb_str(r, "Workflow", "wf"), 1));
  expect_error_hiding(fake_env, bad_key, secret);

  r = start_bare();
  ocb_str(r, "SecretKey", " Zq8sEcReT");
  ocb_str(r, "Region", "ap-guangzhou");
  ocb_str(r, "SecretId", "AKIDtest");
  add_match(add_required(ocb_str(r, "Workflow", "wf"), 1));
  expect_error_hiding(fake_env, bad_key, secret);

  const char *controls[] = {"Zq8sEcReT\tx", "Zq8sEcReT\n", "Zq8sEcReT\x7f",
                            "\x01Zq8sEcReT"};
  for (int i = 0; i < 4; i++) {
    r = start_bare();
    ocb_str(r, "SecretKey", controls[i]);
    expect_error_hiding(
        fake_env,
        P
        ": option \"SecretKey\" contains a control character or invalid UTF-8",
        secret);
    r = start_bare();
    ocb_str(r, "SessionToken", controls[i]);
    expect_error_hiding(fake_env,
                        P ": option \"SessionToken\" contains a control "
                          "character or invalid UTF-8",
                        secret);
  }

  /* From the environment and from the key file. */
  g_env_id = "AKIDtest";
  g_env_key = "Zq8sEcReT from env";
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  expect_error_hiding(fake_env, bad_key, secret);
  g_env_key = NULL;
  g_env_id = NULL;

  const char *file = temp_file("Zq8sEcReT from file\n", 20);
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretId", "AKIDtest");
  ocb_str(g_root, "SecretKeyFile", file);
  expect_error_hiding(fake_env, bad_key, secret);

  start_valid();
  ocb_str(g_root, "SessionToken", "Zq8sEcReT token");
  expect_error_hiding(
      fake_env,
      P ": the SessionToken contains white space or control characters",
      secret);

  g_env_token = "Zq8sEcReT\ttoken";
  g_env_key = "keyenv";
  g_env_id = "AKIDtest";
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  expect_error_hiding(
      fake_env,
      P ": the SessionToken contains white space or control characters",
      secret);
  g_env_token = NULL;
  g_env_key = NULL;
  g_env_id = NULL;

  /* Wrong shapes of the option. */
  r = start_bare();
  ocb_add_str(ocb_str(r, "SecretKey", "Zq8sEcReT"), "Zq8sEcReT");
  expect_error_hiding(
      fake_env, P ": option \"SecretKey\" needs one string value", secret);
  r = start_bare();
  ocb_add_num(ocb_str(r, "SessionToken", "Zq8sEcReT"), 1);
  expect_error_hiding(
      fake_env, P ": option \"SessionToken\" needs one string value", secret);

  char long_key[1100];
  memset(long_key, 'k', sizeof(long_key) - 1);
  long_key[sizeof(long_key) - 1] = '\0';
  memcpy(long_key, secret, strlen(secret));
  r = start_bare();
  ocb_str(r, "SecretKey", long_key);
  expect_error_hiding(
      fake_env, P ": option \"SecretKey\" is longer than 1024 bytes", secret);

  /* A later, unrelated error does not show the key either. */
  r = start_bare();
  ocb_str(r, "SecretKey", "Zq8sEcReT");
  ocb_str(r, "SecretId", "AKIDtest");
  add_match(add_required(ocb_str(r, "Workflow", "wf"), 1));
  expect_error_hiding(fake_env, P ": missing required option \"Region\"",
                      secret);

  /* The SecretId is no secret: it is checked, but it may be shown. */
  start_valid_no_creds();
  ocb_str(g_root, "Region", "ap-guangzhou");
  ocb_str(g_root, "SecretId", "AKID test");
  ocb_str(g_root, "SecretKey", "keytest");
  expect_error(P ": the SecretId contains white space or control characters");
}

/* --- refused configs ---------------------------------------------------- */

static void test_unknown_options(void **state) {
  (void)state;
  const char *plugin_level[] = {"Foo", "ProjectId", "Match", "TaskId",
                                "Severity"};
  char want[256];
  for (size_t i = 0; i < 5; i++) {
    start_valid();
    ocb_str(g_root, plugin_level[i], "x");
    snprintf(want, sizeof(want), P ": unknown option \"%s\"", plugin_level[i]);
    expect_error(want);
  }
  const char *workflow_level[] = {"Foo", "Region", "Workflow", "Severity",
                                  "Host"};
  for (size_t i = 0; i < 5; i++) {
    ocb_str(start_valid(), workflow_level[i], "x");
    snprintf(want, sizeof(want), W ": unknown option \"%s\"",
             workflow_level[i]);
    expect_error(want);
  }
  const char *match_level[] = {"Foo", "Message", "Match", "TaskId",
                               "TypeInstances"};
  for (size_t i = 0; i < 5; i++) {
    oconfig_item_t *wf = start_valid();
    ocb_str(&wf->children[3], match_level[i], "x");
    snprintf(want, sizeof(want), M1 ": unknown option \"%s\"", match_level[i]);
    expect_error(want);
  }
  /* The second Match block is named as such. */
  oconfig_item_t *wf = start_valid();
  ocb_str(add_match(wf), "Plugin2", "x");
  expect_error(W " <Match 2>: unknown option \"Plugin2\"");
}

typedef struct {
  const char *key;
  int type;
  const char *s;
  double d;
} opt_case_t;

#define S OCONFIG_TYPE_STRING
#define N OCONFIG_TYPE_NUMBER
#define B OCONFIG_TYPE_BOOLEAN

static const opt_case_t plugin_cases[] = {
    {"Endpoint", S, "https://h", 0},
    {"Region", S, "ap-guangzhou", 0},
    {"SecretId", S, "AKID", 0},
    {"SecretKey", S, "key", 0},
    {"SecretKeyFile", S, "/k", 0},
    {"SessionToken", S, "token", 0},
    {"CACert", S, "/ca.pem", 0},
    {"VerifyPeer", B, NULL, 1},
    {"Timeout", N, NULL, 5},
    {"Language", S, "en-US", 0},
    {"QueueLimit", N, NULL, 10},
    {"Workers", N, NULL, 3},
    {"MaxRequestRetries", N, NULL, 2},
    {"RateLimit", N, NULL, 5},
    {"BreakerThreshold", N, NULL, 4},
    {"BreakerCooldown", N, NULL, 30},
    {"DryRun", B, NULL, 1},
    {"StateFile", S, "/var/lib/w.state", 0},
    {"StateRetention", N, NULL, 3600},
    {"AsyncPollInterval", N, NULL, 5},
    {"AsyncTimeout", N, NULL, 60},
};

static const opt_case_t workflow_cases[] = {
    {"ProjectId", S, "1", 0},
    {"WorkflowId", S, "2", 0},
    {"ExecuteType", N, NULL, 2},
    {"SchedulingResourceGroup", S, "srg", 0},
    {"IntegrationResourceGroup", S, "irg", 0},
    {"MaxAttempts", N, NULL, 2},
    {"RetryInterval", N, NULL, 30},
    {"MaxRetryInterval", N, NULL, 600},
    {"MaxRerunsPerHour", N, NULL, 5},
    {"DryRun", B, NULL, 1},
    {"TrackAsync", B, NULL, 1},
};

#define CASES_NUM(a) (sizeof(a) / sizeof((a)[0]))

static oconfig_item_t *add_value(oconfig_item_t *it, const opt_case_t *o) {
  if (o->type == S)
    return ocb_add_str(it, o->s);
  if (o->type == N)
    return ocb_add_num(it, o->d);
  return ocb_add_bool(it, (int)o->d);
}

static void test_options_given_twice(void **state) {
  (void)state;
  char want[256];
  for (size_t i = 0; i < CASES_NUM(plugin_cases); i++) {
    const opt_case_t *o = &plugin_cases[i];
    oconfig_item_t *r = start_bare();
    add_value(ocb_child(r, o->key), o);
    add_value(ocb_child(r, o->key), o);
    snprintf(want, sizeof(want), P ": option \"%s\" is given more than once",
             o->key);
    expect_error(want);
  }
  for (size_t i = 0; i < CASES_NUM(workflow_cases); i++) {
    const opt_case_t *o = &workflow_cases[i];
    oconfig_item_t *wf = ocb_str(start_creds(), "Workflow", "wf");
    add_value(ocb_child(wf, o->key), o);
    add_value(ocb_child(wf, o->key), o);
    snprintf(want, sizeof(want), W ": option \"%s\" is given more than once",
             o->key);
    expect_error(want);
  }
  const char *match_keys[] = {"Severity",       "Host", "Plugin",
                              "PluginInstance", "Type", "TypeInstance"};
  for (size_t i = 0; i < 6; i++) {
    oconfig_item_t *wf =
        add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
    oconfig_item_t *m = ocb_child(wf, "Match");
    ocb_str(m, match_keys[i], "failure");
    ocb_str(m, match_keys[i], "failure");
    snprintf(want, sizeof(want), M1 ": option \"%s\" is given more than once",
             match_keys[i]);
    expect_error(want);
  }
  /* The message names the option as the second occurrence spells it. */
  oconfig_item_t *r = start_bare();
  ocb_str(r, "Region", "ap-guangzhou");
  ocb_str(r, "REGION", "ap-guangzhou");
  expect_error(P ": option \"REGION\" is given more than once");
}

static void test_wrong_value_types(void **state) {
  (void)state;
  char want[256];
  for (size_t i = 0; i < CASES_NUM(plugin_cases); i++) {
    const opt_case_t *o = &plugin_cases[i];
    const char *needs = o->type == S   ? "needs one string value"
                        : o->type == N ? "needs one number"
                                       : "needs true or false";
    snprintf(want, sizeof(want), P ": option \"%s\" %s", o->key, needs);
    /* the wrong type */
    oconfig_item_t *r = start_bare();
    if (o->type == S)
      ocb_num(r, o->key, 1);
    else
      ocb_str(r, o->key, o->type == N ? "5" : "true");
    expect_error(want);
    /* a boolean for a string or number, a number for a boolean */
    r = start_bare();
    if (o->type == B)
      ocb_num(r, o->key, 1);
    else
      ocb_bool(r, o->key, 1);
    expect_error(want);
    /* no value */
    ocb_child(start_bare(), o->key);
    expect_error(want);
    /* two values */
    add_value(add_value(ocb_child(start_bare(), o->key), o), o);
    expect_error(want);
  }
  for (size_t i = 0; i < CASES_NUM(workflow_cases); i++) {
    const opt_case_t *o = &workflow_cases[i];
    snprintf(want, sizeof(want), W ": option \"%s\" %s", o->key,
             o->type == S   ? "needs one string value"
             : o->type == N ? "needs one number"
                            : "needs true or false");
    oconfig_item_t *wf = ocb_str(start_creds(), "Workflow", "wf");
    if (o->type == S)
      ocb_num(wf, o->key, 1);
    else
      ocb_str(wf, o->key, "2");
    expect_error(want);
    ocb_child(ocb_str(start_creds(), "Workflow", "wf"), o->key);
    expect_error(want);
    wf = ocb_str(start_creds(), "Workflow", "wf");
    add_value(add_value(ocb_child(wf, o->key), o), o);
    expect_error(want);
  }

  /* TaskId: one or more non-empty strings. */
  oconfig_item_t *wf =
      add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_child(wf, "TaskId");
  expect_error(W ": option \"TaskId\" needs at least one string value");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_num(ocb_str(wf, "TaskId", "t1"), 2);
  expect_error(W ": option \"TaskId\": value 2 is not a non-empty string");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_str(ocb_str(wf, "TaskId", "t1"), "");
  expect_error(W ": option \"TaskId\": value 2 is not a non-empty string");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_bool(wf, "TaskId", 1);
  expect_error(W ": option \"TaskId\": value 1 is not a non-empty string");

  /* AdvancedParam: a non-empty key and a value, both strings. */
  const char *param = W ": option \"AdvancedParam\" needs two strings: a "
                        "non-empty key and a value";
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_str(wf, "AdvancedParam", "k");
  expect_error(param);
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_child(wf, "AdvancedParam");
  expect_error(param);
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_str(ocb_add_str(ocb_str(wf, "AdvancedParam", "k"), "v"), "w");
  expect_error(param);
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_str(ocb_str(wf, "AdvancedParam", ""), "v");
  expect_error(param);
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_num(ocb_str(wf, "AdvancedParam", "k"), 1);
  expect_error(param);
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_str(ocb_num(wf, "AdvancedParam", 1), "v");
  expect_error(param);

  /* Match: string fields, no argument. */
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  ocb_num(ocb_child(wf, "Match"), "Host", 1);
  expect_error(M1 ": option \"Host\" needs one string value");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  ocb_add_str(ocb_str(ocb_child(wf, "Match"), "Type", "a"), "b");
  expect_error(M1 ": option \"Type\" needs one string value");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  ocb_num(ocb_child(wf, "Match"), "Severity", 1);
  expect_error(M1 ": option \"Severity\" needs one string value");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  ocb_child(ocb_child(wf, "Match"), "Severity");
  expect_error(M1 ": option \"Severity\" needs one string value");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  ocb_str(ocb_str(wf, "Match", "x"), "Plugin", "exec");
  expect_error(M1 ": <Match> takes no argument");
}

static void test_missing_required(void **state) {
  (void)state;
  oconfig_item_t *r = start_bare();
  ocb_str(r, "SecretId", "AKIDtest");
  ocb_str(r, "SecretKey", "keytest");
  add_match(add_required(ocb_str(r, "Workflow", "wf"), 1));
  expect_error(P ": missing required option \"Region\"");

  const char *required[] = {"ProjectId", "WorkflowId", "ExecuteType"};
  char want[256];
  for (int skip = 0; skip < 3; skip++) {
    oconfig_item_t *wf = ocb_str(start_creds(), "Workflow", "wf");
    if (skip != 0)
      ocb_str(wf, "ProjectId", "1");
    if (skip != 1)
      ocb_str(wf, "WorkflowId", "2");
    if (skip != 2)
      ocb_num(wf, "ExecuteType", 1);
    add_match(wf);
    snprintf(want, sizeof(want), W ": missing required option \"%s\"",
             required[skip]);
    expect_error(want);
  }

  start_creds();
  expect_error(P ": no <Workflow> block: there is nothing to watch");

  add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  expect_error(W ": no <Match> block and no Poll: nothing would ever "
                 "trigger a rerun");

  /* An empty Workflow: the first required option is named. */
  ocb_str(start_creds(), "Workflow", "wf");
  expect_error(W ": missing required option \"ProjectId\"");
}

static void test_execute_type(void **state) {
  (void)state;
  const double bad[] = {3, 1.5, 0, -1, 2.0001};
  const char *shown[] = {"3", "1.5", "0", "-1", "2.0001"};
  char want[256];
  for (int i = 0; i < 5; i++) {
    add_match(add_required(ocb_str(start_creds(), "Workflow", "wf"), bad[i]));
    snprintf(want, sizeof(want),
             W ": option \"ExecuteType\": %s is not a whole number from 1 "
               "to 2",
             shown[i]);
    expect_error(want);
  }

  oconfig_item_t *wf =
      add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  ocb_str(wf, "TaskId", "t1");
  add_match(wf);
  expect_error(W ": option \"TaskId\" needs ExecuteType 2 (advanced run); "
                 "ExecuteType is 1");

  /* The order of the options does not matter. */
  wf = ocb_str(start_creds(), "Workflow", "wf");
  ocb_str(wf, "TaskId", "t1");
  add_match(add_required(wf, 1));
  expect_error(W ": option \"TaskId\" needs ExecuteType 2 (advanced run); "
                 "ExecuteType is 1");

  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  ocb_add_str(ocb_str(wf, "AdvancedParam", "k"), "v");
  add_match(wf);
  expect_error(W ": option \"AdvancedParam\" needs ExecuteType 2 (advanced "
                 "run); ExecuteType is 1");

  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_str(wf, "AdvancedParam", "k");
  add_match(wf);
  expect_error(W ": option \"AdvancedParam\" needs two strings: a non-empty "
                 "key and a value");
}

static void test_workflow_names(void **state) {
  (void)state;
  const char *bad_name = P ": <Workflow> needs one name of 1 to 63 letters, "
                           "digits, '_', '.' or '-'";
  char long_name[65];
  memset(long_name, 'n', 64);
  long_name[64] = '\0';
  const char *bad[] = {"", "a/b", "a b", long_name, "wf\n", "a:b", "\xc3\xa9"};
  for (size_t i = 0; i < 7; i++) {
    add_match(add_required(ocb_str(start_creds(), "Workflow", bad[i]), 1));
    expect_error(bad_name);
  }
  add_match(add_required(ocb_num(start_creds(), "Workflow", 1), 1));
  expect_error(bad_name);
  add_match(add_required(ocb_child(start_creds(), "Workflow"), 1));
  expect_error(bad_name);
  oconfig_item_t *wf =
      ocb_add_str(ocb_str(start_creds(), "Workflow", "a"), "b");
  add_match(add_required(wf, 1));
  expect_error(bad_name);

  start_valid();
  add_match(add_required(ocb_str(g_root, "Workflow", "other"), 1));
  add_match(add_required(ocb_str(g_root, "Workflow", "wf"), 1));
  expect_error(P ": <Workflow \"wf\"> is defined more than once");

  /* Two blocks for one workflow: one failure would be rerun twice. The
   * same WorkflowId in another project is another workflow. */
  start_valid();
  add_match(add_required_id(ocb_str(g_root, "Workflow", "again"), 2, "wf-123"));
  expect_error(P ": <Workflow \"wf\"> and <Workflow \"again\"> both watch "
                 "WorkflowId \"wf-123\" of ProjectId \"1001\": one failure "
                 "would be rerun twice; keep one block per workflow");
  start_valid();
  oconfig_item_t *other = ocb_str(g_root, "Workflow", "elsewhere");
  ocb_str(other, "ProjectId", "2002");
  ocb_str(other, "WorkflowId", "wf-123");
  ocb_num(other, "ExecuteType", 1);
  add_match(other);
  assert_int_equal(parse_ok(fake_env)->workflows_num, 2);

  /* An error in the second Workflow names it. */
  start_valid();
  ocb_str(ocb_str(g_root, "Workflow", "Second.1"), "Foo", "x");
  expect_error(P " <Workflow \"Second.1\">: unknown option \"Foo\"");
}

static void test_match_values(void **state) {
  (void)state;
  oconfig_item_t *wf =
      add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  ocb_str(ocb_child(wf, "Match"), "Host", "/(/");
  expect_error(M1 ": option \"Host\": bad regex \"/(/\": Unmatched ( or \\(");

  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  add_match(wf);
  ocb_str(ocb_child(wf, "Match"), "TypeInstance", "/a(b/");
  expect_error(W " <Match 2>: option \"TypeInstance\": bad regex \"/a(b/\": "
                 "Unmatched ( or \\(");

  /* Unlike every other string, a Match pattern may be empty (it then
   * matches an empty field only) and is not checked for control
   * characters. */
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
  ocb_str(ocb_child(wf, "Match"), "Host", "");
  const wdr_config_t *c = parse_ok(fake_env);
  assert_pattern(&c->workflows[0].matches[0].field[WDR_MATCH_HOST], false, "");

  const char *bad[] = {"error", "critical", "fail", ""};
  char want[256];
  for (int i = 0; i < 4; i++) {
    wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 1);
    ocb_str(ocb_child(wf, "Match"), "Severity", bad[i]);
    snprintf(want, sizeof(want),
             M1 ": option \"Severity\": \"%s\" is not failure, warning or "
                "okay",
             bad[i]);
    expect_error(want);
  }
}

static void test_ranges(void **state) {
  (void)state;
  /* At least 1 ms: libcurl takes milliseconds, and 0 means no timeout. */
  const char *timeout =
      P ": option \"Timeout\": %s is out of range (0.001 to 3600)";
  const double timeouts[] = {0, -1, -0.5, 3600.5, 86400, 0.0005};
  const char *shown[] = {"0", "-1", "-0.5", "3600.5", "86400", "0.0005"};
  char want[256];
  for (int i = 0; i < 6; i++) {
    start_valid();
    ocb_num(g_root, "Timeout", timeouts[i]);
    snprintf(want, sizeof(want), timeout, shown[i]);
    expect_error(want);
  }

  const double limits[] = {0, -5, 100001, 1.5};
  const char *limits_shown[] = {"0", "-5", "100001", "1.5"};
  for (int i = 0; i < 4; i++) {
    start_valid();
    ocb_num(g_root, "QueueLimit", limits[i]);
    snprintf(want, sizeof(want),
             P ": option \"QueueLimit\": %s is not a whole number from 1 to "
               "100000",
             limits_shown[i]);
    expect_error(want);
  }

  const double workers[] = {17, 0, 2.5};
  const char *workers_shown[] = {"17", "0", "2.5"};
  for (int i = 0; i < 3; i++) {
    start_valid();
    ocb_num(g_root, "Workers", workers[i]);
    snprintf(want, sizeof(want),
             P ": option \"Workers\": %s is not a whole number from 1 to 16",
             workers_shown[i]);
    expect_error(want);
  }

  const char *languages[] = {"fr-FR", "en-us", "zh", "EN-US"};
  for (int i = 0; i < 4; i++) {
    start_valid();
    ocb_str(g_root, "Language", languages[i]);
    snprintf(want, sizeof(want),
             P ": option \"Language\": \"%s\" is not zh-CN or en-US",
             languages[i]);
    expect_error(want);
  }

  const char *regions[] = {"ap guangzhou", "ap_guangzhou", "ap/gz", "ap.gz"};
  for (int i = 0; i < 4; i++) {
    start_valid_no_creds();
    ocb_str(g_root, "SecretId", "AKIDtest");
    ocb_str(g_root, "SecretKey", "keytest");
    ocb_str(g_root, "Region", regions[i]);
    snprintf(want, sizeof(want),
             P ": option \"Region\": \"%s\" is not a region name", regions[i]);
    expect_error(want);
  }
}

static void test_bad_strings(void **state) {
  (void)state;
  char want[256];
  for (size_t i = 0; i < CASES_NUM(plugin_cases); i++) {
    const opt_case_t *o = &plugin_cases[i];
    if (o->type != S)
      continue;
    ocb_str(start_bare(), o->key, "");
    snprintf(want, sizeof(want), P ": option \"%s\" must not be empty", o->key);
    expect_error(want);
  }
  for (size_t i = 0; i < CASES_NUM(workflow_cases); i++) {
    const opt_case_t *o = &workflow_cases[i];
    if (o->type != S)
      continue;
    ocb_str(ocb_str(start_creds(), "Workflow", "wf"), o->key, "");
    snprintf(want, sizeof(want), W ": option \"%s\" must not be empty", o->key);
    expect_error(want);
  }

  char text[1026];
  memset(text, 'a', 1025);
  text[1025] = '\0';
  ocb_str(start_bare(), "Region", text);
  expect_error(P ": option \"Region\" is longer than 1024 bytes");
  ocb_str(ocb_str(start_creds(), "Workflow", "wf"), "WorkflowId", text);
  expect_error(W ": option \"WorkflowId\" is longer than 1024 bytes");
  oconfig_item_t *wf =
      add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_str(wf, "TaskId", text);
  expect_error(W ": option \"TaskId\": value 1 is longer than 1024 bytes or "
                 "contains a control character or invalid UTF-8");

  /* A control character is named, never echoed: it would break the log
   * line (and the value might be a secret). */
  ocb_str(start_bare(), "CACert", "/ca\t.pem");
  expect_error(
      P ": option \"CACert\" contains a control character or invalid UTF-8");
  ocb_str(ocb_str(start_creds(), "Workflow", "wf"), "ProjectId", "1\x7f");
  expect_error(
      W ": option \"ProjectId\" contains a control character or invalid UTF-8");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_str(ocb_str(wf, "TaskId", "ok"), "bad\ntask");
  expect_error(W ": option \"TaskId\": value 2 is longer than 1024 bytes or "
                 "contains a control character or invalid UTF-8");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_str(ocb_str(wf, "AdvancedParam", "k"), "v\r\nX-Injected: 1");
  expect_error(W ": option \"AdvancedParam\": the value is longer than 1024 "
                 "bytes or contains a control character or invalid UTF-8");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_str(ocb_str(wf, "AdvancedParam", "k\x01"), "v");
  expect_error(W ": option \"AdvancedParam\": the key is longer than 1024 "
                 "bytes or contains a control character or invalid UTF-8");
  /* Invalid UTF-8 is refused at start, not when the body is built. */
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  ocb_add_str(ocb_str(wf, "AdvancedParam", "k"), "caf\xe9");
  expect_error(W ": option \"AdvancedParam\": the value is longer than 1024 "
                 "bytes or contains a control character or invalid UTF-8");
  ocb_str(ocb_str(start_creds(), "Workflow", "wf"), "ProjectId", "\xc0\xaf");
  expect_error(W ": option \"ProjectId\" contains a control character or "
                 "invalid UTF-8");
}

/* --- rerun policy options ----------------------------------------------- */

static void test_policy_defaults(void **state) {
  (void)state;
  start_valid();
  const wdr_config_t *c = parse_ok(fake_env);
  assert_int_equal(c->max_request_retries, 5);
  assert_true(c->rate_limit == 20);
  assert_int_equal(c->breaker_threshold, 10);
  assert_true(c->breaker_cooldown == 60);
  assert_false(c->dry_run);
  assert_string_equal(c->state_file, "wedata_rerun.state");
  assert_string_equal(c->state_file, WDR_DEFAULT_STATE_FILE);
  assert_true(c->state_retention == 604800);
  const wdr_workflow_cfg_t *w = &c->workflows[0];
  assert_int_equal(w->max_attempts, 3);
  assert_true(w->retry_interval == 60);
  assert_true(w->max_retry_interval == 3600);
  assert_int_equal(w->max_reruns_per_hour, 0);
  assert_int_equal(w->dry_run, -1);
}

static void test_policy_values(void **state) {
  (void)state;
  oconfig_item_t *wf = start_valid();
  ocb_num(g_root, "MaxRequestRetries", 7);
  ocb_num(g_root, "RateLimit", 2.5);
  ocb_num(g_root, "BreakerThreshold", 25);
  ocb_num(g_root, "BreakerCooldown", 90.5);
  ocb_bool(g_root, "DryRun", 1);
  ocb_str(g_root, "StateFile", "/var/lib/collectd/wedata.state");
  ocb_num(g_root, "StateRetention", 86400);
  ocb_num(wf, "MaxAttempts", 5);
  ocb_num(wf, "RetryInterval", 30);
  ocb_num(wf, "MaxRetryInterval", 900);
  ocb_num(wf, "MaxRerunsPerHour", 12);
  ocb_bool(wf, "DryRun", 0);
  /* A second workflow, left to the defaults. */
  add_match(add_required(ocb_str(g_root, "Workflow", "other"), 1));
  const wdr_config_t *c = parse_ok(fake_env);
  assert_int_equal(c->max_request_retries, 7);
  assert_true(c->rate_limit == 2.5);
  assert_int_equal(c->breaker_threshold, 25);
  assert_true(c->breaker_cooldown == 90.5);
  assert_true(c->dry_run);
  assert_string_equal(c->state_file, "/var/lib/collectd/wedata.state");
  assert_true(c->state_retention == 86400);
  const wdr_workflow_cfg_t *w = &c->workflows[0];
  assert_int_equal(w->max_attempts, 5);
  assert_true(w->retry_interval == 30);
  assert_true(w->max_retry_interval == 900);
  assert_int_equal(w->max_reruns_per_hour, 12);
  assert_int_equal(w->dry_run, 0);
  w = &c->workflows[1];
  assert_int_equal(w->max_attempts, 3);
  assert_true(w->retry_interval == 60);
  assert_true(w->max_retry_interval == 3600);
  assert_int_equal(w->max_reruns_per_hour, 0);
  assert_int_equal(w->dry_run, -1);

  /* Option names are case-insensitive here too. */
  wf = start_valid();
  ocb_num(g_root, "maxrequestretries", 0);
  ocb_bool(g_root, "DRYRUN", 0);
  ocb_num(wf, "maxattempts", 1);
  ocb_bool(wf, "dryrun", 1);
  c = parse_ok(fake_env);
  assert_int_equal(c->max_request_retries, 0);
  assert_false(c->dry_run);
  assert_int_equal(c->workflows[0].max_attempts, 1);
  assert_int_equal(c->workflows[0].dry_run, 1);
}

/* A Workflow's DryRun: -1 when not given (the plugin-wide DryRun applies),
 * else 1 or 0, whatever the plugin-wide value. */
static void test_workflow_dry_run(void **state) {
  (void)state;
  const int plugin_values[] = {-1, 0, 1}; /* -1: not given */
  for (int p = 0; p < 3; p++) {
    oconfig_item_t *r = start_creds();
    if (plugin_values[p] >= 0)
      ocb_bool(r, "DryRun", plugin_values[p]);
    add_match(add_required(ocb_str(r, "Workflow", "unset"), 1));
    ocb_bool(add_match(add_required(ocb_str(r, "Workflow", "on"), 1))->parent,
             "DryRun", 1);
    ocb_bool(add_match(add_required(ocb_str(r, "Workflow", "off"), 1))->parent,
             "DryRun", 0);
    const wdr_config_t *c = parse_ok(fake_env);
    assert_int_equal(c->dry_run, plugin_values[p] == 1);
    assert_int_equal(c->workflows_num, 3);
    assert_string_equal(c->workflows[0].name, "unset");
    assert_int_equal(c->workflows[0].dry_run, -1);
    assert_string_equal(c->workflows[1].name, "on");
    assert_int_equal(c->workflows[1].dry_run, 1);
    assert_string_equal(c->workflows[2].name, "off");
    assert_int_equal(c->workflows[2].dry_run, 0);
  }
}

static void test_policy_range_edges(void **state) {
  (void)state;
  oconfig_item_t *wf = start_valid();
  ocb_num(g_root, "MaxRequestRetries", 0);
  ocb_num(g_root, "RateLimit", 0.1);
  ocb_num(g_root, "BreakerThreshold", 1);
  ocb_num(g_root, "BreakerCooldown", 0.001);
  ocb_num(g_root, "StateRetention", 60);
  ocb_num(wf, "MaxAttempts", 1);
  ocb_num(wf, "RetryInterval", 0.001);
  ocb_num(wf, "MaxRetryInterval", 0.001);
  ocb_num(wf, "MaxRerunsPerHour", 0);
  const wdr_config_t *c = parse_ok(fake_env);
  assert_int_equal(c->max_request_retries, 0);
  assert_true(c->rate_limit == 0.1);
  assert_int_equal(c->breaker_threshold, 1);
  assert_true(c->breaker_cooldown == 0.001);
  assert_true(c->state_retention == 60);
  assert_int_equal(c->workflows[0].max_attempts, 1);
  assert_true(c->workflows[0].retry_interval == 0.001);
  assert_true(c->workflows[0].max_retry_interval == 0.001);
  assert_int_equal(c->workflows[0].max_reruns_per_hour, 0);

  wf = start_valid();
  ocb_num(g_root, "MaxRequestRetries", 20);
  ocb_num(g_root, "RateLimit", 1000);
  ocb_num(g_root, "BreakerThreshold", 1000);
  ocb_num(g_root, "BreakerCooldown", 86400);
  ocb_num(g_root, "StateRetention", 315360000);
  ocb_num(wf, "MaxAttempts", 100);
  ocb_num(wf, "RetryInterval", 604800);
  ocb_num(wf, "MaxRetryInterval", 604800);
  ocb_num(wf, "MaxRerunsPerHour", 100000);
  c = parse_ok(fake_env);
  assert_int_equal(c->max_request_retries, 20);
  assert_true(c->rate_limit == 1000);
  assert_int_equal(c->breaker_threshold, 1000);
  assert_true(c->breaker_cooldown == 86400);
  assert_true(c->state_retention == 315360000);
  assert_int_equal(c->workflows[0].max_attempts, 100);
  assert_true(c->workflows[0].retry_interval == 604800);
  assert_true(c->workflows[0].max_retry_interval == 604800);
  assert_int_equal(c->workflows[0].max_reruns_per_hour, 100000);
}

typedef struct {
  const char *key;
  double value;
  const char *want; /* after the block's prefix */
} range_case_t;

static void test_policy_ranges(void **state) {
  (void)state;
  const range_case_t plugin[] = {
      {"MaxRequestRetries", -1,
       "option \"MaxRequestRetries\": -1 is not a whole number from 0 to 20"},
      {"MaxRequestRetries", 21,
       "option \"MaxRequestRetries\": 21 is not a whole number from 0 to 20"},
      {"MaxRequestRetries", 1.5,
       "option \"MaxRequestRetries\": 1.5 is not a whole number from 0 to 20"},
      {"RateLimit", 0, "option \"RateLimit\": 0 is out of range (0.1 to 1000)"},
      {"RateLimit", 0.05,
       "option \"RateLimit\": 0.05 is out of range (0.1 to 1000)"},
      {"RateLimit", -20,
       "option \"RateLimit\": -20 is out of range (0.1 to 1000)"},
      {"RateLimit", 1000.5,
       "option \"RateLimit\": 1000.5 is out of range (0.1 to 1000)"},
      {"BreakerThreshold", 0,
       "option \"BreakerThreshold\": 0 is not a whole number from 1 to 1000"},
      {"BreakerThreshold", 1001,
       "option \"BreakerThreshold\": 1001 is not a whole number from 1 to "
       "1000"},
      {"BreakerThreshold", 2.5,
       "option \"BreakerThreshold\": 2.5 is not a whole number from 1 to "
       "1000"},
      {"BreakerCooldown", 0,
       "option \"BreakerCooldown\": 0 is out of range (0.001 to 86400)"},
      {"BreakerCooldown", 86401,
       "option \"BreakerCooldown\": 86401 is out of range (0.001 to 86400)"},
      {"BreakerCooldown", -1,
       "option \"BreakerCooldown\": -1 is out of range (0.001 to 86400)"},
      {"StateRetention", 59,
       "option \"StateRetention\": 59 is out of range (60 to 315360000)"},
      {"StateRetention", 0,
       "option \"StateRetention\": 0 is out of range (60 to 315360000)"},
      {"StateRetention", 315360001,
       "option \"StateRetention\": 315360001 is out of range (60 to "
       "315360000)"},
  };
  char want[512];
  for (size_t i = 0; i < sizeof(plugin) / sizeof(plugin[0]); i++) {
    start_valid();
    ocb_num(g_root, plugin[i].key, plugin[i].value);
    snprintf(want, sizeof(want), P ": %s", plugin[i].want);
    expect_error(want);
  }

  const range_case_t workflow[] = {
      {"MaxAttempts", 0,
       "option \"MaxAttempts\": 0 is not a whole number from 1 to 100"},
      {"MaxAttempts", 101,
       "option \"MaxAttempts\": 101 is not a whole number from 1 to 100"},
      {"MaxAttempts", 2.5,
       "option \"MaxAttempts\": 2.5 is not a whole number from 1 to 100"},
      {"RetryInterval", 0,
       "option \"RetryInterval\": 0 is out of range (0.001 to 604800)"},
      {"RetryInterval", -60,
       "option \"RetryInterval\": -60 is out of range (0.001 to 604800)"},
      {"RetryInterval", 604801,
       "option \"RetryInterval\": 604801 is out of range (0.001 to 604800)"},
      {"MaxRetryInterval", 0,
       "option \"MaxRetryInterval\": 0 is out of range (0.001 to 604800)"},
      {"MaxRetryInterval", 604801,
       "option \"MaxRetryInterval\": 604801 is out of range (0.001 to "
       "604800)"},
      {"MaxRerunsPerHour", -1,
       "option \"MaxRerunsPerHour\": -1 is not a whole number from 0 to "
       "100000"},
      {"MaxRerunsPerHour", 100001,
       "option \"MaxRerunsPerHour\": 100001 is not a whole number from 0 to "
       "100000"},
      {"MaxRerunsPerHour", 0.5,
       "option \"MaxRerunsPerHour\": 0.5 is not a whole number from 0 to "
       "100000"},
  };
  for (size_t i = 0; i < sizeof(workflow) / sizeof(workflow[0]); i++) {
    oconfig_item_t *wf = start_valid();
    ocb_num(wf, workflow[i].key, workflow[i].value);
    snprintf(want, sizeof(want), W ": %s", workflow[i].want);
    expect_error(want);
  }
}

/* The fingerprint text of a parsed config, as a heap string. */
static char *fingerprint(void) {
  wdr_config_t *c = parse_ok(NULL);
  wdr_buf_t b;
  wdr_buf_init(&b, 65536);
  assert_int_equal(wdr_config_fingerprint(c, 0, &b), 0);
  assert_int_equal(wdr_config_fingerprint(c, 1, &b), -1); /* no such wf */
  char *text = strdup(wdr_buf_str(&b));
  wdr_buf_free(&b, false);
  return text;
}

/* The fingerprint follows what a workflow sends, not how it is matched or
 * paced, and holds no secret; length prefixes keep "a" "bc" apart from
 * "ab" "c". */
static void test_fingerprint(void **state) {
  (void)state;
  oconfig_item_t *wf =
      add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  add_match(wf);
  ocb_add_str(ocb_str(wf, "AdvancedParam", "a"), "bc");
  char *base = fingerprint();
  assert_non_null(strstr(base, "ExecuteType 1:2\n"));
  assert_non_null(strstr(base, "AdvancedParam 1:a\nValue 2:bc\n"));
  assert_null(strstr(base, "secret"));
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  add_match(wf);
  ocb_add_str(ocb_str(wf, "AdvancedParam", "a"), "bc");
  ocb_num(wf, "MaxAttempts", 5); /* not about what is sent */
  char *same = fingerprint();
  assert_string_equal(base, same);
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  add_match(wf);
  ocb_add_str(ocb_str(wf, "AdvancedParam", "ab"), "c");
  char *other = fingerprint();
  assert_string_not_equal(base, other);
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  add_match(wf);
  ocb_add_str(ocb_str(wf, "AdvancedParam", "a"), "bc");
  ocb_str(wf, "SchedulingResourceGroup", "rg-1");
  char *group = fingerprint();
  assert_string_not_equal(base, group);
  free(base);
  free(same);
  free(other);
  free(group);
}

/* VerifyBeforeRerun, TaskScope, EscalateToFull: defaults, values, errors. */
static void test_check_options(void **state) {
  (void)state;
  start_valid();
  wdr_config_t *c = parse_ok(NULL);
  /* WeData's count by default: a lost state file cannot rerun twice. */
  assert_true(c->workflows[0].verify_before_rerun);
  assert_false(c->workflows[0].scope_incomplete);
  assert_false(c->workflows[0].escalate_to_full);

  oconfig_item_t *wf =
      add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  add_match(wf);
  ocb_bool(wf, "VerifyBeforeRerun", false);
  c = parse_ok(NULL);
  assert_false(c->workflows[0].verify_before_rerun);

  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  add_match(wf);
  ocb_bool(wf, "VerifyBeforeRerun", true);
  ocb_str(wf, "TaskScope", "incomplete");
  ocb_bool(wf, "EscalateToFull", true);
  c = parse_ok(NULL);
  assert_true(c->workflows[0].verify_before_rerun);
  assert_true(c->workflows[0].scope_incomplete);
  assert_true(c->workflows[0].escalate_to_full);

  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  add_match(wf);
  ocb_str(wf, "TaskScope", "configured");
  ocb_add_str(ocb_str(wf, "TaskId", "a"), "b");
  c = parse_ok(NULL);
  assert_false(c->workflows[0].scope_incomplete);
  assert_int_equal(c->workflows[0].task_ids_num, 2);

  wf = start_valid();
  ocb_str(wf, "TaskScope", "all");
  expect_error(W ": option \"TaskScope\": \"all\" is not \"configured\" or "
                 "\"incomplete\"");
  wf = start_valid(); /* ExecuteType 1 */
  ocb_str(wf, "TaskScope", "incomplete");
  expect_error(W ": option \"TaskScope\": \"incomplete\" needs ExecuteType 2 "
                 "(advanced run)");
  wf = add_required(ocb_str(start_creds(), "Workflow", "wf"), 2);
  add_match(wf);
  ocb_str(wf, "TaskScope", "incomplete");
  ocb_str(wf, "TaskId", "a");
  expect_error(W ": option \"TaskScope\": \"incomplete\" picks the tasks "
                 "itself; remove TaskId");
  wf = start_valid();
  ocb_str(wf, "VerifyBeforeRerun", "yes");
  expect_error(W ": option \"VerifyBeforeRerun\" needs true or false");
}

static void test_retry_interval_order(void **state) {
  (void)state;
  /* Against the defaults (60 s base, 3600 s cap). */
  oconfig_item_t *wf = start_valid();
  ocb_num(wf, "RetryInterval", 7200);
  expect_error(W ": option \"MaxRetryInterval\": 3600 is less than "
                 "RetryInterval 7200");
  wf = start_valid();
  ocb_num(wf, "MaxRetryInterval", 30);
  expect_error(W ": option \"MaxRetryInterval\": 30 is less than "
                 "RetryInterval 60");
  /* Both given, in either order. */
  wf = start_valid();
  ocb_num(wf, "RetryInterval", 10);
  ocb_num(wf, "MaxRetryInterval", 5);
  expect_error(W ": option \"MaxRetryInterval\": 5 is less than "
                 "RetryInterval 10");
  wf = start_valid();
  ocb_num(wf, "MaxRetryInterval", 0.25);
  ocb_num(wf, "RetryInterval", 0.5);
  expect_error(W ": option \"MaxRetryInterval\": 0.25 is less than "
                 "RetryInterval 0.5");

  /* Equal is fine: a fixed interval. */
  wf = start_valid();
  ocb_num(wf, "RetryInterval", 7200);
  ocb_num(wf, "MaxRetryInterval", 7200);
  const wdr_config_t *c = parse_ok(fake_env);
  assert_true(c->workflows[0].retry_interval == 7200);
  assert_true(c->workflows[0].max_retry_interval == 7200);

  /* The second workflow is checked too, and named. */
  oconfig_item_t *r = start_valid()->parent;
  wf = add_match(add_required(ocb_str(r, "Workflow", "b"), 1))->parent;
  ocb_num(wf, "MaxRetryInterval", 1);
  expect_error(P " <Workflow \"b\">: option \"MaxRetryInterval\": 1 is less "
                 "than RetryInterval 60");
}

/* TrackAsync (per workflow) and AsyncPollInterval, AsyncTimeout (plugin
 * wide): defaults, values, edges, and the errors with their exact text. */
static void test_track_async_options(void **state) {
  (void)state;
  start_valid();
  wdr_config_t *c = parse_ok(NULL);
  assert_false(c->workflows[0].track_async);
  assert_true(c->async_poll_interval == 5);
  assert_true(c->async_timeout == 3600);

  oconfig_item_t *wf = start_valid();
  ocb_bool(wf, "TrackAsync", 1);
  ocb_num(g_root, "AsyncPollInterval", 2.5);
  ocb_num(g_root, "AsyncTimeout", 7200);
  add_match(add_required(ocb_str(g_root, "Workflow", "other"), 1));
  c = parse_ok(NULL);
  assert_true(c->workflows[0].track_async);
  assert_false(c->workflows[1].track_async); /* per workflow */
  assert_true(c->async_poll_interval == 2.5);
  assert_true(c->async_timeout == 7200);

  /* Case-insensitive names; false is false. */
  wf = start_valid();
  ocb_bool(wf, "trackasync", 0);
  ocb_num(g_root, "ASYNCPOLLINTERVAL", 1);
  c = parse_ok(NULL);
  assert_false(c->workflows[0].track_async);
  assert_true(c->async_poll_interval == 1);

  /* The edges are accepted. */
  start_valid();
  ocb_num(g_root, "AsyncPollInterval", 0.1);
  ocb_num(g_root, "AsyncTimeout", 1);
  c = parse_ok(NULL);
  assert_true(c->async_poll_interval == 0.1);
  assert_true(c->async_timeout == 1);
  start_valid();
  ocb_num(g_root, "AsyncPollInterval", 3600);
  ocb_num(g_root, "AsyncTimeout", 604800);
  c = parse_ok(NULL);
  assert_true(c->async_poll_interval == 3600);
  assert_true(c->async_timeout == 604800);

  const range_case_t plugin[] = {
      {"AsyncPollInterval", 0.09,
       "option \"AsyncPollInterval\": 0.09 is out of range (0.1 to 3600)"},
      {"AsyncPollInterval", 0,
       "option \"AsyncPollInterval\": 0 is out of range (0.1 to 3600)"},
      {"AsyncPollInterval", -5,
       "option \"AsyncPollInterval\": -5 is out of range (0.1 to 3600)"},
      {"AsyncPollInterval", 3600.5,
       "option \"AsyncPollInterval\": 3600.5 is out of range (0.1 to 3600)"},
      {"AsyncTimeout", 0.5,
       "option \"AsyncTimeout\": 0.5 is out of range (1 to 604800)"},
      {"AsyncTimeout", 0,
       "option \"AsyncTimeout\": 0 is out of range (1 to 604800)"},
      {"AsyncTimeout", -1,
       "option \"AsyncTimeout\": -1 is out of range (1 to 604800)"},
      {"AsyncTimeout", 604801,
       "option \"AsyncTimeout\": 604801 is out of range (1 to 604800)"},
  };
  char want[512];
  for (size_t i = 0; i < sizeof(plugin) / sizeof(plugin[0]); i++) {
    start_valid();
    ocb_num(g_root, plugin[i].key, plugin[i].value);
    snprintf(want, sizeof(want), P ": %s", plugin[i].want);
    expect_error(want);
  }

  /* Wrong types. */
  wf = start_valid();
  ocb_str(wf, "TrackAsync", "yes");
  expect_error(W ": option \"TrackAsync\" needs true or false");
  wf = start_valid();
  ocb_num(wf, "TrackAsync", 1);
  expect_error(W ": option \"TrackAsync\" needs true or false");
  start_valid();
  ocb_str(g_root, "AsyncPollInterval", "5");
  expect_error(P ": option \"AsyncPollInterval\" needs one number");
  start_valid();
  ocb_bool(g_root, "AsyncTimeout", 1);
  expect_error(P ": option \"AsyncTimeout\" needs one number");

  /* Each at its own level only. */
  start_valid();
  ocb_bool(g_root, "TrackAsync", 1);
  expect_error(P ": unknown option \"TrackAsync\"");
  wf = start_valid();
  ocb_num(wf, "AsyncPollInterval", 5);
  expect_error(W ": unknown option \"AsyncPollInterval\"");
  wf = start_valid();
  ocb_num(wf, "AsyncTimeout", 60);
  expect_error(W ": unknown option \"AsyncTimeout\"");
}

/* --- misc --------------------------------------------------------------- */

static void test_error_buffer_truncated(void **state) {
  (void)state;
  char err[16];
  wdr_config_t *cfg = NULL;
  memset(err, 'x', sizeof(err));
  start_creds();
  assert_int_equal(wdr_config_parse(g_root, fake_env, &cfg, err, sizeof(err)),
                   -1);
  assert_null(cfg);
  assert_string_equal(err, "<Plugin wedata_");
  ocb_free(g_root);
  g_root = NULL;
}

static void test_free_null(void **state) {
  (void)state;
  wdr_config_free(NULL);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_full_config),
      T(test_defaults),
      T(test_case_insensitive),
      T(test_range_edges_accepted),
      T(test_endpoint_forms),
      T(test_endpoint_errors),
      T(test_credentials_from_env),
      T(test_credentials_config_wins),
      T(test_credentials_from_profile),
      T(test_credential_source_option),
      T(test_secret_key_file),
      T(test_secret_key_file_errors),
      T(test_missing_credentials),
      T(test_secrets_never_shown),
      T(test_unknown_options),
      T(test_options_given_twice),
      T(test_wrong_value_types),
      T(test_missing_required),
      T(test_execute_type),
      T(test_workflow_names),
      T(test_match_values),
      T(test_ranges),
      T(test_bad_strings),
      T(test_policy_defaults),
      T(test_policy_values),
      T(test_workflow_dry_run),
      T(test_policy_range_edges),
      T(test_policy_ranges),
      T(test_retry_interval_order),
      T(test_fingerprint),
      T(test_check_options),
      T(test_track_async_options),
      T(test_error_buffer_truncated),
      T(test_free_null),
  };
  return cmocka_run_group_tests_name("wdr_config", tests, NULL, NULL);
}
