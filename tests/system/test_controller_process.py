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


def test_a_process_holding_the_asked_port_is_never_taken_for_the_controller(tmp_path):
    """The squatting attack: before, a port picked and released could be taken by anyone, and any listener
    there was accepted as the lab's controller. Now the controller binds it and reports it, or fails."""
    from host.control import ControllerProcess
    from host.errors import HostError

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        ctl = ControllerProcess(TOPOLOGIES / "two-nodes.yaml", tmp_path / "controller.log", port=port)
        try:
            with pytest.raises(HostError, match="exited at start"):
                ctl.start(timeout=20)
        finally:
            ctl.stop()
    assert f"cannot listen on 127.0.0.1:{port}" in (tmp_path / "controller.log").read_text()


def test_it_reports_the_port_it_holds_and_keeps_it_across_a_restart(tmp_path):
    from host.control import ControllerProcess

    ctl = ControllerProcess(TOPOLOGIES / "two-nodes.yaml", tmp_path / "controller.log")
    try:
        ctl.start(timeout=20)
        port = ctl.port
        with socket.socket() as s, pytest.raises(OSError):
            s.bind(("127.0.0.1", port))  # held, and by our controller:
        assert f"listening on 127.0.0.1:{port}" in (tmp_path / "controller.log").read_text()
        ctl.restart(timeout=20)
        assert ctl.port == port
    finally:
        ctl.stop()
