"""What a bridge forwarding by OVS's NORMAL action does with VLANs (controller/normal.py),
and the flows view with such a bridge in the lab next to a controlled one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from controller.normal import NormalBridge, VlanSettings, carried, forward
from controller.oftable import Frame
from controller.simlab import SimulatedLab
from controller.state import PortPlan
from host.verify import flow_reachability
from sdnlab import analyse, loads

ACCESS10, ACCESS20 = VlanSettings(10), VlanSettings(20)
ALL = VlanSettings()  # no columns: a trunk of every VLAN, untagged frames in VLAN 0
TRUNK = VlanSettings(None, frozenset({10, 20}))
NATIVE = VlanSettings(1, frozenset({10, 20}), "native-untagged")  # as Proxmox writes tag=1 trunks=10;20


def test_an_empty_vlan_mode_is_access_with_a_tag_and_trunk_without():
    assert ACCESS10.effective_mode == "access" and ALL.effective_mode == "trunk"
    assert VlanSettings(10, frozenset({20})).effective_mode == "access"  # OVS ignores trunks next to an implicit access tag
    assert VlanSettings.proxmox(10) == ACCESS10
    assert VlanSettings.proxmox(10, [20, 30]) == VlanSettings(10, frozenset({20, 30}), "native-untagged")
    assert VlanSettings.proxmox(None, [20]) == VlanSettings(None, frozenset({20}))


def test_an_access_port_takes_untagged_frames_into_its_vlan_and_drops_tagged_ones():
    assert ACCESS10.ingress(None) == 10 and ACCESS10.ingress(0) == 10  # a priority tag counts as none
    assert ACCESS10.ingress(10) is None and ACCESS10.ingress(20) is None
    assert carried(ACCESS10) == {10: ()}
    assert VlanSettings(None, mode="access").ingress(None) == 0  # no tag: OVS takes VLAN 0


def test_a_trunk_carries_its_trunks_tagged_and_every_vlan_when_it_names_none():
    assert carried(TRUNK) == {10: (10,), 20: (20,)}
    assert TRUNK.ingress(None) is None and TRUNK.ingress(30) is None and TRUNK.ingress(20) == 20
    assert ALL.ingress(None) == 0 and ALL.egress(0) == () and ALL.egress(4094) == (4094,)
    assert len(carried(ALL)) == 4095


def test_a_native_port_puts_untagged_frames_in_its_native_vlan():
    assert NATIVE.ingress(None) == 1 and NATIVE.ingress(1) == 1 and NATIVE.ingress(10) == 10 and NATIVE.ingress(30) is None
    assert carried(NATIVE) == {1: (), 10: (10,), 20: (20,)}
    tagged = VlanSettings(1, frozenset({10}), "native-tagged")
    assert carried(tagged) == {1: (1,), 10: (10,)}
    # Every VLAN when trunks is empty, except VLAN 0: the native VLAN stands for untagged frames.
    everything = VlanSettings(5, mode="native-untagged")
    assert everything.egress(0) is None and everything.egress(5) == () and everything.egress(7) == (7,)


def test_the_same_forwarding_in_other_words():
    assert VlanSettings(10, mode="access").forwards_like(ACCESS10)
    assert VlanSettings(10, frozenset({20}), "native-untagged").forwards_like(VlanSettings(10, frozenset({10, 20}), "native-untagged"))
    assert not NATIVE.forwards_like(VlanSettings(1, frozenset({10, 20}), "native-tagged"))
    assert not VlanSettings(10, frozenset({10}), "native-untagged").forwards_like(ACCESS10)  # it also takes frames tagged 10
    assert not VlanSettings(3, mode="dot1q-tunnel").forwards_like(VlanSettings(3))
    assert VlanSettings(3, mode="dot1q-tunnel").forwards_like(VlanSettings(3, mode="dot1q-tunnel"))
    assert VlanSettings.like(SimpleNamespace(mode="trunk", tag=None, trunks=(20, 10))) == VlanSettings(None, frozenset({10, 20}), "trunk")


def test_a_frame_is_flooded_in_its_vlan_and_tagged_as_each_port_says():
    ports = {1: ACCESS10, 2: ACCESS20, 3: NATIVE, 4: ACCESS10, 5: VlanSettings(1)}
    assert forward(ports, 1, ()) == {3: (10,), 4: ()}
    assert forward(ports, 3, (20,)) == {2: ()}
    assert forward(ports, 3, ()) == {5: ()}  # the native VLAN, untagged both ways
    assert forward(ports, 3, (30,)) == {}  # not trunked here
    assert forward(ports, 1, (20,)) == {}  # tagged frame on an access port
    # One VLAN header is parsed; a second tag is payload, carried into VLAN 10's access port: double tagging hops.
    assert forward(ports, 3, (10, 20)) == {1: (20,), 4: (20,)}


def test_the_bridge_drops_reserved_group_addresses_and_keeps_tpids_it_does_not_push():
    bridge = NormalBridge({1: ACCESS10, 2: TRUNK, 3: ACCESS10})
    assert bridge.process(1, Frame("02:00:00:00:00:01", "01:80:c2:00:00:00")).outputs == []
    assert NormalBridge(bridge.ports, forward_bpdu=True).process(1, Frame("02:00:00:00:00:01", "01:80:C2:00:00:00")).outputs != []
    out = dict(bridge.process(1, Frame("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff")).outputs)
    assert out[2].vlans == (10,) and out[2].tpid == 0x8100 and out[3].vlans == ()
    qinq = dict(bridge.process(2, Frame("02:00:00:00:00:02", "ff:ff:ff:ff:ff:ff", vlans=(10,), tpid=0x88A8)).outputs)
    assert qinq[1].vlans == () and qinq[1].tpid == 0x8100
    assert bridge.process(9, Frame("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff")).outputs == []  # no such port
    with pytest.raises(ValueError, match="dot1q-tunnel is not modelled"):
        NormalBridge({1: VlanSettings(3, mode="dot1q-tunnel")})


LAB = """
name: standin
vlans: {10: {name: web}, 20: {name: db}}
bridges:
  vmbr0: {type: linux, vlan_aware: true}
  vmbr1: {type: ovs}
endpoints:
  web1: {type: kvm, vmid: 101, nics: [{bridge: vmbr0, tag: 10, ip: 10.0.0.1/24}]}
  db1: {type: lxc, vmid: 102, nics: [{bridge: vmbr0, tag: 20, ip: 10.0.0.2/24}]}
  web2: {type: kvm, nics: [{bridge: vmbr1, tag: 10, ip: 10.0.0.3/24}]}
  db2: {type: kvm, nics: [{bridge: vmbr1, tag: 20, ip: 10.0.0.4/24}]}
  mgmt: {type: host, nics: [{bridge: vmbr1, ip: 10.0.0.5/24}]}
links:
  - {name: uplink, between: [vmbr0, vmbr1], trunks: [10, 20]}
"""


def _lab(text: str = LAB):
    topology = loads(text, "standin.yaml")
    lab = SimulatedLab(topology)
    dumps = {b: lab.flows(b) for b, br in topology.bridges.items() if br.is_ovs}
    names = sorted(topology.endpoints)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    return topology, PortPlan(topology), dumps, pairs


def _standin(plan: PortPlan, **by_binding: VlanSettings) -> dict[str, dict[int, VlanSettings]]:
    """vmbr0's ports by plan number, each with the settings given for its binding's id."""
    return {"vmbr0": {n: by_binding[b.id.replace(".", "_")] for n, b in plan["vmbr0"].items()}}


def test_the_flows_view_of_a_controlled_bridge_trunked_to_a_standin_gives_the_checks_reachability():
    topology, plan, dumps, pairs = _lab()
    # The stand-in's ports as Proxmox would set them: access tags, the uplink a native-untagged trunk.
    normal = _standin(plan, web1_0=ACCESS10, db1_0=ACCESS20, uplink=NATIVE)
    got = flow_reachability(topology, plan, dumps, pairs, normal=normal)
    analysis = analyse(topology)
    assert got == {p: analysis.is_reachable(*p) for p in pairs}
    assert {p for p, ok in got.items() if ok} == {("web1", "web2"), ("db1", "db2")}
    # Without the stand-in, the Linux bridge is modelled by the pipeline's flows, as before: the same answer.
    assert flow_reachability(topology, plan, dumps, pairs) == got
    assert flow_reachability(topology, plan, dumps, [("web1", "web2")], down_links={"uplink"}, normal=normal) == {("web1", "web2"): False}


def test_the_standins_port_settings_decide_what_crosses():
    topology, plan, dumps, pairs = _lab()
    # The uplink trunks only VLAN 10 on the stand-in's side: db1 is cut off from db2.
    pruned = flow_reachability(topology, plan, dumps, pairs, normal=_standin(plan, web1_0=ACCESS10, db1_0=ACCESS20,
                                                                            uplink=VlanSettings(1, frozenset({10}), "native-untagged")))
    assert {p for p, ok in pruned.items() if ok} == {("web1", "web2")}
    # db1 set to VLAN 10 on the stand-in: it meets web1 there, and web2 too: what comes over a link in VLAN 10
    # is VLAN 10 to the controlled bridge, which cannot know who sent it. The file wins only where the controller programs.
    moved = flow_reachability(topology, plan, dumps, pairs, normal=_standin(plan, web1_0=ACCESS10, db1_0=ACCESS10, uplink=NATIVE))
    assert {p for p, ok in moved.items() if ok} == {("db1", "web1"), ("db1", "web2"), ("web1", "web2")}


def test_untagged_frames_cross_in_the_standins_native_vlan():
    text = LAB.replace("links:", "  mgmt0: {type: host, nics: [{bridge: vmbr0, ip: 10.0.0.6/24}]}\nlinks:")
    topology, plan, dumps, pairs = _lab(text)
    normal = _standin(plan, web1_0=ACCESS10, db1_0=ACCESS20, mgmt0_0=VlanSettings(1), uplink=NATIVE)
    got = flow_reachability(topology, plan, dumps, pairs, normal=normal)
    analysis = analyse(topology)
    assert got == {p: analysis.is_reachable(*p) for p in pairs}
    assert got[("mgmt", "mgmt0")] and not got[("mgmt0", "web1")]
