"""Loop-free flooding: one spanning tree per segment over the live links that carry it."""

from __future__ import annotations

import networkx as nx

from sdnlab.model import Link, Segment


def live_links(declared: tuple[Link, ...], seen: dict[str, dict[int, Link]], passive: frozenset[str] = frozenset()) -> list[Link]:
    """The declared links that are up: each end is an up, bound port on its
    bridge (`seen`: bridge -> port -> link), or is on a `passive` bridge whose
    ports we cannot see (a Linux bridge; a switch not connected to us)."""
    reported = {bridge: {link.index for link in ports.values()} for bridge, ports in seen.items()}
    return [
        link
        for link in declared
        if all(end in passive or link.index in reported.get(end, ()) for end in link.between)
    ]


def flood_trees(links: list[Link]) -> dict[Segment, frozenset[int]]:
    """For each segment, the link indices of a spanning forest of the links carrying it.

    The lowest-numbered links win (a minimum spanning forest weighted by the
    link's position in the file), so every controller picks the same tree.
    """
    graphs: dict[Segment, nx.MultiGraph] = {}
    for link in links:
        for segment in link.segments:
            graphs.setdefault(segment, nx.MultiGraph()).add_edge(*link.between, key=link.index, weight=link.index)
    return {
        segment: frozenset(key for _, _, key in nx.minimum_spanning_edges(graph, algorithm="kruskal", keys=True, data=False))
        for segment, graph in graphs.items()
    }
