"""Runs the real collectd daemon with the wedata_rerun plugin for tests.

Python 3 standard library only.  One Collectd object = one temp dir with
collectd.conf, the log file, the unixsock socket, the csv tree and a copy
of the plugin; start() launches `/usr/sbin/collectd -f -C conf`, stop()
sends SIGTERM, kill() SIGKILL, restart() starts it again in the same dir
(same BaseDir, log, csv tree), cleanup() kills what is left and removes the
temp dir.
"""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

COLLECTD_BIN = os.environ.get("COLLECTD_BIN", "/usr/sbin/collectd")
TYPES_DB = "/usr/share/collectd/types.db"
HOSTNAME = "itest"
PLUGIN = "wedata_rerun"
PLUGIN_API = "wedata_rerun_api"  # plugin_instance: the API action
PLUGIN_GLOBAL = "wedata_rerun_global"  # plugin-wide values
OUTCOMES = ("ok", "error", "throttled", "failed")
DEFAULT_STATE_FILE = "wedata_rerun.state"     # in BaseDir, when StateFile is not set
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_PLUGIN_PATH = os.path.join(REPO_ROOT, "build", "wedata_rerun.so")
# Environment variables the plugin reads; never inherited from the caller.
PLUGIN_ENV = ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY",
              "TENCENTCLOUD_SESSION_TOKEN", "TENCENTCLOUD_CREDENTIALS_FILE")


def _group_name():
    try:
        import grp
        return grp.getgrgid(os.getgid()).gr_name
    except (ImportError, KeyError):
        return "root"


class HarnessError(AssertionError):
    """A harness-level failure (collectd did not start, a wait timed out)."""


# ---------------------------------------------------------------------------
# Config text helpers
# ---------------------------------------------------------------------------


def quote(value):
    """A collectd config string literal."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def conf_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return quote(value)


def option(key, *values):
    return "%s %s" % (key, " ".join(conf_value(v) for v in values))


def indent(lines, level=1):
    pad = "  " * level
    return [pad + line for line in lines]


def match_block(**fields):
    """<Match> block; keys: severity, host, plugin, plugin_instance, type,
    type_instance (values are exact text or "/regex/")."""
    names = {"severity": "Severity", "host": "Host", "plugin": "Plugin",
             "plugin_instance": "PluginInstance", "type": "Type",
             "type_instance": "TypeInstance"}
    lines = ["<Match>"]
    for key, value in fields.items():
        lines.append("  " + option(names[key], value))
    lines.append("</Match>")
    return lines


def workflow_block(name, project_id, workflow_id, execute_type=None, task_ids=(),
                   advanced_params=(), scheduling_resource_group=None,
                   integration_resource_group=None, matches=None, extra=()):
    """<Workflow "name"> block as a list of lines.  matches: list of dicts
    for match_block (default: one Match with Plugin "wedata")."""
    lines = ["<Workflow %s>" % quote(name),
             "  " + option("ProjectId", project_id),
             "  " + option("WorkflowId", workflow_id)]
    if execute_type is not None:
        lines.append("  " + option("ExecuteType", execute_type))
    if task_ids:
        lines.append("  " + option("TaskId", *task_ids))
    for key, value in advanced_params:
        lines.append("  " + option("AdvancedParam", key, value))
    if scheduling_resource_group is not None:
        lines.append("  " + option("SchedulingResourceGroup", scheduling_resource_group))
    if integration_resource_group is not None:
        lines.append("  " + option("IntegrationResourceGroup", integration_resource_group))
    lines.extend("  " + line for line in extra)
    for match in (matches if matches is not None else [{"plugin": "wedata"}]):
        lines.extend(indent(match_block(**match)))
    lines.append("</Workflow>")
    return lines


def plugin_block(options, workflows):
    """<Plugin wedata_rerun> text: options is a list of (key, value...)
    tuples (or raw strings), workflows a list of workflow_block() results."""
    lines = ["<Plugin %s>" % PLUGIN]
    for item in options:
        lines.append("  " + (item if isinstance(item, str) else option(*item)))
    for wf in workflows:
        lines.extend(indent(wf))
    lines.append("</Plugin>")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Waiting
# ---------------------------------------------------------------------------


def wait_until(predicate, timeout=10.0, interval=0.05, message="condition", on_fail=None):
    """Polls predicate() until it returns a truthy value (returned), or
    raises HarnessError after timeout seconds.  message may be a callable
    giving the text at failure time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            if on_fail is not None:
                text += "\n" + on_fail()
            raise HarnessError("timed out after %.1fs waiting for: %s" % (timeout, text))
        time.sleep(interval)


def assert_stays(predicate, duration, interval=0.1, message="condition"):
    """Checks that predicate() stays truthy for duration seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        if not predicate():
            text = message() if callable(message) else message
            raise HarnessError("condition no longer holds: %s" % text)
        time.sleep(interval)


# ---------------------------------------------------------------------------
# collectd
# ---------------------------------------------------------------------------


def read_state(path):
    """The plugin's durable state as text: the snapshot, then its journal
    (<path>.journal), each "" when missing.  Every line is one JSON
    record."""
    return Collectd._read(path) + Collectd._read(path + ".journal")


class Collectd:
    """One collectd daemon in its own temp dir."""

    def __init__(self, plugin_path=DEFAULT_PLUGIN_PATH, plugin_conf=None, sink_url=None,
                 env=None, interval=1, extra_conf="", load_plugin=True, log_level="info",
                 prefix="wedata-itest-", wrapper=()):
        """plugin_conf: the <Plugin wedata_rerun> block text (or None for no
        block).  load_plugin False: a collectd without our plugin (harness
        self-check).  env: extra environment variables for collectd.
        wrapper: a command line collectd runs under (valgrind ...)."""
        self.wrapper = list(wrapper)
        self.plugin_path = plugin_path
        self.plugin_conf = plugin_conf
        self.sink_url = sink_url
        self.interval = interval
        self.extra_conf = extra_conf
        self.load_plugin = load_plugin
        self.log_level = log_level
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.conf_path = os.path.join(self.dir, "collectd.conf")
        self.log_path = os.path.join(self.dir, "collectd.log")
        self.stdout_path = os.path.join(self.dir, "collectd.stdout")
        self.socket_path = os.path.join(self.dir, "collectd.sock")
        self.pid_path = os.path.join(self.dir, "collectd.pid")
        self.csv_dir = os.path.join(self.dir, "csv")
        self.plugin_dir = os.path.join(self.dir, "plugins")
        self.env = dict((k, v) for k, v in os.environ.items() if k not in PLUGIN_ENV)
        # HOME is where the credential chain looks for a profile file: this
        # collectd's own dir, not the caller's (a test may still set it).
        self.env["HOME"] = self.dir
        self.env.update(env or {})
        self.proc = None
        self.returncode = None
        self._stdout_fh = None
        self._saved_output = None
        self.started_at = None

    # -- config --------------------------------------------------------------

    def config_text(self):
        lines = [
            'Hostname "%s"' % HOSTNAME,
            "FQDNLookup false",
            "BaseDir %s" % quote(self.dir),
            "PIDFile %s" % quote(self.pid_path),
            "TypesDB %s" % quote(TYPES_DB),
            "Interval %s" % self.interval,
            "ReadThreads 2",
            "WriteThreads 2",
            "",
            "LoadPlugin logfile",
            "<Plugin logfile>",
            "  LogLevel %s" % self.log_level,
            "  File %s" % quote(self.log_path),
            "  Timestamp true",
            "  PrintSeverity true",
            "</Plugin>",
            "",
            "LoadPlugin unixsock",
            "<Plugin unixsock>",
            "  SocketFile %s" % quote(self.socket_path),
            "  SocketGroup %s" % quote(_group_name()),
            '  SocketPerms "0600"',
            "  DeleteSocket true",
            "</Plugin>",
            "",
            "LoadPlugin csv",
            "<Plugin csv>",
            "  DataDir %s" % quote(self.csv_dir),
            "  StoreRates false",
            "</Plugin>",
            "",
        ]
        if self.sink_url:
            lines += [
                "LoadPlugin write_http",
                "<Plugin write_http>",
                '  <Node "sink">',
                "    URL %s" % quote(self.sink_url),
                '    Format "JSON"',
                "    Metrics false",
                "    Notifications true",
                "    Timeout 2000",
                "  </Node>",
                "</Plugin>",
                "",
            ]
        if self.extra_conf:
            lines += [self.extra_conf, ""]
        if self.load_plugin:
            lines += [
                "PluginDir %s" % quote(self.plugin_dir),
                "LoadPlugin %s" % PLUGIN,
            ]
            if self.plugin_conf:
                lines.append(self.plugin_conf)
        return "\n".join(lines) + "\n"

    def _prepare(self):
        if self.load_plugin:
            if not os.path.isfile(self.plugin_path):
                raise HarnessError("plugin not found: %s (build it first)" % self.plugin_path)
            os.makedirs(self.plugin_dir, exist_ok=True)
            dest = os.path.join(self.plugin_dir, PLUGIN + ".so")
            shutil.copyfile(self.plugin_path, dest)   # a regular file, never a symlink
            os.chmod(dest, 0o755)
        with open(self.conf_path, "w", encoding="utf-8") as fh:
            fh.write(self.config_text())

    # -- process -------------------------------------------------------------

    def _spawn(self, mode="-f"):
        self._prepare()
        self._stdout_fh = open(self.stdout_path, "ab")   # a restart keeps the earlier output
        self.started_at = time.time()
        self.proc = subprocess.Popen(self.wrapper + [COLLECTD_BIN, mode, "-C", self.conf_path],
                                     stdin=subprocess.DEVNULL, stdout=self._stdout_fh,
                                     stderr=subprocess.STDOUT, env=self.env,
                                     cwd=self.dir, start_new_session=True)

    def spawn_and_connect(self, timeout=30.0):
        """Starts collectd without waiting for the plugins' init (start()
        waits for it) and returns a unixsock socket connected as soon as
        the socket accepts: what a sender that knows nothing of collectd's
        start sees."""
        self._spawn()
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.socket_path)
                return sock
            except OSError:
                sock.close()
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise HarnessError("no unixsock socket\n" + self.output_tail())
                time.sleep(0.0005)

    def start(self, timeout=15.0):
        """Starts collectd and waits until its unixsock socket accepts
        connections.  Raises HarnessError (with the log tail) if collectd
        exits or the socket does not appear in time."""
        self._spawn()
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise HarnessError("collectd exited with code %d during start-up\n%s"
                                   % (rc, self.output_tail()))
            if os.path.exists(self.socket_path) and self._can_connect():
                return self
            if time.monotonic() >= deadline:
                raise HarnessError("collectd socket %s did not appear within %.0fs\n%s"
                                   % (self.socket_path, timeout, self.output_tail()))
            time.sleep(0.05)

    def run_to_exit(self, timeout=15.0):
        """Starts collectd and waits for it to exit by itself (config-error
        tests).  Returns the exit code; if it is still running after timeout,
        it is stopped and HarnessError is raised."""
        self._spawn()
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise HarnessError("collectd did not exit within %.0fs\n%s"
                               % (timeout, self.output_tail()))
        self._close_stdout()
        return self.returncode

    def check_config(self, timeout=15.0):
        """Runs `collectd -T` on this config (what the README recommends
        before a restart: parse, init, one read, exit) and returns its exit
        code."""
        self._spawn(mode="-T")
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise HarnessError("collectd -T did not exit within %.0fs\n%s"
                               % (timeout, self.output_tail()))
        self._close_stdout()
        return self.returncode

    def _can_connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(1.0)
            sock.connect(self.socket_path)
            return True
        except OSError:
            return False
        finally:
            sock.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then wait; returns the exit code.  Raises HarnessError if
        collectd has to be SIGKILLed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.returncode = self.proc.returncode
                self._close_stdout()
                raise HarnessError("collectd did not exit within %.0fs of SIGTERM\n%s"
                                   % (timeout, self.output_tail()))
        self.returncode = self.proc.returncode
        self._close_stdout()
        return self.returncode

    def kill(self, timeout=10.0):
        """SIGKILL (the whole process group), as a crash would; waits for
        the exit.  Returns the exit code (-9)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout)
        self.returncode = self.proc.returncode
        self._close_stdout()
        return self.returncode

    def restart(self, kill=False, timeout=15.0):
        """Stops collectd (SIGTERM, or SIGKILL when kill) if it runs, then
        starts it again in the same dir with the same config.  Returns the
        epoch at which the new process was started."""
        if self.running():
            if kill:
                self.kill()
            else:
                rc = self.stop()
                if rc != 0:
                    raise HarnessError("collectd exited with %r on SIGTERM before the "
                                       "restart\n%s" % (rc, self.output_tail()))
        self.start(timeout)
        return self.started_at

    @property
    def default_state_file(self):
        """Where the plugin keeps its state when StateFile is not set."""
        return os.path.join(self.dir, DEFAULT_STATE_FILE)

    def _close_stdout(self):
        if self._stdout_fh is not None:
            self._stdout_fh.close()
            self._stdout_fh = None

    def cleanup(self, keep=False):
        """Kills collectd if still running, keeps its output in memory
        (output_text() keeps working) and removes the temp dir."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._close_stdout()
        self._saved_output = (self.log_text(), self.stdout_text())
        if not keep and os.environ.get("WEDATA_ITEST_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # -- output --------------------------------------------------------------

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as fh:
                return fh.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_text(self):
        if self._saved_output is not None and not os.path.exists(self.log_path):
            return self._saved_output[0]
        return self._read(self.log_path)

    def stdout_text(self):
        if self._saved_output is not None and not os.path.exists(self.stdout_path):
            return self._saved_output[1]
        return self._read(self.stdout_path)

    def output_text(self):
        """Everything collectd wrote: its log file and its stdout/stderr."""
        return self.log_text() + "\n" + self.stdout_text()

    def output_tail(self, lines=40):
        log = self.log_text().splitlines()[-lines:]
        out = self.stdout_text().splitlines()[-lines:]
        return ("---- collectd log tail (%s) ----\n%s\n---- collectd stdout/stderr ----\n%s\n"
                "---- end ----" % (self.log_path, "\n".join(log), "\n".join(out)))

    _LOG_RE = re.compile(r"^(?:\[(?P<ts>[^\]]+)\] )?\[(?P<sev>[a-z]+)\] (?P<msg>.*)$")

    def log_entries(self):
        """[(severity, message)] parsed from the log file."""
        out = []
        for line in self.log_text().splitlines():
            m = self._LOG_RE.match(line)
            if m:
                out.append((m.group("sev"), m.group("msg")))
        return out

    def log_messages(self, severity=None, contains=None):
        return [msg for sev, msg in self.log_entries()
                if (severity is None or sev == severity)
                and (contains is None or contains in msg)]

    def plugin_errors(self):
        """ERROR messages of our plugin, in the log or on stderr."""
        prefix = PLUGIN + " plugin: "
        found = [msg for msg in self.log_messages("error") if msg.startswith(prefix)]
        for line in self.stdout_text().splitlines():
            m = self._LOG_RE.match(line)
            if m and m.group("sev") == "error" and m.group("msg").startswith(prefix):
                if m.group("msg") not in found:
                    found.append(m.group("msg"))
        return found

    # -- unixsock ------------------------------------------------------------

    def command(self, line, timeout=10.0):
        """Sends one unixsock command; returns (reply_lines, seconds).  The
        first reply line is the status; a positive status says how many
        lines follow."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        start = time.monotonic()
        try:
            sock.connect(self.socket_path)
            sock.sendall(line.encode("utf-8") + b"\n")
            fh = sock.makefile("rb")
            first = fh.readline().decode("utf-8", errors="replace").rstrip("\n")
            elapsed = time.monotonic() - start
            lines = [first]
            m = re.match(r"^(-?\d+)", first)
            if m and int(m.group(1)) > 0:
                for _ in range(int(m.group(1))):
                    lines.append(fh.readline().decode("utf-8", errors="replace").rstrip("\n"))
            fh.close()
            return lines, elapsed
        finally:
            sock.close()

    @staticmethod
    def _putnotif_value(value):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def putnotif(self, message="workflow run failed", severity="failure", host=HOSTNAME,
                 plugin="wedata", plugin_instance=None, type=None, type_instance=None,
                 meta=None, time_=None):
        """PUTNOTIF over unixsock; meta is a dict of string meta data
        (s:key=value).  Returns (reply_line, seconds)."""
        lines, elapsed = self.command(self.putnotif_line(
            message, severity, host, plugin, plugin_instance, type, type_instance, meta,
            time_))
        return lines[0], elapsed

    def putnotif_many(self, items, connections=4, timeout=30.0):
        """Sends many PUTNOTIF commands fast: items is a list of dicts of
        putnotif() keyword arguments, spread over `connections` unixsock
        connections used in parallel, one command after the other on each.
        Returns (replies in the order of items, seconds)."""
        replies = [None] * len(items)
        errors = []

        def worker(indexes):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(self.socket_path)
                fh = sock.makefile("rb")
                for i in indexes:
                    sock.sendall(self.putnotif_line(**items[i]).encode("utf-8") + b"\n")
                    replies[i] = fh.readline().decode("utf-8", errors="replace").rstrip("\n")
                fh.close()
            except OSError as exc:
                errors.append(exc)
            finally:
                sock.close()

        start = time.monotonic()
        threads = [threading.Thread(target=worker, args=(range(k, len(items), connections),),
                                    daemon=True) for k in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout + 5)
        if errors:
            raise HarnessError("putnotif_many: %r" % errors[:3])
        return replies, time.monotonic() - start

    def putnotif_line(self, message="workflow run failed", severity="failure", host=HOSTNAME,
                      plugin="wedata", plugin_instance=None, type=None, type_instance=None,
                      meta=None, time_=None):
        """The PUTNOTIF command text (see putnotif)."""
        parts = ["PUTNOTIF", "severity=%s" % severity,
                 "time=%.3f" % (time.time() if time_ is None else time_)]
        for key, value in (("host", host), ("plugin", plugin),
                           ("plugin_instance", plugin_instance), ("type", type),
                           ("type_instance", type_instance)):
            if value is not None:
                parts.append("%s=%s" % (key, self._putnotif_value(value)))
        for key, value in (meta or {}).items():
            parts.append("s:%s=%s" % (key, self._putnotif_value(value)))
        parts.append("message=%s" % self._putnotif_value(message))
        return " ".join(parts)

    # -- csv metrics ---------------------------------------------------------

    def metric_files(self, plugin_instance, type_, type_instance=None, plugin=PLUGIN):
        folder = plugin + ("-" + plugin_instance if plugin_instance else "")
        name = type_ + ("-" + type_instance if type_instance else "")
        pattern = os.path.join(glob.escape(self.csv_dir), HOSTNAME, glob.escape(folder),
                               glob.escape(name) + "-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]")
        return sorted(glob.glob(pattern))

    def metric_line(self, plugin_instance, type_, type_instance=None, plugin=PLUGIN):
        """(epoch, value) of the newest line of a csv metric, or None."""
        files = self.metric_files(plugin_instance, type_, type_instance, plugin)
        if not files:
            return None
        try:
            with open(files[-1], "rb") as fh:
                data = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return None
        for line in reversed(data.splitlines()):
            fields = line.strip().split(",")
            if len(fields) >= 2 and fields[0] and fields[0][0].isdigit():
                try:
                    return float(fields[0]), float(fields[1])
                except ValueError:
                    continue
        return None

    def metric(self, plugin_instance, type_, type_instance=None, plugin=PLUGIN):
        """Latest raw value of a metric, or None if not written yet."""
        line = self.metric_line(plugin_instance, type_, type_instance, plugin)
        return None if line is None else line[1]

    def counter(self, workflow, name):
        """Latest value of <host>/wedata_rerun-<workflow>/derive-<name>."""
        return self.metric(workflow, "derive", name)

    def gauge(self, name):
        """Latest value of the plugin-wide <host>/wedata_rerun_global/gauge-<name>."""
        return self.metric(None, "gauge", name, plugin=PLUGIN_GLOBAL)

    def queue_length(self):
        return self.metric(None, "queue_length", plugin=PLUGIN_GLOBAL)

    def latency(self, action, which="avg"):
        """<host>/wedata_rerun_api-<action>/response_time-<avg|max>: seconds of
        the answered requests of the last interval that had one."""
        return self.metric(action, "response_time", which, plugin=PLUGIN_API)

    def requests(self, action, outcome=None):
        """<host>/wedata_rerun_api-<action>/http_requests-<outcome>, or the sum
        of every outcome; None before the first is written."""
        values = [self.metric(action, "http_requests", o, plugin=PLUGIN_API)
                  for o in ((outcome,) if outcome else OUTCOMES)]
        return None if None in values else sum(values)

    def counters(self, workflow, names):
        return dict((n, self.counter(workflow, n)) for n in names)

    def list_metrics(self):
        """Identifiers (host/plugin/type) of every csv metric written so far."""
        out = []
        base = os.path.join(self.csv_dir, HOSTNAME)
        for folder in sorted(glob.glob(os.path.join(glob.escape(base), "*"))):
            for path in sorted(glob.glob(os.path.join(glob.escape(folder), "*"))):
                name = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", os.path.basename(path))
                ident = "%s/%s/%s" % (HOSTNAME, os.path.basename(folder), name)
                if ident not in out:
                    out.append(ident)
        return out

    def wait_counters(self, workflow, expected, timeout=10.0, after=None):
        """Waits until every derive-<name> of workflow equals expected[name]
        in the csv files (all at once), optionally only counting csv lines
        written at or after epoch `after`.  Returns the values seen."""
        def check():
            seen = {}
            for name, want in expected.items():
                line = self.metric_line(workflow, "derive", name)
                if line is None or (after is not None and line[0] < after):
                    return None
                seen[name] = line[1]
                if line[1] != want:
                    return None
            return seen
        return wait_until(
            check, timeout,
            message=lambda: "counters of %s to be %r; now %r" % (
                workflow, expected, self.counters(workflow, list(expected))),
            on_fail=self.output_tail)
