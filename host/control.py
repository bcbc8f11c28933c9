"""The controller as a process of its own, for a lab: its channel, a port,
spawn, await, stop.

The simulator and the real deployment both run `sdnlab controller FILE` next
to the lab they build; the OVS bridges connect to it on loopback, over TLS
with both ends authenticated (host/pki.py) unless a lab is built with
`tls=False`. The controller binds its own socket and writes the port it
holds on a pipe we gave it: the port comes from it alone, so a process that
grabs a port we guessed can never be taken for it. With TLS, waiting also
completes a handshake as a switch would.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from host import nsenter, pki
from host.ovsdb import ForeignSsl, clear_ssl, set_ssl
from host.preflight import HostError


@dataclass(frozen=True)
class ChannelTls:
    """A lab's controller files and the host's switch files: both ends of its OpenFlow channel."""

    lab: pki.LabTls
    host: pki.HostTls

    @property
    def directory(self) -> Path:
        """What `sdnlab controller --tls-dir` gets."""
        return self.lab.controller_key.parent

    def switch_context(self) -> ssl.SSLContext:
        """TLS as this host's switches speak it to this lab's controller."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False  # OVS does not check names either: the lab CA is what is trusted
        ctx.load_verify_locations(str(self.lab.ca_cert))
        ctx.load_cert_chain(str(self.host.switch_cert), str(self.host.switch_key))
        return ctx


def lab_channel(lab_id: str, directory: Path) -> ChannelTls:
    """Make the lab's keys in `directory` and add its CA to the bundle the switches trust; the switches'
    OVS is not touched (a rehearsal's nodes point their own at it)."""
    host = pki.host_tls()
    lab = pki.make_lab_tls(directory, lab_id)
    # The lab's CA goes into the bundle before OVS is (re)pointed at it: OVS must never load a bundle that
    # lacks it, or its first handshakes with this lab's controller fail until it reads the file again.
    pki.add_lab_ca(lab)
    return ChannelTls(lab, host)


def secure_channel(api, lab_id: str, directory: Path) -> ChannelTls:
    """Make the lab's keys in `directory`, trust its controller from this host's switches, and point OVS at the
    switch key (OVS has one SSL configuration: one that is not sdnlab's is never replaced)."""
    channel = lab_channel(lab_id, directory)
    try:
        trust_switches(api, channel.host)
    except HostError:
        pki.remove_lab_ca(lab_id)
        raise
    return channel


def trust_switches(api, host: pki.HostTls | None = None) -> None:
    """Point OVS at the switch key and the bundle. Alone (without lab_channel), for a node whose lab's controller
    runs on another host: the lab CA reaches the bundle through a PKI directory the hosts share (SDNLAB_PKI)."""
    host = host or pki.host_tls()
    try:
        if set_ssl(api, str(host.switch_key), str(host.switch_cert), str(host.bundle)):
            # ovs-vswitchd keeps a key it once loaded until the key file looks newer than it (seen with
            # Open vSwitch 3.1): touch the certificate, then the key, so it loads ours.
            for path in (host.switch_cert, host.switch_key):
                os.utime(path)
    except ForeignSsl as exc:
        raise HostError(f"{exc}; build the lab without TLS (--no-tls) or remove that configuration (ovs-vsctl del-ssl)") from None


def release_channel(api, lab_id: str) -> None:
    """Stop trusting the lab's controller; the last lab to go takes sdnlab's SSL configuration with it."""
    if not pki.DEFAULT_ROOT.exists():
        return
    pki.remove_lab_ca(lab_id)
    if not pki.trusted_labs():
        clear_ssl(api)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 20, tls: ssl.SSLContext | None = None,
                   host: str = "127.0.0.1") -> str | None:
    """Wait until the controller process `proc` accepts connections on host:port
    (with `tls`, until a handshake as a switch proves the listener holds the lab's controller key).

    None once it does; otherwise why not, for the caller's own error message.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"the controller exited at start (status {proc.returncode})"
        with socket.socket() as s:
            s.settimeout(2)
            if s.connect_ex((host, port)) == 0:
                if tls is None:
                    return None
                try:
                    with tls.wrap_socket(s):
                        return None
                except (ssl.SSLError, OSError):
                    pass  # not ours, or not ready: keep waiting while our process lives
        time.sleep(0.05)
    return f"the controller did not listen on port {port} within {timeout:.0f} s"


def read_port(fd: int, proc: subprocess.Popen, timeout: float = 20) -> tuple[int | None, str | None]:
    """The port the controller `proc` reports on the pipe `fd` once it listens: (port, None), or (None, why not).
    (What follows the port on its line, the metrics address, is `read_report`'s.)"""
    report, why = read_report(fd, proc, timeout)
    return (report[0], None) if report else (None, why)


def read_report(fd: int, proc: subprocess.Popen, timeout: float = 20) -> tuple[tuple[int, str | None] | None, str | None]:
    """((port, metrics address or None), None) as the controller reports them once it listens, or (None, why not)."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, f"the controller did not report listening within {timeout:.0f} s"
        if not select.select([fd], [], [], left)[0]:
            continue
        chunk = os.read(fd, 64)
        if not chunk:  # it closed the pipe, or exited, without a port
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                return None, "the controller closed its report pipe without a port"
            return None, f"the controller exited at start (status {proc.returncode})"
        data += chunk
    line, _, extra = data.split(b"\n", 1)[0].partition(b" ")
    if not line.isdigit() or not 0 < int(line) < 65536:
        return None, f"the controller reported {line[:40]!r}, not a port"
    return (int(line), extra.decode(errors="replace") or None), None


class ControllerProcess:
    """`sdnlab controller FILE --port PORT` in its own session, its output in `log`.

    Without a port it takes any free one, and `port` is what it reported once
    it listens; a restart asks for that same port again (the bridges point at it)."""

    host = "127.0.0.1"  # where it listens, and where the bridges reach it

    def __init__(self, topology_file: Path, log: Path, port: int | None = None, env: dict[str, str] | None = None,
                 tls: ChannelTls | None = None, metrics: str | None = None, host: str | None = None, netns: str | None = None):
        self.host = host or self.host
        self.netns = netns  # a rehearsal's controller runs on an emulated host of its own (host/nsenter.py)
        self.metrics = metrics  # [HOST:]PORT to serve Prometheus metrics on; once it runs, `metrics_address` is where it does
        self.metrics_address: str | None = None
        self.file = Path(topology_file)
        self.log = Path(log)
        self.port = port or 0
        self.env = env or {}
        self.tls = tls
        self.proc: subprocess.Popen | None = None
        self._report: int | None = None

    def command(self, report_fd: int) -> list[str]:
        """The command line that starts it, reporting its port on `report_fd`."""
        tls = ["--tls-dir", str(self.tls.directory)] if self.tls else []
        metrics = ["--metrics", self.metrics] if self.metrics else []
        return [*nsenter.prefix(self.netns), sys.executable, "-m", "sdnlab.cli", "controller", str(self.file), "--host", self.host, "--port", str(self.port),
                "--ready-fd", str(report_fd), *tls, *metrics]

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def target(self) -> str:
        """What an OVS bridge is pointed at."""
        return f"{'ssl' if self.tls else 'tcp'}:{self.host}:{self.port}"

    def start(self, timeout: float = 20) -> None:
        """Start it and wait until it listens; HostError (naming the log) if it does not."""
        self.spawn()
        self.wait(timeout)

    def spawn(self) -> int:
        """Start the process (in its own session, so a terminal's Ctrl-C goes to our caller alone); its pid."""
        self.log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Never through a link planted at the log's name, and readable by root alone.
        fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        report, write_end = os.pipe()
        try:
            with os.fdopen(fd, "w") as out:
                self.proc = subprocess.Popen(
                    self.command(write_end),
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **self.env},
                    pass_fds=(write_end,),
                )
        except BaseException:
            os.close(report)
            raise
        finally:
            os.close(write_end)  # the child's copy is the only writer: EOF tells us it is gone
        self._report = report
        return self.proc.pid

    def wait(self, timeout: float = 20) -> None:
        """Until it listens; HostError (naming the log) if it exits or does not listen in time."""
        try:
            report, why = read_report(self._report, self.proc, timeout)
        finally:
            os.close(self._report)
            self._report = None
        port, self.metrics_address = report or (None, None)
        if self.metrics_address and self.metrics and self.metrics.endswith(":0"):
            self.metrics = self.metrics_address  # a restart serves them where they were
        if why is None and self.port and port != self.port:
            why = f"the controller reported port {port}, not the {self.port} it was asked for"
        if why is None and self.tls:
            with nsenter.inside(self.netns):
                why = wait_listening(port, self.proc, timeout, self.tls.switch_context(), self.host)
        if why:
            raise HostError(f"{why}; its log: {self.log}")
        self.port = port

    def reload(self) -> None:
        """SIGHUP: the controller reads its file again."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self) -> None:
        if self._report is not None:
            os.close(self._report)
            self._report = None
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


def process_start(pid: int) -> int | None:
    """When a process started (clock ticks since boot, /proc/PID/stat field 22): with the pid, its identity."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def running_controller(pid: int, topology_file: str | Path, started: int | None = None) -> bool:
    """Whether `pid` is, right now, a live `sdnlab controller` for that file (and started at `started`).

    A deployed lab's controller outlives the `up` that started it, so only its
    pid is recorded: the pid may since belong to another process (never signal
    that one), or be a zombie that nobody reaped (not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    if started is not None and process_start(pid) != started:
        return False
    return state not in ("Z", "X") and b"controller" in argv and str(topology_file).encode() in argv


def stop_controller(pid: int, topology_file: str | Path, started: int | None = None, grace: float = 5) -> None:
    """SIGTERM a deployed lab's controller (not our child), SIGKILL after `grace` seconds; nothing if that pid is not it."""
    if not running_controller(pid, topology_file, started):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while running_controller(pid, topology_file, started):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)
