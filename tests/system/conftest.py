"""System tests run the real things: Open vSwitch, Mininet, the controller process."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import unavailable


@pytest.fixture(scope="session")
def real_ovs() -> None:
    if os.geteuid() != 0:
        unavailable("system tests need root")
    if not shutil.which("ovs-vsctl") or subprocess.run(["ovs-vsctl", "--timeout=3", "show"], capture_output=True).returncode != 0:
        unavailable("Open vSwitch is not running (make setup starts it)")
    try:
        import mininet.net  # noqa: F401
    except ImportError:
        unavailable("Mininet is not importable (Debian's python3 package, seen through the venv's system site packages)")
