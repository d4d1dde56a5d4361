"""Issue 13, the state tool: wedata-rerun-state (built beside the plugin)
on the state of a real collectd with the plugin, against the stand-in.
Run through run_tests.py like test_integration, whose PluginTestCase
(stand-in, sink, collectd daemons, the secrets check at tearDown) it uses.

One collectd reruns two failures; one of them fails again and waits for
its next attempt (RetryInterval 300 s, with jitter). While collectd runs, list and show
(text and --json) show both runs as the state holds them, and forget is
refused (exit status 3, the holder's pid named) without touching a file.
Once collectd stopped, forget removes the run; a restarted collectd has
only the other run, and takes a new failure of the forgotten one as a new
failure: it reruns it at once.
"""

import glob
import json
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

from harness import wait_until  # noqa: E402
from test_integration import (PLUGIN_PATH, WF, PluginTestCase, new_run_id,  # noqa: E402
                              wf_opts)

TOOL = os.environ.get("WEDATA_STATE_TOOL",
                      os.path.join(os.path.dirname(PLUGIN_PATH), "wedata-rerun-state"))
ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"


class TestStateTool(PluginTestCase):

    def tool(self, state, *args):
        if not os.path.isfile(TOOL):
            self.fail("%s is missing: run make first" % TOOL)
        return subprocess.run([TOOL, "-f", state] + list(args), capture_output=True,
                              text=True, timeout=30)

    def list_rows(self, state):
        """list's rows as {run id: [cells]}, after checking its header."""
        p = self.tool(state, "list")
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["WORKFLOW", "RUN", "STATE", "ATTEMPTS", "LAST",
                                            "ASYNCID", "LAST", "ERROR", "NEXT", "ATTEMPT"])
        return dict((line.split()[1], line.split(None, 6)) for line in lines[1:])

    @staticmethod
    def files(state):
        out = {}
        for path in sorted(glob.glob(glob.escape(state) + "*")):
            with open(path, "rb") as fh:
                out[os.path.basename(path)] = fh.read()
        return out

    def test_state_tool(self):
        again, done = new_run_id(), new_run_id()
        c = self.collectd([self.workflow(extra=wf_opts(RetryInterval=300,
                                                       MaxRetryInterval=600))])
        state = c.default_state_file
        self.fire(c, again)
        self.fire(c, done)
        c.wait_counters(WF, {"accepted": 2}, timeout=15)
        async_again = self.rerun_requests(again)[0].async_id
        async_done = self.rerun_requests(done)[0].async_id
        self.assertTrue(async_again and async_done)
        # `again` fails again: its next attempt is due 300 s after the first.
        self.standin.update_run(again, state="FAILED")
        self.fire(c, again)
        wait_until(lambda: self.list_rows(state).get(again, [""] * 3)[2] == "scheduled",
                   10, message="list to show the run scheduled", on_fail=c.output_tail)

        # list while collectd runs: both runs, with their AsyncIds.
        rows = self.list_rows(state)
        self.assertEqual(set(rows), {again, done})
        wf, run, st, attempts, last_async, last_error, nxt = rows[again]
        self.assertEqual((wf, run, st, attempts, last_async, last_error),
                         (WF, again, "scheduled", "1", async_again, "-"))
        m = re.fullmatch(r"(%s) \(in (\d+) s\)" % ISO, nxt)
        self.assertIsNotNone(m, nxt)
        # The backoff: 300 s and up to as much again of jitter, at most 600.
        self.assertTrue(290 <= int(m.group(2)) <= 600, nxt)
        self.assertEqual(rows[done][2:], ["idle", "1", async_done, "-", "-"])

        p = self.tool(state, "--json", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        runs = {r["execution_id"]: r for r in json.loads(p.stdout)}
        self.assertEqual(runs[again]["last_async_id"], async_again)
        self.assertEqual(runs[again]["state"], "scheduled")
        self.assertEqual(runs[again]["next_at"][:19] + "Z", m.group(1))
        self.assertAlmostEqual(runs[again]["next_at_ms"] / 1000.0,
                               time.time() + runs[again]["next_at_in_s"], delta=5)
        self.assertIsNone(runs[done]["next_at_ms"])
        self.assertIsNone(runs[done]["last_error"])

        # show, text and JSON.
        p = self.tool(state, "show", again)
        self.assertEqual(p.returncode, 0, p.stderr)
        shown = dict(line.split(": ", 1) for line in p.stdout.splitlines())
        self.assertEqual(shown["workflow"], WF)
        self.assertEqual(shown["state"], "scheduled")
        self.assertEqual(shown["last_async_id"], async_again)
        self.assertEqual(shown["attempts"], "1")
        self.assertEqual(shown["tries"], "2")
        self.assertEqual(shown["had_accepted"], "true")
        self.assertRegex(shown["first_signal"], r"^\d{4}-.*Z \(\d+ s ago\)$")
        p = self.tool(state, "show", "--json", again)
        self.assertEqual(p.returncode, 0, p.stderr)
        obj = json.loads(p.stdout)
        self.assertEqual((obj["execution_id"], obj["last_async_id"], obj["tries"]),
                         (again, async_again, 2))
        self.assertLess(abs(obj["first_signal_ms"] / 1000.0 - time.time()), 60)
        p = self.tool(state, "show", "no-such-run")
        self.assertEqual(p.returncode, 1)
        self.assertIn('no run "no-such-run"', p.stderr)

        # forget while collectd runs: refused, and no file changes.
        before = self.files(state)
        p = self.tool(state, "forget", again)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(p.stderr, "wedata-rerun-state: %s is in use by process %d "
                         "(collectd): stop collectd first\n" % (state, c.proc.pid))
        self.assertEqual(p.stdout, "")
        self.assertEqual(self.files(state), before)

        # Stopped: forget works, and only that run is gone.
        self.assertEqual(c.stop(), 0)
        p = self.tool(state, "forget", again)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        self.assertEqual(p.stdout, "forgot run %s of workflow %s\n" % (again, WF))
        self.assertEqual(set(self.list_rows(state)), {done})
        self.assertFalse(os.path.exists(state + ".journal.next"))

        # A restarted collectd has only the other run; a new failure of the
        # forgotten one is a new failure, rerun at once (remembered, it
        # would wait for its schedule: a duplicate).
        c.restart()
        self.assertEqual(len(self.info_lines_with(c, "restored 1 run(s)")), 1,
                         c.output_tail())
        self.assertEqual(set(self.list_rows(state)), {done})
        self.standin.update_run(again, state="FAILED")
        self.fire(c, again)
        wait_until(lambda: len(self.rerun_requests(again)) == 2, 10,
                   message="the forgotten run rerun at once", on_fail=c.output_tail)
        rows = self.list_rows(state)
        self.assertEqual(rows[again][2:4], ["idle", "1"])
        self.assertEqual(rows[again][4], self.rerun_requests(again)[1].async_id)

    def test_state_tool_errors(self):
        """Without collectd: bad usage (2), no state file, a newer version,
        a corrupt one (1, naming the file and the reason); none is
        written to, and forget makes no lock file for a missing state."""
        state = os.path.join(self.tmp, "wedata_rerun.state")
        for args in ([], ["lisst"], ["show"], ["list", "extra"], ["--bogus", "list"]):
            p = self.tool(state, *args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("usage: wedata-rerun-state", p.stderr)
            self.assertEqual(p.stdout, "")
        for args in (["list"], ["show", "r"], ["forget", "r"]):
            p = self.tool(state, *args)
            self.assertEqual((p.returncode, p.stderr), (
                1, "wedata-rerun-state: no state file %s (see -f)\n" % state))
        self.assertEqual(os.listdir(self.tmp), ["certs"])
        newer = b'{"version":3,"kind":"snapshot","saved_ms":1,"journal":1}\n'
        with open(state, "wb") as fh:
            fh.write(newer)
        for args in (["list"], ["forget", "r"]):
            p = self.tool(state, *args)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertEqual(p.stderr, "wedata-rerun-state: %s: written by a newer version of "
                             "the plugin (state version 3, this one reads up to 2)\n" % state)
        with open(state, "rb") as fh:
            self.assertEqual(fh.read(), newer)
        with open(state, "wb") as fh:
            fh.write(b'{"version":2,"kind":"snapshot","saved_ms":1,"journal":1}\n{"run":{}}\n')
        p = self.tool(state, "show", "r")
        self.assertEqual((p.returncode, p.stderr), (1, (
            "wedata-rerun-state: %s: not a state this tool can read: line 2: the run is "
            "malformed\n") % state))


if __name__ == "__main__":
    unittest.main()
