"""What the controller knows about the switches: pure data, no I/O.

A switch port is bound to the file by OVSDB `external_ids` on its Interface:
`sdnlab-nic=<endpoint>.<nic index>` (a NIC) or `sdnlab-link=<link id>` (one
end of a link; the id is the link's `name`, or `link<position>` without one).
The simulator, the real deployment and a person adding a port by hand all set
the same keys. A port without them is bound by its name when it is the name
Proxmox gives a NIC of an endpoint with a `vmid` (format 1.1): `tap<vmid>i<n>`
for a kvm guest, `veth<vmid>i<n>` for an lxc container, or `fwln<vmid>o<n>`
for either when the NIC has Proxmox's firewall on (pvenames.py), so a
controller on a Proxmox node needs no marks on the ports Proxmox makes.
Likewise the names `sdnlab up` gives: `veth<id>i<n>`/`tap<id>i<n>` for any
endpoint (its id from pvenames.endpoint_ids) and `vx<vni>` for a link's VXLAN
tunnel (sdnlab/underlay.py): a controller serving bridges on other hosts
cannot read their OVSDB marks. Any other port carries nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.pvenames import endpoint_ids, ovs_port_names, up_port_name
from sdnlab.model import Link, Nic, Topology
from sdnlab.underlay import crossing, tunnel_name

NIC_KEY = "sdnlab-nic"
LINK_KEY = "sdnlab-link"


@dataclass(frozen=True)
class Binding:
    kind: str  # "nic" | "link"
    id: str

    @staticmethod
    def from_external_ids(ids: dict[str, str]) -> Binding | None:
        if NIC_KEY in ids:
            return Binding("nic", ids[NIC_KEY])
        if LINK_KEY in ids:
            return Binding("link", ids[LINK_KEY])
        return None


@dataclass(frozen=True)
class Port:
    number: int
    name: str
    up: bool = True
    binding: Binding | None = None


@dataclass
class SwitchView:
    """One connected bridge: its topology name, datapath id and ports."""

    bridge: str
    dpid: int
    ports: dict[int, Port] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """A bridge's usable ports: NIC ports and link ports that the file says belong here."""

    nics: dict[int, Nic]  # port number -> NIC
    links: dict[int, Link]  # port number -> link
    ignored: dict[int, str]  # port number -> why it carries nothing


def proxmox_names(topology: Topology) -> dict[str, Binding]:
    """Port name -> NIC binding, for the NICs of endpoints with a `vmid` of a type Proxmox names.

    Each NIC has two names: its tap/veth, and the firewall's `fwln<vmid>o<n>`,
    which stands in the tap's place on the OVS bridge when the NIC has `firewall=1`.
    """
    out = {}
    for endpoint in topology.endpoints.values():
        if endpoint.vmid is not None:
            for nic in endpoint.nics:
                out.update(dict.fromkeys(ovs_port_names(endpoint.type, endpoint.vmid, nic.index), Binding("nic", nic.id)))
    return out


def port_names(topology: Topology) -> dict[str, Binding]:
    """Port name -> binding, for ports without a mark: Proxmox's names, the names `sdnlab up` gives every NIC,
    and the tunnels of links between nodes."""
    ids = endpoint_ids(topology)
    out = {up_port_name(e.type, ids[e.name], nic.index): Binding("nic", nic.id) for e in topology.endpoints.values() for nic in e.nics}
    out.update({tunnel_name(link): Binding("link", link.id) for link in topology.links if crossing(topology, link)})
    out.update(proxmox_names(topology))
    return out


def resolve(topology: Topology, view: SwitchView) -> Resolved:
    nics_by_id = {nic.id: nic for nic in topology.nics()}
    links_by_id = {link.id: link for link in topology.links}
    by_name = port_names(topology)
    nics, links, ignored = {}, {}, {}
    for number, port in sorted(view.ports.items()):
        b = port.binding or by_name.get(port.name)  # a mark in OVSDB wins over the name
        if b is None:
            ignored[number] = "no sdnlab binding"
        elif not port.up:
            ignored[number] = "down"
        elif b.kind == "nic" and b.id in nics_by_id and nics_by_id[b.id].bridge == view.bridge:
            nics[number] = nics_by_id[b.id]
        elif b.kind == "link" and b.id in links_by_id and view.bridge in links_by_id[b.id].between:
            links[number] = links_by_id[b.id]
        else:
            ignored[number] = f"bound to {b.kind} '{b.id}', which is not on bridge {view.bridge} in the topology"
    # Two ports claiming one NIC or one link end: keep the lowest number, ignore the rest.
    for table in (nics, links):
        seen: dict[str, int] = {}
        for number in sorted(table):
            key = table[number].id
            if key in seen:
                ignored[number] = f"duplicate binding (port {seen[key]} already has it)"
                del table[number]
            else:
                seen[key] = number
    return Resolved(nics, links, ignored)


class PortPlan:
    """Which OpenFlow port number each binding has on each bridge.

    A contract between the controller's tests, the simulator and the real
    deployment: all three ask OVS for these numbers (`ofport_request`), so a
    flow dump from a real switch replays here unchanged. On each bridge its
    NICs come first, in NIC-id order from 1, then its link ends in file order.
    """

    def __init__(self, topology: Topology):
        self.topology = topology
        self.ports: dict[str, dict[int, Binding]] = {name: {} for name in topology.bridges}
        for nic in sorted(topology.nics(), key=lambda n: n.id):
            ports = self.ports[nic.bridge]
            ports[len(ports) + 1] = Binding("nic", nic.id)
        for link in topology.links:
            for bridge in link.between:
                ports = self.ports[bridge]
                ports[len(ports) + 1] = Binding("link", link.id)
        self._numbers = {(bridge, b): n for bridge, ports in self.ports.items() for n, b in ports.items()}
        self._nics = {b.id: (bridge, n) for (bridge, b), n in self._numbers.items() if b.kind == "nic"}

    def __getitem__(self, bridge: str) -> dict[int, Binding]:
        """Port number -> binding on one bridge."""
        return self.ports[bridge]

    def __iter__(self):
        return iter(self.ports)

    def port(self, bridge: str, binding: Binding) -> int:
        """The number of the port bound to `binding` on `bridge` (KeyError if it has none)."""
        return self._numbers[(bridge, binding)]

    def binding(self, bridge: str, number: int) -> Binding | None:
        return self.ports[bridge].get(number)

    def nic_port(self, nic_id: str) -> tuple[str, int]:
        """(bridge, port number) of a NIC."""
        return self._nics[nic_id]

    def nic_at(self, bridge: str, number: int) -> str | None:
        """The id of the NIC on a port, None for a link end or an unknown port."""
        binding = self.ports[bridge].get(number)
        return binding.id if binding is not None and binding.kind == "nic" else None

    def link_ends(self, link: Link) -> list[tuple[str, int]]:
        """Both ends of a link as (bridge, port number), in the link's order."""
        return [(bridge, self._numbers[(bridge, Binding("link", link.id))]) for bridge in link.between]

    def view(self, bridge: str, down: frozenset[int] | set[int] = frozenset(), name=lambda number: f"p{number}") -> SwitchView:
        """The bridge as a connected switch would report it, with the `down` ports down."""
        ports = {n: Port(n, name(n), n not in down, b) for n, b in self.ports[bridge].items()}
        return SwitchView(bridge, self.topology.bridges[bridge].dpid, ports)
