"""`sdnlab graph --format mermaid|dot` (sdnlab/diagram.py): every NIC is an edge
from its endpoint to its bridge, labelled with its segment; every link an edge
between its bridges, labelled with what it carries. Expectations written by hand."""

from __future__ import annotations

from sdnlab import load, loads
from sdnlab.diagram import dot, mermaid
from sdnlab.draw import UNTAGGED_COLOUR
from tests.conftest import TOPOLOGIES

TWO_NICS = """name: x
vlans: {10: {name: web}, 20: {}}
bridges: {br: {type: ovs}, lnx: {type: linux}}
endpoints:
  multi: {type: kvm, nics: [{bridge: br, tag: 10}, {bridge: br, tag: 20}, {bridge: lnx}]}
"""


def edges(text: str, arrow: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if arrow in line]


def test_mermaid_two_nodes_has_exactly_its_endpoint_and_link_edges():
    text = mermaid(load(TOPOLOGIES / "two-nodes.yaml"))
    assert edges(text, "---|") == [
        "web1 ---|10 (web)| vmbr0",
        "db1 ---|20 (db)| vmbr1",
        "web2 ---|10 (web)| vmbr1",
        "probe ---|untagged| lab0",
    ]
    assert edges(text, "===|") == ["vmbr0 ===|10,20 +U| vmbr1"]
    # One style per endpoint edge, in edge order, in its segment's colour (web1 and web2 share VLAN 10's).
    colours = {int(s.split()[1]): s.split("stroke:")[1].split(",")[0] for s in edges(text, "linkStyle")}
    assert sorted(colours) == [0, 1, 2, 3]
    assert colours[0] == colours[2] != colours[1] and colours[3] == UNTAGGED_COLOUR


def test_mermaid_draws_one_edge_per_nic_of_a_multi_nic_endpoint():
    text = mermaid(loads(TWO_NICS))
    assert edges(text, "---|") == ["multi ---|10 (web)| br", "multi ---|20| br", "multi ---|untagged| lnx"]
    assert len(edges(text, "linkStyle")) == 3


def test_dot_two_nodes_has_exactly_its_endpoint_and_link_edges():
    text = dot(load(TOPOLOGIES / "two-nodes.yaml"))
    assert [e.split(" [")[0] for e in edges(text, " -- ")] == ["web1 -- vmbr0", "db1 -- vmbr1", "web2 -- vmbr1", "probe -- lab0", "vmbr0 -- vmbr1"]
    labels = [e.split('label="')[1].split('"')[0] for e in edges(text, " -- ")]
    assert labels == ["10 (web)", "20 (db)", "10 (web)", "untagged", "10,20 +U"]
    assert [e.split(" [")[0] for e in edges(dot(loads(TWO_NICS)), " -- ")] == ["multi -- br", "multi -- br", "multi -- lnx"]
