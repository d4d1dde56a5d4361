/* wdr_action: the one table from job kind to WeData API action.
 *
 * Every job the engine hands a worker is a wdr_job_t; its kind picks a row
 * of the table: the API action (also the name its latency is reported
 * under) and the call that builds the body from the job and the config,
 * signs and sends it through wdr_api, and decodes the answer into a
 * wdr_answer_t. Adding an action: a row here, its body and decoder in
 * wdr_json with a wrapper in wdr_api, and its handling in the policy (or
 * polling).
 *
 * Pure apart from the transport it is handed; thread-safe (the table is
 * read-only), so every worker calls it. */
#ifndef WDR_ACTION_H
#define WDR_ACTION_H

#include "wdr_answer.h"
#include "wdr_api.h"
#include "wdr_config.h"
#include "wdr_credstore.h"
#include "wdr_policy.h"
#include "wdr_poll.h"

/* One request for a worker. kind says which member is used: run for RERUN
 * to FOLLOW (run.kind == kind), list for LIST. Copied by value between
 * threads; what it points to (task ids, workflow ids) is owned by the
 * engine and valid while the job is out. */
typedef struct {
  wdr_job_kind_t kind;
  wdr_policy_job_t run;
  wdr_poll_job_t list;
  int64_t clock_offset_s; /* added to the host's clock when signing */
} wdr_job_t;

/* wdr_job_wf: the workflow a job is about (a project's poll: its first
 * polled workflow). */
size_t wdr_job_wf(const wdr_job_t *job);

/* The API actions, each with a quota of its own at WeData. */
enum wdr_quota {
  WDR_QUOTA_RERUN,
  WDR_QUOTA_GET_RUN,
  WDR_QUOTA_ASYNC_JOB,
  WDR_QUOTA_LIST_RUNS,
  WDR_QUOTA_NUM
};

typedef struct {
  wdr_job_kind_t kind;
  const char *action;   /* WDR_ACTION_*: the API action and the latency name */
  enum wdr_quota quota; /* the action's quota: one pace each */
  /* Sends the job's request signed at now (seconds) and fills out; returns
   * wdr_api_call's value. */
  int (*call)(const wdr_job_t *job, const wdr_config_t *cfg,
              const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
              int64_t now, wdr_answer_t *out);
} wdr_action_t;

/* wdr_action_of: kind's row, or NULL for a kind out of range. */
const wdr_action_t *wdr_action_of(wdr_job_kind_t kind);

/* wdr_action_execute: the worker's whole job. Builds the endpoint from cfg
 * and the credentials cred (NULL: the config's own), runs the kind's call
 * and fills out (initialised here; the caller owns it and frees it with
 * wdr_answer_free). A kind without a row fills out with a ClientError and
 * rc -1. */
void wdr_action_execute(const wdr_job_t *job, const wdr_config_t *cfg,
                        const wdr_cred_snapshot_t *cred,
                        const wdr_transport_t *t, int64_t now,
                        wdr_answer_t *out);

#endif
