#!/usr/bin/env python3
"""Runs the stand-in self-tests and the collectd integration tests.

    python3 tests/integration/run_tests.py [--plugin build/wedata_rerun.so]
                                           [-k PATTERN] [--no-standin] [--keep]

Prints one line per test and closes with "N passed, N failed" (plus
", N skipped" when some were skipped); exits non-zero on any failure.
"""

import argparse
import os
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
    suite = unittest.TestSuite()
    if not args.no_standin:
        # The stand-ins the integration tests drive: the WeData API and the
        # CVM metadata service (issue 12's role credentials).
        for module in ("test_standin", "test_metadata_server"):
            suite.addTests(loader.loadTestsFromName(module))
    # test_integration ends with its slow load test; the reliability suite
    # (issue 11) has its own module so that its classes stay together.
    for module in ("test_integration", "test_reliability", "test_state_faults"):
        suite.addTests(loader.loadTestsFromName(module))

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
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.stdout.flush()
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
