"""Ports as Proxmox makes them on an OVS bridge: bound by their names (the
firewall's `fwln<vmid>o<n>` too), and their 802.1Q columns read from OVSDB and
compared with the file, which wins."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from controller.normal import VlanSettings
from controller.ovsdb import SeenPort, snapshot, vlan_disagreement, vlan_disagreements
from controller.pvenames import ovs_port_names
from controller.state import Binding, Port, SwitchView, proxmox_names, resolve
from sdnlab import loads

LAB = """
name: pve
vlans: {10: {}, 20: {}, 30: {}, 40: {}}
bridges: {vmbr0: {type: ovs}, vmbr1: {type: ovs}}
endpoints:
  vm1: {type: kvm, vmid: 101, nics: [{bridge: vmbr0, tag: 10}, {bridge: vmbr0, tag: 20, trunks: [30, 40]}]}
  ct1: {type: lxc, vmid: 102, nics: [{bridge: vmbr0}, {bridge: vmbr1, tag: 10}]}
  h1: {type: host, nics: [{bridge: vmbr0, tag: 10}]}
"""


@pytest.fixture
def topology():
    return loads(LAB, "pve.yaml")


def test_a_guest_nic_has_its_device_name_and_the_firewall_port_name():
    assert ovs_port_names("kvm", 101, 0) == ("tap101i0", "fwln101o0")
    assert ovs_port_names("lxc", 5001, 3) == ("veth5001i3", "fwln5001o3")
    assert ovs_port_names("host", 101, 0) == ()


def test_the_firewall_port_on_the_ovs_bridge_is_bound_like_the_tap(topology):
    assert proxmox_names(topology) == {
        "tap101i0": Binding("nic", "vm1.0"), "fwln101o0": Binding("nic", "vm1.0"),
        "tap101i1": Binding("nic", "vm1.1"), "fwln101o1": Binding("nic", "vm1.1"),
        "veth102i0": Binding("nic", "ct1.0"), "fwln102o0": Binding("nic", "ct1.0"),
        "veth102i1": Binding("nic", "ct1.1"), "fwln102o1": Binding("nic", "ct1.1"),
    }
    names = {1: "fwln101o0", 2: "fwln102o0", 3: "fwln102o1", 4: "fwln101i1", 5: "fwpr101p1", 6: "fwbr101i1", 7: "fwln101o7"}
    view = SwitchView("vmbr0", topology.bridges["vmbr0"].dpid, {n: Port(n, name) for n, name in names.items()})
    resolved = resolve(topology, view)
    assert {n: nic.id for n, nic in resolved.nics.items()} == {1: "vm1.0", 2: "ct1.0"}
    # ct1's NIC 1 is on vmbr1; the fwbr's own veth, the Linux-bridge peer and the fwbr are never OVS ports of a NIC.
    assert resolved.ignored[3].startswith("bound to nic 'ct1.1', which is not on bridge vmbr0")
    assert {resolved.ignored[n] for n in (4, 5, 6, 7)} == {"no sdnlab binding"}


def test_a_stale_tap_next_to_the_firewall_port_is_one_nic_on_two_ports(topology):
    ports = {3: Port(3, "fwln101o0"), 5: Port(5, "tap101i0")}
    resolved = resolve(topology, SwitchView("vmbr0", topology.bridges["vmbr0"].dpid, ports))
    assert {n: nic.id for n, nic in resolved.nics.items()} == {3: "vm1.0"}
    assert resolved.ignored == {5: "duplicate binding (port 3 already has it)"}


def _port(name, ofport, tag=(), trunks=(), mode=(), ids=None):
    iface = SimpleNamespace(name=name, ofport=[ofport], external_ids=ids or {})
    return SimpleNamespace(name=name, interfaces=[iface], tag=list(tag), trunks=list(trunks), vlan_mode=list(mode))


def test_the_snapshot_reads_each_ports_vlan_columns():
    bond = _port("bond0", 7, trunks=[10, 20])
    bond.interfaces.append(SimpleNamespace(name="eno2", ofport=[8], external_ids={}))
    bridge = SimpleNamespace(datapath_id=["00000000000000aa"], ports=[
        _port("tap101i0", 1, tag=[10]),
        _port("fwln101o1", 2, tag=[20], trunks=[30, 40], mode=["native-untagged"]),
        _port("veth102i0", 3, ids={"sdnlab-nic": "ct1.0"}),
        bond,
        _port("new", -1, tag=[5]),  # no OpenFlow port yet: left out
    ])
    idl = SimpleNamespace(tables={"Bridge": SimpleNamespace(rows={1: bridge, 2: SimpleNamespace(datapath_id=[], ports=[])})})
    assert snapshot(idl) == {0xAA: {
        1: SeenPort("tap101i0", None, VlanSettings(10)),
        2: SeenPort("fwln101o1", None, VlanSettings(20, frozenset({30, 40}), "native-untagged")),
        3: SeenPort("veth102i0", Binding("nic", "ct1.0"), VlanSettings()),
        7: SeenPort("bond0", None, VlanSettings(None, frozenset({10, 20}))),
        8: SeenPort("eno2", None, VlanSettings(None, frozenset({10, 20}))),  # a bond's members share their Port's columns
    }}


def _nic(topology, nic_id):
    return next(n for n in topology.nics() if n.id == nic_id)


def test_columns_that_forward_as_proxmox_writes_them_agree(topology):
    vm10, trunk, untagged = (_nic(topology, i) for i in ("vm1.0", "vm1.1", "ct1.0"))
    assert vlan_disagreement("tap101i0", vm10, VlanSettings(10)) is None
    assert vlan_disagreement("tap101i0", vm10, VlanSettings(10, mode="access")) is None  # the same as OVS's default
    assert vlan_disagreement("tap101i1", trunk, VlanSettings(20, frozenset({30, 40}), "native-untagged")) is None
    # A native VLAN is always trunked, whether `trunks` names it or not.
    assert vlan_disagreement("tap101i1", trunk, VlanSettings(20, frozenset({20, 30, 40}), "native-untagged")) is None
    assert vlan_disagreement("veth102i0", untagged, VlanSettings()) is None


def test_columns_that_disagree_are_described_and_the_file_wins(topology):
    vm10, trunk, untagged = (_nic(topology, i) for i in ("vm1.0", "vm1.1", "ct1.0"))
    assert vlan_disagreement("tap101i0", vm10, VlanSettings(20)) == "port tap101i0: OVSDB tag=20, the file says tag 10; the file wins"
    assert vlan_disagreement("tap101i0", vm10, VlanSettings()) == \
        "port tap101i0: OVSDB no VLAN settings, the file says tag 10; the file wins"
    assert vlan_disagreement("veth102i0", untagged, VlanSettings(10)) == \
        "port veth102i0: OVSDB tag=10, the file says untagged; the file wins"
    # Without vlan_mode, OVS makes a port with a tag an access port and ignores its trunks.
    assert vlan_disagreement("fwln101o1", trunk, VlanSettings(20, frozenset({30, 40}))) == (
        "port fwln101o1: OVSDB tag=20 trunks=30,40, the file says tag 20, trunks 30,40 "
        "(in OVSDB: tag=20 trunks=30,40 vlan_mode=native-untagged); the file wins")
    assert vlan_disagreement("fwln101o1", trunk, VlanSettings(20, frozenset({30}), "native-untagged")) is not None
    assert vlan_disagreement("fwln101o1", trunk, VlanSettings(20, frozenset({30, 40}), "native-tagged")) is not None
    assert vlan_disagreement("fwln101o1", trunk, VlanSettings(20, mode="dot1q-tunnel")) == (
        "port fwln101o1: OVSDB tag=20 vlan_mode=dot1q-tunnel, the file says tag 20, trunks 30,40 "
        "(in OVSDB: tag=20 trunks=30,40 vlan_mode=native-untagged); the file wins")


def test_a_port_sdnlab_built_without_vlan_columns_agrees(topology):
    vm10 = _nic(topology, "vm1.0")
    assert vlan_disagreement("p1", vm10, VlanSettings(), by_proxmox=False) is None  # the pipeline does its VLANs
    assert vlan_disagreement("p1", vm10, VlanSettings(30), by_proxmox=False) == "port p1: OVSDB tag=30, the file says tag 10; the file wins"


def test_disagreements_of_a_bridge_follow_marks_and_proxmox_names(topology):
    ports = {
        1: SeenPort("tap101i0", None, VlanSettings(20)),
        2: SeenPort("fwln101o1", None, VlanSettings(20, frozenset({30, 40}), "native-untagged")),
        3: SeenPort("p3", Binding("nic", "h1.0"), VlanSettings()),  # built by sdnlab, columns left to the pipeline
        4: SeenPort("p4", Binding("nic", "ct1.0"), VlanSettings(40)),
        5: SeenPort("veth102i1", None, VlanSettings(30)),  # ct1.1 is on vmbr1
        6: SeenPort("eno1", None, VlanSettings(99)),  # not bound: not the file's to judge
        7: SeenPort("uplink", Binding("link", "link0"), VlanSettings(10)),  # links are not compared
    }
    assert vlan_disagreements(topology, "vmbr0", ports) == [
        "port tap101i0: OVSDB tag=20, the file says tag 10; the file wins",
        "port p4: OVSDB tag=40, the file says untagged; the file wins",
    ]


def test_the_app_warns_once_per_port_and_settings_and_keeps_the_current_list(make_app, topology, caplog):
    app = make_app(topology)
    dpid = topology.bridges["vmbr0"].dpid
    wrong = {dpid: {1: SeenPort("tap101i0", None, VlanSettings(20))}}
    with caplog.at_level(logging.WARNING, logger="sdnlab.controller"):
        app._ovsdb_changed(wrong)
        app._ovsdb_changed({dpid: {1: SeenPort("tap101i0", None, VlanSettings(20))}, 0xBEEF: {}})
        assert app.vlan_disagreements == ["port tap101i0: OVSDB tag=20, the file says tag 10; the file wins"]
        app._ovsdb_changed({dpid: {1: SeenPort("tap101i0", None, VlanSettings(10))}})
        assert app.vlan_disagreements == []
        app._ovsdb_changed({dpid: {1: SeenPort("tap101i0", None, VlanSettings(30))}})
    warned = [r.getMessage() for r in caplog.records if "the file wins" in r.getMessage()]
    assert warned == ["port tap101i0: OVSDB tag=20, the file says tag 10; the file wins",
                      "port tap101i0: OVSDB tag=30, the file says tag 10; the file wins"]
    assert app.vlan_disagreements == [warned[1]]


def test_a_change_of_vlan_columns_alone_moves_no_port(make_app, topology):
    app = make_app(topology)
    dpid = topology.bridges["vmbr0"].dpid
    app.ports["vmbr0"] = {1: ("tap101i0", True)}  # connected, as OpenFlow reported its ports
    relogged = []
    app._log_bindings = lambda bridge, view, only=None: relogged.append({n: p.binding for n, p in view.ports.items()})
    app._ovsdb_changed({dpid: {1: SeenPort("tap101i0", None, VlanSettings(10))}})
    app._ovsdb_changed({dpid: {1: SeenPort("tap101i0", None, VlanSettings(20))}})  # columns only: nothing to rebind
    app._ovsdb_changed({dpid: {1: SeenPort("tap101i0", Binding("nic", "h1.0"), VlanSettings(20))}})
    # The view binds by name where OVSDB has no mark (as state.resolve does), and a mark wins once it comes.
    assert relogged == [{1: Binding("nic", "vm1.0")}, {1: Binding("nic", "h1.0")}]
