"""The pieces of `sdnlab import pve`, each on a few lines of Proxmox configuration."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sdnlab.check import analyse
from sdnlab.loader import loads
from sdnlab.model import UNTAGGED
from sdnlab.problems import TopologyError
from sdnlab.pve import DirSource, MemorySource, import_snapshot, naming, yamlout
from sdnlab.pve.bridges import WireMap, read_bridges
from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.guestconf import Entry, ct_nic, parse_conf, property_string, read_guest, vm_nic
from sdnlab.pve.interfaces import parse_interfaces
from sdnlab.pve.uplinks import NicPlan, SwitchPort, plan
from sdnlab.pve.vlans import ALL, VlanSet, parse_list

LINUX = "iface eno1 inet manual\n\nauto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eno1\n\tbridge-vlan-aware yes\n"


def snapshot(interfaces: dict[str, str], guests: dict[str, str], extra: dict[str, str] | None = None) -> MemorySource:
    """A snapshot from {node: interfaces text} and {'<node>/qemu-server/100.conf': text}."""
    files = {f"nodes/{node}/etc/network/interfaces": text for node, text in interfaces.items()}
    files |= {f"etc/pve/nodes/{path}": text for path, text in guests.items()}
    for node in interfaces:
        files.setdefault(f"etc/pve/nodes/{node}/.members", "")
    return MemorySource(files | (extra or {}))


def imported(interfaces, guests, pending=False, extra=None):
    result = import_snapshot(snapshot(interfaces, guests, extra), pending=pending, name="t")
    return result, loads(result.text)


def messages(result) -> str:
    return "\n".join(str(w) for w in result.warnings)


# -- VLAN sets ------------------------------------------------------------------

def test_vlan_sets_keep_ranges_and_merge_neighbours():
    s = parse_list("10-20;21;30", ";", True, "trunks")
    assert s.ranges == ((10, 21), (30, 30)) and len(s) == 13 and 21 in s and 22 not in s
    assert (ALL - VlanSet.ids([1, 4094])).ranges == ((2, 4093),)
    assert (s & VlanSet(((15, 30),))).text() == "15-21;30"
    assert VlanSet.ids([5, 6, 9]).text(" ") == "5-6 9"


@pytest.mark.parametrize(("text", "ranges", "message"), [
    ("10-20", False, "'10-20' is not a VLAN id (no ranges here)"),
    ("0", True, "VLAN 0 is not from 1 to 4094"),
    ("20-10", True, "range '20-10' ends before it starts"),
    ("a", True, "'a' is not a VLAN id or a range like 10-20"),
    ("", True, "no VLAN given"),
])
def test_vlan_lists_say_what_is_wrong(text, ranges, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_list(text, ";", ranges, "trunks")


# -- guest configs --------------------------------------------------------------

def test_vm_nic_model_shorthand_and_explicit_keys_are_the_same():
    a = vm_nic(0, Entry("virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1,tag=10,trunks=20-30;40,link_down=1,rate=12.5,queues=4,mtu=1", 3), None)
    b = vm_nic(0, Entry("bridge=vmbr0,model=virtio,macaddr=bc:24:11:2c:69:ec,tag=10,trunks=20-30;40,firewall=on,link_down=yes,rate=12.5", 3), None)
    for nic in (a, b):
        assert (nic.bridge, nic.tag, nic.mac, nic.firewall, nic.link_down) == ("vmbr0", 10, "bc:24:11:2c:69:ec", True, True)
        assert nic.trunk_ids == {40} and nic.trunk_ranges.ranges == ((20, 30),)
    bare = vm_nic(1, Entry("e1000,bridge=vmbr1", 4), Entry("ip=dhcp,ip6=auto", 5))
    assert (bare.mac, bare.ip, bare.index) == (None, None, 1)


@pytest.mark.parametrize(("value", "message"), [
    ("virtio=BC:24:11:2C:69:EC,virtio=BC:24:11:2C:69:ED", "model given twice"),
    ("model=tulip", "model=tulip is not a NIC model"),
    ("bridge=vmbr0,,tag=1", "an empty item between commas"),
    ("bridge=vmbr0,tag", "'tag' needs a value"),
    ("bridge=vmbr0,firewall=2", "firewall=2 is not a boolean"),
    ("bridge=vmbr 0", "bridge=vmbr 0 is not a bridge name"),
    ("bridge=vmbr0,rate=fast", "rate=fast is not a number"),
    ("virtio=BC:24:11:2C:69,bridge=vmbr0", "is not a MAC address"),
])
def test_vm_nic_errors(value, message):
    with pytest.raises(ValueError, match=message):
        vm_nic(0, Entry(value, 1), None)


def test_container_nic():
    nic = ct_nic(2, Entry("name=eth2,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:79:D5:65,ip=10.0.0.5/24,gw=10.0.0.1,ip6=auto,tag=10,trunks=20;30,type=veth,mtu=1500", 7))
    assert (str(nic.ip), nic.tag, nic.trunk_ids, nic.key) == ("10.0.0.5/24", 10, {20, 30}, "net2")
    assert ct_nic(0, Entry("name=eth0,bridge=vmbr0,ip=manual", 1)).ip is None
    with pytest.raises(ValueError, match="type=macvlan is not 'veth'"):
        ct_nic(0, Entry("name=eth0,bridge=vmbr0,type=macvlan", 1))
    with pytest.raises(ValueError, match="unknown key 'macaddr'"):
        ct_nic(0, Entry("name=eth0,macaddr=BC:24:11:79:D5:65", 1))


def test_property_strings_split_on_commas():
    assert property_string("virtio=AA,bridge=vmbr0, tag=5") == [("virtio", "AA"), ("bridge", "vmbr0"), ("tag", "5")]
    assert property_string("e1000") == [("e1000", None)]


CONF = """#description
name: web
net0: virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=10
net1: virtio=BC:24:11:00:00:02,bridge=vmbr0,tag=20
ipconfig7: ip=10.0.0.7/24
name: web2

[PENDING]
net0: virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=30
delete: net1,!ipconfig7

[snap1]
net0: this would be an error in the main section
[special:cloudinit]
ipconfig0: ip=1.2.3.4/24
"""


def test_sections_pending_and_snapshots():
    diag = Diagnostics()
    conf = parse_conf(CONF, "f.conf", "qemu", 100, "pve1", diag)
    assert set(conf.main) == {"name", "net0", "net1", "ipconfig7"} and conf.main["name"].value == "web2"
    assert set(conf.pending) == {"net0"} and conf.pending_delete == {"net1": 10, "ipconfig7": 10}
    assert [str(w) for w in diag.warnings] == ["f.conf:6: name: name is set twice in the main section (line 2 and here); the last one counts, as in Proxmox"]
    assert not diag.errors
    now = read_guest(conf, False, diag)
    assert [(n.index, n.tag) for n in now.nics] == [(0, 10), (1, 20)] and now.name == "web2"
    assert any("pending changes to ipconfig7, net0, net1 are not applied" in str(w) for w in diag.warnings)
    assert any("ipconfig7 has no net7; it is not used" in str(w) for w in diag.warnings)
    later = read_guest(conf, True, Diagnostics())
    assert [(n.index, n.tag) for n in later.nics] == [(0, 30)]


def test_a_bad_line_is_an_error_in_any_section_and_raw_lxc_keys_parse():
    diag = Diagnostics()
    parse_conf("hostname: a\n[snap]\nnot a key\n", "c.conf", "lxc", 101, "pve1", diag)
    assert [str(e) for e in diag.errors] == ["c.conf:3: 'not a key' is not a 'key: value' line"]
    diag = Diagnostics()
    conf = parse_conf("hostname: a\nlxc.net.0.type: veth\nlxc.apparmor.profile = unconfined\n", "c.conf", "lxc", 101, "pve1", diag)
    read_guest(conf, False, diag)
    assert not diag.errors and "raw LXC network keys are not modelled" in str(diag.warnings[0])


# -- /etc/network/interfaces ------------------------------------------------------

def test_interfaces_stanzas_merge_continue_and_warn():
    text = ("auto lo\niface lo inet loopback\n# comment\niface vmbr0 inet static\n\taddress 10.0.0.1/24\n\tbridge_ports eno1 \\\n\t  eno2\n"
            "iface vmbr0 inet6 static\n\taddress fd00::1/64\n\nmapping eth0\n\tscript /x\n\nsource-directory /etc/network/interfaces.d\n")
    diag = Diagnostics()
    ifaces = parse_interfaces(text, "i", diag)
    assert ifaces["vmbr0"].get("bridge-ports") == "eno1 eno2" and ifaces["vmbr0"].options["bridge-ports"].key == "bridge_ports"
    assert ifaces["vmbr0"].get("address") == "fd00::1/64" and ifaces["vmbr0"].line == 4
    assert [w.path for w in diag.warnings] == ["mapping", "source-directory"] and not diag.errors


def test_options_after_auto_are_misplaced():
    diag = Diagnostics()
    parse_interfaces("iface eno1 inet manual\nauto eno1\n\tmtu 9000\niface\n", "i", diag)
    assert [(e.line, e.path) for e in diag.errors] == [(3, "mtu"), (4, "iface")]


def bridges(text: str):
    diag = Diagnostics()
    out = read_bridges(parse_interfaces(text, "i", diag), "pve1", "i", diag)
    return out, diag


@pytest.mark.parametrize(("options", "untagged", "carried", "special"), [
    ("", UNTAGGED, [10, 4094], None),
    ("tag=5", None, [], (5, UNTAGGED)),
    ("trunks=10,20", None, [10, 20], None),
    ("trunks=0,10,20", UNTAGGED, [10, 20], None),
    ("tag=5 vlan_mode=native-untagged trunks=10", None, [10], (5, UNTAGGED)),
    ("tag=5 vlan_mode=native-tagged trunks=10", None, [5, 10], None),
    ("tag=5 vlan_mode=trunk", UNTAGGED, [5, 10], None),
])
def test_ovs_uplink_vlans_follow_ovs(options, untagged, carried, special):
    text = f"iface eno1 inet manual\n\tovs_type OVSPort\n\tovs_bridge vmbr0\n\tovs_options {options}\n\niface vmbr0 inet manual\n\tovs_type OVSBridge\n\tovs_ports eno1\n"
    found, diag = bridges(text)
    wire = found["vmbr0"].uplink
    assert not diag.errors and found["vmbr0"].uplink_port == "eno1"
    assert wire.wire(UNTAGGED) == untagged
    for vid in carried:
        assert wire.wire(vid) == vid
    if special:
        assert wire.wire(special[0]) == special[1]


def test_linux_uplinks():
    found, diag = bridges(LINUX.replace("yes\n", "yes\n\tbridge-vids 2-100\n") + "\niface vmbr1 inet manual\n\tbridge-ports eno2.300\n"
                          "\niface vmbr2 inet manual\n\tbridge-ports bond0 eno3\n\tbridge-vlan-aware yes\n"
                          "iface bond0 inet manual\n\tbond-slaves eno4 eno5\n\tbridge-vids 7\n"
                          "\niface vmbr3 inet manual\n\tbridge-ports regex eno.*\n\niface vmbr4 inet manual\n\tbridge-ports none\n"
                          "\niface vmbr5 inet manual\n\tbridge-ports eno6\n\tbridge-vlan-aware yes\niface eno6\n\tbridge-access 42\n")
    assert found["vmbr0"].uplink == WireMap(VlanSet(((2, 100),)))
    assert found["vmbr1"].uplink.wire(UNTAGGED) == 300 and found["vmbr1"].uplink.wire(300) is None
    assert found["vmbr2"].uplink.wire(7) == 7 and found["vmbr2"].uplink.wire(8) is None  # the port's own bridge-vids
    assert found["vmbr3"].uplink is None and found["vmbr4"].uplink is None and found["vmbr4"].ports == []
    assert [p.kind for p in found["vmbr2"].ports] == ["bond", "nic"]
    assert found["vmbr5"].uplink.wire(42) == UNTAGGED and found["vmbr5"].uplink.wire(UNTAGGED) is None
    text = "\n".join(w.message for w in diag.warnings)
    assert "several physical ports (bond0, eno3)" in text and "'regex' port patterns are not expanded" in text


def test_ovs_port_naming_another_bridge_is_an_error():
    _, diag = bridges("iface eno1 inet manual\n\tovs_type OVSPort\n\tovs_bridge vmbr1\n\niface vmbr0 inet manual\n\tovs_type OVSBridge\n\tovs_ports eno1\n"
                      "\niface vmbr1 inet manual\n\tovs_type OVSBridge\n\niface eno9 inet manual\n\tovs_type OVSIntPort\n")
    assert sorted(e.message for e in diag.errors) == [
        "OVSIntPort eno9 names no bridge (ovs_bridge) and no OVS bridge lists it",
        "port eno1 is listed in the ovs_ports of vmbr0 but names bridge vmbr1"]


# -- names -----------------------------------------------------------------------

def test_node_and_bridge_names():
    nodes = naming.node_names(["pve1", "PVE-Big", "9node", "a" * 40])
    assert nodes == {"pve1": "pve1", "PVE-Big": "pve-big", "9node": "n9node", "a" * 40: "a" * 32}
    names = naming.bridge_names({"pve1": ["vmbr0"], "longnodename": ["vmbr0", "vmbr1000x"]}, {"pve1": "pve1", "longnodename": "longnodename"})
    assert names == {("pve1", "vmbr0"): "pve1-vmbr0", ("longnodename", "vmbr0"): "n1-vmbr0", ("longnodename", "vmbr1000x"): "n1-vmbr1000x"}
    assert naming.bridge_names({"n": ["averylongbridgename"]}, {"n": "n"}) == {("n", "averylongbridgename"): "n1-b1"}


def test_endpoint_names_fall_back_to_the_vmid():
    got = naming.endpoint_names([("qemu", 100, "web"), ("qemu", 101, "Web.example.com"), ("lxc", 102, "db"), ("lxc", 103, "db"),
                                 ("qemu", 104, "ct105"), ("lxc", 105, None), ("qemu", 106, "pve1-vmbr0")], {"pve1-vmbr0"})
    assert {vmid: name for vmid, (name, _) in got.items()} == {100: "web", 101: "vm101", 102: "ct102", 103: "ct103", 104: "vm104", 105: "ct105", 106: "vm106"}
    assert "2 guests are called 'db'" in got[102][1] and "is the name of a bridge" in got[106][1] and got[105][1] is None


def test_yaml_scalars_are_quoted_only_when_yaml_would_change_them():
    assert [yamlout.scalar(v) for v in ("pve1", "no", "52:54:00:12:34:56", "10.0.0.1/24", "a b", 7, True)] == [
        "pve1", '"no"', '"52:54:00:12:34:56"', "10.0.0.1/24", '"a b"', "7", "true"]


# -- the assumed switch ------------------------------------------------------------

def test_links_are_stars_per_segment_and_mismatched_wire_tags_are_reported():
    ports = {b: SwitchPort("vmbr0", (b,), WireMap(ALL)) for b in ("a", "b", "c")}
    ports["d"] = SwitchPort("vmbr0", ("d",), WireMap(VlanSet(), ((10, UNTAGGED),)))  # an access port in VLAN 10
    nics = [NicPlan("e1", "a", 10), NicPlan("e2", "b", 10), NicPlan("e3", "c", 10), NicPlan("e4", "c", None), NicPlan("e5", "d", 10),
            NicPlan("e6", "b", 20), NicPlan("e7", "c", 20)]
    result = plan(nics, ports)
    assert result.declared == [10, 20]
    assert result.links == {("a", "c"): {10}, ("b", "c"): {10, 20}}  # c has the most segments: the hub
    assert result.mismatches == [("vmbr0", UNTAGGED, [(10, ["d"]), (UNTAGGED, ["c"])])]


def test_trunk_ranges_shrink_to_the_vlans_that_matter():
    ports = {b: SwitchPort("vmbr0", (b,), WireMap(ALL)) for b in ("a", "b")}
    nics = [NicPlan("r1", "a", None, trunk_ranges=VlanSet(((2, 4094),))), NicPlan("r2", "b", 5, trunk_ranges=VlanSet(((100, 200),))),
            NicPlan("w", "a", 150), NicPlan("x", "b", 7, trunk_ranges=VlanSet(((300, 400),))), NicPlan("y", "a", 8, trunk_ranges=VlanSet(((350, 360),)))]
    result = plan(nics, ports)
    # 300-349 joins x and r1, 350-360 x, y and r1: the second holds the first, so only 350 stays.
    assert result.declared == [5, 7, 8, 150, 350] and result.kept_range_vlans == [350]
    assert nics[0].segments == {UNTAGGED, 5, 7, 8, 150, 350} and nics[3].segments == {7, 350}
    nics[3].tag = nics[4].tag = None  # now x, y and r1 are untagged: untagged joins them, no range VLAN is needed
    assert plan(nics, ports).declared == [5, 150]


# -- the importer's choices ----------------------------------------------------------

def test_a_plain_bridge_with_tagged_nics_is_modelled_vlan_aware():
    plain = "iface eno1 inet manual\n\nauto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eno1\n\niface vmbr1 inet manual\n\tbridge-ports none\n"
    result, topo = imported({"pve1": plain, "pve2": plain}, {
        "pve1/qemu-server/100.conf": "name: a\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=10\n",
        "pve2/qemu-server/101.conf": "name: b\nnet0: virtio=BC:24:11:00:00:02,bridge=vmbr0,tag=10\nnet1: virtio=BC:24:11:00:00:03,bridge=vmbr1,tag=5\n",
        "pve2/lxc/102.conf": "hostname: c\nnet0: name=eth0,bridge=vmbr1,trunks=5\n",
    })
    assert topo.bridges["pve1-vmbr0"].vlan_aware and not topo.bridges["pve2-vmbr1"].vlan_aware
    assert analyse(topo).reachable() == [("a", "b")] and "c" not in topo.endpoints
    text = messages(result)
    assert "Proxmox puts them on per-VLAN bridges vmbr0v<tag>; modelled as a VLAN-aware bridge" in text
    assert "has no physical port: Proxmox refuses to start the VM (\"no physical interface on bridge\"); NIC left out" in text
    assert "Proxmox refuses to start the container (\"vlan aware feature need to be enabled to use trunks\")" in text


def test_nic_choices_on_vlan_aware_and_ovs_bridges():
    ovs = "iface eno1 inet manual\n\tovs_type OVSPort\n\tovs_bridge vmbr1\n\niface vmbr1 inet manual\n\tovs_type OVSBridge\n\tovs_ports eno1\n"
    result, topo = imported({"pve1": LINUX + "\n" + ovs}, {
        "pve1/qemu-server/100.conf": "name: a\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=1\nnet1: virtio=BC:24:11:00:00:02,bridge=vmbr0,link_down=1\n"
                                     "net2: virtio=BC:24:11:00:00:03,bridge=vmbr1,trunks=7\nnet3: virtio=BC:24:11:00:00:04,bridge=vmbr9\n",
        "pve1/qemu-server/101.conf": "name: b\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\nnet1: virtio=BC:24:11:00:00:05,bridge=vmbr0,trunks=1;7\n",
    })
    a, b = topo.endpoints["a"], topo.endpoints["b"]
    assert [(n.bridge, n.tag, sorted(n.trunks)) for n in a.nics] == [("pve1-vmbr0", None, []), ("pve1-vmbr1", None, [7])]
    assert b.nics[0].mac != "bc:24:11:00:00:01" and sorted(b.nics[1].trunks) == [7]
    text = messages(result)
    for expected in ("tag=1 is the default PVID of VLAN-aware bridge vmbr0", "link_down=1: the NIC is disconnected; left out",
                     "trunks without tag on OVS bridge vmbr1", "bridge vmbr9 is neither a bridge of node pve1 nor an SDN vnet",
                     "MAC bc:24:11:00:00:01 is also the MAC of a net0", "VLAN 1 in trunks is the untagged VLAN (PVID 1) of bridge vmbr0",
                     "NICs are listed in order, so net2 is nics[1] in the file"):
        assert expected in text


def test_running_sdn_config_wins_unless_pending():
    zones = "vlan: z\n\tbridge vmbr0\n\n"
    running = {"zones": {"ids": {"z": {"type": "vlan", "bridge": "vmbr0"}}}, "vnets": {"ids": {"vn": {"type": "vnet", "zone": "z", "tag": 10}}}}
    extra = {"etc/pve/sdn/zones.cfg": zones, "etc/pve/sdn/vnets.cfg": "vnet: vn\n\tzone z\n\ttag 20\n\n",
             "etc/pve/sdn/.running-config": json.dumps(running)}
    guests = {"pve1/qemu-server/100.conf": "name: a\nnet0: virtio=BC:24:11:00:00:01,bridge=vn\n"}
    result, topo = imported({"pve1": LINUX}, guests, extra=extra)
    assert topo.endpoints["a"].nics[0].tag == 10 and "the SDN configuration has changes that were not applied" in messages(result)
    _, topo = imported({"pve1": LINUX}, guests, pending=True, extra=extra)
    assert topo.endpoints["a"].nics[0].tag == 20


def test_vxlan_vnet_tags_may_exceed_4094_and_bad_json_is_an_error():
    extra = {"etc/pve/sdn/zones.cfg": "vxlan: x\n\tpeers 10.0.0.1,10.0.0.2\n\n", "etc/pve/sdn/vnets.cfg": "vnet: vn\n\tzone x\n\ttag 100000\n\n"}
    result, _ = imported({"pve1": LINUX}, {"pve1/qemu-server/100.conf": "name: a\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\n"}, extra=extra)
    assert "zone x (VXLAN tunnels between the nodes) is not modelled" in messages(result)
    with pytest.raises(TopologyError, match="not JSON"):
        imported({"pve1": LINUX}, {}, extra={"etc/pve/sdn/.running-config": "{"})


def test_no_bridges_at_all_is_an_error():
    with pytest.raises(TopologyError, match="no bridges: no node of the snapshot has a Linux or OVS bridge"):
        imported({"pve1": "auto lo\niface lo inet loopback\n"}, {})


def test_a_live_node_is_found_by_its_host_name(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "pve" / "live", root)
    (root / "etc/hostname").unlink()
    assert DirSource(root, hostname="pve2.example.com", live=True).local_node == "pve2"
    with pytest.raises(TopologyError, match="cannot tell which node this is"):
        import_snapshot(DirSource(root, hostname="elsewhere", live=True))
