"""Mutation tests for sdnlab/pve/bridges.py: whole bridges (ports, uplink, wire map) and every message in full.

test_pve_parsers.py checks the bridges of a few interfaces files; here each
helper is pinned on a table of inputs, and read_bridges on whole files down
to the last port, line number and warning.
"""

from __future__ import annotations

import pytest

from sdnlab.model import UNTAGGED
from sdnlab.pve.bridges import (
    DEFAULT_VIDS,
    HostBridge,
    Port,
    WireMap,
    _linux_port_kind,
    _ovs_options,
    _ovs_wire,
    _vlan_of,
    read_bridges,
)
from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.interfaces import parse_interfaces
from sdnlab.pve.vlans import ALL, NONE, VlanSet

U = UNTAGGED


def problems(items):
    return [(p.file, p.line, p.path, p.message) for p in items]


def ifaces_of(text):
    diag = Diagnostics()
    out = parse_interfaces(text, "i", diag)
    assert diag.errors == diag.warnings == []
    return out


def run(text):
    diag = Diagnostics()
    out = read_bridges(ifaces_of(text), "pve1", "i", diag)
    return out, problems(diag.errors), problems(diag.warnings)


def vids(*spans):
    return VlanSet.of(spans)


# -- WireMap.describe ---------------------------------------------------------------

@pytest.mark.parametrize(("wire", "text"), [
    (WireMap(NONE, ()), "nothing"),
    (WireMap(NONE), "untagged"),
    (WireMap(vids((10, 12), (20, 20)), ((U, U), (5, U), (U, 7))), "untagged, 5 as untagged on the wire, untagged as 7 on the wire, VLANs 10-12,20"),
])
def test_wire_map_describe(wire, text):
    assert wire.describe() == text


# -- _linux_port_kind ------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text", "kind"), [
    ("vmbr0", "iface vmbr0\n\tvlan-id 5\n", "bridge"),
    ("eno1", "iface eno1\n\tvlan-raw-device eno2\n", "vlan"),
    ("eno1", "iface eno1\n\tvlan-id 5\n", "vlan"),
    ("eno1.5", "", "vlan"),
    ("bond0", "", "bond"),
    ("bond0", "iface bond0\n", "nic"),
    ("bondx", "", "nic"),
    ("x1", "iface x1\n\tbond-slaves a b\n", "bond"),
    ("x1", "iface x1\n\tbond-mode 802.3ad\n", "bond"),
    ("x1", "iface x1\n\tvxlan-id 5\n", "virtual"),
    ("x1", "iface x1\n\tovs-type OVSPort\n", "virtual"),
    ("x1", "iface x1\n\tlink-type veth\n", "virtual"),
    ("x1", "iface x1\n\tlink-type dummy\n", "virtual"),
    ("x1", "iface x1\n\tlink-type other\n", "nic"),
    ("veth100i0", "", "virtual"),
    ("fwbr100i0", "iface fwbr100i0\n", "virtual"),
    ("eno1", "", "nic"),
])
def test_linux_port_kind(name, text, kind):
    assert _linux_port_kind(name, ifaces_of(text), {"vmbr0": None}) == kind


# -- _vlan_of -------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text", "result"), [
    ("eno1.30", "", ("eno1", 30)),
    ("a.b.30", "", ("a.b", 30)),
    ("v30", "iface v30\n\tvlan-raw-device eno2\n\tvlan-id 30\n", ("eno2", 30)),
    ("eno2.7", "iface eno2.7\n\tvlan-raw-device eno3\n", ("eno3", 7)),
    ("eno2.7", "iface eno2.7\n\tvlan-id 8\n", ("eno2", 8)),
    ("v30", "iface v30\n\tvlan-id 30\n", ("?", 30)),
    ("v30", "iface v30\n\tvlan-raw-device eno2\n", ("eno2", None)),
    ("v30", "", ("?", None)),
    ("eno1.x", "", ("eno1", None)),
])
def test_vlan_of(name, text, result):
    assert _vlan_of(name, ifaces_of(text)) == result


# -- _ovs_options and _ovs_wire ----------------------------------------------------------

@pytest.mark.parametrize(("options", "result", "errors"), [
    (None, (None, None, True, None), []),
    ("tag=5", (5, None, True, None), []),
    ("trunks=0", (None, NONE, True, None), []),
    ("trunks=10-20;30,,0 vlan_mode=access", (None, vids((10, 20), (30, 30)), True, "access"), []),
    ("trunks=10-20;30 vlan_mode=dot1q-tunnel", (None, vids((10, 20), (30, 30)), False, "dot1q-tunnel"), []),
    ("tag=5=6", (None, None, True, None), ["tag '5=6' is not a VLAN id"]),
    ("trunks=1X2", (None, None, False, None), ["trunks: '1X2' is not a VLAN id or a range like 10-20"]),
    ("trunks=5000 vlan_mode=bogus other", (None, None, False, None),
     ["trunks: VLAN 5000 is not from 1 to 4094", "vlan_mode 'bogus' is not access, trunk, native-tagged, native-untagged or dot1q-tunnel"]),
])
def test_ovs_options(options, result, errors):
    text = "iface eno1\n\tovs_type OVSPort\n" + (f"\tovs_options {options}\n" if options else "")
    diag = Diagnostics()
    assert _ovs_options(ifaces_of(text)["eno1"], "f", diag) == result
    assert problems(diag.errors) == [("f", 3, "eno1.ovs_options", e) for e in errors]


@pytest.mark.parametrize(("args", "wire"), [
    ((None, None, True, None), WireMap(ALL)),
    ((None, vids((10, 20)), False, None), WireMap(vids((10, 20)), ())),
    ((None, vids((10, 20)), True, None), WireMap(vids((10, 20)))),
    ((5, None, True, "dot1q-tunnel"), None),
    ((None, None, True, "dot1q-tunnel"), None),
    ((None, None, True, "access"), WireMap(NONE)),
    ((5, vids((7, 7)), False, None), WireMap(NONE, ((5, U),))),
    ((5, vids((7, 7)), False, "trunk"), WireMap(vids((7, 7)), ())),
    ((None, vids((7, 7)), False, "native-untagged"), WireMap(vids((7, 7)), ())),
    ((5, vids((4, 6)), False, "native-untagged"), WireMap(vids((4, 4), (6, 6)), ((5, U),))),
    ((5, vids((7, 7)), False, "native-tagged"), WireMap(vids((5, 5), (7, 7)), ())),
])
def test_ovs_wire(args, wire):
    assert _ovs_wire(*args) == wire


# -- read_bridges: Linux bridges -----------------------------------------------------------

def linux(name, line, ports=(), uplink=None, uplink_port=None, aware=False, vlans=DEFAULT_VIDS):
    return HostBridge(name, "pve1", "linux", "i", line, aware, vlans, list(ports), uplink, uplink_port)


def ovs(name, line, ports=(), uplink=None, uplink_port=None):
    return HostBridge(name, "pve1", "ovs", "i", line, True, NONE, list(ports), uplink, uplink_port)


PVID = "a bridge PVID other than 1 is not modelled: untagged frames are modelled as untagged"
SEVERAL = "several physical ports ({}) are assumed to reach the same switch; modelled as one uplink ({})"

LINUX_CASES = [
    # a VLAN-aware bridge with bridge-vids, a PVID, a NIC, a tap and a second NIC
    ("iface eno1 inet manual\n"  # 1
     "\n"  # 2
     "iface vmbr0 inet static\n"  # 3
     "\tbridge-ports eno1 none tap100i0 eno2\n"  # 4
     "\tbridge-vlan-aware yes\n"  # 5
     "\tbridge-vids 1-100 200\n"  # 6
     "\tbridge-pvid 5\n",  # 7
     [linux("vmbr0", 3, [Port("eno1", "nic", 1), Port("tap100i0", "virtual", None), Port("eno2", "nic", None)],
            WireMap(vids((2, 100), (200, 200))), "eno1", True, vids((1, 100), (200, 200)))],
     [],
     [("i", 7, "vmbr0.bridge-pvid", PVID), ("i", 4, "vmbr0.bridge-ports", SEVERAL.format("eno1, eno2", "eno1"))]),
    # a VLAN interface under a bridge that is not VLAN-aware (it cannot be: its flag is wrong)
    ("iface vmbr1 inet manual\n"  # 1
     "\tbridge-ports eno3.30\n"  # 2
     "\tbridge-vids 10\n"  # 3
     "\tbridge_vlan_aware maybe\n"  # 4
     "\tbridge-pvid 1\n",  # 5
     [linux("vmbr1", 1, [Port("eno3.30", "vlan", None)], WireMap(NONE, ((U, 30),)), "eno3.30", False, vids((10, 10)))],
     [("i", 4, "vmbr1.bridge_vlan_aware", "'maybe' is not yes or no")],
     [("i", 3, "vmbr1.bridge-vids", "bridge-vids on a bridge that is not VLAN-aware has no effect")]),
    # a VLAN interface under a VLAN-aware bridge: QinQ
    ("iface vmbr8 inet manual\n\tbridge-ports eno4.50\n\tbridge-vlan-aware 1\n",
     [linux("vmbr8", 1, [Port("eno4.50", "vlan", None)], WireMap(NONE, ((U, 50),)), "eno4.50", True)],
     [],
     [("i", 2, "vmbr8.bridge-ports", "port eno4.50 is VLAN 50 of eno4: tagged frames leave it double-tagged (QinQ), which is not modelled")]),
    # port patterns
    ("iface vmbr2 inet manual\n\tbridge-ports glob eno*\n",
     [linux("vmbr2", 1)], [], [("i", 2, "vmbr2.bridge-ports", "'glob' port patterns are not expanded; the bridge is modelled without ports")]),
    ("iface vmbr2 inet manual\n\tbridge-ports regex eno.*\n",
     [linux("vmbr2", 1)], [], [("i", 2, "vmbr2.bridge-ports", "'regex' port patterns are not expanded; the bridge is modelled without ports")]),
    # a VLAN of another bridge, and a VLAN interface without a VLAN id
    ("iface vmbr0 inet manual\n"  # 1
     "\tbridge-ports none\n"  # 2
     "\n"  # 3
     "iface vmbr3 inet manual\n"  # 4
     "\tbridge-ports vmbr0.40 eno1\n"  # 5
     "\n"  # 6
     "iface vmbr9 inet manual\n"  # 7
     "\tbridge-ports eno7.abc\n",  # 8
     [linux("vmbr0", 1), linux("vmbr3", 4, [Port("vmbr0.40", "vlan", None), Port("eno1", "nic", None)]),
      linux("vmbr9", 7, [Port("eno7.abc", "vlan", None)])],
     [],
     [("i", 5, "vmbr3.bridge-ports", "port vmbr0.40 is VLAN 40 of bridge vmbr0: the join is not modelled"),
      ("i", 8, "vmbr9.bridge-ports", "port eno7.abc is a VLAN interface: the join is not modelled")]),
    # access ports and port bridge-vids on VLAN-aware bridges, a plain bridge on a NIC
    ("iface vmbr5 inet manual\n"  # 1
     "\tbridge-ports bond0\n"  # 2
     "\tbridge-vlan-aware on\n"  # 3
     "\n"  # 4
     "iface bond0 inet manual\n"  # 5
     "\tbond-slaves eno5 eno6\n"  # 6
     "\tbridge-vids 7 8\n"  # 7
     "\tbridge-access 30\n"  # 8
     "\n"  # 9
     "iface vmbr6 inet manual\n"  # 10
     "\tbridge-ports eno8\n"  # 11
     "\tbridge-vlan-aware yes\n"  # 12
     "\n"  # 13
     "iface eno8 inet manual\n"  # 14
     "\tbridge-vids 1-3,9\n"  # 15
     "\n"  # 16
     "iface vmbr7 inet manual\n"  # 17
     "\tbridge-ports eno9\n"  # 18
     "\tbridge-vlan-aware yes\n"  # 19
     "\n"  # 20
     "iface eno9 inet manual\n"  # 21
     "\tbridge-vids 1X2\n"  # 22
     "\tbridge-access 1\n"  # 23
     "\n"  # 24
     "iface vmbr10 inet manual\n"  # 25
     "\tbridge-ports eno10\n"  # 26
     "\tbridge-vlan-aware yes\n"  # 27
     "\n"  # 28
     "iface eno10 inet manual\n"  # 29
     "\tbridge-access 5000\n"  # 30
     "\n"  # 31
     "iface vmbr11 inet manual\n"  # 32
     "\tbridge-ports eno11\n"  # 33
     "\n"  # 34
     "iface vmbr12 inet manual\n"  # 35
     "\tbridge-ports eno12\n"  # 36
     "\tbridge-vlan-aware yes\n"  # 37
     "\n"  # 38
     "iface eno12 inet manual\n"  # 39
     "\tbridge-vids x\n",  # 40
     [linux("vmbr5", 1, [Port("bond0", "bond", 5)], WireMap(NONE, ((30, U),)), "bond0", True),
      linux("vmbr6", 10, [Port("eno8", "nic", 14)], WireMap(vids((2, 3), (9, 9))), "eno8", True),
      linux("vmbr7", 17, [Port("eno9", "nic", 21)], WireMap(NONE), "eno9", True),
      linux("vmbr10", 25, [Port("eno10", "nic", 29)], None, "eno10", True),
      linux("vmbr11", 32, [Port("eno11", "nic", None)], WireMap(ALL), "eno11"),
      linux("vmbr12", 35, [Port("eno12", "nic", 39)], WireMap(vids((2, 4094))), "eno12", True)],
     [("i", 22, "eno9.bridge-vids", "'1X2' is not a VLAN id or a range like 10-20"),
      ("i", 30, "eno10.bridge-access", "bridge-access 5000 is not from 1 to 4094"),
      ("i", 40, "eno12.bridge-vids", "'x' is not a VLAN id or a range like 10-20")],
     []),
]


@pytest.mark.parametrize(("text", "bridges", "errors", "warnings"), LINUX_CASES)
def test_read_linux_bridges(text, bridges, errors, warnings):
    assert run(text) == ({b.name: b for b in bridges}, errors, warnings)


# -- read_bridges: OVS bridges ------------------------------------------------------------

OVS_CASES = [
    # listed ports: a NIC, a bond, an internal port, and a NIC found by its ovs_bridge
    ("iface vmbr0 inet manual\n"  # 1
     "\tovs_type OVSBridge\n"  # 2
     "\tovs_ports eno1 bond0 int5\n"  # 3
     "\n"  # 4
     "iface eno1 inet manual\n"  # 5
     "\tovs_type OVSPort\n"  # 6
     "\tovs_bridge vmbr0\n"  # 7
     "\tovs_options tag=10 vlan_mode=native-untagged trunks=20,30\n"  # 8
     "\n"  # 9
     "iface bond0 inet manual\n"  # 10
     "\tovs_type OVSBond\n"  # 11
     "\tovs_bridge vmbr0\n"  # 12
     "\tovs_bonds eno2 eno3\n"  # 13
     "\n"  # 14
     "iface int5 inet static\n"  # 15
     "\tovs_type OVSIntPort\n"  # 16
     "\tovs_bridge vmbr0\n"  # 17
     "\tovs_options tag=5000\n"  # 18
     "\n"  # 19
     "iface eno4 inet manual\n"  # 20
     "\tovs_type OVSPort\n"  # 21
     "\tovs_bridge vmbr0\n",  # 22
     [ovs("vmbr0", 1, [Port("eno1", "nic", 5), Port("bond0", "bond", 10), Port("int5", "internal", 15), Port("eno4", "nic", 20)],
          WireMap(vids((20, 20), (30, 30)), ((10, U),)), "eno1")],
     [("i", 18, "int5.ovs_options", "tag 5000 is not from 1 to 4094")],
     [("i", 3, "vmbr0", SEVERAL.format("eno1, bond0, eno4", "eno1"))]),
    # no ovs_ports: a QinQ port left out, then two more
    ("iface vmbr1 inet manual\n"  # 1
     "\tovs_type OVSBridge\n"  # 2
     "\n"  # 3
     "iface eno1 inet manual\n"  # 4
     "\tovs_type OVSPort\n"  # 5
     "\tovs_bridge vmbr1\n"  # 6
     "\tovs_options vlan_mode=dot1q-tunnel tag=5\n"  # 7
     "\n"  # 8
     "iface eno2 inet manual\n"  # 9
     "\tovs_type OVSPort\n"  # 10
     "\tovs_bridge vmbr1\n"  # 11
     "\tovs_options trunks=0,10;20-22 vlan_mode=trunk\n"  # 12
     "\n"  # 13
     "iface eno3 inet manual\n"  # 14
     "\tovs_type OVSPort\n"  # 15
     "\tovs_bridge vmbr1\n"  # 16
     "\tovs_options tag=7 vlan_mode=native-tagged trunks=8\n",  # 17
     [ovs("vmbr1", 1, [Port("eno1", "nic", 4), Port("eno2", "nic", 9), Port("eno3", "nic", 14)],
          WireMap(vids((10, 10), (20, 22))), "eno2")],
     [],
     [("i", 4, "eno1", "vlan_mode=dot1q-tunnel (QinQ) is not modelled; the port is left out"),
      ("i", 1, "vmbr1", SEVERAL.format("eno2, eno3", "eno2"))]),
    # ports without stanzas, a Linux-style port, a bridge, a patch port, ports that name another bridge
    ("iface vmbr2 inet manual\n"  # 1
     "\tovs_type OVSBridge\n"  # 2
     "\tovs_ports eno5 ghost vmbr3 patch1 eno6 bond1 int1 veth1 odd\n"  # 3
     "\n"  # 4
     "iface eno5 inet manual\n"  # 5
     "\tovs_options tag=3\n"  # 6
     "\n"  # 7
     "iface vmbr3 inet manual\n"  # 8
     "\tovs_type OVSBridge\n"  # 9
     "\n"  # 10
     "iface patch1 inet manual\n"  # 11
     "\tovs_type OVSPatchPort\n"  # 12
     "\tovs_options tag=x\n"  # 13
     "\n"  # 14
     "iface eno6 inet manual\n"  # 15
     "\tovs_type OVSPort\n"  # 16
     "\tovs_bridge vmbr3\n"  # 17
     "\n"  # 18
     "iface bond1 inet manual\n"  # 19
     "\tovs_type OVSBond\n"  # 20
     "\tovs_bridge vmbr3\n"  # 21
     "\n"  # 22
     "iface int1 inet manual\n"  # 23
     "\tovs_type OVSIntPort\n"  # 24
     "\tovs_bridge vmbr3\n"  # 25
     "\n"  # 26
     "iface veth1 inet manual\n"  # 27
     "\tlink-type veth\n"  # 28
     "\n"  # 29
     "iface odd inet manual\n"  # 30
     "\tovs_type Foo\n",  # 31
     [ovs("vmbr2", 1, [Port("eno5", "nic", 5), Port("ghost", "nic", None), Port("vmbr3", "bridge", 8), Port("patch1", "virtual", 11),
                       Port("eno6", "nic", 15), Port("bond1", "bond", 19), Port("int1", "internal", 23), Port("veth1", "virtual", 27),
                       Port("odd", "virtual", 30)],
          WireMap(NONE, ((3, U),)), "eno5"),
      ovs("vmbr3", 8, [Port("eno6", "nic", 15), Port("bond1", "bond", 19), Port("int1", "internal", 23)], WireMap(ALL), "eno6")],
     [("i", 31, "odd.ovs_type", "'Foo' is not one of OVSBridge, OVSPort, OVSBond, OVSIntPort, OVSPatchPort"),
      ("i", 13, "patch1.ovs_options", "tag 'x' is not a VLAN id"),
      ("i", 17, "eno6.ovs_bridge", "port eno6 is listed in the ovs_ports of vmbr2 but names bridge vmbr3"),
      ("i", 21, "bond1.ovs_bridge", "port bond1 is listed in the ovs_ports of vmbr2 but names bridge vmbr3"),
      ("i", 25, "int1.ovs_bridge", "port int1 is listed in the ovs_ports of vmbr2 but names bridge vmbr3")],
     [("i", 3, "vmbr2", SEVERAL.format("eno5, ghost, eno6, bond1", "eno5")),
      ("i", 8, "vmbr3", SEVERAL.format("eno6, bond1", "eno6"))]),
]


@pytest.mark.parametrize(("text", "bridges", "errors", "warnings"), OVS_CASES)
def test_read_ovs_bridges(text, bridges, errors, warnings):
    assert run(text) == ({b.name: b for b in bridges}, errors, warnings)
