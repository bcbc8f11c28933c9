"""Mutation tests for sdnlab/model.py: the order of segments."""

from __future__ import annotations

from sdnlab.model import UNTAGGED, segment_key


def test_segments_sort_by_vlan_id_then_untagged():
    assert sorted([UNTAGGED, 20, 100, 3], key=segment_key) == [3, 20, 100, UNTAGGED]
    assert sorted([UNTAGGED, 4094], key=segment_key) == [4094, UNTAGGED]
