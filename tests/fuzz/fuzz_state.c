/* libFuzzer target: the state loader, as a snapshot and as a journal.
 *
 * A state file is read at every start; a bad one must be refused with a
 * reason (and moved aside by the engine), never crash collectd. The input
 * is tried three ways: as the snapshot alone, as the journal of a small
 * valid snapshot, and split at its first form feed into a snapshot and a
 * journal. Then whatever loaded is written out again and read back, which
 * must succeed. */
#include "fuzz_util.h"
#include "wdr_policy.h"
#include "wdr_policy_store.h"
#include "wdr_state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T0 1767225600000LL

static wdr_policy_wf_t wf[3] = {{.max_attempts = 3,
                                 .retry_interval_ms = 60000,
                                 .max_retry_interval_ms = 3600000,
                                 .max_reruns_per_hour = 10,
                                 .track = true},
                                {.max_attempts = 3,
                                 .retry_interval_ms = 60000,
                                 .max_retry_interval_ms = 3600000,
                                 .verify = true},
                                {.max_attempts = 1,
                                 .retry_interval_ms = 1000,
                                 .max_retry_interval_ms = 1000}};
static char *names[] = {"etl", "hourly", "dry"};
static const bool persist[] = {true, true, false};

static const char snapshot_header[] =
    "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":1767225600000,"
    "\"journal\":1}\n";

static wdr_policy_t *new_policy(void) {
  return wdr_policy_create(&(wdr_policy_cfg_t){.wf = wf,
                                               .wf_num = 3,
                                               .max_request_retries = 3,
                                               .retention_ms = 86400000,
                                               .permanent_hold_ms = 3600000,
                                               .max_runs = 1000,
                                               .async_poll_ms = 1000,
                                               .async_timeout_ms = 60000});
}

static void load(const char *snap, size_t snap_len, const char *journal,
                 size_t journal_len) {
  wdr_policy_t *p = new_policy();
  if (p == NULL)
    return;
  wdr_state_stats_t stats;
  char err[256];
  const char *journals[] = {journal};
  const size_t lens[] = {journal_len};
  int rc = wdr_state_load(snap, snap_len, journals, lens, journal ? 1 : 0, p,
                          names, 3, T0, &stats, err, sizeof(err));
  if (rc == 0) {
    /* What loaded can be written and read back. */
    wdr_buf_t out;
    wdr_buf_init(&out, WDR_STATE_MAX);
    if (wdr_state_serialize(p, names, persist, 3, T0, 2, &out) == 0) {
      wdr_policy_t *q = new_policy();
      if (q != NULL && wdr_state_parse(wdr_buf_str(&out), out.len, q, names, 3,
                                       T0, &stats, err, sizeof(err)) != 0)
        abort(); /* our own file refused: a bug */
      wdr_policy_destroy(q);
    }
    wdr_buf_free(&out, false);
  }
  wdr_policy_destroy(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_state_three_ways(data, size, snapshot_header, load);
  return 0;
}
