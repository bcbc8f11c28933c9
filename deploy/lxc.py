"""LXC containers with LXC's own tools, from the offline busybox template.

Each NIC is a veth made beforehand (so the host side can be bound in OVSDB
first) whose container side LXC moves in as a `phys` interface, renamed ethN.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.endpoint import EndpointDriver
from sdnlab.model import Endpoint

if TYPE_CHECKING:
    from deploy.lab import Lab

LXC_PATH = Path("/var/lib/lxc")


class ContainerError(Exception):
    pass


def _run(*args: str, timeout: float = 60) -> str:
    out = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise ContainerError(f"{' '.join(args[:3])} failed: {(out.stderr or out.stdout).strip()}")
    return out.stdout


def create(name: str, nics: list[tuple[str, str]]) -> None:
    """A busybox container whose NICs are the given (host interface to move in, MAC) pairs, in order."""
    _run("lxc-create", "-n", name, "-t", "busybox", timeout=120)
    config = LXC_PATH / name / "config"
    kept = [line for line in config.read_text().splitlines() if not line.strip().startswith("lxc.net.")]
    for i, (iface, mac) in enumerate(nics):
        kept += [f"lxc.net.{i}.type = phys", f"lxc.net.{i}.link = {iface}", f"lxc.net.{i}.name = eth{i}",
                 f"lxc.net.{i}.hwaddr = {mac}", f"lxc.net.{i}.flags = up"]
    config.write_text("\n".join(kept) + "\n")


def start(name: str, addresses: list[str | None]) -> None:
    _run("lxc-start", "-n", name, "-d")
    _run("lxc-wait", "-n", name, "-s", "RUNNING", "-t", "20")
    # The busybox template's init does not apply lxc.net.N.ipv4.address; set it ourselves.
    for i, address in enumerate(addresses):
        if address:
            _run("lxc-attach", "-n", name, "--", "ip", "addr", "add", address, "dev", f"eth{i}")


def run(name: str, command: str, timeout: float = 60) -> tuple[int, str]:
    out = subprocess.run(["lxc-attach", "-n", name, "--", "sh", "-c", command], capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout + out.stderr


def running(name: str) -> bool:
    out = subprocess.run(["lxc-info", "-n", name, "-s", "-H"], capture_output=True, text=True)
    return out.stdout.strip() == "RUNNING"


def exists(name: str) -> bool:
    return (LXC_PATH / name / "config").exists()


def destroy(name: str) -> None:
    """Stop (the phys NICs go back to the host) and delete; nothing if it is already gone."""
    if not exists(name):
        return
    subprocess.run(["lxc-stop", "-n", name, "-k"], capture_output=True, timeout=60)
    _run("lxc-destroy", "-n", name, timeout=60)


class LxcDriver(EndpointDriver):
    """`type: lxc`: a busybox LXC container, its NICs veths moved in as `phys`."""

    kind = "lxc"
    noun = "container"

    def needs(self) -> list[str]:
        return ["lxc-create", "lxc-start", "lxc-attach"]

    def record(self, lab: Lab, endpoint: Endpoint) -> dict:
        return {"name": lab.names.container(endpoint.name)}

    def start(self, lab: Lab, endpoint: Endpoint, record: dict) -> None:
        create(record["name"], [(lab.names.peer(endpoint, nic.index), nic.mac) for nic in endpoint.nics])
        start(record["name"], [str(nic.ip) if nic.ip else None for nic in endpoint.nics])

    def run(self, lab: Lab, endpoint: str, command: str, timeout: float = 60) -> tuple[int, str]:
        return run(lab.names.container(endpoint), command, timeout)

    def shell_hint(self, lab: Lab, endpoint: str) -> str:
        return f"lxc-attach -n {lab.names.container(endpoint)}"

    def remove(self, record: dict) -> None:
        destroy(record["name"])

    def alive(self, record: dict) -> bool:
        return running(record["name"])
