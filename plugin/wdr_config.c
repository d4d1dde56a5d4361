#include "wdr_config.h"
#include "wdr_credfile.h"
#include "wdr_ini.h"
#include "wdr_metadata.h"

#include "collectd/core/daemon/plugin.h" /* NOTIF_* severities */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define KEY_FILE_MAX 4096
#define TEXT_MAX 1024 /* any configured string; ids are far shorter */

/* How a scalar option is read. The tables below drive parsing, duplicate
 * detection and the error text. */
enum opt_kind {
  OPT_STRING, /* char *, shown in errors */
  OPT_SECRET, /* char *, never shown */
  OPT_BOOL,   /* bool */
  OPT_NUMBER, /* double, min <= value <= max */
  OPT_INT,    /* int, min <= value <= max */
  OPT_TRI,    /* int: -1 until given, then 0 or 1 (a boolean override) */
};

/* One scalar option: how it is parsed, its default and what it means. The
 * meaning and the defaults are what the README's option tables show; the
 * unit tests hold the README to them. */
typedef struct {
  const char *key;
  enum opt_kind kind;
  size_t offset;
  double min, max; /* NUMBER and INT only */
  bool required;   /* refused when not given */
  /* BOOL, TRI, NUMBER, INT: stored before parsing (apply_defaults), unless
   * required. Strings start NULL; def_text names the value the code puts in
   * when none is given (NULL: none), using the same macro as that code. */
  double def;
  const char *def_text;
  const char *meaning; /* one line, plain English, no '|' */
} opt_t;

#define PLUGIN_FIELD(f) offsetof(wdr_config_t, f)
#define WORKFLOW_FIELD(f) offsetof(wdr_workflow_cfg_t, f)

static const opt_t plugin_opts[] = {
    {.key = "Endpoint",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(endpoint),
     .def_text = WDR_DEFAULT_ENDPOINT,
     .meaning = "`http://` or `https://` URL with an optional port and no "
                "path. The host (with the port when it is not the default) is "
                "sent and signed as `Host`."},
    {.key = "Region",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(region),
     .required = true,
     .meaning = "sent as `X-TC-Region`: the region of your WeData project, "
                "e.g. `ap-guangzhou`"},
    {.key = "SecretId",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(secret_id),
     .meaning = "API key id: with `SecretKey` or `SecretKeyFile`, the first "
                "source of the credential chain (see \"Credentials\")"},
    {.key = "SecretKey",
     .kind = OPT_SECRET,
     .offset = PLUGIN_FIELD(secret_key),
     .meaning = "API key secret. It also stays in collectd's own config "
                "memory: prefer `SecretKeyFile` or a later source of the "
                "chain."},
    {.key = "SecretKeyFile",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(secret_key_file),
     .meaning = "file holding the secret key; trailing newline ignored; an "
                "unreadable or empty file is a config error, one readable by "
                "group or others a WARNING"},
    {.key = "SessionToken",
     .kind = OPT_SECRET,
     .offset = PLUGIN_FIELD(session_token),
     .meaning = "temporary credentials only: sent as `X-TC-Token` (not "
                "signed), with `SecretId`"},
    {.key = "CredentialSource",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(credential_source),
     .meaning = "`config`, `env`, `profile` or `cvm-role`: that source only; "
                "when not given, the first of them that has credentials"},
    {.key = "Profile",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(profile),
     .def_text = "default",
     .meaning = "section of the profile file to read"},
    {.key = "RoleName",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(role_name),
     .meaning = "the CVM role to take credentials of; when not given, the "
                "one the metadata service names"},
    {.key = "MetadataEndpoint",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(metadata_endpoint),
     .def_text = WDR_METADATA_DEFAULT_ENDPOINT,
     .meaning = "the CVM metadata service: scheme, host and port only (the "
                "paths are fixed)"},
    {.key = "CACert",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(ca_cert),
     .meaning = "CA bundle used to verify the server; when not given, the "
                "system bundle"},
    {.key = "VerifyPeer",
     .kind = OPT_BOOL,
     .offset = PLUGIN_FIELD(verify_peer),
     .def = true,
     .meaning = "verify the TLS certificate and host name. Leave it on."},
    /* libcurl takes milliseconds, and 0 would mean "no timeout". */
    {.key = "Timeout",
     .kind = OPT_NUMBER,
     .offset = PLUGIN_FIELD(timeout),
     .min = 0.001,
     .max = 3600,
     .def = 10,
     .meaning = "seconds for one HTTP request (connect included)"},
    {.key = "Language",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(language),
     .meaning = "`zh-CN` or `en-US`: language of WeData's error messages "
                "(`X-TC-Language`); not sent when not given"},
    {.key = "QueueLimit",
     .kind = OPT_INT,
     .offset = PLUGIN_FIELD(queue_limit),
     .min = 1,
     .max = 100000,
     .def = 16384,
     .meaning = "failure signals waiting for the engine thread; more are "
                "dropped and counted as `dropped`"},
    {.key = "Workers",
     .kind = OPT_INT,
     .offset = PLUGIN_FIELD(workers),
     .min = 1,
     .max = 16,
     .def = 2,
     .meaning = "threads sending requests"},
    {.key = "MaxRequestRetries",
     .kind = OPT_INT,
     .offset = PLUGIN_FIELD(max_request_retries),
     .min = 0,
     .max = 20,
     .def = 5,
     .meaning = "retries of a retryable error within one attempt"},
    {.key = "RateLimit",
     .kind = OPT_NUMBER,
     .offset = PLUGIN_FIELD(rate_limit),
     .min = 0.1,
     .max = 1000,
     .def = 20,
     .meaning = "requests per second of each API action, all workflows "
                "together: at most this many of one action leave in any "
                "second (and 40 ms), spaced 1/RateLimit apart; lowered after "
                "a throttle answer, see \"Sharing the quota\""},
    {.key = "BreakerThreshold",
     .kind = OPT_INT,
     .offset = PLUGIN_FIELD(breaker_threshold),
     .min = 1,
     .max = 1000,
     .def = 10,
     .meaning = "consecutive outages (network and TLS errors, HTTP 5xx, "
                "`InternalError`-like codes) that open the breaker"},
    {.key = "BreakerCooldown",
     .kind = OPT_NUMBER,
     .offset = PLUGIN_FIELD(breaker_cooldown),
     .min = 0.001,
     .max = 86400,
     .def = 60,
     .meaning = "seconds the breaker stays open before one probe; also the "
                "time between probes while WeData rejects the credentials"},
    {.key = "DryRun",
     .kind = OPT_BOOL,
     .offset = PLUGIN_FIELD(dry_run),
     .def = false,
     .meaning = "decide everything, send no rerun (`would_rerun` counts)"},
    {.key = "StateFile",
     .kind = OPT_STRING,
     .offset = PLUGIN_FIELD(state_file),
     .def_text = WDR_DEFAULT_STATE_FILE,
     .meaning = "the durable state; relative to collectd's `BaseDir`"},
    {.key = "StateRetention",
     .kind = OPT_NUMBER,
     .offset = PLUGIN_FIELD(state_retention),
     .min = 60,
     .max = 315360000,
     .def = 604800,
     .meaning = "seconds a finished run is remembered"},
    {.key = "PermanentHold",
     .kind = OPT_NUMBER,
     .offset = PLUGIN_FIELD(permanent_hold),
     .min = 0,
     .max = 315360000,
     .def = 3600,
     .meaning = "seconds a run stopped by a permanent error stays stopped; "
                "a failure signal after that starts a new attempt"},
    {.key = "MaxTrackedRuns",
     .kind = OPT_INT,
     .offset = PLUGIN_FIELD(max_tracked_runs),
     .min = 100,
     .max = 1000000,
     .def = 1000000,
     .meaning = "runs remembered at once; when full, the finished run updated "
                "longest ago is forgotten (`evicted`), and a new failure is "
                "refused (`skipped-table_full`) only while every run is "
                "active"},
    {.key = "PollInterval",
     .kind = OPT_NUMBER,
     .offset = PLUGIN_FIELD(poll_interval),
     .min = 1,
     .max = 86400,
     .def = 60,
     .meaning = "seconds between polls of the workflows with `Poll true`"},
    {.key = "PollLookback",
     .kind = OPT_NUMBER,
     .offset = PLUGIN_FIELD(poll_lookback),
     .min = 60,
     .max = 2592000,
     .def = 86400,
     .meaning = "seconds back that runs are looked at when polling or "
                "resolving a signal without a run id"},
    /* Below 1 s only makes sense against a local stand-in; the rate limit
     * still bounds the requests. */
    {.key = "AsyncPollInterval",
     .kind = OPT_NUMBER,
     .offset = PLUGIN_FIELD(async_poll_interval),
     .min = 0.1,
     .max = 3600,
     .def = 5,
     .meaning = "`TrackAsync`: seconds between reads of a rerun's async job, "
                "and the first wait before reading the run"},
    {.key = "AsyncTimeout",
     .kind = OPT_NUMBER,
     .offset = PLUGIN_FIELD(async_timeout),
     .min = 1,
     .max = 604800,
     .def = 3600,
     .meaning = "`TrackAsync`: seconds after an accepted rerun that its async "
                "job may stay unfinished; then `async-TIMEOUT` and the run is "
                "read directly"},
};

static const opt_t workflow_opts[] = {
    {.key = "ProjectId",
     .kind = OPT_STRING,
     .offset = WORKFLOW_FIELD(project_id),
     .required = true,
     .meaning = "the WeData project id (keep the quotes: it is a 19-digit "
                "string)"},
    {.key = "WorkflowId",
     .kind = OPT_STRING,
     .offset = WORKFLOW_FIELD(workflow_id),
     .required = true,
     .meaning = "the workflow id"},
    {.key = "ExecuteType",
     .kind = OPT_INT,
     .offset = WORKFLOW_FIELD(execute_type),
     .min = 1,
     .max = 2,
     .required = true,
     .meaning = "`1` normal run (all tasks, default parameters) or `2` "
                "advanced run"},
    {.key = "SchedulingResourceGroup",
     .kind = OPT_STRING,
     .offset = WORKFLOW_FIELD(scheduling_rg),
     .meaning = "scheduling resource group; when not given, the configured "
                "one"},
    {.key = "IntegrationResourceGroup",
     .kind = OPT_STRING,
     .offset = WORKFLOW_FIELD(integration_rg),
     .meaning = "integration resource group; when not given, the configured "
                "one"},
    {.key = "MaxAttempts",
     .kind = OPT_INT,
     .offset = WORKFLOW_FIELD(max_attempts),
     .min = 1,
     .max = 100,
     .def = 3,
     .meaning = "accepted reruns per run"},
    {.key = "RetryInterval",
     .kind = OPT_NUMBER,
     .offset = WORKFLOW_FIELD(retry_interval),
     .min = 0.001,
     .max = 604800,
     .def = 60,
     .meaning = "seconds: backoff base between attempts of one run"},
    {.key = "MaxRetryInterval",
     .kind = OPT_NUMBER,
     .offset = WORKFLOW_FIELD(max_retry_interval),
     .min = 0.001,
     .max = 604800,
     .def = 3600,
     .meaning = "seconds: backoff cap; not below `RetryInterval`"},
    {.key = "MaxRerunsPerHour",
     .kind = OPT_INT,
     .offset = WORKFLOW_FIELD(max_reruns_per_hour),
     .min = 0,
     .max = 100000,
     .def = 0,
     .meaning = "reruns scheduled per sliding hour for this workflow; `0`: "
                "unlimited"},
    /* -1 until given: the plugin-wide DryRun then decides. */
    {.key = "DryRun",
     .kind = OPT_TRI,
     .offset = WORKFLOW_FIELD(dry_run),
     .def = -1,
     .meaning = "overrides the plugin-wide `DryRun` for this workflow; when "
                "not given, the plugin-wide value holds"},
    {.key = "VerifyBeforeRerun",
     .kind = OPT_BOOL,
     .offset = WORKFLOW_FIELD(verify_before_rerun),
     .def = true,
     .meaning = "read the run before each attempt and rerun only if WeData "
                "still shows it `FAILED`, `SupportRerun` and `RerunTimes` "
                "below `MaxAttempts`; `false` saves a read per attempt but "
                "trusts the state file alone"},
    /* NULL in the config means "configured". */
    {.key = "TaskScope",
     .kind = OPT_STRING,
     .offset = WORKFLOW_FIELD(task_scope),
     .def_text = "configured",
     .meaning = "`configured`: the `TaskId` list; `incomplete` (ExecuteType "
                "2, no `TaskId`): the tasks of that run that did not succeed, "
                "read before each attempt; none left: the whole workflow"},
    {.key = "EscalateToFull",
     .kind = OPT_BOOL,
     .offset = WORKFLOW_FIELD(escalate_to_full),
     .def = false,
     .meaning = "`true`: once a run has had an accepted rerun, later attempts "
                "rerun the whole workflow (ExecuteType 1, no TaskIds or "
                "AdvancedParams, same resource groups)"},
    {.key = "Poll",
     .kind = OPT_BOOL,
     .offset = WORKFLOW_FIELD(poll),
     .def = false,
     .meaning = "`true`: find this workflow's failed runs by listing them "
                "every `PollInterval`; no `<Match>` is needed then"},
    {.key = "TrackAsync",
     .kind = OPT_BOOL,
     .offset = WORKFLOW_FIELD(track_async),
     .def = false,
     .meaning = "`true`: follow each accepted rerun (its async job, then the "
                "run) until the run has recovered or failed again; a failure "
                "starts the next attempt (see \"Following each rerun\")"},
};

#define OPTS_MAX 32
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(ARRAY_LEN(plugin_opts) <= OPTS_MAX, "plugin_opts too long");
_Static_assert(ARRAY_LEN(workflow_opts) <= OPTS_MAX, "workflow_opts too long");

static const char *const match_keys[WDR_MATCH_FIELDS] = {
    [WDR_MATCH_HOST] = "Host",
    [WDR_MATCH_PLUGIN] = "Plugin",
    [WDR_MATCH_PLUGIN_INSTANCE] = "PluginInstance",
    [WDR_MATCH_TYPE] = "Type",
    [WDR_MATCH_TYPE_INSTANCE] = "TypeInstance",
};

/* Parsing context: where we are, for the error text. */
typedef struct {
  char where[160];
  char *err;
  size_t err_size;
} ctx_t;

__attribute__((format(printf, 2, 3))) static int fail(ctx_t *c, const char *fmt,
                                                      ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  snprintf(c->err, c->err_size, "%s: %s", c->where, what);
  return -1;
}

/* True when s holds a control character or is not valid UTF-8: such text
 * would break a log line, or make the JSON body unsendable at 3 a.m. rather
 * than at start. */
static bool has_control(const char *s) { return !wdr_text_is_clean(s); }

static bool one_string(const oconfig_item_t *ci) {
  return ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_STRING;
}

/* Stores a fresh copy of the option's string; strings longer than TEXT_MAX
 * or empty are refused, since every one of them ends up in a request or a
 * metric name. */
static int get_string(ctx_t *c, const oconfig_item_t *ci, char **ret) {
  if (!one_string(ci))
    return fail(c, "option \"%s\" needs one string value", ci->key);
  const char *s = ci->values[0].value.string;
  size_t len = strlen(s);
  if (len == 0)
    return fail(c, "option \"%s\" must not be empty", ci->key);
  if (len > TEXT_MAX)
    return fail(c, "option \"%s\" is longer than %d bytes", ci->key, TEXT_MAX);
  /* The value is not echoed: it could be a secret, and a control
   * character would break the log line. */
  if (has_control(s))
    return fail(c,
                "option \"%s\" contains a control character or invalid "
                "UTF-8",
                ci->key);
  char *copy = strdup(s);
  if (copy == NULL)
    return fail(c, "out of memory");
  *ret = copy;
  return 0;
}

static int get_number(ctx_t *c, const oconfig_item_t *ci, double *ret) {
  if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_NUMBER)
    return fail(c, "option \"%s\" needs one number", ci->key);
  *ret = ci->values[0].value.number;
  return 0;
}

static int set_opt(ctx_t *c, const opt_t *o, const oconfig_item_t *ci,
                   void *base) {
  char *field = (char *)base + o->offset;
  double d = 0;
  switch (o->kind) {
  case OPT_STRING:
  case OPT_SECRET:
    return get_string(c, ci, (char **)field);
  case OPT_BOOL:
  case OPT_TRI:
    if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_BOOLEAN)
      return fail(c, "option \"%s\" needs true or false", ci->key);
    if (o->kind == OPT_BOOL)
      *(bool *)field = ci->values[0].value.boolean != 0;
    else
      *(int *)field = ci->values[0].value.boolean != 0;
    return 0;
  case OPT_NUMBER:
    if (get_number(c, ci, &d) != 0)
      return -1;
    if (!(d >= o->min && d <= o->max))
      return fail(c, "option \"%s\": %.15g is out of range (%.15g to %.15g)",
                  ci->key, d, o->min, o->max);
    *(double *)field = d;
    return 0;
  case OPT_INT:
    if (get_number(c, ci, &d) != 0)
      return -1;
    if (d != floor(d) || d < o->min || d > o->max)
      return fail(
          c, "option \"%s\": %.15g is not a whole number from %.15g to %.15g",
          ci->key, d, o->min, o->max);
    *(int *)field = (int)d;
    return 0;
  }
  return fail(c, "internal error: option kind");
}

/* Stores the table's defaults into base: BOOL, TRI, NUMBER and INT rows
 * that are not required. Strings are left as they are (NULL). */
static void apply_defaults(const opt_t *opts, size_t opts_num, void *base) {
  for (size_t i = 0; i < opts_num; i++) {
    const opt_t *o = &opts[i];
    char *field = (char *)base + o->offset;
    if (o->required)
      continue;
    switch (o->kind) {
    case OPT_STRING:
    case OPT_SECRET:
      break;
    case OPT_BOOL:
      *(bool *)field = o->def != 0;
      break;
    case OPT_NUMBER:
      *(double *)field = o->def;
      break;
    case OPT_INT:
    case OPT_TRI:
      *(int *)field = (int)o->def;
      break;
    }
  }
}

/* Fails naming the first required row (in table order) that seen does not
 * mark; returns 0 when all were given. */
static int check_required(ctx_t *c, const opt_t *opts, size_t opts_num,
                          const bool seen[OPTS_MAX]) {
  for (size_t i = 0; i < opts_num; i++)
    if (opts[i].required && !seen[i])
      return fail(c, "missing required option \"%s\"", opts[i].key);
  return 0;
}

/* Looks ci up in the table and sets it. Returns 1 when the key is not in the
 * table, 0 when set, -1 on error. */
static int table_opt(ctx_t *c, const opt_t *opts, size_t opts_num,
                     bool seen[OPTS_MAX], const oconfig_item_t *ci,
                     void *base) {
  for (size_t i = 0; i < opts_num; i++) {
    if (strcasecmp(opts[i].key, ci->key) != 0)
      continue;
    if (seen[i])
      return fail(c, "option \"%s\" is given more than once", ci->key);
    seen[i] = true;
    return set_opt(c, &opts[i], ci, base);
  }
  return 1;
}

static int parse_match(ctx_t *c, const oconfig_item_t *ci, wdr_match_t *m) {
  m->severity = NOTIF_FAILURE;
  if (ci->values_num != 0)
    return fail(c, "<Match> takes no argument");
  bool severity_seen = false;
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];
    if (strcasecmp("Severity", child->key) == 0) {
      if (severity_seen)
        return fail(c, "option \"Severity\" is given more than once");
      severity_seen = true;
      if (!one_string(child))
        return fail(c, "option \"Severity\" needs one string value");
      const char *s = child->values[0].value.string;
      if (strcasecmp(s, "failure") == 0)
        m->severity = NOTIF_FAILURE;
      else if (strcasecmp(s, "warning") == 0)
        m->severity = NOTIF_WARNING;
      else if (strcasecmp(s, "okay") == 0)
        m->severity = NOTIF_OKAY;
      else
        return fail(c,
                    "option \"Severity\": \"%s\" is not failure, warning or "
                    "okay",
                    s);
      continue;
    }
    int f = 0;
    while (f < WDR_MATCH_FIELDS && strcasecmp(match_keys[f], child->key) != 0)
      f++;
    if (f == WDR_MATCH_FIELDS)
      return fail(c, "unknown option \"%s\"", child->key);
    if (m->field[f].set)
      return fail(c, "option \"%s\" is given more than once", child->key);
    if (!one_string(child))
      return fail(c, "option \"%s\" needs one string value", child->key);
    char why[128];
    const char *text = child->values[0].value.string;
    if (wdr_pattern_set(&m->field[f], text, why, sizeof(why)) != 0)
      return fail(c, "option \"%s\": bad regex \"%s\": %s", child->key, text,
                  why);
  }
  return 0;
}

static int add_task_ids(ctx_t *c, const oconfig_item_t *ci,
                        wdr_workflow_cfg_t *w) {
  if (ci->values_num < 1)
    return fail(c, "option \"TaskId\" needs at least one string value");
  char **ids = realloc(w->task_ids, (w->task_ids_num + (size_t)ci->values_num) *
                                        sizeof(*ids));
  if (ids == NULL)
    return fail(c, "out of memory");
  w->task_ids = ids;
  for (int i = 0; i < ci->values_num; i++) {
    const oconfig_value_t *v = &ci->values[i];
    if (v->type != OCONFIG_TYPE_STRING || v->value.string[0] == '\0')
      return fail(c, "option \"TaskId\": value %d is not a non-empty string",
                  i + 1);
    if (strlen(v->value.string) > TEXT_MAX || has_control(v->value.string))
      return fail(c,
                  "option \"TaskId\": value %d is longer than %d bytes or "
                  "contains a control character or invalid UTF-8",
                  i + 1, TEXT_MAX);
    if ((ids[w->task_ids_num] = strdup(v->value.string)) == NULL)
      return fail(c, "out of memory");
    w->task_ids_num++;
  }
  return 0;
}

static int add_param(ctx_t *c, const oconfig_item_t *ci,
                     wdr_workflow_cfg_t *w) {
  if (ci->values_num != 2 || ci->values[0].type != OCONFIG_TYPE_STRING ||
      ci->values[1].type != OCONFIG_TYPE_STRING ||
      ci->values[0].value.string[0] == '\0')
    return fail(c, "option \"AdvancedParam\" needs two strings: a non-empty "
                   "key and a value");
  for (int i = 0; i < 2; i++)
    if (strlen(ci->values[i].value.string) > TEXT_MAX ||
        has_control(ci->values[i].value.string))
      return fail(c,
                  "option \"AdvancedParam\": the %s is longer than %d bytes "
                  "or contains a control character or invalid UTF-8",
                  i == 0 ? "key" : "value", TEXT_MAX);
  wdr_param_t *p =
      realloc(w->params, (w->params_num + 1) * sizeof(wdr_param_t));
  if (p == NULL)
    return fail(c, "out of memory");
  w->params = p;
  p[w->params_num] = (wdr_param_t){strdup(ci->values[0].value.string),
                                   strdup(ci->values[1].value.string)};
  w->params_num++;
  if (p[w->params_num - 1].key == NULL || p[w->params_num - 1].value == NULL)
    return fail(c, "out of memory");
  return 0;
}

static bool name_ok(const char *s) {
  size_t len = strlen(s);
  if (len == 0 || len >= WDR_NAME_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
      return false;
  return true;
}

static int parse_workflow(ctx_t *c, const oconfig_item_t *ci,
                          wdr_workflow_cfg_t *w) {
  bool seen[OPTS_MAX] = {false};
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];
    int status =
        table_opt(c, workflow_opts, ARRAY_LEN(workflow_opts), seen, child, w);
    if (status <= 0) {
      if (status < 0)
        return -1;
      continue;
    }
    if (strcasecmp("TaskId", child->key) == 0)
      status = add_task_ids(c, child, w);
    else if (strcasecmp("AdvancedParam", child->key) == 0)
      status = add_param(c, child, w);
    else if (strcasecmp("Match", child->key) == 0) {
      wdr_match_t *m =
          realloc(w->matches, (w->matches_num + 1) * sizeof(wdr_match_t));
      if (m == NULL)
        return fail(c, "out of memory");
      w->matches = m;
      m[w->matches_num] = (wdr_match_t){0};
      w->matches_num++;
      size_t len = strlen(c->where);
      snprintf(c->where + len, sizeof(c->where) - len, " <Match %zu>",
               w->matches_num);
      status = parse_match(c, child, &m[w->matches_num - 1]);
      c->where[len] = '\0';
    } else
      status = fail(c, "unknown option \"%s\"", child->key);
    if (status != 0)
      return -1;
  }

  if (check_required(c, workflow_opts, ARRAY_LEN(workflow_opts), seen) != 0)
    return -1;
  if (w->execute_type == 1 && w->task_ids_num > 0)
    return fail(c, "option \"TaskId\" needs ExecuteType 2 (advanced run); "
                   "ExecuteType is 1");
  if (w->execute_type == 1 && w->params_num > 0)
    return fail(c, "option \"AdvancedParam\" needs ExecuteType 2 (advanced "
                   "run); ExecuteType is 1");
  if (w->matches_num == 0 && !w->poll)
    return fail(c, "no <Match> block and no Poll: nothing would ever "
                   "trigger a rerun");
  if (w->task_scope != NULL) {
    if (strcmp(w->task_scope, "incomplete") == 0)
      w->scope_incomplete = true;
    else if (strcmp(w->task_scope, "configured") != 0)
      return fail(c,
                  "option \"TaskScope\": \"%s\" is not \"configured\" or "
                  "\"incomplete\"",
                  w->task_scope);
    if (w->scope_incomplete && w->execute_type != 2)
      return fail(c, "option \"TaskScope\": \"incomplete\" needs ExecuteType "
                     "2 (advanced run)");
    if (w->scope_incomplete && w->task_ids_num > 0)
      return fail(c, "option \"TaskScope\": \"incomplete\" picks the tasks "
                     "itself; remove TaskId");
  }
  if (w->max_retry_interval < w->retry_interval)
    return fail(c,
                "option \"MaxRetryInterval\": %.15g is less than RetryInterval "
                "%.15g",
                w->max_retry_interval, w->retry_interval);
  return 0;
}

/* Reads the key file: at most KEY_FILE_MAX bytes, trailing CR/LF dropped. */
static int read_key_file(ctx_t *c, const char *path, char **ret) {
  char *buf = calloc(1, KEY_FILE_MAX + 2);
  FILE *fh = NULL;
  int status = -1;
  if (buf == NULL) {
    fail(c, "out of memory");
    goto cleanup;
  }
  if ((fh = fopen(path, "r")) == NULL) {
    fail(c, "option \"SecretKeyFile\": cannot read \"%s\": %s", path,
         strerror(errno));
    goto cleanup;
  }
  size_t n = fread(buf, 1, KEY_FILE_MAX + 1, fh);
  if (ferror(fh)) {
    fail(c, "option \"SecretKeyFile\": cannot read \"%s\": %s", path,
         strerror(errno));
    goto cleanup;
  }
  if (n > KEY_FILE_MAX) {
    fail(c, "option \"SecretKeyFile\": \"%s\" is larger than %d bytes", path,
         KEY_FILE_MAX);
    goto cleanup;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  if (n == 0 || strlen(buf) != n) {
    fail(c, "option \"SecretKeyFile\": \"%s\" holds no key", path);
    goto cleanup;
  }
  *ret = buf;
  buf = NULL;
  status = 0;
cleanup:
  if (fh != NULL)
    fclose(fh);
  if (buf != NULL) {
    explicit_bzero(buf, KEY_FILE_MAX + 2);
    free(buf);
  }
  return status;
}

static const char *env_value(wdr_getenv_fn get_env, const char *name) {
  const char *v = get_env != NULL ? get_env(name) : NULL;
  return v != NULL && v[0] != '\0' ? v : NULL;
}

static int dup_to(ctx_t *c, const char *v, char **ret) {
  if (v != NULL && (*ret = strdup(v)) == NULL)
    return fail(c, "out of memory");
  return 0;
}

/* A file holding a secret should be its owner's alone: says so (a WARNING
 * of the glue's), never refuses. */
static void check_private(wdr_config_t *cfg, const char *what,
                          const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
    snprintf(cfg->cred_warning, sizeof(cfg->cred_warning),
             "%s \"%s\" is open to group or others (mode %03o): chmod 600 "
             "it",
             what, path, (unsigned)(st.st_mode & 0777));
}

/* Step 3 of the chain. Returns 0 with the credentials set, 1 when no file
 * has the section (looked says where it looked), -1 on an error. */
static int from_profile(ctx_t *c, wdr_config_t *cfg, wdr_getenv_fn get_env,
                        char *looked, size_t looked_size) {
  char paths[WDR_CRED_PATHS_MAX][WDR_CRED_PATH_MAX];
  size_t n = wdr_cred_profile_paths(get_env, paths);
  const char *section = cfg->profile != NULL ? cfg->profile : "default";
  looked[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    char *text = NULL;
    size_t len = 0;
    int rc = wdr_credfile_read(paths[i], WDR_CREDFILE_MAX, &text, &len);
    size_t used = strlen(looked);
    snprintf(looked + used, looked_size - used, "%s%s", used ? ", " : "",
             paths[i]);
    if (rc == ENOENT && !wdr_cred_profile_named(get_env))
      continue;
    if (rc == EFBIG)
      return fail(c, "profile file \"%s\" is larger than %d bytes", paths[i],
                  WDR_CREDFILE_MAX);
    if (rc != 0)
      return fail(
          c, "profile file \"%s\" cannot be read: %s%s", paths[i], strerror(rc),
          rc == ENOENT ? " (named by TENCENTCLOUD_CREDENTIALS_FILE)" : "");
    char why[WDR_INI_ERR_MAX + 64];
    wdr_cred_status_t st = wdr_cred_from_profile(
        text, len, section, &cfg->secret_id, &cfg->secret_key,
        &cfg->session_token, why, sizeof(why));
    explicit_bzero(text, len);
    free(text);
    if (st == WDR_CRED_BAD)
      return fail(c, "profile file \"%s\": %s", paths[i], why);
    if (st == WDR_CRED_FOUND) {
      if ((cfg->cred_file = strdup(paths[i])) == NULL)
        return fail(c, "out of memory");
      snprintf(cfg->cred_origin, sizeof(cfg->cred_origin),
               "profile file \"%s\", section [%s]", paths[i], section);
      check_private(cfg, "the profile file", paths[i]);
      return 0;
    }
  }
  return 1;
}

/* MetadataEndpoint: http:// or https://, a host, an optional port; no path
 * (the paths are fixed), no user part. */
static int check_metadata(ctx_t *c, wdr_config_t *cfg) {
  if (cfg->metadata_endpoint == NULL &&
      (cfg->metadata_endpoint = strdup(WDR_METADATA_DEFAULT_ENDPOINT)) == NULL)
    return fail(c, "out of memory");
  const char *e = cfg->metadata_endpoint;
  const char *rest = strncmp(e, "http://", 7) == 0    ? e + 7
                     : strncmp(e, "https://", 8) == 0 ? e + 8
                                                      : NULL;
  if (rest == NULL || rest[0] == '\0' || rest[0] == ':' ||
      strpbrk(rest, "/?#@ \\") != NULL)
    return fail(c,
                "option \"MetadataEndpoint\": \"%s\" is not http:// or "
                "https:// with a host and an optional port (no path)",
                e);
  return 0;
}

/* Step 4: the CVM role; its credentials come at init, from the metadata
 * service. */
static int from_role(wdr_config_t *cfg) {
  cfg->cred_from = WDR_CRED_CVM_ROLE;
  snprintf(cfg->cred_origin, sizeof(cfg->cred_origin),
           "the CVM role %s%s%s (metadata service %s)",
           cfg->role_name != NULL ? "\"" : "",
           cfg->role_name != NULL ? cfg->role_name : "the service names",
           cfg->role_name != NULL ? "\"" : "", cfg->metadata_endpoint);
  return 0;
}

/* The credential chain (wdr_cred.h): the config, then the environment,
 * then the profile file; the first that has credentials wins, or the one
 * CredentialSource names. A source given in part (a SecretId without a
 * key, one of the two variables) is an error, not a reason to look
 * further: the operator meant it. */
static int resolve_credentials(ctx_t *c, wdr_config_t *cfg,
                               wdr_getenv_fn get_env) {
  wdr_cred_source_t want = WDR_CRED_CHAIN;
  if (cfg->credential_source != NULL &&
      !wdr_cred_source_parse(cfg->credential_source, &want))
    return fail(c,
                "option \"CredentialSource\": \"%s\" is not config, env, "
                "profile or cvm-role",
                cfg->credential_source);
  cfg->cred_source = want;
  if (check_metadata(c, cfg) != 0)
    return -1;
  if (want == WDR_CRED_CVM_ROLE)
    return from_role(cfg);
  bool in_config = cfg->secret_id != NULL || cfg->secret_key != NULL ||
                   cfg->secret_key_file != NULL || cfg->session_token != NULL;
  if (want != WDR_CRED_CHAIN && want != WDR_CRED_CONFIG && in_config)
    return fail(c,
                "CredentialSource \"%s\", but the config sets SecretId, "
                "SecretKey, SecretKeyFile or SessionToken: remove them or "
                "the option",
                wdr_cred_source_name(want));
  if (in_config || want == WDR_CRED_CONFIG) {
    if (cfg->secret_id == NULL)
      return fail(c, "no SecretId: set SecretId with SecretKey or "
                     "SecretKeyFile (or leave all of them out for the "
                     "environment or the profile file)");
    if (cfg->secret_key == NULL && cfg->secret_key_file == NULL)
      return fail(c, "no SecretKey: set SecretKey or SecretKeyFile with "
                     "SecretId");
    if (cfg->secret_key == NULL) {
      if (read_key_file(c, cfg->secret_key_file, &cfg->secret_key) != 0)
        return -1;
      check_private(cfg, "SecretKeyFile", cfg->secret_key_file);
    }
    cfg->cred_from = WDR_CRED_CONFIG;
    snprintf(cfg->cred_origin, sizeof(cfg->cred_origin), "%s",
             cfg->secret_key_file != NULL ? "the config (SecretKeyFile)"
                                          : "the config");
    return 0;
  }
  if (want == WDR_CRED_CHAIN || want == WDR_CRED_ENV) {
    const char *id = env_value(get_env, "TENCENTCLOUD_SECRET_ID");
    const char *key = env_value(get_env, "TENCENTCLOUD_SECRET_KEY");
    if (id != NULL && key == NULL)
      return fail(c, "TENCENTCLOUD_SECRET_ID is set but not "
                     "TENCENTCLOUD_SECRET_KEY");
    if (id == NULL && key != NULL)
      return fail(c, "TENCENTCLOUD_SECRET_KEY is set but not "
                     "TENCENTCLOUD_SECRET_ID");
    if (id != NULL) {
      if (dup_to(c, id, &cfg->secret_id) != 0 ||
          dup_to(c, key, &cfg->secret_key) != 0 ||
          dup_to(c, env_value(get_env, "TENCENTCLOUD_SESSION_TOKEN"),
                 &cfg->session_token) != 0)
        return -1;
      cfg->cred_from = WDR_CRED_ENV;
      snprintf(cfg->cred_origin, sizeof(cfg->cred_origin), "%s",
               "the environment");
      return 0;
    }
    if (want == WDR_CRED_ENV)
      return fail(c, "CredentialSource \"env\", but TENCENTCLOUD_SECRET_ID "
                     "and TENCENTCLOUD_SECRET_KEY are not set");
  }
  char looked[3 * WDR_CRED_PATH_MAX];
  int rc = from_profile(c, cfg, get_env, looked, sizeof(looked));
  if (rc <= 0) {
    cfg->cred_from = WDR_CRED_PROFILE;
    return rc;
  }
  const char *section = cfg->profile != NULL ? cfg->profile : "default";
  if (want == WDR_CRED_PROFILE)
    return fail(c,
                "CredentialSource \"profile\", but no profile file has a "
                "section [%s] (looked at %s)",
                section, looked);
  /* The last step: fetched at init and renewed while collectd runs. */
  from_role(cfg);
  snprintf(cfg->cred_origin + strlen(cfg->cred_origin),
           sizeof(cfg->cred_origin) - strlen(cfg->cred_origin),
           "; nothing in the config, the environment or a profile file "
           "[%s] (looked at %s)",
           section, looked);
  return 0;
}

static int parse_endpoint(ctx_t *c, wdr_config_t *cfg) {
  const char *e = cfg->endpoint;
  const char *rest = NULL;
  const char *default_port = NULL;
  if (strncasecmp(e, "https://", 8) == 0) {
    rest = e + 8;
    default_port = "443";
  } else if (strncasecmp(e, "http://", 7) == 0) {
    rest = e + 7;
    default_port = "80";
  } else
    return fail(c,
                "option \"Endpoint\": \"%s\" is not an http:// or "
                "https:// URL",
                e);
  size_t host_len = strcspn(rest, ":/?#");
  const char *p = rest + host_len;
  char port[8] = "";
  if (host_len == 0)
    return fail(c, "option \"Endpoint\": \"%s\" has no host", e);
  for (size_t i = 0; i < host_len; i++)
    if (!isalnum((unsigned char)rest[i]) && rest[i] != '.' && rest[i] != '-')
      return fail(c, "option \"Endpoint\": \"%s\" has an invalid host", e);
  if (*p == ':') {
    size_t n = strspn(p + 1, "0123456789");
    long v = n > 0 && n <= 5 ? strtol(p + 1, NULL, 10) : 0;
    if (v < 1 || v > 65535)
      return fail(c, "option \"Endpoint\": \"%s\" has an invalid port", e);
    snprintf(port, sizeof(port), "%ld", v);
    p += 1 + n;
  }
  if (strcmp(p, "") != 0 && strcmp(p, "/") != 0)
    return fail(c,
                "option \"Endpoint\": \"%s\": only scheme, host and port "
                "are allowed (API 3.0 always posts to /)",
                e);
  bool explicit_port = port[0] != '\0' && strcmp(port, default_port) != 0;
  size_t scheme_len = (size_t)(rest - e);
  char *url = NULL, *host = NULL;
  if (asprintf(&host, "%.*s%s%s", (int)host_len, rest, explicit_port ? ":" : "",
               explicit_port ? port : "") < 0)
    return fail(c, "out of memory");
  if (asprintf(&url, "%.*s%s/", (int)scheme_len, e, host) < 0) {
    free(host);
    return fail(c, "out of memory");
  }
  for (size_t i = 0; i < scheme_len; i++)
    url[i] = (char)tolower((unsigned char)url[i]);
  for (char *h = host; *h != '\0'; h++)
    *h = (char)tolower((unsigned char)*h);
  for (char *h = url + scheme_len; *h != '\0'; h++)
    *h = (char)tolower((unsigned char)*h);
  cfg->url = url;
  cfg->host_header = host;
  return 0;
}

/* seen: which plugin_opts rows were given. */
static int validate_plugin(ctx_t *c, wdr_config_t *cfg, wdr_getenv_fn get_env,
                           const bool seen[OPTS_MAX]) {
  if (cfg->endpoint == NULL &&
      (cfg->endpoint = strdup(WDR_DEFAULT_ENDPOINT)) == NULL)
    return fail(c, "out of memory");
  if (parse_endpoint(c, cfg) != 0)
    return -1;
  if (check_required(c, plugin_opts, ARRAY_LEN(plugin_opts), seen) != 0)
    return -1;
  for (const char *r = cfg->region; *r != '\0'; r++)
    if (!isalnum((unsigned char)*r) && *r != '-')
      return fail(c, "option \"Region\": \"%s\" is not a region name",
                  cfg->region);
  if (cfg->language != NULL && strcmp(cfg->language, "zh-CN") != 0 &&
      strcmp(cfg->language, "en-US") != 0)
    return fail(c, "option \"Language\": \"%s\" is not zh-CN or en-US",
                cfg->language);

  if (resolve_credentials(c, cfg, get_env) != 0)
    return -1;
  /* A key with white space or control characters would sign correctly here
   * and fail at the server; say so now. (The CVM role's come later, checked
   * by wdr_metadata.) */
  if (cfg->cred_from != WDR_CRED_CVM_ROLE && !wdr_cred_value_ok(cfg->secret_id))
    return fail(c, "the SecretId contains white space or control characters");
  if (cfg->cred_from != WDR_CRED_CVM_ROLE &&
      !wdr_cred_value_ok(cfg->secret_key))
    return fail(c, "the SecretKey contains white space or control characters");
  if (cfg->session_token != NULL && !wdr_cred_value_ok(cfg->session_token))
    return fail(c, "the SessionToken contains white space or control "
                   "characters");
  if (cfg->workflows_num == 0)
    return fail(c, "no <Workflow> block: there is nothing to watch");
  if (cfg->state_file == NULL &&
      (cfg->state_file = strdup(WDR_DEFAULT_STATE_FILE)) == NULL)
    return fail(c, "out of memory");
  return 0;
}

static int parse_workflow_block(ctx_t *c, const oconfig_item_t *child,
                                wdr_config_t *cfg) {
  if (!one_string(child) || !name_ok(child->values[0].value.string))
    return fail(c,
                "<Workflow> needs one name of 1 to %d letters, digits, '_', "
                "'.' or '-'",
                WDR_NAME_MAX - 1);
  const char *name = child->values[0].value.string;
  for (size_t j = 0; j < cfg->workflows_num; j++)
    if (strcmp(cfg->workflows[j].name, name) == 0)
      return fail(c, "<Workflow \"%s\"> is defined more than once", name);
  wdr_workflow_cfg_t *w = realloc(
      cfg->workflows, (cfg->workflows_num + 1) * sizeof(wdr_workflow_cfg_t));
  if (w == NULL)
    return fail(c, "out of memory");
  cfg->workflows = w;
  w = &w[cfg->workflows_num++];
  *w = (wdr_workflow_cfg_t){.name = strdup(name)};
  apply_defaults(workflow_opts, ARRAY_LEN(workflow_opts), w);
  if (w->name == NULL)
    return fail(c, "out of memory");
  ctx_t wc = {.err = c->err, .err_size = c->err_size};
  /* name_ok bounds the name below WDR_NAME_MAX, so this always fits. */
  snprintf(wc.where, sizeof(wc.where),
           "<Plugin wedata_rerun> <Workflow \"%.*s\">", WDR_NAME_MAX - 1, name);
  if (parse_workflow(&wc, child, w) != 0)
    return -1;
  /* Two blocks for one workflow would rerun one failure twice (once per
   * block, perhaps with different ExecuteTypes). At config time only: the
   * scan over the blocks before is not on any event's path. */
  for (size_t j = 0; j + 1 < cfg->workflows_num; j++) {
    const wdr_workflow_cfg_t *o = &cfg->workflows[j];
    if (strcmp(o->workflow_id, w->workflow_id) == 0 &&
        strcmp(o->project_id, w->project_id) == 0)
      return fail(c,
                  "<Workflow \"%s\"> and <Workflow \"%s\"> both watch "
                  "WorkflowId \"%s\" of ProjectId \"%s\": one failure would "
                  "be rerun twice; keep one block per workflow",
                  o->name, w->name, w->workflow_id, w->project_id);
  }
  return 0;
}

int wdr_config_parse(const oconfig_item_t *ci, wdr_getenv_fn get_env,
                     wdr_config_t **ret, char *err, size_t err_size) {
  ctx_t c = {
      .where = "<Plugin wedata_rerun>", .err = err, .err_size = err_size};
  bool seen[OPTS_MAX] = {false};
  wdr_config_t *cfg = calloc(1, sizeof(*cfg));
  if (cfg == NULL)
    return fail(&c, "out of memory");
  apply_defaults(plugin_opts, ARRAY_LEN(plugin_opts), cfg);

  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];
    int status =
        table_opt(&c, plugin_opts, ARRAY_LEN(plugin_opts), seen, child, cfg);
    if (status == 1) {
      if (strcasecmp("Workflow", child->key) == 0)
        status = parse_workflow_block(&c, child, cfg);
      else
        status = fail(&c, "unknown option \"%s\"", child->key);
    }
    if (status != 0)
      goto fail;
  }
  if (validate_plugin(&c, cfg, get_env, seen) != 0)
    goto fail;
  *ret = cfg;
  return 0;
fail:
  wdr_config_free(cfg);
  return -1;
}

static void free_secret(char *s) {
  if (s != NULL) {
    explicit_bzero(s, strlen(s));
    free(s);
  }
}

void wdr_config_free(wdr_config_t *cfg) {
  if (cfg == NULL)
    return;
  for (size_t i = 0; i < cfg->workflows_num; i++) {
    wdr_workflow_cfg_t *w = &cfg->workflows[i];
    free(w->name);
    free(w->project_id);
    free(w->workflow_id);
    for (size_t j = 0; j < w->task_ids_num; j++)
      free(w->task_ids[j]);
    free(w->task_ids);
    for (size_t j = 0; j < w->params_num; j++) {
      free(w->params[j].key);
      free(w->params[j].value);
    }
    free(w->params);
    free(w->scheduling_rg);
    free(w->integration_rg);
    free(w->task_scope);
    for (size_t j = 0; j < w->matches_num; j++)
      wdr_match_clear(&w->matches[j]);
    free(w->matches);
  }
  free(cfg->workflows);
  free(cfg->endpoint);
  free(cfg->url);
  free(cfg->host_header);
  free(cfg->region);
  free(cfg->secret_id);
  free_secret(cfg->secret_key);
  free(cfg->secret_key_file);
  free_secret(cfg->session_token);
  free(cfg->credential_source);
  free(cfg->profile);
  free(cfg->cred_file);
  free(cfg->role_name);
  free(cfg->metadata_endpoint);
  free(cfg->ca_cert);
  free(cfg->language);
  free(cfg->state_file);
  free(cfg);
}

/* --- documentation ------------------------------------------------------- */

_Static_assert(sizeof(WDR_DEFAULT_ENDPOINT) <= WDR_CONFIG_DOC_TEXT,
               "WDR_DEFAULT_ENDPOINT does not fit the doc's default_text");
_Static_assert(sizeof(WDR_DEFAULT_STATE_FILE) <= WDR_CONFIG_DOC_TEXT,
               "WDR_DEFAULT_STATE_FILE does not fit the doc's default_text");
/* %.15g takes at most 22 characters ("-1.23456789012345e-308"), so a range
 * "MIN to MAX" takes at most 48. */
_Static_assert(2 * 22 + sizeof(" to ") <= WDR_CONFIG_DOC_TEXT,
               "a range does not fit the doc's range");

static const char *kind_name(enum opt_kind kind) {
  switch (kind) {
  case OPT_STRING:
    return "string";
  case OPT_SECRET:
    return "secret";
  case OPT_BOOL:
  case OPT_TRI:
    return "boolean";
  case OPT_NUMBER:
    return "number";
  case OPT_INT:
    return "integer";
  }
  return "?";
}

/* The default as users write it: derived from def for the kinds that
 * apply_defaults stores, so the text cannot drift from the behaviour. A TRI
 * row's -1 means "not given", which has no text. */
static void default_text(const opt_t *o, char *buf, size_t size) {
  if (o->required) {
    snprintf(buf, size, "required");
    return;
  }
  switch (o->kind) {
  case OPT_STRING:
  case OPT_SECRET:
    snprintf(buf, size, "%s", o->def_text != NULL ? o->def_text : "");
    return;
  case OPT_BOOL:
    snprintf(buf, size, "%s", o->def != 0 ? "true" : "false");
    return;
  case OPT_TRI:
    snprintf(buf, size, "%s", o->def < 0 ? "" : o->def != 0 ? "true" : "false");
    return;
  case OPT_NUMBER:
  case OPT_INT:
    snprintf(buf, size, "%.15g", o->def);
    return;
  }
  buf[0] = '\0';
}

static void range_text(const opt_t *o, char *buf, size_t size) {
  if (o->kind == OPT_NUMBER || o->kind == OPT_INT)
    snprintf(buf, size, "%.15g to %.15g", o->min, o->max);
  else
    snprintf(buf, size, "%s", "");
}

static const opt_t *scope_opts(wdr_config_scope_t scope, size_t *ret_num) {
  switch (scope) {
  case WDR_CONFIG_PLUGIN:
    *ret_num = ARRAY_LEN(plugin_opts);
    return plugin_opts;
  case WDR_CONFIG_WORKFLOW:
    *ret_num = ARRAY_LEN(workflow_opts);
    return workflow_opts;
  }
  *ret_num = 0;
  return NULL;
}

size_t wdr_config_doc_count(wdr_config_scope_t scope) {
  size_t num = 0;
  (void)scope_opts(scope, &num);
  return num;
}

int wdr_config_doc(wdr_config_scope_t scope, size_t i, wdr_config_doc_t *ret) {
  size_t num = 0;
  const opt_t *opts = scope_opts(scope, &num);
  if (opts == NULL || i >= num)
    return -1;
  const opt_t *o = &opts[i];
  ret->key = o->key;
  ret->type = kind_name(o->kind);
  ret->required = o->required;
  default_text(o, ret->default_text, sizeof(ret->default_text));
  range_text(o, ret->range, sizeof(ret->range));
  ret->meaning = o->meaning;
  return 0;
}

/* --- fingerprint --------------------------------------------------------- */

static int print_field(wdr_buf_t *out, const char *key, const char *value) {
  char head[96];
  size_t n = value != NULL ? strlen(value) : 0;
  int len = snprintf(head, sizeof(head), "%s %zu:", key, n);
  if (len < 0 || (size_t)len >= sizeof(head) ||
      wdr_buf_append(out, head, (size_t)len) != 0 ||
      (n > 0 && wdr_buf_append(out, value, n) != 0))
    return -1;
  return wdr_buf_append(out, "\n", 1);
}

int wdr_config_fingerprint(const wdr_config_t *cfg, size_t wf, wdr_buf_t *out) {
  if (wf >= cfg->workflows_num)
    return -1;
  const wdr_workflow_cfg_t *w = &cfg->workflows[wf];
  char num[32];
  snprintf(num, sizeof(num), "%d", w->execute_type);
  int rc = print_field(out, "Endpoint", cfg->url) |
           print_field(out, "Region", cfg->region) |
           print_field(out, "ProjectId", w->project_id) |
           print_field(out, "WorkflowId", w->workflow_id) |
           print_field(out, "ExecuteType", num) |
           print_field(out, "SchedulingResourceGroup", w->scheduling_rg) |
           print_field(out, "IntegrationResourceGroup", w->integration_rg) |
           print_field(out, "TaskScope", w->task_scope) |
           print_field(out, "EscalateToFull", w->escalate_to_full ? "1" : "0");
  for (size_t i = 0; i < w->task_ids_num; i++)
    rc |= print_field(out, "TaskId", w->task_ids[i]);
  for (size_t i = 0; i < w->params_num; i++)
    rc |= print_field(out, "AdvancedParam", w->params[i].key) |
          print_field(out, "Value", w->params[i].value);
  return rc != 0 ? -1 : 0;
}
