"""Shared test helpers.

A test that needs something this machine lacks (Open vSwitch, Mininet, root)
skips with the reason on a developer's machine, but fails in CI (CI=true):
there the suite must really run everything it claims to.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOPOLOGIES = REPO / "topologies"


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI, always saying what is missing."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"cannot run in CI: {reason}")
    pytest.skip(reason)
