"""The README's set-ups, as shipped in conf.d/examples/, each run by the
real collectd against the stand-in: poll-only, an exec plugin script that
sends PUTNOTIF with the run id, and collectd's threshold plugin. The test
changes only what must point at the stand-in (Endpoint, CACert, the key)
and the paths of the spool file and the script; everything else is the
example as an operator would copy it.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

import harness  # noqa: E402
from harness import Collectd, wait_until  # noqa: E402
from test_integration import (PLUGIN_PATH, SECRET_ID, SECRET_KEY,  # noqa: E402
                              PluginTestCase, new_run_id)

EXAMPLES = os.path.join(HERE, "..", "..", "conf.d", "examples")
# The ids the examples carry.
PROJECT = "1460947878944567296"
WORKFLOW = "0fae8078-a7a7-4b67-afd1-8bf18e068dda"
WF = "nightly_etl"
RERUN = "RerunTriggerWorkflowRunAsync"


class TestSetups(PluginTestCase):

    def example(self, name, replace=()):
        """The example's text split into what the harness puts before its
        own LoadPlugin wedata_rerun (other plugins) and the plugin's block,
        pointed at the stand-in."""
        with open(os.path.join(EXAMPLES, name)) as fh:
            text = fh.read()
        for old, new in replace:
            self.assertIn(old, text)
            text = text.replace(old, new)
        text = re.sub(r"(?m)^LoadPlugin wedata_rerun\n", "", text)
        m = re.search(r"(?ms)^<Plugin wedata_rerun>\n.*?^</Plugin>\n", text)
        self.assertIsNotNone(m, name)
        block, others = m.group(0), text[:m.start()] + text[m.end():]
        block = re.sub(r'(?m)^  SecretId .*\n', '  SecretId "%s"\n' % SECRET_ID, block)
        block = re.sub(r'(?m)^  SecretKeyFile .*\n', '  SecretKey "%s"\n' % SECRET_KEY, block)
        block = block.replace("<Plugin wedata_rerun>\n", "<Plugin wedata_rerun>\n"
                              '  Endpoint "%s"\n  CACert "%s"\n'
                              % (self.standin.url, self.standin.ca_file), 1)
        return others, block

    def start(self, name, replace=()):
        others, block = self.example(name, replace)
        c = Collectd(PLUGIN_PATH, block, sink_url=self.sink.url, extra_conf=others,
                     prefix="wedata-itest-collectd-")
        self.collectds.append(c)
        self.addCleanup(c.cleanup)
        c.start()
        return c

    def shared_dir(self):
        """A folder the exec plugin's user (nobody) can read and run from."""
        d = tempfile.mkdtemp(prefix="wedata-setup-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        return d

    def test_90_poll_only(self):
        """poll-only.conf: two FAILED runs of the workflow, no notification
        at all: both rerun once, from the first poll after the start."""
        runs = [new_run_id(), new_run_id()]
        for run_id in runs:
            self.standin.add_run(PROJECT, WORKFLOW, run_id, state="FAILED",
                                 create_time=time.time() - 60)
        c = self.start("poll-only.conf")
        c.wait_counters(WF, {"accepted": 2, "polled": 2}, timeout=20)
        for run_id in runs:
            self.assertEqual(self.standin.get_run(run_id).rerun_times, 1)
        self.assertEqual(c.plugin_errors(), [])

    def test_91_exec_script(self):
        """exec-putnotif.conf with wedata-failed-runs.sh: a line appended to
        the spool file becomes a PUTNOTIF with the run id, and that run is
        rerun once; a line with quotes in it is not sent."""
        d = self.shared_dir()
        script = os.path.join(d, "wedata-failed-runs.sh")
        shutil.copy(os.path.join(EXAMPLES, "wedata-failed-runs.sh"), script)
        os.chmod(script, 0o755)
        spool = os.path.join(d, "failed")
        open(spool, "w").close()
        os.chmod(spool, 0o644)
        c = self.start("exec-putnotif.conf", replace=[
            ("/usr/local/bin/wedata-failed-runs.sh", script),
            ("/var/spool/wedata-rerun/failed", spool)])
        run_id = new_run_id()
        # The script's tail starts at the end of the file: give it a moment.
        time.sleep(1.0)
        with open(spool, "a") as fh:
            fh.write('%s bad"id\n' % WORKFLOW)
            fh.write("%s %s\n" % (WORKFLOW, run_id))
        c.wait_counters(WF, {"signals": 1, "accepted": 1}, timeout=20)
        (rec,) = self.rerun_requests()
        self.assertEqual(rec.execution_id, run_id)
        self.assertEqual(self.standin.get_run(run_id).rerun_times, 1)
        self.assertEqual(c.plugin_errors(), [])

    def test_92_threshold(self):
        """threshold.conf: a check (here an exec script) dispatches
        gauge-failed_runs 1; the threshold plugin raises a FAILURE without a
        run id; the plugin reruns the workflow's newest FAILED run."""
        old, newest = new_run_id(), new_run_id()
        self.standin.add_run(PROJECT, WORKFLOW, old, state="FAILED",
                             create_time=time.time() - 600)
        self.standin.add_run(PROJECT, WORKFLOW, newest, state="FAILED",
                             create_time=time.time() - 60)
        d = self.shared_dir()
        check = os.path.join(d, "failed-runs-check.sh")
        with open(check, "w") as fh:
            fh.write('#!/bin/sh\nwhile :; do\n'
                     '  echo "PUTVAL \\"%s/wedata/gauge-failed_runs\\" interval=1 N:1"\n'
                     '  sleep 1\ndone\n' % harness.HOSTNAME)
        os.chmod(check, 0o755)
        c = self.start("threshold.conf", replace=[
            ("LoadPlugin threshold\n",
             'LoadPlugin exec\n<Plugin exec>\n  Exec "nobody" "%s"\n</Plugin>\n'
             "LoadPlugin threshold\n" % check)])
        wait_until(lambda: self.rerun_requests(), 30, message="a rerun",
                   on_fail=c.output_tail)
        c.wait_counters(WF, {"accepted": 1}, timeout=10)
        (rec,) = self.rerun_requests()
        self.assertEqual(rec.execution_id, newest)
        self.assertEqual(self.standin.get_run(old).rerun_times, 0)
        self.assertEqual(c.plugin_errors(), [])

    def test_93_debian_package(self):
        """make deb's package installs with apt-get, puts the plugin where
        collectd looks by default, the snippet as a conffile and the man
        page; the system's collectd loads the plugin from there and a
        rerun goes out; the packaged state tool lists that run; the
        contrib files and the picture are in the docs; purging removes it
        all."""
        debs = glob.glob(os.path.join(HERE, "..", "..", "build",
                                      "collectd-wedata-rerun_*.deb"))
        if os.geteuid() != 0:
            self.skipTest("installing a package needs root")
        self.assertEqual(len(debs), 1, "make deb first: %r" % debs)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

        def apt(*args):
            out = subprocess.run(["apt-get", "-y", "-q"] + list(args), env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, timeout=300)
            self.assertEqual(out.returncode, 0, out.stdout[-3000:])

        apt("install", os.path.abspath(debs[0]))
        self.addCleanup(subprocess.run, ["apt-get", "-y", "-q", "purge",
                                         "collectd-wedata-rerun"], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Conffiles}",
                                 "collectd-wedata-rerun"], stdout=subprocess.PIPE,
                                text=True).stdout
        self.assertIn("install ok installed", status)
        self.assertIn("/etc/collectd/collectd.conf.d/wedata_rerun.conf", status)
        self.assertTrue(os.path.isfile("/usr/lib/collectd/wedata_rerun.so"))
        man = subprocess.run(["man", "-w", "5", "collectd-wedata_rerun"],
                             stdout=subprocess.PIPE, text=True).stdout
        self.assertIn("collectd-wedata_rerun.5", man)

        # collectd's own PluginDir: no copy of the build's plugin.
        _, block = self.example("poll-only.conf")
        c = Collectd(PLUGIN_PATH, "", sink_url=self.sink.url, load_plugin=False,
                     extra_conf="LoadPlugin wedata_rerun\n" + block,
                     prefix="wedata-itest-collectd-")
        self.collectds.append(c)
        self.addCleanup(c.cleanup)
        run_id = new_run_id()
        self.standin.add_run(PROJECT, WORKFLOW, run_id, state="FAILED",
                             create_time=time.time() - 60)
        c.start()
        self.assertTrue(c.log_messages("info", 'plugin "wedata_rerun" successfully loaded'),
                        c.output_tail())
        c.wait_counters(WF, {"accepted": 1}, timeout=20)
        self.assertEqual(c.stop(), 0)
        # The package's state tool reads what that collectd remembered.
        tool = subprocess.run(["/usr/bin/wedata-rerun-state", "-f",
                               os.path.join(c.dir, "wedata_rerun.state"), "list"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(tool.returncode, 0, tool.stderr)
        self.assertIn(run_id, tool.stdout)
        self.assertIn("wedata-rerun-state.1", subprocess.run(
            ["man", "-w", "1", "wedata-rerun-state"], stdout=subprocess.PIPE,
            text=True).stdout)
        doc = "/usr/share/doc/collectd-wedata-rerun/"
        for path in ("contrib/prometheus/wedata_rerun.rules.yml",
                     "contrib/grafana/wedata_rerun.json", "docs/prometheus-graph.png"):
            self.assertTrue(os.path.isfile(doc + path), path)
        apt("purge", "collectd-wedata-rerun")
        self.assertFalse(os.path.exists("/usr/bin/wedata-rerun-state"))
        self.assertFalse(os.path.exists("/usr/lib/collectd/wedata_rerun.so"))
        self.assertFalse(os.path.exists("/etc/collectd/collectd.conf.d/wedata_rerun.conf"))


def load_tests(loader, standard_tests, pattern):
    suite = unittest.TestSuite()
    suite.addTests(loader.loadTestsFromTestCase(TestSetups))
    return suite
