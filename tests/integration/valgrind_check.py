#!/usr/bin/env python3
"""collectd with the plugin under valgrind (memcheck), through one scenario
with errors, tracking and SIGTERM; exits 0 when valgrind reports no
invalid access and no definite leak.

    valgrind_check.py --plugin build/wedata_rerun.so

The scenario, against the local stand-in: two workflows (one TrackAsync,
both with VerifyBeforeRerun at its default); runs accepted, followed to
SUCCESS, refused for good, answered InternalError after the stand-in acted
(read back), answered garbage and an HTTP 500; a restart that loads the
state; then SIGTERM with requests still in flight. valgrind's own
suppressions plus tests/integration/valgrind.supp (collectd's, each with a
comment) apply; every other error fails the check."""

import argparse
import os
import re
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

import harness  # noqa: E402
import wedata_standin as ws  # noqa: E402

SECRET_ID = "AKIDvalgrindWedataRerun000000000001"
SECRET_KEY = "valgrindSECRETkey/+=Wedata-7f3a9c_.01"
PROJECT_ID = "1460947878944567296"
WF_PLAIN, WF_TRACKED = "nightly_etl", "hourly_report"
ID_PLAIN = "0fae8078-a7a7-4b67-afd1-8bf18e068dda"
ID_TRACKED = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
RERUN = "RerunTriggerWorkflowRunAsync"


def run_id():
    return "vg-" + str(uuid.uuid4())


def conf(standin, state):
    options = [("Endpoint", standin.url), ("Region", "ap-guangzhou"),
               ("SecretId", SECRET_ID), ("SecretKey", SECRET_KEY),
               ("CACert", standin.ca_file), ("Timeout", 10), ("Workers", 2),
               ("StateFile", state), ("AsyncPollInterval", 0.5)]
    plain = harness.workflow_block(WF_PLAIN, PROJECT_ID, ID_PLAIN, 1,
                                   extra=["RetryInterval 0.5", "MaxRetryInterval 1"])
    tracked = harness.workflow_block(WF_TRACKED, PROJECT_ID, ID_TRACKED, 1,
                                     extra=["TrackAsync true", "RetryInterval 0.5",
                                            "MaxRetryInterval 1"])
    return harness.plugin_block(options, [plain, tracked])


def fire(c, wf_id, rid):
    reply, _ = c.putnotif(message="workflow %s failed" % rid, plugin="wedata",
                          meta={"WorkflowExecutionId": rid, "WorkflowId": wf_id})
    if not reply.startswith("0 Success"):
        raise harness.HarnessError("PUTNOTIF: %r" % reply)


def errors_in(log_path):
    text = open(log_path, errors="replace").read() if os.path.exists(log_path) else ""
    summary = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
    definite = re.findall(r"definitely lost: ([\d,]+) bytes", text)
    return text, (int(summary[-1]) if summary else None), definite


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", default=harness.DEFAULT_PLUGIN_PATH)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="wedata-valgrind-")
    state = os.path.join(tmp, "wedata.state")
    vg_log = os.path.join(tmp, "valgrind-%p.log")
    wrapper = ["valgrind", "--tool=memcheck", "--leak-check=full",
               "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
               "--num-callers=40", "--trace-children=no", "--log-file=" + vg_log,
               "--suppressions=" + os.path.join(HERE, "valgrind.supp")]
    standin = ws.WeDataStandin(cert_dir=os.path.join(tmp, "certs"),
                               credentials={SECRET_ID: SECRET_KEY})
    standin.start()
    started = time.monotonic()
    ok = False
    try:
        plain = [run_id() for _ in range(3)]
        tracked = run_id()
        permanent, acted, garbage, http500 = run_id(), run_id(), run_id(), run_id()
        standin.script(ws.error("InvalidParameter", "no"), execution_id=permanent, action=RERUN)
        standin.script(ws.error("InternalError", "gateway", applied=True), execution_id=acted,
                       action=RERUN)
        standin.script(ws.garbage(), execution_id=garbage, action=RERUN)
        standin.script(ws.http_status(500), execution_id=http500, action=RERUN)
        standin.rerun_outcomes(tracked, [["RUNNING", "FAILED"], ["RUNNING", "SUCCESS"]])

        c = harness.Collectd(args.plugin, conf(standin, state), wrapper=wrapper,
                             prefix="wedata-valgrind-collectd-")
        c.start(timeout=120)
        time.sleep(4)   # the start hold, valgrind's pace
        for rid in plain + [permanent, acted, garbage, http500]:
            fire(c, ID_PLAIN, rid)
        fire(c, ID_TRACKED, tracked)
        harness.wait_until(lambda: (c.counter(WF_PLAIN, "accepted") or 0) >= 6 and
                           (c.counter(WF_PLAIN, "skipped-permanent_error") or 0) >= 1 and
                           (c.counter(WF_TRACKED, "recovered") or 0) >= 1, 180,
                           message="every run decided", on_fail=c.output_tail)
        # A restart: the state is loaded back (and compacted at the stop).
        c.stop(timeout=120)
        c.start(timeout=120)
        time.sleep(4)
        # SIGTERM with requests in flight (the stand-in answers slowly).
        standin.set_default_answer(ws.delay(3))
        for _ in range(4):
            fire(c, ID_PLAIN, run_id())
        time.sleep(2)
        rc = c.stop(timeout=120)
        logs = sorted(f for f in os.listdir(tmp) if f.startswith("valgrind-"))
        bad = []
        for name in logs:
            text, errors, definite = errors_in(os.path.join(tmp, name))
            print("%s: ERROR SUMMARY %s; definitely lost %s" % (
                name, errors, ", ".join(definite) or "-"))
            if errors != 0:
                bad.append(text)
        ok = rc == 0 and len(logs) == 2 and not bad
        if bad:
            sys.stdout.write(bad[0][-12000:])
        print("collectd exit code %s; %d run(s) under valgrind" % (rc, len(logs)))
    finally:
        standin.stop()
    print("valgrind check %s in %.0f s (logs in %s)" % (
        "OK" if ok else "FAILED", time.monotonic() - started, tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
