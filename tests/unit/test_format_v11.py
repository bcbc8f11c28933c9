"""The keys format 1.1 adds: node addresses, vmids, trunk NICs, link VNIs, controller replicas.

Each malformed value is one problem with its file, line, column and key path;
the positions here were counted by hand in the file below.
"""

from __future__ import annotations

import hashlib
import textwrap

import pytest

from sdnlab import TopologyError, load, loads
from tests.conftest import TOPOLOGIES

GOOD = textwrap.dedent("""\
    name: fw
    nodes:
      pve1: {address: 192.0.2.1}
      pve2: {address: '2001:db8::2'}
    vlans: {10: {name: web}, 20: {name: db}}
    bridges:
      vmbr0: {type: ovs, node: pve1}
      vmbr1: {type: ovs, node: pve2}
    endpoints:
      fw: {type: kvm, node: pve1, vmid: 100, nics: [{bridge: vmbr0, tag: 10, trunks: [20], ip: 10.0.10.1/24}]}
      web1: {type: lxc, node: pve1, vmid: 101, nics: [{bridge: vmbr0, tag: 10, ip: 10.0.10.11/24}]}
      db1: {type: lxc, node: pve2, nics: [{bridge: vmbr1, tag: 20, ip: 10.0.20.11/24}]}
    links:
      - {name: uplink, between: [vmbr0, vmbr1], vni: 4242}
      - {between: [vmbr1, vmbr0]}
    controller: {replicas: 3}
    """)

BAD = textwrap.dedent("""\
    name: lab
    nodes:
      pve1: {address: 192.0.2.1}
      pve2: {address: 192.0.2.1}
      pve3: {address: 10.0.0.0/8}
      pve4: {address: 5}
    vlans: {10: {}, 20: {}}
    bridges:
      vmbr0: {type: ovs, node: pve1}
      vmbr1: {type: ovs, node: pve2}
      lnx0: {type: linux, node: pve1}
    endpoints:
      a: {type: kvm, node: pve1, vmid: true, nics: [{bridge: vmbr0, trunks: [10, 30]}]}
      b: {type: lxc, node: pve1, vmid: 99, nics: [{bridge: vmbr0, tag: 10, trunks: [10, 20]}]}
      c: {type: lxc, node: pve1, vmid: 200, nics: [{bridge: lnx0, trunks: [20]}]}
      d: {type: kvm, node: pve1, vmid: 200, nics: [{bridge: vmbr0, trunks: 20}]}
      e: {type: kvm, node: pve1, vmid: '300', nics: [{bridge: vmbr0, trunks: [20, 20]}]}
    links:
      - {between: [vmbr0, vmbr1], vni: 0}
      - {between: [vmbr0, vmbr1], vni: 77}
      - {between: [vmbr0, vmbr1], vni: 77}
      - {between: [vmbr0, vmbr1], vni: true}
    controller: {replicas: 0}
    """)

EXPECTED = [
    (4, 19, "nodes.pve2.address", "address 192.0.2.1 is already the address of node pve1"),
    (5, 19, "nodes.pve3.address", "node address must be an IPv4 or IPv6 address without a prefix, like 192.0.2.11, not '10.0.0.0/8'"),
    (6, 19, "nodes.pve4.address", "node address must be text, not a number (quote it)"),
    (13, 36, "endpoints.a.vmid", "vmid must be a whole number from 100 to 999999999, not true/false"),
    (13, 78, "endpoints.a.nics[0].trunks[1]", "VLAN 30 is not declared under 'vlans' (declared: 10, 20)"),
    (14, 36, "endpoints.b.vmid", "vmid must be from 100 to 999999999, not 99"),
    (14, 80, "endpoints.b.nics[0].trunks",
     "VLAN 10 is this NIC's tag, its untagged (native) VLAN; it cannot also be in trunks, which are carried tagged"),
    (15, 71, "endpoints.c.nics[0].trunks",
     "bridge lnx0 is a Linux bridge that is not VLAN-aware, so it cannot trunk VLANs to a NIC; set vlan_aware: true on it or remove trunks"),
    (16, 36, "endpoints.d.vmid", "vmid 200 is already the vmid of endpoint c"),
    (16, 72, "endpoints.d.nics[0].trunks", "trunks must be a list of VLAN ids, not a number"),
    (17, 36, "endpoints.e.vmid", "vmid must be a whole number from 100 to 999999999, not text"),
    (17, 79, "endpoints.e.nics[0].trunks[1]", "VLAN 20 is listed twice"),
    (19, 36, "links[0].vni", "vni must be from 1 to 16777215, not 0"),
    (21, 36, "links[2].vni", "vni 77 is already used by links[1]"),
    (22, 36, "links[3].vni", "vni must be a whole number from 1 to 16777215, not true/false"),
    (23, 24, "controller.replicas", "replicas must be from 1 to 32, not 0"),
]


def test_every_v11_key_is_read_into_the_model():
    topo = loads(GOOD, "fw.yaml")
    assert topo.node_addresses == {"pve1": "192.0.2.1", "pve2": "2001:db8::2"}
    assert topo.endpoints["fw"].vmid == 100 and topo.endpoints["web1"].vmid == 101 and topo.endpoints["db1"].vmid is None
    fw = topo.endpoints["fw"].nics[0]
    assert fw.tag == 10 and fw.trunks == {20} and fw.segments == (10, 20)
    assert topo.endpoints["web1"].nics[0].trunks == frozenset()
    assert topo.links[0].vni == 4242
    assert topo.controller.replicas == 3


def test_every_malformed_v11_value_is_a_problem_with_its_place():
    with pytest.raises(TopologyError) as info:
        loads(BAD, "lab.yaml")
    got = [(p.line, p.column, p.path, p.message) for p in info.value.problems]
    assert got == EXPECTED
    assert all(p.file == "lab.yaml" for p in info.value.problems)
    assert str(info.value.problems[0]) == "lab.yaml:4:19: nodes.pve2.address: address 192.0.2.1 is already the address of node pve1"


def test_replicas_above_the_limit_and_unknown_node_keys():
    with pytest.raises(TopologyError) as info:
        loads("name: x\nnodes: {p: {address: 192.0.2.1, ssh: root}}\nbridges: {br: {type: ovs}}\ncontroller: {replicas: 33}\n", "x.yaml")
    assert [(p.line, p.column, p.path, p.message) for p in info.value.problems] == [
        (2, 33, "nodes.p.ssh", "unknown key 'ssh'; expected one of: address"),
        (4, 24, "controller.replicas", "replicas must be from 1 to 32, not 33"),
    ]


def test_a_nic_trunk_without_a_tag_and_null_trunks():
    topo = loads("name: x\nvlans: {10: {}, 20: {}}\nbridges: {br: {type: ovs}, lx: {type: linux, vlan_aware: true}}\nendpoints:\n"
                 "  r: {type: kvm, nics: [{bridge: br, trunks: [20, 10]}, {bridge: lx, trunks: [10]}, {bridge: br, trunks: null}]}\n")
    nics = topo.endpoints["r"].nics
    assert nics[0].segments == ("untagged", 10, 20)  # untagged first, then the trunks ascending
    assert nics[1].segments == ("untagged", 10)  # a VLAN-aware Linux bridge may trunk to a NIC
    assert nics[2].segments == ("untagged",)


def test_assigned_vnis_are_stable_documented_and_avoid_given_ones():
    topo = loads(GOOD, "fw.yaml")
    # docs/topology-format.md: the first 24 bits of sha256("<topology name>/link/<link id>").
    expected = int.from_bytes(hashlib.sha256(b"fw/link/link1").digest()[:3], "big")
    assert topo.links[1].vni == expected
    taken = GOOD.replace("vni: 4242", f"vni: {expected}")
    moved = loads(taken, "fw.yaml")
    assert moved.links[0].vni == expected and moved.links[1].vni == expected + 1
    # Every bundled (format 1.0) file gets a VNI on every link, all different.
    for path in sorted(TOPOLOGIES.glob("*.yaml")):
        vnis = [link.vni for link in load(path).links]
        assert all(1 <= v < 2**24 for v in vnis) and len(set(vnis)) == len(vnis), path.name
