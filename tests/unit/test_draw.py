"""The picture layout: every object placed, inside its node's box, nothing on top of anything."""

from __future__ import annotations

import pytest

from sdnlab import load
from sdnlab.draw import layout, link_label
from tests.conftest import TOPOLOGIES


@pytest.mark.parametrize("name", sorted(p.name for p in TOPOLOGIES.glob("*.yaml")))
def test_layout_places_everything_without_overlap(name):
    topo = load(TOPOLOGIES / name)
    pos = layout(topo)
    assert set(pos.bridges) == set(topo.bridges) and set(pos.endpoints) == set(topo.endpoints)
    points = list(pos.bridges.values()) + list(pos.endpoints.values())
    assert len(set(points)) == len(points)
    for name_, (x, y) in pos.endpoints.items():
        bx, by, bw, bh = pos.boxes[topo.endpoints[name_].node]
        assert bx <= x <= bx + bw and by <= y <= by + bh
    boxes = list(pos.boxes.values())
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1


def test_link_labels():
    topo = load(TOPOLOGIES / "two-nodes.yaml")
    assert link_label(topo, frozenset({10, 20}), True).strip() == "10,20 +U"
    assert link_label(topo, frozenset({10, 11, 12, 20}), False).strip() == "10-12,20"
    assert link_label(topo, frozenset(), True) == "untagged"
    assert link_label(topo, frozenset(), False) == "nothing"
