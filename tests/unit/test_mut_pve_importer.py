"""Mutation tests for sdnlab/pve/importer.py: whole documents, comments and every warning and error in full.

test_pve_parsers.py and test_pve_fixtures.py check that snapshots import with the right
reachability and that some words appear in the warnings; here each small snapshot's
document, header comments and warnings (file, line, key, message) are written out by hand.
"""

from __future__ import annotations

import pytest

from sdnlab.problems import TopologyError
from sdnlab.pve import DirSource, MemorySource, import_snapshot
from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.importer import _topology_name, carried_text, read_snapshot

LINUX = "iface eno1 inet manual\n\nauto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eno1\n\tbridge-vlan-aware yes\n"
M = "<memory>/"
LOOSE = ("can send and receive any VLAN in Proxmox (it adds VLANs 2-4094 to such a port on a VLAN-aware bridge; an OVS port without tag "
         "trunks every VLAN; a plain bridge passes tags): modelled as untagged only, which sdnlab's controller enforces")


def problems(items):
    return [(p.file, p.line, p.path, p.message) for p in items]


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


# -- names, description, header comments, nodes left out -----------------------------

TWO_NODES = {
    "nodes/PVE-Big/etc/network/interfaces": LINUX,
    "nodes/pve1/etc/network/interfaces": LINUX,
    "etc/pve/nodes/PVE-Big/qemu-server/100.conf": "name: Web.example\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=10\n",
    "etc/pve/nodes/pve1/lxc/101.conf": "hostname: Db_1\nnet0: name=eth0,bridge=vmbr0,tag=10,ip=10.0.0.5/24\n",
    "etc/pve/nodes/pve2/qemu-server/102.conf": "name: x\nnet0: virtio=BC:24:11:00:00:03,bridge=vmbr0\n",
    "etc/pve/nodes/pve3/.members": "",
}

BAD_NAME = "is not a valid endpoint name (1-12 characters of a-z, 0-9 and '-', starting with a letter)"


@pytest.mark.parametrize("pending", [True, False])
def test_two_nodes_two_left_out_renamed_and_linked(pending):
    result = import_snapshot(MemorySource(TWO_NODES), pending=pending, name="My Lab")
    doc = result.document
    assert doc == {
        "name": "my-lab",
        "description": "Imported from Proxmox VE: 2 nodes, 2 guests" + (", pending changes applied." if pending else "."),
        "nodes": {"pve-big": {}, "pve1": {}},
        "vlans": {10: {}},
        "bridges": {"n1-vmbr0": {"type": "linux", "node": "pve-big", "vlan_aware": True},
                    "pve1-vmbr0": {"type": "linux", "node": "pve1", "vlan_aware": True}},
        "endpoints": {
            "vm100": {"type": "kvm", "node": "pve-big", "vmid": 100, "nics": [{"bridge": "n1-vmbr0", "tag": 10, "mac": "bc:24:11:00:00:01"}]},
            "ct101": {"type": "lxc", "node": "pve1", "vmid": 101, "nics": [{"bridge": "pve1-vmbr0", "tag": 10, "ip": "10.0.0.5/24"}]},
        },
        "links": [{"between": ["n1-vmbr0", "pve1-vmbr0"], "trunks": [10], "untagged": False}],
    }
    assert result.links == ["n1-vmbr0 -- pve1-vmbr0: VLAN 10"]
    assert comments(result.text) == [
        f"# Imported from a Proxmox VE snapshot by `sdnlab import pve`{' --pending' if pending else ''} (see docs/proxmox.md).",
        "# Bridges are named <node>-<bridge>. Links stand for the physical switch, which the snapshot does not describe:",
        "#   n1-vmbr0 -- pve1-vmbr0: VLAN 10",
    ]
    assert problems(result.warnings) == [
        (M + "etc/pve/nodes/PVE-Big", None, "", "node PVE-Big is called pve-big in the file"),
        (M + "etc/pve/nodes/PVE-Big/qemu-server/100.conf", None, "name", f"'Web.example' {BAD_NAME}; the endpoint is called vm100"),
        (M + "etc/pve/nodes/pve1/lxc/101.conf", None, "hostname", f"'Db_1' {BAD_NAME}; the endpoint is called ct101"),
        (M + "etc/pve/nodes/pve2", None, "",
         "node pve2 has no network configuration in the snapshot (nodes/pve2/etc/network/interfaces); it is left out with its 1 guest"),
        (M + "etc/pve/nodes/pve3", None, "",
         "node pve3 has no network configuration in the snapshot (nodes/pve3/etc/network/interfaces); it is left out with its 0 guests"),
        (M + "nodes/PVE-Big/etc/network/interfaces", 4, "vmbr0",
         "assumed physical link n1-vmbr0 -- pve1-vmbr0 carrying VLAN 10: both bridges are called vmbr0 and have a physical port "
         "(eno1 on PVE-Big, eno1 on pve1); the switch between them is not in the snapshot"),
    ]
    assert result.summary() == "2 nodes, 2 bridges, 2 endpoints, 1 link, 1 VLAN, 6 warnings"


def test_defaults_one_node_no_links_no_name():
    files = {"nodes/pve1/etc/network/interfaces": LINUX, "etc/pve/nodes/pve1/qemu-server/100.conf": "name: a\nnet0: virtio,bridge=vmbr0,tag=5\n"}
    result = import_snapshot(MemorySource(files))  # not pending, named pve
    assert result.document["name"] == "pve"
    assert result.document["description"] == "Imported from Proxmox VE: 1 node, 1 guest."
    assert "links" not in result.document and result.links == []
    assert comments(result.text) == [
        "# Imported from a Proxmox VE snapshot by `sdnlab import pve` (see docs/proxmox.md).",
        "# Bridges are named <node>-<bridge>. Links stand for the physical switch, which the snapshot does not describe:",
        "#   (none)",
    ]
    assert result.warnings == []


def test_no_bridges_is_one_error_on_the_nodes_folder():
    files = {"nodes/pve1/etc/network/interfaces": "auto lo\niface lo inet loopback\n", "etc/pve/nodes/pve1/.members": ""}
    with pytest.raises(TopologyError) as caught:
        import_snapshot(MemorySource(files))
    assert problems(caught.value.problems) == [(M + "nodes", None, "", "no bridges: no node of the snapshot has a Linux or OVS bridge")]


# -- NIC choices -------------------------------------------------------------------

NIC_IFACES = (LINUX + "\niface eno2 inet manual\n\tovs_type OVSPort\n\tovs_bridge vmbr1\n\niface vmbr1 inet manual\n\tovs_type OVSBridge\n\tovs_ports eno2\n"
              "\niface vmbr3 inet manual\n\tbridge-ports none\n")


def test_nic_choices_warnings_in_full():
    files = {
        "nodes/pve1/etc/network/interfaces": NIC_IFACES,
        "etc/pve/nodes/pve1/qemu-server/100.conf": (
            "name: a\nnet0: virtio,bridge=vmbr0,firewall=1,rate=10\nnet1: virtio,bridge=vmbr0,link_down=1\nnet2: virtio\n"
            "net3: virtio,bridge=vmbr3,trunks=5\nnet4: virtio,bridge=vmbr1,trunks=7\nnet5: virtio,bridge=vmbr1\nnet6: virtio,bridge=vmbr0,trunks=1-5\n"),
        "etc/pve/nodes/pve1/lxc/101.conf": "hostname: b\nnet0: name=eth0\n",
        "etc/pve/nodes/pve1/qemu-server/102.conf": "name: c\nnet0: virtio,bridge=vmbr0,tag=2\nnet1: virtio,bridge=vmbr0,trunks=7\nnet2: virtio,bridge=vmbr0,trunks=2-6\n",
    }
    result = import_snapshot(MemorySource(files), name="t")
    doc = result.document
    assert doc["vlans"] == {2: {}, 7: {}}
    assert doc["endpoints"] == {
        "a": {"type": "kvm", "node": "pve1", "vmid": 100, "nics": [
            {"bridge": "pve1-vmbr0"}, {"bridge": "pve1-vmbr1", "trunks": [7]}, {"bridge": "pve1-vmbr1"}, {"bridge": "pve1-vmbr0", "trunks": [2]}]},
        "c": {"type": "kvm", "node": "pve1", "vmid": 102, "nics": [
            {"bridge": "pve1-vmbr0", "tag": 2}, {"bridge": "pve1-vmbr0", "trunks": [7]}, {"bridge": "pve1-vmbr0", "trunks": [2]}]},
    }
    a, b, c = (M + f"etc/pve/nodes/pve1/{p}" for p in ("qemu-server/100.conf", "lxc/101.conf", "qemu-server/102.conf"))
    assert problems(result.warnings) == [
        (b, None, "", "b has no NIC on a bridge of the file; left out"),
        (b, 2, "net0", "no bridge: the NIC is not connected; left out"),
        (a, 2, "", "NICs are listed in order, so net4 is nics[1], net5 is nics[2], net6 is nics[3] in the file"),
        (a, 2, "net0", f"2 untagged NICs without trunks (a net0, a net5) {LOOSE}"),
        (a, 2, "net0", "firewall=1: the Proxmox firewall's rules are not modelled; the NIC is modelled as if they let everything through"),
        (a, 2, "net0", "rate=10: rate limits are not modelled"),
        (a, 3, "net1", "link_down=1: the NIC is disconnected; left out"),
        (a, 4, "net2", "no bridge: user-mode networking (NAT); left out"),
        (a, 5, "net3", 'trunks on bridge vmbr3, which is not VLAN-aware: Proxmox refuses to start the VM ("vlan aware feature need to be enabled '
                       'to use trunks"); NIC left out'),
        (a, 6, "net4", "trunks without tag on OVS bridge vmbr1: Proxmox adds the port with trunks= only, so OVS drops its untagged frames "
                       "(VLAN 0 is not in trunks); the file's NIC is untagged too"),
        (a, 8, "net6", "VLAN 1 in trunks is the untagged VLAN (PVID 1) of bridge vmbr0; not modelled as a trunk VLAN"),
        (a, 8, "net6", "trunks=1-5: only the VLANs that matter for reachability are declared (docs/proxmox.md); in the file this NIC trunks 2"),
        (c, 4, "net2", "trunks=2-6: only the VLANs that matter for reachability are declared (docs/proxmox.md); in the file this NIC trunks 2"),
    ]


PLAIN_IFACES = (LINUX + "\niface vmbr4 inet manual\n\tbridge-ports none\n\tbridge-vlan-aware yes\n"
                "\niface eno3 inet manual\n\niface vmbr2 inet manual\n\tbridge-ports eno3\n"
                "\niface eno4 inet manual\n\niface vmbr5 inet manual\n\tbridge-ports eno4\n"
                "\niface vmbr3 inet manual\n\tbridge-ports none\n")


def test_plain_bridges_loose_untagged_and_shared_addresses():
    files = {
        "nodes/pve1/etc/network/interfaces": PLAIN_IFACES,
        "etc/pve/nodes/pve1/qemu-server/100.conf": (
            "name: a\nnet0: virtio,bridge=vmbr0\nnet1: virtio,bridge=vmbr4\nnet2: virtio,bridge=vmbr2\n"
            "net3: virtio,bridge=vmbr3\nnet4: virtio,bridge=vmbr0,trunks=7\nnet5: virtio,bridge=vmbr2,tag=20\nnet6: virtio,bridge=vmbr2,tag=10\n"),
        "etc/pve/nodes/pve1/lxc/101.conf": ("hostname: b\nnet0: name=eth0,bridge=vmbr5,tag=30,ip=10.0.0.5/24\n"
                                            "net1: name=eth1,bridge=vmbr0,ip=10.0.0.5/16\nnet2: name=eth2,bridge=vmbr0,ip=10.0.0.6/24\n"),
    }
    result = import_snapshot(MemorySource(files), name="t")
    doc = result.document
    assert doc["bridges"] == {
        "pve1-vmbr0": {"type": "linux", "node": "pve1", "vlan_aware": True},
        "pve1-vmbr2": {"type": "linux", "node": "pve1", "vlan_aware": True},
        "pve1-vmbr3": {"type": "linux", "node": "pve1"},
        "pve1-vmbr4": {"type": "linux", "node": "pve1", "vlan_aware": True},
        "pve1-vmbr5": {"type": "linux", "node": "pve1", "vlan_aware": True},
    }
    assert doc["endpoints"]["b"]["nics"] == [{"bridge": "pve1-vmbr5", "tag": 30, "ip": "10.0.0.5/24"}, {"bridge": "pve1-vmbr0"},
                                             {"bridge": "pve1-vmbr0", "ip": "10.0.0.6/24"}]
    i = M + "nodes/pve1/etc/network/interfaces"
    assert problems(result.warnings) == [
        (M + "etc/pve/nodes/pve1/lxc/101.conf", 3, "net1", "address 10.0.0.5 is also the address of b net0; left out here"),
        (M + "etc/pve/nodes/pve1/qemu-server/100.conf", 2, "net0",
         f"5 untagged NICs without trunks (a net0, a net1, a net2, b net1, b net2) {LOOSE}"),
        (i, 14, "vmbr2", "bridge vmbr2 of node pve1 is not VLAN-aware, but NICs on it are tagged (10, 20): Proxmox puts them on per-VLAN "
                         "bridges vmbr2v<tag>; modelled as a VLAN-aware bridge"),
        (i, 19, "vmbr5", "bridge vmbr5 of node pve1 is not VLAN-aware, but NICs on it are tagged (30): Proxmox puts them on per-VLAN "
                         "bridges vmbr5v<tag>; modelled as a VLAN-aware bridge"),
    ]


@pytest.mark.parametrize(("count", "shown"), [
    (1, "1 untagged NIC without trunks (a net0)"),
    (6, "6 untagged NICs without trunks (a net0, a net1, a net2, a net3, a net4 and 1 more)"),
    (7, "7 untagged NICs without trunks (a net0, a net1, a net2, a net3, a net4 and 2 more)"),
])
def test_loose_untagged_names_five_and_counts_the_rest(count, shown):
    conf = "name: a\n" + "".join(f"net{k}: virtio,bridge=vmbr0\n" for k in range(count))
    result = import_snapshot(MemorySource({"nodes/pve1/etc/network/interfaces": LINUX, "etc/pve/nodes/pve1/qemu-server/100.conf": conf}))
    assert problems(result.warnings) == [(M + "etc/pve/nodes/pve1/qemu-server/100.conf", 2, "net0", f"{shown} {LOOSE}")]


# -- SDN vnets and VLAN names ------------------------------------------------------------

ZONES = ("vlan: z1\n\tbridge vmbr3\n\nvlan: z2\n\tbridge vmbr0\n\tnodes pve2\n\nvlan: z3\n\tbridge vmbr9\n\nvxlan: x\n\tpeers 10.0.0.1\n\n"
         "qinq: q\n\tbridge vmbr0\n\ttag 100\n\n")
VNETS = ("vnet: v1\n\tzone z1\n\ttag 10\n\talias Blue\n\nvnet: v2\n\tzone z2\n\ttag 20\n\nvnet: v3\n\tzone z3\n\ttag 30\n\n"
         "vnet: v4\n\tzone z2\n\ttag 10\n\nvnet: vx\n\tzone x\n\ttag 10\n\nvnet: vq\n\tzone q\n\ttag 10\n\n")  # vq: no VLAN name


def test_vnets_on_nodes_and_bridges_and_vlan_names():
    files = {
        "nodes/pve1/etc/network/interfaces": LINUX + "\niface vmbr3 inet manual\n\tbridge-ports none\n",
        "nodes/pve2/etc/network/interfaces": LINUX,
        "etc/pve/sdn/zones.cfg": ZONES, "etc/pve/sdn/vnets.cfg": VNETS,
        "etc/pve/nodes/pve1/qemu-server/100.conf": ("name: a\nnet0: virtio,bridge=v1\nnet1: virtio,bridge=v1,tag=5\nnet2: virtio,bridge=v2\n"
                                                    "net3: virtio,bridge=v3\nnet4: virtio,bridge=v1,trunks=7\nnet5: virtio,bridge=vx\n"
                                                    "net6: virtio,bridge=vmbr0,tag=40\n"),
        "etc/pve/nodes/pve2/qemu-server/101.conf": "name: b\nnet0: virtio,bridge=v2\n",
    }
    result = import_snapshot(MemorySource(files), name="t")
    doc = result.document
    assert doc["vlans"] == {10: {"name": "Blue/v4"}, 20: {"name": "v2"}, 40: {}}
    assert doc["bridges"]["pve1-vmbr3"] == {"type": "linux", "node": "pve1", "vlan_aware": True}
    assert doc["endpoints"]["a"]["nics"] == [{"bridge": "pve1-vmbr3", "tag": 10}] * 3 + [{"bridge": "pve1-vmbr0", "tag": 40}]
    assert doc["endpoints"]["b"]["nics"] == [{"bridge": "pve2-vmbr0", "tag": 20}]
    a = M + "etc/pve/nodes/pve1/qemu-server/100.conf"
    assert problems(result.warnings) == [
        (a, 2, "", "NICs are listed in order, so net4 is nics[2], net6 is nics[3] in the file"),
        (a, 3, "net1", "tag=5 inside vnet v1 (VLAN 10) is double tagging (QinQ), which is not modelled; modelled in VLAN 10"),
        (a, 4, "net2", "zone z2 of vnet v2 does not include node pve1; NIC left out"),
        (a, 5, "net3", "bridge vmbr9 of zone z3 (vnet v3) is not a bridge of node pve1; NIC left out"),
        (a, 6, "net4", "trunks inside vnet v1 are not modelled; left out"),
        (a, 7, "net5", "vnet vx is in vxlan zone x, which is not modelled; NIC left out"),
        (M + "etc/pve/sdn/zones.cfg", 11, "x", "zone x (VXLAN tunnels between the nodes) is not modelled; NICs on its vnets are left out"),
        (M + "etc/pve/sdn/zones.cfg", 14, "q", "zone q (QinQ: a service VLAN around the vnet tags) is not modelled; NICs on its vnets are left out"),
        (M + "nodes/pve1/etc/network/interfaces", 8, "vmbr3", "bridge vmbr3 of node pve1 is not VLAN-aware, but NICs on it are tagged (10): "
                                                              "Proxmox puts them on per-VLAN bridges vmbr3v<tag>; modelled as a VLAN-aware bridge"),
    ]


# -- the assumed switch -----------------------------------------------------------------

def test_access_ports_that_join_different_segments_are_reported_on_the_first_bridge():
    access = LINUX.replace("iface eno1 inet manual\n", "iface eno1 inet manual\n\tbridge-access 42\n")
    files = {
        "nodes/pve1/etc/network/interfaces": LINUX,
        "nodes/pve2/etc/network/interfaces": access,
        "nodes/pve3/etc/network/interfaces": access,
        "etc/pve/nodes/pve1/qemu-server/100.conf": "name: a\nnet0: virtio,bridge=vmbr0\n",
        "etc/pve/nodes/pve2/qemu-server/101.conf": "name: b\nnet0: virtio,bridge=vmbr0,tag=42\n",
        "etc/pve/nodes/pve3/qemu-server/102.conf": "name: c\nnet0: virtio,bridge=vmbr0,tag=42\n",
    }
    result = import_snapshot(MemorySource(files), name="t")
    assert result.document["links"] == [{"between": ["pve2-vmbr0", "pve3-vmbr0"], "trunks": [42], "untagged": False}]
    assert result.links == ["pve2-vmbr0 -- pve3-vmbr0: VLAN 42"]
    assert problems(result.warnings) == [
        (M + "etc/pve/nodes/pve1/qemu-server/100.conf", 2, "net0", f"1 untagged NIC without trunks (a net0) {LOOSE}"),
        (M + "nodes/pve2/etc/network/interfaces", 5, "vmbr0",
         "assumed physical link pve2-vmbr0 -- pve3-vmbr0 carrying VLAN 42: both bridges are called vmbr0 and have a physical port "
         "(eno1 on pve2, eno1 on pve3); the switch between them is not in the snapshot"),
        (M + "nodes/pve2/etc/network/interfaces", 5, "vmbr0",
         "on the switch of the vmbr0 bridges, wire segment untagged is VLAN 42 on pve2-vmbr0, pve3-vmbr0; untagged on pve1-vmbr0: "
         "joining different segments is not modelled"),
    ]


def test_carried_text():
    assert carried_text(set()) == "nothing"
    assert carried_text({"untagged", 20, 10}) == "untagged and VLANs 10, 20"
    assert carried_text({10}) == "VLAN 10"


@pytest.mark.parametrize(("hint", "name"), [
    ("My Lab!", "my-lab"),
    ("--x--", "x"),
    ("a1", "a1"),
    ("9lab", "pve-9lab"),
    ("!!!", "pve"),
    ("", "pve"),
    ("a" * 31 + "-" + "b" * 8, "a" * 31),
    ("b" * 40, "b" * 32),
])
def test_topology_names(hint, name):
    assert _topology_name(hint) == name


# -- reading the snapshot ------------------------------------------------------------------

def test_a_live_root_without_nodes(tmp_path):
    with pytest.raises(TopologyError) as caught:
        import_snapshot(DirSource(tmp_path, live=True))
    assert problems(caught.value.problems) == [
        (f"{tmp_path}/etc/pve/nodes", None, "", "no nodes here: this machine is not a Proxmox VE node (or /etc/pve is not mounted)")]


def test_a_live_root_that_is_none_of_its_nodes(tmp_path):
    (tmp_path / "etc/pve/nodes/pve1").mkdir(parents=True)
    with pytest.raises(TopologyError) as caught:
        import_snapshot(DirSource(tmp_path, hostname="elsewhere", live=True))
    assert problems(caught.value.problems) == [
        (f"{tmp_path}/etc/pve/nodes", None, "", "cannot tell which node this is: the host name is none of the nodes here")]


def test_guest_files_badly_named_duplicated_and_the_largest_vmid():
    files = {
        "nodes/pve1/etc/network/interfaces": LINUX,
        "etc/pve/nodes/pve1/qemu-server/0x.conf": "name: z\n",
        "etc/pve/nodes/pve1/qemu-server/100.conf": "name: a\n",
        "etc/pve/nodes/pve1/lxc/100.conf": "hostname: b\n",
        "etc/pve/nodes/pve1/lxc/101.conf": "hostname: c\n",
        "etc/pve/nodes/pve1/lxc/999999999.conf": "hostname: d\n",
    }
    diag = Diagnostics()
    snap = read_snapshot(MemorySource(files), False, diag)
    assert [(g.vmid, g.kind, g.name) for g in snap.guests] == [(100, "qemu", "a"), (101, "lxc", "c"), (999999999, "lxc", "d")]
    assert snap.nodes == ["pve1"] and sorted(snap.bridges["pve1"]) == ["vmbr0"]
    assert problems(diag.errors) == [(M + "etc/pve/nodes/pve1/lxc/100.conf", None, "",
                                      f"vmid 100 is also {M}etc/pve/nodes/pve1/qemu-server/100.conf; a vmid is unique in a cluster")]
    assert problems(diag.warnings) == [(M + "etc/pve/nodes/pve1/qemu-server/0x.conf", None, "", "not named <vmid>.conf; not read")]


def test_unreadable_files_are_errors_and_the_rest_is_read(tmp_path):
    (tmp_path / "etc/pve/nodes/pve1/qemu-server/100.conf").mkdir(parents=True)
    (tmp_path / "etc/pve/nodes/pve1/qemu-server/101.conf").write_text("name: a\nnet0: virtio,bridge=vmbr0\n")
    (tmp_path / "etc/pve/nodes/pve2").mkdir(parents=True)
    (tmp_path / "etc/pve/sdn").write_text("")  # a file where the SDN folder would be: no SDN
    (tmp_path / "nodes/pve1/etc/network/interfaces").mkdir(parents=True)
    (tmp_path / "nodes/pve2/etc/network/interfaces.new").mkdir(parents=True)
    (tmp_path / "nodes/pve2/etc/network/interfaces").write_text(LINUX)
    diag = Diagnostics()
    snap = read_snapshot(DirSource(tmp_path), False, diag)
    assert [g.vmid for g in snap.guests] == [101]
    assert snap.bridges["pve1"] is None and sorted(snap.bridges["pve2"]) == ["vmbr0"]
    assert snap.sdn.zones == {} and snap.sdn.vnets == {}
    assert problems(diag.errors) == [
        (f"{tmp_path}/nodes/pve1/etc/network/interfaces", None, "", "is a directory, not a file"),  # every node's network first
        (f"{tmp_path}/nodes/pve2/etc/network/interfaces.new", None, "", "is a directory, not a file"),
        (f"{tmp_path}/etc/pve/nodes/pve1/qemu-server/100.conf", None, "", "is a directory, not a file"),
    ]
    assert diag.warnings == []


@pytest.mark.parametrize("pending", [False, True])
def test_pending_interfaces(pending):
    files = {"nodes/pve1/etc/network/interfaces": LINUX,
             "nodes/pve1/etc/network/interfaces.new": LINUX.replace("vmbr0", "vmbr7"), "etc/pve/nodes/pve1/.members": ""}
    diag = Diagnostics()
    snap = read_snapshot(MemorySource(files), pending, diag)
    assert sorted(snap.bridges["pve1"]) == (["vmbr7"] if pending else ["vmbr0"])
    assert snap.bridges["pve1"]["vmbr7" if pending else "vmbr0"].node == "pve1"
    assert problems(diag.warnings) == ([] if pending else [
        (M + "nodes/pve1/etc/network/interfaces.new", None, "", "pending network changes are not applied (import with --pending to use them)")])
    assert diag.errors == []
