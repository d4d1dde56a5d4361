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
from harness import Collectd, assert_stays, plugin_block, wait_until  # noqa: E402
from test_integration import (PLUGIN_PATH, SECRET_KEY, WF, PluginTestCase,  # noqa: E402
                              new_run_id, wf_opts)
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
        # A skip is final for that signal; a rerun sent anyway would come
        # within moments.
        assert_stays(lambda: all(len(self.rerun_requests(r)) == 1 for r in runs), 1.0,
                     message=lambda: "reruns per run: %r" % [
                         len(self.rerun_requests(r)) for r in runs])
        for run_id in runs:
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
        self.fill(folder)
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

    def test_85_newer_version_left_alone_reruns_go_on(self):
        """A state written by a newer plugin (version 3, with its journal):
        one ERROR, the files left untouched (also at stop), and reruns go on
        without a durable state: a new failure is rerun, the runs WeData
        already reran are read first and not rerun again. Once the operator
        moves the files away, the state is written again."""
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
        wait_until(lambda: self.errors_with(c2, state, "newer version", "reruns go on"),
                   10, message="an ERROR about the newer version", on_fail=c2.output_tail)
        self.assert_not_rerun_again(c2, [running, again])
        new = new_run_id()
        self.fire(c2, new)
        c2.wait_counters(WF, {"accepted": 1}, timeout=15)
        self.assertEqual(self.standin.get_run(new).rerun_times, 1)
        self.assertEqual(c2.stop(), 0)
        self.assertEqual(harness.Collectd._read(state), newer)
        self.assertEqual(harness.Collectd._read(state + ".journal"), journal)

        for path in (state, state + ".journal"):
            os.rename(path, path + ".v3")
        c3 = self.collectd(self.wf(), self.options(StateFile=state))
        wait_until(lambda: self.info_lines_with(c3, "no state file"), 10,
                   message="started empty", on_fail=c3.output_tail)
        self.assert_not_rerun_again(c3, [running, again, new])
        self.assertEqual(c3.stop(), 0)
        self.assertIn('"version":2', harness.Collectd._read(state).split("\n", 1)[0])


class TestSecretsEverywhere(StateCase):
    """Where the secret key is after a run: not in the state files, the
    metrics or the notifications (PluginTestCase.tearDown checks those for
    every test), and not in collectd's memory after shutdown when it came
    from SecretKeyFile or the environment, in any form the plugin derives
    from it.  An inline SecretKey stays in collectd's own config memory:
    hence the README's advice."""

    GDB = "/usr/bin/gdb"

    def core_after_shutdown(self, options, env=None):
        """Runs collectd under gdb, reruns one run, stops collectd with
        SIGTERM and dumps its memory (gcore) at _exit: after every shutdown
        callback, so after the plugin has freed and wiped what it holds.
        Returns (collectd, core path, the UTC dates the requests were
        signed for)."""
        if not os.access(self.GDB, os.X_OK):
            self.skipTest("gdb (gcore) is not installed")
        core = os.path.join(self.tmp, "collectd.core")
        # -batch answers gdb's questions; debuginfod stays off (nothing
        # leaves the host); SIGTERM goes to collectd without stopping gdb.
        gdb = [self.GDB, "-nx", "-batch", "-iex", "set debuginfod enabled off",
               "-ex", "set pagination off", "-ex", "set breakpoint pending on",
               "-ex", "handle SIGTERM SIGPIPE nostop noprint pass",
               "-ex", "break _exit", "-ex", "run", "-ex", "gcore " + core,
               "-ex", "continue", "--args"]
        c = Collectd(PLUGIN_PATH, plugin_block(options, self.wf()), sink_url=self.sink.url,
                     env=env, prefix="wedata-itest-collectd-", wrapper=gdb)
        self.collectds.append(c)
        self.addCleanup(c.cleanup)
        c.start(timeout=60)
        run_id = new_run_id()
        self.fire(c, run_id)
        c.wait_counters(WF, {"accepted": 1}, timeout=20)
        dates = sorted({datetime.datetime.fromtimestamp(
            int(r.header("X-TC-Timestamp")), datetime.timezone.utc).strftime("%Y-%m-%d")
            for r in self.standin.requests()})
        with open("/proc/%d/task/%d/children" % (c.proc.pid, c.proc.pid)) as fh:
            (pid,) = [int(p) for p in fh.read().split()]
        self.assertEqual(os.path.basename(os.readlink("/proc/%d/exe" % pid)), "collectd")
        os.kill(pid, signal.SIGTERM)
        c.proc.wait(120)
        c.stop()
        out = c.stdout_text()
        # The dump was taken where it should be, and collectd then ended
        # as after any SIGTERM.
        self.assertRegex(out, r"hit Breakpoint 1[.0-9]*, .*_exit", out[-2000:])
        self.assertIn("Saved corefile " + core, out)
        self.assertIn("exited normally", out)
        # The plugin's shutdown ran before: it wrote its last snapshot (the
        # journal is only its header then).
        journal = Collectd._read(c.default_state_file + ".journal")
        self.assertEqual(len(journal.splitlines()), 1, journal)
        self.assertIn(run_id, Collectd._read(c.default_state_file))
        self.addCleanup(lambda: os.path.exists(core) and os.unlink(core))
        return c, core, dates

    @staticmethod
    def derived(key, dates):
        """The forms of the key the plugin computes to sign (TC3): "TC3" +
        key, then the date, service and signing keys of each date, by the
        stand-in's own code (which checks every request's signature)."""
        out = {"TC3+key": b"TC3" + key.encode()}
        for date in dates:
            chain = ws.derive_key_chain(key, date, "wedata")
            for name, value in zip(("date", "service", "signing"), chain):
                out["%s key of %s" % (name, date)] = value
        return out

    # A freed block loses its first 16 bytes to malloc's free-list
    # pointers, and a block handed out again may keep only its tail: so
    # copies are also looked for by the first and the last FRAGMENT bytes
    # of a secret (of 16, still unique to it).
    FRAGMENT = 16

    @classmethod
    def find_all(cls, core, secret, tail=True):
        """[(offset, the 40 bytes before)] of every copy of secret, whole
        or in part: where the whole would start.  tail False: by its first
        bytes only (the tail of "TC3" + key is the key's)."""
        n = min(cls.FRAGMENT, len(secret))
        starts = set()
        needles = [(secret[:n], 0)] + ([(secret[-n:], len(secret) - n)] if tail else [])
        with open(core, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            for needle, shift in needles:
                at = mm.find(needle)
                while at >= 0:
                    starts.add(at - shift)
                    at = mm.find(needle, at + 1)
            return [(at, mm[max(0, at - 40):max(0, at)]) for at in sorted(starts)]

    def assert_derived_absent(self, core, key, dates):
        self.assertTrue(dates, "no request was signed")
        for name, needle in self.derived(key, dates).items():
            self.assertEqual(self.find_all(core, needle, tail=name != "TC3+key"), [],
                             "%s found in collectd's memory after shutdown" % name)

    def test_86_core_after_shutdown_key_file_and_environment(self):
        """SecretKeyFile, then the environment (with a session token): after
        shutdown the key is nowhere in collectd's memory but, for the
        environment, in the environment block itself (the process's own,
        not a copy of the plugin's), nor any key derived from it.  The
        session token, sent as a header, is also left in libcurl's text of
        the requests, which libcurl frees unwiped (out of the plugin's
        reach); the plugin's own copies of it are wiped."""
        key_file = os.path.join(self.tmp, "secret.key")
        with open(key_file, "w") as fh:
            fh.write(SECRET_KEY + "\n")
        os.chmod(key_file, 0o600)
        env_id, env_key, env_token = ("AKIDitestFromEnvironment000000000086",
                                      "itestENVsecret/+=0000000000000000086", "env-token-86")
        self.secrets.update({env_key, env_token})
        self.standin.add_credential(ws.Credential(env_id, env_key, token=env_token))
        environ_key = b"\0TENCENTCLOUD_SECRET_KEY="
        environ_token = b"\0TENCENTCLOUD_SESSION_TOKEN="
        in_request = b"\r\nX-TC-Token: "     # libcurl's text of a request
        # (label, options, environment, key, {secret: (where a copy may be,
        #  how many copies there must be in the environment block)})
        cases = [("SecretKeyFile", self.options(SecretKey=None, SecretKeyFile=key_file),
                  None, SECRET_KEY, {SECRET_KEY: ((), 0)}),
                 ("environment", self.options(SecretId=None, SecretKey=None),
                  {"TENCENTCLOUD_SECRET_ID": env_id, "TENCENTCLOUD_SECRET_KEY": env_key,
                   "TENCENTCLOUD_SESSION_TOKEN": env_token}, env_key,
                  {env_key: ((environ_key,), 1),
                   env_token: ((environ_token, in_request), 1)})]
        for label, options, env, key, allowed in cases:
            with self.subTest(label):
                self.standin.clear_requests()
                c, core, dates = self.core_after_shutdown(options, env)
                for secret, (where, in_environ) in allowed.items():
                    found = self.find_all(core, secret.encode())
                    # (endswith of an empty tuple is False: no copy allowed)
                    stray = [(at, before) for at, before in found
                             if not before.endswith(where)]
                    self.assertEqual(stray, [], "%s...: copies after shutdown outside %r"
                                     % (secret[:8], where))
                    environ = [at for at, before in found
                               if before.endswith((environ_key, environ_token))]
                    self.assertEqual(len(environ), in_environ, found)
                self.assert_derived_absent(core, key, dates)
                os.unlink(core)

    def test_87_inline_secret_key_stays_in_collectds_config_memory(self):
        """An inline SecretKey is in collectd's memory after shutdown, as
        the text of the config file that collectd read and freed without
        wiping: out of the plugin's reach.  The README therefore says to
        use SecretKeyFile or the environment.  The plugin's own derived
        keys are wiped here too."""
        c, core, dates = self.core_after_shutdown(self.options())
        found = self.find_all(core, SECRET_KEY.encode())
        self.assertTrue(found, "the inline key is no longer in collectd's memory after "
                        "shutdown: collectd wipes its config now; update the README")
        self.assertTrue([at for at, before in found if before.endswith(b'SecretKey "')],
                        "no copy in the config text: %r" % found)
        self.assert_derived_absent(core, SECRET_KEY, dates)

    def test_88_teardown_scans_state_and_metrics(self):
        """The secrets check of every test (PluginTestCase.tearDown) reads
        each collectd's state files (a StateFile given in the config, and
        files moved aside) and csv metrics, and not collectd.conf."""
        state = os.path.join(self.state_dir("scan"), "wedata.state")
        c = self.collectd(self.wf(), self.options(StateFile=state))
        self.fire(c, new_run_id())
        c.wait_counters(WF, {"accepted": 1}, timeout=15)
        planted = [state + ".corrupt-1", os.path.join(c.csv_dir, "planted")]
        for path in planted:
            with open(path, "w") as fh:
                fh.write("x" + SECRET_KEY)
        written = self._written(c)
        where = [w for w, text in written if SECRET_KEY in text]
        self.assertEqual(len(where), 2, where)
        self.assertTrue(all(any(p in w for p in planted) for w in where), where)
        self.assertTrue([w for w, _ in written if w.startswith(state + " ")], written)
        self.assertTrue([w for w, _ in written if "derive-accepted" in w], written)
        for path in planted:   # or tearDown fails this test
            os.unlink(path)


def load_tests(loader, standard_tests, pattern):
    """The classes in the order they are defined."""
    suite = unittest.TestSuite()
    for cls in (TestStateFaults, TestSecretsEverywhere):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite
