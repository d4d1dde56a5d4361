"""Integration tests: the real collectd daemon + build/wedata_rerun.so
against the local WeData stand-in.  Run through run_tests.py (which sets
WEDATA_PLUGIN), or directly: python3 -m unittest test_integration.

Everything listens on 127.0.0.1 with ephemeral ports and lives in temp
dirs; nothing reaches the network.
"""

import datetime
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

import harness  # noqa: E402
from harness import Collectd, assert_stays, plugin_block, wait_until, workflow_block  # noqa: E402
import wedata_standin as ws  # noqa: E402

PLUGIN_PATH = os.environ.get("WEDATA_PLUGIN", harness.DEFAULT_PLUGIN_PATH)

SECRET_ID = "AKIDitestWedataRerun0000000000000001"
# Distinctive enough that finding it in a log cannot be a coincidence.
SECRET_KEY = "itestSECRETkey/+=Wedata-7f3a9c_.0001"
PROJECT_ID = "1460947878944567296"
WORKFLOW_ID = "0fae8078-a7a7-4b67-afd1-8bf18e068dda"
OTHER_WORKFLOW_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
REGION = "ap-guangzhou"
WF = "nightly_etl"
COUNTERS = ("signals", "attempts", "accepted", "failed", "dropped", "skipped-no_execution_id")
BASE_HEADERS = {"host", "content-type", "x-tc-action", "x-tc-version", "x-tc-timestamp",
                "x-tc-region", "authorization", "content-length", "user-agent"}
AUTH_RE = re.compile(r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})"
                     r"/wedata/tc3_request, SignedHeaders=content-type;host, "
                     r"Signature=(?P<sig>[0-9a-f]{64})$")


def new_run_id():
    return "itest-" + str(uuid.uuid4())


class PluginTestCase(unittest.TestCase):
    """Per test: a stand-in (HTTPS), a write_http sink, and any number of
    collectd daemons, all stopped and removed afterwards.  tearDown checks
    that collectd exits cleanly on SIGTERM and that no secret appears in
    anything collectd wrote."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="wedata-itest-")
        self.collectds = []
        self.secrets = {SECRET_KEY}
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.standin = ws.WeDataStandin(cert_dir=os.path.join(self.tmp, "certs"),
                                        credentials={SECRET_ID: SECRET_KEY}).start()
        self.addCleanup(self.standin.stop)
        self.sink = ws.NotificationSink().start()
        self.addCleanup(self.sink.stop)

    def tearDown(self):
        problems = []
        for c in self.collectds:
            if c.running():
                try:
                    rc = c.stop()
                    if rc != 0:
                        problems.append("collectd exited with %r after SIGTERM" % rc)
                except harness.HarnessError as exc:
                    problems.append(str(exc))
        for c in self.collectds:
            text = c.output_text()
            for secret in self.secrets:
                if secret and secret in text:
                    problems.append("secret %r...%r appears in collectd output (%s)" % (
                        secret[:4], secret[-3:], c.dir))
        failed = self._test_failed() or problems
        if failed:
            for c in self.collectds:
                sys.stderr.write("\n" + c.output_tail(60) + "\n")
            sys.stderr.write("stand-in requests: %r\n" % self.standin.requests())
        for c in self.collectds:
            c.cleanup()
        if problems:
            self.fail("; ".join(problems))

    def _test_failed(self):
        """Whether the test (or one of its subtests) has failed so far."""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        errors = getattr(outcome, "errors", None)          # Python < 3.11
        if errors is not None:
            return any(exc is not None for _, exc in errors)
        result = outcome.result                             # 3.11+: reported at once
        for test, _ in list(result.failures) + list(result.errors):
            if test is self or getattr(test, "test_case", None) is self:
                return True
        return False

    # -- helpers -------------------------------------------------------------

    def options(self, **changes):
        """Plugin-level options; a value of None removes the option, a tuple
        gives several values."""
        opts = {
            "Endpoint": self.standin.url,
            "Region": REGION,
            "SecretId": SECRET_ID,
            "SecretKey": SECRET_KEY,
            "CACert": self.standin.ca_file,
            "VerifyPeer": True,
            "Timeout": 10,
            "QueueLimit": 1024,
            "Workers": 2,
        }
        opts.update(changes)
        out = []
        for key, value in opts.items():
            if value is None:
                continue
            out.append((key,) + (value if isinstance(value, tuple) else (value,)))
        return out

    def workflow(self, name=WF, workflow_id=WORKFLOW_ID, execute_type=1, **kwargs):
        return workflow_block(name, PROJECT_ID, workflow_id, execute_type, **kwargs)

    def collectd(self, workflows=None, options=None, env=None, start=True, conf=None):
        conf = conf if conf is not None else plugin_block(
            options if options is not None else self.options(),
            workflows if workflows is not None else [self.workflow()])
        c = Collectd(PLUGIN_PATH, conf, sink_url=self.sink.url, env=env,
                     prefix="wedata-itest-collectd-")
        self.collectds.append(c)
        self.addCleanup(c.cleanup)      # also if tearDown itself fails
        if start:
            c.start()
        return c

    def fire(self, c, run_id=None, workflow_id=WORKFLOW_ID, plugin="wedata",
             severity="failure", meta=None, **fields):
        """PUTNOTIF a workflow failure; asserts collectd answered Success."""
        m = {}
        if run_id is not None:
            m["WorkflowExecutionId"] = run_id
        if workflow_id is not None:
            m["WorkflowId"] = workflow_id
        m.update(meta or {})
        reply, elapsed = c.putnotif(message="workflow %s failed" % (run_id or "?"),
                                    severity=severity, plugin=plugin, meta=m, **fields)
        self.assertTrue(reply.startswith("0 Success"), "PUTNOTIF reply %r" % reply)
        return elapsed

    def rerun_notifications(self, severity, count=1, timeout=15):
        return self.sink.wait_for(count, timeout=timeout, plugin="wedata_rerun",
                                  severity=severity)

    def info_lines_with(self, c, text):
        """Info log lines of the plugin containing text (logfile's own
        'Notification: ...' echo of notifications does not count)."""
        return [m for m in c.log_messages("info", text) if not m.startswith("Notification:")]

    def assert_request_count_stays(self, n, duration=2.0):
        assert_stays(lambda: self.standin.count() == n, duration,
                     message=lambda: "request count %d != %d: %r" % (
                         self.standin.count(), n, self.standin.requests()))

    def check_common_headers(self, rec, host, token=None, language=None,
                             secret_id=SECRET_ID):
        names = rec.header_names()
        self.assertEqual(len(names), len(set(names)), "duplicate headers: %r" % rec.headers)
        expected = set(BASE_HEADERS)
        if token is not None:
            expected.add("x-tc-token")
        if language is not None:
            expected.add("x-tc-language")
        self.assertEqual(set(names), expected, "header names: %r" % rec.headers)
        self.assertEqual(rec.method, "POST")
        self.assertEqual(rec.path, "/")
        self.assertEqual(rec.header("Host"), host)
        self.assertEqual(rec.header("Content-Type"), "application/json")
        self.assertEqual(rec.header("X-TC-Action"), "RerunTriggerWorkflowRunAsync")
        self.assertEqual(rec.header("X-TC-Version"), "2025-08-06")
        self.assertEqual(rec.header("X-TC-Region"), REGION)
        self.assertEqual(rec.header("Content-Length"), str(len(rec.raw_body)))
        self.assertTrue(rec.header("User-Agent").startswith("wedata_rerun/"),
                        rec.header("User-Agent"))
        ts = rec.header("X-TC-Timestamp")
        self.assertRegex(ts, r"^[0-9]+$")
        self.assertLess(abs(int(ts) - rec.received_at), 5, "X-TC-Timestamp vs receipt")
        m = AUTH_RE.match(rec.header("Authorization"))
        self.assertIsNotNone(m, rec.header("Authorization"))
        self.assertEqual(m.group("id"), secret_id)
        self.assertEqual(m.group("date"), datetime.datetime.fromtimestamp(
            int(ts), datetime.timezone.utc).strftime("%Y-%m-%d"))
        if token is not None:
            self.assertEqual(rec.header("X-TC-Token"), token)
        if language is not None:
            self.assertEqual(rec.header("X-TC-Language"), language)
        self.assertTrue(rec.signature_ok, "signature rejected: %s %s" % (
            rec.auth_code, rec.auth_message))
        return m


class TestHarness(unittest.TestCase):
    """The harness itself, with a collectd that does not load our plugin:
    config, unixsock PUTNOTIF quoting, write_http sink, csv reading, stop."""

    def test_00_harness_self_check(self):
        with ws.NotificationSink() as sink:
            c = Collectd(load_plugin=False, sink_url=sink.url, prefix="wedata-itest-self-")
            try:
                c.start()
                reply, elapsed = c.putnotif(
                    message='say "hi" = \\ ok', plugin="wedata", plugin_instance="wf",
                    type="gauge", type_instance="failed",
                    meta={"WorkflowExecutionId": "run 1", "WorkflowId": 'a"b'})
                self.assertEqual(reply, "0 Success")
                self.assertLess(elapsed, 1.0)
                (note,) = sink.wait_for(1, timeout=10, plugin="wedata")
                self.assertEqual((note.severity, note.host, note.plugin_instance, note.type,
                                  note.type_instance), ("FAILURE", harness.HOSTNAME, "wf",
                                                        "gauge", "failed"))
                self.assertEqual(note.message, 'say "hi" = \\ ok')
                self.assertEqual(note.meta, {"WorkflowExecutionId": "run 1", "WorkflowId": 'a"b'})
                lines, _ = c.command("PUTVAL %s/wedata_rerun-wf/derive-attempts interval=1 N:7"
                                     % harness.HOSTNAME)
                self.assertTrue(lines[0].startswith("0 Success"), lines)
                c.command("PUTVAL %s/wedata_rerun/queue_length interval=1 N:0.5"
                          % harness.HOSTNAME)
                wait_until(lambda: c.counter("wf", "attempts") == 7, 10,
                           message="csv derive-attempts = 7", on_fail=c.output_tail)
                wait_until(lambda: c.metric(None, "queue_length") == 0.5, 10,
                           message="csv queue_length = 0.5")
                self.assertIn("%s/wedata_rerun-wf/derive-attempts" % harness.HOSTNAME,
                              c.list_metrics())
                self.assertTrue(c.log_messages("info", "Initialization complete"))
                self.assertEqual(c.stop(), 0)
                self.assertFalse(c.running())
            finally:
                c.cleanup()
            self.assertFalse(os.path.exists(c.dir))
            self.assertIn("Exiting normally", c.log_text())

    def test_00b_startup_failure_is_reported(self):
        c = Collectd(load_plugin=False, extra_conf="LoadPlugin no_such_plugin_xyz",
                     prefix="wedata-itest-self-")
        try:
            with self.assertRaises(harness.HarnessError) as ctx:
                c.start(timeout=10)
            self.assertIn("no_such_plugin_xyz", str(ctx.exception))
        finally:
            c.cleanup()


class TestRequests(PluginTestCase):

    def test_01_happy_path_full_request(self):
        """One PUTNOTIF -> one exactly-formed, verified request; counters,
        the OKAY notification and the info log line."""
        token = "itest-session-token.ABC_123"
        self.standin.add_credential(ws.Credential(SECRET_ID, SECRET_KEY, token=token))
        wf = self.workflow(execute_type=2, task_ids=("task-a", "task-b"),
                           advanced_params=(("bizdate", "20261127"), ("region", "cn \"east\"")),
                           scheduling_resource_group="rg-sched",
                           integration_resource_group="rg-integ")
        c = self.collectd([wf], self.options(SessionToken=token, Language="en-US"))
        run_id = new_run_id()
        self.fire(c, run_id)
        (rec,) = self.standin.wait_for_requests(1, answered=True, timeout=15)

        self.check_common_headers(rec, "127.0.0.1:%d" % self.standin.port, token=token,
                                  language="en-US")
        expected = ('{"ProjectId":"%s","WorkflowId":"%s","WorkflowExecutionId":"%s",'
                    '"ExecuteType":"2","TaskIds":["task-a","task-b"],'
                    '"AdvancedParams":[{"ParamKey":"bizdate","ParamValue":"20261127"},'
                    '{"ParamKey":"region","ParamValue":"cn \\"east\\""}],'
                    '"SchedulingResourceGroup":"rg-sched",'
                    '"IntegrationResourceGroup":"rg-integ"}'
                    % (PROJECT_ID, WORKFLOW_ID, run_id)).encode()
        self.assertEqual(rec.raw_body, expected)
        self.assertEqual(rec.status, 200)
        self.assertIsNotNone(rec.async_id)

        c.wait_counters(WF, {"signals": 1, "attempts": 1, "accepted": 1, "failed": 0,
                             "dropped": 0, "skipped-no_execution_id": 0})
        (note,) = self.rerun_notifications("OKAY")
        self.assertEqual((note.host, note.plugin_instance, note.type),
                         (harness.HOSTNAME, WF, "rerun"))
        self.assertEqual(note.meta.get("AsyncId"), rec.async_id)
        self.assertEqual(note.meta.get("RequestId"), rec.request_id)
        self.assertEqual(note.meta.get("WorkflowId"), WORKFLOW_ID)
        self.assertEqual(note.meta.get("WorkflowExecutionId"), run_id)
        self.assertIn(run_id, note.message)
        self.assertIn(rec.async_id, note.message)
        wait_until(lambda: self.info_lines_with(c, rec.async_id), 5,
                   message="an info log line with the AsyncId", on_fail=c.output_tail)

        rt = wait_until(lambda: c.metric(WF, "response_time", "RerunTriggerWorkflowRunAsync")
                        is not None, 5, message="response_time metric")
        self.assertTrue(rt)
        value = c.metric(WF, "response_time", "RerunTriggerWorkflowRunAsync")
        self.assertGreaterEqual(value, 0.0)
        self.assertLess(value, 10.0)
        self.assertIsNotNone(c.metric(None, "queue_length"))
        run = self.standin.get_run(run_id)
        self.assertEqual((run.state, run.rerun_times), ("RUNNING", 1))
        self.assertEqual(self.standin.count(), 1)

    def test_01b_minimal_request(self):
        """ExecuteType 1, no token/language: those headers are absent; the
        Host comes from the Endpoint text; no WorkflowId meta is needed."""
        endpoint = "https://localhost:%d" % self.standin.port
        c = self.collectd([self.workflow(execute_type=1)], self.options(Endpoint=endpoint))
        run_id = new_run_id()
        self.fire(c, run_id, workflow_id=None)
        (rec,) = self.standin.wait_for_requests(1, answered=True, timeout=15)
        self.check_common_headers(rec, "localhost:%d" % self.standin.port)
        self.assertEqual(rec.raw_body, (
            '{"ProjectId":"%s","WorkflowId":"%s","WorkflowExecutionId":"%s","ExecuteType":"1"}'
            % (PROJECT_ID, WORKFLOW_ID, run_id)).encode())
        c.wait_counters(WF, {"signals": 1, "attempts": 1, "accepted": 1, "failed": 0})

    def test_01c_plain_http_endpoint(self):
        """An http:// Endpoint works too (Host still host:port)."""
        plain = ws.WeDataStandin(credentials={SECRET_ID: SECRET_KEY}, tls=False).start()
        self.addCleanup(plain.stop)
        c = self.collectd(options=self.options(Endpoint=plain.url, CACert=None))
        run_id = new_run_id()
        self.fire(c, run_id)
        (rec,) = plain.wait_for_requests(1, answered=True, timeout=15)
        self.check_common_headers(rec, "127.0.0.1:%d" % plain.port)
        self.assertIsNotNone(rec.async_id)
        c.wait_counters(WF, {"accepted": 1, "failed": 0})

    def test_02_error_answer_not_retried(self):
        run_id = new_run_id()
        self.standin.script(ws.error("InvalidParameter", "ExecuteType is invalid here"),
                            execution_id=run_id)
        c = self.collectd()
        self.fire(c, run_id)
        (note,) = self.rerun_notifications("WARNING")
        (rec,) = self.standin.requests()
        self.assertTrue(rec.signature_ok)
        self.assertEqual(rec.error_code, "InvalidParameter")
        self.assertEqual((note.plugin_instance, note.type), (WF, "rerun"))
        self.assertEqual(note.meta.get("ErrorCode"), "InvalidParameter")
        self.assertEqual(note.meta.get("ErrorMessage"), "ExecuteType is invalid here")
        self.assertEqual(note.meta.get("RequestId"), rec.request_id)
        self.assertEqual(note.meta.get("WorkflowId"), WORKFLOW_ID)
        self.assertEqual(note.meta.get("WorkflowExecutionId"), run_id)
        c.wait_counters(WF, {"signals": 1, "attempts": 1, "accepted": 0, "failed": 1,
                             "error-InvalidParameter": 1})
        self.assertTrue(self.info_lines_with(c, "InvalidParameter"),
                        "no info line with the error code")
        self.assertEqual(self.sink.notifications(plugin="wedata_rerun", severity="OKAY"), [])
        self.assert_request_count_stays(1, 2.0)

    def test_03_slow_api_does_not_block_putnotif(self):
        slow, fast = new_run_id(), new_run_id()
        self.standin.script(ws.delay(5), execution_id=slow)
        c = self.collectd()
        t0 = time.time()
        elapsed = self.fire(c, slow)
        self.assertLess(elapsed, 1.0, "PUTNOTIF took %.3fs" % elapsed)
        (first,) = self.standin.wait_for_requests(1, timeout=5)
        self.assertLess(first.received_at - t0, 3.0)
        self.assertFalse(first.done.is_set())
        # A second failure is served by the other worker meanwhile.
        elapsed2 = self.fire(c, fast)
        self.assertLess(elapsed2, 1.0, "second PUTNOTIF took %.3fs" % elapsed2)
        (ok_note,) = self.rerun_notifications("OKAY", 1, timeout=4)
        self.assertEqual(ok_note.meta.get("WorkflowExecutionId"), fast)
        self.assertFalse(first.done.is_set(), "fast rerun should finish before slow one")
        self.rerun_notifications("OKAY", 2, timeout=15)
        self.assertGreaterEqual(first.answered_at - first.received_at, 5.0)
        c.wait_counters(WF, {"signals": 2, "attempts": 2, "accepted": 2, "failed": 0})

    def test_04_skipped_and_not_matching(self):
        match = [{"severity": "failure", "plugin": "/^wedata/"}]
        c = self.collectd([self.workflow(matches=match)])
        # Not matching: other plugin, okay and warning severity, another
        # WorkflowId in meta, and the plugin's own notifications.
        self.fire(c, new_run_id(), plugin="other")
        self.fire(c, new_run_id(), severity="okay")
        self.fire(c, new_run_id(), severity="warning")
        self.fire(c, new_run_id(), workflow_id=OTHER_WORKFLOW_ID)
        self.fire(c, new_run_id(), plugin="wedata_rerun", plugin_instance=WF, type="rerun")
        after = time.time()
        c.wait_counters(WF, {"signals": 0, "attempts": 0, "skipped-no_execution_id": 0},
                        after=after + 0.5)
        self.assertEqual(self.standin.count(), 0)
        # Matching, but no WorkflowExecutionId meta.
        self.fire(c, None)
        c.wait_counters(WF, {"skipped-no_execution_id": 1, "attempts": 0, "accepted": 0,
                             "failed": 0})
        self.assertEqual(self.standin.count(), 0)
        # The only wedata_rerun notification is the fake one sent above.
        own = [n for n in self.sink.notifications(plugin="wedata_rerun")
               if n.severity != "FAILURE"]
        self.assertEqual(own, [])


class TestFailures(PluginTestCase):

    def test_05_transport_errors(self):
        c = self.collectd()
        cases = [("close", ws.close(), "ClientError.NetworkError", 1),
                 ("http 500", ws.http_status(500), "ClientError.HttpStatusCodeError", 1),
                 ("garbage", ws.garbage(), "ClientError.ParseJsonError", 1),
                 ("huge body", ws.huge(), "ClientError.ParseJsonError", 2)]
        for n, (label, answer, code, count) in enumerate(cases, 1):
            with self.subTest(label):
                run_id = new_run_id()
                self.standin.script(answer, execution_id=run_id)
                self.fire(c, run_id)
                notes = self.rerun_notifications("WARNING", n)
                note = [x for x in notes if x.meta.get("WorkflowExecutionId") == run_id]
                self.assertEqual(len(note), 1, notes)
                self.assertEqual(note[0].meta.get("ErrorCode"), code)
                c.wait_counters(WF, {"error-" + code: count, "failed": n, "attempts": n})
        c.wait_counters(WF, {"accepted": 0, "failed": 4, "attempts": 4, "signals": 4})
        recs = self.standin.requests()
        self.assertEqual(len(recs), 4)
        self.assertTrue(all(r.signature_ok for r in recs), recs)
        self.assert_request_count_stays(4, 1.5)

    def test_05b_wrong_secret_key(self):
        wrong = "itestWRONGsecretKey/+=000000000000002"
        self.secrets.add(wrong)
        c = self.collectd(options=self.options(SecretKey=wrong))
        self.fire(c, new_run_id())
        (note,) = self.rerun_notifications("WARNING")
        self.assertEqual(note.meta.get("ErrorCode"), "AuthFailure.SignatureFailure")
        (rec,) = self.standin.requests()
        self.assertFalse(rec.signature_ok)
        self.assertEqual(rec.auth_code, "AuthFailure.SignatureFailure")
        c.wait_counters(WF, {"error-AuthFailure.SignatureFailure": 1, "failed": 1,
                             "accepted": 0})

    def test_05c_request_timeout(self):
        run_id = new_run_id()
        self.standin.script(ws.delay(4), execution_id=run_id)
        c = self.collectd(options=self.options(Timeout=1))
        t0 = time.monotonic()
        self.fire(c, run_id)
        (note,) = self.rerun_notifications("WARNING", timeout=10)
        self.assertLess(time.monotonic() - t0, 3.5, "Timeout 1 not honoured")
        self.assertEqual(note.meta.get("ErrorCode"), "ClientError.NetworkError")
        c.wait_counters(WF, {"error-ClientError.NetworkError": 1, "failed": 1})

    def test_05d_untrusted_certificate(self):
        other_ca, _ = ws.make_self_signed_cert(os.path.join(self.tmp, "other"), "other")
        c = self.collectd(options=self.options(CACert=other_ca))
        self.fire(c, new_run_id())
        (note,) = self.rerun_notifications("WARNING")
        self.assertEqual(note.meta.get("ErrorCode"), "ClientError.NetworkError")
        c.wait_counters(WF, {"error-ClientError.NetworkError": 1, "failed": 1})
        self.assertEqual(self.standin.count(), 0)
        self.assertTrue(self.standin.tls_errors())


class TestConfig(PluginTestCase):

    CONFIG_SECRET = "itestCONFIGsecret/+=00000000000000003"

    def bad_config_cases(self):
        missing_key_file = os.path.join(self.tmp, "no-such-dir", "secret.key")
        good = self.options(SecretKey=self.CONFIG_SECRET)
        wf = self.workflow

        def conf(options=good, workflows=None):
            return plugin_block(options, workflows if workflows is not None else [wf()])

        # (label, config text, [groups of alternatives; each group must appear
        #  in one and the same wedata_rerun ERROR line])
        return [
            ("ExecuteType 3", conf(workflows=[wf(execute_type=3)]), [("ExecuteType",), ("3",)]),
            ("TaskId with ExecuteType 1",
             conf(workflows=[wf(execute_type=1, task_ids=("task-a",))]), [("TaskId",)]),
            ("missing Region", conf(options=[o for o in good if o[0] != "Region"]),
             [("Region",)]),
            ("unknown plugin option", conf(options=good + ["BogusOption 1"]),
             [("BogusOption",)]),
            ("unknown Workflow option", conf(workflows=[wf(extra=['Frobnicate "x"'])]),
             [("Frobnicate",)]),
            ("unknown Match option",
             conf(workflows=[wf(matches=[])[:-1] +
                             ['  <Match>', '    Plugin "wedata"', '    Colour "red"',
                              '  </Match>', "</Workflow>"]]),
             [("Colour",)]),
            ("duplicate Workflow", conf(workflows=[wf(), wf()]), [(WF,)]),
            ("bad regex", conf(workflows=[wf(matches=[{"plugin": "/(/"}])]), [("(",)]),
            ("bad Severity", conf(workflows=[wf(matches=[{"severity": "fatal"}])]),
             [("Severity", "fatal")]),
            ("Timeout 0", conf(options=self.options(SecretKey=self.CONFIG_SECRET, Timeout=0)),
             [("Timeout",)]),
            ("unreadable SecretKeyFile",
             conf(options=self.options(SecretKey=None, SecretKeyFile=missing_key_file)),
             [("SecretKeyFile", missing_key_file)]),
            ("Endpoint with a path",
             conf(options=self.options(SecretKey=self.CONFIG_SECRET,
                                       Endpoint=self.standin.url + "/api")),
             [("Endpoint", "/api")]),
            ("missing ProjectId",
             conf(workflows=[[line for line in wf() if "ProjectId" not in line]]),
             [("ProjectId",)]),
            ("no SecretId anywhere", conf(options=self.options(SecretId=None,
                                                               SecretKey=self.CONFIG_SECRET)),
             [("SecretId", "TENCENTCLOUD_SECRET_ID")]),
        ]

    def test_06_config_errors(self):
        self.secrets.add(self.CONFIG_SECRET)
        for label, text, groups in self.bad_config_cases():
            with self.subTest(label):
                c = self.collectd(conf=text, start=False)
                rc = c.run_to_exit(timeout=15)
                errors = c.plugin_errors()
                self.assertNotEqual(rc, 0, "collectd accepted the config (%s)" % label)
                self.assertTrue(errors, "no 'wedata_rerun plugin:' ERROR line\n%s"
                                % c.output_tail())
                good = [e for e in errors
                        if all(any(alt.lower() in e.lower() for alt in group)
                               for group in groups)]
                self.assertTrue(good, "no error line names %r; errors: %r" % (groups, errors))
                for secret in self.secrets:
                    self.assertNotIn(secret, c.output_text())

    def test_06b_good_config_starts(self):
        """Control for test_06: the same base config starts and stops."""
        c = self.collectd(options=self.options(SecretKey=self.CONFIG_SECRET))
        self.secrets.add(self.CONFIG_SECRET)
        self.assertTrue(c.running())
        self.assertEqual(c.plugin_errors(), [])


class TestCredentials(PluginTestCase):

    def test_07_secret_key_file(self):
        key_file = os.path.join(self.tmp, "secret.key")
        with open(key_file, "w") as fh:
            fh.write(SECRET_KEY + "\n")
        os.chmod(key_file, 0o600)
        c = self.collectd(options=self.options(SecretKey=None, SecretKeyFile=key_file))
        self.fire(c, new_run_id())
        (rec,) = self.standin.wait_for_requests(1, answered=True, timeout=15)
        self.assertTrue(rec.signature_ok, rec.auth_message)
        c.wait_counters(WF, {"accepted": 1, "failed": 0})

    def test_07b_credentials_from_environment(self):
        env_id, env_key, env_token = ("AKIDitestFromEnvironment000000000004",
                                      "itestENVsecret/+=0000000000000000004", "env-token-4")
        self.secrets.add(env_key)
        self.standin.add_credential(ws.Credential(env_id, env_key, token=env_token))
        c = self.collectd(options=self.options(SecretId=None, SecretKey=None),
                          env={"TENCENTCLOUD_SECRET_ID": env_id,
                               "TENCENTCLOUD_SECRET_KEY": env_key,
                               "TENCENTCLOUD_SESSION_TOKEN": env_token})
        self.fire(c, new_run_id())
        (rec,) = self.standin.wait_for_requests(1, answered=True, timeout=15)
        self.assertTrue(rec.signature_ok, rec.auth_message)
        self.assertEqual(AUTH_RE.match(rec.header("Authorization")).group("id"), env_id)
        self.assertEqual(rec.header("X-TC-Token"), env_token)
        c.wait_counters(WF, {"accepted": 1, "failed": 0})

    def test_07c_config_key_wins_over_environment(self):
        wrong = "itestWRONGenvKey/+=00000000000000005"
        self.secrets.add(wrong)
        c = self.collectd(env={"TENCENTCLOUD_SECRET_KEY": wrong})
        self.fire(c, new_run_id())
        (rec,) = self.standin.wait_for_requests(1, answered=True, timeout=15)
        self.assertTrue(rec.signature_ok, rec.auth_message)


class TestMetricsAndQueue(PluginTestCase):

    def test_08_counters_zero_before_anything(self):
        c = self.collectd()
        wait_until(lambda: c.metric(WF, "derive", "attempts") is not None, 10,
                   message="csv derive-attempts file", on_fail=c.output_tail)
        c.wait_counters(WF, dict((name, 0) for name in COUNTERS))
        wait_until(lambda: c.metric(None, "queue_length") == 0, 5,
                   message="queue_length gauge 0")
        idents = c.list_metrics()
        self.assertFalse([i for i in idents if "/derive-error-" in i], idents)
        self.assertNotIn("%s/wedata_rerun-%s/response_time-RerunTriggerWorkflowRunAsync"
                         % (harness.HOSTNAME, WF), idents)
        self.assertEqual(self.standin.count(), 0)

    def test_09_match_semantics(self):
        wf_a = self.workflow("wf_a", WORKFLOW_ID, matches=[
            {"plugin": "wedata", "type": "gauge"},
            {"severity": "warning", "host": "/^db-/"}])
        wf_b = self.workflow("wf_b", OTHER_WORKFLOW_ID, matches=[
            {"plugin_instance": "/^etl_/", "type_instance": "failed"}])
        c = self.collectd([wf_a, wf_b])
        ids = dict((k, new_run_id()) for k in range(1, 7))
        after = time.time()
        self.fire(c, ids[1], workflow_id=None, plugin="wedata", type="gauge")
        self.fire(c, ids[2], workflow_id=None, plugin="wedata", type="counter")
        self.fire(c, ids[3], workflow_id=None, plugin="x", severity="warning", host="db-7")
        self.fire(c, ids[4], workflow_id=None, plugin="x", host="db-7")
        self.fire(c, ids[5], workflow_id=None, plugin="y", plugin_instance="etl_daily",
                  type_instance="failed")
        self.fire(c, ids[6], workflow_id=None, plugin="y", plugin_instance="etl_daily",
                  type_instance="ok")
        # Severity defaults to failure: a warning does not match Match 1.
        self.fire(c, new_run_id(), workflow_id=None, plugin="wedata", type="gauge",
                  severity="warning")
        self.standin.wait_for_requests(3, answered=True, timeout=15)
        c.wait_counters("wf_a", {"signals": 2, "attempts": 2, "accepted": 2})
        c.wait_counters("wf_b", {"signals": 1, "attempts": 1, "accepted": 1})
        c.wait_counters("wf_a", {"signals": 2, "attempts": 2}, after=after + 1.0)
        got = sorted((r.body["WorkflowId"], r.execution_id) for r in self.standin.requests())
        self.assertEqual(got, sorted([(WORKFLOW_ID, ids[1]), (WORKFLOW_ID, ids[3]),
                                      (OTHER_WORKFLOW_ID, ids[5])]))

    def test_10_queue_limit_drops(self):
        first = new_run_id()
        self.standin.script(ws.delay(3), execution_id=first)
        c = self.collectd(options=self.options(Workers=1, QueueLimit=1))
        self.fire(c, first)
        self.standin.wait_for_requests(1, timeout=5)      # the worker is busy
        others = [new_run_id() for _ in range(3)]
        for run_id in others:
            self.fire(c, run_id)
        values = c.wait_counters(WF, {"signals": 4}, timeout=5)
        self.assertTrue(values)
        dropped = wait_until(lambda: c.counter(WF, "dropped"), 5,
                             message="dropped counter > 0")
        # One queued item besides the one in flight; whether the in-flight
        # one counts against QueueLimit is not specified, so 2 or 3.
        self.assertIn(dropped, (2.0, 3.0))
        done = 4 - int(dropped)
        c.wait_counters(WF, {"attempts": done, "accepted": done, "dropped": dropped},
                        timeout=15)
        self.assertEqual(self.standin.count(), done)

    def test_11_sigterm_with_request_in_flight(self):
        run_id = new_run_id()
        self.standin.script(ws.delay(4), execution_id=run_id)
        c = self.collectd()
        self.fire(c, run_id)
        self.standin.wait_for_requests(1, timeout=5)
        t0 = time.monotonic()
        rc = c.stop(timeout=12)
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t0, 12)


if __name__ == "__main__":
    unittest.main(verbosity=2)
