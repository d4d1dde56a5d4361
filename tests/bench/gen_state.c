/* gen_state PATH RUNS: writes a state of RUNS runs as the plugin writes it,
 * for the state tool's benchmark (tests/bench/state_tool.py): a snapshot
 * at PATH of four workflows' runs (UUID ids; idle, scheduled, permanent
 * and followed ones; AsyncIds and error codes) and budget windows, and a
 * journal of 1,000 changes after it (runs updated, added and forgotten).
 * Prints what it wrote. */
#include "wdr_policy_store.h"
#include "wdr_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1796256000000LL /* 2026-12-03T00:00:00Z */
#define WF_NUM 4

static char *names[WF_NUM] = {"nightly_etl", "hourly_sync", "ads_report",
                              "dw_backfill"};
static const bool persist[WF_NUM] = {true, true, true, true};

static void uuid(unsigned long i, unsigned salt, char *buf, size_t size) {
  snprintf(buf, size, "%08lx-%04x-4%03x-8%03x-%012lx", i * 2654435761UL,
           (unsigned)(i & 0xffff), salt & 0xfff, (unsigned)(i >> 16) & 0xfff,
           i * 40503UL + salt);
}

static int make(wdr_policy_t *p, unsigned long i, int64_t t) {
  static const wdr_run_state_t states[] = {WDR_RUN_IDLE, WDR_RUN_IDLE,
                                           WDR_RUN_SCHEDULED, WDR_RUN_PERMANENT,
                                           WDR_RUN_FOLLOW};
  char id[WDR_ID_MAX], async_id[WDR_ID_MAX];
  wdr_run_t r = {.wf = (uint32_t)(i % WF_NUM),
                 .state = states[i % 5],
                 .attempts = (int)(i % 3) + 1,
                 .tries = (int)(i % 3) + 2,
                 .first_signal_ms = t - 600000,
                 .last_signal_ms = t - 300000,
                 .last_try_ms = t - 200000,
                 .next_at_ms = t + 60000 + (int64_t)(i % 600) * 1000,
                 .updated_ms = t,
                 .track_ms = i % 5 == 4 ? t - 100000 : 0,
                 .had_accepted = true};
  uuid(i, 1, id, sizeof(id));
  uuid(i, 2, async_id, sizeof(async_id));
  int status =
      wdr_cid_set(&r.execution_id, id) != 0 ||
              wdr_cid_set(&r.last_async_id, async_id) != 0 ||
              wdr_run_text_set(&r.last_error,
                               i % 5 == 3 ? "InvalidParameter.WorkflowNotFound"
                               : i % 7 == 0 ? "InternalError"
                                            : NULL) != 0 ||
              wdr_run_text_set(&r.async_status,
                               i % 5 == 4 ? "SUCCESS" : NULL) != 0 ||
              wdr_policy_restore(p, &r, t) != 0
          ? -1
          : 0;
  wdr_run_clear(&r);
  return status;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: gen_state PATH RUNS\n");
    return 2;
  }
  unsigned long runs = strtoul(argv[2], NULL, 10);
  wdr_policy_wf_t wf[WF_NUM];
  for (int i = 0; i < WF_NUM; i++)
    wf[i] = (wdr_policy_wf_t){.max_attempts = 3,
                              .retry_interval_ms = 60000,
                              .max_retry_interval_ms = 3600000,
                              .max_reruns_per_hour = 100,
                              .track = true};
  wdr_policy_t *p = wdr_policy_create(&(wdr_policy_cfg_t){
      .wf = wf, .wf_num = WF_NUM, .max_runs = runs + 1000, .verbatim = true});
  wdr_buf_t snap, journal;
  wdr_buf_init(&snap, WDR_STATE_MAX);
  wdr_buf_init(&journal, WDR_STATE_MAX);
  char err[256] = "", path[4096];
  int status = 1;
  if (p == NULL)
    goto done;
  for (unsigned long i = 0; i < runs; i++)
    if (make(p, i, T0) != 0)
      goto done;
  for (int w = 0; w < WF_NUM; w++)
    for (int k = 0; k < 50; k++)
      wdr_policy_restore_budget(p, (size_t)w, T0 - 60000 * k);
  if (wdr_state_serialize(p, names, persist, WF_NUM, T0, 7, &snap) != 0 ||
      wdr_state_journal_header(7, T0, &journal) != 0)
    goto done;
  /* The journal: 800 runs updated, 100 added, 100 forgotten. */
  for (unsigned long k = 0; k < 1000; k++) {
    unsigned long i = k < 900 ? (k * 97) % runs : runs + k;
    char id[WDR_ID_MAX];
    if (k >= 800 && k < 900) {
      uuid(i, 1, id, sizeof(id));
      if (wdr_state_record_forget(names[i % WF_NUM], id, &journal) != 0)
        goto done;
      continue;
    }
    uuid(i, 1, id, sizeof(id));
    if (k >= 900 && make(p, i, T0 + 1000) != 0)
      goto done;
    for (size_t j = 0; j < wdr_policy_runs_num(p); j++) {
      const wdr_run_t *r = wdr_policy_run_at(p, j);
      if (r->wf == i % WF_NUM && wdr_cid_eq(&r->execution_id, id)) {
        if (wdr_state_record_run(r, names[r->wf], &journal) != 0)
          goto done;
        break;
      }
    }
  }
  snprintf(path, sizeof(path), "%s.journal", argv[1]);
  if (wdr_state_write_file(argv[1], &snap, err, sizeof(err)) != 0 ||
      wdr_state_write_file(path, &journal, err, sizeof(err)) != 0) {
    fprintf(stderr, "gen_state: %s\n", err);
    goto done;
  }
  printf("%s: %lu runs, %zu bytes; journal: 1000 records, %zu bytes\n", argv[1],
         runs, snap.len, journal.len);
  status = 0;
done:
  if (status != 0 && err[0] == '\0')
    fprintf(stderr, "gen_state: cannot build the state\n");
  wdr_policy_destroy(p);
  wdr_buf_free(&snap, false);
  wdr_buf_free(&journal, false);
  return status;
}
