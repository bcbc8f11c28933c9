"""`sdnlab check FILE --fail PART`: reachability with parts of the lab failed. Pure.

A part is `link:NAME` (a link by its id: its `name`, or `link<position>`
for an unnamed one), `link:[A,B]` (every link between bridges A and B),
`bridge:B` (the bridge, its links and the NICs on it) or `node:N` (every
bridge of the node, so every endpoint on it too). The failed lab is the
topology without those links and NICs; the check then runs on it unchanged,
and `diff.diff` says which pairs the failure cost.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from sdnlab.check import Analysis, analyse
from sdnlab.diff import ReachDiff, diff, segment_lines
from sdnlab.model import Endpoint, Link, Topology
from sdnlab.problems import escape, show

KINDS = ("link", "bridge", "node")
_BETWEEN = re.compile(r"\[\s*([^,\[\]\s]+)\s*,\s*([^,\[\]\s]+)\s*\]\Z")


@dataclass(frozen=True)
class Part:
    """One part of the lab to fail: a link (by id, or every link between two bridges), a bridge or a node."""

    kind: str  # one of KINDS
    name: str = ""  # the link id, bridge or node; empty for link:[A,B]
    between: tuple[str, str] | None = None

    def __str__(self) -> str:
        return f"link:[{self.between[0]},{self.between[1]}]" if self.between else f"{self.kind}:{self.name}"


def parse_part(text: str) -> Part:
    """`link:uplink`, `link:[vmbr0, vmbr1]`, `bridge:vmbr1`, `node:pve2`; ValueError saying what is wrong."""
    kind, colon, rest = text.partition(":")
    rest = rest.strip()
    if not colon or kind not in KINDS or not rest:
        raise ValueError(f"'{show(text)}' is not a part: give link:NAME, 'link:[A,B]', bridge:NAME or node:NAME")
    if rest.startswith("["):
        match = _BETWEEN.match(rest)
        if kind != "link" or match is None:
            raise ValueError(f"'{show(text)}': only a link is named by its two bridges, as 'link:[A,B]'")
        return Part("link", between=(match[1], match[2]))
    return Part(kind, rest)


def problem(topology: Topology, part: Part) -> str | None:
    """Why `part` names nothing in `topology`; None when it names something."""
    if part.between is not None:
        unknown = [b for b in part.between if b not in topology.bridges]
        if unknown:
            return f"no bridge '{show(unknown[0])}' in {topology.source}"
        if not _links_between(topology, part.between):
            return f"no link joins {part.between[0]} and {part.between[1]}"
        return None
    known = {"link": [link.id for link in topology.links], "bridge": list(topology.bridges), "node": list(topology.nodes)}[part.kind]
    if part.name not in known:
        listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "") or "none"
        return f"no {part.kind} '{show(part.name)}' in {topology.source} ({part.kind}s: {listed})"
    return None


def _links_between(topology: Topology, pair: tuple[str, str]) -> list[Link]:
    return [link for link in topology.links if set(link.between) == set(pair)]


def failed_topology(topology: Topology, parts: list[Part]) -> Topology:
    """The topology as it is with `parts` failed (each must name something: see `problem`)."""
    bridges = {p.name for p in parts if p.kind == "bridge"}
    bridges |= {b.name for b in topology.bridges.values() if b.node in {p.name for p in parts if p.kind == "node"}}
    links = {p.name for p in parts if p.kind == "link" and p.between is None}
    links |= {link.id for p in parts if p.between is not None for link in _links_between(topology, p.between)}
    kept = tuple(link for link in topology.links if link.id not in links and not bridges & set(link.between))
    # An endpoint keeps its name with no NIC left: it is still there, isolated, as a pair's end.
    endpoints = {
        name: Endpoint(e.name, e.type, e.node, tuple(n for n in e.nics if n.bridge not in bridges), e.vmid)
        for name, e in topology.endpoints.items()
    }
    return dataclasses.replace(topology, links=kept, endpoints=endpoints)


@dataclass(frozen=True)
class Failure:
    """The lab with `parts` failed: its analysis, and the pairs that lost each other (`change.lost`)."""

    parts: tuple[Part, ...]
    analysis: Analysis
    change: ReachDiff

    def to_json(self) -> dict:
        """The `failed` key `check --fail --json` adds (see docs/topology-format.md)."""
        return {
            "parts": [str(p) for p in self.parts],
            "reachable": [list(p) for p in self.analysis.reachable()],
            "lost": [list(p) for p in self.change.lost],
        }


def fail(intact: Analysis, parts: list[Part]) -> Failure:
    """Reachability with `parts` failed, next to the intact lab's."""
    analysis = analyse(failed_topology(intact.topology, parts))
    return Failure(tuple(parts), analysis, diff(intact, analysis))


def failure_text(failure: Failure) -> str:
    """The lines `check --fail` prints after the intact result; escaped."""
    names = sorted(failure.analysis.topology.endpoints)
    total = len(names) * (len(names) - 1) // 2
    reachable = failure.analysis.reachable_count()
    lost = failure.change.lost
    lines = [
        f"With {', '.join(map(str, failure.parts))} failed",
        f"  {reachable} reachable pair{'s' * (reachable != 1)}, {total - reachable} isolated; "
        f"{len(lost)} pair{'s' * (len(lost) != 1)} lost" + (":" if lost else ""),
    ]
    lines += segment_lines(failure.change.before, lost, indent="    ")
    return "\n".join(escape(line) for line in lines)
