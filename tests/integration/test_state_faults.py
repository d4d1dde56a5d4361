"""Issue 11, state faults and secrets: what a broken disk or a damaged
state file does to the real collectd with the plugin, and where the secret
key is (not) to be found after a run.  Run through run_tests.py like
test_integration, whose PluginTestCase (stand-in, sink, collectd daemons,
the secrets check at tearDown) every class here uses.

VerifyBeforeRerun stays at its default (true) throughout: after a state is
lost it is what keeps a run WeData already reran from being rerun again,
and that is what these tests check.
"""

import datetime
import errno
import glob
import hashlib
import hmac
import json
import mmap
import os
import re
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

import harness  # noqa: E402
from harness import Collectd, plugin_block, wait_until  # noqa: E402
from test_integration import (PROJECT_ID, PLUGIN_PATH, SECRET_ID, SECRET_KEY, WF,  # noqa: E402
                              WORKFLOW_ID, PluginTestCase, new_run_id, wf_opts)
import wedata_standin as ws  # noqa: E402

# The skips a run WeData already reran ends in: the plugin's own count
# (exhausted), or WeData's after a read (exhausted: RerunTimes at
# MaxAttempts; not_failed: still RUNNING), or a duplicate while a rerun
# whose answer a damaged journal lost is being read back.
ALREADY_RERUN = ("skipped-exhausted", "skipped-not_failed", "skipped-duplicate")
DEEP = 200000   # levels: far beyond the 32 the plugin reads


def is_root():
    return os.geteuid() == 0


class StateCase(PluginTestCase):
    """Helpers shared by the state fault tests."""

    VERIFY_BEFORE_RERUN = None
    _read = staticmethod(harness.read_state)  # the snapshot and the journal

    # MaxAttempts 1: a run WeData shows FAILED with RerunTimes 1 is done,
    # whether the plugin remembers it (its own count) or not (the read).
    def wf(self):
        return [self.workflow(extra=wf_opts(MaxAttempts=1))]

    def state_dir(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    def mount_tmpfs(self, name, size):
        """A tmpfs of `size` (mount syntax) at a new folder; unmounted at
        cleanup, after every collectd of the test is gone (cleanups run
        last in, first out, and each collectd's is added after this)."""
        if not is_root():
            self.skipTest("needs root to mount a small tmpfs (a full or read-only "
                          "disk cannot be made otherwise: root ignores permissions, "
                          "and a user's chmod leaves the open files writable)")
        path = self.state_dir(name)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs",
                        path], check=True)
        self.addCleanup(self.unmount, path)
        return path

    @staticmethod
    def unmount(path):
        if subprocess.run(["umount", path]).returncode != 0:
            subprocess.run(["umount", "-l", path])

    @staticmethod
    def remount(path, mode):
        subprocess.run(["mount", "-o", "remount,%s" % mode, path], check=True)

    @staticmethod
    def fill(folder):
        """Fills the file system of folder to the last byte; returns the
        filler file."""
        filler = os.path.join(folder, "filler")
        with open(filler, "wb", buffering=0) as fh:
            while True:
                try:
                    fh.write(b"\0" * 1024)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        st = os.statvfs(folder)
        assert st.f_bavail == 0, "the tmpfs still has %d free blocks" % st.f_bavail
        return filler

    def skipped(self, c):
        return sum(c.counter(WF, name) or 0 for name in ALREADY_RERUN)

    def prime(self, state):
        """A collectd on `state` reruns two runs: one WeData still shows
        RUNNING, one that failed again (FAILED, RerunTimes 1).  Returns the
        running collectd and the two run ids, once the state records both
        answers (their AsyncIds)."""
        running, again = new_run_id(), new_run_id()
        c = self.collectd(self.wf(), self.options(StateFile=state))
        self.fire(c, running)
        self.fire(c, again)
        c.wait_counters(WF, {"accepted": 2}, timeout=15)

        def answered(run_id):
            return any(run_id in line and re.search(r'"last_async_id":"[^"]+"', line)
                       for line in self._read(state).splitlines())
        wait_until(lambda: answered(running) and answered(again), 5,
                   message="both answers in the state", on_fail=c.output_tail)
        self.standin.update_run(again, state="FAILED")
        return c, running, again

    def assert_not_rerun_again(self, c, runs):
        """Fires a failure of each run WeData already reran once; none is
        sent again (each counted as skipped), and WeData still shows one
        rerun of each."""
        before = self.skipped(c)
        for run_id in runs:
            self.fire(c, run_id)
        wait_until(lambda: self.skipped(c) >= before + len(runs), 15,
                   message=lambda: "%d more skips (%s); now %r" % (
                       len(runs), "/".join(ALREADY_RERUN),
                       c.counters(WF, ALREADY_RERUN + ("accepted", "attempts"))),
                   on_fail=c.output_tail)
        for run_id in runs:
            self.assertEqual(len(self.rerun_requests(run_id)), 1, run_id)
            self.assertEqual(self.standin.get_run(run_id).rerun_times, 1, run_id)

    def assert_reruns_go_on(self, c, count=1):
        """New failures are rerun and accepted; returns their run ids."""
        runs = [new_run_id() for _ in range(count)]
        accepted = c.counter(WF, "accepted") or 0
        for run_id in runs:
            self.fire(c, run_id)
        self.wait_at_least(c, WF, "accepted", accepted + count, timeout=20)
        for run_id in runs:
            wait_until(lambda: self.standin.get_run(run_id) is not None and
                       self.standin.get_run(run_id).rerun_times == 1, 10,
                       message="%s rerun once" % run_id, on_fail=c.output_tail)
        return runs

    def errors_with(self, c, *texts):
        return [e for e in c.plugin_errors() if all(t in e for t in texts)]

    def warnings_with(self, c, *texts):
        return [m for m in c.log_messages("warning")
                if m.startswith(harness.PLUGIN) and all(t in m for t in texts)]


class TestStateFaults(StateCase):
    """A full disk, a read-only folder and damaged files: collectd starts,
    a log line names the problem, reruns go on, and no run WeData already
    reran is rerun again."""

    def test_80_full_disk_then_space_returns(self):
        """The disk fills up while collectd runs: reruns go on, an ERROR
        says why the state is not written; when space comes back the whole
        state is written again (within the 10 s snapshot retry), and a
        restart after a kill -9 restores every run."""
        folder = self.mount_tmpfs("full", "256k")
        state = os.path.join(folder, "wedata.state")
        c, running, again = self.prime(state)
        filler = self.fill(folder)
        # Appends first go into the journal's last page, which tmpfs has
        # already allocated (up to 4 KiB): ten runs write more than that.
        new = self.assert_reruns_go_on(c, 10)
        line = wait_until(lambda: self.errors_with(c, "cannot write the state file", state,
                                                   "No space left on device"), 10,
                          message="an ERROR naming the state file and ENOSPC",
                          on_fail=c.output_tail)
        self.assertIn("reruns go on", line[0])
        text = self._read(state)
        self.assertTrue([r for r in new if r not in text],
                        "every new run reached the state on a full disk: no fault made")
        self.assert_not_rerun_again(c, [running, again])

        os.unlink(filler)
        t0 = time.monotonic()
        wait_until(lambda: all(r in self._read(state) for r in new + [running, again]), 25,
                   message=lambda: "every run in the state once space is back; missing %r"
                   % [r for r in new if r not in self._read(state)], on_fail=c.output_tail)
        self.assertLess(time.monotonic() - t0, 20,
                        "the state came back late (the retry is 10 s)")
        for line in self._read(state).splitlines():   # one JSON record per line
            json.loads(line)
        c.kill()
        for run_id in new:
            self.standin.update_run(run_id, state="FAILED")
        c.start()
        wait_until(lambda: self.info_lines_with(c, "restored 12 run(s)"), 10,
                   message="12 runs restored after the kill", on_fail=c.output_tail)
        self.assert_not_rerun_again(c, new + [running, again])
        self.assert_reruns_go_on(c)

    def test_81_full_disk_at_start_and_at_stop(self):
        """collectd starts on a disk that is already full and stops while
        it still is: the last snapshot cannot be written and says so, the
        files of the earlier state stay readable, and after a restart on
        the full disk the runs the state never recorded are read back, not
        rerun again."""
        folder = self.mount_tmpfs("full-start", "256k")
        state = os.path.join(folder, "wedata.state")
        c1, running, again = self.prime(state)
        self.assertEqual(c1.stop(), 0)
        filler = self.fill(folder)
        snapshot = harness.Collectd._read(state)

        c2 = self.collectd(self.wf(), self.options(StateFile=state))
        wait_until(lambda: self.info_lines_with(c2, "restored 2 run(s)"), 10,
                   message="the state read on a full disk", on_fail=c2.output_tail)
        self.assert_not_rerun_again(c2, [running, again])
        new = self.assert_reruns_go_on(c2, 10)
        wait_until(lambda: self.errors_with(c2, "cannot write the state file",
                                            "No space left on device"), 10,
                   message="an ERROR about the full disk", on_fail=c2.output_tail)
        self.assertEqual(c2.stop(), 0)
        # The stop's snapshot failed too, and says so although the last
        # such ERROR was moments ago (the others are rate-limited).
        self.assertTrue(self.errors_with(c2, "cannot write the state file", "at stop",
                                         "No space left on device"), c2.output_tail())
        # Nothing half-written replaced the snapshot (the journal may hold
        # the records that fitted into its last page).
        self.assertEqual(harness.Collectd._read(state), snapshot)
        self.assertEqual(glob.glob(glob.escape(state) + ".tmp-*"), [])
        for run_id in new:
            self.standin.update_run(run_id, state="FAILED")

        c3 = self.collectd(self.wf(), self.options(StateFile=state))
        wait_until(lambda: self.info_lines_with(c3, "state file \"%s\": restored" % state), 10,
                   message="the old state read again", on_fail=c3.output_tail)
        self.assertEqual(self.warnings_with(c3, "corrupt"), [])
        self.assert_not_rerun_again(c3, new + [running, again])
        self.assert_reruns_go_on(c3)
        os.unlink(filler)

    def test_82_read_only_folder(self):
        """The state's folder is read-only (a tmpfs remounted ro): collectd
        starts without the lock (WARNING), reads the state, cannot write it
        (ERROR naming the file system), and reruns go on; once writable
        again, a restart finds the state as it was and writes it."""
        folder = self.mount_tmpfs("ro", "1m")
        state = os.path.join(folder, "wedata.state")
        c1, running, again = self.prime(state)
        self.assertEqual(c1.stop(), 0)
        before = {p: harness.Collectd._read(p) for p in glob.glob(glob.escape(state) + "*")}
        self.remount(folder, "ro")

        c2 = self.collectd(self.wf(), self.options(StateFile=state))
        wait_until(lambda: self.warnings_with(c2, "cannot lock the state file",
                                              "Read-only file system"), 10,
                   message="a WARNING about the lock", on_fail=c2.output_tail)
        self.assertTrue(self.info_lines_with(c2, "restored 2 run(s)"), c2.output_tail())
        self.assert_not_rerun_again(c2, [running, again])
        new = self.assert_reruns_go_on(c2)
        wait_until(lambda: self.errors_with(c2, "cannot write the state file", state,
                                            "Read-only file system"), 10,
                   message="an ERROR naming the state file and EROFS",
                   on_fail=c2.output_tail)
        self.assertEqual(c2.stop(), 0)
        after = {p: harness.Collectd._read(p) for p in glob.glob(glob.escape(state) + "*")}
        self.assertEqual(after, before)

        self.remount(folder, "rw")
        self.standin.update_run(new[0], state="FAILED")
        c3 = self.collectd(self.wf(), self.options(StateFile=state))
        self.assert_not_rerun_again(c3, new + [running, again])
        self.assert_reruns_go_on(c3)
        wait_until(lambda: all(r in self._read(state) for r in new), 10,
                   message="the state written again", on_fail=c3.output_tail)

    def test_83_corrupt_file_in_a_read_only_folder(self):
        """A corrupt state that cannot even be moved aside: a WARNING says
        so, the plugin starts empty, and runs WeData already reran are read
        back, not rerun again."""
        folder = self.mount_tmpfs("ro-corrupt", "1m")
        state = os.path.join(folder, "wedata.state")
        c1, running, again = self.prime(state)
        self.assertEqual(c1.stop(), 0)
        with open(state, "wb") as fh:
            fh.write(b"\x00garbage\xff")
        self.remount(folder, "ro")
        c2 = self.collectd(self.wf(), self.options(StateFile=state))
        wait_until(lambda: self.warnings_with(c2, "is corrupt or unreadable",
                                              "cannot be moved aside"), 10,
                   message="a WARNING: corrupt and not moved", on_fail=c2.output_tail)
        self.assert_not_rerun_again(c2, [running, again])
        self.assert_reruns_go_on(c2)


    def test_84_damaged_files(self):
        """Snapshot or journal cut short, emptied, holding garbage or nested
        200,000 levels deep: collectd starts, a log line names the problem
        (and the file moved aside, or the cut record ignored), reruns go
        on, and neither run WeData already reran is rerun again."""
        def cut(text):          # in the middle of the last line
            return text[:len(text) - 40]

        def garbage_line(text):  # the second line (a run record) replaced
            lines = text.split("\n")
            lines[1] = "\x00{not json\xff"
            return "\n".join(lines)

        def deep_line(text):
            lines = text.split("\n")
            lines[1] = '{"run":' + "[" * DEEP + "]" * DEEP + "}"
            return "\n".join(lines)

        # (label, stop or kill -9 the first collectd, file to damage, how,
        #  what the log says, whether the files are moved aside)
        cases = [
            ("snapshot cut short", "stop", "", cut, "corrupt", True),
            ("snapshot empty", "stop", "", lambda t: "", "corrupt", True),
            ("snapshot run nested deep", "stop", "", deep_line, "nests deeper than 32", True),
            ("journal record cut short", "kill", ".journal", cut,
             "cut short by a crash and is ignored", False),
            ("journal garbage", "kill", ".journal", garbage_line, "corrupt", True),
            ("journal record nested deep", "kill", ".journal", deep_line,
             "nests deeper than 32", True),
        ]
        for label, end, suffix, damage, says, moved in cases:
            with self.subTest(label):
                folder = self.state_dir(label.replace(" ", "_"))
                state = os.path.join(folder, "wedata.state")
                c1, running, again = self.prime(state)
                if end == "stop":
                    self.assertEqual(c1.stop(), 0)
                else:
                    c1.kill()
                path = state + suffix
                text = harness.Collectd._read(path)
                # The run lines are there to damage (a kill leaves them in
                # the journal, a stop in the snapshot).
                self.assertIn(again, text)
                damaged = damage(text).encode("utf-8", "surrogateescape")
                with open(path, "wb") as fh:
                    fh.write(damaged)

                c2 = self.collectd(self.wf(), self.options(StateFile=state))
                if moved:
                    line = wait_until(lambda: self.warnings_with(
                        c2, "is corrupt or unreadable", says, "moved it to"), 10,
                        message="a WARNING: %s, moved aside" % says, on_fail=c2.output_tail)
                    aside = re.search(r'moved it to "([^"]+)"', line[0]).group(1)
                    self.assertTrue(os.path.isfile(aside), aside)
                    # The damaged file itself went aside (a journal with
                    # its snapshot, as <journal>.corrupt-<time>).
                    (kept,) = glob.glob(glob.escape(path) + ".corrupt-*")
                    with open(kept, "rb") as fh:
                        self.assertEqual(fh.read(), damaged)
                else:
                    wait_until(lambda: self.info_lines_with(c2, says), 10,
                               message="an INFO line: %s" % says, on_fail=c2.output_tail)
                    self.assertEqual(self.warnings_with(c2, "corrupt"), [])
                self.assert_not_rerun_again(c2, [running, again])
                self.assert_reruns_go_on(c2)
                self.assertEqual(c2.stop(), 0)

    def test_85_newer_version_refused_then_moved_away(self):
        """A state written by a newer plugin (version 3, with its journal)
        is left untouched and nothing is sent (the plugin's init fails,
        collectd itself stays up): starting empty would overwrite it.  Once
        the operator moves the files away, as the ERROR says, reruns go on
        and the runs WeData already reran are read back, not rerun again."""
        folder = self.state_dir("newer")
        state = os.path.join(folder, "wedata.state")
        c1, running, again = self.prime(state)
        self.assertEqual(c1.stop(), 0)
        with open(state) as fh:
            text = fh.read()
        self.assertIn('"version":2', text.split("\n", 1)[0])
        newer = text.replace('"version":2', '"version":3', 1)
        with open(state, "w") as fh:
            fh.write(newer)
        journal = harness.Collectd._read(state + ".journal")

        c2 = self.collectd(self.wf(), self.options(StateFile=state))
        wait_until(lambda: self.errors_with(c2, state, "newer version", "move the file away"),
                   10, message="an ERROR about the newer version", on_fail=c2.output_tail)
        new = new_run_id()
        for run_id in (running, again, new):
            self.fire(c2, run_id)     # collectd answers: it is up
        self.assert_rerun_count_stays(2, 2.0)
        self.assertTrue(c2.running())
        self.assertEqual(c2.stop(), 1)   # its init failed
        self.assertEqual(harness.Collectd._read(state), newer)
        self.assertEqual(harness.Collectd._read(state + ".journal"), journal)

        for path in (state, state + ".journal"):
            os.rename(path, path + ".v3")
        c3 = self.collectd(self.wf(), self.options(StateFile=state))
        wait_until(lambda: self.info_lines_with(c3, "no state file"), 10,
                   message="started empty", on_fail=c3.output_tail)
        self.assert_not_rerun_again(c3, [running, again])
        self.fire(c3, new)
        c3.wait_counters(WF, {"accepted": 1}, timeout=15)
        self.assertEqual(self.standin.get_run(new).rerun_times, 1)


def load_tests(loader, standard_tests, pattern):
    """The classes in the order they are defined."""
    suite = unittest.TestSuite()
    for cls in (TestStateFaults,):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite
