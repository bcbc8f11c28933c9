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

matplotlib.use("Agg")  # no screen here, nor in CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from sdnlab.check import Analysis  # noqa: E402
from sdnlab.model import UNTAGGED, Segment, Topology, segment_key  # noqa: E402

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
    for name in sorted(topology.endpoints):
        homes[topology.endpoints[name].nics[0].bridge].append(name)
    fabric = [n for n in topology.nodes if not any(homes[b] for b in topology.bridges if topology.bridges[b].node == n)]
    rows = [fabric, [n for n in topology.nodes if n not in fabric]] if fabric else [list(topology.nodes)]
    out = Layout()
    y_top = 0.0
    for row in rows:
        x = 0.0
        row_height = 0.0
        for node in row:
            bridges = [b for b in topology.bridges if topology.bridges[b].node == node]
            widths = [max(1, min(PER_ROW, len(homes[b]))) for b in bridges]
            depth = max((math.ceil(len(homes[b]) / PER_ROW) for b in bridges), default=0)
            w = max(sum(widths), 1) * CELL_W + 0.4
            h = (1 + depth) * CELL_H + 0.5
            out.boxes[node] = (x, y_top - h, w, h)
            bx = x + 0.2
            for bridge, width in zip(bridges, widths):
                cx = bx + width * CELL_W / 2
                out.bridges[bridge] = (cx, y_top - 0.55)
                for i, name in enumerate(homes[bridge]):
                    col, line = i % PER_ROW, i // PER_ROW
                    in_row = min(PER_ROW, len(homes[bridge]) - line * PER_ROW)
                    ex = cx + (col - (in_row - 1) / 2) * CELL_W
                    out.endpoints[name] = (ex, y_top - 0.55 - (line + 1) * CELL_H)
                bx += width * CELL_W
            x += w + 0.6
            row_height = max(row_height, h)
        y_top -= row_height + 1.2
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


def draw(analysis: Analysis, output: str | Path, title: str | None = None) -> Path:
    """Write the picture (PNG or SVG by extension) and return its path."""
    topology = analysis.topology
    pos = layout(topology)
    colours = segment_colours(topology)
    xs = [x for x, _, w, _ in pos.boxes.values()] + [x + w for x, _, w, _ in pos.boxes.values()]
    ys = [y for _, y, _, h in pos.boxes.values()] + [y + h for _, y, _, h in pos.boxes.values()]
    span_w, span_h = max(xs) - min(xs), max(ys) - min(ys)
    fig, ax = plt.subplots(figsize=(min(max(span_w * 1.1, 6), 40), min(max(span_h * 1.1 + 1.2, 4), 30)))
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
    _draw_links(ax, topology, pos)
    for name, (bx, by) in pos.bridges.items():
        bridge = topology.bridges[name]
        face = "#2b6cb0" if bridge.is_ovs else ("#805ad5" if bridge.vlan_aware else "#a0aec0")
        ax.text(bx, by, name, ha="center", va="center", fontsize=8, color="white", fontweight="bold", zorder=5,
                bbox={"boxstyle": "round,pad=0.3", "fc": face, "ec": "black", "lw": 0.6})
    _legend(ax, topology, colours)
    ax.set_xlim(min(xs) - 0.3, max(xs) + 0.3)
    ax.set_ylim(min(ys) - 0.3, max(ys) + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"{topology.name}: {len(topology.endpoints)} endpoints, {len(topology.bridges)} bridges", fontsize=11)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return output


def _draw_links(ax, topology: Topology, pos: Layout) -> None:
    seen: dict[frozenset[str], int] = {}
    for link in topology.links:
        pair = frozenset(link.between)
        nth = seen.get(pair, 0)
        seen[pair] = nth + 1
        # Parallel links bow out alternately so each one and its label stay visible.
        rad = 0.25 + 0.2 * (nth // 2) if nth % 2 == 0 else -(0.25 + 0.2 * (nth // 2))
        (x1, y1), (x2, y2) = pos.bridges[link.between[0]], pos.bridges[link.between[1]]
        ax.add_patch(FancyArrowPatch((x1, y1), (x2, y2), connectionstyle=f"arc3,rad={rad}", arrowstyle="-", color="#2d3748", lw=2.2, zorder=2))
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        dx, dy = x2 - x1, y2 - y1
        # arc3 puts its control point at mid + rad*(dy, -dx); the curve's middle is halfway there.
        lx, ly = mx + rad * dy / 2, my - rad * dx / 2
        ax.text(lx, ly, link_label(topology, link.trunks, link.untagged).strip(), fontsize=7, ha="center", va="center", zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "fc": "#fffbea", "ec": "#d69e2e", "lw": 0.5})


def _legend(ax, topology: Topology, colours: dict[Segment, str]) -> None:
    used = sorted({nic.segment for nic in topology.nics()}, key=segment_key)
    handles = [Line2D([], [], color=colours[s], lw=3, label=topology.vlan_label(s)) for s in used]
    handles += [Line2D([], [], marker=m, ls="", color="white", markeredgecolor="black", markersize=8, label=t) for t, m in MARKERS.items()
                if any(e.type == t for e in topology.endpoints.values())]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, title="segments / endpoints", title_fontsize=8)
