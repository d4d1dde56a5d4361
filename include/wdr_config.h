/* wdr_config: turns the <Plugin wedata_rerun> block into a validated,
 * immutable wdr_config_t.
 *
 * Pure apart from reading SecretKeyFile: the environment comes in as a
 * function, and every error is written into the caller's buffer as one line
 * naming the block, the option and the value (never a secret), so the glue
 * logs it and the tests compare it. */
#ifndef WDR_CONFIG_H
#define WDR_CONFIG_H

#include "wdr_buf.h"
#include "wdr_common.h"
#include "wdr_cred.h"
#include "wdr_json.h" /* wdr_param_t */
#include "wdr_match.h"

#include "liboconfig/oconfig.h"

#include <stdbool.h>
#include <stddef.h>

#define WDR_DEFAULT_ENDPOINT "https://wedata.tencentcloudapi.com"
#define WDR_DEFAULT_STATE_FILE "wedata_rerun.state"
/* collectd's BaseDir as Debian builds it (`collectd -h`: "Data
 * directory"), where a relative StateFile lives: the state tool's default
 * is WDR_DEBIAN_BASE_DIR "/" WDR_DEFAULT_STATE_FILE. */
#define WDR_DEBIAN_BASE_DIR "/var/lib/collectd"

typedef struct {
  char *name;
  char *project_id;
  char *workflow_id;
  int execute_type;
  char **task_ids;
  size_t task_ids_num;
  wdr_param_t *params;
  size_t params_num;
  char *scheduling_rg;
  char *integration_rg;
  wdr_match_t *matches;
  size_t matches_num;
  int max_attempts;          /* accepted reruns per run */
  double retry_interval;     /* seconds: backoff base */
  double max_retry_interval; /* seconds: backoff cap */
  int max_reruns_per_hour;   /* 0: unlimited */
  int dry_run;               /* -1: as the plugin-wide DryRun, else 0/1 */
  bool verify_before_rerun;  /* read the run before each attempt */
  char *task_scope;          /* "configured" (NULL) or "incomplete" */
  bool scope_incomplete;     /* task_scope is "incomplete" */
  bool escalate_to_full;     /* after an accepted rerun: ExecuteType 1 */
  bool poll;                 /* find its failed runs by listing them */
  bool track_async;          /* follow each accepted rerun to its end */
  /* The SHA-256 (hex) of wdr_config_fingerprint's text, set by the glue
   * after parsing (this module does no hashing); "" when unknown. The
   * state remembers it, so that runs a business error stopped are
   * released after a restart with a changed config. */
  char config_digest[65];
} wdr_workflow_cfg_t;

typedef struct {
  char *endpoint;    /* as configured */
  char *url;         /* scheme://host[:port]/ : where requests go */
  char *host_header; /* host[:port], port only when not the default */
  char *region;
  char *secret_id;
  char *secret_key; /* wiped by wdr_config_free */
  char *secret_key_file;
  char *session_token;
  /* The credential chain (wdr_cred.h): the source asked for (option
   * CredentialSource; WDR_CRED_CHAIN when not given), the profile file's
   * section, and what parsing found: the source the credentials above came
   * from, the file when a profile file, where exactly (for the log; never a
   * secret), and a warning for the log when the file they came from is readable
   * by group or others ("" when none). */
  char *credential_source;
  char *profile;
  wdr_cred_source_t cred_source;
  wdr_cred_source_t cred_from;
  char *cred_file;         /* the profile file they came from, or NULL */
  char *role_name;         /* RoleName, or NULL: the service names it */
  char *metadata_endpoint; /* MetadataEndpoint, its default filled in */
  char cred_origin[WDR_CRED_PATH_MAX + 64];
  char cred_warning[WDR_CRED_PATH_MAX + 128];
  char *ca_cert;
  char *language;
  bool verify_peer;
  double timeout; /* seconds */
  int queue_limit;
  int workers;
  int max_request_retries;
  double rate_limit; /* requests per second of each action */
  int breaker_threshold;
  double breaker_cooldown; /* seconds */
  bool dry_run;
  char *state_file;           /* relative paths are below collectd's BaseDir */
  double state_retention;     /* seconds */
  double permanent_hold;      /* seconds */
  int max_tracked_runs;       /* runs in the table at once */
  double poll_interval;       /* seconds between polls */
  double poll_lookback;       /* seconds: how far back runs are looked at */
  double async_poll_interval; /* seconds between reads of a followed rerun */
  double async_timeout;       /* seconds an async job may take */
  wdr_workflow_cfg_t *workflows;
  size_t workflows_num;
} wdr_config_t;

typedef const char *(*wdr_getenv_fn)(const char *name);

/* wdr_config_parse parses and validates ci (the <Plugin> item). On success
 * returns 0 and *ret owns a new config (free with wdr_config_free). On error
 * returns -1 and err holds the reason. */
int wdr_config_parse(const oconfig_item_t *ci, wdr_getenv_fn get_env,
                     wdr_config_t **ret, char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* wdr_config_fingerprint appends to out (a wdr_buf_t) a text that changes
 * whenever what workflow wf sends changes: the Endpoint and Region, its
 * ProjectId, WorkflowId, ExecuteType, TaskIds, AdvancedParams, resource
 * groups, TaskScope and EscalateToFull. Each value is length-prefixed, so
 * no two configs give one text. No secret is in it. Returns 0 or -1. */
int wdr_config_fingerprint(const wdr_config_t *cfg, size_t wf, wdr_buf_t *out)
    __attribute__((warn_unused_result));

/* wdr_config_free releases cfg and wipes the secrets. NULL is fine. */
void wdr_config_free(wdr_config_t *cfg);

/* --- documentation of the options --------------------------------------
 *
 * The same table that drives parsing describes each scalar option, so the
 * README's option tables can be checked against it (tests/unit/
 * test_config_doc.c). Options parsed by hand (TaskId, AdvancedParam,
 * <Match> and its keys) are not in it. */

typedef enum {
  WDR_CONFIG_PLUGIN,   /* directly in <Plugin wedata_rerun> */
  WDR_CONFIG_WORKFLOW, /* in <Workflow "name"> */
} wdr_config_scope_t;

#define WDR_CONFIG_DOC_TEXT 64 /* fits any default and range text */

typedef struct {
  const char *key;  /* as written in the docs; matched case-insensitively */
  const char *type; /* "string", "secret", "boolean", "number", "integer" */
  bool required;    /* the config is refused without it */
  /* The value used when the option is not given, as users write it ("20",
   * "true", "wedata_rerun.state"); "required" when required; "" when there
   * is none (the meaning says what happens then). */
  char default_text[WDR_CONFIG_DOC_TEXT];
  /* "MIN to MAX" for numbers and integers, formatted as the range errors
   * format them (%.15g); "" for other types. */
  char range[WDR_CONFIG_DOC_TEXT];
  const char *meaning; /* one line, plain English; may hold `code` */
} wdr_config_doc_t;

/* wdr_config_doc_count returns how many options scope has (0 for an
 * unknown scope). */
size_t wdr_config_doc_count(wdr_config_scope_t scope);

/* wdr_config_doc fills *ret with option i (0 <= i < count) of scope, in the
 * table's order. The strings ret points at are static and read-only; the
 * texts are copied into *ret. Reads constant tables only, so any thread may
 * call it. Returns 0, or -1 (and *ret untouched) for an unknown scope or
 * an i out of range. */
int wdr_config_doc(wdr_config_scope_t scope, size_t i, wdr_config_doc_t *ret)
    __attribute__((warn_unused_result));

#endif
