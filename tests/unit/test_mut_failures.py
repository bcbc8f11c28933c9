"""Mutation tests for sdnlab/failures.py: parsing a part, what a part that names nothing is told, and the failed lab.

Expected answers, by hand: in LAB, the link named `pve3` (a link may share a node's name) joins br1
(pve1) and br2 (pve2), and link1 joins br2 and br3 (pve3). Failing node pve3 fails br3: link1 goes,
the link named pve3 stays, and c loses its only NIC; a and b keep theirs.
"""

from __future__ import annotations

import pytest

from sdnlab import analyse, load, loads
from sdnlab.failures import Part, fail, failed_topology, failure_text, parse_part, problem
from sdnlab.model import Endpoint
from tests.conftest import TOPOLOGIES

LAB = loads("""
name: lab
nodes: {pve1: {}, pve2: {}, pve3: {}}
vlans: {10: {}}
bridges: {br1: {type: ovs, node: pve1}, br2: {type: ovs, node: pve2}, br3: {type: ovs, node: pve3}, br4: {type: ovs, node: pve1}}
endpoints:
  a: {type: kvm, vmid: 101, node: pve1, nics: [{bridge: br1, tag: 10}, {bridge: br4, tag: 10}]}
  b: {type: lxc, vmid: 102, node: pve2, nics: [{bridge: br2, tag: 10}]}
  c: {type: host, node: pve3, nics: [{bridge: br3, tag: 10}]}
links: [{name: pve3, between: [br1, br2], trunks: [10]}, {between: [br2, br3], trunks: [10]}]
""", "lab.yaml")

NODES = "name: many\nnodes: {%s}\nbridges: {br: {type: ovs, node: n01}}\n"


def test_a_part_is_split_at_its_first_colon():
    assert parse_part("node:a:b") == Part("node", "a:b")
    assert parse_part("link:x:1") == Part("link", "x:1")


@pytest.mark.parametrize(("text", "message"), [
    ("switch:br1", "'switch:br1' is not a part: give link:NAME, 'link:[A,B]', bridge:NAME or node:NAME"),
    ("link:", "'link:' is not a part: give link:NAME, 'link:[A,B]', bridge:NAME or node:NAME"),
    ("bridge:[br1,br2]", "'bridge:[br1,br2]': only a link is named by its two bridges, as 'link:[A,B]'"),
    ("link:[br1]", "'link:[br1]': only a link is named by its two bridges, as 'link:[A,B]'"),
])
def test_a_malformed_part_says_why(text, message):
    with pytest.raises(ValueError) as info:
        parse_part(text)
    assert str(info.value) == message


def test_two_bridges_no_link_joins_are_both_named():
    assert problem(LAB, Part("link", between=("br1", "br3"))) == "no link joins br1 and br3"
    assert problem(LAB, Part("link", between=("br3", "br2"))) is None


def test_the_known_names_are_listed_up_to_ten():
    ten = loads(NODES % ", ".join(f"n{i:02}: {{}}" for i in range(1, 11)), "ten.yaml")
    eleven = loads(NODES % ", ".join(f"n{i:02}: {{}}" for i in range(1, 12)), "eleven.yaml")
    first = "n01, n02, n03, n04, n05, n06, n07, n08, n09, n10"
    assert problem(ten, Part("node", "zz")) == f"no node 'zz' in ten.yaml (nodes: {first})"
    assert problem(eleven, Part("node", "zz")) == f"no node 'zz' in eleven.yaml (nodes: {first}, ...)"
    assert problem(eleven, Part("link", "up")) == "no link 'up' in eleven.yaml (links: none)"
    assert problem(eleven, Part("node", "n11")) is None


def test_a_failed_node_takes_its_bridges_links_and_nics_and_nothing_else():
    failed = failed_topology(LAB, [Part("node", "pve3")])
    assert failed.links == (LAB.links[0],) and LAB.links[0].name == "pve3"
    assert failed.endpoints == {"a": LAB.endpoints["a"], "b": LAB.endpoints["b"], "c": Endpoint("c", "host", "pve3", ())}
    assert failed.endpoints["a"].vmid == 101 and failed.bridges == LAB.bridges


def test_a_failed_bridge_takes_the_nics_on_it():
    failed = failed_topology(LAB, [Part("bridge", "br4")])
    a = LAB.endpoints["a"]
    assert failed.endpoints["a"] == Endpoint("a", "kvm", "pve1", (a.nics[0],), 101)
    assert failed.links == LAB.links


def test_one_pair_lost_is_one_pair():
    two = analyse(load(TOPOLOGIES / "two-nodes.yaml"))
    # web1, db1, web2, probe: 6 pairs, and web1-web2 (VLAN 10, over link0) the only reachable one.
    assert failure_text(fail(two, [Part("link", "link0")])).splitlines() == [
        "With link:link0 failed",
        "  0 reachable pairs, 6 isolated; 1 pair lost:",
        "    10 (web)  web1-web2",
    ]
