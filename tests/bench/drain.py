#!/usr/bin/env python3
"""Benchmark (prints figures, asserts nothing): how fast a burst of failure
signals drains against RateLimit.

For each RateLimit it starts the local WeData stand-in and the real collectd
with the built plugin, fires N = 5 x RateLimit failure signals for N
different runs as fast as unixsock takes them, and measures at the stand-in
the time from the first rerun request to the last. The achieved rate is
compared with the configured one in the same run; PUTNOTIF round trips show
what a burst costs the sender.

    python3 tests/bench/drain.py [--plugin build/wedata_rerun.so] [--rates 10,20,50]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

from benchenv import HERE, PROJECT_ID, SECRET_ID, SECRET_KEY, WORKFLOW_ID  # noqa: F401

import harness  # noqa: E402
import wedata_standin as ws  # noqa: E402


def one_rate(plugin, rate, workers):
    n = int(rate * 5)
    with tempfile.TemporaryDirectory(prefix="wedata-bench-") as certs:
        standin = ws.WeDataStandin(cert_dir=certs,
                                   credentials={SECRET_ID: SECRET_KEY}).start()
        try:
            conf = harness.plugin_block(
                [("Endpoint", standin.url), ("Region", "ap-guangzhou"),
                 ("SecretId", SECRET_ID), ("SecretKey", SECRET_KEY),
                 ("CACert", standin.ca_file), ("RateLimit", rate),
                 ("Workers", workers), ("QueueLimit", max(1024, n))],
                [harness.workflow_block(
            "bench", PROJECT_ID, WORKFLOW_ID, 1,
            # One rerun, one request, as the SDK sends it: the read before
            # each attempt (VerifyBeforeRerun, on by default) is a second
            # request of its own action, left out of the comparison.
            extra=["VerifyBeforeRerun false"])])
            c = harness.Collectd(plugin, conf, prefix="wedata-bench-collectd-")
            try:
                c.start()
                round_trips = []
                for _ in range(n):
                    reply, seconds = c.putnotif(
                        plugin="wedata",
                        meta={"WorkflowExecutionId": str(uuid.uuid4())})
                    round_trips.append(seconds)
                    if not reply.startswith("0 Success"):
                        raise SystemExit("PUTNOTIF failed: %r" % reply)
                standin.wait_for_requests(n, action="RerunTriggerWorkflowRunAsync",
                                          timeout=n / rate * 3 + 30, answered=True)
                times = sorted(r.received_at for r in
                               standin.requests("RerunTriggerWorkflowRunAsync"))
            finally:
                c.stop()
                c.cleanup()
        finally:
            standin.stop()
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span if span > 0 else float("inf")
    gaps = [b - a for a, b in zip(times, times[1:])]
    return {"rate": rate, "n": n, "span": span, "achieved": achieved,
            "min_gap_ms": min(gaps) * 1000, "median_gap_ms": statistics.median(gaps) * 1000,
            "putnotif_ms": statistics.median(round_trips) * 1000}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plugin", default=os.path.join(HERE, "..", "..", "build",
                                                     "wedata_rerun.so"))
    ap.add_argument("--rates", default="10,20,50")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = [one_rate(os.path.abspath(args.plugin), float(r), args.workers)
            for r in args.rates.split(",")]
    print("burst drain against RateLimit (N = 5 x RateLimit runs, %d workers)"
          % args.workers)
    print("%9s %6s %9s %13s %8s %11s %14s %13s" % (
        "RateLimit", "runs", "drain s", "achieved /s", "ratio", "min gap ms",
        "median gap ms", "PUTNOTIF ms"))
    for r in rows:
        print("%9g %6d %9.2f %13.2f %8.3f %11.1f %14.1f %13.2f" % (
            r["rate"], r["n"], r["span"], r["achieved"], r["achieved"] / r["rate"],
            r["min_gap_ms"], r["median_gap_ms"], r["putnotif_ms"]))


if __name__ == "__main__":
    main()
