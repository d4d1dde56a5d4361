"""The reliability suite (issue 11): what a hostile server, a kill -9 and a
broken disk do to the real collectd with the plugin.  Run through
run_tests.py like test_integration, whose PluginTestCase (stand-in, sink,
collectd daemons, the secrets check at tearDown) every class here uses.
"""

import collections
import os
import signal
import sys
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

import wedata_standin as ws  # noqa: E402
from harness import assert_stays, wait_until, workflow_block  # noqa: E402
from test_integration import WF as WF_DEFAULT  # noqa: E402
from test_integration import (PROJECT_ID, START_HOLD, WORKFLOW_ID,  # noqa: E402
                              PluginTestCase, new_run_id)

RERUN = "RerunTriggerWorkflowRunAsync"
NETWORK = "ClientError.NetworkError"
HTTP = "ClientError.HttpStatusCodeError"
PARSE = "ClientError.ParseJsonError"

# What the plugin does with the first answer to a rerun, and what follows
# when the next answer is a success (every run of the matrix fails once):
#   reruns/reads: RerunTriggerWorkflowRunAsync and GetTriggerWorkflowRun
#     requests about the run; executed: reruns WeData carried out;
#   gap: seconds between the first answer and the next request about the
#     run (the resend, or the read), as (at least, at most); None: none;
#   note: the plugin's notification about the run (OKAY = rerun accepted,
#     with the AsyncId of the resend when there was one);
#   counters: the workflow's derive-* values at the end.
Outcome = collections.namedtuple("Outcome", "reruns reads executed gap note counters")

KINDS = {
    # Refused for good: one request, never again, the run stays FAILED.
    "permanent": Outcome(1, 0, 0, None, "FAILURE",
                         dict(attempts=1, accepted=0, failed=1, retries=0, held=0)),
    # Refused, so nothing was done: resent after the request backoff
    # (1 s, jittered down to half), one retry of the run used.
    "refused": Outcome(2, 0, 1, (0.45, 3.0), "OKAY",
                       dict(attempts=2, accepted=1, failed=1, retries=1, held=0)),
    # The service is busy (nothing done): resent after the backoff, the
    # sender's trouble, so held instead of a retry.
    "busy": Outcome(2, 0, 1, (0.45, 3.0), "OKAY",
                    dict(attempts=2, accepted=1, failed=1, retries=0, held=1)),
    # Maybe done: read back about 5 s later; not rerun, so resent once;
    # an outage, so held, no retry used.
    "read, resend": Outcome(2, 1, 1, (4.0, 12.0), "OKAY",
                            dict(attempts=2, accepted=1, failed=1, retries=0, held=1)),
    # The same about the run itself (ResourceInUse): a retry is used.
    "read, resend (in use)": Outcome(2, 1, 1, (4.0, 12.0), "OKAY",
                                     dict(attempts=2, accepted=1, failed=1, retries=1,
                                          held=0)),
    # Maybe done, and it was: the read shows the rerun, nothing resent.
    "read, accepted": Outcome(1, 1, 1, (4.0, 12.0), "OKAY",
                              dict(attempts=1, accepted=1, failed=1, retries=0, held=0)),
    # The signature's time: re-signed and sent again without a backoff, as
    # soon as the pace allows (it is shared with every other case's first
    # request: about 3 s of them at 20/s).
    "resign": Outcome(2, 0, 1, (0.0, 3.5), "OKAY",
                      dict(attempts=2, accepted=1, failed=1, retries=1, held=0)),
}

DEEP = 260000       # about 520 KB of brackets: overflowed a worker's stack once


def deep_answer():
    return ws.http_status(200, body=b'{"Response":' + b"[" * DEEP + b"]" * DEEP + b"}")


# (label, answer, the error name counted, kind). Every documented error
# code that is about the request or the service (wedata-api.md sections
# 4.2 and 4.3) as an answer to the rerun, and the transport faults. The
# codes that hold every request back (the credentials: test_72; the
# throttles: test_73) have their own tests.
MATRIX = [(code, lambda c=code: ws.error(c, "scripted " + c), code, kind)
          for code, kind in [
              ("ActionOffline", "permanent"),
              ("DryRunOperation", "permanent"),
              ("FailedOperation", "permanent"),
              ("FailedOperation.ExecutorClusterStatusError", "permanent"),
              ("InternalError", "read, resend"),
              ("InternalError.InvalidParameter", "read, resend"),
              ("InternalError.UnknownError", "read, resend"),
              ("InvalidAction", "permanent"),
              ("InvalidParameter", "permanent"),
              ("InvalidParameter.ClientIpNotAuthorized", "permanent"),
              ("InvalidParameter.DuplicateName", "permanent"),
              ("InvalidParameter.InvalidFilterParameter", "permanent"),
              ("InvalidParameter.InvalidJobState", "permanent"),
              ("InvalidParameter.InvalidParamsError", "permanent"),
              ("InvalidParameter.MissingRequestParameter", "permanent"),
              ("InvalidParameter.QuotaExceedError", "permanent"),
              ("InvalidParameter.RuleNotExist", "permanent"),
              ("InvalidParameter.ServiceIsBusy", "busy"),
              ("InvalidParameter.WorkspaceNameDuplication", "permanent"),
              ("InvalidParameter.WorkspaceNotExist", "permanent"),
              ("InvalidParameterValue", "permanent"),
              ("InvalidParameterValue.ParamIllegalError", "permanent"),
              ("InvalidParameterValue.RuleNameRepeated", "permanent"),
              ("InvalidParameterValue.ValidationError", "permanent"),
              ("InvalidRequest", "permanent"),
              ("IpInBlacklist", "permanent"),
              ("IpNotInWhitelist", "permanent"),
              ("LimitExceeded", "permanent"),
              ("MissingParameter", "permanent"),
              ("NoSuchProduct", "permanent"),
              ("NoSuchVersion", "permanent"),
              ("OperationDenied", "permanent"),
              ("OperationDenied.UserNotInWhitelistError", "permanent"),
              ("RequestSizeLimitExceeded", "permanent"),
              ("ResourceInUse", "read, resend (in use)"),
              ("ResourceInsufficient", "permanent"),
              ("ResourceNotFound", "permanent"),
              ("ResourceNotFound.ResultExpired", "permanent"),
              ("ResourceUnavailable", "read, resend"),
              ("ResponseSizeLimitExceeded", "permanent"),
              ("ServiceUnavailable", "read, resend"),
              ("UnknownParameter", "permanent"),
              ("UnsupportedOperation", "permanent"),
              ("UnsupportedProtocol", "permanent"),
              ("UnsupportedRegion", "permanent"),
              ("AuthFailure.SignatureExpire", "resign"),
              ("Nonsense.NotAKnownCode", "permanent"),
          ]] + [
    ("HTTP 500", lambda: ws.http_status(500), HTTP, "read, resend"),
    ("HTTP 502", lambda: ws.http_status(502), HTTP, "read, resend"),
    ("HTTP 503", lambda: ws.http_status(503), HTTP, "read, resend"),
    ("HTTP 404", lambda: ws.http_status(404), HTTP, "refused"),
    ("HTTP 429", lambda: ws.http_status(429), HTTP, "refused"),
    ("not JSON", lambda: ws.garbage(), PARSE, "read, resend"),
    ("truncated answer", lambda: ws.truncated(), NETWORK, "read, accepted"),
    ("5 MiB answer", lambda: ws.huge(5 * 1024 * 1024), PARSE, "read, accepted"),
    ("520 KB deep answer", deep_answer, PARSE, "read, resend"),
    ("reset before acting", lambda: ws.close(), NETWORK, "read, resend"),
    ("reset after acting", lambda: ws.close(applied=True), NETWORK, "read, accepted"),
    ("acted, then InternalError", lambda: ws.error("InternalError", applied=True),
     "InternalError", "read, accepted"),
    ("acted, then HTTP 502", lambda: ws.http_status(502, applied=True), HTTP,
     "read, accepted"),
    ("slower than Timeout", lambda: ws.delay(4), NETWORK, "read, accepted"),
]


class TestFaultMatrix(PluginTestCase):
    """Issue 11: every answer a rerun can get, each as the first answer to
    the rerun of its own run of its own workflow (so that each case has its
    own counters), all in one collectd at once. For each: collectd stays
    up, the error counted under its name, whether and when the run was
    retried or read back, its final state at WeData and in the plugin
    (notification), and how many reruns WeData carried out (exactly one
    where one is due). Refused connections and an untrusted certificate
    are test_13c and test_05d; the outage that lasts is test_67."""

    def setUp(self):
        super().setUp()
        self.cases = []
        for i, (label, answer, error, kind) in enumerate(MATRIX):
            self.cases.append(dict(label=label, answer=answer(), error=error,
                                   kind=KINDS[kind], workflow="fm%02d" % i,
                                   workflow_id=str(uuid.uuid4()), run=new_run_id()))

    def test_71_every_answer_once(self):
        # Timeout 2 for the slow case; every outage-like answer at once
        # would open the default breaker, which is not what this is about.
        workflows = [self.workflow(name=case["workflow"], workflow_id=case["workflow_id"])
                     for case in self.cases]
        c = self.collectd(workflows, self.options(Timeout=2, BreakerThreshold=1000,
                                                  PermanentHold=3600))
        for case in self.cases:
            self.standin.script(case["answer"], execution_id=case["run"], action=RERUN)
        for case in self.cases:
            self.fire(c, case["run"], workflow_id=case["workflow_id"])
        for case in self.cases:
            counters = dict(case["kind"].counters, signals=1)
            counters["error-" + case["error"]] = 1
            with self.subTest(case["label"]):
                c.wait_counters(case["workflow"], counters, timeout=40)
        self.assertTrue(c.running(), "collectd died")
        # Nothing more happens: no late resend or read of any case.
        total = self.standin.count()
        assert_stays(lambda: self.standin.count() == total, 3.0,
                     message=lambda: "requests after the end: %r"
                     % self.standin.requests()[total:])
        for case in self.cases:
            with self.subTest(case["label"]):
                self.check_case(c, case)

    def check_case(self, c, case):
        kind, run_id = case["kind"], case["run"]
        reruns = self.rerun_requests(run_id)
        reads = self.verify_requests(run_id)
        self.assertEqual((len(reruns), len(reads)), (kind.reruns, kind.reads),
                         "reruns %r, reads %r" % (reruns, reads))
        self.assertEqual(reruns[0].answer, case["answer"].describe())
        run = self.standin.get_run(run_id)
        self.assertEqual(run.rerun_times, kind.executed, "reruns WeData carried out")
        self.assertEqual(run.state, "RUNNING" if kind.executed else "FAILED")
        if kind.gap is not None:
            nxt = min(reruns[1:] + reads, key=lambda r: r.received_at)
            gap = nxt.received_at - reruns[0].answered_at
            self.assertGreaterEqual(gap, kind.gap[0], "retried too soon")
            self.assertLessEqual(gap, kind.gap[1], "retried too late")
            if kind.reads and kind.reruns == 2:
                self.assertGreater(reruns[1].received_at, reads[0].answered_at,
                                   "resent before the read was answered")
        note = self.wait_note(run_id, kind.note, c=c)
        # One WARNING for the failed answer, then the outcome, once.
        notes = self.notes_about(run_id)
        self.assertEqual([n.severity for n in notes], ["WARNING", kind.note], notes)
        self.assertEqual(notes[0].meta.get("ErrorCode"), case["error"])
        if kind.note == "FAILURE":
            self.assertEqual(note.meta.get("ErrorCode"), case["error"])
        elif kind.reruns == 2:
            self.assertEqual(note.meta.get("AsyncId"), reruns[1].async_id)
        else:
            self.assertNotIn("AsyncId", note.meta)

    def one_case_per_workflow(self, codes):
        """(run, workflow name, workflow id) per code; each code scripted as
        the first answer to its run's rerun."""
        cases = []
        for i, code in enumerate(codes):
            case = dict(code=code, run=new_run_id(), workflow="fx%02d" % i,
                        workflow_id=str(uuid.uuid4()))
            self.standin.script(ws.error(code, "scripted " + code),
                                execution_id=case["run"], action=RERUN)
            cases.append(case)
        return cases

    CREDENTIALS = ["AuthFailure", "AuthFailure.InvalidAuthorization",
                   "AuthFailure.InvalidSecretId", "AuthFailure.MFAFailure",
                   "AuthFailure.SecretIdNotFound", "AuthFailure.SignatureFailure",
                   "AuthFailure.TokenFailure", "AuthFailure.UnauthorizedOperation",
                   "UnauthorizedOperation", "UnauthorizedOperation.UserNotInProject"]

    def test_72_credential_codes_hold_everything_not_the_run(self):
        """Each credentials code (the key, not the run, is at fault) closes
        the gate for every request: a credentials FAILURE notification naming
        the code (one per episode), then one probe per BreakerCooldown (1 s
        here); each run is held, never stopped, and rerun once when the
        gate opens again."""
        cases = self.one_case_per_workflow(self.CREDENTIALS)
        c = self.collectd([self.workflow(name=k["workflow"], workflow_id=k["workflow_id"])
                           for k in cases], self.options(BreakerCooldown=1))
        for case in cases:
            self.fire(c, case["run"], workflow_id=case["workflow_id"])
        for case in cases:
            with self.subTest(case["code"]):
                c.wait_counters(case["workflow"], {
                    "error-" + case["code"]: 1, "attempts": 2, "accepted": 1, "failed": 1,
                    "retries": 0, "held": 1, "skipped-permanent_error": 0}, timeout=60)
        self.assertTrue(c.running(), "collectd died")
        creds = self.sink.notifications(plugin="wedata_rerun", type="credentials")
        for case in cases:
            with self.subTest(case["code"]):
                first, second = self.rerun_requests(case["run"])
                self.assertEqual(first.answer, "error(%s)" % case["code"])
                # The probe waited out the cooldown (less its jitter, if any).
                self.assertGreaterEqual(second.received_at - first.answered_at, 0.45)
                self.assertEqual(self.verify_requests(case["run"]), [])
                run = self.standin.get_run(case["run"])
                self.assertEqual((run.rerun_times, run.state), (1, "RUNNING"))
                self.assertEqual(self.wait_note(case["run"], "OKAY", c=c).meta.get("AsyncId"),
                                 second.async_id)
        # One notification per episode, not per answer: the gate closes on
        # the first code; answers already on their way find it closed.
        failures = [n for n in creds if n.severity == "FAILURE"]
        self.assertTrue(failures, creds)
        for note in failures:
            self.assertIn(note.meta.get("ErrorCode"), self.CREDENTIALS)
        self.assertEqual(creds[-1].severity, "OKAY", creds)
        wait_until(lambda: c.gauge("credentials_ok") == 1, 5,
                   message=lambda: "gauge-credentials_ok 1; now %r" % c.gauge("credentials_ok"))

    THROTTLES = ["RequestLimitExceeded", "RequestLimitExceeded.IPLimitExceeded",
                 "RequestLimitExceeded.UinLimitExceeded",
                 "RequestLimitExceeded.GlobalRegionUinLimitExceeded"]

    def test_73_throttle_codes_slow_down_not_fail(self):
        """Each throttle code: the request is sent again as soon as the
        lowered pace allows, without a read (a refusal did nothing), no
        failure and no retry counted, rerun once."""
        cases = self.one_case_per_workflow(self.THROTTLES)
        c = self.collectd([self.workflow(name=k["workflow"], workflow_id=k["workflow_id"])
                           for k in cases])
        for case in cases:
            self.fire(c, case["run"], workflow_id=case["workflow_id"])
        for case in cases:
            with self.subTest(case["code"]):
                c.wait_counters(case["workflow"], {
                    "error-" + case["code"]: 1, "throttled": 1, "attempts": 2,
                    "accepted": 1, "failed": 0, "retries": 0, "held": 0}, timeout=30)
                first, second = self.rerun_requests(case["run"])
                self.assertLess(second.received_at - first.answered_at, 5.0)
                self.assertEqual(self.verify_requests(case["run"]), [])
                self.assertEqual(self.standin.get_run(case["run"]).rerun_times, 1)
                self.wait_note(case["run"], "OKAY", c=c)
        self.assertTrue(c.running(), "collectd died")
        self.assertTrue(c.log_messages("warning", "slowing down to"), c.output_tail())

    def test_74_reset_on_a_kept_alive_connection(self):
        """One worker, so the second rerun goes out on the connection the
        first opened; the server reads it, acts, and drops the connection.
        libcurl would quietly send it again on a fresh connection (a second
        rerun); the plugin sends it once, reads the run and reports the
        rerun accepted: one rerun executed."""
        warm, dropped = new_run_id(), new_run_id()
        self.standin.script(ws.close(applied=True), execution_id=dropped, action=RERUN)
        c = self.collectd(options=self.options(Workers=1))
        self.fire(c, warm)
        c.wait_counters(WF_DEFAULT, {"accepted": 1}, timeout=10)
        self.fire(c, dropped)
        c.wait_counters(WF_DEFAULT, {"accepted": 2, "attempts": 2, "failed": 1,
                                     "error-" + NETWORK: 1}, timeout=20)
        (first,), (second,) = self.rerun_requests(warm), self.rerun_requests(dropped)
        self.assertEqual(first.client, second.client, "not on the same connection")
        self.assertEqual(self.standin.get_run(dropped).rerun_times, 1)
        self.assertEqual(len(self.verify_requests(dropped)), 1)
        note = self.wait_note(dropped, "OKAY", c=c)
        self.assertIn("its answer was lost, but the run shows it", note.message)
        warning = self.notes_about(dropped, "WARNING")[0]
        self.assertIn("not sent again", warning.message)

    def test_75_server_resets_every_connection(self):
        """For 8 s every request (reruns and reads) is read and dropped
        without acting: collectd stays up, each failure is a network error
        held back (no retry used, never out of retries), nothing is carried
        out; then the server behaves: each run is rerun exactly once."""
        runs = [new_run_id() for _ in range(3)]
        self.standin.set_default_answer(ws.close())
        c = self.collectd(options=self.options(BreakerCooldown=2, MaxRequestRetries=1))
        for run_id in runs:
            self.fire(c, run_id)
        time.sleep(8)
        self.assertTrue(c.running(), "collectd died")
        self.assertGreaterEqual(c.counter(WF_DEFAULT, "error-" + NETWORK) or 0, 3)
        self.assertGreaterEqual(c.counter(WF_DEFAULT, "held") or 0, 1)
        c.wait_counters(WF_DEFAULT, {"accepted": 0, "retries": 0,
                                     "skipped-retries_exhausted": 0})
        for run_id in runs:
            self.assertEqual(self.standin.get_run(run_id).rerun_times, 0)
        self.standin.set_default_answer(None)
        c.wait_counters(WF_DEFAULT, {"accepted": 3, "retries": 0,
                                     "skipped-retries_exhausted": 0}, timeout=30)
        for run_id in runs:
            self.assertEqual(self.standin.get_run(run_id).rerun_times, 1, run_id)
            self.wait_note(run_id, "OKAY", c=c)

    HOSTILE = ['a","ExecuteType":"2', "run 1", "../../etc/passwd", "${jndi:ldap://x/a}",
               "<script>", "run%0d%0aX-Injected:1", "r\u00fcn", "run';DROP", "x" * 200,
               'a\\"b']

    def test_75b_hostile_run_ids_reach_no_request(self):
        """Run ids meant to break a JSON body, a header, a log line or a
        path, from a notification and from a listing (Poll): none reaches a
        request; the signals count as skipped-bad_execution_id, the listing
        items are left out, the plain run next to them is rerun with the
        exact body, and collectd stays up."""
        plain = new_run_id()
        now = time.time()
        self.standin.add_run(PROJECT_ID, WORKFLOW_ID, plain, state="FAILED",
                             create_time=now - 5)
        for i, run_id in enumerate(self.HOSTILE):
            self.standin.add_run(PROJECT_ID, WORKFLOW_ID, run_id, state="FAILED",
                                 create_time=now - 10 - i)
        polled = workflow_block(WF_DEFAULT, PROJECT_ID, WORKFLOW_ID, 1,
                                extra=["Poll true", "VerifyBeforeRerun false"])
        c = self.collectd([polled], self.options(PollInterval=1))
        for run_id in self.HOSTILE:
            self.fire(c, run_id)
        c.wait_counters(WF_DEFAULT, {"skipped-bad_execution_id": len(self.HOSTILE),
                                     "accepted": 1, "attempts": 1}, timeout=20)
        wait_until(lambda: self.standin.count("ListTriggerWorkflowRuns") >= 3, 10, message="three polls",
                   on_fail=c.output_tail)
        (rerun,) = self.rerun_requests()
        self.assertEqual(rerun.raw_body, (
            '{"ProjectId":"%s","WorkflowId":"%s","WorkflowExecutionId":"%s",'
            '"ExecuteType":"1"}' % (PROJECT_ID, WORKFLOW_ID, plain)).encode())
        for rec in self.standin.requests():
            for run_id in self.HOSTILE:
                self.assertNotIn(run_id.encode(), rec.raw_body)
        for run_id in self.HOSTILE:
            self.assertEqual(self.standin.get_run(run_id).rerun_times, 0)
        self.assertTrue(c.running(), "collectd died")

    def test_75c_signals_while_collectd_starts(self):
        """collectd answers PUTNOTIF as soon as unixsock's init made its
        socket, which (unixsock loaded first, as in Debian's layout) is
        before this plugin's init has loaded a large state. Failures sent
        in that window wait in the plugin's queue: each is rerun once. (The
        soak lost 56 of 1,500 this way before.)"""
        c = self.collectd(start=False)
        now = int(time.time() * 1000)
        rec = ('{"run":{"workflow":"%s","execution_id":"%%s","state":"idle",'
               '"in_flight":"rerun","attempts":1,"tries":1,"request_retries":0,'
               '"verify_tries":0,"resigned":false,"gave_up":false,'
               '"first_signal_ms":%d,"last_signal_ms":%d,"last_try_ms":%d,'
               '"next_at_ms":0,"updated_ms":%d,"last_async_id":"","last_error":""}}\n'
               % ((WF_DEFAULT,) + (now,) * 4))
        with open(c.default_state_file, "w") as fh:
            fh.write('{"version":2,"kind":"snapshot","saved_ms":%d,"journal":1}\n' % now)
            fh.write("".join(rec % uuid.uuid4() for _ in range(100000)))
        sock = c.spawn_and_connect()
        runs = [new_run_id() for _ in range(40)]
        with sock, sock.makefile("rb") as fh:
            for run_id in runs:
                sock.sendall(c.putnotif_line(plugin="wedata", meta={
                    "WorkflowExecutionId": run_id, "WorkflowId": WORKFLOW_ID}).encode() + b"\n")
                self.assertTrue(fh.readline().startswith(b"0 Success"))
        early = not c.log_messages("info", "watching 1 workflow")
        c.wait_counters(WF_DEFAULT, {"signals": 40, "accepted": 40}, timeout=40)
        self.assertEqual([r for r in runs if self.standin.get_run(r).rerun_times != 1], [])
        sys.stdout.write("\n    %d signals sent %s the plugin's init ended ... "
                         % (len(runs), "before" if early else "(all after)"))
        sys.stdout.flush()


class TestKillMatrix(PluginTestCase):
    """Issue 11: collectd killed (SIGKILL) at each moment of a rerun, each
    moment several times at slightly different points, and restarted on the
    same state. VerifyBeforeRerun stays off (PluginTestCase's pin): what
    keeps a run from a second rerun here is the state alone. The kill while
    a journal is folded into a new snapshot is test_62 (three points of the
    fold)."""

    # (moment, delays in seconds after its trigger at which the kill lands)
    MOMENTS = [
        # PUTNOTIF answered: the signal is in the plugin's queue, maybe not
        # yet written down. Only here may a signal be lost (it was never
        # durable; polling would find the run again); never doubled.
        ("signal queued", (0.0, 0.0, 0.001, 0.002, 0.005)),
        # Recorded, waiting for its turn behind another run's rerun (RateLimit
        # 2: half a second apart): sent once after the restart.
        ("signal waiting for the pace", (0.05, 0.1, 0.2, 0.3)),
        # The stand-in has the request (and acted on it) but has not
        # answered: after the restart the run is read, never resent.
        ("rerun in flight", (0.0, 0.01, 0.1, 0.5)),
        # The answer left the stand-in; the plugin may or may not have
        # written the outcome down.
        ("answered, before the state write", (0.0, 0.0, 0.0005, 0.001, 0.003)),
    ]

    def test_76_kill9_at_every_moment(self):
        figures = []
        tries = []              # (moment, run id)
        c = self.collectd(options=self.options(RateLimit=2))
        for moment, delays in self.MOMENTS:
            for delay in delays:
                run_id = new_run_id()
                tries.append((moment, run_id))
                self.kill_at(c, moment, run_id, delay)
                last_start = c.restart()
                # A notification before the plugin's init is done reaches
                # no one: wait for the restarted plugin.
                starts = len(tries) + 1
                wait_until(lambda: len(c.log_messages("info", "watching 1 workflow")) >= starts,
                           10, message="the restarted plugin ready", on_fail=c.output_tail)
        # Restored work waits for the start hold after the last restart (a
        # signal that survived its kill is sent then, paced), a run that was
        # in flight is read back 5 s later: wait for 5 quiet seconds after
        # that.
        def quiet():
            recs = self.standin.requests()
            last = max([r.received_at for r in recs] + [last_start + START_HOLD + 7.0])
            return time.time() - last > 5.0
        wait_until(quiet, 90, interval=0.5, message="no request for 5 s",
                   on_fail=c.output_tail)
        for moment, delays in self.MOMENTS:
            runs = [r for m, r in tries if m == moment]
            executed = [self.standin.get_run(r).rerun_times if self.standin.get_run(r) else 0
                        for r in runs]
            read = sum(1 for r in runs if self.verify_requests(r))
            figures.append((moment, len(runs), executed.count(0),
                            sum(1 for n in executed if n > 1), read))
        sys.stdout.write("\n    %-34s %5s %5s %10s %9s\n" % (
            "kill -9 when", "tries", "lost", "duplicated", "read back"))
        for moment, n, lost, dup, read in figures:
            sys.stdout.write("    %-34s %5d %5d %10d %9d\n" % (moment, n, lost, dup, read))
        sys.stdout.flush()
        for moment, n, lost, dup, read in figures:
            self.assertEqual(dup, 0, "%s: a run rerun twice" % moment)
            if moment != "signal queued":
                self.assertEqual(lost, 0, "%s: a durable run never rerun" % moment)
        self.assertTrue(c.running())
        self.assertEqual(c.stop(), 0)

    def kill_at(self, c, moment, run_id, delay):
        """Fires a failure of run_id and kills collectd at `moment` plus
        `delay` seconds."""
        def kill():
            if delay:
                time.sleep(delay)
            try:
                os.killpg(c.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        if moment == "rerun in flight":
            self.standin.script(ws.delay(30), execution_id=run_id, action=RERUN)
        if moment == "answered, before the state write":
            def on_request(rec):
                if rec.action == RERUN and rec.execution_id == run_id:
                    kill()
            self.standin.on_request = on_request
        if moment == "signal waiting for the pace":
            self.fire(c, new_run_id())
        self.fire(c, run_id)
        if moment in ("signal queued", "signal waiting for the pace"):
            kill()
        elif moment == "rerun in flight":
            wait_until(lambda: self.rerun_requests(run_id), 10, message="the rerun request",
                       on_fail=c.output_tail)
            kill()
        else:
            wait_until(lambda: not c.running(), 15, message="the kill after the answer",
                       on_fail=c.output_tail)
            self.standin.on_request = None
        c.kill()        # reaps the process (and kills it if it still runs)


def load_tests(loader, standard_tests, pattern):
    """The classes in the order they are defined."""
    suite = unittest.TestSuite()
    for cls in (TestFaultMatrix, TestKillMatrix):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite
