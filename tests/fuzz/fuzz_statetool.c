/* libFuzzer target: the state tool's loader and what it then renders.
 *
 * wedata-rerun-state reads any state file an operator points it at,
 * without a config: every workflow name comes from the file
 * (wdr_state_workflows, its own streaming parse) and every run is kept as
 * stored. A bad file must be refused with a reason, never crash the tool.
 * The input is tried as the snapshot alone, as the journal of a small
 * valid snapshot, and split at its first form feed; whatever loads is
 * listed and shown as text and JSON, its first run forgotten, and the new
 * snapshot written out and loaded again, which must succeed. */
#include "fuzz_util.h"
#include "wdr_policy_store.h"
#include "wdr_statetool.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1767225600000LL

static const char snapshot_header[] =
    "{\"version\":2,\"kind\":\"snapshot\",\"saved_ms\":1767225600000,"
    "\"journal\":1}\n";

/* The forgotten state's snapshot, all of it: it must load again. */
static void forget_first(wdr_statetool_state_t *st, const char *snap,
                         size_t snap_len) {
  if (wdr_policy_runs_num(st->policy) == 0)
    return;
  const wdr_run_t *r = wdr_policy_run_at(st->policy, 0);
  wdr_buf_t header, journal, out;
  wdr_buf_init(&header, WDR_STATE_MAX);
  wdr_buf_init(&journal, WDR_STATE_MAX);
  wdr_buf_init(&out, WDR_STATE_MAX);
  if (wdr_statetool_forget(st, r, snap, snap_len, NOW, &header, &journal) ==
          0 &&
      wdr_buf_append(&out, header.data, header.len) == 0) {
    size_t cursor = 0;
    bool last = false;
    int rc = 0;
    while (rc == 0 && !last)
      rc = wdr_statetool_snapshot_part(st, &cursor, 500, &out, &last);
    if (rc == 0) {
      wdr_statetool_state_t again;
      char err[256];
      const char *journals[] = {wdr_buf_str(&journal)};
      const size_t lens[] = {journal.len};
      if (wdr_statetool_load(wdr_buf_str(&out), out.len, journals, lens, 1, NOW,
                             &again, err, sizeof(err)) != 0)
        abort(); /* the tool's own file refused: a bug */
      wdr_statetool_free(&again);
    }
  }
  wdr_buf_free(&out, false);
  wdr_buf_free(&journal, false);
  wdr_buf_free(&header, false);
}

static void load(const char *snap, size_t snap_len, const char *journal,
                 size_t journal_len) {
  wdr_statetool_state_t st;
  char err[256];
  const char *journals[] = {journal};
  const size_t lens[] = {journal_len};
  if (wdr_statetool_load(snap, snap_len, journals, lens, journal ? 1 : 0, NOW,
                         &st, err, sizeof(err)) == 0) {
    wdr_buf_t out;
    wdr_buf_init(&out, WDR_STATE_MAX);
    for (int json = 0; json < 2; json++) {
      (void)wdr_statetool_list(&st, NULL, json, NOW, &out);
      if (wdr_policy_runs_num(st.policy) > 0)
        (void)wdr_statetool_show(&st, wdr_policy_run_at(st.policy, 0), json,
                                 NOW, &out);
    }
    wdr_buf_free(&out, false);
    forget_first(&st, snap, snap_len);
  }
  wdr_statetool_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_state_three_ways(data, size, snapshot_header, load);
  return 0;
}
