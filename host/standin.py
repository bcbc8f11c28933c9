"""A VLAN-aware Linux bridge, stood in for by an OVS bridge in standalone mode.

Proxmox's default bridge is a VLAN-aware Linux bridge. These kernels have no
bridge VLAN filtering, so `sim` and `up` build such a bridge as an OVS bridge
that forwards by OVS's own NORMAL action, with no controller, its ports
carrying the 802.1Q settings Proxmox itself gives OVS ports (`tag=`,
`trunks=`, `vlan_mode=native-untagged`). The controller treats it as it
treats every Linux bridge: a passive bridge it does not program.

A Linux VLAN-aware bridge puts untagged frames in its default PVID, VLAN 1;
the file's untagged segment is its own, so the stand-in uses VLAN 1 for it
unless the file uses VLAN 1, and then the lowest id the file does not use.
A port that must carry nothing gets the highest unused id, alone: an OVS port
with neither tag nor trunks would carry every VLAN.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.state import Binding
from sdnlab.model import Bridge, Topology

STANDIN_KEY = "sdnlab-standin"  # on the OVS bridge: what it stands in for
STANDIN_OF = "vlan-aware-linux-bridge"


def stood_in(bridge: Bridge) -> bool:
    """Whether the file's bridge is built as a standalone OVS bridge here."""
    return not bridge.is_ovs and bridge.vlan_aware


@dataclass(frozen=True)
class PortVlan:
    """A port's 802.1Q settings in OVSDB's Port table."""

    mode: str  # "access" | "trunk" | "native-untagged"
    tag: int | None
    trunks: tuple[int, ...] = ()

    def columns(self) -> list[tuple[str, object]]:
        return [("vlan_mode", self.mode), ("tag", [] if self.tag is None else self.tag), ("trunks", list(self.trunks))]

    def __str__(self) -> str:
        parts = [f"vlan_mode={self.mode}"] + ([f"tag={self.tag}"] if self.tag is not None else [])
        return " ".join(parts + ([f"trunks={','.join(map(str, self.trunks))}"] if self.trunks else []))


def reserved_vids(topology: Topology) -> tuple[int, int]:
    """(the VLAN the untagged segment rides in, a VLAN that carries nothing): both unused by the file."""
    unused = [v for v in range(1, 4095) if v not in topology.vlans]
    return unused[0], unused[-1]


def port_vlans(topology: Topology, ports: dict[int, Binding]) -> dict[int, PortVlan]:
    """What each port of a stand-in (port number -> its NIC or link binding) carries, as Proxmox would set it."""
    untagged, nothing = reserved_vids(topology)
    nics = {nic.id: nic for nic in topology.nics()}
    links = {link.id: link for link in topology.links}
    out = {}
    for number, binding in ports.items():
        if binding.kind == "nic":
            nic = nics[binding.id]
            trunks, native = nic.trunks, nic.tag if nic.tag is not None else untagged
        else:
            link = links[binding.id]
            trunks, native = link.trunks, untagged if link.untagged else None
        if not trunks:
            out[number] = PortVlan("access", native if native is not None else nothing)
        elif native is None:
            out[number] = PortVlan("trunk", None, tuple(sorted(trunks)))
        else:
            out[number] = PortVlan("native-untagged", native, tuple(sorted(set(trunks) | {native})))
    return out


def note(topology: Topology) -> str | None:
    """Said once by `sim` and `up` when the file has VLAN-aware Linux bridges: how they are built here."""
    aware = sorted(name for name, bridge in topology.bridges.items() if stood_in(bridge))
    if not aware:
        return None
    untagged, _ = reserved_vids(topology)
    return (f"VLAN-aware Linux bridge{'s' if len(aware) > 1 else ''} {', '.join(aware)}: built as standalone OVS bridges "
            f"forwarding by NORMAL, their ports tagged as Proxmox tags OVS ports (tag=, trunks=, vlan_mode=native-untagged; "
            f"untagged frames ride VLAN {untagged} inside), not programmed by the controller")


def tagging_ports(topology: Topology, nic) -> list[tuple[str | None, PortVlan]]:
    """The ports of the small standalone OVS bridge that does a trunk NIC's tagging where the endpoint's
    kernel cannot (these hosts have no 802.1Q module): first the uplink to the lab bridge (the trunk, its
    native VLAN untagged as Proxmox's `tag=` with `trunks=`), then one access port per interface inside the
    endpoint, with that interface's name: `eth<i>` for the untagged side, `eth<i>.<vlan>` for each VLAN."""
    native = nic.tag if nic.tag is not None else reserved_vids(topology)[0]
    ports: list[tuple[str | None, PortVlan]] = [(None, PortVlan("native-untagged", native, tuple(sorted(set(nic.trunks) | {native})))),
                                                (f"eth{nic.index}", PortVlan("access", native))]
    return ports + [(f"eth{nic.index}.{vlan}", PortVlan("access", vlan)) for vlan in sorted(nic.trunks)]
