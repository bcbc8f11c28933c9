"""LXC containers with LXC's own tools, from the offline busybox template.

Containers are unprivileged, as Proxmox makes them by default: root inside is
a host uid from root's /etc/subuid range, with LXC's common seccomp policy and
the capabilities a lab endpoint never needs dropped. Each NIC is a veth made
beforehand (so the host side can be bound in OVSDB first) whose container side
LXC moves in as a `phys` interface, renamed ethN.

The container's own init configures its addresses and then writes a marker
file: that, not LXC's RUNNING state, is when it is ready. (The template's
init ran a DHCP client whose first act is to flush eth0's addresses, racing
an address set from outside: a lab built on a loaded machine then lost it.)
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.endpoint import EndpointDriver
from host.preflight import container_ids
from sdnlab.model import Endpoint

if TYPE_CHECKING:
    from deploy.lab import Lab

LXC_PATH = Path("/var/lib/lxc")
READY = "sdnlab-ready"  # written at the root of the container's filesystem by its init, last
# Beyond what the template drops: nothing a lab endpoint does needs them, and root inside should have no way to them.
CAP_DROP = "sys_admin mknod sys_rawio sys_boot sys_ptrace sys_module sys_time mac_admin mac_override"


class ContainerError(Exception):
    pass


def _run(*args: str, timeout: float = 60) -> str:
    out = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise ContainerError(f"{' '.join(args[:3])} failed: {(out.stderr or out.stdout).strip()}")
    return out.stdout


def base_config(first_id: int) -> str:
    """What `lxc-create` is given, so that the template builds a rootfs owned by the mapped ids."""
    return "\n".join([
        "lxc.include = /usr/share/lxc/config/common.conf",  # LXC's seccomp policy and device rules
        "lxc.include = /usr/share/lxc/config/userns.conf",
        f"lxc.idmap = u 0 {first_id} 65536",
        f"lxc.idmap = g 0 {first_id} 65536",
    ]) + "\n"


def nic_config(nics: list[tuple[str, str, str]]) -> list[str]:
    """LXC's lines for (interface on the host, its name inside, MAC) in order, each moved in as `phys`."""
    lines = [f"lxc.cap.drop = {CAP_DROP}"]
    for i, (iface, name, mac) in enumerate(nics):
        lines += [f"lxc.net.{i}.type = phys", f"lxc.net.{i}.link = {iface}", f"lxc.net.{i}.name = {name}",
                  f"lxc.net.{i}.hwaddr = {mac}", f"lxc.net.{i}.flags = up"]
    return lines


def init_script(addresses: list[tuple[str, str]]) -> str:
    """The container's /etc/init.d/rcS: its (address, interface) pairs, then the ready marker; no DHCP client."""
    lines = ["#!/bin/sh", "/bin/mount -a", "ip link set lo up"]
    lines += [f"ip addr add {address} dev {name}" for address, name in addresses]
    lines += [f"echo ready > /{READY}"]
    return "\n".join(lines) + "\n"


def create(name: str, nics: list[tuple[str, str, str]], addresses: list[tuple[str, str]]) -> None:
    """An unprivileged busybox container with the given interfaces ((host interface to move in, name inside,
    MAC), in order) and addresses ((address, interface name))."""
    first_id = container_ids()
    with tempfile.NamedTemporaryFile("w", prefix="sdnlab-lxc-", suffix=".conf") as conf:
        conf.write(base_config(first_id))
        conf.flush()
        _run("lxc-create", "-n", name, "-f", conf.name, "-t", "busybox", timeout=120)
    config = LXC_PATH / name / "config"
    kept = [line for line in config.read_text().splitlines() if not line.strip().startswith("lxc.net.")]
    config.write_text("\n".join(kept + nic_config(nics)) + "\n")
    rcs = LXC_PATH / name / "rootfs" / "etc" / "init.d" / "rcS"
    fd = os.open(rcs, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)  # no container has run yet; still, never through a link
    with os.fdopen(fd, "w") as out:
        out.write(init_script(addresses))
    os.chown(rcs, first_id, first_id)


def start(name: str) -> None:
    _run("lxc-start", "-n", name, "-d")


def ready(name: str) -> bool:
    """Whether the container's init has configured it; an error if it stopped."""
    try:
        os.lstat(LXC_PATH / name / "rootfs" / READY)  # whatever root inside put there, it is never followed
        return True
    except FileNotFoundError:
        pass
    if not running(name):
        raise ContainerError(f"container {name} stopped while starting; see lxc-start -n {name} -F -l DEBUG")
    return False


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
    """`type: lxc`: an unprivileged busybox LXC container, its NICs veths moved in as `phys`."""

    kind = "lxc"
    noun = "container"
    booting = True

    def needs(self) -> list[str]:
        return ["lxc-create", "lxc-start", "lxc-attach"]

    def prepare(self, lab: Lab, endpoints: list[Endpoint]) -> None:
        container_ids()  # before the first container: a host without the id range is told how to set it up

    def record(self, lab: Lab, endpoint: Endpoint) -> dict:
        return {"name": lab.names.container(endpoint.name)}

    def start(self, lab: Lab, endpoint: Endpoint, record: dict) -> None:
        inside = [(iface, name, nic.mac, address) for nic in endpoint.nics for iface, name, address in lab.inside(endpoint, nic)]
        create(record["name"], [(iface, name, mac) for iface, name, mac, _ in inside],
               [(address, name) for _, name, _, address in inside if address])
        start(record["name"])

    def ready(self, lab: Lab, record: dict) -> bool:
        return ready(record["name"])

    def up_line(self, lab: Lab, record: dict) -> str:
        return f"container {record['name']} running (unprivileged)"

    def run(self, lab: Lab, endpoint: str, command: str, timeout: float = 60) -> tuple[int, str]:
        return run(lab.names.container(endpoint), command, timeout)

    def shell_hint(self, lab: Lab, endpoint: str) -> str:
        return f"lxc-attach -n {lab.names.container(endpoint)}"

    def remove(self, record: dict) -> None:
        destroy(record["name"])

    def alive(self, record: dict) -> bool:
        return running(record["name"])
