"""Draw a topology with matplotlib: nodes as boxes, bridges, endpoints coloured
by segment, links labelled with what they carry.

The layout is computed, not force-directed, so the same file always gives the
same picture: each node is a box; its bridges sit in a row at the top and each
bridge's endpoints in a small grid beneath it. Nodes that hold only bridges
(a fabric of spines, say) go in a row above the others.

Besides the lab itself: the lab with each endpoint's live state (`figure(...,
states=...)`), two labs side by side with the pairs one gained and the other
lost (`diff_figure`), a lab with parts failed (`failure_figure`), and one
frame's walk through a switch's flow tables (`pipeline_path`, from plain data:
this layer knows no controller). Drawn objects carry a gid (`endpoint web1`,
`pair a-b`, `table 0`, ...), so what a picture shows can be checked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from sdnlab.check import Analysis
from sdnlab.model import UNTAGGED, Segment, Topology, segment_key

if TYPE_CHECKING:
    from sdnlab.diff import ReachDiff
    from sdnlab.failures import Failure

PER_ROW = 4  # endpoints per row beneath a bridge
CELL_W, CELL_H = 1.3, 1.0
MARKERS = {"kvm": "s", "lxc": "D", "host": "o"}
UNTAGGED_COLOUR = "#7f7f7f"
# An endpoint's live state (what `deploy.lab.endpoint_states` reports) as the colour of its ring.
STATE_COLOURS = {"running": "#38a169", "stopped": "#e53e3e", "absent": "#a0aec0"}
LOST, GAINED, FAILED = "#e53e3e", "#2f855a", "#e53e3e"  # pairs lost, pairs gained, failed parts


@dataclass
class Layout:
    bridges: dict[str, tuple[float, float]] = field(default_factory=dict)
    endpoints: dict[str, tuple[float, float]] = field(default_factory=dict)
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # x, y, w, h


def segment_colours(topology: Topology) -> dict[Segment, str]:
    """One stable colour per segment; untagged is grey."""
    palette = plt.get_cmap("tab20").colors if len(topology.vlans) > 10 else plt.get_cmap("tab10").colors
    colours: dict[Segment, str] = {}
    usable = [c for i, c in enumerate(palette) if i != 7 or len(palette) > 10]  # tab10's 7 is grey
    for i, vid in enumerate(sorted(topology.vlans)):
        colours[vid] = matplotlib.colors.to_hex(usable[i % len(usable)])
    colours[UNTAGGED] = UNTAGGED_COLOUR
    return colours


def layout(topology: Topology) -> Layout:
    """Positions for every bridge and endpoint, and a box for every node."""
    homes: dict[str, list[str]] = {b: [] for b in topology.bridges}
    # Under each bridge, endpoints are grouped by segment so colours read as blocks.
    for name in sorted(topology.endpoints, key=lambda n: (segment_key(topology.endpoints[n].nics[0].segment), n)):
        homes[topology.endpoints[name].nics[0].bridge].append(name)
    on_node = {n: [b for b in topology.bridges if topology.bridges[b].node == n] for n in topology.nodes}
    fabric = [n for n in topology.nodes if not any(homes[b] for b in on_node[n])]
    rows = [fabric, [n for n in topology.nodes if n not in fabric]] if fabric else [list(topology.nodes)]
    rows = [r for r in rows if r]
    sizes = {}
    for node, bridges in on_node.items():
        # A node of bridges only (a fabric) spreads them out so links fan clearly.
        widths = [max(2 if node in fabric else 1, min(PER_ROW, len(homes[b]))) for b in bridges]
        depth = max((math.ceil(len(homes[b]) / PER_ROW) for b in bridges), default=0)
        sizes[node] = (widths, max(sum(widths), 1) * CELL_W + 0.4, (1 + depth) * CELL_H + 0.5)
    row_widths = [sum(sizes[n][1] for n in row) + 0.6 * (len(row) - 1) for row in rows]
    widest = max(row_widths, default=0)
    out = Layout()
    y_top = 0.0
    for row, row_width in zip(rows, row_widths, strict=False):
        x = (widest - row_width) / 2
        for node in row:
            widths, w, h = sizes[node]
            out.boxes[node] = (x, y_top - h, w, h)
            bx = x + 0.2
            for bridge, width in zip(on_node[node], widths, strict=False):
                cx = bx + width * CELL_W / 2
                out.bridges[bridge] = (cx, y_top - 0.55)
                for i, name in enumerate(homes[bridge]):
                    col, line = i % PER_ROW, i // PER_ROW
                    in_row = min(PER_ROW, len(homes[bridge]) - line * PER_ROW)
                    ex = cx + (col - (in_row - 1) / 2) * CELL_W
                    out.endpoints[name] = (ex, y_top - 0.55 - (line + 1) * CELL_H)
                bx += width * CELL_W
            x += w + 0.6
        y_top -= max(sizes[n][2] for n in row) + 1.6
    return out


def link_arcs(topology: Topology, pos: Layout) -> list[tuple[object, tuple[float, float], tuple[float, float], float, tuple[float, float]]]:
    """(link, start, end, curvature, middle of the curve) for every link."""
    seen: dict[frozenset[str], int] = {}
    out = []
    for link in topology.links:
        pair = frozenset(link.between)
        nth = seen.get(pair, 0)
        seen[pair] = nth + 1
        (x1, y1), (x2, y2) = pos.bridges[link.between[0]], pos.bridges[link.between[1]]
        dx, dy = x2 - x1, y2 - y1
        dist = math.hypot(dx, dy) or 1.0
        # Long links curve less (they would leave the picture); parallel links
        # bow out alternately so each one and its label stay visible.
        base = 0.25 * min(1.0, 4.0 / dist) + 0.12 * (nth // 2)
        rad = base if nth % 2 == 0 else -base
        # arc3 puts its control point at mid + rad*(dy, -dx); the curve's middle is halfway there.
        middle = ((x1 + x2) / 2 + rad * dy / 2, (y1 + y2) / 2 - rad * dx / 2)
        out.append((link, (x1, y1), (x2, y2), rad, middle))
    return out


def link_label(topology: Topology, trunks: frozenset[int], untagged: bool) -> str:
    """'10,20 +U', '10-19', 'untagged' or 'nothing' for a link's carried segments."""
    parts = _ranges(sorted(trunks))
    if untagged:
        parts = parts + "+U" if parts else "untagged"
    return parts or "nothing"


def _ranges(vids: list[int]) -> str:
    out, i = [], 0
    while i < len(vids):
        j = i
        while j + 1 < len(vids) and vids[j + 1] == vids[j] + 1:
            j += 1
        out.append(str(vids[i]) if j == i else f"{vids[i]}-{vids[j]}")
        i = j + 1
    text = ",".join(out)
    return text + " " if text else ""


def figure_size(topology: Topology) -> tuple[float, float]:
    """Inches that keep the layout readable: about one inch per layout unit."""
    pos = layout(topology)
    arcs = link_arcs(topology, pos)
    xs, ys = _extent(pos, arcs)
    return min(max((max(xs) - min(xs)) * 1.1, 6), 40), min(max((max(ys) - min(ys)) * 1.1 + 1.2, 4), 30)


def _extent(pos: Layout, arcs: list) -> tuple[list[float], list[float]]:
    xs = [x for x, _, w, _ in pos.boxes.values()] + [x + w for x, _, w, _ in pos.boxes.values()] + [m[0] for *_, m in arcs]
    ys = [y for _, y, _, h in pos.boxes.values()] + [y + h for _, y, _, h in pos.boxes.values()] + [m[1] for *_, m in arcs]
    return xs, ys


def draw(analysis: Analysis, output: str | Path, title: str | None = None) -> Path:
    """Write the picture (PNG or SVG by extension) and return its path."""
    fig, ax = plt.subplots(figsize=figure_size(analysis.topology))
    draw_on(ax, analysis, title)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return output


def figure(analysis: Analysis, title: str | None = None, emphasis: dict[int, str] | None = None, states: dict[str, str] | None = None):
    """The picture as a matplotlib Figure (for notebooks); `emphasis` colours links by index, `states`
    rings each endpoint in the colour of its live state (see `state_colours`)."""
    fig, ax = plt.subplots(figsize=figure_size(analysis.topology))
    draw_on(ax, analysis, title, emphasis=emphasis, states=states)
    return fig


def drawn(ax, kind: str) -> dict[str, str]:
    """What a picture of this module shows of one kind ('endpoint', 'link', 'pair', 'failed node', 'failed
    bridge'; 'table', 'step', 'outcome'): each object's name (from its gid) and its edge colour, in drawing order."""
    if isinstance(ax, Figure):  # a Figure: its first axes
        ax = ax.axes[0]
    out = {}
    for artist in ax.get_children():
        gid = artist.get_gid() or ""
        if gid == kind or gid.startswith(kind + " "):
            colour = artist.get_edgecolor() if hasattr(artist, "get_edgecolor") else artist.get_color()
            colour = colour[0] if len(colour) and not isinstance(colour[0], float) else colour
            out[gid[len(kind) + 1:]] = matplotlib.colors.to_hex(colour)
    return out


def state_colours(states: dict[str, str]) -> dict[str, str]:
    """Each endpoint's ring colour for its state ('running', 'stopped' or 'absent'); ValueError for another state."""
    unknown = sorted({s for s in states.values() if s not in STATE_COLOURS})
    if unknown:
        raise ValueError(f"no colour for state {', '.join(map(repr, unknown))}: states are {', '.join(STATE_COLOURS)}")
    return {name: STATE_COLOURS[state] for name, state in states.items()}


def diff_figure(change: ReachDiff, titles: tuple[str, str] | None = None):
    """Two labs side by side: the first with the pairs it loses dashed red, the second with the pairs it gains dashed green."""
    before, after = change.before, change.after
    (w1, h1), (w2, h2) = figure_size(before.topology), figure_size(after.topology)
    fig, (left, right) = plt.subplots(1, 2, figsize=(w1 + w2, max(h1, h2)), gridspec_kw={"width_ratios": [w1, w2]})
    lost, gained = len(change.lost), len(change.gained)
    first, second = titles or (f"{before.topology.source}: {lost} pair{'s' * (lost != 1)} lost", f"{after.topology.source}: {gained} pair{'s' * (gained != 1)} gained")
    draw_on(left, before, first, marked=dict.fromkeys(change.lost, LOST))
    draw_on(right, after, second, marked=dict.fromkeys(change.gained, GAINED))
    return fig


def failure_figure(failure: Failure, title: str | None = None, ax=None):
    """The intact lab with the failed parts in red (links red, a failed node or bridge hatched) and the pairs the failure cuts dashed red."""
    intact = failure.change.before
    topology = intact.topology
    if ax is None:
        _, ax = plt.subplots(figsize=figure_size(topology))
    kept = {link.id for link in failure.analysis.topology.links}
    cut = {link.index: FAILED for link in topology.links if link.id not in kept}
    lost = len(failure.change.lost)
    title = title or f"with {', '.join(map(str, failure.parts))} failed: {lost} pair{'s' * (lost != 1)} cut"
    draw_on(ax, intact, title, marked=dict.fromkeys(failure.change.lost, LOST), emphasis=cut)
    pos = layout(topology)
    for part in failure.parts:
        if part.kind == "node" and part.name in pos.boxes:
            x, y, w, h = pos.boxes[part.name]
            ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05,rounding_size=0.2", fc="none", ec=FAILED, lw=2, hatch="//",
                                        alpha=0.6, zorder=8, gid=f"failed node {part.name}"))
        elif part.kind == "bridge" and part.name in pos.bridges:
            bx, by = pos.bridges[part.name]
            ax.add_patch(FancyBboxPatch((bx - 0.55, by - 0.22), 1.1, 0.44, boxstyle="round,pad=0.05", fc="none", ec=FAILED, lw=2, hatch="//",
                                        zorder=8, gid=f"failed bridge {part.name}"))
    return ax.figure


def matrix(analysis: Analysis, ax=None):
    """The reachability matrix as a picture: green where two endpoints reach each other."""
    names = sorted(analysis.topology.endpoints)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3, len(names) * 0.35), max(3, len(names) * 0.35)))
    grid = [[0.5 if a == b else (1.0 if analysis.is_reachable(a, b) else 0.0) for b in names] for a in names]
    ax.imshow(grid, cmap="Greens", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title("reachability (dark: reachable)", fontsize=9)
    return ax


def draw_on(ax, analysis: Analysis, title: str | None = None, marked: dict[tuple[str, str], str] | None = None,
            emphasis: dict[int, str] | None = None, states: dict[str, str] | None = None) -> None:
    """Draw the lab on `ax`; `marked` pairs of endpoints get a dashed line of the given colour,
    `emphasis` colours links (by index), e.g. to show a flood tree, `states` rings each endpoint
    in its state's colour (`state_colours`; an endpoint without a state keeps its thin black edge)."""
    topology = analysis.topology
    pos = layout(topology)
    colours = segment_colours(topology)
    rings = state_colours(states or {})
    arcs = link_arcs(topology, pos)
    xs, ys = _extent(pos, arcs)
    for node, (x, y, w, h) in pos.boxes.items():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05,rounding_size=0.2", fc="#f4f6fa", ec="#9aa5b8", lw=1.2, zorder=0))
        ax.text(x + 0.1, y + h - 0.12, node, fontsize=9, fontweight="bold", color="#4a5568", va="top")
    for name, endpoint in topology.endpoints.items():
        ex, ey = pos.endpoints[name]
        for nic in endpoint.nics:
            bx, by = pos.bridges[nic.bridge]
            ax.plot([ex, bx], [ey, by - 0.18], color=colours[nic.segment], lw=1.6, zorder=1)
        ax.scatter([ex], [ey], s=260, marker=MARKERS[endpoint.type], c=[colours[endpoint.nics[0].segment]], edgecolors=rings.get(name, "black"),
                   linewidths=3 if name in rings else 0.6, zorder=3, gid=f"endpoint {name}")
        label = name + "".join(f"\n{nic.ip.ip}" for nic in endpoint.nics if nic.ip)
        ax.text(ex, ey - 0.22, label, ha="center", va="top", fontsize=7, zorder=4)
    _draw_links(ax, topology, arcs, emphasis or {})
    for name, (bx, by) in pos.bridges.items():
        bridge = topology.bridges[name]
        face = "#2b6cb0" if bridge.is_ovs else ("#805ad5" if bridge.vlan_aware else "#a0aec0")
        ax.text(bx, by, name, ha="center", va="center", fontsize=8, color="white", fontweight="bold", zorder=5,
                bbox={"boxstyle": "round,pad=0.3", "fc": face, "ec": "black", "lw": 0.6})
    for k, ((a, b), colour) in enumerate((marked or {}).items()):
        # Arcs, bowing alternately and a little further every other pair, so pairs on one row do not hide each other.
        rad = (0.3 + 0.15 * min(k // 2, 4)) * (1 if k % 2 == 0 else -1)
        (x1, y1), (x2, y2) = pos.endpoints[a], pos.endpoints[b]
        ax.add_patch(FancyArrowPatch((x1, y1), (x2, y2), connectionstyle=f"arc3,rad={rad}", arrowstyle="-", ls="--",
                                     lw=2.5, color=colour, zorder=7, gid=f"pair {a}-{b}"))
        xs.append((x1 + x2) / 2 + rad * (y2 - y1) / 2)  # the middle of the arc, as in link_arcs
        ys.append((y1 + y2) / 2 - rad * (x2 - x1) / 2)
    _legend(ax, topology, colours, sorted(set((states or {}).values()), key=list(STATE_COLOURS).index))
    ax.set_xlim(min(xs) - 0.3, max(xs) + 0.3)
    ax.set_ylim(min(ys) - 0.3, max(ys) + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"{topology.name}: {len(topology.endpoints)} endpoints, {len(topology.bridges)} bridges", fontsize=11)


def _draw_links(ax, topology: Topology, arcs: list, emphasis: dict[int, str]) -> None:
    for link, start, end, rad, (lx, ly) in arcs:
        colour = emphasis.get(link.index, "#2d3748" if not emphasis else "#cbd5e0")
        ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad}", arrowstyle="-", color=colour,
                                     lw=3.2 if link.index in emphasis else 2.2, zorder=2, gid=f"link {link.id}"))
        ax.text(lx, ly, link_label(topology, link.trunks, link.untagged).strip(), fontsize=7, ha="center", va="center", zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "fc": "#fffbea", "ec": "#d69e2e", "lw": 0.5})


def _legend(ax, topology: Topology, colours: dict[Segment, str], states: Sequence[str] = ()) -> None:
    used = sorted({segment for nic in topology.nics() for segment in nic.segments}, key=segment_key)
    handles = [Line2D([], [], color=colours[s], lw=3, label=topology.vlan_label(s)) for s in used]
    handles += [Line2D([], [], marker=m, ls="", color="white", markeredgecolor="black", markersize=8, label=t) for t, m in MARKERS.items()
                if any(e.type == t for e in topology.endpoints.values())]
    handles += [Line2D([], [], marker="o", ls="", color="white", markeredgecolor=STATE_COLOURS[s], markeredgewidth=3, markersize=9, label=s)
                for s in states]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, title="segments / endpoints", title_fontsize=8)


# One frame's walk through a switch's tables: a column per table, a card per matching flow.
COLUMN_W, COLUMN_GAP, LINE_H, INCH = 3.4, 0.7, 0.3, 0.62  # INCH: inches per unit


def pipeline_path(tables: Sequence[tuple[int, str]], steps: Sequence, outcome: str, title: str | None = None, start: str | None = None, ax=None):
    """One frame's walk through a switch's flow tables, from plain data: `tables` as (id, name) in
    pipeline order (a column each, gid `table <id>`), `steps` the flows that matched in order, each
    with `.table`, `.priority`, `.match` and `.actions` (strings; no actions: dropped there) as
    `controller.oftable.steps` gives them (a card each in its table's column, gid `step <table>`),
    `outcome` where the frame went (a box after the last column, gid `outcome delivered`, green, if
    it left by a port, else `outcome dropped`, red), `start` where it came in. Returns the Figure."""
    columns = {tid: i for i, (tid, _) in enumerate(tables)}
    unknown = [step.table for step in steps if step.table not in columns]
    if unknown:
        raise ValueError(f"the walk goes through table {unknown[0]}, which is not one of the tables {sorted(columns)}")
    cards = [_card(step) for step in steps]
    height = max([len(c) * LINE_H + 1.6 for c in cards] + [3.2])
    pitch = COLUMN_W + COLUMN_GAP
    if ax is None:
        fig, ax = plt.subplots(figsize=((pitch * (len(tables) + 1) + 2.2) * INCH, (height + 0.4) * INCH + 0.5))
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.5 / ((height + 0.4) * INCH + 0.5))
    visited = {step.table for step in steps}
    for i, (tid, name) in enumerate(tables):
        seen = tid in visited
        ax.add_patch(FancyBboxPatch((i * pitch, -height), COLUMN_W, height, boxstyle="round,pad=0.02,rounding_size=0.15",
                                    fc="#ebf4ff" if seen else "#f7fafc", ec="#2b6cb0" if seen else "#cbd5e0", lw=1.4, zorder=0, gid=f"table {tid}"))
        ax.text(i * pitch + COLUMN_W / 2, -0.3, f"table {tid}\n{name.upper()}", ha="center", va="top", fontsize=9, fontweight="bold",
                color="#2c5282" if seen else "#a0aec0")
    middle = -height / 2 - 0.3
    ends: list[tuple[tuple[float, float], tuple[float, float]]] = []  # each card's left and right middle
    for step, card in zip(steps, cards, strict=True):
        x, h = columns[step.table] * pitch + 0.15, len(card) * LINE_H + 0.2
        dropped = not step.actions
        ax.add_patch(FancyBboxPatch((x, middle - h / 2), COLUMN_W - 0.3, h, boxstyle="round,pad=0.04,rounding_size=0.1",
                                    fc="#fff5f5" if dropped else "white", ec=LOST if dropped else "#4a5568", lw=1, zorder=2, gid=f"step {step.table}"))
        ax.text(x + 0.1, middle + h / 2 - 0.1, "\n".join(card), ha="left", va="top", fontsize=7, family="monospace", zorder=3)
        ends.append(((x, middle), (x + COLUMN_W - 0.3, middle)))
    left = len(tables) * pitch
    went = not outcome.startswith("nowhere")
    ax.add_patch(FancyBboxPatch((left, middle - 0.6), COLUMN_W, 1.2, boxstyle="round,pad=0.04,rounding_size=0.1",
                                fc="#f0fff4" if went else "#fff5f5", ec=GAINED if went else LOST, lw=1.4, zorder=2,
                                gid="outcome delivered" if went else "outcome dropped"))
    ax.text(left + COLUMN_W / 2, middle, "out: " + outcome.replace("), ", "),\n"), ha="center", va="center", fontsize=8, zorder=3,
            color=GAINED if went else LOST, fontweight="bold")
    # Arrows: in, from card to card, and to the outcome, or from the card that dropped it nowhere.
    points = [(-2.0, middle)] + [p for pair in ends for p in pair]
    hops = list(zip(points[0::2], points[1::2], strict=False))
    if went or not steps or steps[-1].actions:
        hops.append((points[-1], (left, middle)))
    for a, b in hops:
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color="#2d3748", lw=1.4, zorder=1))
    if start:
        ax.text(-2.0, middle + 0.12, start, ha="left", va="bottom", fontsize=8)
    ax.set_xlim(-2.1, left + COLUMN_W + 0.1)
    ax.set_ylim(-height - 0.2, 0.2)
    ax.axis("off")
    ax.set_title(title or f"one frame through {len(tables)} tables: {len(steps)} flows matched", fontsize=11)
    return ax.figure


def _card(step) -> list[str]:
    """A matching flow as lines: its priority, what it matches, then what it does."""
    lines = [f"priority {step.priority}"] + [f"  {m}" for m in step.match or ("(anything)",)]
    return lines + [f"-> {a}" for a in step.actions or ("drop",)]


REPLICA_COLOURS = {"master": "#2f855a", "slave": "#4a5568", "no quorum": "#dd6b20", "stopped": "#e53e3e", "cut off": "#dd6b20"}


def cluster_figure(replicas: dict[int, str], masters: dict[str, int | None], title: str | None = None, ax=None):
    """A controller cluster: its replicas (coloured by state: `REPLICA_COLOURS`' names) above the switches, each
    switch joined to every replica, its master by a thick green line; a switch with no master is drawn red."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.8 * max(len(replicas), len(masters)) + 1, 3.2))
    top = {k: (i - (len(replicas) - 1) / 2, 1.0) for i, k in enumerate(sorted(replicas))}
    bottom = {b: (i - (len(masters) - 1) / 2, 0.0) for i, b in enumerate(sorted(masters))}
    for bridge, (x, y) in bottom.items():
        for replica, (rx, ry) in top.items():
            master = masters[bridge] == replica
            ax.plot([x, rx], [y, ry], color="#2f855a" if master else "#cbd5e0", lw=3 if master else 1, zorder=1)
        ax.scatter([x], [y], s=900, marker="s", color="#e2e8f0" if masters[bridge] is not None else "#fed7d7",
                   edgecolor="#2d3748", zorder=2)
        ax.text(x, y, bridge, ha="center", va="center", fontsize=9, zorder=3)
    for replica, (x, y) in top.items():
        ax.scatter([x], [y], s=1100, color=REPLICA_COLOURS.get(replicas[replica], "#a0aec0"), zorder=2)
        ax.text(x, y, str(replica), ha="center", va="center", color="white", fontsize=11, weight="bold", zorder=3)
        ax.text(x, y + 0.2, replicas[replica], ha="center", fontsize=8)
    ax.set_xlim(-max(len(replicas), len(masters)) / 2 - 0.2, max(len(replicas), len(masters)) / 2 + 0.2)
    ax.set_ylim(-0.35, 1.4)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
