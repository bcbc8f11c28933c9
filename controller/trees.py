"""Loop-free flooding: one spanning tree per segment over the live links that carry it."""

from __future__ import annotations

import networkx as nx

from sdnlab.model import Link, Segment


def live_links(links: dict[str, dict[int, Link]], passive: frozenset[str] = frozenset()) -> list[Link]:
    """Links with an up, bound port on both of their bridges. `links`: bridge -> port -> link.

    A `passive` bridge (a Linux bridge, which speaks no OpenFlow) cannot
    report its ports, so its end of a link counts as present.
    """
    ends: dict[int, set[str]] = {}
    by_index: dict[int, Link] = {}
    for bridge, ports in links.items():
        for link in ports.values():
            ends.setdefault(link.index, set()).add(bridge)
            by_index[link.index] = link
    return [by_index[i] for i in sorted(ends) if ends[i] | (set(by_index[i].between) & passive) == set(by_index[i].between)]


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
