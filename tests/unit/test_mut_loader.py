"""Mutation tests for sdnlab/loader.py: every problem's key path and whole message, word for word.

test_loader.py checks that each rule is enforced and that its message
contains the key words; here each message is written out in full, as a
person reads it after `sdnlab check`.
"""

from __future__ import annotations

from datetime import date

import pytest

from sdnlab import TopologyError, loads
from sdnlab.loader import _kind, parse_tree

NAME_RULE = "must be 1-{} characters of a-z, 0-9 and '-', starting with a letter"
B = "name: x\nbridges: {br: {type: ovs}}\n"
AB = "name: x\nbridges: {a: {type: ovs}, b: {type: ovs}}\n"
H = B + "endpoints:\n  h: "
V = "name: x\nvlans: {10: {}, 20: {}}\nbridges: {br: {type: ovs}, lx: {type: linux}}\nendpoints:\n  h: "
NIC_KEYS = "bridge, tag, ip, mac, trunks, port_security"
TOP = "name, description, nodes, vlans, bridges, endpoints, links, controller"

CASES = [
    # the document
    ("- a\n", [("", "the topology file must be a map, not a list")]),
    ("bridges: {br: {type: ovs}}\n", [("", "missing required key 'name'")]),
    ("name: yes\nbridges: {br: {type: ovs}}\n", [("name", "name must be text, not true/false (quote it)")]),
    ("name: 5\nbridges: {br: {type: ovs}}\n", [("name", "name must be text, not a number (quote it)")]),
    ("name: 1.5\nbridges: {br: {type: ovs}}\n", [("name", "name must be text, not a number (quote it)")]),
    ("name: [a]\nbridges: {br: {type: ovs}}\n", [("name", "name must be text, not a list")]),
    ("name: {a: 1}\nbridges: {br: {type: ovs}}\n", [("name", "name must be text, not a map")]),
    ("name: Lab\nbridges: {br: {type: ovs}}\n", [("name", "name 'Lab' " + NAME_RULE.format(32))]),
    ("name: x\ndescription: 5\nbridges: {br: {type: ovs}}\n", [("description", "description must be text, not a number (quote it)")]),
    (B + "colour: red\n", [("colour", f"unknown key 'colour'; expected one of: {TOP}")]),
    ("name: x\n", [("", "missing required key 'bridges' (a lab needs at least one bridge)")]),
    ("name: x\nbridges: {}\n", [("bridges", "a lab needs at least one bridge")]),
    ("name: x\nbridges: 5\n", [("bridges", "bridges must be a map, not a number")]),
    ("name: x\nbridges: ~\n", [("bridges", "bridges must be a map, not nothing")]),
    # nodes
    ("name: x\nnodes: [a]\nbridges: {br: {type: ovs}}\n", [("nodes", "nodes must be a map, not a list")]),
    ("name: x\nnodes: {}\nbridges: {br: {type: ovs, node: a}}\n", [("bridges.br.node", "unknown node 'a'; nodes are: none"),
                                                                  ("nodes", "nodes is empty; leave it out for a single node called node1")]),
    ("name: x\nnodes: {PVE: {}}\nbridges: {br: {type: ovs}}\n", [("nodes.PVE", "node name 'PVE' " + NAME_RULE.format(32))]),
    ("name: x\nnodes: {p: [1]}\nbridges: {br: {type: ovs}}\n", [("nodes.p", "node p must be a map, not a list")]),
    ("name: x\nnodes: {p: {cpu: 4}}\nbridges: {br: {type: ovs}}\n", [("nodes.p.cpu", "unknown key 'cpu'; expected one of: address")]),
    ("name: x\nnodes: {p: {}, q: {}}\nbridges: {br: {type: ovs, node: r}}\n", [("bridges.br.node", "unknown node 'r'; nodes are: p, q")]),
    ("name: x\nnodes: {p: {}, q: {}}\nbridges: {br: {type: ovs}}\n", [("bridges.br", "bridge br needs a 'node': the file has several nodes (p, q)")]),
    # vlans
    ("name: x\nvlans: 5\n" + B[8:], [("vlans", "vlans must be a map, not a number")]),
    ("name: x\nvlans: {0: {}, web: {}, 4095: {}}\n" + B[8:], [
        ("vlans.0", "VLAN id '0' must be a whole number from 1 to 4094"), ("vlans.web", "VLAN id 'web' must be a whole number from 1 to 4094"),
        ("vlans.4095", "VLAN id '4095' must be a whole number from 1 to 4094")]),
    ("name: x\nvlans: {10: web}\n" + B[8:], [("vlans.10", "VLAN 10 must be a map, not text")]),
    ("name: x\nvlans: {10: {name: 5, label: a}}\n" + B[8:], [("vlans.10.label", "unknown key 'label'; expected one of: name"),
                                                            ("vlans.10.name", "VLAN name must be text, not a number (quote it)")]),
    # bridges
    ("name: x\nbridges: {br: ovs}\n", [("bridges.br", "bridge br must be a map, not text")]),
    ("name: x\nbridges: {br: {}}\n", [("bridges.br", "missing required key 'type' (ovs or linux)")]),
    ("name: x\nbridges: {br: {type: vpp}}\n", [("bridges.br.type", "type must be 'ovs' or 'linux', not 'vpp'")]),
    ("name: x\nbridges: {Br: {type: ovs}}\n", [("bridges.Br", "bridge name 'Br' " + NAME_RULE.format(12))]),
    ("name: x\nbridges: {br: {type: ovs, stp: true}}\n", [("bridges.br.stp", "unknown key 'stp'; expected one of: type, node, dpid, vlan_aware")]),
    ("name: x\nbridges: {br: {type: ovs, dpid: 0}}\n", [("bridges.br.dpid", "dpid must be from 1 to 18446744073709551615, not 0")]),
    ("name: x\nbridges: {br: {type: ovs, dpid: '5'}}\n", [("bridges.br.dpid", "dpid must be a whole number from 1 to 18446744073709551615, not text")]),
    ("name: x\nbridges: {br: {type: ovs, dpid: true}}\n", [("bridges.br.dpid", "dpid must be a whole number from 1 to 18446744073709551615, not true/false")]),
    ("name: x\nbridges: {a: {type: ovs, dpid: 5}, b: {type: ovs, dpid: 5}, c: {type: ovs, dpid: 5}}\n", [
        ("bridges.b.dpid", "dpid 5 is already used by bridge a"), ("bridges.c.dpid", "dpid 5 is already used by bridge a")]),
    ("name: x\nbridges: {br: {type: linux, dpid: 5}}\n", [("bridges.br.dpid", "dpid is for OVS bridges only; a Linux bridge has no datapath id")]),
    ("name: x\nbridges: {br: {type: ovs, vlan_aware: true}}\n", [("bridges.br.vlan_aware", "vlan_aware is for Linux bridges only; OVS bridges are always VLAN-aware")]),
    ("name: x\nbridges: {br: {type: linux, vlan_aware: 1}}\n", [("bridges.br.vlan_aware", "vlan_aware must be true or false, not a number")]),
    # endpoints
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: 5\n", [("endpoints", "endpoints must be a map, not a number")]),
    (H + "5\n", [("endpoints.h", "endpoint h must be a map, not a number")]),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {br: {type: host, nics: [{bridge: br}]}}\n",
     [("endpoints.br", "'br' is already the name of a bridge; bridge and endpoint names must be unique together")]),
    (H + "{nics: [{bridge: br}]}\n", [("endpoints.h", "missing required key 'type' (kvm, lxc or host)")]),
    (H + "{type: vm, nics: [{bridge: br}]}\n", [("endpoints.h.type", "type must be 'kvm', 'lxc' or 'host', not 'vm'")]),
    (H + "{type: host, nics: [{bridge: br}], cpu: 2}\n", [("endpoints.h.cpu", "unknown key 'cpu'; expected one of: type, node, vmid, nics")]),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {H: {type: host, nics: [{bridge: br}]}}\n", [("endpoints.H", "endpoint name 'H' " + NAME_RULE.format(12))]),
    (H + "{type: host}\n", [("endpoints.h", "missing required key 'nics' (an endpoint needs at least one NIC)")]),
    (H + "{type: host, nics: {bridge: br}}\n", [("endpoints.h.nics", "nics must be a list, not a map")]),
    (H + "{type: host, nics: []}\n", [("endpoints.h.nics", "an endpoint needs at least one NIC")]),
    (H + "{type: host, nics: [br]}\n", [("endpoints.h.nics[0]", "a NIC must be a map, not text")]),
    (H + "{type: host, nics: [{bridge: br}, {tag: 10}]}\n", [("endpoints.h.nics[1]", "missing required key 'bridge'"),
                                                            ("endpoints.h.nics[1].tag", "VLAN 10 is not declared under 'vlans' (declared: none)")]),
    (H + "{type: host, nics: [{bridge: 5}]}\n", [("endpoints.h.nics[0].bridge", "unknown bridge '5'")]),
    (H + "{type: host, nics: [{bridge: br, vlan: 3}]}\n", [("endpoints.h.nics[0].vlan", "unknown key 'vlan'; expected one of: " + NIC_KEYS)]),
    (H + "{type: host, nics: [{bridge: br, tag: 10}]}\n", [("endpoints.h.nics[0].tag", "VLAN 10 is not declared under 'vlans' (declared: none)")]),
    (V + "{type: host, nics: [{bridge: br, tag: 30}]}\n", [("endpoints.h.nics[0].tag", "VLAN 30 is not declared under 'vlans' (declared: 10, 20)")]),
    (V + "{type: host, nics: [{bridge: br, tag: 0}]}\n", [("endpoints.h.nics[0].tag", "tag must be from 1 to 4094, not 0")]),
    (V + "{type: host, nics: [{bridge: br, tag: ten}]}\n", [("endpoints.h.nics[0].tag", "tag must be a whole number from 1 to 4094, not text")]),
    (V + "{type: host, nics: [{bridge: lx, tag: 10}]}\n", [(
        "endpoints.h.nics[0].tag",
        "bridge lx is a Linux bridge that is not VLAN-aware, so it cannot carry tag 10; set vlan_aware: true on it or remove the tag")]),
    (H + "{type: host, nics: [{bridge: br, ip: 10.0.0.1}]}\n",
     [("endpoints.h.nics[0].ip", "ip must be an IPv4 address with a prefix length, like 10.0.10.11/24, not '10.0.0.1'")]),
    (H + "{type: host, nics: [{bridge: br, ip: 5}]}\n", [("endpoints.h.nics[0].ip", "ip must be an IPv4 address with a prefix length, like 10.0.10.11/24, not '5'")]),
    (H + "{type: host, nics: [{bridge: br, ip: 10.0.0.300/24}]}\n",
     [("endpoints.h.nics[0].ip", "'10.0.0.300/24' is not an IPv4 address with a prefix length, like 10.0.10.11/24")]),
    (H + "{type: host, nics: [{bridge: br, mac: 'zz:00:00:00:00:01'}]}\n",
     [("endpoints.h.nics[0].mac", "'zz:00:00:00:00:01' is not a MAC address like 52:54:00:12:34:56")]),
    (H + "{type: host, nics: [{bridge: br, mac: 5}]}\n", [("endpoints.h.nics[0].mac", "'5' is not a MAC address like 52:54:00:12:34:56")]),
    (H + "{type: host, nics: [{bridge: br, mac: '03-00-00-00-00-01'}]}\n",
     [("endpoints.h.nics[0].mac", "03:00:00:00:00:01 is a multicast address; a NIC needs a unicast MAC (even first byte)")]),
    (H + "{type: host, nics: [{bridge: br, mac: '00:00:00:00:00:00'}]}\n", [("endpoints.h.nics[0].mac", "00:00:00:00:00:00 is not a usable MAC address")]),
    ("name: x\nnodes: {p: {}, q: {}}\nbridges: {br: {type: ovs, node: p}}\nendpoints: {h: {type: host, node: q, nics: [{bridge: br}]}}\n",
     [("endpoints.h.nics[0].bridge", "bridge br is on node p, but this endpoint is on node q")]),
    (H + "{type: host, nics: [{bridge: br, mac: '02:00:00:00:00:01', ip: 10.0.0.1/24}]}\n  g: "
     "{type: host, nics: [{bridge: br, mac: '02:00:00:00:00:01', ip: 10.0.0.1/16}]}\n",
     [("endpoints.g.nics[0].ip", "address 10.0.0.1 is already used by endpoints.h.nics[0]"),
      ("endpoints.g.nics[0].mac", "MAC 02:00:00:00:00:01 is already used by endpoints.h.nics[0]")]),
    # links
    (AB + "links: {between: [a, b]}\n", [("links", "links must be a list, not a map")]),
    (AB + "links: [[a, b]]\n", [("links[0]", "a link must be a map, not a list")]),
    (AB + "links: [{trunks: []}]\n", [("links[0]", "missing required key 'between' (two bridge names)")]),
    (AB + "links: [{between: a}]\n", [("links[0].between", "between must list exactly two bridge names")]),
    (AB + "links: [{between: [a, b, a]}]\n", [("links[0].between", "between must list exactly two bridge names")]),
    (AB + "links: [{between: [a, a]}]\n", [("links[0].between", "a link joins two different bridges, not a to itself")]),
    (AB + "links: [{between: [c, 5]}]\n", [("links[0].between[0]", "unknown bridge 'c'"), ("links[0].between[1]", "unknown bridge '5'")]),
    (AB + "links: [{between: [a, b], speed: 1}]\n", [("links[0].speed", "unknown key 'speed'; expected one of: between, name, trunks, untagged, vni")]),
    (AB + "links: [{between: [a, b], name: Up}]\n", [("links[0].name", "link name 'Up' " + NAME_RULE.format(12))]),
    (AB + "links: [{between: [a, b], name: up}, {between: [a, b], name: up}, {between: [a, b], name: up}]\n",
     [("links[1].name", "link name 'up' is already used by links[0]"), ("links[2].name", "link name 'up' is already used by links[1]")]),
    (AB + "links: [{between: [a, b], untagged: 1}]\n", [("links[0].untagged", "untagged must be true or false, not a number")]),
    (AB + "links: [{between: [a, b], trunks: 10}]\n", [("links[0].trunks", "trunks must be a list of VLAN ids, not a number")]),
    ("name: x\nvlans: {10: {}}\n" + AB[8:] + "links: [{between: [a, b], trunks: [10, 10, 0, 20]}]\n", [
        ("links[0].trunks[1]", "VLAN 10 is listed twice"), ("links[0].trunks[2]", "trunk VLAN must be from 1 to 4094, not 0"),
        ("links[0].trunks[3]", "VLAN 20 is not declared under 'vlans' (declared: 10)")]),
    ("name: x\nvlans: {10: {}}\nbridges: {a: {type: ovs}, b: {type: linux}}\nlinks: [{between: [a, b], trunks: [10]}]\n", [(
        "links[0].trunks",
        "bridge b is a Linux bridge that is not VLAN-aware, so it cannot trunk VLANs; use trunks: [] or set vlan_aware: true on it")]),
    # controller
    (B + "controller: 5\n", [("controller", "controller must be a map, not a number")]),
    (B + "controller: {flavour: faucet}\n", [("controller.flavour", "unknown key 'flavour'; expected one of: host, port, replicas, mac_limit, mac_idle_timeout, packet_in_rate")]),
    (B + "controller: {host: 5, port: 0, mac_limit: 65536, mac_idle_timeout: 0, packet_in_rate: 1000001}\n", [
        ("controller.host", "controller host must be text, not a number (quote it)"), ("controller.mac_idle_timeout", "mac_idle_timeout must be from 1 to 65535, not 0"),
        ("controller.mac_limit", "mac_limit must be from 1 to 65535, not 65536"), ("controller.packet_in_rate", "packet_in_rate must be from 1 to 1000000, not 1000001"),
        ("controller.port", "controller port must be from 1 to 65535, not 0")]),
    (B + "controller: {host: localhost}\n", [
        ("controller.host", "controller host must be an IPv4 or IPv6 address to listen on, like 127.0.0.1, not 'localhost'")]),
]


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(TopologyError) as caught:
        loads(text, "lab.yaml")
    assert all(p.file == "lab.yaml" for p in caught.value.problems)
    return sorted((p.path, p.message) for p in caught.value.problems)


@pytest.mark.parametrize("text, expected", CASES, ids=[f"{i}:{c[1][0][0] or 'root'}" for i, c in enumerate(CASES)])
def test_each_problem_in_full(text, expected):
    assert problems(text) == sorted(expected)


@pytest.mark.parametrize(
    "text, place",
    [("name: x\nbridges:\n  Br: {type: ovs}\n", (3, 3)), ("name: x\nnodes:\n  P: {}\nbridges: {br: {type: ovs, node: P}}\n", (3, 3)),
     ("name: x\nvlans:\n  0: {}\nbridges: {br: {type: ovs}}\n", (3, 3)),
     ("name: x\nbridges: {br: {type: ovs}}\nendpoints:\n  br: {type: host, nics: [{bridge: br}]}\n", (4, 3)),
     ("name: x\nbridges: {br: {type: ovs}}\nendpoints:\n  H: {type: host, nics: [{bridge: br}]}\n", (4, 3))],
)
def test_a_bad_name_is_reported_at_the_key(text, place):
    with pytest.raises(TopologyError) as caught:
        loads(text, "lab.yaml")
    [problem] = [p for p in caught.value.problems if p.path.count(".") == 1]
    assert (problem.line, problem.column) == place


def test_controller_settings_and_macs_are_read():
    topo = loads(B + "controller: {host: 10.0.0.1, port: 6633, mac_limit: 9, mac_idle_timeout: 8, packet_in_rate: 7}\n")
    c = topo.controller
    assert (c.host, c.port, c.mac_limit, c.mac_idle_timeout, c.packet_in_rate) == ("10.0.0.1", 6633, 9, 8, 7)
    topo = loads(H + "{type: host, nics: [{bridge: br, mac: '0A-1B-2C-3D-4E-5F'}, {bridge: br, mac: '0a:00:00:00:00:01'}]}\n")
    assert [n.mac for n in topo.nics()] == ["0a:1b:2c:3d:4e:5f", "0a:00:00:00:00:01"]
    topo = loads("name: x\ndescription: a lab\nbridges: {br: {type: linux, vlan_aware: true}}\n")
    assert topo.description == "a lab" and topo.bridges["br"].vlan_aware and topo.source == "<string>"


def test_kinds_of_values_in_words():
    assert [_kind(v) for v in (True, None, {}, [], "a", 1, 1.5, date(2024, 1, 1), b"x")] == [
        "true/false", "nothing", "a map", "a list", "text", "a number", "a number", "date", "bytes"]


def test_parse_tree_checks_a_tree_a_program_built():
    topo = parse_tree({"name": "x", "bridges": {"br": {"type": "ovs"}}})
    assert topo.source == "<memory>" and topo.bridges["br"].is_ovs
    assert parse_tree({"name": "x", "bridges": {"br": {"type": "ovs"}}}, "built").source == "built"
    with pytest.raises(TopologyError) as caught:
        parse_tree({"name": "x", "vlans": {True: {}}, "bridges": {"br": {"type": "ovs"}}})
    assert [p.message for p in caught.value.problems] == ["VLAN id 'True' must be a whole number from 1 to 4094"]
    with pytest.raises(TopologyError) as caught:
        parse_tree({"name": "x"})
    assert [str(p) for p in caught.value.problems] == ["<memory>: missing required key 'bridges' (a lab needs at least one bridge)"]
    with pytest.raises(TopologyError) as caught:
        parse_tree({"bridges": {"br": {"type": "ovs"}}}, "built")
    assert [str(p) for p in caught.value.problems] == ["built: missing required key 'name'"]


def test_a_file_that_cannot_be_read_is_one_problem_saying_why(tmp_path):
    from sdnlab import load

    def only(path) -> str:
        with pytest.raises(TopologyError) as caught:
            load(path)
        [problem] = caught.value.problems
        assert (problem.file, problem.line, problem.column, problem.path) == (str(path), None, None, "")
        return str(problem)

    assert only(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: no such file"
    assert only(tmp_path) == f"{tmp_path}: is a directory, not a topology file"
    (tmp_path / "b.yaml").write_bytes(b"name: x\n\xff")
    assert only(tmp_path / "b.yaml") == f"{tmp_path / 'b.yaml'}: not UTF-8 text (invalid start byte at byte 8)"
    long = tmp_path / ("x" * 300 + ".yaml")
    assert only(long) == f"{long}: cannot be read: File name too long"
    (tmp_path / "u.yaml").write_text("name: x\ndescription: café\nbridges: {br: {type: ovs}}\n", encoding="utf-8")
    assert load(tmp_path / "u.yaml").description == "café"


def test_problems_of_the_yaml_and_of_the_topology_are_reported_together():
    text = "name: x\nbridges: {a: {type: ovs}, a: {type: linux}}\nendpoints: {h: {type: vm, nics: [{bridge: a}]}}\n"
    assert problems(text) == [("bridges.a", "duplicate key 'a' (first given on line 2)"),
                              ("endpoints.h.type", "type must be 'kvm', 'lxc' or 'host', not 'vm'")]


def test_every_number_may_be_at_either_end_of_its_range():
    topo = loads("""
name: edges
vlans: {1: {}, 4094: {}}
bridges: {a: {type: ovs, dpid: 1}, b: {type: ovs, dpid: 18446744073709551615}}
endpoints:
  h: {type: host, nics: [{bridge: a, tag: 1}, {bridge: b, tag: 4094}]}
links: [{between: [a, b], trunks: [1, 4094]}]
controller: {port: 1, mac_limit: 65535, mac_idle_timeout: 1, packet_in_rate: 1000000}
""")
    assert [b.dpid for b in topo.bridges.values()] == [1, 2**64 - 1] and [n.tag for n in topo.nics()] == [1, 4094]
    assert topo.links[0].trunks == {1, 4094} and (topo.controller.port, topo.controller.mac_limit) == (1, 65535)
    c = loads(B + "controller: {port: 65535, mac_limit: 1, mac_idle_timeout: 65535, packet_in_rate: 1}\n").controller
    assert (c.port, c.mac_limit, c.mac_idle_timeout, c.packet_in_rate) == (65535, 1, 65535, 1)


@pytest.mark.parametrize(
    "nics, expected",
    [("[{bridge: br, mac: '02:00:00:00:00:01', ip: 10.0.0.300/24}]",
      [("endpoints.h.nics[0].ip", "'10.0.0.300/24' is not an IPv4 address with a prefix length, like 10.0.10.11/24")]),
     ("[{bridge: br, mac: 'zz', ip: 10.0.0.1/24}]", [("endpoints.h.nics[0].mac", "'zz' is not a MAC address like 52:54:00:12:34:56")]),
     ("[5, {bridge: br, mac: '02:00:00:00:00:01', ip: 10.0.0.1/24}]", [("endpoints.h.nics[0]", "a NIC must be a map, not a number")]),
     ("[5, {bridge: zz}]", [("endpoints.h.nics[0]", "a NIC must be a map, not a number"), ("endpoints.h.nics[1].bridge", "unknown bridge 'zz'")])],
)
def test_an_endpoint_with_a_bad_nic_is_dropped_whole_so_its_good_nics_clash_with_nothing(nics, expected):
    # g holds the MAC and the address h's good NICs would clash with, were h kept.
    text = H + "{type: host, nics: " + nics + "}\n  g: {type: host, nics: [{bridge: br, mac: '02:00:00:00:00:01', ip: 10.0.0.1/24}]}\n"
    assert problems(text) == sorted(expected)


def test_a_bridge_named_by_a_list_is_an_unknown_bridge():
    assert [path for path, _ in problems(H + "{type: host, nics: [{bridge: [br]}]}\n")] == ["endpoints.h.nics[0].bridge"]


def test_a_bad_name_value_is_reported_at_the_value_and_its_object_is_dropped():
    with pytest.raises(TopologyError) as caught:
        loads("name: Lab\nbridges:\n  br: {type: ovs}\nlinks: []\n", "lab.yaml")
    assert [(p.path, p.line, p.column) for p in caught.value.problems] == [("name", 1, 7)]
    assert problems("name: x\nbridges: {Br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: Br}]}}\n") == [
        ("bridges.Br", "bridge name 'Br' " + NAME_RULE.format(12)), ("endpoints.h.nics[0].bridge", "unknown bridge 'Br'")]


DUP = "\n  g: {type: host, nics: [{bridge: br, mac: '02:00:00:00:00:01'}]}\n"  # holds the MAC a kept NIC of h would clash with


@pytest.mark.parametrize(
    "text, expected",
    [(H + "{type: host, nics: [{bridge: br, tag: 30, mac: '02:00:00:00:00:01'}]}" + DUP,
      [("endpoints.h.nics[0].tag", "VLAN 30 is not declared under 'vlans' (declared: none)")]),
     (H + "{type: host, nics: [{bridge: br, tag: 30}, {bridge: br, mac: '02:00:00:00:00:01'}]}" + DUP,
      [("endpoints.h.nics[0].tag", "VLAN 30 is not declared under 'vlans' (declared: none)")]),
     (H + "{type: host, nics: [{bridge: br, ip: 10.0.0.300/24}, {bridge: br, mac: '02:00:00:00:00:01'}]}" + DUP,
      [("endpoints.h.nics[0].ip", "'10.0.0.300/24' is not an IPv4 address with a prefix length, like 10.0.10.11/24")]),
     (H + "{type: host, nics: [{bridge: br, tag: 30}, {bridge: zz}]}\n",
      [("endpoints.h.nics[0].tag", "VLAN 30 is not declared under 'vlans' (declared: none)"), ("endpoints.h.nics[1].bridge", "unknown bridge 'zz'")]),
     (H + "{type: host, nics: [{bridge: br, ip: 10.0.0.1}, {bridge: zz}]}\n",
      [("endpoints.h.nics[0].ip", "ip must be an IPv4 address with a prefix length, like 10.0.10.11/24, not '10.0.0.1'"),
       ("endpoints.h.nics[1].bridge", "unknown bridge 'zz'")]),
     ("name: x\nbridges: {br: {node: node1}}\nendpoints: {h: {type: host, nics: [{bridge: br}]}}\n",
      [("bridges.br", "missing required key 'type' (ovs or linux)"), ("endpoints.h.nics[0].bridge", "unknown bridge 'br'")]),
     ("name: x\nbridges: {a: 5, b: {type: vpp}}\n", [("bridges.a", "bridge a must be a map, not a number"), ("bridges.b.type", "type must be 'ovs' or 'linux', not 'vpp'")]),
     (B + "endpoints: {h: 5, g: {type: vm, nics: [{bridge: br}]}}\n",
      [("endpoints.g.type", "type must be 'kvm', 'lxc' or 'host', not 'vm'"), ("endpoints.h", "endpoint h must be a map, not a number")]),
     ("name: x\nnodes: {p: {}, q: {}}\nbridges: {br: {type: ovs, node: p}}\nendpoints: {h: {type: host, nics: [{bridge: br}]}}\n",
      [("endpoints.h", "endpoint h needs a 'node': the file has several nodes (p, q)")]),
     (AB + "links: [5, {between: [a]}]\n", [("links[0]", "a link must be a map, not a number"), ("links[1].between", "between must list exactly two bridge names")]),
     ("name: x\nnodes: {PVE: {}, p: {}}\nbridges: {br: {type: ovs, node: p}}\n", [("nodes.PVE", "node name 'PVE' " + NAME_RULE.format(32))])],
)
def test_each_bad_object_is_dropped_alone_and_every_one_is_reported(text, expected):
    assert problems(text) == sorted(expected)


def test_empty_and_null_bodies_and_omitted_values():
    topo = loads("name: x\nnodes: {p: ~}\nvlans: {10: ~}\nbridges: {br: {type: ovs}, lx: {type: linux}}\nlinks: [{between: [br, lx]}]\n")
    assert topo.nodes == ("p",) and topo.vlans == {10: None} and topo.description == ""
    assert topo.bridges["br"].vlan_aware is True and topo.bridges["lx"].vlan_aware is False  # OVS bridges are always VLAN-aware
    assert topo.links[0].name is None and topo.links[0].id == "link0"
    assert loads('name: x\ndescription: ""\nbridges: {br: {type: ovs}}\n').description == ""
