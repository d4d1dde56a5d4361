#!/usr/bin/env python3
"""Demo: collectd + wedata_rerun against the local WeData stand-in.

    python3 tests/integration/demo.py [--plugin build/wedata_rerun.so]

1. starts the stand-in (standalone, HTTPS on 127.0.0.1) holding FAILED runs
   of three workflows, one run scripted to fail with an error code and one
   scripted to fail again after its first rerun and recover after the
   second, plus its write_http notification sink;
2. starts collectd in the foreground with a demo config (three Workflows:
   ExecuteType 1; ExecuteType 2 with TaskIds, AdvancedParams and resource
   groups; TrackAsync, which follows each rerun to its end) and shows its
   log as it is written;
3. fires failure notifications through collectd's unixsock socket;
4. shows each request the stand-in received (reruns, reads of async jobs
   and runs) and the metrics read back from collectd's csv files;
5. stops everything; exits 0 when every rerun ended as expected.

Nothing leaves 127.0.0.1; everything lives in a temp dir.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
STANDIN = os.path.join(REPO_ROOT, "tests", "standin", "wedata_standin.py")
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import Collectd, plugin_block, wait_until, workflow_block  # noqa: E402

SECRET_ID = "AKIDdemoWedataRerun00000000000000001"
SECRET_KEY = "demoSecretKey/never+printed=000001"
PROJECT_ID = "1460947878944567296"
WORKFLOWS = {
    "daily_sales": "0fae8078-a7a7-4b67-afd1-8bf18e068dda",
    "nightly_etl": "5b1f2c3d-9e8f-4a6b-8c7d-112233445566",
    "hourly_report": "9a8b7c6d-1111-4e2f-9a3b-4c5d6e7f8091",
}
RUNS = [
    # (workflow name, WorkflowExecutionId)
    ("daily_sales", "001e2f39-a71d-4588-9a9a-9f244d32c96c"),
    ("daily_sales", "7d3c0a51-2b44-4e71-bd2f-5e1d8a6c0f93"),
    ("nightly_etl", "c0ffee00-1234-4abc-8def-000000000001"),
    ("nightly_etl", "c0ffee00-1234-4abc-8def-000000000002"),
    ("hourly_report", "beef0000-5678-4abc-8def-000000000003"),
]
FAILING_RUN = RUNS[3][1]
FAILING_CODE = "InvalidParameter.InvalidJobState"
# TrackAsync: its async jobs answer INIT, RUNNING, SUCCESS; the run fails
# again after its first rerun and succeeds after the second.
TRACKED_RUN = RUNS[4][1]
ASYNC_PLAN = "INIT,RUNNING,SUCCESS"
OUTCOMES = "RUNNING,FAILED;RUNNING,SUCCESS"

_print_lock = threading.Lock()


def say(line=""):
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def banner(text):
    say("")
    say("=== %s %s" % (text, "=" * max(3, 70 - len(text))))


def table(headers, rows):
    widths = [max(len(str(x)) for x in [h] + [r[i] for r in rows])
              for i, h in enumerate(headers)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    lines = [fmt % tuple(headers), fmt % tuple("-" * w for w in widths)]
    lines += [fmt % tuple(str(x) for x in row) for row in rows]
    with _print_lock:
        for line in lines:
            sys.stdout.write(("  " + line).rstrip() + "\n")
        sys.stdout.flush()


class Tail(threading.Thread):
    """Prints the lines appended to a file, with a prefix."""

    def __init__(self, path, prefix):
        super().__init__(daemon=True)
        self.path, self.prefix = path, prefix
        self.stop_event = threading.Event()

    def run(self):
        pos = 0
        while True:
            stopping = self.stop_event.is_set()
            try:
                with open(self.path, "rb") as fh:
                    fh.seek(pos)
                    data = fh.read()
            except OSError:
                data = b""
            if data:
                complete = data.rfind(b"\n") + 1
                if complete:
                    for line in data[:complete].decode("utf-8", "replace").splitlines():
                        say(self.prefix + line)
                    pos += complete
            if stopping:
                return
            self.stop_event.wait(0.1)

    def stop(self):
        self.stop_event.set()
        self.join(2)


def start_standin(tmp):
    runs_file = os.path.join(tmp, "runs.json")
    with open(runs_file, "w") as fh:
        json.dump([{"ProjectId": PROJECT_ID, "WorkflowId": WORKFLOWS[wf],
                    "WorkflowName": wf, "ExecutionId": run, "ExecutionState": "FAILED",
                    "RerunTimes": 0, "SupportRerun": True} for wf, run in RUNS], fh, indent=1)
    record = os.path.join(tmp, "requests.jsonl")
    notes = os.path.join(tmp, "notifications.jsonl")
    cmd = [sys.executable, "-u", STANDIN, "--port", "0", "--cert-dir", os.path.join(tmp, "certs"),
           "--secret-id", SECRET_ID, "--secret-key", SECRET_KEY, "--runs", runs_file,
           "--no-auto-create",
           "--script", "%s@RerunTriggerWorkflowRunAsync=error:%s:the run is not in a "
           "state that can be rerun" % (FAILING_RUN, FAILING_CODE),
           "--async-plan", "%s=%s" % (TRACKED_RUN, ASYNC_PLAN),
           "--rerun-outcomes", "%s=%s" % (TRACKED_RUN, OUTCOMES),
           "--sink", "--record", record, "--notifications-record", notes]
    say("$ python3 tests/standin/wedata_standin.py --port 0 --cert-dir ... --runs runs.json "
        "--no-auto-create --script %s@RerunTriggerWorkflowRunAsync=error:%s:... "
        "--async-plan %s=%s "
        "--rerun-outcomes '%s=%s' --sink --record requests.jsonl"
        % (FAILING_RUN[:8] + "...", FAILING_CODE, TRACKED_RUN[:8] + "...", ASYNC_PLAN,
           TRACKED_RUN[:8] + "...", OUTCOMES))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    info = {}
    deadline = time.monotonic() + 20
    while len(info) < 3:
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError("the stand-in did not start (%r)" % line)
        key, _, value = line.strip().partition("=")
        if key in ("PORT", "SINK_PORT", "CA_CERT"):
            info[key] = value

    def forward():
        for line in proc.stdout:
            say(line.rstrip("\n"))
    forwarder = threading.Thread(target=forward, daemon=True)
    forwarder.start()
    proc.forwarder = forwarder
    return proc, int(info["PORT"]), int(info["SINK_PORT"]), info["CA_CERT"], record, notes


def demo_config(tmp, port, ca_cert):
    key_file = os.path.join(tmp, "secret.key")
    with open(key_file, "w") as fh:
        fh.write(SECRET_KEY + "\n")
    os.chmod(key_file, 0o600)
    options = [("Endpoint", "https://127.0.0.1:%d" % port), ("Region", "ap-guangzhou"),
               ("SecretId", SECRET_ID), ("SecretKeyFile", key_file), ("CACert", ca_cert),
               ("VerifyPeer", True), ("Timeout", 10), ("Language", "en-US"),
               ("QueueLimit", 1024), ("Workers", 2), ("AsyncPollInterval", 0.5)]
    workflows = [
        workflow_block("daily_sales", PROJECT_ID, WORKFLOWS["daily_sales"], 1,
                       matches=[{"severity": "failure", "plugin": "wedata",
                                 "plugin_instance": "daily_sales"}]),
        workflow_block("nightly_etl", PROJECT_ID, WORKFLOWS["nightly_etl"], 2,
                       task_ids=("task-extract", "task-load"),
                       advanced_params=(("bizdate", "20261127"), ("retry_reason", "auto")),
                       scheduling_resource_group="rg-sched",
                       integration_resource_group="rg-integ",
                       matches=[{"severity": "failure", "plugin": "wedata",
                                 "plugin_instance": "/^nightly/"}]),
        workflow_block("hourly_report", PROJECT_ID, WORKFLOWS["hourly_report"], 1,
                       matches=[{"severity": "failure", "plugin": "wedata",
                                 "plugin_instance": "hourly_report"}],
                       extra=["TrackAsync true", "RetryInterval 2", "MaxRetryInterval 4"]),
    ]
    return plugin_block(options, workflows)


def read_jsonl(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except OSError:
        return []


def main(argv=None):
    parser = argparse.ArgumentParser(description="wedata_rerun demo")
    parser.add_argument("--plugin", default=os.path.join("build", "wedata_rerun.so"))
    args = parser.parse_args(argv)
    plugin = args.plugin if os.path.isabs(args.plugin) else os.path.join(REPO_ROOT, args.plugin)
    if not os.path.isfile(plugin):
        say("demo: plugin %s not found; build it first (make)" % plugin)
        return 1

    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="wedata-demo-")
    standin = None
    collectd = None
    tails = []
    ok = False
    try:
        banner("1. WeData stand-in with %d FAILED runs" % len(RUNS))
        standin, port, sink_port, ca_cert, record, notes_file = start_standin(tmp)
        table(["workflow", "WorkflowId", "WorkflowExecutionId", "state", "scripted answer"],
              [(wf, WORKFLOWS[wf], run, "FAILED",
                "error " + FAILING_CODE if run == FAILING_RUN else "accept")
               for wf, run in RUNS])

        banner("2. collectd (foreground) with the demo config")
        conf = demo_config(tmp, port, ca_cert)
        collectd = Collectd(plugin, conf, sink_url="http://127.0.0.1:%d/collectd" % sink_port,
                            prefix="wedata-demo-collectd-")
        say("<Plugin wedata_rerun> block:")
        for line in conf.rstrip().splitlines():
            say("  | " + line)
        say("$ /usr/sbin/collectd -f -C %s" % collectd.conf_path)
        tails = [Tail(collectd.log_path, "[collectd] "),
                 Tail(collectd.stdout_path, "[collectd stdout] ")]
        for t in tails:
            t.start()
        collectd.start()

        banner("3. failure notifications through unixsock (PUTNOTIF)")
        for wf, run in RUNS:
            reply, elapsed = collectd.putnotif(
                message="workflow %s run %s failed" % (wf, run), plugin="wedata",
                plugin_instance=wf, type="gauge", type_instance="failed",
                meta={"WorkflowId": WORKFLOWS[wf], "WorkflowExecutionId": run})
            say("PUTNOTIF %s run %s -> %r in %.3fs" % (wf, run, reply, elapsed))
        def reruns():
            return [r for r in read_jsonl(record)
                    if r["action"] == "RerunTriggerWorkflowRunAsync"]

        wait_until(lambda: len(reruns()) >= len(RUNS), 15,
                   message="the stand-in to answer %d reruns" % len(RUNS))
        say("")
        say("hourly_report has TrackAsync: the plugin follows its rerun (async job,")
        say("then the run); the run fails again, is rerun after its backoff, and")
        say("recovers ...")
        # Without a run id the plugin looks for the newest FAILED run of the
        # workflow; daily_sales has none left now (both are rerunning).
        reply, elapsed = collectd.putnotif(message="daily_sales failed (no run id)",
                                           plugin="wedata", plugin_instance="daily_sales")
        say("PUTNOTIF daily_sales without WorkflowExecutionId -> %r in %.3fs"
            % (reply, elapsed))
        wait_until(lambda: len([n for n in read_jsonl(notes_file)
                                if n.get("labels", {}).get("severity") in ("OKAY", "WARNING")
                                and "wedata_rerun" in n.get("labels", {})]) >= len(RUNS), 10,
                   message="the plugin's result notifications")
        collectd.wait_counters("hourly_report", {"recovered": 1, "async-SUCCESS": 2},
                               timeout=60)
        expected_accepted = {"daily_sales": 2, "nightly_etl": 1, "hourly_report": 2}
        for wf, n in expected_accepted.items():
            collectd.wait_counters(wf, {"accepted": n, "failed": 2 - n, "attempts": 2},
                                   timeout=10)
        collectd.wait_counters("daily_sales", {"skipped-no_failed_run": 1}, timeout=10)

        banner("4. requests received by the stand-in")
        requests = read_jsonl(record)
        name_of = dict((v, k) for k, v in WORKFLOWS.items())
        wf_of_run = dict((run, wf) for wf, run in RUNS)
        wf_of_job = dict((r["async_id"], wf_of_run.get(r["execution_id"], "?"))
                         for r in requests if r["async_id"])
        rows = []
        for req in requests:
            body = json.loads(req["body"]) if req["body"] else {}
            if req["action"] in ("GetOpsAsyncJob", "GetTriggerWorkflowRun"):
                job = req["action"] == "GetOpsAsyncJob"
                rows.append((req["seq"], req["action"],
                             wf_of_job.get(req["asked_async_id"], "?") if job
                             else wf_of_run.get(req["execution_id"], "?"),
                             "AsyncId " + str(req["asked_async_id"]) if job
                             else req["execution_id"], "read",
                             "verified" if req["signature_ok"] else "REJECTED",
                             "%s %s" % ("Status" if job else "ExecutionState",
                                        req["answered_state"])))
                continue
            if req["action"] == "ListTriggerWorkflowRuns":
                ids = [v for f in body.get("Filters", []) for v in f.get("Values", [])]
                rows.append((req["seq"], req["action"],
                             ",".join(name_of.get(i, "?") for i in ids), "-",
                             "page %s" % body.get("PageNumber"),
                             "verified" if req["signature_ok"] else "REJECTED",
                             "Error " + str(req["error_code"]) if req["error_code"]
                             else "the runs, newest first"))
                continue
            rows.append((req["seq"], req["action"], name_of.get(body.get("WorkflowId"), "?"),
                         req["execution_id"], "ExecuteType " + str(body.get("ExecuteType")),
                         "verified" if req["signature_ok"] else "REJECTED",
                         "AsyncId " + req["async_id"] if req["async_id"]
                         else "Error " + str(req["error_code"])))
        table(["#", "action", "workflow", "WorkflowExecutionId", "mode", "signature",
               "answered"], rows)
        say("")
        say("request body of the ExecuteType 2 workflow:")
        for req in requests:
            if '"ExecuteType":"2"' in req["body"]:
                say("  " + req["body"])
                break

        banner("5. notifications dispatched by the plugin (write_http -> sink)")
        rows = []
        for n in read_jsonl(notes_file):
            labels, ann = n.get("labels", {}), n.get("annotations", {})
            if "wedata_rerun" not in labels:
                continue
            summary = ann.get("summary", "")
            rows.append((labels.get("severity"), labels.get("wedata_rerun"),
                         summary if len(summary) <= 160 else summary[:157] + "..."))
        table(["severity", "workflow", "message"], rows)

        banner("6. metrics read back from collectd's csv files")
        now = time.time()   # wait for one more interval so every series is current
        wait_until(lambda: (collectd.metric_line(None, "queue_length", plugin="wedata_rerun_global")
                            or (0,))[0] > now, 5,
                   message="a fresh csv interval")
        rows = []
        for ident in collectd.list_metrics():
            host, folder, name = ident.split("/")
            if not folder.startswith("wedata_rerun"):
                continue
            plugin, _, instance = folder.partition("-")
            typ, _, tinst = name.partition("-")
            value = collectd.metric(instance or None, typ, tinst or None, plugin=plugin)
            shown = ("%.3f s" % value if typ in ("response_time", "duration")
                     else "%g" % value if value is not None else "-")
            rows.append((ident, shown))
        table(["metric", "value"], rows)

        requests = reruns()
        results = {}
        for req in requests:
            results[req["execution_id"]] = req["async_id"] or req["error_code"]
        ok = (len(requests) == len(RUNS) + 1     # the tracked run twice
              and all(r["signature_ok"] for r in requests)
              and results.get(FAILING_RUN) == FAILING_CODE
              and sum(1 for r in requests if r["async_id"]) == len(RUNS)
              and collectd.counter("hourly_report", "recovered") == 1
              and collectd.metric("hourly_report", "duration", "time_to_recover") > 0)
    except Exception as exc:  # report and fall through to the clean-up
        say("demo: FAILED: %s" % exc)
        if collectd is not None:
            say(collectd.output_tail())
    finally:
        banner("7. stopping")
        if collectd is not None:
            try:
                rc = collectd.stop()
                say("collectd exited with code %s" % rc)
                if rc != 0:
                    ok = False
            except harness.HarnessError as exc:
                say("demo: %s" % exc)
                ok = False
        for t in tails:
            t.stop()
        if collectd is not None:
            if SECRET_KEY in collectd.output_text():
                say("demo: the SecretKey appears in collectd's output!")
                ok = False
            collectd.cleanup()
        if standin is not None:
            standin.send_signal(signal.SIGTERM)
            try:
                standin.wait(10)
            except subprocess.TimeoutExpired:
                standin.kill()
                standin.wait(5)
            standin.forwarder.join(2)   # prints the stand-in's last line
        shutil.rmtree(tmp, ignore_errors=True)
    say("")
    say("demo %s in %.1fs" % ("OK" if ok else "FAILED", time.monotonic() - started))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
