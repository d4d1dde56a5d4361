#!/usr/bin/env python3
"""Reproduces what the soak found: failure signals sent through unixsock
while collectd starts are answered "0 Success" and never reach the plugin.

collectd runs the plugins' init functions in the order they were loaded.
unixsock makes its socket in its init; this plugin loads its state and
registers its notification callback in its own.  When unixsock is loaded
first (the harness's order, and Debian's: conf.d snippets come last), a
PUTNOTIF in between reaches no plugin.  The window grows with the state
file, so the state here holds --runs idle runs.

For each order (unixsock first, then wedata_rerun first) it starts
collectd with that state, sends --signals PUTNOTIFs over one connection as
soon as the socket accepts, and prints how many the plugin counted
(derive-signals, DryRun: nothing is sent anywhere).

    init_window.py [--plugin build/wedata_rerun.so] [--runs 100000] [--signals 400]
"""

import argparse
import os
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402

PROJECT_ID = "1460947878944567296"
WORKFLOW_ID = "0fae8078-a7a7-4b67-afd1-8bf18e068dda"
WF = "wf"


class PluginFirst(harness.Collectd):
    """The same collectd, with wedata_rerun loaded before unixsock."""

    def config_text(self):
        text = super().config_text()
        at = text.index("PluginDir")
        ours, text = text[at:], text[:at]
        before = text.index("LoadPlugin unixsock")
        # PluginDir holds for the LoadPlugin lines after it: back to
        # collectd's own directory for unixsock and csv.
        return (text[:before] + ours + '\nPluginDir "/usr/lib/collectd"\n' +
                text[before:])


def write_state(path, runs):
    """A snapshot of `runs` idle runs, updated now (none is pruned)."""
    now = int(time.time() * 1000)
    with open(path, "w") as fh:
        fh.write('{"version":2,"kind":"snapshot","saved_ms":%d,"journal":1}\n' % now)
        for _ in range(runs):
            fh.write('{"run":{"workflow":"%s","execution_id":"%s","state":"idle",'
                     '"in_flight":"rerun","attempts":1,"tries":1,"request_retries":0,'
                     '"verify_tries":0,"resigned":false,"gave_up":false,'
                     '"first_signal_ms":%d,"last_signal_ms":%d,"last_try_ms":%d,'
                     '"next_at_ms":0,"updated_ms":%d,"last_async_id":"","last_error":""}}\n'
                     % (WF, uuid.uuid4(), now, now, now, now))


def trial(cls, plugin, runs, signals):
    conf = harness.plugin_block(
        [("Endpoint", "http://127.0.0.1:9"), ("Region", "ap-guangzhou"),
         ("SecretId", "AKIDinitWindow0000000000000000000001"),
         ("SecretKey", "init-window-not-a-secret"), ("DryRun", True)],
        [harness.workflow_block(WF, PROJECT_ID, WORKFLOW_ID, 1)])
    c = cls(plugin, conf, prefix="wedata-soak-initwindow-")
    try:
        write_state(c.default_state_file, runs)
        sock = c.spawn_and_connect()
        fh = sock.makefile("rb")
        answered = 0
        for _ in range(signals):
            sock.sendall(c.putnotif_line(plugin="wedata", meta={
                "WorkflowExecutionId": str(uuid.uuid4()),
                "WorkflowId": WORKFLOW_ID}).encode() + b"\n")
            answered += fh.readline().startswith(b"0 Success")
        sock.close()
        harness.wait_until(lambda: c.counter(WF, "signals") is not None, timeout=30,
                           message="the plugin's first counters", on_fail=c.output_tail)
        time.sleep(2)    # every signal taken in is counted by then
        seen = c.counter(WF, "signals")
        c.stop()
        return answered, int(seen)
    finally:
        c.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plugin", default=harness.DEFAULT_PLUGIN_PATH)
    ap.add_argument("--runs", type=int, default=100000)
    ap.add_argument("--signals", type=int, default=400)
    args = ap.parse_args()
    plugin = os.path.abspath(args.plugin)
    for label, cls in (("unixsock loaded first", harness.Collectd),
                       ("wedata_rerun loaded first", PluginFirst)):
        answered, seen = trial(cls, plugin, args.runs, args.signals)
        print("%-26s %d runs in the state: %d PUTNOTIFs answered 0 Success, "
              "%d counted by the plugin" % (label, args.runs, answered, seen))


if __name__ == "__main__":
    main()
