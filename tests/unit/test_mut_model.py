"""Mutation tests for sdnlab/model.py: the order of segments."""

from __future__ import annotations

from sdnlab.model import UNTAGGED, Nic, Topology, segment_key


def test_segments_sort_by_vlan_id_then_untagged():
    assert sorted([UNTAGGED, 20, 100, 3], key=segment_key) == [3, 20, 100, UNTAGGED]
    assert sorted([UNTAGGED, 4094], key=segment_key) == [4094, UNTAGGED]


def test_a_trunk_nics_label_lists_its_trunks_in_numeric_order():
    topology = Topology("t", {}, vlans={10: "web"})
    assert topology.nic_label(Nic("a", 0, "br", "02:00:00:00:00:01", tag=10, trunks=frozenset({100, 20, 3}))) == "10 (web) + trunks 3,20,100"
    assert topology.nic_label(Nic("a", 0, "br", "02:00:00:00:00:01")) == "untagged"
