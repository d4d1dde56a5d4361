"""The operator's kit for Prometheus and Grafana against the real thing:
collectd with the plugin and collectd's own write_prometheus (on a
loopback port), the stand-in behind the plugin with failures being rerun,
and Debian's Prometheus (on another loopback port) scraping collectd
every second with contrib/prometheus/wedata_rerun.rules.yml loaded.

The test asks Prometheus's HTTP API for every series of the plugin that
this configuration produces (README "Metrics": names, labels, `instance`
= collectd's Hostname through honor_labels), for every recording rule,
for the alerts' health (and the one that must be pending), and for every
expression of contrib/grafana/wedata_rerun.json; each must return data.
Then headless Chromium takes a picture of Prometheus's graph page of
reruns and errors: into the temp dir, or where WEDATA_SCREENSHOT says
(`make screenshot` writes docs/prometheus-graph.png, the README's).

Nothing leaves 127.0.0.1: collectd, the stand-in and Prometheus listen on
it, and Chromium is given a dead loopback proxy and a resolver that knows
no name, so anything it might try elsewhere fails on this machine (its
IPv6 reachability probe, a UDP connect() to a public address, sends no
packet: strace shows no send on that socket).
Without prometheus, chromium or write_prometheus.so the test is skipped,
and fails instead under CI (CI set).
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

import harness  # noqa: E402
from harness import wait_until  # noqa: E402
import wedata_standin as ws  # noqa: E402
from test_integration import (ASYNC, LIST, OTHER_WORKFLOW_ID, PLUGIN_PATH,  # noqa: E402
                              PROJECT_ID, RERUN, VERIFY, WORKFLOW_ID, PluginTestCase,
                              free_port, new_run_id, wf_opts)

REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
RULES = os.path.join(REPO_ROOT, "contrib", "prometheus", "wedata_rerun.rules.yml")
DASHBOARD = os.path.join(REPO_ROOT, "contrib", "grafana", "wedata_rerun.json")
PROMETHEUS = "/usr/bin/prometheus"
CHROMIUM = "/usr/bin/chromium"
WRITE_PROMETHEUS = "/usr/lib/collectd/write_prometheus.so"
THIRD_WORKFLOW_ID = "9a8b7c6d-1111-4e2f-9a3b-4c5d6e7f8091"
ACTIONS = (RERUN, VERIFY, LIST, ASYNC)
PERMANENT = "InvalidParameter.InvalidJobState"
THROTTLE = "RequestLimitExceeded"
# How Grafana's variables are replaced before asking Prometheus: every
# instance and workflow, a rate window of a minute, a range of 5 minutes.
GRAFANA_VARS = (("$__rate_interval", "1m"), ("$__interval", "15s"), ("$__range", "5m"),
                ("$instance", ".*"), ("$workflow", ".*"))
# The picture: reruns sent per workflow, and errors by workflow and code.
GRAPH_EXPRS = (
    'sum by (wedata_rerun) (rate(collectd_wedata_rerun_derive_total{type="attempts"}[1m]))',
    'sum by (wedata_rerun, type) (rate(collectd_wedata_rerun_derive_total'
    '{type=~"error-.*"}[1m]))',
)
# make screenshot: feed failures this much longer before the picture, so
# that it shows a few minutes (the test alone shows a few seconds).
EXTRA_SECONDS = float(os.environ.get("WEDATA_SCREENSHOT_SECONDS") or 0)


# Straight to 127.0.0.1, whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=5.0):
    with _OPENER.open(url, timeout=timeout) as resp:
        return resp.read().decode("utf-8", "replace")


class Prometheus:
    """Debian's prometheus on 127.0.0.1:<port>, its TSDB and log in `root`."""

    def __init__(self, root, target, rules):
        self.root = root
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.config = os.path.join(root, "prometheus.yml")
        self.log_path = os.path.join(root, "prometheus.log")
        with open(self.config, "w") as fh:
            fh.write("global:\n"
                     "  scrape_interval: 1s\n"
                     "  scrape_timeout: 1s\n"
                     "  evaluation_interval: 1s\n"
                     "rule_files:\n"
                     "  - %s\n"
                     "scrape_configs:\n"
                     "  - job_name: collectd\n"
                     "    honor_labels: true\n"
                     "    static_configs:\n"
                     "      - targets: ['%s']\n" % (json.dumps(rules), target))
        self.proc = None
        self._log = None

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + self.config,
             "--storage.tsdb.path=" + os.path.join(self.root, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.root, start_new_session=True)
        wait_until(self.ready, 30, interval=0.2, message="prometheus ready",
                   on_fail=self.log_tail)
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise harness.HarnessError("prometheus exited with %s\n%s"
                                       % (self.proc.returncode, self.log_tail()))
        try:
            return "Ready" in http_get(self.url + "/-/ready", 2)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as fh:
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        return "---- prometheus log tail ----\n" + "\n".join(text.splitlines()[-lines:])

    def api(self, path, **params):
        url = self.url + "/api/v1/" + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body = json.loads(http_get(url))
        if body.get("status") != "success":
            raise AssertionError("%s: %r" % (url, body))
        return body["data"]

    def query(self, expr):
        """The instant vector's samples: [(labels, value)]."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise AssertionError("%s: %s, not a vector" % (expr, data["resultType"]))
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]


class TestPrometheus(PluginTestCase):

    def setUp(self):
        missing = [path for path in (PROMETHEUS, CHROMIUM, WRITE_PROMETHEUS)
                   if not os.path.exists(path)]
        if missing:
            text = "missing %s (make deps installs them)" % ", ".join(missing)
            if os.environ.get("CI"):
                self.fail(text)
            self.skipTest(text)
        super().setUp()

    # -- the plugin's side ---------------------------------------------------

    def start_collectd(self, port):
        """Three workflows: daily_sales (reruns by notification, some
        refused for good, some throttled once), nightly_etl (TrackAsync:
        followed to SUCCESS, one given up after its async job FAILed) and
        hourly_report (Poll, VerifyBeforeRerun)."""
        fast = dict(RetryInterval=0.5, MaxRetryInterval=1)
        workflows = [
            self.workflow("daily_sales", WORKFLOW_ID, extra=wf_opts(**fast)),
            self.workflow("nightly_etl", OTHER_WORKFLOW_ID,
                          extra=wf_opts(TrackAsync=True, MaxAttempts=2, **fast)),
            self.workflow("hourly_report", THIRD_WORKFLOW_ID, matches=[],
                          extra=wf_opts(Poll=True, VerifyBeforeRerun=True, **fast)),
        ]
        options = self.options(AsyncPollInterval=0.2, PollInterval=2)
        conf = harness.plugin_block(options, workflows)
        c = harness.Collectd(
            PLUGIN_PATH, conf, sink_url=self.sink.url, prefix="wedata-itest-collectd-",
            extra_conf="LoadPlugin write_prometheus\n<Plugin write_prometheus>\n"
                       '  Host "127.0.0.1"\n  Port "%d"\n</Plugin>\n' % port)
        self.collectds.append(c)
        self.addCleanup(c.cleanup)
        c.start()
        return c

    def feed(self, c, stop, errors, limit=90):
        """Fires a failure a second, by turns of daily_sales and nightly_etl,
        until stop is set (or `limit` failures): every third of daily_sales
        is refused for good, every fifth throttled once; each of
        nightly_etl recovers after its rerun.  What goes wrong lands in
        errors."""
        try:
            self._feed(c, stop, limit)
        except Exception as exc:   # noqa: BLE001 (reported by the test)
            errors.append(exc)

    def _feed(self, c, stop, limit):
        for n in range(limit):
            if stop.wait(0.0 if n == 0 else 1.0):
                return
            run_id = new_run_id()
            if n % 2 == 0:
                k = n // 2
                if k % 3 == 1:
                    self.standin.script(ws.error(PERMANENT, "the run cannot be rerun now"),
                                        execution_id=run_id, action=RERUN)
                elif k % 5 == 2:
                    self.standin.script(ws.error(THROTTLE, "slow down"), ws.ok(),
                                        execution_id=run_id, action=RERUN)
                self.fire(c, run_id, workflow_id=WORKFLOW_ID)
            else:
                self.standin.rerun_outcomes(run_id, [["RUNNING", "SUCCESS"]])
                self.fire(c, run_id, workflow_id=OTHER_WORKFLOW_ID)

    # -- what Prometheus must show -------------------------------------------

    @staticmethod
    def plugin_series():
        """Selectors of every series this configuration must produce."""
        out = []
        common = ["signals", "attempts", "accepted", "failed", "retries", "gave_up",
                  "dropped", "evicted", "throttled", "held"] + [
            "skipped-" + r for r in ("bad_execution_id", "no_failed_run", "duplicate",
                                     "exhausted", "permanent_error", "retries_exhausted",
                                     "table_full")]
        per_workflow = {
            "daily_sales": common + ["error-" + PERMANENT, "error-" + THROTTLE],
            "nightly_etl": common + ["recovered", "async-SUCCESS", "async-FAIL",
                                     "async-PART_SUCCESS", "async-TIMEOUT"],
            "hourly_report": common + ["polled", "skipped-not_failed",
                                       "skipped-not_rerunnable"],
        }
        for wf, names in per_workflow.items():
            for name in names:
                out.append('collectd_wedata_rerun_derive_total{wedata_rerun="%s",type="%s"}'
                           % (wf, name))
        out.append('collectd_wedata_rerun_duration_seconds{wedata_rerun="nightly_etl",'
                   'type="time_to_recover"}')
        for action in ACTIONS:
            for outcome in harness.OUTCOMES:
                out.append('collectd_wedata_rerun_api_http_requests_total'
                           '{wedata_rerun_api="%s",type="%s"}' % (action, outcome))
            for which in ("avg", "max"):
                out.append('collectd_wedata_rerun_api_response_time'
                           '{wedata_rerun_api="%s",type="%s"}' % (action, which))
        out.append("collectd_wedata_rerun_global_queue_length")
        for name in ("breaker_open", "credentials_ok", "rate_limit-current"):
            out.append('collectd_wedata_rerun_global_gauge{wedata_rerun_global="%s"}' % name)
        return out

    # Documented, but only with what this configuration does not have (a
    # clock that is off, the CVM role, a changing credential source,
    # DryRun, MaxRerunsPerHour), or not for that workflow.
    ABSENT = ('collectd_wedata_rerun_global_gauge{wedata_rerun_global="clock_offset"}',
              'collectd_wedata_rerun_global_gauge{wedata_rerun_global="credentials-expires_in"}',
              'collectd_wedata_rerun_global_derive_total'
              '{wedata_rerun_global="credential_refreshes"}',
              'collectd_wedata_rerun_derive_total{type=~"would_rerun|skipped-budget"}',
              # Only with Poll, TrackAsync, VerifyBeforeRerun (README's "only with").
              'collectd_wedata_rerun_derive_total{wedata_rerun!="hourly_report",type="polled"}',
              'collectd_wedata_rerun_derive_total{wedata_rerun!="nightly_etl",'
              'type=~"recovered|async-.*"}',
              'collectd_wedata_rerun_duration_seconds{wedata_rerun!="nightly_etl"}',
              'collectd_wedata_rerun_derive_total{wedata_rerun!="hourly_report",'
              'type=~"skipped-not_(failed|rerunnable)"}')

    @staticmethod
    def dashboard_exprs():
        """[(panel title, expression with Grafana's variables replaced)]."""
        with open(DASHBOARD) as fh:
            dash = json.load(fh)
        out = []
        for panel in dash["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for var, value in GRAFANA_VARS:
                    expr = expr.replace(var, value)
                out.append((panel["title"], expr))
        return out

    def check_dashboard_shape(self):
        """Importable: a Prometheus datasource variable that every panel and
        query uses, the workflow and instance variables, unique panel ids."""
        with open(DASHBOARD) as fh:
            dash = json.load(fh)
        self.assertGreaterEqual(dash["schemaVersion"], 36)
        variables = dict((v["name"], v) for v in dash["templating"]["list"])
        self.assertEqual((variables["DS_PROMETHEUS"]["type"],
                          variables["DS_PROMETHEUS"]["query"]), ("datasource", "prometheus"))
        self.assertIn("wedata_rerun)", variables["workflow"]["definition"])
        self.assertIn("instance", variables)
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), ids)
        for panel in dash["panels"]:
            if panel["type"] == "row":
                continue
            self.assertEqual(panel["datasource"]["uid"], "${DS_PROMETHEUS}", panel["title"])
            self.assertTrue(panel["targets"], panel["title"])
            for target in panel["targets"]:
                self.assertEqual(target["datasource"]["uid"], "${DS_PROMETHEUS}")
        # Nothing left to substitute.
        for title, expr in self.dashboard_exprs():
            self.assertNotIn("$", expr, title)

    def missing(self, prom, exprs):
        """The expressions that return no sample (now)."""
        return [e for e in exprs if not prom.query(e)]

    # -- the test ------------------------------------------------------------

    def test_94_prometheus_rules_dashboard_and_picture(self):
        started = time.monotonic()
        self.check_dashboard_shape()
        port = free_port()
        # hourly_report: one FAILED run for its poll.
        self.standin.add_run(PROJECT_ID, THIRD_WORKFLOW_ID, new_run_id(), state="FAILED",
                             create_time=time.time() - 60)
        # nightly_etl: one run fails again after its first rerun and
        # recovers after the second; one whose async job ends FAIL and
        # which fails after both reruns: given up (MaxAttempts 2).
        comeback, lost = new_run_id(), new_run_id()
        self.standin.rerun_outcomes(comeback, [["RUNNING", "FAILED"], ["RUNNING", "SUCCESS"]])
        self.standin.async_plan(["RUNNING", "FAIL"], error_desc="task failed",
                                execution_id=lost)
        self.standin.rerun_outcomes(lost, [["FAILED"], ["FAILED"]])
        c = self.start_collectd(port)
        self.assertTrue(c.log_messages(contains="write_prometheus plugin: Listening on "
                                       "[127.0.0.1]:%d" % port) or
                        "Listening on [127.0.0.1]:%d" % port in c.output_text(),
                        c.output_tail())
        # collectd's own page first: the names Prometheus will store.
        metrics = wait_until(
            lambda: (lambda t: "collectd_wedata_rerun_derive_total" in t and t)(
                http_get("http://127.0.0.1:%d/metrics" % port)),
            15, interval=0.5, message="write_prometheus's page", on_fail=c.output_tail)
        self.assertIn('collectd_wedata_rerun_global_queue_length{instance="itest"}', metrics)

        prom = Prometheus(self.tmp, "127.0.0.1:%d" % port, RULES)
        self.addCleanup(prom.stop)
        prom.start()

        def target_up():
            targets = prom.api("targets")["activeTargets"]
            return targets and all(t["health"] == "up" for t in targets)
        wait_until(target_up, 20, interval=0.5, message="the collectd target up",
                   on_fail=prom.log_tail)
        # Prometheus must see the counters at 0 before anything happens:
        # increase() counts only what happens between two of its samples.
        wait_until(lambda: prom.query('collectd_wedata_rerun_derive_total{type="gave_up"}'),
                   10, interval=0.2, message="the first scrape", on_fail=prom.log_tail)
        self.fire(c, comeback, workflow_id=OTHER_WORKFLOW_ID)
        self.fire(c, lost, workflow_id=OTHER_WORKFLOW_ID)
        stop = threading.Event()
        feed_errors = []
        feeder = threading.Thread(target=self.feed, args=(c, stop, feed_errors),
                                  kwargs={"limit": 90 + int(EXTRA_SECONDS)}, daemon=True)
        feeder.start()
        self.addCleanup(feeder.join, 10)
        self.addCleanup(stop.set)

        series = self.plugin_series()
        recent = ["last_over_time(%s[1m])" % s for s in series]
        # What the rules file holds, and what Prometheus loaded from it.
        with open(RULES) as fh:
            text = fh.read()
        records = re.findall(r"(?m)^\s*- record:\s*(\S+)", text)
        alerts = re.findall(r"(?m)^\s*- alert:\s*(\S+)", text)
        self.assertGreaterEqual(len(records), 10)
        self.assertGreaterEqual(len(alerts), 7)
        panels = self.dashboard_exprs()
        # A gave_up and a recovery must have happened, then every query
        # must return data at the same time (rates need two scrapes).
        c.wait_counters("nightly_etl", {"gave_up": 1}, timeout=30)
        self.wait_at_least(c, "nightly_etl", "recovered", 2, timeout=30)
        self.wait_at_least(c, "daily_sales", "throttled", 1, timeout=30)

        def everything():
            return not (self.missing(prom, recent) or self.missing(prom, records) or
                        self.missing(prom, [e for _, e in panels]))
        try:
            wait_until(everything, 45, interval=1.0, message="every query to return data")
        except harness.HarnessError:
            self.fail("no data for:\n  series: %r\n  records: %r\n  panels: %r\n%s"
                      % (self.missing(prom, recent), self.missing(prom, records),
                         [(t, e) for t, e in panels if not prom.query(e)], prom.log_tail()))

        # The labels: instance is collectd's Hostname (honor_labels).
        for labels, _ in prom.query("collectd_wedata_rerun_global_queue_length"):
            self.assertEqual((labels["instance"], labels["job"]), (harness.HOSTNAME, "collectd"))
        for sel in self.ABSENT:
            self.assertEqual(prom.query("last_over_time(%s[5m])" % sel), [], sel)
        # Values that say the rules compute what they claim.
        # daily_sales: a third of its reruns are refused, the rest accepted.
        def ratio(name):
            return dict((labels["wedata_rerun"], v) for labels, v in prom.query(
                "wedata_rerun:%s:ratio15m" % name)).get("daily_sales")
        wait_until(lambda: 0.1 < (ratio("error") or 0) < 0.6 and
                   0.4 < (ratio("acceptance") or 0) < 0.9, 15, interval=0.5,
                   message=lambda: "error ratio of daily_sales in (0.1, 0.6), acceptance "
                   "in (0.4, 0.9); now %r, %r" % (ratio("error"), ratio("acceptance")))
        (gave_up,) = prom.query('wedata_rerun:gave_up:increase1h{wedata_rerun="nightly_etl"}')
        self.assertGreater(gave_up[1], 0)

        # Every rule loaded and evaluated without error; the gave_up alert
        # is on its way (pending for its `for:`, or firing), the ones about
        # faults this run does not have are not.
        groups = prom.api("rules")["groups"]
        loaded = [r for g in groups for r in g["rules"]]
        self.assertEqual(sorted(r["name"] for r in loaded if r["type"] == "recording"),
                         sorted(records))
        self.assertEqual(sorted(r["name"] for r in loaded if r["type"] == "alerting"),
                         sorted(alerts))
        for rule in loaded:
            self.assertEqual(rule["health"], "ok", rule)
        wait_until(lambda: prom.query('ALERTS{alertname="WedataRerunGaveUp",'
                                      'wedata_rerun="nightly_etl"}'), 10, interval=0.5,
                   message="WedataRerunGaveUp pending or firing")
        active = set(l["alertname"] for l, _ in prom.query("ALERTS"))
        self.assertFalse(active & {"WedataRerunCredentialsRejected", "WedataRerunBreakerOpen",
                                   "WedataRerunNoSuccessfulRequest",
                                   "WedataRerunSignalsDropped"}, active)

        if EXTRA_SECONDS:
            time.sleep(EXTRA_SECONDS)
            self.assertEqual(feed_errors, [])
        self.picture(prom)
        stop.set()
        feeder.join(10)
        self.assertEqual(feed_errors, [])
        self.assertEqual(c.plugin_errors(), [])
        sys.stderr.write("[prometheus test: %.1f s, %d series, %d records, %d alerts, "
                         "%d dashboard queries] " % (time.monotonic() - started, len(series),
                                                     len(records), len(alerts), len(panels)))

    def picture(self, prom):
        """Prometheus's graph page of reruns and errors, as Chromium renders
        it: the legend names the workflows, and the PNG is a real picture."""
        for expr in GRAPH_EXPRS:
            self.assertTrue(prom.query(expr), expr)
        params = []
        for n, expr in enumerate(GRAPH_EXPRS):
            params += [("g%d.expr" % n, expr), ("g%d.tab" % n, "0"),
                       ("g%d.range_input" % n, "%dm" % (1 + EXTRA_SECONDS // 60))]
        url = prom.url + "/classic/graph?" + urllib.parse.urlencode(params)
        out = os.environ.get("WEDATA_SCREENSHOT") or os.path.join(self.tmp, "graph.png")
        profile = os.path.join(self.tmp, "chromium")
        base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--user-data-dir=" + profile, "--no-first-run", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-extensions", "--no-pings",
                "--disable-domain-reliability", "--metrics-recording-only",
                # Anything but 127.0.0.1 goes nowhere.
                "--proxy-server=http://127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                "--hide-scrollbars", "--window-size=1400,1560",
                "--virtual-time-budget=15000"]
        dom = subprocess.run(base + ["--dump-dom", url], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=90)
        page = dom.stdout.decode("utf-8", "replace")
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        # The legend of each graph: series of the plugin, drawn.
        self.assertIn('wedata_rerun="daily_sales"', page.replace("&quot;", '"'))
        self.assertIn('type="error-%s"' % PERMANENT, page.replace("&quot;", '"'))
        if os.path.exists(out):
            os.unlink(out)
        shot = subprocess.run(base + ["--screenshot=" + out, url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=90)
        self.assertEqual(shot.returncode, 0, shot.stderr[-2000:])
        with open(out, "rb") as fh:
            png = fh.read()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        self.assertEqual((width, height), (1400, 1560))
        # A blank page compresses to a few KB; lines, legend and axes don't.
        self.assertGreater(len(png), 40000, "%s: %d bytes" % (out, len(png)))


def load_tests(loader, standard_tests, pattern):
    suite = unittest.TestSuite()
    suite.addTests(loader.loadTestsFromTestCase(TestPrometheus))
    return suite
