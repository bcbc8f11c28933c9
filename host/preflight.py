"""What this host can build, found out at run time and said plainly.

A user's machine can differ from ours either way (an openvswitch kernel
module, bridge VLAN filtering), so nothing here is assumed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from host.errors import HostError

__all__ = ["HostError", "Datapath", "datapath", "require_root", "require_ovs", "require_corosync", "container_ids"]


def require_root(what: str, why: str) -> None:
    if os.geteuid() != 0:
        raise HostError(f"{what} needs root ({why})")


def require_ovs() -> None:
    if subprocess.run(["ovs-vsctl", "--timeout=3", "show"], capture_output=True).returncode != 0:
        raise HostError("Open vSwitch is not running (make setup starts it)")


@dataclass(frozen=True)
class Datapath:
    """Which OVS datapath bridges use here: the kernel's, or userspace without the module."""

    kernel: bool

    @property
    def ovs_type(self) -> str:
        """Bridge.datapath_type in OVSDB."""
        return "system" if self.kernel else "netdev"

    def __str__(self) -> str:
        return "kernel" if self.kernel else "userspace (no openvswitch kernel module)"


def datapath() -> Datapath:
    return Datapath(kernel=Path("/sys/module/openvswitch").exists())


SUBUID, SUBGID = Path("/etc/subuid"), Path("/etc/subgid")
ID_RANGE = 65536  # a whole 16-bit id space, as Proxmox maps its unprivileged containers (root:100000:65536)


def _root_range(path: Path) -> int | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        owner, _, rest = line.strip().partition(":")
        start, _, count = rest.partition(":")
        if owner in ("root", "0") and start.isdigit() and count.isdigit() and int(count) >= ID_RANGE:
            return int(start)
    return None


def container_ids() -> int:
    """The first host uid (and gid) that root inside an unprivileged container maps to.

    LXC's newuidmap/newgidmap refuse a mapping that /etc/subuid and /etc/subgid do not grant to root."""
    uid, gid = _root_range(SUBUID), _root_range(SUBGID)
    if uid is None or gid is None or uid != gid:
        raise HostError(
            "containers run unprivileged, mapped to a range of host ids that /etc/subuid and /etc/subgid must grant to root; "
            f"add the line root:100000:{ID_RANGE} to both (Proxmox ships it; `make setup` adds it when root has no range)"
            + ("" if uid is None or gid is None else f" (they differ now: uids from {uid}, gids from {gid})"))
    return uid


def require_corosync(why: str) -> None:
    """A controller cluster runs corosync members (Debian's corosync, libcpg4, libquorum5)."""
    if shutil.which("corosync") is None or shutil.which("corosync-quorumtool") is None:
        raise HostError(f"{why}: a controller cluster needs corosync (apt install corosync; `make setup` installs it)")
