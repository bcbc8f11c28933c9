"""The controller as a process of its own, for a lab: a port, spawn, await, stop.

The simulator and the real deployment both run `sdnlab controller FILE` next
to the lab they build; the OVS bridges connect to it over TCP on loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from host.preflight import HostError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 20) -> str | None:
    """Wait until the controller process `proc` accepts connections on 127.0.0.1:port.

    None once it does; otherwise why not, for the caller's own error message.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"the controller exited at start (status {proc.returncode})"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return None
        time.sleep(0.05)
    return f"the controller did not listen on port {port} within {timeout:.0f} s"


class ControllerProcess:
    """`sdnlab controller FILE --port PORT` in its own session, its output in `log`."""

    def __init__(self, topology_file: Path, log: Path, port: int | None = None, env: dict[str, str] | None = None):
        self.file = Path(topology_file)
        self.log = Path(log)
        self.port = port or free_port()
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def target(self) -> str:
        """What an OVS bridge is pointed at."""
        return f"tcp:127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        """Start it and wait until it listens; HostError (naming the log) if it does not."""
        self.spawn()
        self.wait(timeout)

    def spawn(self) -> int:
        """Start the process (in its own session, so a terminal's Ctrl-C goes to our caller alone); its pid."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sdnlab.cli", "controller", str(self.file), "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **self.env},
            )
        return self.proc.pid

    def wait(self, timeout: float = 20) -> None:
        """Until it listens; HostError (naming the log) if it exits or does not listen in time."""
        why = wait_listening(self.port, self.proc, timeout)
        if why:
            raise HostError(f"{why}; its log: {self.log}")

    def reload(self) -> None:
        """SIGHUP: the controller reads its file again."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, timeout: float = 20) -> None:
        self.stop()
        self.start(timeout)


def running_controller(pid: int, topology_file: str | Path) -> bool:
    """Whether `pid` is, right now, a live `sdnlab controller` for that file.

    A deployed lab's controller outlives the `up` that started it, so only its
    pid is recorded: the pid may since belong to another process (never signal
    that one), or be a zombie that nobody reaped (not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X") and b"controller" in argv and str(topology_file).encode() in argv


def stop_controller(pid: int, topology_file: str | Path, grace: float = 5) -> None:
    """SIGTERM a deployed lab's controller (not our child), SIGKILL after `grace` seconds; nothing if that pid is not it."""
    if not running_controller(pid, topology_file):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while running_controller(pid, topology_file):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)
