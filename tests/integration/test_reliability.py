"""The reliability suite (issue 11): what a hostile server, a kill -9 and a
broken disk do to the real collectd with the plugin.  Run through
run_tests.py like test_integration, whose PluginTestCase (stand-in, sink,
collectd daemons, the secrets check at tearDown) every class here uses.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

from test_integration import PluginTestCase  # noqa: E402,F401


def load_tests(loader, standard_tests, pattern):
    """The classes in the order they are defined."""
    suite = unittest.TestSuite()
    for cls in ():
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite
