"""Which VLANs the file declares, and the links that stand for the physical switch.

**Links.** Bridges of the same name on different nodes that both have a
physical uplink are assumed to be cabled to one switch that passes every
VLAN: a segment crosses between two of them when both uplinks carry it under
the same wire tag (`WireMap`). That switch joins them all pairwise; for the
same reachability the file needs far fewer links: for each segment, the
bridges with NICs in it form a star around the one of them with NICs in
the most segments (then the first in node order), so that the stars share
their centre. Links between the same two bridges merge into one, carrying the
union. A bridge with no NIC in a segment needs no link for it, and a wire tag
that is one segment on one bridge and another segment on another (an access
port, a VLAN interface) cannot be a link of the format: that is a warning.

**VLANs.** Every VLAN a NIC is tagged with, and every VLAN id a trunk lists one
by one, is declared. A trunk range (`trunks=2-4094` on a router VM) is cut at
every boundary of every range and tag in the snapshot; within one piece all
VLANs behave alike, so one VLAN (the lowest) stands for the piece, and is
kept only when it lets endpoints reach each other that no declared segment
(nor a piece kept before it) already joins. The file then has the same reachable pairs as the
snapshot with tens of VLANs, not 4,093.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from sdnlab.model import UNTAGGED, Segment, segment_key
from sdnlab.pve.bridges import WireMap
from sdnlab.pve.vlans import MAX_VID, MIN_VID, VlanSet


@dataclass
class NicPlan:
    """A NIC with its bridge and VLANs as the file will have them, before ranges are reduced."""

    endpoint: str
    bridge: str  # topology bridge name
    tag: int | None
    trunk_ids: frozenset[int] = frozenset()
    trunk_ranges: VlanSet = field(default_factory=VlanSet)
    segments: set[Segment] = field(default_factory=set)  # filled by plan()


@dataclass(frozen=True)
class SwitchPort:
    """A bridge's uplink to the assumed switch: the switch is the bridge's name on its node."""

    group: str  # the Proxmox bridge name (vmbr0)
    order: tuple  # (node, ...) to pick hubs deterministically
    wire: WireMap


@dataclass
class Plan:
    declared: list[int]
    links: dict[tuple[str, str], set[Segment]]
    mismatches: list[tuple[str, Segment, list[tuple[Segment, list[str]]]]]  # (group, wire segment, [(segment, bridges)])
    kept_range_vlans: list[int]


def _pieces(sets: Iterable[VlanSet], singles: Iterable[int]) -> list[int]:
    """Starts of the pieces that the ranges and single ids cut 1-4094 into."""
    cuts = {MIN_VID, MAX_VID + 1}
    for s in sets:
        for lo, hi in s.ranges:
            cuts.update((lo, hi + 1))
    for v in singles:
        cuts.update((v, v + 1))
    return sorted(c for c in cuts if MIN_VID <= c <= MAX_VID)


def switch_links(ports: dict[str, SwitchPort], segments: dict[str, set[Segment]]) -> tuple[dict[tuple[str, str], set[Segment]], list]:
    """The star links that join same-named bridges for each segment they have NICs in."""
    groups: dict[str, list[str]] = {}
    for bridge, port in ports.items():
        groups.setdefault(port.group, []).append(bridge)
    links: dict[tuple[str, str], set[Segment]] = {}
    mismatches = []
    for group in sorted(groups):
        # The hub of each segment is its member with the most segments: the stars of all
        # segments then share their centre, and the links stay about one per bridge.
        members = sorted(groups[group], key=lambda b: (-len(segments.get(b, ())), ports[b].order))
        if len(members) < 2:
            continue
        by_wire: dict[Segment, dict[Segment, list[str]]] = {}
        for bridge in members:
            for seg in sorted(segments.get(bridge, ()), key=segment_key):
                wire = ports[bridge].wire.wire(seg)
                if wire is not None:
                    by_wire.setdefault(wire, {}).setdefault(seg, []).append(bridge)
        for wire in sorted(by_wire, key=segment_key):
            per_segment = by_wire[wire]
            if len(per_segment) > 1:
                mismatches.append((group, wire, sorted(per_segment.items(), key=lambda kv: segment_key(kv[0]))))
            for seg, bridges in per_segment.items():
                hub = bridges[0]
                for other in bridges[1:]:
                    links.setdefault((min(hub, other), max(hub, other)), set()).add(seg)
    return links, mismatches


def signatures(nics: list[NicPlan], links: dict[tuple[str, str], set[Segment]]) -> dict[Segment, frozenset[frozenset[str]]]:
    """For each segment, its groups of two or more endpoints that reach each other in it."""
    joined: dict[Segment, nx.utils.UnionFind] = {}
    for (a, b), segs in links.items():
        for seg in segs:
            joined.setdefault(seg, nx.utils.UnionFind()).union(a, b)
    groups: dict[Segment, dict[str, set[str]]] = {}
    for nic in nics:
        for seg in nic.segments:
            uf = joined.get(seg)
            root = uf[nic.bridge] if uf is not None else nic.bridge
            groups.setdefault(seg, {}).setdefault(root, set()).add(nic.endpoint)
    return {seg: frozenset(frozenset(e) for e in comps.values() if len(e) > 1) for seg, comps in groups.items()}


def plan(nics: list[NicPlan], ports: dict[str, SwitchPort]) -> Plan:
    """Declared VLANs, each NIC's segments (filled in), and the links of the assumed switches."""
    explicit = {n.tag for n in nics if n.tag is not None} | {v for n in nics for v in n.trunk_ids}
    ranged = [n for n in nics if n.trunk_ranges]
    candidates: list[int] = []
    if ranged:
        every_range = VlanSet.of(r for n in ranged for r in n.trunk_ranges.ranges)
        wire_sets = [p.wire.identity for p in ports.values()]
        specials = [s for p in ports.values() for pair in p.wire.special for s in pair if isinstance(s, int)]
        starts = _pieces([n.trunk_ranges for n in ranged] + wire_sets, list(explicit) + specials)
        candidates = [s for s in starts if s in every_range and s not in explicit]
    inside = sorted(explicit) + candidates  # the VLANs a range can stand in for
    for nic in nics:
        nic.segments = {UNTAGGED if nic.tag is None else nic.tag} | set(nic.trunk_ids)
        if nic.trunk_ranges:
            nic.segments |= {v for v in inside if v in nic.trunk_ranges}
    by_bridge: dict[str, set[Segment]] = {}
    for nic in nics:
        by_bridge.setdefault(nic.bridge, set()).update(nic.segments)
    links, mismatches = switch_links(ports, by_bridge)
    kept: list[int] = []
    if candidates:
        kept = _needed(candidates, signatures(nics, links))
        dropped = set(candidates) - set(kept)
        for nic in nics:
            nic.segments -= dropped
        for key in list(links):
            links[key] -= dropped
            if not links[key]:
                del links[key]
        mismatches = [(g, w, kept_segs) for g, w, per in mismatches if len(kept_segs := [(s, b) for s, b in per if s not in dropped]) > 1]
    return Plan(sorted(explicit | set(kept)), links, mismatches, kept)


def _needed(candidates: list[int], sigs: dict[Segment, frozenset[frozenset[str]]]) -> list[int]:
    """The candidates that let some endpoints reach each other that no other segment already joins:
    a group of endpoints is already joined when it lies inside a group of a declared segment or of
    a candidate kept before it (larger groups first, so that smaller ones inside them go)."""
    chosen = set(candidates)
    index: dict[str, list[frozenset[str]]] = {}

    def add(groups: frozenset[frozenset[str]]) -> None:
        for group in groups:
            for member in group:
                index.setdefault(member, []).append(group)

    for seg, groups in sigs.items():
        if seg not in chosen:
            add(groups)
    kept = []
    for c in sorted((c for c in candidates if sigs.get(c)), key=lambda c: (-max(len(g) for g in sigs[c]), c)):
        groups = sigs[c]
        if all(any(g <= h for h in index.get(next(iter(g)), ())) for g in groups):
            continue
        kept.append(c)
        add(groups)
    return sorted(kept)

