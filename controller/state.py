"""What the controller knows about the switches: pure data, no I/O.

A switch port is bound to the file by OVSDB `external_ids` on its Interface:
`sdnlab-nic=<endpoint>.<nic index>` (a NIC) or `sdnlab-link=<link id>` (one
end of a link; the id is the link's `name`, or `link<position>` without one).
The simulator, the real deployment and a person adding a port by hand all set
the same keys; a port without them carries nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sdnlab.model import Link, Nic, Topology

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


def resolve(topology: Topology, view: SwitchView) -> Resolved:
    nics_by_id = {nic.id: nic for nic in topology.nics()}
    links_by_id = {link.id: link for link in topology.links}
    nics, links, ignored = {}, {}, {}
    for number, port in sorted(view.ports.items()):
        b = port.binding
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
