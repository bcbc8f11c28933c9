"""The picture layout: every object placed, inside its node's box, nothing on top of anything."""

from __future__ import annotations

import itertools
import math

import matplotlib
import pytest
from matplotlib.collections import PathCollection

from sdnlab import analyse, load
from sdnlab.draw import CELL_H, CELL_W, draw_on, figure_size, layout, link_label
from tests.conftest import TOPOLOGIES


@pytest.mark.parametrize("name", sorted(p.name for p in TOPOLOGIES.glob("*.yaml")))
def test_layout_places_everything_without_overlap(name):
    topo = load(TOPOLOGIES / name)
    pos = layout(topo)
    assert set(pos.bridges) == set(topo.bridges) and set(pos.endpoints) == set(topo.endpoints)
    # Bridges and endpoints sit on draw's grid of CELL_W x CELL_H cells: no two closer than a cell.
    placed = [(f"bridge {n}", p) for n, p in pos.bridges.items()] + [(f"endpoint {n}", p) for n, p in pos.endpoints.items()]
    for (a, pa), (b, pb) in itertools.combinations(placed, 2):
        assert math.dist(pa, pb) >= min(CELL_W, CELL_H) - 1e-9, (a, pa, b, pb)
    for name_, (x, y) in pos.endpoints.items():
        bx, by, bw, bh = pos.boxes[topo.endpoints[name_].node]
        assert bx <= x <= bx + bw and by <= y <= by + bh
    boxes = list(pos.boxes.values())
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1


def drawn(name: str):
    """The picture as `sdnlab graph` draws it, rendered (Agg) so every artist has its place in pixels."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    topo = load(TOPOLOGIES / name)
    fig, ax = plt.subplots(figsize=figure_size(topo))
    draw_on(ax, analyse(topo))
    fig.canvas.draw()
    return topo, fig, ax, plt


@pytest.mark.parametrize("name", sorted(p.name for p in TOPOLOGIES.glob("*.yaml")))
def test_drawn_labels_and_endpoint_markers_do_not_overlap(name):
    topo, fig, ax, plt = drawn(name)
    try:
        renderer = fig.canvas.get_renderer()
        # Every text: node names, endpoint names with addresses, bridge names, link labels (with their boxes).
        labels = [(t.get_text(), (t.get_bbox_patch() or t).get_window_extent(renderer)) for t in ax.texts]
        assert len(labels) >= len(topo.bridges) + len(topo.endpoints)
        for (a, box_a), (b, box_b) in itertools.combinations(labels, 2):
            assert not box_a.overlaps(box_b), (a, b)
        # Endpoint markers: circles of the size draw gives the scatter (points^2 -> pixels).
        markers = []
        for collection in ax.collections:
            if isinstance(collection, PathCollection):
                for (x, y), size in zip(collection.get_offsets(), itertools.cycle(collection.get_sizes()), strict=False):
                    markers.append((*ax.transData.transform((x, y)), math.sqrt(size) / 2 * fig.dpi / 72))
        assert len(markers) == len(topo.endpoints)
        for (x1, y1, r1), (x2, y2, r2) in itertools.combinations(markers, 2):
            assert math.dist((x1, y1), (x2, y2)) > r1 + r2
        for x, y, r in markers:
            for text, box in labels:
                nearest = (min(max(x, box.x0), box.x1), min(max(y, box.y0), box.y1))
                assert math.dist((x, y), nearest) > r, (text, (x, y))
    finally:
        plt.close(fig)


def test_link_labels():
    topo = load(TOPOLOGIES / "two-nodes.yaml")
    assert link_label(topo, frozenset({10, 20}), True).strip() == "10,20 +U"
    assert link_label(topo, frozenset({10, 11, 12, 20}), False).strip() == "10-12,20"
    assert link_label(topo, frozenset(), True) == "untagged"
    assert link_label(topo, frozenset(), False) == "nothing"
