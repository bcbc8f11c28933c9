"""Mutation tests for controller/fields.py: how a field is declared and read.

`FIELDS` is built when the module is imported, so these tests build fields
again at test time (as a new declaration would) and compare them with
hand-written OXM values and with os-ken's own serialiser.
"""

from __future__ import annotations

import pytest
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller import fields
from controller.fields import FIELDS, VID_NONE, VID_PRESENT, Field, _mac_field
from controller.oftable import Frame


def os_ken_oxm(**match) -> bytes:
    """The OXM TLVs os-ken writes for a match of one field (its ofp_match header and padding removed)."""
    buf = bytearray()
    parser.OFPMatch(**match).serialize(buf, 0)
    length = int.from_bytes(buf[2:4], "big")
    return bytes(buf[4:length])


def fresh(name: str) -> Field:
    """The declared field `name`, declared again now."""
    f = FIELDS[name]
    if f.mac:
        key = next(iter(f.dump))
        return _mac_field(f.name, f.number, key, f.read)
    return Field(f.name, f.number, f.size, f.ofctl, dict(f.dump), f.read)


# OXM headers of OpenFlow 1.3 (section 7.2.3.7): class 0x8000, field << 1 | hasmask, length.
HEADS = {"in_port": 0x80000004, "eth_dst": 0x80000606, "eth_src": 0x80000806, "eth_type": 0x80000A02, "vlan_vid": 0x80000C02,
         "arp_spa": 0x80002C04, "arp_sha": 0x80003006}
MASKED_HEADS = {"in_port": 0x80000108, "eth_dst": 0x8000070C, "eth_src": 0x8000090C, "eth_type": 0x80000B04, "vlan_vid": 0x80000D04,
                "arp_spa": 0x80002D08, "arp_sha": 0x8000310C}


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_a_field_declared_now_has_the_oxm_headers_of_the_standard(name):
    f = fresh(name)
    assert f.head == HEADS[name].to_bytes(4, "big")
    assert f.masked_head == MASKED_HEADS[name].to_bytes(4, "big")
    assert (f.name, f.number, f.size, f.mac) == (FIELDS[name].name, FIELDS[name].number, FIELDS[name].size, FIELDS[name].mac)


@pytest.mark.parametrize(
    "name, value",
    [("in_port", 7), ("eth_type", 0x88CC), ("vlan_vid", VID_PRESENT | 42), ("vlan_vid", VID_NONE),
     ("eth_dst", "02:00:00:00:00:01"), ("eth_src", "0a:1b:2c:3d:4e:5f"),
     ("eth_dst", ("02:00:00:00:00:00", "ff:ff:ff:00:00:00")), ("eth_src", ("01:00:00:00:00:00", "01:00:00:00:00:00"))],
)
def test_a_field_declared_now_encodes_as_os_ken_does(name, value):
    assert fresh(name).oxm(value) == os_ken_oxm(**{name: value})
    assert FIELDS[name].oxm(value) == os_ken_oxm(**{name: value})


def test_a_masked_mac_writes_its_value_then_its_mask():
    oxm = FIELDS["eth_dst"].oxm(("02:00:00:00:00:00", "ff:ff:ff:00:00:00"))
    assert oxm == bytes.fromhex("8000070c" "020000000000" "ffffff000000")


def test_only_macs_may_be_masked():
    with pytest.raises(ValueError, match="^vlan_vid cannot be masked: only MACs are$"):
        FIELDS["vlan_vid"].oxm((1, 1))


def test_a_mac_field_declared_now_writes_and_reads_ofctl_text():
    f = _mac_field("eth_dst", 3, "dl_dst", read=lambda frame, in_port: frame.dst)
    assert (f.name, f.number, f.size, f.mac) == ("eth_dst", 3, 6, True)
    assert f.ofctl("02:00:00:00:00:01") == "dl_dst=02:00:00:00:00:01"
    assert f.ofctl(("02:00:00:00:00:01", "ff:ff:ff:00:00:00")) == "dl_dst=02:00:00:00:00:01/ff:ff:ff:00:00:00"
    assert list(f.dump) == ["dl_dst"]
    dump = f.dump["dl_dst"]
    assert dump("02:00:00:00:00:01") == "02:00:00:00:00:01"
    assert dump("02:00:00:00:00:01/ff:ff:ff:00:00:00") == ("02:00:00:00:00:01", "ff:ff:ff:00:00:00")
    assert dump("a/b/c") == ("a", "b/c")  # only the first slash separates the mask
    assert f.read(Frame("0a:00:00:00:00:01", "0a:00:00:00:00:02"), 1) == "0a:00:00:00:00:02"
    assert f.test(("0a:00:00:00:00:00", "ff:00:00:00:00:00"), "0A:11:22:33:44:55")


def test_only_the_untagged_tci_is_read_from_a_dump():
    assert fields.from_dump({"vlan_tci": "0x0000/0x1fff"}) == {"vlan_vid": VID_NONE}
    assert fields.from_dump({"vlan_tci": "0x1000/0x1000"}) == {}
    assert fields.from_dump({"dl_vlan": "42", "lldp": "", "n_packets": "3"}) == {"vlan_vid": VID_PRESENT | 42, "eth_type": 0x88CC}


def test_ofctl_text_of_each_field():
    assert fields.ofctl([("in_port", 3), ("eth_type", 0x806), ("vlan_vid", VID_NONE), ("vlan_vid", VID_PRESENT | 4094)]) == [
        "in_port=3", "dl_type=0x0806", "vlan_tci=0x0000/0x1fff", "dl_vlan=4094"]


def test_a_frame_is_read_as_every_field():
    # Two tags: OVS (vlan-limit=1) parses the outer one; the inner one's TPID is the eth_type.
    assert fields.read_frame(Frame("0a:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", (10, 20), 0x88CC), 5) == {
        "in_port": 5, "eth_dst": "ff:ff:ff:ff:ff:ff", "eth_src": "0a:00:00:00:00:01", "eth_type": 0x8100, "vlan_vid": VID_PRESENT | 10,
        "arp_spa": None, "arp_sha": None}
    arp = fields.read_frame(Frame("0a:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", (10,), 0x0806, arp_spa="10.0.0.1"), 5)
    assert (arp["eth_type"], arp["arp_spa"], arp["arp_sha"]) == (0x0806, "10.0.0.1", "0a:00:00:00:00:01")
    assert fields.read_frame(Frame("0a:00:00:00:00:01", "0a:00:00:00:00:02"), 1)["vlan_vid"] == VID_NONE


def test_matching_masks_and_case():
    values = fields.read_frame(Frame("0A:00:00:00:00:01", "03:00:00:00:00:02", (7,)), 2)
    assert fields.matches([("eth_src", "0a:00:00:00:00:01")], values)  # MACs regardless of case
    assert fields.matches([("eth_dst", ("01:00:00:00:00:00", "01:00:00:00:00:00"))], values)  # multicast bit set
    assert not fields.matches([("eth_src", ("01:00:00:00:00:00", "01:00:00:00:00:00"))], values)
    assert not fields.matches([("in_port", 2), ("vlan_vid", VID_PRESENT | 8)], values)
    assert fields.matches([("in_port", 2), ("vlan_vid", VID_PRESENT | 7)], values)
    assert fields.matches([], values)
    assert not FIELDS["in_port"].test(2, 3) and FIELDS["in_port"].test(3, 3)


def test_arp_fields_are_read_only_from_a_frame_ovs_sees_as_arp():
    read = fields._arp_read(lambda frame: frame.arp_spa)
    assert read(Frame("0a:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", (10,), 0x0806, arp_spa="10.0.0.1"), 3) == "10.0.0.1"
    assert read(Frame("0a:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", (), 0x0800, arp_spa="10.0.0.1"), 3) is None
    assert read(Frame("0a:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", (10, 20), 0x0806, arp_spa="10.0.0.1"), 3) is None  # behind a second tag


def test_a_field_the_frame_does_not_have_matches_nothing():
    assert FIELDS["arp_spa"].test("10.0.0.1", None) is False
    assert FIELDS["arp_sha"].test(("00:00:00:00:00:00", "00:00:00:00:00:00"), None) is False
