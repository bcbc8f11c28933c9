"""Mutation tests for sdnlab/pve/guestconf.py (with naming.py, vlans.parse_tag): every error and warning in full.

test_pve_parsers.py checks that guest configs parse; here each file, line,
key and message the guest reader reports is written out as a person reads it
(pve-formats.md: `key: value` lines from the first column, `[PENDING]` with its
`delete:`, snapshot sections read for syntax only, NICs net0 to net31).
"""

from __future__ import annotations

from ipaddress import IPv4Interface

import pytest

from sdnlab.pve import naming
from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.guestconf import VM_MODELS, VM_NIC_KEYS, Entry, _props, ct_nic, parse_conf, property_string, read_guest, vm_nic
from sdnlab.pve.vlans import VlanSet, parse_tag


def problems(items):
    return [(p.file, p.line, p.path, p.message) for p in items]


def error_of(call, *args) -> str:
    with pytest.raises(ValueError) as info:
        call(*args)
    return str(info.value)


NOT_KV = "is not a 'key: value' line"
FORTY = "abcdefghij" * 4
FORTY_ONE = FORTY + "k"

CONF = "\n".join([
    "# a VM",  # 1
    "name: web",  # 2
    " onboot: 1",  # 3: not from the first column
    "net0: virtio=BC:24:11:00:00:01,bridge=vmbr0",  # 4
    "lxc.apparmor.profile = unconfined",  # 5: a raw LXC key, in a VM
    FORTY,  # 6
    FORTY_ONE,  # 7
    "[PENDING]",  # 8
    "net0: virtio=BC:24:11:00:00:01,bridge=vmbr1",  # 9
    "delete: net1, !ipconfig1",  # 10
    "net2: e1000,bridge=vmbr0",  # 11
    "net0: virtio=BC:24:11:00:00:01,bridge=vmbr2",  # 12
    "[PENDING]",  # 13
    "net3: e1000,bridge=vmbr0",  # 14
    "[snap1]",  # 15
    "net0: e1000",  # 16
    "not a key either",  # 17
    "",
])


def test_a_conf_with_every_kind_of_line():
    diag = Diagnostics()
    conf = parse_conf(CONF, "100.conf", "qemu", 100, "pve1", diag)
    assert conf.main == {"name": Entry("web", 2), "net0": Entry("virtio=BC:24:11:00:00:01,bridge=vmbr0", 4)}
    assert conf.pending == {
        "net0": Entry("virtio=BC:24:11:00:00:01,bridge=vmbr2", 12),
        "net2": Entry("e1000,bridge=vmbr0", 11),
        "net3": Entry("e1000,bridge=vmbr0", 14),
    }
    assert conf.pending_delete == {"net1": 10, "ipconfig1": 10}
    assert problems(diag.errors) == [
        ("100.conf", 3, "", f"'onboot: 1' {NOT_KV}"),
        ("100.conf", 5, "", f"'lxc.apparmor.profile = unconfined' {NOT_KV}"),
        ("100.conf", 6, "", f"'abcdefghijabcdefghijabcdefghijabcdefghij' {NOT_KV}"),
        ("100.conf", 7, "", f"'abcdefghijabcdefghijabcdefghijabcdefg...' {NOT_KV}"),
        ("100.conf", 13, "PENDING", "a second [PENDING] section"),
        ("100.conf", 17, "", f"'not a key either' {NOT_KV}"),
    ]
    assert problems(diag.warnings) == [
        ("100.conf", 12, "net0", "net0 is set twice in [PENDING] (line 9 and here); the last one counts, as in Proxmox"),
    ]
    diag = Diagnostics()
    guest = read_guest(conf, False, diag)
    assert (guest.name, [(n.index, n.line, n.bridge) for n in guest.nics]) == ("web", [(0, 4, "vmbr0")])
    assert problems(diag.errors) == []
    assert problems(diag.warnings) == [
        ("100.conf", 10, "[PENDING]", "pending changes to ipconfig1, net0, net1, net2, net3 are not applied (import with --pending to apply them)"),
    ]
    guest = read_guest(conf, True, Diagnostics())
    assert [(n.index, n.line, n.bridge) for n in guest.nics] == [(0, 12, "vmbr2"), (2, 11, "vmbr0"), (3, 14, "vmbr0")]


def test_a_pending_warning_is_on_the_first_pending_line():
    diag = Diagnostics()
    conf = parse_conf("name: a\nnet0: e1000,bridge=vmbr0\n[PENDING]\nmemory: 512\nnet0: e1000,bridge=vmbr1\n", "f", "qemu", 100, "n", diag)
    read_guest(conf, False, diag)
    assert problems(diag.warnings) == [
        ("f", 5, "[PENDING]", "pending changes to net0 are not applied (import with --pending to apply them)"),
    ]


def test_delete_keeps_what_it_names_but_a_leading_bang():
    conf = parse_conf("name: a\n[PENDING]\ndelete: !vga,Xnet0,,!!net1\n", "f", "qemu", 100, "n", Diagnostics())
    assert conf.pending_delete == {"vga": 3, "Xnet0": 3, "net1": 3}


def test_raw_lxc_keys_start_in_the_first_column():
    diag = Diagnostics()
    conf = parse_conf("hostname: c1\n  lxc.net.0.type: veth\nlxc.net.0.link: vmbr0\n", "101.conf", "lxc", 101, "pve1", diag)
    assert problems(diag.errors) == [("101.conf", 2, "", f"'lxc.net.0.type: veth' {NOT_KV}")]
    diag = Diagnostics()
    guest = read_guest(conf, False, diag)
    assert guest.name == "c1" and guest.nics == []
    assert problems(diag.warnings) == [("101.conf", 3, "lxc.net.0.link", "raw LXC network keys are not modelled")]


def test_a_guest_without_its_name_key_has_no_name():
    vm = parse_conf("hostname: h\nnet0: e1000,bridge=vmbr0\n", "f", "qemu", 100, "n", Diagnostics())
    ct = parse_conf("name: n\nnet0: name=eth0,bridge=vmbr0\n", "f", "lxc", 101, "n", Diagnostics())
    assert read_guest(vm, False, Diagnostics()).name is None
    assert read_guest(ct, False, Diagnostics()).name is None


def test_nic_errors_come_in_key_order_with_their_lines():
    text = (
        "net10: e1000,bridge=vmbr0,tag=0\n"  # 1
        "net2: e1000,bridge=vmbr0,tag=x\n"  # 2
        "net40: e1000,bridge=vmbr0\n"  # 3
        "net32: e1000,bridge=vmbr0\n"  # 4
        "net31: e1000,bridge=vmbr0\n"  # 5
        "net1: e1000,bridge=vmbr0\n"  # 6
        "ipconfig1: ip=10.0.0.2\n"  # 7
        "ipconfig5: ip=10.0.0.5/24\n"  # 8
        "net3: e1000,bridge=vmbr0\n"  # 9
        "ipconfig3: ip=dhcp,gw=10.0.0.1\n"  # 10
    )
    diag = Diagnostics()
    guest = read_guest(parse_conf(text, "100.conf", "qemu", 100, "pve1", diag), False, diag)
    assert [(n.index, n.line) for n in guest.nics] == [(3, 9), (31, 5)]
    assert problems(diag.errors) == [
        ("100.conf", 7, "ipconfig1", "ip=10.0.0.2 is not an IPv4 address with a prefix (like 10.0.0.2/24), 'dhcp'"),
        ("100.conf", 2, "net2", "tag 'x' is not a VLAN id"),
        ("100.conf", 1, "net10", "tag 0 is not from 1 to 4094"),
        ("100.conf", 4, "net32", "NICs are net0 to net31"),
        ("100.conf", 3, "net40", "NICs are net0 to net31"),
    ]
    assert problems(diag.warnings) == [("100.conf", 8, "ipconfig5", "ipconfig5 has no net5; it is not used")]


# -- NIC property strings -------------------------------------------------------

def test_property_string_splits_on_the_first_equals_sign():
    assert property_string("bridge=a=b, x") == [("bridge", "a=b"), ("x", None)]
    assert error_of(property_string, "bridge=vmbr0,") == "an empty item between commas"


def test_props_turn_the_model_shorthand_into_model_and_macaddr():
    aliases = {m: m for m in VM_MODELS}
    assert _props("bridge=vmbr0,virtio=BC:24:11:2C:69:EC", VM_NIC_KEYS, "net0", aliases) == {
        "bridge": "vmbr0", "model": "virtio", "macaddr": "BC:24:11:2C:69:EC"}
    assert _props("e1000,bridge=vmbr0", VM_NIC_KEYS, "net0", aliases) == {"model": "e1000", "bridge": "vmbr0"}


def test_a_vm_nic_in_full():
    nic = vm_nic(4, Entry("e1000,bridge=vmbr1,tag=4094,trunks=1-4094", 7), Entry("ip=10.0.0.2/24,gw=10.0.0.1,ip6=fd00::2/64,gw6=fd00::1", 8))
    assert (nic.index, nic.line, nic.bridge, nic.tag, nic.mac, nic.ip) == (4, 7, "vmbr1", 4094, None, IPv4Interface("10.0.0.2/24"))
    assert nic.trunk_ranges == VlanSet(((1, 4094),)) and nic.trunk_ids == frozenset()
    for ip6 in ("dhcp", "auto", "manual"):
        assert vm_nic(0, Entry("e1000,bridge=vmbr0", 1), Entry(f"ip6={ip6}", 2)).ip is None


@pytest.mark.parametrize(("value", "ipconfig", "message"), [
    ("bridge=vmbr0,tag=x", None, "net0: tag 'x' is not a VLAN id"),
    ("bridge=vmbr0,mtu=15x", None, "net0: mtu=15x is not a whole number"),
    ("bridge=vmbr0,queues=four", None, "net0: queues=four is not a whole number"),
    ("bridge=vmbr0,firewall=2", None, "net0: firewall=2 is not a boolean (0 or 1)"),
    ("bridge=vmbr0,link_down=maybe", None, "net0: link_down=maybe is not a boolean (0 or 1)"),
    ("virtio=BC:24:11:2C:69,bridge=vmbr0", None, "net0: macaddr=BC:24:11:2C:69 is not a MAC address like BC:24:11:2C:69:EC"),
    ("bridge=vmbr0,colour=red", None, "net0: unknown key 'colour'"),
    ("bridge=vmbr0,abcdefghijabcdefghijabcdefghijx=1", None, "net0: unknown key 'abcdefghijabcdefghijabcdefg...'"),
    ("bridge=vmbr0,trunks=10X20", None, "net0: trunks: '10X20' is not a VLAN id or a range like 10-20"),
    ("bridge=vmbr0", "ip=10.0.0.2", "ipconfig0: ip=10.0.0.2 is not an IPv4 address with a prefix (like 10.0.0.2/24), 'dhcp'"),
    ("bridge=vmbr0", "ip=dhcp,mask=24", "ipconfig0: unknown key 'mask'"),
    ("bridge=vmbr0", "ip=dhcp,ip6=fd00::2/129", "ipconfig0: ip6=fd00::2/129 is not an IPv6 address with a prefix, dhcp or auto"),
    ("bridge=vmbr0", "ip=dhcp,gw=10.0.0.256", "ipconfig0: gw=10.0.0.256 is not an IP address"),
    ("bridge=vmbr0", "ip6=dhcp,gw6=fd00::1::2", "ipconfig0: gw6=fd00::1::2 is not an IP address"),
])
def test_vm_nic_messages_in_full(value, ipconfig, message):
    assert error_of(vm_nic, 0, Entry(value, 1), Entry(ipconfig, 2) if ipconfig else None) == message


def test_a_container_nic_in_full():
    nic = ct_nic(3, Entry("name=eth3,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1,ip6=fd00::5/64,gw6=fd00::1,hwaddr=BC:24:11:79:D5:65", 9))
    assert (nic.index, nic.line, nic.mac, nic.ip) == (3, 9, "bc:24:11:79:d5:65", IPv4Interface("10.0.0.5/24"))
    for ip6 in ("dhcp", "auto", "manual"):
        assert ct_nic(0, Entry(f"name=eth0,bridge=vmbr0,ip6={ip6}", 1)).ip is None


@pytest.mark.parametrize(("value", "message"), [
    ("name=eth/0,bridge=vmbr0", "net0: name=eth/0 is not an interface name"),
    ("name=eth0,model=virtio", "net0: unknown key 'model'"),
    ("name=eth0,ip=10.0.0.5", "net0: ip=10.0.0.5 is not an IPv4 address with a prefix (like 10.0.0.2/24), 'dhcp' or 'manual'"),
    ("name=eth0,ip6=fd00:::5/64", "net0: ip6=fd00:::5/64 is not an IPv6 address with a prefix, dhcp or auto"),
    ("name=eth0,gw=gateway", "net0: gw=gateway is not an IP address"),
    ("name=eth0,gw6=fd00::g", "net0: gw6=fd00::g is not an IP address"),
    ("name=eth0,hwaddr=01:24:11:79:D5:65", "net0: hwaddr=01:24:11:79:D5:65 is a multicast address; a NIC needs a unicast MAC"),
    ("name=eth0,trunks=20-30", "net0: trunks: '20-30' is not a VLAN id (no ranges here)"),
])
def test_container_nic_messages_in_full(value, message):
    assert error_of(ct_nic, 0, Entry(value, 1)) == message


# -- vlans.parse_tag ------------------------------------------------------------

def test_parse_tag_takes_1_to_4094_and_says_tag_by_default():
    assert (parse_tag("1"), parse_tag("4094")) == (1, 4094)
    assert error_of(parse_tag, "x") == "tag 'x' is not a VLAN id"
    assert error_of(parse_tag, "4095") == "tag 4095 is not from 1 to 4094"


# -- naming ---------------------------------------------------------------------

@pytest.mark.timeout(10)
def test_node_names_keep_valid_names_and_number_clashes_from_2():
    assert naming.node_names(["a1", "PVE", "pve"]) == {"a1": "a1", "PVE": "pve", "pve": "pve-2"}
    assert naming.node_names(["A", "A-2", "a"]) == {"A": "a", "A-2": "a-2", "a": "a-3"}
    assert naming.node_names(["pve_1", "1pve"]) == {"pve_1": "pve-1", "1pve": "n1pve"}
    long = "x" * 32
    assert naming.node_names([long, long.upper()]) == {long.upper(): long, long: "x" * 30 + "-2"}


@pytest.mark.timeout(10)
def test_bridge_names_clean_and_never_repeat():
    nodes = {"a": "a", "a-b": "a-b", "pve1": "pve1"}
    assert naming.bridge_names({"a": ["b-c"], "a-b": ["c"], "pve1": ["vmbr_a", "Vmbr.1"]}, nodes) == {
        ("a", "b-c"): "a-b-c", ("a-b", "c"): "n2-c", ("pve1", "Vmbr.1"): "pve1-vmbr-1", ("pve1", "vmbr_a"): "pve1-vmbr-a"}


def test_a_bridge_whose_fallback_names_are_all_taken_gets_a_number():
    # n<k>-b<j> is taken when an earlier node is called n<k> and has a bridge b<j> (this once ended in an AssertionError).
    assert naming.bridge_names({"n2": ["b1"], "zz": ["averyverylongbridge"]}, {"n2": "n2", "zz": "zz"}) == {
        ("n2", "b1"): "n2-b1", ("zz", "averyverylongbridge"): "n2-b1-2"}
    assert naming.bridge_names({"n2": ["b1"], "zz": ["averyverylongbridge", "anotherverylongone"]}, {"n2": "n2", "zz": "zz"}) == {
        ("n2", "b1"): "n2-b1", ("zz", "anotherverylongone"): "n2-b1-2", ("zz", "averyverylongbridge"): "n2-b2"}


def test_an_invalid_endpoint_name_is_quoted_up_to_40_characters():
    name = FORTY + "klmno"
    assert naming.endpoint_names([("qemu", 100, name)], set()) == {
        100: ("vm100", f"'{FORTY}' is not a valid endpoint name (1-12 characters of a-z, 0-9 and '-', starting with a letter)")}
