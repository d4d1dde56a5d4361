#!/usr/bin/env python3
"""The state tool at scale (make bench): a state of RUNS runs (default
100,000) and a journal of 1,000 changes written by gen_state, then
wedata-rerun-state list, list --json, show, show --json and forget on it,
each under /usr/bin/time -v: prints wall time, CPU time and peak RSS.
Asserts nothing but that each command succeeds.

    python3 tests/bench/state_tool.py [--build build] [--runs 100000]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def timed(cmd):
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))

    def field(name):
        return re.search(r"^\s*%s: (.*)$" % re.escape(name), p.stderr, re.M).group(1)
    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    seconds = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return seconds, cpu, int(field("Maximum resident set size (kbytes)")), len(p.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--runs", type=int, default=100000)
    args = parser.parse_args()
    tool = os.path.join(args.build, "wedata-rerun-state")
    tmp = tempfile.mkdtemp(prefix="wdr-state-bench-")
    try:
        state = os.path.join(tmp, "wedata_rerun.state")
        print(subprocess.run([os.path.join(args.build, "gen_state"), state, str(args.runs)],
                             check=True, stdout=subprocess.PIPE, text=True).stdout.strip())
        with open(state) as fh:
            fh.readline()
            run = json.loads(fh.readline())["run"]
        for label, cmd in [("list", ["list"]), ("list --json", ["--json", "list"]),
                           ("show", ["show", run["execution_id"]]),
                           ("show --json", ["--json", "show", run["execution_id"]]),
                           ("forget", ["-w", run["workflow"], "forget", run["execution_id"]]),
                           ("list after forget", ["list"])]:
            wall, cpu, rss, out = timed([tool, "-f", state] + cmd)
            print("%-18s %6.2f s wall, %6.2f s CPU, peak RSS %7.1f MiB, %6.1f MB output"
                  % (label, wall, cpu, rss / 1024.0, out / 1e6))
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
