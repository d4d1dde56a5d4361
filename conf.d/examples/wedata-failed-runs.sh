#!/bin/sh
# For collectd's exec plugin (see exec-putnotif.conf): follows a spool file
# of "WORKFLOW_ID RUN_ID" lines and prints one PUTNOTIF per line, which
# collectd dispatches as a failure notification that wedata_rerun matches
# (plugin "wedata") and reruns the run named in WorkflowExecutionId.
# Lines already in the file when it starts are not sent again (tail -n 0):
# those failures were signalled by the script's previous life, and polling
# covers any gap. Ids are passed through as they are: the plugin refuses
# anything that is not an id (skipped-bad_execution_id).
set -eu
spool=${1:?usage: wedata-failed-runs.sh SPOOL_FILE}
host=${COLLECTD_HOSTNAME:-$(hostname -f 2>/dev/null || hostname)}
tail -n 0 -F "$spool" 2>/dev/null | while read -r workflow run rest; do
  [ -n "${run:-}" ] || continue
  case "$workflow$run" in *'"'*|*'\'*) continue ;; esac
  printf 'PUTNOTIF host="%s" severity=failure time=%s plugin="wedata" type_instance="failed" s:WorkflowId="%s" s:WorkflowExecutionId="%s" message="workflow run %s failed"\n' \
    "$host" "$(date +%s)" "$workflow" "$run" "$run"
done
