#!/usr/bin/env python3
"""Soak: half an hour of failures compressed into a few minutes, with churn
and a restart of collectd every simulated minute.  Prints figures per
restart segment and a verdict; exits 1 when a failure was lost or rerun
twice, when collectd's RSS or open descriptors grew after warm-up, or when
collectd did not stop cleanly.

    soak.py [--plugin build/wedata_rerun.so] [--failures 20000] [--seconds 240]

SOAK_FAILURES and SOAK_SECONDS override the defaults.  Python 3 standard
library only; the real collectd with the built plugin against the local
WeData stand-in (tests/standin), everything on 127.0.0.1.

Time.  --minutes (30) simulated minutes take --seconds (240) real ones: one
simulated minute is seconds/minutes real seconds (8 s by default, a factor
of 7.5).  At the end of every simulated minute collectd is stopped with
SIGTERM (two of them, --kills, with SIGKILL instead) and started again on
the same state file while failures keep coming (those due while it is down
are sent once it is back, as a sender that retries would).  The plugin's
intervals are shortened to match (see conf()); StateRetention cannot go
below 60 s, which is 7.5 simulated minutes.

Traffic.  --failures failure signals of distinct runs, in two workflows, at
a constant pace in two halves: the first at 1.25 times the mean, the second
at 0.75 times.  MaxTrackedRuns is what the mean pace leaves in the table
within StateRetention, so the busy half fills the table and evicts finished
runs, and in the quieter one they age out.  A share of the runs is given a
twist (KINDS): the signal sent twice at once, sent again after the rerun,
the run failing again after its rerun (rerun again: MaxAttempts 2), failing
again after both reruns (not rerun a third time), the rerun answered
InternalError before or after WeData acted, the read before the rerun
answered HTTP 503, the rerun refused for good.  Each kind says how many
reruns WeData must have executed in the end; the stand-in's RerunTimes of
every run is compared with it: fewer is "lost", more is "doubled".
VerifyBeforeRerun stays at its default (on).

Flat.  collectd's VmRSS and open descriptors (/proc) are sampled every
0.2 s, from the end of each start hold on.  Warm-up lasts StateRetention
(the table's size depends on the runs of the last StateRetention seconds)
plus the start hold.  After it, in every segment: the highest RSS stays
within RSS_SLACK (10 %, at least 1 MiB) of the first warmed-up segment's;
the steady descriptor count (the one seen most often) equals that
segment's, and no sample is more than FD_TRANSIENT (7) above it.

Each process lives one simulated minute, so "flat" here says that nothing
accumulates across restarts.  Within one process RSS also grows with every
PUTNOTIF that carries meta data: collectd's unixsock leaks it (see
tests/integration/valgrind.supp).  The soak measures that first, in a
collectd without the plugin, and prints it, so that growth within a long
segment (--minutes 1) can be told apart from the plugin's.
"""

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

import harness  # noqa: E402
import wedata_standin as ws  # noqa: E402

# Not real credentials: the stand-in checks the signatures with these.
SECRET_ID = "AKIDsoakWedataRerun0000000000000001"
SECRET_KEY = "soakSECRETkey/+=Wedata-7f3a9c_.0001"
PROJECT_ID = "1460947878944567296"
REGION = "ap-guangzhou"
RERUN = "RerunTriggerWorkflowRunAsync"
READ = "GetTriggerWorkflowRun"
# (name, WorkflowId, lines of the <Workflow> block beyond ids and type)
WORKFLOWS = (
    ("soak_a", "0fae8078-a7a7-4b67-afd1-8bf18e068dda", 1, []),
    ("soak_b", "7c9e6679-7425-40de-944b-e07fc1f90ae7", 2,
     [harness.option("TaskId", "task-a", "task-b"),
      harness.option("AdvancedParam", "bizdate", "20261202")]),
)
MAX_ATTEMPTS = 2
STATE_RETENTION = 60.0     # the option's minimum
START_HOLD = 3.0           # restored work waits this long after a start (wdr_engine.h)
VERIFY_DELAY = 5.0         # an ambiguous rerun is read back this long after (wdr_policy.h)
SAMPLE_EVERY = 0.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAUSE_BEFORE_STOP = 0.3    # the last signals are taken in before a stop
RSS_SLACK = 0.10
RSS_SLACK_MIN_KIB = 1024
# Open for a moment beyond the steady set: the log file (logfile opens it
# for each line), a file of each of csv's two write threads, the fold's
# temporary snapshot and next journal, a connection a worker replaces (one
# per worker).
FD_TRANSIENT = 7
UNIXSOCK_PROBE = 10000     # PUTNOTIFs for the unixsock baseline

# name: (share of the runs, reruns WeData must have executed in the end).
# The shares of the twists add up to 0.25; the rest are plain.
KINDS = {
    "plain": (None, 1),      # one signal, one rerun
    "echo": (0.05, 1),       # the same signal twice at once: the second a duplicate
    "repeat": (0.05, 1),     # signalled again after its rerun, still RUNNING: read, not rerun
    "refail": (0.05, 2),     # FAILED again after its rerun, signalled: rerun once more
    "exhaust": (0.02, 2),    # FAILED again after each rerun: no third (MaxAttempts 2)
    "internal": (0.03, 1),   # rerun answered InternalError, not acted on: read back, resent
    "acted": (0.02, 1),      # rerun acted on, then answered InternalError: read back, not resent
    "http503": (0.02, 1),    # the read before the rerun answered 503: held, read again
    "permanent": (0.01, 0),  # rerun refused (InvalidParameter): stopped for good
}
# The kinds that send more signals after an accepted rerun: {kind: [what
# follows the 1st accepted rerun, the 2nd, ...]}; "fail" sets the run FAILED
# at the stand-in first.
FOLLOW_UPS = {"repeat": ["signal"], "refail": ["fail"], "exhaust": ["fail", "fail"]}
INIT_DONE = "Initialization complete, entering read-loop."
ACCEPTED_RE = re.compile(r"rerun of (\S+) \(workflow (\S+)\) accepted")
COUNTERS = ("signals", "attempts", "accepted", "failed", "retries", "held", "gave_up",
            "evicted", "dropped", "skipped-duplicate", "skipped-not_failed",
            "skipped-exhausted", "skipped-not_rerunnable", "skipped-permanent_error",
            "skipped-table_full")


class Run:
    """One failing run: its kind, workflow and what the driver did."""

    __slots__ = ("rid", "kind", "wf", "signals", "accepted", "followed", "due")

    def __init__(self, rid, kind, wf):
        self.rid = rid
        self.kind = kind
        self.wf = wf
        self.signals = 0      # PUTNOTIFs sent for it
        self.accepted = 0     # "accepted" reports seen in the log
        self.followed = 0     # follow-ups done
        self.due = None       # when the next follow-up is due (monotonic), or None

    @property
    def expected(self):
        return KINDS[self.kind][1]


class Sender:
    """PUTNOTIF over one unixsock connection kept for a whole segment, so
    that the driver adds one steady descriptor to collectd, not one per
    signal."""

    def __init__(self, c):
        self.c = c
        self.sock = None
        self.fh = None

    def open(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.c.socket_path)
        self.fh = self.sock.makefile("rb")

    def close(self):
        for obj in (self.fh, self.sock):
            if obj is not None:
                try:
                    obj.close()
                except OSError:
                    pass
        self.sock = self.fh = None

    def send(self, run):
        wf_id = WORKFLOWS[run.wf][1]
        line = self.c.putnotif_line(
            message="workflow run %s failed" % run.rid, plugin="wedata",
            meta={"WorkflowExecutionId": run.rid, "WorkflowId": wf_id})
        self.sock.sendall(line.encode("utf-8") + b"\n")
        reply = self.fh.readline().decode("utf-8", errors="replace").rstrip("\n")
        if not reply.startswith("0 Success"):
            raise harness.HarnessError("PUTNOTIF answered %r" % reply)
        run.signals += 1


def fd_targets(pid, names):
    """What descriptors point to, sockets and pipes without their inode."""
    out = []
    for name in names:
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue
        out.append(re.sub(r":\[\d+\]$", "", target))
    return sorted(out)


def unixsock_baseline(plugin):
    """Bytes of RSS that collectd without the plugin gains per PUTNOTIF
    with the meta data the soak sends (its unixsock leaks the meta)."""
    c = harness.Collectd(plugin, load_plugin=False, prefix="wedata-soak-unixsock-")
    try:
        c.start()
        sender = Sender(c)
        sender.open()
        probe = Run("", "plain", 0)

        def rss():
            with open("/proc/%d/status" % c.proc.pid) as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])

        for _ in range(UNIXSOCK_PROBE // 5):      # warm-up
            probe.rid = str(uuid.uuid4())
            sender.send(probe)
        before = rss()
        for _ in range(UNIXSOCK_PROBE):
            probe.rid = str(uuid.uuid4())
            sender.send(probe)
        after = rss()
        sender.close()
        c.stop()
        return (after - before) * 1024.0 / UNIXSOCK_PROBE
    finally:
        c.cleanup()


class Sampler(threading.Thread):
    """Samples VmRSS (KiB) and the open descriptors of the current collectd
    process: [(segment, seconds since its start, rss_kib, fds)]."""

    def __init__(self):
        super().__init__(name="soak-sampler", daemon=True)
        self.samples = []
        self.cpu = {}            # segment: CPU seconds of collectd, as last read
        self.fd_max = {}         # segment: (count, targets) of its busiest sample
        self.current = None      # (segment, pid, started monotonic) or None
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(SAMPLE_EVERY):
            cur = self.current
            if cur is None:
                continue
            seg, pid, started = cur
            try:
                rss = None
                with open("/proc/%d/status" % pid) as fh:
                    for line in fh:
                        if line.startswith("VmRSS:"):
                            rss = int(line.split()[1])
                            break
                names = os.listdir("/proc/%d/fd" % pid)
                fds = len(names)
                with open("/proc/%d/stat" % pid) as fh:
                    # utime and stime: fields 14 and 15, after "(comm)".
                    fields = fh.read().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            except (OSError, ValueError):
                continue    # exiting, or between a stop and a start
            if rss is not None and self.current is cur:
                self.samples.append((seg, time.monotonic() - started, rss, fds))
                self.cpu[seg] = cpu
                if fds > self.fd_max.get(seg, (0, None))[0]:
                    self.fd_max[seg] = (fds, fd_targets(pid, names))


def conf(standin, tls, rate_limit, max_runs):
    """The plugin block.  Compressed: RetryInterval 2 s (60 s by default),
    MaxRetryInterval 10 s, BreakerCooldown 2 s, StateRetention 60 s (its
    minimum), PermanentHold 60 s; RateLimit high enough for the pace of the
    soak, not WeData's 20."""
    options = [("Endpoint", standin.url), ("Region", REGION), ("SecretId", SECRET_ID),
               ("SecretKey", SECRET_KEY), ("Timeout", 10), ("Workers", 2),
               ("RateLimit", rate_limit), ("BreakerCooldown", 2),
               ("StateRetention", int(STATE_RETENTION)), ("PermanentHold", 60),
               ("MaxTrackedRuns", max_runs)]
    if tls:
        options.append(("CACert", standin.ca_file))
    workflows = [harness.workflow_block(
        name, PROJECT_ID, wf_id, execute_type,
        extra=extra + [harness.option("MaxAttempts", MAX_ATTEMPTS),
                       harness.option("RetryInterval", 2),
                       harness.option("MaxRetryInterval", 10)])
        for name, wf_id, execute_type, extra in WORKFLOWS]
    return harness.plugin_block(options, workflows)


def plan_runs(n, rng):
    """n runs with their kinds (shares of KINDS), shuffled."""
    kinds = []
    for kind, (share, _) in KINDS.items():
        if share is not None:
            kinds += [kind] * int(round(n * share))
    kinds += ["plain"] * (n - len(kinds))
    rng.shuffle(kinds)
    return [Run(str(uuid.UUID(int=rng.getrandbits(128), version=4)), kind, i % len(WORKFLOWS))
            for i, kind in enumerate(kinds)]


def arrival_times(n, seconds):
    """Offsets (s) of n arrivals: the first half of the time at 1.25 times
    the mean pace, the second at 0.75 times."""
    first = int(round(n * 0.625))
    half = seconds / 2.0
    out = [half * i / first for i in range(first)]
    rest = n - first
    out += [half + half * i / rest for i in range(rest)]
    return out


def script_twists(standin, runs):
    """Scripted answers of the stand-in for the runs with a twist."""
    for run in runs:
        if run.kind == "internal":
            standin.script(ws.error("InternalError", "soak: not acted on"),
                           execution_id=run.rid, action=RERUN)
        elif run.kind == "acted":
            standin.script(ws.error("InternalError", "soak: acted on, then failed",
                                    applied=True), execution_id=run.rid, action=RERUN)
        elif run.kind == "http503":
            standin.script(ws.http_status(503), execution_id=run.rid, action=READ)
        elif run.kind == "permanent":
            standin.script(ws.error("InvalidParameter", "soak: refused for good"),
                           execution_id=run.rid, action=RERUN)


class LogTail:
    """Reads what collectd's log file gained since the last call."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.rest = b""

    def lines(self):
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return []
        self.offset += len(data)
        data = self.rest + data
        parts = data.split(b"\n")
        self.rest = parts.pop()
        return [p.decode("utf-8", errors="replace") for p in parts]


def state_figures(path):
    """(runs in the snapshot, bytes of snapshot + journal)."""
    runs = size = 0
    for p in (path, path + ".journal"):
        try:
            size += os.path.getsize(p)
        except OSError:
            pass
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if line.startswith(b'{"run"'):
                    runs += 1
    except OSError:
        pass
    return runs, size


def read_counters(c):
    """{counter: value} summed over the workflows, as last dispatched."""
    out = {}
    for name, _, _, _ in WORKFLOWS:
        for counter in COUNTERS:
            out[counter] = out.get(counter, 0) + int(c.counter(name, counter) or 0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plugin", default=harness.DEFAULT_PLUGIN_PATH)
    ap.add_argument("--failures", type=int,
                    default=int(os.environ.get("SOAK_FAILURES") or 20000))
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("SOAK_SECONDS") or 240))
    ap.add_argument("--minutes", type=int, default=30, help="simulated minutes")
    ap.add_argument("--kills", type=int, default=2,
                    help="restarts done with SIGKILL instead of SIGTERM")
    ap.add_argument("--rate-limit", type=float, default=300)
    ap.add_argument("--plain-http", action="store_true",
                    help="the stand-in without TLS (when TLS is the bottleneck)")
    ap.add_argument("--drain", type=float, default=90,
                    help="seconds after the last failure for the last reruns")
    ap.add_argument("--max-tracked", type=int, default=None,
                    help="MaxTrackedRuns (default: what the mean pace leaves in "
                         "StateRetention)")
    ap.add_argument("--trace", action="store_true",
                    help="print RSS and descriptors every 5 s of each segment")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep", action="store_true", help="keep collectd's directory")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    seg_len = args.seconds / args.minutes
    runs = plan_runs(args.failures, rng)
    by_id = {r.rid: r for r in runs}
    offsets = arrival_times(len(runs), args.seconds)
    max_runs = args.max_tracked or max(
        100, int(round(args.failures / args.seconds * STATE_RETENTION)))
    kills = set()
    if args.kills > 0:
        step = args.minutes / (args.kills + 1)
        kills = {int(round(step * (k + 1))) - 1 for k in range(args.kills)}

    leak = unixsock_baseline(os.path.abspath(args.plugin))
    print("collectd without the plugin: RSS +%.0f B per PUTNOTIF with WorkflowExecutionId "
          "and WorkflowId meta (%d sent; its unixsock leaks the meta)" % (leak, UNIXSOCK_PROBE))
    tmp = tempfile.mkdtemp(prefix="wedata-soak-")
    standin = ws.WeDataStandin(cert_dir=os.path.join(tmp, "certs"),
                               credentials={SECRET_ID: SECRET_KEY},
                               tls=not args.plain_http)
    answers = {}
    answers_lock = threading.Lock()

    def on_request(rec):
        key = (rec.action, rec.error_code or (str(rec.status) if rec.status != 200 else "ok"))
        with answers_lock:
            answers[key] = answers.get(key, 0) + 1

    standin.on_request = on_request
    standin.start()
    script_twists(standin, runs)
    c = harness.Collectd(os.path.abspath(args.plugin),
                         conf(standin, not args.plain_http, args.rate_limit, max_runs),
                         prefix="wedata-soak-collectd-")
    sampler = Sampler()
    sampler.start()
    log = LogTail(c.log_path)
    sender = Sender(c)
    segments = []
    exit_codes = []
    failures = []
    print("soak: %d failures in %g s (%d simulated minutes, %.1f s each: x%.1f), "
          "restart every simulated minute (SIGKILL at %s), RateLimit %g, MaxTrackedRuns %d, "
          "%s stand-in" % (args.failures, args.seconds, args.minutes, seg_len, 60 / seg_len,
                           ", ".join(str(k + 1) for k in sorted(kills)) or "none",
                           args.rate_limit, max_runs,
                           "plain HTTP" if args.plain_http else "HTTPS"))
    sys.stdout.flush()

    inits = [0]

    def take_log():
        now = time.monotonic()
        for line in log.lines():
            if INIT_DONE in line:
                inits[0] += 1
            m = ACCEPTED_RE.search(line)
            if m is None or "Notification:" in line:
                continue    # counted once: the plugin's own INFO line, not logfile's echo
            run = by_id.get(m.group(1))
            if run is None:
                continue
            run.accepted += 1
            plan = FOLLOW_UPS.get(run.kind, [])
            if run.accepted <= len(plan) and run.followed < run.accepted:
                # A while later, anywhere in the segment or the next one.
                run.due = now + rng.uniform(0.5, min(seg_len, 8.0))

    def follow_ups(now):
        for run in runs_with_follow_ups:
            if run.due is None or run.due > now:
                continue
            action = FOLLOW_UPS[run.kind][run.followed]
            if action == "fail":
                standin.update_run(run.rid, state="FAILED")
            run.followed += 1
            run.due = None
            sender.send(run)

    def reruns_of(run):
        got = standin.get_run(run.rid)
        return got.rerun_times if got is not None else 0

    def start():
        """Starts collectd and waits until every plugin's init has run.
        collectd answers a PUTNOTIF as soon as unixsock's init has made the
        socket, but notifications reach the plugin only once its own init
        has loaded the state and registered its callback: those in between
        are lost (see README, "Soak").  A sender cannot see that window;
        the soak waits it out, so that what it counts is the plugin's."""
        want = inits[0] + 1
        c.start()
        harness.wait_until(lambda: take_log() or inits[0] >= want, timeout=30,
                           message="collectd's initialization", on_fail=c.output_tail)
        # The plugin's start hold counts from about here.
        started_at[0] = time.monotonic()

    started_at = [None]

    runs_with_follow_ups = [r for r in runs if r.kind in FOLLOW_UPS]
    next_arrival = 0
    t0 = time.monotonic()
    ok = True
    try:
        for seg in range(args.minutes + 1):    # the last "segment" is the drain
            draining = seg == args.minutes
            started = time.monotonic()
            if seg == 0:
                start()
            sampler.current = (seg, c.proc.pid, started_at[0])
            sender.open()
            with answers_lock:
                before = dict(answers)
            sent_before = sum(r.signals for r in runs)
            seg_end = t0 + (seg + 1) * seg_len
            quiet_since = None
            while True:
                now = time.monotonic()
                take_log()
                while next_arrival < len(runs) and t0 + offsets[next_arrival] <= now:
                    run = runs[next_arrival]
                    sender.send(run)
                    if run.kind == "echo":
                        sender.send(run)
                    next_arrival += 1
                follow_ups(now)
                if not draining and now >= seg_end - PAUSE_BEFORE_STOP:
                    break
                if draining:
                    settled = (all(reruns_of(r) == r.expected for r in runs) and
                               all(r.followed == len(FOLLOW_UPS[r.kind])
                                   for r in runs_with_follow_ups))
                    if settled and quiet_since is None:
                        quiet_since = now
                    elif not settled:
                        quiet_since = None
                    # Settled, then quiet for longer than a read-back takes:
                    # a late double would have shown by then.
                    if quiet_since is not None and now - quiet_since > VERIFY_DELAY + 2:
                        break
                    if now - started > args.drain:
                        break
                    time.sleep(0.2)
                else:
                    time.sleep(0.02)
            time.sleep(PAUSE_BEFORE_STOP if not draining else 0)
            take_log()
            counters = read_counters(c)
            sender.close()
            kill = seg in kills
            t_stop = time.monotonic()
            sampler.current = None
            if kill:
                c.kill()
            else:
                exit_codes.append(c.stop())
            stop_s = time.monotonic() - t_stop
            table, state_bytes = state_figures(c.default_state_file)
            start_s = None
            if not draining:
                t_start = time.monotonic()
                start()
                start_s = time.monotonic() - t_start
            with answers_lock:
                delta = dict((k, v - before.get(k, 0)) for k, v in answers.items())
            standin.clear_requests()    # the record would grow by 50,000 requests
            segments.append({
                "seg": seg + 1 if not draining else "drain", "kill": kill,
                "end": time.monotonic() - t0,
                "signals": sum(r.signals for r in runs) - sent_before,
                "reruns": sum(v for (a, code), v in delta.items()
                              if a == RERUN and code == "ok"),
                "requests": sum(delta.values()),
                "table": None if kill else table, "state_kib": state_bytes / 1024.0,
                "stop_s": stop_s, "start_s": start_s, "counters": counters})
    except Exception as exc:     # report what was measured, then fail
        ok = False
        failures.append("the soak stopped early: %r" % exc)
        sys.stderr.write(c.output_tail(40) + "\n")
    finally:
        sampler.stopping.set()
        sender.close()
        if c.running():
            c.stop()
        standin.stop()
    elapsed = time.monotonic() - t0

    # -- figures --------------------------------------------------------------
    warm_from = STATE_RETENTION + START_HOLD
    per_seg = {}
    for seg, since, rss, fds in sampler.samples:
        # The first seconds of a process, its start hold (restored work
        # waits), are left out: the figures compare processes at work.
        if since < START_HOLD + 0.5:
            continue
        per_seg.setdefault(seg, []).append((rss, fds))
    if args.trace:
        shown = {}
        for seg, since, rss, fds in sampler.samples:
            if int(since / 5) not in shown.setdefault(seg, set()):
                shown[seg].add(int(since / 5))
                print("trace: segment %s at %5.1f s: RSS %d KiB, %d fds" % (
                    seg + 1, since, rss, fds))
    print()
    print("%5s %4s %7s %7s %8s %7s %6s %8s %9s %9s %9s %7s %7s %7s" % (
        "seg", "stop", "end s", "signals", "requests", "reruns", "CPU s", "table",
        "state KiB", "RSS KiB", "RSS max", "fds", "stop s", "start s"))
    ref = None
    flat_rss = flat_fd = True
    for i, s in enumerate(segments):
        samples = per_seg.get(i, [])
        rss_first = samples[0][0] if samples else None
        rss_max = max(x[0] for x in samples) if samples else None
        fds = sorted(x[1] for x in samples)
        steady = statistics.mode(fds) if fds else None
        fd_text = ("%d/%d" % (steady, fds[-1])) if fds else "-"
        warmed = s["seg"] != "drain" and i * seg_len >= warm_from and samples
        mark = ""
        if warmed and ref is None:
            ref = (s["seg"], rss_max, steady)
            mark = " <- reference"
        elif warmed or (s["seg"] == "drain" and samples and ref is not None):
            bound = ref[1] + max(ref[1] * RSS_SLACK, RSS_SLACK_MIN_KIB)
            if rss_max > bound:
                flat_rss = False
                mark += " RSS above %d" % bound
            if steady != ref[2] or fds[-1] > ref[2] + FD_TRANSIENT:
                flat_fd = False
                mark += " fds not %d (at most %d)" % (ref[2], ref[2] + FD_TRANSIENT)
        cpu = sampler.cpu.get(i)
        print("%5s %4s %7.1f %7d %8d %7d %6s %8s %9.0f %9s %9s %9s %7.2f %7s%s" % (
            s["seg"], "KILL" if s["kill"] else "TERM", s["end"], s["signals"],
            s["requests"], s["reruns"], "-" if cpu is None else "%.2f" % cpu,
            "-" if s["table"] is None else s["table"],
            s["state_kib"], rss_first if rss_first is not None else "-",
            rss_max if rss_max is not None else "-", fd_text, s["stop_s"],
            "-" if s["start_s"] is None else "%.2f" % s["start_s"], mark))

    # -- verdict --------------------------------------------------------------
    by_kind = {}
    lost = []
    doubled = []
    for run in runs:
        times = reruns_of(run)
        k = by_kind.setdefault(run.kind, [0, 0, 0, 0])
        k[0] += 1
        k[1] += times
        if times < run.expected:
            lost.append((run, times))
            k[2] += 1
        elif times > run.expected:
            doubled.append((run, times))
            k[3] += 1
    print()
    print("%-10s %6s %9s %9s %5s %8s" % ("kind", "runs", "expected", "executed", "lost",
                                          "doubled"))
    for kind in KINDS:
        if kind in by_kind:
            n, times, nl, nd = by_kind[kind]
            print("%-10s %6d %9d %9d %5d %8d" % (kind, n, n * KINDS[kind][1], times, nl, nd))
    totals = {}
    for s in segments:
        for k, v in s["counters"].items():
            totals[k] = totals.get(k, 0) + v
    print()
    print("plugin counters (each process's last dispatch, summed; the last second before "
          "each stop is not in them):")
    print("  " + ", ".join("%s %d" % (k, v) for k, v in totals.items() if v))
    print("stand-in answers: " + ", ".join(
        "%s %s %d" % (a, code, v) for (a, code), v in sorted(answers.items(), key=str)))
    errors = c.plugin_errors()
    dropped_at_stop = [m for m in c.log_messages("warning", "not yet looked at")]
    stops = [s["stop_s"] for s in segments if not s["kill"]]
    starts = [s["start_s"] for s in segments if s["start_s"] is not None]
    print("stop (SIGTERM) s: median %.2f, max %.2f; start s: median %.2f, max %.2f" % (
        statistics.median(stops), max(stops), statistics.median(starts), max(starts)))
    print("plugin ERROR lines: %d; signals dropped at a stop: %d; elapsed %.0f s" % (
        len(errors), len(dropped_at_stop), elapsed))
    if ref is not None:
        print("reference for flat: segment %s, RSS max %d KiB, %d fds; bound RSS "
              "+%d%% (at least %d KiB), fds %d steady and at most +%d" % (
                  ref[0], ref[1], ref[2], RSS_SLACK * 100, RSS_SLACK_MIN_KIB, ref[2],
                  FD_TRANSIENT))
        busiest = max(sampler.fd_max.items(), key=lambda kv: kv[1][0], default=None)
        if busiest is not None and busiest[1][0] > ref[2]:
            steady_set = sampler.fd_max.get(
                next(i for i, s in enumerate(segments) if s["seg"] == ref[0]), (0, []))[1]
            extra = list(busiest[1][1])
            for name in steady_set:
                if name in extra:
                    extra.remove(name)
            label = segments[busiest[0]]["seg"] if busiest[0] < len(segments) else "?"
            print("most descriptors: %d in segment %s; beyond the reference's busiest "
                  "sample: %s" % (busiest[1][0], label, ", ".join(extra) or "-"))
    else:
        failures.append("no segment after warm-up (%.0f s): run longer" % warm_from)
    if lost:
        failures.append("%d run(s) lost, e.g. %s" % (len(lost), ", ".join(
            "%s (%s, %d of %d)" % (r.rid, r.kind, t, r.expected) for r, t in lost[:5])))
    if doubled:
        failures.append("%d run(s) doubled, e.g. %s" % (len(doubled), ", ".join(
            "%s (%s, %d of %d)" % (r.rid, r.kind, t, r.expected) for r, t in doubled[:5])))
    if not flat_rss:
        failures.append("RSS grew after warm-up")
    if not flat_fd:
        failures.append("open descriptors grew after warm-up")
    if any(rc != 0 for rc in exit_codes):
        failures.append("collectd exited with %r on SIGTERM" % exit_codes)
    if sum(r.signals for r in runs) < len(runs):
        failures.append("only %d of %d failures were signalled" % (
            sum(1 for r in runs if r.signals), len(runs)))
    keep = args.keep or bool(failures) or not ok
    c.cleanup(keep=keep)
    if keep:
        print("collectd's directory kept: %s" % c.dir)
    shutil.rmtree(tmp, ignore_errors=True)
    print()
    if failures:
        print("soak: FAILED: " + "; ".join(failures))
        return 1
    print("soak: OK: %d runs, %d reruns executed as expected, 0 lost, 0 doubled; RSS and "
          "descriptors flat after warm-up" % (len(runs), sum(k[1] for k in by_kind.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
