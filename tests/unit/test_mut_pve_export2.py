"""Mutation tests for sdnlab/pve/interfaces.py, bridges.py, uplinks.py and export.py (second round).

test_mut_pve_export.py and test_mut_pve_bridges.py pin whole exports and whole
bridges; here the corners they leave open: an interfaces file with every kind
of line ifupdown2 tolerates (continuations, indented comments, `allow-*`,
`source`/`include`, `mapping`/`rename`, odd address families), orphan OVS
ports, the pieces a trunk range is cut into, the order in which range VLANs
are kept, how export names bridges that clash, which bridges get which `eno<k>`,
and compare() on files whose guests the topology does not know.
"""

from __future__ import annotations

import pytest

from sdnlab.loader import loads
from sdnlab.model import UNTAGGED
from sdnlab.pve.bridges import HostBridge, Port, WireMap, read_bridges
from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.export import compare, export_topology, guest_lines, plan_bridges
from sdnlab.pve.interfaces import Option, parse_interfaces
from sdnlab.pve.uplinks import NicPlan, Plan, SwitchPort, _needed, _pieces, plan, signatures, switch_links
from sdnlab.pve.vlans import ALL, NONE, VlanSet

U = UNTAGGED


def problems(items):
    return [(p.file, p.line, p.path, p.message) for p in items]


# -- interfaces.py ----------------------------------------------------------------------

INTERFACES = (
    "auto lo\n"  # 1
    "iface lo inet loopback\n"  # 2
    "  # an indented comment\n"  # 3
    "iface vmbr0 inet static\n"  # 4
    "\taddress 10.0.0.1/24\n"  # 5
    "    # an indented comment inside the stanza\n"  # 6
    "\tbridge-ports eno1\\\n"  # 7: continued with no space before the backslash
    "eno2\n"  # 8
    "allow-hotplug eno3\n"  # 9: ends the stanza
    "\tmtu 9000\n"  # 10
    "iface\n"  # 11
    "\tmtu 1\n"  # 12
    "iface x foo\n"  # 13
    "iface y ipx\n"  # 14
    "iface z can\n"  # 15
    "iface w foo static\n"  # 16
    "include /etc/a b\n"  # 17
    "\tmtu 2\n"  # 18
    "source-dir /x\n"  # 19
    "source\n"  # 20
    "rename eth0=lan0\n"  # 21
    "\tmtu 3\n"  # 22
    "mapping eth0\n"  # 23
    "\tscript /x\n"  # 24
    "iface last inet manual\n"  # 25
    "\tbridge-ports a \\\n"  # 26
    "\tb \\\n"  # 27: the file ends inside a continuation
)


def test_parse_interfaces_every_kind_of_line():
    diag = Diagnostics()
    ifaces = parse_interfaces(INTERFACES, "f", diag)
    assert {name: (i.line, i.options) for name, i in ifaces.items()} == {
        "lo": (2, {}),
        "vmbr0": (4, {"address": Option("address", "10.0.0.1/24", 5), "bridge-ports": Option("bridge-ports", "eno1 eno2", 7)}),
        "x": (13, {}),
        "y": (14, {}),
        "z": (15, {}),
        "w": (16, {}),
        "last": (25, {"bridge-ports": Option("bridge-ports", "a b", 26)}),
    }
    assert problems(diag.errors) == [
        ("f", 10, "mtu", "option 'mtu' is outside an iface stanza"),
        ("f", 11, "iface", "an iface line needs an interface name"),
        ("f", 12, "mtu", "option 'mtu' is outside an iface stanza"),
        ("f", 13, "x", "'foo' is not an address family (inet or inet6)"),
        ("f", 16, "w", "'foo' is not an address family (inet or inet6)"),
        ("f", 18, "mtu", "option 'mtu' is outside an iface stanza"),
        ("f", 22, "mtu", "option 'mtu' is outside an iface stanza"),
    ]
    assert problems(diag.warnings) == [
        ("f", 17, "include", "'include /etc/a b' is not followed: interfaces defined there are not read"),
        ("f", 19, "source-dir", "'source-dir /x' is not followed: interfaces defined there are not read"),
        ("f", 20, "source", "'source ?' is not followed: interfaces defined there are not read"),
        ("f", 21, "rename", "'rename' stanzas are not read"),
        ("f", 23, "mapping", "'mapping' stanzas are not read"),
    ]


# -- bridges.py -------------------------------------------------------------------------

BRIDGES = (
    "iface odd\n"  # 1
    "\tovs_type Foo\n"  # 2
    "iface vmbr1\n"  # 3
    "\tovs_type OVSBridge\n"  # 4
    "\tovs_ports eno1\n"  # 5
    "iface eno1\n"  # 6: names no bridge, but vmbr1 lists it
    "\tovs_type OVSPort\n"  # 7
    "iface bond0\n"  # 8
    "\tovs_type OVSBond\n"  # 9
    "\tovs_bonds eno2 eno3\n"  # 10
    "iface vmbr0\n"  # 11
    "\tbridge-ports eno4\n"  # 12
    "iface eno4\n"  # 13: a Linux bridge lists it, no OVS bridge does
    "\tovs_type OVSPort\n"  # 14
)


def test_read_bridges_bad_type_and_orphan_ovs_ports():
    diag = Diagnostics()
    bridges = read_bridges(parse_interfaces(BRIDGES, "f", diag), "pve1", "f", diag)
    assert bridges == {
        "vmbr1": HostBridge("vmbr1", "pve1", "ovs", "f", 3, vlan_aware=True, ports=[Port("eno1", "nic", 6)], uplink=WireMap(ALL),
                            uplink_port="eno1"),
        "vmbr0": HostBridge("vmbr0", "pve1", "linux", "f", 11, vids=VlanSet(((2, 4094),)), ports=[Port("eno4", "virtual", 13)]),
    }
    assert problems(diag.errors) == [
        ("f", 2, "odd.ovs_type", "'Foo' is not one of OVSBridge, OVSPort, OVSBond, OVSIntPort, OVSPatchPort"),
        ("f", 8, "bond0.ovs_type", "OVSBond bond0 names no bridge (ovs_bridge) and no OVS bridge lists it"),
        ("f", 13, "eno4.ovs_type", "OVSPort eno4 names no bridge (ovs_bridge) and no OVS bridge lists it"),
    ]
    assert diag.warnings == []


# -- uplinks.py -------------------------------------------------------------------------

@pytest.mark.parametrize(("sets", "singles", "starts"), [
    ([], [], [1]),
    ([VlanSet(((10, 20),))], [], [1, 10, 21]),
    ([VlanSet(((10, 20),))], [4094, 30], [1, 10, 21, 30, 31, 4094]),
    ([ALL], [1], [1, 2]),
    ([VlanSet(((5, 4094),))], [], [1, 5]),
])
def test_pieces(sets, singles, starts):
    assert _pieces(sets, singles) == starts


def test_switch_links_skip_a_lone_bridge_only():
    ports = {
        "a1": SwitchPort("lone", ("a",), WireMap(ALL)),
        "a2": SwitchPort("vmbr0", ("a",), WireMap(ALL)),
        "b2": SwitchPort("vmbr0", ("b",), WireMap(ALL)),
    }
    assert switch_links(ports, {"a1": {U}, "a2": {U, 10}, "b2": {U}}) == ({("a2", "b2"): {U}}, [])


def test_signatures_groups_of_two_or_more():
    nics = [NicPlan("e1", "A", None), NicPlan("e2", "A", None), NicPlan("e3", "B", None), NicPlan("e4", "C", 5)]
    for nic, segs in zip(nics, [{U}, {U}, {U}, {5}], strict=True):
        nic.segments = segs
    assert signatures(nics, {}) == {U: frozenset({frozenset({"e1", "e2"})}), 5: frozenset()}
    assert signatures(nics, {("A", "B"): {U}}) == {U: frozenset({frozenset({"e1", "e2", "e3"})}), 5: frozenset()}


def test_needed_larger_groups_first():
    # 6 joins a, b and c: 5 then joins nothing new; 7 joins d and e, which nothing else does.
    sigs = {
        5: frozenset({frozenset("ab")}),
        6: frozenset({frozenset("abc")}),
        7: frozenset({frozenset("de")}),
        8: frozenset(),
    }
    assert _needed([5, 6, 7, 8], sigs) == [6, 7]


def test_plan_drops_mismatches_of_dropped_range_vlans():
    # B's uplink carries its VLAN 7 as wire VLAN 8 and its VLAN 20 as wire VLAN 9: A's VLANs 8 and 9.
    # VLAN 20 is only a piece of b1's trunk range that joins nobody, so it is dropped with its mismatch.
    nics = [
        NicPlan("a1", "A", 9),
        NicPlan("a2", "A", 8),
        NicPlan("b1", "B", None, trunk_ranges=VlanSet(((20, 30),))),
        NicPlan("b2", "B", 7),
    ]
    ports = {
        "A": SwitchPort("vmbr0", ("a",), WireMap(ALL)),
        "B": SwitchPort("vmbr0", ("b",), WireMap(NONE, ((U, U), (20, 9), (7, 8)))),
    }
    assert plan(nics, ports) == Plan([7, 8, 9], {}, [("vmbr0", 8, [(7, ["B"]), (8, ["A"])])], [])
    assert [n.segments for n in nics] == [{9}, {8}, {U}, {7}]


# -- export.py: bridge names and uplinks ------------------------------------------------

def pve_bridges(text):
    return {k: (p.name, p.uplink, sorted(p.vlans), p.untagged, p.vlan1, p.type) for k, p in plan_bridges(loads(text)).items()}


NAMES = """
name: n
nodes: {a: {}, b: {}, c: {}}
bridges:
  a-zz: {type: linux, node: a}
  b-zz: {type: linux, node: b}
  c-aa: {type: linux, node: c}
  a-lab: {type: linux, node: a}
  a-vmbr5: {type: linux, node: a}
  b-lab: {type: linux, node: b}
  b-vmbr5: {type: linux, node: b}
links:
  - {between: [a-zz, b-zz]}
  - {between: [b-zz, c-aa]}
  - {between: [a-lab, a-vmbr5]}
  - {between: [a-vmbr5, b-vmbr5]}
  - {between: [b-vmbr5, b-lab]}
"""


def test_plan_bridges_most_common_name_then_vmbr():
    # zz: two of three members; lab and vmbr5 two each, vmbr<N> preferred.
    assert pve_bridges(NAMES) == {
        "a-zz": ("zz", "eno2", [], True, False, "linux"),
        "b-zz": ("zz", "eno2", [], True, False, "linux"),
        "c-aa": ("zz", "eno1", [], True, False, "linux"),
        "a-lab": ("vmbr5", "eno1", [], True, False, "linux"),
        "a-vmbr5": ("vmbr5", "eno1", [], True, False, "linux"),
        "b-lab": ("vmbr5", "eno1", [], True, False, "linux"),
        "b-vmbr5": ("vmbr5", "eno1", [], True, False, "linux"),
    }


CLASHES = """
name: c
nodes: {a: {}, b: {}, c: {}, d: {}}
bridges:
  a-vmbr0: {type: linux, node: a}
  b-vmbr0: {type: linux, node: b}
  c-vmbr0: {type: linux, node: c}
  d-vmbr0: {type: linux, node: d}
  vmbr0: {type: linux, node: c}
  eno1: {type: linux, node: a}
  b-lab: {type: linux, node: b}
  c-lab: {type: linux, node: c}
  d-: {type: linux, node: d}
links:
  - {between: [a-vmbr0, b-vmbr0]}
  - {between: [c-vmbr0, d-vmbr0]}
"""


def test_plan_bridges_name_clashes():
    # Two groups over nodes cannot share a name (the switch would join them); a bridge of one node
    # may reuse a name no bridge of its node has; eno<N> and lo are for physical ports.
    assert pve_bridges(CLASHES) == {
        "a-vmbr0": ("vmbr0", "eno1", [], True, False, "linux"),
        "b-vmbr0": ("vmbr0", "eno1", [], True, False, "linux"),
        "c-vmbr0": ("vmbr1", "eno1", [], True, False, "linux"),
        "d-vmbr0": ("vmbr1", "eno1", [], True, False, "linux"),
        "vmbr0": ("vmbr0", None, [], False, False, "linux"),
        "eno1": ("vmbr1", None, [], False, False, "linux"),
        "b-lab": ("lab", None, [], False, False, "linux"),
        "c-lab": ("lab", None, [], False, False, "linux"),
        "d-": ("d-", None, [], False, False, "linux"),
    }


UPLINKS = """
name: u
nodes: {a: {}, b: {}, c: {}}
vlans: {1: {}, 2: {}, 5: {}, 10: {}}
bridges:
  a-vmbr0: {type: linux, node: a}
  c-vmbr0: {type: linux, node: c}
  a-vmbr1: {type: linux, node: a, vlan_aware: true}
  b-vmbr1: {type: linux, node: b, vlan_aware: true}
  c-vmbr1: {type: linux, node: c, vlan_aware: true}
  b-t1: {type: linux, node: b, vlan_aware: true}
  b-t2: {type: linux, node: b, vlan_aware: true}
  a-l1: {type: linux, node: a, vlan_aware: true}
  b-l1: {type: linux, node: b, vlan_aware: true}
  a-l2: {type: linux, node: a, vlan_aware: true}
  c-l2: {type: linux, node: c, vlan_aware: true}
endpoints:
  v1: {type: kvm, node: b, nics: [{bridge: b-t1, trunks: [1, 5]}, {bridge: b-t2, trunks: [2]}]}
links:
  - {between: [a-vmbr0, c-vmbr0]}
  - {between: [a-vmbr1, b-vmbr1], trunks: [5]}
  - {between: [a-vmbr1, c-vmbr1], trunks: [10], untagged: false}
  - {between: [a-l1, b-l1], trunks: [1], untagged: false}
  - {between: [a-l2, c-l2], trunks: [2], untagged: false}
"""


def test_plan_bridges_uplinks_vlans_and_vlan1():
    # Each node numbers its own bridges that span nodes, by name: a has l1 l2 vmbr0 vmbr1, b l1 vmbr1, c l2 vmbr0 vmbr1.
    assert pve_bridges(UPLINKS) == {
        "a-vmbr0": ("vmbr0", "eno3", [], True, False, "linux"),
        "c-vmbr0": ("vmbr0", "eno2", [], True, False, "linux"),
        "a-vmbr1": ("vmbr1", "eno4", [5, 10], True, False, "linux"),
        "b-vmbr1": ("vmbr1", "eno2", [5], True, False, "linux"),
        "c-vmbr1": ("vmbr1", "eno3", [10], False, False, "linux"),
        "b-t1": ("t1", None, [], False, True, "ovs"),
        "b-t2": ("t2", None, [], False, False, "linux"),
        "a-l1": ("l1", "eno1", [1], False, True, "ovs"),
        "b-l1": ("l1", "eno1", [1], False, True, "ovs"),
        "a-l2": ("l2", "eno2", [2], False, False, "linux"),
        "c-l2": ("l2", "eno1", [2], False, False, "linux"),
    }


# -- export.py: a whole export ----------------------------------------------------------

X = """
name: x
nodes: {a: {}, b: {}}
vlans: {1: {}, 7: {}}
bridges:
  a-m1: {type: linux, node: a}
  a-m2: {type: linux, node: a}
  a-n1: {type: linux, node: a, vlan_aware: true}
  a-n2: {type: linux, node: a, vlan_aware: true}
  b-v1: {type: linux, node: b, vlan_aware: true}
  a-up: {type: linux, node: a, vlan_aware: true}
  b-up: {type: linux, node: b, vlan_aware: true}
endpoints:
  h1: {type: host, node: a, nics: [{bridge: a-m1, mac: "02:00:00:00:01:01"}]}
  h2: {type: host, node: a, nics: [{bridge: a-m2, mac: "02:00:00:00:01:02"}]}
  h3: {type: host, node: a, nics: [{bridge: a-up, mac: "02:00:00:00:01:03"}]}
  h4: {type: host, node: b, nics: [{bridge: b-up, mac: "02:00:00:00:01:04"}]}
  h5: {type: host, node: b, nics: [{bridge: b-v1, tag: 1, mac: "02:00:00:00:01:05"}]}
  vm: {type: kvm, node: a, vmid: 200, nics: [{bridge: a-n1, tag: 7, mac: "02:ab:cd:ef:00:01"}]}
links:
  - {between: [a-m1, a-m2]}
  - {between: [a-n1, a-n2], trunks: [1]}
  - {between: [a-up, b-up], trunks: []}
"""
UP = [  # a VLAN-aware bridge joined to the other node's for untagged frames only: its port is an access port in VLAN 1
    "iface eno1 inet manual",
    "\tbridge-access 1",
    "",
    "auto up",
    "iface up inet manual",
    "\tbridge-ports eno1",
    "\tbridge-stp off",
    "\tbridge-fd 0",
    "\tbridge-vlan-aware yes",
    "\tbridge-vids 2-4094",
    "",
]
X_FILES = {
    "nodes/a/etc/network/interfaces": [
        "# Generated by `sdnlab export pve` from x: the bridges of node a.",
        "",
        "auto lo",
        "iface lo inet loopback",
        "",
        *UP,
        "auto vmbr0",
        "iface vmbr0 inet manual",
        "\tbridge-ports none",
        "\tbridge-stp off",
        "\tbridge-fd 0",
        "",
        "auto vmbr1",
        "iface vmbr1 inet manual",
        "\tovs_type OVSBridge",
        "",
    ],
    "nodes/b/etc/network/interfaces": [
        "# Generated by `sdnlab export pve` from x: the bridges of node b.",
        "",
        "auto lo",
        "iface lo inet loopback",
        "",
        *UP,
        "auto v1",
        "iface v1 inet manual",
        "\tovs_type OVSBridge",
        "",
    ],
    "etc/pve/nodes/a/lxc/100.conf": ["#Exported by sdnlab from x", "hostname: h1", "net0: bridge=vmbr0,hwaddr=02:00:00:00:01:01,name=eth0,type=veth", ""],
    "etc/pve/nodes/a/lxc/101.conf": ["#Exported by sdnlab from x", "hostname: h2", "net0: bridge=vmbr0,hwaddr=02:00:00:00:01:02,name=eth0,type=veth", ""],
    "etc/pve/nodes/a/lxc/102.conf": ["#Exported by sdnlab from x", "hostname: h3", "net0: bridge=up,hwaddr=02:00:00:00:01:03,name=eth0,type=veth", ""],
    "etc/pve/nodes/b/lxc/103.conf": ["#Exported by sdnlab from x", "hostname: h4", "net0: bridge=up,hwaddr=02:00:00:00:01:04,name=eth0,type=veth", ""],
    "etc/pve/nodes/b/lxc/104.conf": ["#Exported by sdnlab from x", "hostname: h5", "net0: bridge=v1,hwaddr=02:00:00:00:01:05,name=eth0,tag=1,type=veth", ""],
    "etc/pve/nodes/a/qemu-server/200.conf": ["#Exported by sdnlab from x", "name: vm", "net0: virtio=02:AB:CD:EF:00:01,bridge=vmbr1,tag=7", ""],
    "commands.sh": [
        "#!/bin/sh",
        "# Generated by `sdnlab export pve` from x.",
        "# Sets each guest's name and NICs on its node: run it on every node; each runs its own part.",
        "# The guests must exist already (qm create / pct create), and the bridges of",
        "# nodes/<node>/etc/network/interfaces must be up (ifreload -a).",
        "set -e",
        "node=$(hostname -s)",
        'if [ "$node" = a ]; then',
        "    pct set 100 --hostname h1 --net0 bridge=vmbr0,hwaddr=02:00:00:00:01:01,name=eth0,type=veth",
        "    pct set 101 --hostname h2 --net0 bridge=vmbr0,hwaddr=02:00:00:00:01:02,name=eth0,type=veth",
        "    pct set 102 --hostname h3 --net0 bridge=up,hwaddr=02:00:00:00:01:03,name=eth0,type=veth",
        "    qm set 200 --name vm --net0 virtio=02:AB:CD:EF:00:01,bridge=vmbr1,tag=7",
        "fi",
        'if [ "$node" = b ]; then',
        "    pct set 103 --hostname h4 --net0 bridge=up,hwaddr=02:00:00:00:01:04,name=eth0,type=veth",
        "    pct set 104 --hostname h5 --net0 bridge=v1,hwaddr=02:00:00:00:01:05,name=eth0,tag=1,type=veth",
        "fi",
        "",
    ],
}
X_WARNINGS = [
    "bridges a-m1, a-m2 of node a are one Proxmox bridge, vmbr0: links join them, and Proxmox joins bridges only through a physical switch",
    "bridges a-n1, a-n2 of node a are one Proxmox bridge, vmbr1: links join them, and Proxmox joins bridges only through a physical switch",
    "bridge vmbr1 of node a (a-n1, a-n2) is an OVS bridge: its NICs or links use VLAN 1, which a VLAN-aware Linux bridge keeps "
    "for its untagged frames (its PVID)",
    "bridge v1 of node b (b-v1) is an OVS bridge: its NICs or links use VLAN 1, which a VLAN-aware Linux bridge keeps for its untagged frames (its PVID)",
    "5 host endpoints (h1, h2, h3, h4, h5) become containers: Proxmox has no plain network namespaces",
]
X_VMIDS = {"h1": 100, "h2": 101, "h3": 102, "h4": 103, "h5": 104, "vm": 200}


def test_export_merged_and_vlan1_bridges_and_an_untagged_uplink():
    r = export_topology(loads(X))
    assert r.files == {k: "\n".join(v) for k, v in X_FILES.items()}
    assert r.warnings == X_WARNINGS
    assert r.vmids == X_VMIDS
    assert r.bridges == {"a-m1": "vmbr0", "a-m2": "vmbr0", "a-n1": "vmbr1", "a-n2": "vmbr1", "b-v1": "v1", "a-up": "up", "b-up": "up"}


def test_guest_lines_kinds():
    topology = loads(X)
    bridges = plan_bridges(topology)
    assert guest_lines(topology.endpoints["h1"], bridges) == (
        "lxc", [("hostname", "h1"), ("net0", "bridge=vmbr0,hwaddr=02:00:00:00:01:01,name=eth0,type=veth")])
    assert guest_lines(topology.endpoints["vm"], bridges) == ("qemu", [("name", "vm"), ("net0", "virtio=02:AB:CD:EF:00:01,bridge=vmbr1,tag=7")])


def x_files():
    return {k: "\n".join(v) for k, v in X_FILES.items()}


def test_compare_a_guest_the_topology_does_not_have():
    files = x_files()
    files["etc/pve/nodes/a/lxc/150.conf"] = "hostname: extra\nnet0: bridge=vmbr0,hwaddr=02:00:00:00:01:50,name=eth0,type=veth\n"
    assert compare(loads(X), files, X_VMIDS) == ["2 pairs reachable in Proxmox but not in the topology: extra-h1, extra-h2"]


def test_compare_two_lost_guests():
    files = x_files()
    del files["etc/pve/nodes/a/lxc/100.conf"], files["etc/pve/nodes/a/lxc/101.conf"]
    assert compare(loads(X), files, X_VMIDS) == [
        "2 endpoint(s) do not come back from the exported files: h1, h2",
        "1 pair reachable in the topology but not in Proxmox: h1-h2",
    ]


def test_compare_files_the_loader_refuses():
    files = x_files()
    files["etc/pve/nodes/a/lxc/100.conf"] = files["etc/pve/nodes/a/lxc/100.conf"].replace("02:00:00:00:01:01", "00:00:00:00:00:00")
    assert compare(loads(X), files, X_VMIDS) == [
        "the exported files do not import back: <export>: endpoints.h1.nics[0].mac: 00:00:00:00:00:00 is not a usable MAC address"
    ]
