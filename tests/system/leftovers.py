"""What a lab could leave behind on this host, as one comparable snapshot.

Used by the deployment tests and by bench/soak.py: a run leaves nothing when
the snapshot after it equals the one before.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

STATE_ROOT = Path("/var/lib/sdnlab/labs")
NODES_RUN = Path("/run/sdnlab/nodes")  # a rehearsal's Open vSwitch instances (deploy/rehearsal.py)


def _out(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True).stdout


def machine() -> dict:
    """Bridges, containers, guests, controllers, interfaces, namespaces and state folders, each sorted."""
    links = _out("ip", "-o", "link")
    names = (x.split(":")[1].strip().split("@")[0] for x in links.splitlines() if len(x.split(":")) > 1)
    return {
        "bridges": sorted(_out("ovs-vsctl", "list-br").split()),
        "containers": sorted(_out("lxc-ls", "-1").split()),
        "guests": sorted(_out("pgrep", "-f", "qemu-system").split()),
        "controllers": sorted(_out("pgrep", "-f", "sdnlab.cli controller").split()),
        "interfaces": sorted(n for n in names if n[:3] in ("vet", "tap", "sdl") or n.startswith("vmbr")),
        "namespaces": sorted(_out("ip", "netns", "list").split()),
        "state": sorted(os.listdir(STATE_ROOT)) if STATE_ROOT.exists() else [],
        "ovs-runs": sorted(os.listdir(NODES_RUN)) if NODES_RUN.exists() else [],
        "ovs-daemons": sorted(_ovs_daemons()),
    }


def _ovs_daemons() -> list[str]:
    """Every live ovsdb-server and ovs-vswitchd (the host's own, and any a rehearsal left), by pid and command."""
    found = []
    for line in _out("ps", "-eo", "pid=,stat=,args=").splitlines():
        pid, stat, *args = line.split(None, 2)
        if not stat.startswith("Z") and args and args[0].split()[0].rsplit("/", 1)[-1] in ("ovsdb-server", "ovs-vswitchd"):
            found.append(f"{pid} {args[0]}")
    return found


def difference(before: dict, after: dict) -> dict:
    """What is in `after` and not in `before`, per kind: what a run left behind."""
    return {kind: sorted(set(after[kind]) - set(before[kind])) for kind in after if set(after[kind]) - set(before[kind])}
