"""The typed topology model: read once from the file, used by everything after."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from typing import Literal, get_args

UNTAGGED = "untagged"
Segment = int | str  # a VLAN id, or UNTAGGED
BridgeType = Literal["ovs", "linux"]
EndpointType = Literal["kvm", "lxc", "host"]
ENDPOINT_TYPES: tuple[str, ...] = get_args(EndpointType)  # each has a driver in deploy/drivers.py


def segment_key(segment: Segment) -> tuple[int, int]:
    """Sort order for segments: VLAN ids ascending, then `untagged`."""
    return (1, 0) if segment == UNTAGGED else (0, int(segment))


@dataclass(frozen=True)
class Bridge:
    name: str
    type: BridgeType
    node: str
    dpid: int | None = None  # OVS only; always set for OVS after loading
    vlan_aware: bool = False  # OVS bridges are always VLAN-aware

    @property
    def is_ovs(self) -> bool:
        return self.type == "ovs"

    @property
    def keeps_vlans_apart(self) -> bool:
        """Whether the bridge can carry tagged segments (OVS or VLAN-aware Linux)."""
        return self.is_ovs or self.vlan_aware


@dataclass(frozen=True)
class Nic:
    endpoint: str
    index: int
    bridge: str
    mac: str
    tag: int | None = None
    ip: IPv4Interface | None = None
    port_security: bool = True  # the port accepts only this NIC's MAC, and ARP only from its ip (v1.1)
    trunks: frozenset[int] = frozenset()  # VLANs carried tagged to the NIC (v1.1); `tag` is then its native VLAN

    @property
    def segment(self) -> Segment:
        """The segment of the NIC's untagged frames: its `tag`, or untagged."""
        return UNTAGGED if self.tag is None else self.tag

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Every segment the NIC is in: its own, then its trunk VLANs ascending."""
        return (self.segment, *sorted(self.trunks)) if self.trunks else (self.segment,)

    def address_in(self, segment: Segment) -> IPv4Interface | None:
        """The NIC's address in `segment`: `ip` sits on the NIC's untagged side (eth0 in the
        guest), so in a trunk VLAN, which reaches the guest tagged, the file gives it none."""
        return self.ip if segment == self.segment else None

    @property
    def id(self) -> str:
        """Stable identifier used to bind a switch port to this NIC."""
        return f"{self.endpoint}.{self.index}"


@dataclass(frozen=True)
class Endpoint:
    name: str
    type: EndpointType
    node: str
    nics: tuple[Nic, ...]
    vmid: int | None = None  # the Proxmox VM or container id (v1.1)


@dataclass(frozen=True)
class Link:
    index: int
    between: tuple[str, str]
    trunks: frozenset[int]
    untagged: bool = True
    name: str | None = None
    vni: int | None = None  # VXLAN id when its bridges are on different hosts (v1.1); always set after loading

    @property
    def segments(self) -> frozenset[Segment]:
        """Every segment the link carries."""
        return self.trunks | {UNTAGGED} if self.untagged else self.trunks

    def carries(self, segment: Segment) -> bool:
        return segment == UNTAGGED and self.untagged or segment in self.trunks

    @property
    def id(self) -> str:
        """Stable identifier used to bind the link's ports (its name, or its position)."""
        return self.name or f"link{self.index}"


@dataclass(frozen=True)
class ControllerConfig:
    host: str = "127.0.0.1"
    port: int = 6653
    replicas: int = 1  # controllers the simulator runs as one cluster (v1.1)
    mac_limit: int = 256  # learned MACs per (port, VLAN) before new sources are ignored
    mac_idle_timeout: int = 300  # seconds a learned MAC lives without traffic
    packet_in_rate: int = 1000  # packet-ins per second per switch, metered on the switch


@dataclass(frozen=True)
class Topology:
    name: str
    bridges: dict[str, Bridge]
    nodes: tuple[str, ...] = ("node1",)
    node_addresses: dict[str, str] = field(default_factory=dict)  # node -> underlay address, for nodes that give one (v1.1)
    vlans: dict[int, str | None] = field(default_factory=dict)  # id -> name
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    description: str = ""
    source: str = "<memory>"

    def nics(self) -> Iterator[Nic]:
        for endpoint in self.endpoints.values():
            yield from endpoint.nics

    def vlan_label(self, segment: Segment) -> str:
        """'10 (web)', '20' or 'untagged', for people."""
        if segment == UNTAGGED:
            return UNTAGGED
        name = self.vlans.get(int(segment))
        return f"{segment} ({name})" if name else str(segment)

    def nic_label(self, nic: Nic) -> str:
        """'10 (web)' for a NIC in one segment; 'untagged + trunks 10,20' for a trunk NIC."""
        label = self.vlan_label(nic.segment)
        return f"{label} + trunks {','.join(map(str, sorted(nic.trunks)))}" if nic.trunks else label
