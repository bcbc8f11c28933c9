"""QEMU guests: start one on taps, wait until it is up, run commands in it, stop it.

Each guest has a directory with its console log (ttyS0, kept for people),
a command socket (ttyS1, a shell), a QMP socket and a pid file. KVM is used
when it boots a guest here; otherwise TCG (found out once, and said).

QEMU opens its taps, sockets and files as root, then runs as `nobody` under
its seccomp sandbox (`-sandbox on`, obsolete calls and resource control
denied; `spawn=deny` and `elevateprivileges=deny` are left out because
`-daemonize` and `-runas` need them on QEMU 7.2). The guest's console log is
capped by a file size limit on the QEMU process: past it, writes fail and
the guest runs on.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import resource
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deploy import guestimage
from deploy.endpoint import EndpointDriver
from host import netlink
from sdnlab.model import Endpoint, Nic

if TYPE_CHECKING:
    from deploy.lab import Lab

LOG = logging.getLogger("sdnlab.deploy")
ACCEL_CACHE = Path("/run/sdnlab/accel")
CONSOLE_LOG_CAP = 1 << 20  # bytes of a guest's console log kept: a guest printing forever cannot fill the host's disk
RUN_AS = "nobody"
SANDBOX = "on,obsolete=deny,resourcecontrol=deny"


class GuestError(Exception):
    pass


@dataclass(frozen=True)
class GuestNic:
    tap: str
    mac: str
    address: str | None  # "10.0.0.1/24"
    vlans: tuple[int, ...] = ()  # a trunk NIC's VLANs: the guest makes <nic>.<vlan> for each
    mtu: int | None = None  # told to the guest through virtio (host_mtu), which its driver takes as the NIC's MTU


def qemu_binary() -> str:
    return os.environ.get("SDNLAB_QEMU", "qemu-system-x86_64")


def start(directory: Path, name: str, nics: list[GuestNic], accel: str, memory_mb: int = 128) -> int:
    """Start a guest in the background; returns its pid. The taps must exist."""
    kernel, initrd = guestimage.build()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cmdline = ["console=ttyS0", "quiet", "panic=-1", f"sdnlab.hostname={name}"]
    cmdline += [",".join([f"sdnlab.nic={n.mac}", n.address or "none", *map(str, n.vlans)]) for n in nics]
    args = [
        qemu_binary(), "-name", name, "-accel", accel, "-m", str(memory_mb), "-display", "none", "-monitor", "none", "-no-reboot",
        "-kernel", str(kernel), "-initrd", str(initrd), "-append", " ".join(cmdline),
        "-chardev", f"socket,id=console,path={directory}/console.sock,server=on,wait=off,logfile={directory}/console.log",
        "-serial", "chardev:console",
        "-chardev", f"socket,id=shell,path={directory}/shell.sock,server=on,wait=off",
        "-serial", "chardev:shell",
        "-qmp", f"unix:{directory}/qmp.sock,server=on,wait=off",
        "-pidfile", f"{directory}/qemu.pid", "-daemonize", "-sandbox", SANDBOX, "-runas", RUN_AS,
    ]
    if accel == "kvm":
        args += ["-cpu", "host"]
    for i, nic in enumerate(nics):
        args += ["-netdev", f"tap,id=n{i},ifname={nic.tap},script=no,downscript=no",
                 "-device", f"virtio-net-pci,netdev=n{i},mac={nic.mac}" + (f",host_mtu={nic.mtu}" if nic.mtu else "")]
    out = subprocess.run(args, capture_output=True, text=True, preexec_fn=_confined)
    if out.returncode != 0:
        raise GuestError(f"QEMU did not start guest {name}: {out.stderr.strip() or out.stdout.strip() or f'exit status {out.returncode}'}")
    for sock in directory.glob("*.sock"):
        os.chmod(sock, 0o600)
    return int((directory / "qemu.pid").read_text().strip())


def _confined() -> None:
    """In the QEMU child before exec: files and sockets for root alone, and no file past the console log cap."""
    os.umask(0o077)
    resource.setrlimit(resource.RLIMIT_FSIZE, (CONSOLE_LOG_CAP, CONSOLE_LOG_CAP))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails (EFBIG) instead of killing QEMU


def ready(directory: Path, name: str) -> bool:
    """Whether the guest's init has said READY on its console; an error if the guest died."""
    log = directory / "console.log"
    if log.exists() and guestimage.READY in log.read_text(errors="replace"):
        return True
    if not alive(directory):
        raise GuestError(f"guest {name} stopped while booting; its console log: {log}")
    return False


def wait_ready(directory: Path, name: str, timeout: float = 90.0) -> float:
    """Seconds until the guest's init reported READY on its console."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ready(directory, name):
            return time.monotonic() - started
        time.sleep(0.1)
    raise GuestError(f"guest {name} did not come up within {timeout:.0f} s; its console log: {directory / 'console.log'}")


def run(directory: Path, command: str, timeout: float = 60.0) -> tuple[int, str]:
    """Run a shell command in the guest; (exit status, output)."""
    marker = f"__SDNLAB_{uuid.uuid4().hex}__"
    with open(directory / "shell.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one command at a time per guest
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(directory / "shell.sock"))
            sock.sendall(f"{command} 2>&1; echo {marker}$?\n".encode())
            data = b""
            deadline = time.monotonic() + timeout
            while True:
                found = re.search(rf"{marker}(\d+)".encode(), data)
                if found:
                    return int(found.group(1)), data[: found.start()].decode(errors="replace").replace("\r", "")
                if time.monotonic() > deadline:
                    raise GuestError(f"command timed out after {timeout:.0f} s in the guest")
                chunk = sock.recv(65536)
                if not chunk:
                    raise GuestError("the guest's shell closed")
                data += chunk


def stop(directory: Path, timeout: float = 5.0) -> None:
    """Quit the guest through QMP, or kill it."""
    if not alive(directory):
        return
    number = pid(directory)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(directory / "qmp.sock"))
            sock.recv(4096)  # greeting
            for cmd in ({"execute": "qmp_capabilities"}, {"execute": "quit"}):
                sock.sendall(json.dumps(cmd).encode() + b"\n")
                sock.recv(4096)
    except OSError:
        pass
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{number}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if Path(f"/proc/{number}").exists():
        os.kill(number, 9)


def alive(directory: Path) -> bool:
    """Whether the guest's QEMU runs: the pid in its pid file is a QEMU started for this directory (not a reused pid)."""
    number = pid(directory)
    if number is None:
        return False
    try:
        argv = Path(f"/proc/{number}/cmdline").read_bytes()
    except OSError:
        return False
    return f"{directory}/qemu.pid".encode() in argv


def pid(directory: Path) -> int | None:
    try:
        return int((directory / "qemu.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def accelerator(workdir: Path) -> str:
    """'kvm' if KVM boots a guest on this host, else 'tcg'. Probed once per boot, then cached."""
    forced = os.environ.get("SDNLAB_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    if ACCEL_CACHE.exists():
        cached_boot, _, accel = ACCEL_CACHE.read_text().partition(" ")
        if cached_boot == boot_id and accel in ("kvm", "tcg"):
            return accel
    accel = "tcg"
    why = "no /dev/kvm"
    if Path("/dev/kvm").exists():
        probe = workdir / "kvm-probe"
        try:
            start(probe, "kvmprobe", [], "kvm")
            wait_ready(probe, "kvmprobe", timeout=20)
            accel, why = "kvm", ""
        except GuestError as exc:
            why = f"/dev/kvm is there but a guest did not boot with it ({exc})"
        finally:
            stop(probe)
    LOG.warning("QEMU guests use %s%s", "KVM" if accel == "kvm" else "TCG (software emulation)", f": {why}" if why else "")
    ACCEL_CACHE.parent.mkdir(parents=True, exist_ok=True)
    ACCEL_CACHE.write_text(f"{boot_id} {accel}")
    return accel


class QemuDriver(EndpointDriver):
    """`type: kvm`: a QEMU guest (KVM when it boots with it here, TCG otherwise) on taps."""

    kind = "kvm"
    noun = "guest"
    booting = True
    vlan_interfaces = True

    def __init__(self):
        self.accel = ""

    def needs(self) -> list[str]:
        return [qemu_binary(), "cpio", "busybox"]

    def make_nic(self, lab: Lab, endpoint: Endpoint, nic: Nic) -> str:
        tap = lab.names.nic(endpoint, nic.index)
        netlink.add_tap(tap, lab=lab.topology.name)
        return tap

    def prepare(self, lab: Lab, endpoints: list[Endpoint]) -> None:
        self.accel = accelerator(lab.directory)

    def record(self, lab: Lab, endpoint: Endpoint) -> dict:
        return {"name": endpoint.name, "dir": str(self.directory(lab, endpoint.name))}

    def start(self, lab: Lab, endpoint: Endpoint, record: dict) -> None:
        nics = [GuestNic(lab.names.nic(endpoint, n.index), n.mac, str(n.ip) if n.ip else None, tuple(sorted(n.trunks)), lab.mtu)
                for n in endpoint.nics]
        start(Path(record["dir"]), endpoint.name, nics, self.accel)

    def ready(self, lab: Lab, record: dict) -> bool:
        return ready(Path(record["dir"]), record["name"])

    def up_line(self, lab: Lab, record: dict) -> str:
        return f"guest {record['name']} booted ({self.accel})"

    def console_log(self, record: dict) -> Path | None:
        return Path(record["dir"]) / "console.log"

    def run(self, lab: Lab, endpoint: str, command: str, timeout: float = 60) -> tuple[int, str]:
        return run(self.directory(lab, endpoint), command, timeout)

    def remove(self, record: dict) -> None:
        stop(Path(record["dir"]))

    def alive(self, record: dict) -> bool:
        return alive(Path(record["dir"]))

    @staticmethod
    def directory(lab: Lab, endpoint: str) -> Path:
        """The guest's console log, sockets and pid file."""
        return lab.directory / "guests" / endpoint
