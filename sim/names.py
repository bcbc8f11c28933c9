"""Names of what a simulated lab creates on the host.

Interface and bridge names are limited to 15 bytes and share one namespace
with everything else on the machine, including a real Proxmox host's vmbr0,
which Mininet would delete if a switch had the same name. So OVS bridges and
their ports get short generated names ("s<run>b<k>p<port>"), and every bridge
is marked in OVSDB (host/ovsdb.py) so that `sdnlab sim clean` can find
leftovers by mark rather than by name.
"""

from __future__ import annotations

import os

TAG_ENV = "SDNLAB_SIM_TAG"  # in the environment of every process a lab starts


def run_tag() -> str:
    """Short and distinct per process, so two labs at once do not collide."""
    return f"s{os.getpid() % 10000:04d}"


def bridge_name(tag: str, index: int) -> str:
    return f"{tag}b{index}"


def port_name(tag: str, index: int, port: int) -> str:
    return f"{tag}b{index}p{port}"


def trunk_bridge_name(tag: str, index: int) -> str:
    """The small OVS bridge that gives a trunk NIC's endpoint one interface per VLAN (sim/lab.py)."""
    return f"{tag}t{index}"


def trunk_port_name(tag: str, index: int, port: int) -> str:
    return f"{tag}t{index}p{port}"


def is_lab_interface(ifname: str, tag: str | None = None) -> bool:
    """Whether a host interface is one a simulated lab made (that lab's, with a tag)."""
    return (ifname.startswith(tag) if tag else ifname.startswith("s")) and len(ifname) >= 7 and ifname[1:5].isdigit() and ifname[5] in "bt"
