"""Lets pytest import the policy and the SDK from the checkout, with
nothing installed: `python3 -m pytest tests/python-policy`."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent / "sdk" / "python")]
