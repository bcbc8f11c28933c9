"""Draw a topology with matplotlib: nodes as boxes, bridges, endpoints coloured
by segment, links labelled with what they carry.

The layout is computed, not force-directed, so the same file always gives the
same picture: each node is a box; its bridges sit in a row at the top and each
bridge's endpoints in a small grid beneath it. Nodes that hold only bridges
(a fabric of spines, say) go in a row above the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from sdnlab.check import Analysis
from sdnlab.model import UNTAGGED, Segment, Topology, segment_key

PER_ROW = 4  # endpoints per row beneath a bridge
CELL_W, CELL_H = 1.3, 1.0
MARKERS = {"kvm": "s", "lxc": "D", "host": "o"}
UNTAGGED_COLOUR = "#7f7f7f"


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


def figure(analysis: Analysis, title: str | None = None, emphasis: dict[int, str] | None = None):
    """The picture as a matplotlib Figure (for notebooks); `emphasis` colours links by index."""
    fig, ax = plt.subplots(figsize=figure_size(analysis.topology))
    draw_on(ax, analysis, title, emphasis=emphasis)
    return fig


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
            emphasis: dict[int, str] | None = None) -> None:
    """Draw the lab on `ax`; `marked` pairs of endpoints get a dashed line of the given colour,
    `emphasis` colours links (by index), e.g. to show a flood tree."""
    topology = analysis.topology
    pos = layout(topology)
    colours = segment_colours(topology)
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
        ax.scatter([ex], [ey], s=260, marker=MARKERS[endpoint.type], c=[colours[endpoint.nics[0].segment]], edgecolors="black", linewidths=0.6, zorder=3)
        label = name + "".join(f"\n{nic.ip.ip}" for nic in endpoint.nics if nic.ip)
        ax.text(ex, ey - 0.22, label, ha="center", va="top", fontsize=7, zorder=4)
    _draw_links(ax, topology, arcs, emphasis or {})
    for name, (bx, by) in pos.bridges.items():
        bridge = topology.bridges[name]
        face = "#2b6cb0" if bridge.is_ovs else ("#805ad5" if bridge.vlan_aware else "#a0aec0")
        ax.text(bx, by, name, ha="center", va="center", fontsize=8, color="white", fontweight="bold", zorder=5,
                bbox={"boxstyle": "round,pad=0.3", "fc": face, "ec": "black", "lw": 0.6})
    for (a, b), colour in (marked or {}).items():
        (x1, y1), (x2, y2) = pos.endpoints[a], pos.endpoints[b]
        ax.plot([x1, x2], [y1, y2], ls="--", lw=2.5, color=colour, zorder=7)
    _legend(ax, topology, colours)
    ax.set_xlim(min(xs) - 0.3, max(xs) + 0.3)
    ax.set_ylim(min(ys) - 0.3, max(ys) + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"{topology.name}: {len(topology.endpoints)} endpoints, {len(topology.bridges)} bridges", fontsize=11)


def _draw_links(ax, topology: Topology, arcs: list, emphasis: dict[int, str]) -> None:
    for link, start, end, rad, (lx, ly) in arcs:
        colour = emphasis.get(link.index, "#2d3748" if not emphasis else "#cbd5e0")
        ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad}", arrowstyle="-", color=colour,
                                     lw=3.2 if link.index in emphasis else 2.2, zorder=2))
        ax.text(lx, ly, link_label(topology, link.trunks, link.untagged).strip(), fontsize=7, ha="center", va="center", zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "fc": "#fffbea", "ec": "#d69e2e", "lw": 0.5})


def _legend(ax, topology: Topology, colours: dict[Segment, str]) -> None:
    used = sorted({segment for nic in topology.nics() for segment in nic.segments}, key=segment_key)
    handles = [Line2D([], [], color=colours[s], lw=3, label=topology.vlan_label(s)) for s in used]
    handles += [Line2D([], [], marker=m, ls="", color="white", markeredgecolor="black", markersize=8, label=t) for t, m in MARKERS.items()
                if any(e.type == t for e in topology.endpoints.values())]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, title="segments / endpoints", title_fontsize=8)
