#!/usr/bin/env python3
"""Runs the stand-in self-tests and the collectd integration tests.

    python3 tests/integration/run_tests.py [--plugin build/wedata_rerun.so]
                                           [-k PATTERN] [--no-standin] [--keep]

Prints one line per test and closes with "N passed, N failed" (plus
", N skipped" when some were skipped); exits non-zero on any failure.
"""

import argparse
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
STANDIN_DIR = os.path.join(REPO_ROOT, "tests", "standin")


class CountingResult(unittest.TextTestResult):
    """Tracks a pass/fail/skip outcome per test (a failing subtest fails
    its test)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}
        self._started = {}

    def startTest(self, test):
        self._started[test.id()] = time.monotonic()
        super().startTest(test)

    def _set(self, test, outcome):
        key = test.id()
        if self.outcomes.get(key) == "failed":
            return
        self.outcomes[key] = outcome

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, "failed")

    def addError(self, test, err):
        super().addError(test, err)
        # Errors in setUpClass/tearDownModule come as _ErrorHolder objects.
        self._set(test, "failed")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test, "skipped")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, "passed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "failed")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.outcomes[test.id()] = "failed"

    def stopTest(self, test):
        super().stopTest(test)
        if test.id() not in self.outcomes:
            self.outcomes[test.id()] = "passed"


# Tests that mostly wait (an outage of minutes, credentials that expire
# over minutes) at a few requests a second: without -k they run in a second
# process beside the others, which keeps make test well inside CI's 30
# minutes; their timing checks are loose enough for a shared machine.
IDLE_TESTS = ("test_67_five_minute_outage", "test_07h_cvm_role_renewed_without_a_gap")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plugin", default=os.path.join("build", "wedata_rerun.so"),
                        help="the built plugin (default build/wedata_rerun.so, "
                        "relative to the repo root)")
    parser.add_argument("-k", dest="patterns", action="append", default=None,
                        help="only tests whose name contains this (repeatable)")
    parser.add_argument("--no-standin", action="store_true",
                        help="skip the stand-ins' self-tests (WeData API, "
                        "metadata service)")
    parser.add_argument("--keep", action="store_true",
                        help="keep collectd temp dirs (WEDATA_ITEST_KEEP=1)")
    parser.add_argument("--skip", action="append", default=[],
                        help="leave out tests whose name contains this")
    parser.add_argument("--no-parallel", action="store_true",
                        help="run the long idle tests in this process, in order")
    args = parser.parse_args(argv)

    plugin = args.plugin
    if not os.path.isabs(plugin):
        plugin = os.path.join(REPO_ROOT, plugin)
    os.environ["WEDATA_PLUGIN"] = plugin
    if args.keep:
        os.environ["WEDATA_ITEST_KEEP"] = "1"
    sys.path.insert(0, HERE)
    sys.path.insert(0, STANDIN_DIR)

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
    side = None
    skip = list(args.skip)
    if not args.patterns and not args.no_parallel:
        skip.extend(IDLE_TESTS)
        cmd = [sys.executable, os.path.abspath(__file__), "--plugin", plugin,
               "--no-standin", "--no-parallel"]
        for name in IDLE_TESTS:
            cmd += ["-k", name]
        side_log = os.path.join(REPO_ROOT, "build", "integration-idle.log")
        os.makedirs(os.path.dirname(side_log), exist_ok=True)
        side_out = open(side_log, "w")
        side = subprocess.Popen(cmd, stdout=side_out, stderr=subprocess.STDOUT)
        print("idle tests (%s) run beside the others; their output: %s"
              % (", ".join(IDLE_TESTS), side_log))
    suite = unittest.TestSuite()
    if not args.no_standin:
        # The stand-ins the integration tests drive: the WeData API and the
        # CVM metadata service (issue 12's role credentials).
        for module in ("test_standin", "test_metadata_server"):
            suite.addTests(loader.loadTestsFromName(module))
    # test_integration ends with its slow load test; the reliability suite
    # (issue 11) has its own module so that its classes stay together.
    for module in ("test_integration", "test_reliability", "test_state_faults",
                   "test_setups", "test_state_tool", "test_prometheus"):
        suite.addTests(loader.loadTestsFromName(module))
    if skip:
        suite = without(suite, skip)

    print("plugin: %s%s" % (plugin, "" if os.path.isfile(plugin) else "  (MISSING: build it first)"))
    sys.stdout.flush()
    start = time.monotonic()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                     resultclass=CountingResult)
    result = runner.run(suite)
    values = list(result.outcomes.values())
    passed, failed, skipped = (values.count("passed"), values.count("failed"),
                               values.count("skipped"))
    if not result.wasSuccessful() and failed == 0:
        failed = 1   # e.g. a module-level error that no test carried
    print("elapsed %.1fs" % (time.monotonic() - start))
    if failed:
        print("failed tests:")
        for key, outcome in sorted(result.outcomes.items()):
            if outcome == "failed":
                print("  " + key)
    if side is not None:
        side.wait()
        side_out.close()
        with open(side_log) as fh:
            text = fh.read()
        # Its one line per test, and the output of a failing one.
        print("--- idle tests (%s):" % side_log)
        print("\n".join(l for l in text.splitlines()
                        if " ... " in l or l.startswith(("FAIL", "ERROR", "Traceback",
                                                        "AssertionError", "harness."))))
        m = re.search(r"^(\d+) passed, (\d+) failed", text, re.M)
        if m is None or side.returncode != 0:
            print(text[-4000:])
        passed += int(m.group(1)) if m else 0
        failed += int(m.group(2)) if m else 1
        if m is None or side.returncode != 0:
            failed = max(failed, 1)
            result.outcomes["idle tests"] = "failed"
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.stdout.flush()
    return 0 if failed == 0 else 1


def without(suite, names):
    """suite without the tests whose id contains one of names."""
    out = unittest.TestSuite()
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            out.addTest(without(item, names))
        elif not any(n in item.id() for n in names):
            out.addTest(item)
    return out


if __name__ == "__main__":
    sys.exit(main())
