"""Text pictures of a topology: Mermaid (for Markdown pages) and Graphviz DOT."""

from __future__ import annotations

from sdnlab.draw import link_label, segment_colours
from sdnlab.model import Bridge, Endpoint, Topology


def _id(name: str) -> str:
    # Mermaid and DOT identifiers may not contain '-'; names may.
    return name.replace("-", "_")


def _on_node(topology: Topology, node: str) -> tuple[list[Bridge], list[Endpoint]]:
    return ([b for b in topology.bridges.values() if b.node == node], [e for e in topology.endpoints.values() if e.node == node])


def mermaid(topology: Topology) -> str:
    """A `flowchart LR` with one subgraph per node."""
    colours = segment_colours(topology)
    out = ["flowchart LR"]
    for node in topology.nodes:
        out.append(f"  subgraph {_id('node_' + node)}[{node}]")
        bridges, endpoints = _on_node(topology, node)
        for bridge in bridges:
            out.append(f"    {_id(bridge.name)}[[{bridge.name} {bridge.type}]]")
        for endpoint in endpoints:
            out.append(f"    {_id(endpoint.name)}([{endpoint.name} {endpoint.type}])")
        out.append("  end")
    styles = []
    edge = 0
    for endpoint in topology.endpoints.values():
        for nic in endpoint.nics:
            out.append(f"  {_id(endpoint.name)} ---|{topology.nic_label(nic)}| {_id(nic.bridge)}")
            styles.append(f"  linkStyle {edge} stroke:{colours[nic.segment]},stroke-width:2px")
            edge += 1
    for link in topology.links:
        a, b = link.between
        out.append(f"  {_id(a)} ===|{link_label(topology, link.trunks, link.untagged).strip()}| {_id(b)}")
    return "\n".join(out + styles)


def dot(topology: Topology) -> str:
    """An undirected Graphviz graph with one cluster per node."""
    colours = segment_colours(topology)
    out = ["graph topology {", "  rankdir=TB; node [fontname=Helvetica, fontsize=10];"]
    for node in topology.nodes:
        out.append(f'  subgraph cluster_{_id(node)} {{ label="{node}"; style=rounded;')
        bridges, endpoints = _on_node(topology, node)
        for bridge in bridges:
            out.append(f'    {_id(bridge.name)} [shape=box, style=filled, fillcolor="#bee3f8", label="{bridge.name}\\n{bridge.type}"];')
        for endpoint in endpoints:
            out.append(f'    {_id(endpoint.name)} [shape=ellipse, style=filled, fillcolor="{colours[endpoint.nics[0].segment]}", label="{endpoint.name}"];')
        out.append("  }")
    for endpoint in topology.endpoints.values():
        for nic in endpoint.nics:
            out.append(f'  {_id(endpoint.name)} -- {_id(nic.bridge)} [color="{colours[nic.segment]}", label="{topology.nic_label(nic)}"];')
    for link in topology.links:
        a, b = link.between
        out.append(f'  {_id(a)} -- {_id(b)} [penwidth=2.5, label="{link_label(topology, link.trunks, link.untagged).strip()}"];')
    out.append("}")
    return "\n".join(out)
