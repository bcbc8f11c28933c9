"""How reachability changes between two analyses: `sdnlab diff A B`, and `check --fail`.

Pure: two `check.Analysis` values in, the pairs gained and lost out. Both
pair lists are walked in their sorted order side by side (a merge), so memory
follows the difference, not the labs: a lab of 3,000 endpoints in one VLAN has
4.5 million reachable pairs, and two of them should not be two sets of that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sdnlab.check import Analysis, Pair
from sdnlab.model import Segment, segment_key
from sdnlab.problems import escape

PAIRS_SHOWN = 12  # pairs on one segment line of the text; --json lists every one


@dataclass(frozen=True)
class ReachDiff:
    """Pairs reachable in `after` and not in `before` (gained), and the other way round (lost); both sorted."""

    before: Analysis
    after: Analysis
    gained: tuple[Pair, ...]
    lost: tuple[Pair, ...]

    @property
    def same(self) -> bool:
        return not self.gained and not self.lost

    def to_json(self) -> dict:
        """The object of `sdnlab diff --json`; pairs sorted as in `check --json`."""
        return {"gained": [list(p) for p in self.gained], "lost": [list(p) for p in self.lost]}


def diff(before: Analysis, after: Analysis) -> ReachDiff:
    """Compare the reachable pairs of two analyses (of two files, or of one file intact and with failures)."""
    gained: list[Pair] = []
    lost: list[Pair] = []
    for pair, side in _merge(before.iter_reachable(), after.iter_reachable()):
        (lost if side == "before" else gained).append(pair)
    return ReachDiff(before, after, tuple(gained), tuple(lost))


def _merge(xs: Iterator[Pair], ys: Iterator[Pair]) -> Iterator[tuple[Pair, str]]:
    """The pairs in only one of two sorted streams, in order, each with the side it is on."""
    x, y = next(xs, None), next(ys, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x < y):
            yield x, "before"
            x = next(xs, None)
        elif x is None or y < x:
            yield y, "after"
            y = next(ys, None)
        else:
            x, y = next(xs, None), next(ys, None)


def by_segment(analysis: Analysis, pairs: tuple[Pair, ...] | list[Pair]) -> dict[Segment, list[Pair]]:
    """Each pair under every segment in which `analysis` has it reachable, segments in order."""
    out: dict[Segment, list[Pair]] = {}
    for pair in pairs:
        for segment in analysis.shared_segments(*pair):
            out.setdefault(segment, []).append(pair)
    return {segment: out[segment] for segment in sorted(out, key=segment_key)}


def segment_lines(analysis: Analysis, pairs: tuple[Pair, ...] | list[Pair], indent: str = "  ") -> list[str]:
    """One line per segment: its label, then its pairs as a-b (the first PAIRS_SHOWN of them)."""
    groups = by_segment(analysis, pairs)
    topo = analysis.topology
    width = max((len(topo.vlan_label(s)) for s in groups), default=0)
    out = []
    for segment, members in groups.items():
        shown = " ".join(f"{a}-{b}" for a, b in members[:PAIRS_SHOWN])
        if len(members) > PAIRS_SHOWN:
            shown += f" ... (+{len(members) - PAIRS_SHOWN}; --json lists every pair)"
        out.append(f"{indent}{topo.vlan_label(segment):<{width}}  {shown}")
    return out


def diff_text(result: ReachDiff) -> str:
    """`sdnlab diff A B` for people: a verdict, then the pairs gained and lost per segment; escaped."""
    a, b = result.before.topology.source, result.after.topology.source
    if result.same:
        n = result.before.reachable_count()
        lines = [f"{a} -> {b}: same reachability ({n} reachable pair{'s' * (n != 1)})"]
    else:
        lines = [f"{a} -> {b}: reachability differs: {_count(result.gained)} gained, {_count(result.lost)} lost"]
        for title, pairs, where, other in (("Gained", result.gained, result.after, a), ("Lost", result.lost, result.before, b)):
            if not pairs:
                lines.append(f"{title}: none")
                continue
            # A pair is listed under each segment that joins it in the file where it is reachable.
            lines.append(f"{title} (reachable in {where.topology.source}, not in {other})")
            lines += segment_lines(where, pairs)
    return "\n".join(escape(line) for line in lines)


def _count(pairs: tuple[Pair, ...]) -> str:
    return f"{len(pairs)} pair{'s' * (len(pairs) != 1)}"
