"""A VLAN-aware Linux bridge's stand-in: each port's 802.1Q settings, as Proxmox sets them on OVS ports."""

from __future__ import annotations

from controller.state import PortPlan
from host import standin
from host.standin import PortVlan
from sdnlab import load
from sdnlab.loader import loads
from tests.conftest import TOPOLOGIES


def vlans_by_binding(topology, bridge: str) -> dict[str, PortVlan]:
    plan = PortPlan(topology)
    return {binding.id: vlan for number, vlan in standin.port_vlans(topology, plan[bridge]).items()
            for binding in [plan[bridge][number]]}


def test_the_bundled_vlan_aware_bridge_gets_access_ports_and_a_native_untagged_uplink():
    topology = load(TOPOLOGIES / "vlan-aware.yaml")
    assert standin.stood_in(topology.bridges["vmbr0"]) and not standin.stood_in(topology.bridges["vmbr1"])
    assert vlans_by_binding(topology, "vmbr0") == {
        "web1.0": PortVlan("access", 10),
        "db1.0": PortVlan("access", 20),
        "mgmt1.0": PortVlan("access", 1),  # untagged rides VLAN 1, the Linux bridge's default PVID
        "uplink": PortVlan("native-untagged", 1, (1, 10, 20)),
    }
    assert str(PortVlan("native-untagged", 1, (1, 10, 20))) == "vlan_mode=native-untagged tag=1 trunks=1,10,20"


def test_untagged_moves_off_vlan_1_when_the_file_uses_it_and_a_port_carrying_nothing_gets_a_vlan_of_its_own():
    topology = loads("""
name: t
vlans: {1: {}, 2: {}, 30: {}}
bridges: {lb: {type: linux, vlan_aware: true}, ov: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: lb, tag: 1}]}
  b: {type: host, nics: [{bridge: lb}]}
  r: {type: kvm, vmid: 100, nics: [{bridge: lb, trunks: [2, 30]}, {bridge: lb, tag: 2, trunks: [30]}]}
links:
  - {name: tagged-only, between: [lb, ov], trunks: [30], untagged: false}
  - {name: nothing, between: [lb, ov], trunks: [], untagged: false}
""")
    assert standin.reserved_vids(topology) == (3, 4094)
    assert vlans_by_binding(topology, "lb") == {
        "a.0": PortVlan("access", 1),
        "b.0": PortVlan("access", 3),
        "r.0": PortVlan("native-untagged", 3, (2, 3, 30)),  # a trunk NIC without tag is untagged too
        "r.1": PortVlan("native-untagged", 2, (2, 30)),
        "tagged-only": PortVlan("trunk", None, (30,)),
        "nothing": PortVlan("access", 4094),  # never an OVS port with no tag and no trunks: that carries every VLAN
    }


def test_columns_are_what_ovsdb_takes():
    assert PortVlan("access", 10).columns() == [("vlan_mode", "access"), ("tag", 10), ("trunks", [])]
    assert PortVlan("trunk", None, (30,)).columns() == [("vlan_mode", "trunk"), ("tag", []), ("trunks", [30])]


def test_the_note_says_how_they_are_built_only_when_there_are_any():
    assert standin.note(load(TOPOLOGIES / "two-nodes.yaml")) is None
    said = standin.note(load(TOPOLOGIES / "vlan-aware.yaml"))
    assert said.startswith("VLAN-aware Linux bridge vmbr0: built as standalone OVS bridges") and "untagged frames ride VLAN 1" in said


def test_ovsdb_json_values_are_read_as_ovs_vsctl_writes_them():
    from host.verify import _ovs_value

    assert _ovs_value(["set", []]) == [] and _ovs_value(["set", [10, 20]]) == [10, 20]
    assert _ovs_value(10) == 10 and _ovs_value("access") == "access"
