"""Trunk NICs (format 1.1 `nics[].trunks`): in the check, and in the controller's pipeline
run in the simulated OpenFlow tables.

The lab, worked out by hand:

    vmbr0: fw (tag 10, trunks [20]), web1 (10), x30 (30)
    vmbr1: web2 (10), db1 (20), lan (untagged), rtr (untagged, trunks [10, 30])
    link vmbr0-vmbr1: trunks [10, 20] and untagged; VLAN 30 does not cross it

    segment 10:       fw web1 web2 rtr    (rtr gets VLAN 10 tagged)
    segment 20:       fw db1              (fw gets VLAN 20 tagged)
    segment 30:       rtr | x30           (two bridges, no link for 30)
    segment untagged: lan rtr
"""

from __future__ import annotations

import json

import pytest

from controller.core import Core
from controller.flows import COOKIE_LEARNED, ETH_ARP, FORWARD, Output, PopVlan, segment_vid
from controller.oftable import Frame
from controller.pipeline import port_vids
from controller.simlab import SimulatedLab
from controller.state import Binding, Port, PortPlan, SwitchView, resolve
from host.errors import HostError
from host.unbuilt import refuse_replicas
from sdnlab import analyse, loads, report
from sdnlab.reference import reachable_pairs

BROADCAST = "ff:ff:ff:ff:ff:ff"
LAB = """\
name: trunks
vlans: {10: {name: web}, 20: {name: db}, 30: {}}
bridges: {vmbr0: {type: ovs}, vmbr1: {type: ovs}}
endpoints:
  fw: {type: kvm, vmid: 100, nics: [{bridge: vmbr0, tag: 10, trunks: [20], ip: 10.0.10.1/24}]}
  web1: {type: lxc, vmid: 101, nics: [{bridge: vmbr0, tag: 10, ip: 10.0.10.11/24}]}
  x30: {type: host, nics: [{bridge: vmbr0, tag: 30}]}
  web2: {type: lxc, nics: [{bridge: vmbr1, tag: 10, ip: 10.0.10.12/24}]}
  db1: {type: lxc, nics: [{bridge: vmbr1, tag: 20, ip: 10.0.20.11/24}]}
  lan: {type: host, nics: [{bridge: vmbr1, ip: 192.168.0.2/24}]}
  rtr: {type: kvm, nics: [{bridge: vmbr1, trunks: [10, 30], ip: 192.168.0.1/24}]}
links:
  - {between: [vmbr0, vmbr1], trunks: [10, 20]}
"""
REACHABLE = [("db1", "fw"), ("fw", "rtr"), ("fw", "web1"), ("fw", "web2"), ("lan", "rtr"), ("rtr", "web1"), ("rtr", "web2"), ("web1", "web2")]


@pytest.fixture(scope="module")
def topology():
    return loads(LAB, "trunks.yaml")


def test_a_trunk_nic_is_in_every_segment_it_carries(topology):
    analysis = analyse(topology)
    assert analysis.segments == {10: ["fw", "rtr", "web1", "web2"], 20: ["db1", "fw"], 30: ["rtr", "x30"], "untagged": ["lan", "rtr"]}
    assert analysis.reachable() == REACHABLE
    assert len(list(analysis.isolated())) == 21 - 8
    assert reachable_pairs(topology) == set(REACHABLE)
    assert analysis.shared_segments("fw", "rtr") == (10,) and analysis.shared_segments("rtr", "x30") == ()
    assert analysis.reachable_count() == 8


def test_a_trunk_nics_address_counts_in_its_own_segment_only(topology):
    warnings = [(w.pair, w.segments, w.message) for w in analyse(topology).warnings]
    assert warnings == [
        (("db1", "fw"), (20,), "db1 and fw are L2-reachable (in 20 (db)) but cannot ping: fw has no address there"),
        (("fw", "rtr"), (10,), "fw and rtr are L2-reachable (in 10 (web)) but cannot ping: rtr has no address there"),
        (("rtr", "web1"), (10,), "rtr and web1 are L2-reachable (in 10 (web)) but cannot ping: rtr has no address there"),
        (("rtr", "web2"), (10,), "rtr and web2 are L2-reachable (in 10 (web)) but cannot ping: rtr has no address there"),
    ]
    summary = analyse(topology).warning_summary()
    assert summary.total == 4 and summary.counts["no-address"] == 4


def test_check_json_lists_a_trunk_nic_under_each_segment(topology):
    doc = json.loads(report.valid_json(analyse(topology)))
    assert doc["segments"] == {"10": ["fw", "rtr", "web1", "web2"], "20": ["db1", "fw"], "30": ["rtr", "x30"], "untagged": ["lan", "rtr"]}
    assert doc["reachable"] == [list(p) for p in REACHABLE]
    assert report.valid_json(analyse(topology)) == json.dumps(analyse(topology).to_json(), indent=2)


@pytest.mark.parametrize(("sender", "vlans", "expected"), [
    ("fw.0", (), {("web1.0", ()), ("web2.0", ()), ("rtr.0", (10,))}),  # untagged: its native VLAN 10
    ("fw.0", (20,), {("db1.0", ())}),  # tagged 20: a trunk
    ("fw.0", (10,), set()),  # its native VLAN arrives untagged only
    ("fw.0", (30,), set()),  # not one of its trunks
    ("fw.0", (20, 20), set()),  # a second tag
    ("rtr.0", (), {("lan.0", ())}),  # no tag: untagged
    ("rtr.0", (10,), {("fw.0", ()), ("web1.0", ()), ("web2.0", ())}),
    ("rtr.0", (30,), set()),  # VLAN 30 does not cross the link
    ("rtr.0", (20,), set()),
    ("db1.0", (), {("fw.0", (20,))}),
    ("web2.0", (), {("fw.0", ()), ("web1.0", ()), ("rtr.0", (10,))}),
    ("x30.0", (), set()),
])
def test_broadcasts_reach_trunk_nics_tagged_and_native_vlans_untagged(topology, sender, vlans, expected):
    lab = SimulatedLab(topology)
    mac = next(n.mac for n in topology.nics() if n.id == sender)
    assert lab.send_detail(sender, Frame(mac, BROADCAST, vlans=vlans)) == expected


def test_every_nic_reaches_its_reach_class_in_every_segment_it_carries(topology):
    lab = SimulatedLab(topology)
    analysis = analyse(topology)
    for nic in topology.nics():
        for segment in nic.segments:
            cls = next(c for c in analysis.classes if c.segment == segment and nic in c.nics)
            tags = () if segment == nic.segment else (segment,)
            # Each receiver gets the frame untagged in its own segment, tagged in one of its trunks.
            want = {(o.id, () if o.segment == segment else (segment,)) for o in cls.nics if o is not nic}
            assert lab.send_detail(nic.id, Frame(nic.mac, BROADCAST, vlans=tags)) == want, (nic.id, segment)


def test_learned_destinations_keep_the_tag_of_a_trunk_and_pop_the_native_vlan(topology):
    lab = SimulatedLab(topology)
    macs = {n.id: n.mac for n in topology.nics()}
    lab.send("fw.0", Frame(macs["fw.0"], BROADCAST, vlans=(20,)))  # fw learned in VLAN 20
    lab.send("fw.0", Frame(macs["fw.0"], BROADCAST))  # and in VLAN 10
    lab.send("rtr.0", Frame(macs["rtr.0"], BROADCAST, vlans=(10,)))  # rtr learned in VLAN 10
    assert lab.send_detail("db1.0", Frame(macs["db1.0"], macs["fw.0"])) == {("fw.0", (20,))}
    assert lab.send_detail("web1.0", Frame(macs["web1.0"], macs["fw.0"])) == {("fw.0", ())}
    assert lab.send_detail("web1.0", Frame(macs["web1.0"], macs["rtr.0"])) == {("rtr.0", (10,))}
    port = lab.plan.nic_port("fw.0")[1]
    learned = {f.fields["vlan_vid"]: f.actions for f in lab.flows("vmbr0")
               if f.cookie == COOKIE_LEARNED and f.table == FORWARD and f.fields["eth_dst"] == macs["fw.0"]}
    assert learned == {segment_vid(20): (Output(port),), segment_vid(10): (PopVlan(), Output(port))}


def test_port_security_holds_in_a_trunk_vlan(topology):
    """In a trunk VLAN the file gives the NIC no address (a router has its own there): ARP is held to its MAC only."""
    lab = SimulatedLab(topology)
    fw = next(n for n in topology.nics() if n.id == "fw.0")
    arp = {"eth_type": ETH_ARP, "vlans": (20,)}
    assert lab.send_detail("fw.0", Frame(fw.mac, BROADCAST, arp_spa="10.0.10.1", **arp)) == {("db1.0", ())}
    assert lab.send_detail("fw.0", Frame(fw.mac, BROADCAST, arp_spa="10.0.20.1", **arp)) == {("db1.0", ())}  # its own there
    assert lab.send_detail("fw.0", Frame(fw.mac, BROADCAST, arp_spa="10.0.20.1", arp_sha="02:99:00:00:00:01", **arp)) == set()
    assert lab.send_detail("fw.0", Frame("02:99:00:00:00:01", BROADCAST, vlans=(20,))) == set()  # not its MAC


def test_on_its_untagged_side_a_trunk_nics_arp_is_held_to_its_address(topology):
    lab = SimulatedLab(topology)
    fw = next(n for n in topology.nics() if n.id == "fw.0")
    assert fw.ip is not None
    other = "10.0.99.99"
    assert lab.send_detail("fw.0", Frame(fw.mac, BROADCAST, eth_type=ETH_ARP, arp_spa=other)) == set()


def test_the_port_carries_its_vlans_and_packet_ins_in_others_are_refused(topology):
    core = Core(topology)
    plan = PortPlan(topology)
    core.connect(plan.view("vmbr0"), [], 0.0)
    port = plan.nic_port("fw.0")[1]
    assert port_vids(core.resolved["vmbr0"], core.trees, port) == {segment_vid(10), segment_vid(20)}
    assert core.packet_in("vmbr0", port, segment_vid(30), "02:00:00:00:00:99", 0.0) == []
    assert core.macs["vmbr0"].refused == 1
    assert core.packet_in("vmbr0", port, segment_vid(20), "02:00:00:00:00:99", 0.0) != []


def test_ports_are_bound_by_their_proxmox_names_when_unmarked(topology):
    plan = PortPlan(topology)
    view = plan.view("vmbr0")
    ports = {n: p for n, p in view.ports.items() if p.binding.kind == "link"}
    ports[20] = Port(20, "tap100i0", True, None)  # fw is kvm, vmid 100
    ports[21] = Port(21, "veth101i0", True, None)  # web1 is lxc, vmid 101
    ports[22] = Port(22, "tap101i0", True, None)  # web1 is no kvm guest: Proxmox would not name it so
    ports[23] = Port(23, "tap100i1", True, None)  # fw has no NIC 1
    resolved = resolve(topology, SwitchView("vmbr0", view.dpid, ports))
    assert {n: nic.id for n, nic in resolved.nics.items()} == {20: "fw.0", 21: "web1.0"}
    assert resolved.ignored == {22: "no sdnlab binding", 23: "no sdnlab binding"}
    # A mark in OVSDB wins over the name.
    marked = {20: Port(20, "tap100i0", True, Binding("nic", "x30.0"))}
    assert {n: nic.id for n, nic in resolve(topology, SwitchView("vmbr0", view.dpid, marked)).nics.items()} == {20: "x30.0"}


def test_the_builders_refuse_what_they_do_not_build_yet():
    clustered = loads("name: x\nbridges: {br: {type: ovs}}\ncontroller: {replicas: 3}\n")
    with pytest.raises(HostError, match=r"controller.replicas is 3: a cluster of controllers is not supported by this builder \(up\) yet"):
        refuse_replicas(clustered, "up")
    plain = loads("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br}]}}\n")
    refuse_replicas(plain, "up")
