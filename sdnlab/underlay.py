"""A lab whose nodes are built on separate hosts: which links become VXLAN
tunnels, to where, with which VNI and MTU. Pure: deploy/lab.py builds a node's
part from it, deploy/rehearsal.py rehearses every node on one machine.

A link whose two bridges are on different nodes is carried between the two
hosts by one VXLAN tunnel, the way Proxmox's SDN VXLAN zone carries a vnet: a
Linux `vxlan` device per link and host, with the link's VNI, the other host's
address as its only remote (no multicast, no learning across the underlay),
in the bridge like any other port. VXLAN adds 50 bytes (outer Ethernet 14,
IPv4 20, UDP 8, VXLAN 8), so, as Proxmox sets a VXLAN zone's MTU, everything
of a lab with a tunnel gets the underlay's MTU minus 50: 1450 on a 1500-byte
underlay, the endpoints' NICs included, so no frame is ever too big for the
tunnel.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sdnlab.model import Link, Topology

VXLAN_PORT = 4789  # IANA's port, as Proxmox's VXLAN zone uses
VXLAN_OVERHEAD = 50  # outer Ethernet + IPv4 + UDP + VXLAN headers
UNDERLAY_MTU = 1500
# The rehearsal's generated underlay, used when the file gives nodes no address (private, inside namespaces only).
REHEARSAL_NET = ipaddress.ip_network("10.217.0.0/24")
REHEARSAL_NET6 = ipaddress.ip_network("fd00:217::/64")  # the same, for nodes with IPv6 addresses
REHEARSAL_CONTROLLER = 250  # the host number of the controller's emulated host in that network


class UnderlayError(ValueError):
    """The file cannot be built across hosts as it stands; the message says what to add."""


@dataclass(frozen=True)
class Tunnel:
    """One end of a link carried between two hosts: on `bridge` of this node, towards `remote_node`."""

    link: Link
    bridge: str  # this node's bridge
    remote_node: str
    remote: str  # the other host's underlay address
    local: str  # this host's

    @property
    def device(self) -> str:
        """The tunnel's interface name, the same on both hosts (the controller binds it by this name)."""
        return tunnel_name(self.link)


def tunnel_name(link: Link) -> str:
    return f"vx{link.vni}"  # at most 10 characters: a VNI has at most 8 digits


def crossing(topology: Topology, link: Link) -> bool:
    """Whether the link joins bridges of two different nodes."""
    a, b = link.between
    return topology.bridges[a].node != topology.bridges[b].node


def crosses_hosts(topology: Topology) -> bool:
    return any(crossing(topology, link) for link in topology.links)


def lab_mtu(topology: Topology, underlay_mtu: int = UNDERLAY_MTU) -> int | None:
    """The MTU of every interface of a lab that has tunnels (None: no tunnel, the defaults stand)."""
    return underlay_mtu - VXLAN_OVERHEAD if crosses_hosts(topology) else None


def addresses(topology: Topology, generate: bool = False) -> dict[str, str]:
    """Each node's underlay address: the file's; with `generate`, the rehearsal's own when the file gives none.

    Either every node has one in the file or none does (with `generate`): a mix would leave the
    generated ones guessing at the others' network."""
    given = topology.node_addresses
    if given and set(given) != set(topology.nodes) and generate:
        missing = sorted(set(topology.nodes) - set(given))
        raise UnderlayError(f"{topology.source}: nodes {', '.join(missing)} have no address while others do: give every node one, or none")
    if given or not generate:
        return dict(given)
    hosts = list(REHEARSAL_NET.hosts())
    return {node: str(hosts[k]) for k, node in enumerate(sorted(topology.nodes))}


def controller_address(topology: Topology, nodes: dict[str, str]) -> str:
    """Where a rehearsal's controller listens: the file's `controller.host` unless it is loopback (or a node's
    address), else an address beside the nodes'."""
    host = topology.controller.host
    if not ipaddress.ip_address(host).is_loopback and host not in nodes.values():
        return host
    family = {ipaddress.ip_address(a).version for a in nodes.values()} or {4}
    net = REHEARSAL_NET6 if family == {6} else REHEARSAL_NET
    taken = {ipaddress.ip_address(a) for a in nodes.values()}
    candidates = [net[REHEARSAL_CONTROLLER]] + [net[k] for k in range(254, 0, -1)]
    return str(next(a for a in candidates if a not in taken))


def tunnels(topology: Topology, node: str, nodes: dict[str, str]) -> list[Tunnel]:
    """The tunnels node `node` ends, one per link between one of its bridges and another node's."""
    out = []
    for link in topology.links:
        a, b = link.between
        ends = {topology.bridges[a].node: a, topology.bridges[b].node: b}
        if len(ends) == 2 and node in ends:
            (remote_node,) = set(ends) - {node}
            for who in (node, remote_node):
                if who not in nodes:
                    raise UnderlayError(f"{topology.source}: link {link.id} ({a}-{b}) crosses from node {node} to node {remote_node}, "
                                        f"but node {who} has no address: give it one under nodes.{who}.address")
            out.append(Tunnel(link, ends[node], remote_node, nodes[remote_node], nodes[node]))
    return out


def node_parts(topology: Topology, node: str) -> tuple[list[str], list[str], list[Link]]:
    """What `up --node` builds: the node's bridges and endpoints, and the links between two of its bridges."""
    if node not in topology.nodes:
        raise UnderlayError(f"{topology.source}: there is no node {node!r} (the file's nodes: {', '.join(topology.nodes)})")
    bridges = sorted(n for n, b in topology.bridges.items() if b.node == node)
    endpoints = sorted(n for n, e in topology.endpoints.items() if e.node == node)
    links = [link for link in topology.links if all(topology.bridges[b].node == node for b in link.between)]
    return bridges, endpoints, links
