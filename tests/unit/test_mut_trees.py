"""Mutation tests for controller/trees.py: which links are live."""

from __future__ import annotations

from controller.trees import flood_trees, live_links
from sdnlab.model import Link

L0 = Link(0, ("a", "b"), frozenset({10}))
L1 = Link(1, ("b", "c"), frozenset({10}), untagged=False)
L2 = Link(2, ("c", "a"), frozenset({10, 20}))


def test_a_link_is_live_when_each_end_reports_it_or_cannot_be_seen():
    seen = {"a": {1: L0, 2: L2}, "b": {1: L0}}
    assert live_links((L0, L1, L2), seen) == [L0]  # c reports nothing and is not passive
    assert live_links((L0, L1, L2), seen, frozenset({"c"})) == [L0, L2]  # b does not report L1
    assert live_links((L0, L1, L2), {}, frozenset({"a", "b", "c"})) == [L0, L1, L2]


def test_each_segment_gets_the_lowest_numbered_spanning_forest():
    assert flood_trees([L0, L1, L2]) == {10: frozenset({0, 1}), 20: frozenset({2}), "untagged": frozenset({0, 2})}
    assert flood_trees([]) == {}
