"""A deliberately naive reachability reference: BFS from every NIC.

Used by the property-based tests and the benchmark to check `sdnlab.check`;
it shares no code with it beyond the model, so a bug in one shows up as a
disagreement with the other.
"""

from __future__ import annotations

from collections import deque

from sdnlab.model import UNTAGGED, Nic, Topology


def reachable_pairs(topology: Topology) -> set[tuple[str, str]]:
    """Every sorted endpoint pair with NICs L2-reachable from each other."""
    adjacency: dict[str, list[tuple[str, object]]] = {b: [] for b in topology.bridges}
    for link in topology.links:
        a, b = link.between
        adjacency[a].append((b, link))
        adjacency[b].append((a, link))
    nics = list(topology.nics())
    pairs: set[tuple[str, str]] = set()
    for nic, segment in ((n, segment) for n in nics for segment in _segments(n)):
        seen = {nic.bridge}
        queue = deque([nic.bridge])
        while queue:
            here = queue.popleft()
            for there, link in adjacency[here]:
                if there not in seen and link.carries(segment):
                    seen.add(there)
                    queue.append(there)
        for other in nics:
            if other.endpoint != nic.endpoint and segment in _segments(other) and other.bridge in seen:
                pairs.add(tuple(sorted((nic.endpoint, other.endpoint))))
    return pairs


def _segments(nic: Nic) -> set:
    """Written out from the format rather than `Nic.segments`: its tag (or untagged) and its trunks."""
    return {UNTAGGED if nic.tag is None else nic.tag} | set(nic.trunks)
