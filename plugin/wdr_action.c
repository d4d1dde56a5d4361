#include "wdr_action.h"
#include "wdr_cred.h"

#include <stdio.h>

size_t wdr_job_wf(const wdr_job_t *job) {
  return job->kind != WDR_JOB_LIST ? job->run.wf : job->list.wf;
}

/* The body a rerun job sends: the workflow's configured request, unless
 * the policy chose the whole workflow (1) or the unfinished tasks (2). */
static int call_rerun(const wdr_job_t *job, const wdr_config_t *cfg,
                      const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                      int64_t now, wdr_answer_t *out) {
  const wdr_policy_job_t *j = &job->run;
  const wdr_workflow_cfg_t *w = &cfg->workflows[j->wf];
  wdr_rerun_req_t req = {.project_id = w->project_id,
                         .workflow_id = w->workflow_id,
                         .execution_id = j->execution_id,
                         .execute_type = w->execute_type,
                         .task_ids = w->task_ids,
                         .task_ids_num = w->task_ids_num,
                         .params = w->params,
                         .params_num = w->params_num,
                         .scheduling_rg = w->scheduling_rg,
                         .integration_rg = w->integration_rg};
  if (j->execute_type == 1) { /* the whole workflow, default parameters */
    req.execute_type = 1;
    req.task_ids_num = 0;
    req.params_num = 0;
  } else if (j->execute_type == 2) { /* only the tasks that did not finish */
    req.execute_type = 2;
    req.task_ids = j->task_ids;
    req.task_ids_num = j->task_ids_num;
  }
  return wdr_api_rerun(ep, t, &req, now, &out->res);
}

static int call_get_run(const wdr_job_t *job, const wdr_config_t *cfg,
                        const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                        int64_t now, wdr_answer_t *out) {
  return wdr_api_get_run(ep, t, cfg->workflows[job->run.wf].project_id,
                         job->run.execution_id, now, &out->res, &out->view);
}

static int call_async_job(const wdr_job_t *job, const wdr_config_t *cfg,
                          const wdr_api_endpoint_t *ep,
                          const wdr_transport_t *t, int64_t now,
                          wdr_answer_t *out) {
  return wdr_api_get_async_job(ep, t, cfg->workflows[job->run.wf].project_id,
                               job->run.async_id, now, &out->res, &out->async);
}

static int call_list(const wdr_job_t *job, const wdr_config_t *cfg,
                     const wdr_api_endpoint_t *ep, const wdr_transport_t *t,
                     int64_t now, wdr_answer_t *out) {
  (void)cfg;
  const wdr_poll_job_t *l = &job->list;
  return wdr_api_list_runs(ep, t, l->project_id, l->workflow_ids, l->ids_num,
                           l->page, now, &out->res, &out->runs);
}

static const wdr_action_t actions[WDR_JOB_KIND_NUM] = {
    [WDR_JOB_RERUN] = {WDR_JOB_RERUN, WDR_ACTION_RERUN, WDR_QUOTA_RERUN,
                       call_rerun},
    [WDR_JOB_VERIFY] = {WDR_JOB_VERIFY, WDR_ACTION_GET_RUN, WDR_QUOTA_GET_RUN,
                        call_get_run},
    [WDR_JOB_CHECK] = {WDR_JOB_CHECK, WDR_ACTION_GET_RUN, WDR_QUOTA_GET_RUN,
                       call_get_run},
    [WDR_JOB_ASYNC] = {WDR_JOB_ASYNC, WDR_ACTION_ASYNC_JOB, WDR_QUOTA_ASYNC_JOB,
                       call_async_job},
    [WDR_JOB_FOLLOW] = {WDR_JOB_FOLLOW, WDR_ACTION_GET_RUN, WDR_QUOTA_GET_RUN,
                        call_get_run},
    [WDR_JOB_LIST] = {WDR_JOB_LIST, WDR_ACTION_LIST_RUNS, WDR_QUOTA_LIST_RUNS,
                      call_list},
};

const wdr_action_t *wdr_action_of(wdr_job_kind_t kind) {
  if ((int)kind < 0 || kind >= WDR_JOB_KIND_NUM || actions[kind].call == NULL)
    return NULL;
  return &actions[kind];
}

void wdr_action_execute(const wdr_job_t *job, const wdr_config_t *cfg,
                        const wdr_cred_snapshot_t *cred,
                        const wdr_transport_t *t, int64_t now,
                        wdr_answer_t *out) {
  wdr_answer_init(out);
  const wdr_action_t *a = wdr_action_of(job->kind);
  if (a == NULL) {
    out->rc = -1;
    snprintf(out->res.response.error_code, sizeof(out->res.response.error_code),
             "%s", WDR_ERR_NETWORK);
    snprintf(out->res.response.error_message,
             sizeof(out->res.response.error_message),
             "no action for job kind %d", (int)job->kind);
    return;
  }
  /* Temporary credentials that expire before the request would arrive, or
   * none fetched yet: nothing leaves, and the engine holds every request
   * (the credentials' gate) until fresh ones come. */
  if (cred != NULL &&
      !wdr_cred_usable(cred->secret_id, cred->expires_at,
                       now - job->clock_offset_s, cfg->timeout)) {
    out->rc = 0;
    snprintf(out->res.response.error_code, sizeof(out->res.response.error_code),
             "%s", WDR_ERR_NO_CREDENTIALS);
    snprintf(out->res.response.error_message,
             sizeof(out->res.response.error_message), "%s",
             cred->secret_id[0] == '\0'
                 ? "no credentials from the CVM role yet"
                 : "the temporary credentials expire before the request "
                   "would arrive, and no fresh ones could be fetched");
    return;
  }
  wdr_api_endpoint_t ep = {.url = cfg->url,
                           .host = cfg->host_header,
                           .region = cfg->region,
                           .secret_id = cred ? cred->secret_id : cfg->secret_id,
                           .secret_key =
                               cred ? cred->secret_key : cfg->secret_key,
                           .session_token = !cred ? cfg->session_token
                                            : cred->token[0] ? cred->token
                                                             : NULL,
                           .language = cfg->language};
  out->rc = a->call(job, cfg, &ep, t, now, out);
}
