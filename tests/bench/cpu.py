#!/usr/bin/env python3
"""Benchmark (prints figures, asserts nothing): the CPU one rerun request
costs collectd with the plugin, side by side with the official Node SDK
making the same call against the same local stand-in over TLS, and how that
cost and the pace grow with the runs the plugin tracks.

For each table size (300, 10,300 and 100,300 tracked runs: the state file
is written beforehand with the extra finished runs), a real collectd with
the built plugin gets N failure notifications for N new runs and reruns
them all; its CPU time (utime + stime) over that is measured. The same N
notifications to a collectd whose workflow does not match them are measured
too and subtracted: what is left is what the plugin adds per request. The
Node SDK (tests/bench/node, pinned) sends the same N requests one after the
other; its process CPU time is measured around the calls. Then the pace at
RateLimit 20 with 10,000 tracked runs.

    python3 tests/bench/cpu.py [--plugin build/wedata_rerun.so] [--n 300]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from benchenv import HERE, PROJECT_ID, SECRET_ID, SECRET_KEY, WORKFLOW_ID  # noqa: F401

import harness  # noqa: E402
import wedata_standin as ws  # noqa: E402
RERUN = "RerunTriggerWorkflowRunAsync"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK   # utime + stime


def write_state(path, extra):
    """A version-2 snapshot holding `extra` finished runs of the workflow,
    and its empty journal."""
    now = int(time.time() * 1000)
    with open(path, "w") as fh:
        fh.write('{"version":2,"kind":"snapshot","saved_ms":%d,"journal":1}\n' % now)
        for i in range(extra):
            fh.write('{"run":{"workflow":"bench","execution_id":"%08x-a71d-4588-9a9a-'
                     '9f244d32c96c","state":"idle","in_flight":"rerun","attempts":1,'
                     '"tries":1,"request_retries":0,"verify_tries":0,"resigned":false,'
                     '"gave_up":false,"had_accepted":true,"first_signal_ms":%d,'
                     '"last_signal_ms":%d,"last_try_ms":%d,"next_at_ms":%d,'
                     '"updated_ms":%d,"last_async_id":"60a7f0f5-cea2-40fe-b607-'
                     '%012d","last_error":"","track_ms":0,"track_reads":0,'
                     '"async_status":"","seen_active":false}}\n'
                     % ((i,) + (now,) * 5 + (i,)))
    # Its journal, as a running plugin leaves it (without one the plugin
    # would write a new snapshot at once).
    with open(path + ".journal", "w") as fh:
        fh.write('{"version":2,"kind":"journal","saved_ms":%d,"journal":1}\n' % now)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def collectd_run(plugin, standin, n, matching, extra, rate, tmp):
    """Starts collectd, sends n notifications (matching the workflow or
    not), waits for the reruns; returns (cpu seconds, rerun times, RSS in
    KiB after the load)."""
    state = os.path.join(tmp, "state-%s-%d-%g" % (matching, extra, rate), "wedata.state")
    os.makedirs(os.path.dirname(state))
    if extra:
        write_state(state, extra)
    conf = harness.plugin_block(
        [("Endpoint", standin.url), ("Region", "ap-guangzhou"),
         ("SecretId", SECRET_ID), ("SecretKey", SECRET_KEY),
         ("CACert", standin.ca_file), ("RateLimit", rate), ("Workers", 2),
         ("StateFile", state)],
        [harness.workflow_block(
            "bench", PROJECT_ID, WORKFLOW_ID, 1,
            # One rerun, one request, as the SDK sends it: the read before
            # each attempt (VerifyBeforeRerun, on by default) is a second
            # request of its own action, left out of the comparison.
            extra=["VerifyBeforeRerun false"])])
    c = harness.Collectd(plugin, conf, prefix="wedata-bench-collectd-")
    try:
        c.start()
        time.sleep(4)      # the start hold, the load, a quiet baseline
        rss = rss_kib(c.proc.pid)
        seen = len(standin.requests(RERUN))
        cpu0 = cpu_seconds(c.proc.pid)
        items = [dict(plugin="wedata" if matching else "other",
                      meta={"WorkflowExecutionId": "bench-" + str(uuid.uuid4()),
                            "WorkflowId": WORKFLOW_ID}) for _ in range(n)]
        c.putnotif_many(items, connections=1, timeout=120)
        if matching:
            standin.wait_for_requests(seen + n, action=RERUN, timeout=n / rate * 3 + 60,
                                      answered=True)
        time.sleep(1.5)    # the last answers' records and notifications
        cpu = cpu_seconds(c.proc.pid) - cpu0
        times = sorted(r.received_at for r in standin.requests(RERUN))[seen:]
    finally:
        c.stop()
        c.cleanup()
    return cpu, times, rss


def node_run(standin, n):
    """The Node SDK's CPU for n requests, or None when it cannot run here
    (no node/npm, or the stand-in is not on 443)."""
    if shutil.which("node") is None or shutil.which("npm") is None or \
            standin.port != 443:
        return None
    node_dir = os.path.join(HERE, "node")
    if not os.path.isdir(os.path.join(node_dir, "node_modules", "tencentcloud-sdk-nodejs")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"],
                       cwd=node_dir, check=True)
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=standin.ca_file)
    out = subprocess.run(["node", os.path.join(node_dir, "rerun.js"), SECRET_ID,
                          SECRET_KEY, PROJECT_ID, WORKFLOW_ID, str(n)],
                         env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plugin", default=os.path.join(HERE, "..", "..", "build",
                                                     "wedata_rerun.so"))
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    plugin = os.path.abspath(args.plugin)
    with tempfile.TemporaryDirectory(prefix="wedata-bench-") as tmp:
        # Port 443 (needs root): the Node SDK signs the host without a port.
        try:
            standin = ws.WeDataStandin(cert_dir=os.path.join(tmp, "certs"), port=443,
                                       credentials={SECRET_ID: SECRET_KEY}).start()
        except OSError:
            standin = ws.WeDataStandin(cert_dir=os.path.join(tmp, "certs"),
                                       credentials={SECRET_ID: SECRET_KEY}).start()
        try:
            node = node_run(standin, args.n)
            print("CPU per rerun request (n = %d, RateLimit 1000, TLS to the local stand-in)"
                  % args.n)
            print("%-34s %12s %12s" % ("", "ms/request", "vs Node SDK"))
            if node is None:
                print("official Node SDK: not run (needs node, npm and root for port 443)")
                node_ms = 0.0
            else:
                node_ms = node["cpu_s"] / node["n"] * 1000
                print("%-34s %12.3f %12s" % ("official Node SDK (whole process)", node_ms,
                                             "1.0"))
            rss = {}
            for tracked in (300, 10300, 100300):
                base, _, _ = collectd_run(plugin, standin, args.n, False, tracked - 300, 1000,
                                          tmp)
                full, _, rss[tracked] = collectd_run(plugin, standin, args.n, True,
                                                     tracked - 300, 1000, tmp)
                added = max(full - base, 0.0) / args.n * 1000
                print("%-34s %12.3f %11.1fx" % (
                    "plugin, %d tracked runs" % tracked, added,
                    node_ms / added if added > 0 else 0.0))
                print("%-34s %12.3f" % ("  (collectd in all, with the plugin)",
                                        full / args.n * 1000))
            print("collectd RSS after loading the state: %s" % ", ".join(
                "%d MiB with %d runs" % (rss[k] // 1024, k) for k in sorted(rss)))
            print("RSS per tracked run (100,300 against 300 runs, UUID run ids): %.0f bytes"
                  % ((rss[100300] - rss[300]) * 1024.0 / 100000))
            _, times, _ = collectd_run(plugin, standin, 100, True, 10000, 20, tmp)
            span = times[-1] - times[0]
            print("pace at RateLimit 20 with 10,000 tracked runs: %.2f requests/s (%d requests)"
                  % ((len(times) - 1) / span, len(times)))
        finally:
            standin.stop()


if __name__ == "__main__":
    main()
