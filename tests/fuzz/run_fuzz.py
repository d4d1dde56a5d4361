#!/usr/bin/env python3
"""Runs the libFuzzer targets: every regression input once, then fuzzing
for a set time, and prints executions and coverage per target.

    run_fuzz.py --build build/fuzz --seconds 60 fuzz_answers fuzz_state ...

Inputs: tests/fuzz/corpus/<name>/ (seeds, kept in git),
tests/fuzz/regressions/<name>/ (every input that ever crashed a target:
they stay), and generated ones (deep nesting, up to 2 MiB, written to
<build>/generated/<name>/ by this script rather than stored). The corpus
that fuzzing grows goes to <build>/corpus/<name>/; a crash leaves its input
in <build>/artifacts/ and fails the run: copy it into regressions/ with the
fix. Exit status 0 when no target crashed."""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_LEN = 2 * 1024 * 1024


def deep(prefix, depth, suffix=b""):
    return prefix + b"[" * depth + b"]" * depth + suffix


# Inputs that crashed collectd before parsing was bounded (issue 11): deep
# answers and a deep state file, as large as the fuzzers may make them.
GENERATED = {
    "fuzz_answers": {
        "deep-520k.json": deep(b'{"Response":', 260000, b"}"),
        "deep-object.json": b'{"Response":' + b'{"a":' * 200000 + b"1" + b"}" * 200001,
    },
    "fuzz_state": {
        "deep-v1.state": deep(b'{"version":1,"runs":', 1000000, b',"budget":{}}')[:MAX_LEN],
        "deep-v2-record.state": (b'{"version":2,"kind":"snapshot","saved_ms":1,"journal":1}\n'
                                 + deep(b'{"run":', 500000, b"}\n")),
    },
    # The state tool reads the same files with a parse of its own first.
    "fuzz_statetool": {
        "deep-v1.state": deep(b'{"version":1,"runs":', 1000000, b',"budget":{}}')[:MAX_LEN],
        "deep-v2-record.state": (b'{"version":2,"kind":"snapshot","saved_ms":1,"journal":1}\n'
                                 + deep(b'{"run":', 500000, b"}\n")),
        "deep-v2-workflow.state": (b'{"version":2,"kind":"snapshot","saved_ms":1,"journal":1}\n'
                                   + b'{"run":{"workflow":' + b"[" * 400000 + b"\n"),
    },
    "fuzz_body": {
        "bad-utf8": b"\xff\xfe\x00\xc0\xaf\x00\xed\xa0\x80\x00\x01",
    },
}


def inputs(build, name):
    out = []
    for d in (os.path.join(HERE, "regressions", name),):
        if os.path.isdir(d):
            out += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    gen = os.path.join(build, "generated", name)
    os.makedirs(gen, exist_ok=True)
    for fname, data in GENERATED.get(name, {}).items():
        path = os.path.join(gen, fname)
        if not os.path.exists(path) or os.path.getsize(path) != len(data):
            with open(path, "wb") as fh:
                fh.write(data)
        out.append(path)
    return out


def run_target(build, name, seconds):
    binary = os.path.join(build, name)
    artifacts = os.path.join(build, "artifacts")
    corpus = os.path.join(build, "corpus", name)
    seeds = os.path.join(HERE, "corpus", name)
    os.makedirs(artifacts, exist_ok=True)
    os.makedirs(corpus, exist_ok=True)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
               UBSAN_OPTIONS="print_stacktrace=1")
    regressions = inputs(build, name)
    if regressions:
        r = subprocess.run([binary, "-rss_limit_mb=4096"] + regressions, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-4000:])
            return {"name": name, "status": "regression CRASH"}
    args = [binary, "-max_len=%d" % MAX_LEN, "-max_total_time=%d" % seconds,
            "-print_final_stats=1", "-rss_limit_mb=4096", "-timeout=20",
            "-artifact_prefix=%s/%s-" % (artifacts, name), corpus]
    if os.path.isdir(seeds):
        args.append(seeds)
    started = time.monotonic()
    r = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, errors="replace")
    elapsed = time.monotonic() - started
    execs = re.search(r"stat::number_of_executed_units: (\d+)", r.stderr)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", r.stderr)
    result = {"name": name, "regressions": len(regressions),
              "execs": int(execs.group(1)) if execs else 0,
              "cov": int(cov[-1][0]) if cov else 0, "ft": int(cov[-1][1]) if cov else 0,
              "corpus": len(os.listdir(corpus)), "seconds": elapsed,
              "status": "ok" if r.returncode == 0 else "CRASH"}
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-6000:])
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("targets", nargs="+")
    args = parser.parse_args()
    print("libFuzzer, %d s a target, inputs up to %d bytes" % (args.seconds, MAX_LEN))
    print("%-14s %11s %11s %7s %7s %7s  %s" % ("target", "regressions", "execs",
                                               "cov", "ft", "corpus", "result"))
    failed = False
    for name in args.targets:
        r = run_target(args.build, name, args.seconds)
        if "execs" not in r:
            print("%-14s %s" % (name, r["status"]))
            failed = True
            continue
        print("%-14s %11d %11d %7d %7d %7d  %s" % (
            name, r["regressions"], r["execs"], r["cov"], r["ft"], r["corpus"], r["status"]))
        failed |= r["status"] != "ok"
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
