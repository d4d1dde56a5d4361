#include "wdr_poll.h"
#include "wdr_backoff.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The polled workflows of one ProjectId. */
typedef struct {
  const char *project_id;
  size_t *wf;       /* indexes of its polled workflows, config order */
  const char **ids; /* their WorkflowIds */
  size_t num;
  bool busy; /* a poll of it is queued or being listed */
} project_t;

struct wdr_poll_s {
  const wdr_config_t *cfg;
  wdr_metrics_t *metrics;
  const wdr_sink_t *sink;
  project_t *projects;
  size_t projects_num;
  /* FIFO of listings waiting to be sent; a ring. */
  wdr_poll_job_t lists[WDR_POLL_LISTS_MAX];
  size_t head, num;
  int64_t next_poll;
  wdr_loglimit_t limit_full;
};

static int add_to_project(wdr_poll_t *p, size_t wf) {
  const wdr_workflow_cfg_t *w = &p->cfg->workflows[wf];
  size_t n = p->cfg->workflows_num;
  size_t i = 0;
  while (i < p->projects_num &&
         strcmp(p->projects[i].project_id, w->project_id))
    i++;
  project_t *pr = &p->projects[i];
  if (i == p->projects_num) {
    pr->project_id = w->project_id;
    pr->wf = calloc(n, sizeof(*pr->wf));
    pr->ids = calloc(n, sizeof(*pr->ids));
    p->projects_num++;
    if (pr->wf == NULL || pr->ids == NULL)
      return -1;
  }
  pr->wf[pr->num] = wf;
  pr->ids[pr->num] = w->workflow_id;
  pr->num++;
  return 0;
}

wdr_poll_t *wdr_poll_create(const wdr_config_t *cfg, wdr_metrics_t *metrics,
                            const wdr_sink_t *sink) {
  wdr_poll_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return NULL;
  p->cfg = cfg;
  p->metrics = metrics;
  p->sink = sink;
  p->projects = calloc(cfg->workflows_num + 1, sizeof(*p->projects));
  if (p->projects == NULL)
    goto fail;
  for (size_t i = 0; i < cfg->workflows_num; i++)
    if (cfg->workflows[i].poll && add_to_project(p, i) != 0)
      goto fail;
  p->next_poll = INT64_MIN; /* the first poll right at the start */
  return p;
fail:
  wdr_poll_destroy(p);
  return NULL;
}

void wdr_poll_destroy(wdr_poll_t *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; p->projects != NULL && i < p->projects_num; i++) {
    free(p->projects[i].wf);
    free(p->projects[i].ids);
  }
  free(p->projects);
  free(p);
}

size_t wdr_poll_waiting(const wdr_poll_t *p) { return p->num; }

static wdr_poll_job_t *at(wdr_poll_t *p, size_t i) {
  return &p->lists[(p->head + i) % WDR_POLL_LISTS_MAX];
}

/* Fills in what the body needs and queues l; a full queue drops it, says so
 * (rate-limited), and ends what it was for. */
static void add_list(wdr_poll_t *p, wdr_poll_job_t l, int64_t now_ms) {
  if (l.resolve) {
    const wdr_workflow_cfg_t *w = &p->cfg->workflows[l.wf];
    l.project_id = w->project_id;
    l.workflow_ids = (const char *const *)&w->workflow_id;
    l.ids_num = 1;
  } else {
    l.project_id = p->projects[l.project].project_id;
    l.workflow_ids = p->projects[l.project].ids;
    l.ids_num = p->projects[l.project].num;
  }
  if (p->num == WDR_POLL_LISTS_MAX) {
    uint64_t held = 0;
    if (wdr_loglimit_allow(&p->limit_full, now_ms / 1000, &held))
      wdr_sink_logf(p->sink, WDR_LOG_WARNING,
                    "%d listings of runs wait already: dropped one (%" PRIu64
                    " more such messages held back)",
                    WDR_POLL_LISTS_MAX, held);
    if (!l.resolve)
      p->projects[l.project].busy = false;
    else
      wdr_metrics_skip(p->metrics, l.wf, WDR_SKIP_NO_FAILED_RUN);
    return;
  }
  *at(p, p->num++) = l;
}

int64_t wdr_poll_tick(wdr_poll_t *p, int64_t now_ms) {
  if (p->projects_num == 0)
    return INT64_MAX;
  if (now_ms < p->next_poll)
    return p->next_poll;
  for (size_t i = 0; i < p->projects_num; i++)
    if (!p->projects[i].busy) {
      p->projects[i].busy = true;
      add_list(
          p,
          (wdr_poll_job_t){.project = i, .wf = p->projects[i].wf[0], .page = 1},
          now_ms);
    }
  p->next_poll = now_ms + (int64_t)(p->cfg->poll_interval * 1000.0);
  return p->next_poll;
}

void wdr_poll_resolve(wdr_poll_t *p, size_t wf, int64_t now_ms) {
  for (size_t i = 0; i < p->num; i++)
    if (at(p, i)->resolve && at(p, i)->wf == wf)
      return; /* that search answers this signal too */
  add_list(p, (wdr_poll_job_t){.resolve = true, .wf = wf, .page = 1}, now_ms);
}

bool wdr_poll_take_due(wdr_poll_t *p, int64_t now_ms, wdr_poll_job_t *job,
                       int64_t *next_ms) {
  for (size_t i = 0; i < p->num; i++) {
    wdr_poll_job_t *l = at(p, i);
    if (l->not_before > now_ms) {
      if (l->not_before < *next_ms)
        *next_ms = l->not_before;
      continue;
    }
    *job = *l;
    /* Close the gap, keeping the order of the others. */
    for (size_t j = i; j + 1 < p->num; j++)
      *at(p, j) = *at(p, j + 1);
    p->num--;
    return true;
  }
  return false;
}

void wdr_poll_requeue(wdr_poll_t *p, const wdr_poll_job_t *job,
                      int64_t now_ms) {
  add_list(p, *job, now_ms);
}

size_t wdr_poll_workflows(const wdr_poll_t *p, const wdr_poll_job_t *l,
                          const size_t **ret) {
  if (l->resolve) {
    *ret = &l->wf;
    return 1;
  }
  *ret = p->projects[l->project].wf;
  return p->projects[l->project].num;
}

static const char *subject(const wdr_poll_t *p, const wdr_poll_job_t *l) {
  return l->resolve ? p->cfg->workflows[l->wf].name
                    : p->projects[l->project].project_id;
}

/* A listing without a usable answer: a poll waits for the next one, a
 * search tries again after the request backoff while retries are left.
 * An outage, refused credentials or the clock are not the search's fault:
 * they use no retry (the breaker and the credentials' probe pace them). */
static void list_failed(wdr_poll_t *p, const wdr_poll_job_t *l,
                        const wdr_api_result_t *res, int64_t now_ms,
                        uint32_t rnd) {
  const wdr_response_t *r = &res->response;
  wdr_api_class_t cls = wdr_answer_classify(res);
  bool held = wdr_answer_holds_sender(res);
  const size_t *wfs = NULL;
  size_t wfs_num = wdr_poll_workflows(p, l, &wfs);
  for (size_t i = 0; i < wfs_num; i++)
    wdr_metrics_error(p->metrics, wfs[i], r->error_code);
  wdr_sink_logf(p->sink, WDR_LOG_NOTICE,
                "listing the runs of %s failed: %s: %s", subject(p, l),
                r->error_code, r->error_message);
  if (!l->resolve) {
    p->projects[l->project].busy = false;
    return;
  }
  if (!held &&
      (cls == WDR_CLASS_PERMANENT || l->tries >= p->cfg->max_request_retries)) {
    wdr_metrics_skip(p->metrics, l->wf, WDR_SKIP_RETRIES_EXHAUSTED);
    return;
  }
  wdr_poll_job_t again = *l;
  if (held) {
    again.held++;
    wdr_metrics_count(p->metrics, l->wf, WDR_CNT_HELD);
  } else {
    again.tries++;
    again.held = 0;
    wdr_metrics_count(p->metrics, l->wf, WDR_CNT_RETRIES);
  }
  again.not_before = now_ms + wdr_backoff_ms(&wdr_request_backoff,
                                             again.tries + again.held, rnd);
  add_list(p, again, now_ms);
}

void wdr_poll_on_answer(wdr_poll_t *p, const wdr_poll_job_t *l,
                        const wdr_answer_t *answer, int64_t now_ms,
                        uint32_t rnd, wdr_poll_found_fn found, void *ctx) {
  const wdr_response_t *r = &answer->res.response;
  const size_t *wfs = NULL;
  size_t wfs_num = wdr_poll_workflows(p, l, &wfs);
  if (!r->ok) {
    list_failed(p, l, &answer->res, now_ms, rnd);
    return;
  }
  int64_t cutoff = now_ms - (int64_t)(p->cfg->poll_lookback * 1000.0);
  bool past_lookback = false;
  for (size_t i = 0; i < answer->runs.items_num; i++) {
    const wdr_run_brief_t *b = &answer->runs.items[i];
    if (b->create_ms != 0 && b->create_ms < cutoff) {
      past_lookback = true;
      continue;
    }
    size_t j = 0;
    while (j < wfs_num &&
           strcmp(p->cfg->workflows[wfs[j]].workflow_id, b->workflow_id) != 0)
      j++;
    if (j == wfs_num)
      continue;
    size_t wf = wfs[j];
    /* Only FAILED is a failure: RUNNING, QUEUED and undocumented states
     * are neither failed nor finished. */
    bool failed = strcmp(b->state, "FAILED") == 0 && b->support_rerun;
    if (!l->resolve) {
      wdr_metrics_count(p->metrics, wf, WDR_CNT_POLLED);
      if (failed)
        wdr_metrics_count(p->metrics, wf, WDR_CNT_SIGNALS);
    }
    if (!failed)
      continue;
    found(ctx, wf, b, now_ms);
    if (l->resolve) {
      wdr_sink_logf(p->sink, WDR_LOG_INFO,
                    "workflow %s: a failure signal without a run id means its "
                    "newest failed run, %s",
                    p->cfg->workflows[wf].name, b->execution_id);
      return;
    }
  }
  if (!past_lookback && answer->runs.items_num > 0 &&
      l->page < answer->runs.total_pages) {
    wdr_poll_job_t next = *l;
    next.page++;
    next.tries = 0;
    next.not_before = 0;
    add_list(p, next, now_ms);
    return;
  }
  if (!l->resolve) {
    p->projects[l->project].busy = false;
    return;
  }
  wdr_metrics_skip(p->metrics, l->wf, WDR_SKIP_NO_FAILED_RUN);
  wdr_sink_logf(p->sink, WDR_LOG_INFO,
                "workflow %s: a failure signal without a run id, and no failed "
                "run within PollLookback: nothing to rerun",
                p->cfg->workflows[l->wf].name);
}
