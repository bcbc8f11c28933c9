"""The `sdnlab controller` process itself: start, listen, stop cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host.control import free_port
from tests.conftest import TOPOLOGIES

SDNLAB = str(Path(sys.executable).parent / "sdnlab")


def start(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([SDNLAB, "controller", str(TOPOLOGIES / "two-nodes.yaml"), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("controller did not listen")


@pytest.mark.usefixtures("real_ovs")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly_without_traceback(sig):
    """How fast it stops is measured by bench/recovery_bench.py; here, that it stops, cleanly, on either signal."""
    port = free_port()
    proc = start(port)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "listening on 127.0.0.1" in err and "stopping" in err


@pytest.mark.usefixtures("real_ovs")
def test_port_in_use_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([SDNLAB, "controller", str(TOPOLOGIES / "two-nodes.yaml"), "--port", str(port)],
                             capture_output=True, text=True, timeout=20)
    assert out.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr


def test_bad_topology_is_refused_before_listening(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbridges: {}\n")
    out = subprocess.run([SDNLAB, "controller", str(bad)], capture_output=True, text=True, timeout=20)
    assert out.returncode == 2 and "at least one bridge" in out.stderr
