"""Random topologies: `check` must agree with the brute-force BFS reference."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdnlab import analyse
from sdnlab.loader import parse_tree
from sdnlab.reference import reachable_pairs

VIDS = [10, 20, 30]


@st.composite
def topologies(draw):
    nbridges = draw(st.integers(1, 6))
    kinds = [draw(st.sampled_from(["ovs", "ovs", "linux", "linux-aware"])) for _ in range(nbridges)]
    bridges = {}
    for i, kind in enumerate(kinds):
        body = {"type": "ovs"} if kind == "ovs" else {"type": "linux", "vlan_aware": kind == "linux-aware"}
        bridges[f"b{i}"] = body
    plain = {f"b{i}" for i, k in enumerate(kinds) if k == "linux"}
    endpoints = {}
    for e in range(draw(st.integers(0, 8))):
        nics = []
        for _ in range(draw(st.integers(1, 2))):
            bridge = f"b{draw(st.integers(0, nbridges - 1))}"
            nic = {"bridge": bridge}
            tag = None if bridge in plain else draw(st.sampled_from([None, *VIDS]))
            if tag is not None:
                nic["tag"] = tag
            if bridge not in plain and draw(st.booleans()):  # a trunk NIC (format 1.1), in several segments
                nic["trunks"] = draw(st.lists(st.sampled_from([v for v in VIDS if v != tag]), unique=True))
            nics.append(nic)
        endpoints[f"e{e}"] = {"type": "host", "nics": nics}
    links = []
    if nbridges > 1:
        for _ in range(draw(st.integers(0, 8))):
            a, b = draw(st.lists(st.integers(0, nbridges - 1), min_size=2, max_size=2, unique=True))
            link = {"between": [f"b{a}", f"b{b}"]}
            if draw(st.booleans()):
                trunks = [] if {f"b{a}", f"b{b}"} & plain else draw(st.lists(st.sampled_from(VIDS), unique=True))
                link["trunks"] = trunks
            if draw(st.booleans()):
                link["untagged"] = draw(st.booleans())
            links.append(link)
    tree = {"name": "random", "vlans": {v: {} for v in VIDS}, "bridges": bridges, "endpoints": endpoints, "links": links}
    return parse_tree(tree)


@settings(max_examples=300, deadline=None)
@given(topologies())
def test_check_agrees_with_brute_force(topology):
    analysis = analyse(topology)
    assert set(analysis.reachable()) == reachable_pairs(topology)


@settings(max_examples=100, deadline=None)
@given(topologies())
def test_reachable_and_isolated_partition_all_pairs(topology):
    analysis = analyse(topology)
    reachable, isolated = analysis.reachable(), list(analysis.isolated())
    everything = list(combinations(sorted(topology.endpoints), 2))
    assert sorted(reachable + isolated) == everything
    assert reachable == sorted(reachable) and isolated == sorted(isolated)
    for a, b in everything:
        assert analysis.is_reachable(a, b) == ((a, b) in reachable)
