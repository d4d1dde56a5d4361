"""Shared by the Python benchmarks: the paths to the harness and the
stand-in, and the credentials and ids every benchmark uses (not real)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "standin"))

SECRET_ID = "AKIDbenchWedataRerun000000000000001"
SECRET_KEY = "bench-secret-key-not-real-0001"
PROJECT_ID = "1460947878944567296"
WORKFLOW_ID = "0fae8078-a7a7-4b67-afd1-8bf18e068dda"
