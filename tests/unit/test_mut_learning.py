"""Mutation tests for controller/learning.py: one bridge's MAC table, flow-mod by flow-mod.

The expected flows are written out here from the module's contract: a learned
source is a learn-table flow (priority 100, in_port + vlan_vid + eth_src, on to
forward, reporting its removal) and a forward-table flow to its port, both
with the table's idle timeout and the learned cookie.
"""

from __future__ import annotations

from controller.flows import COOKIE_LEARNED, FORWARD, LEARN, VID_NONE, Flow, FlowMod, Output, PopVlan
from controller.learning import MacTable, frame_fields, is_multicast

V10, V20 = 0x1000 | 10, 0x1000 | 20
A, B, C = "0a:00:00:00:00:01", "0a:00:00:00:00:02", "0a:00:00:00:00:03"


def source(vid, port, mac, idle=300) -> Flow:
    return Flow.make(LEARN, 100, {"in_port": port, "vlan_vid": vid, "eth_src": mac}, (), FORWARD, cookie=COOKIE_LEARNED, idle_timeout=idle)


def destination(vid, port, mac, pop=False, idle=300) -> Flow:
    return Flow.make(FORWARD, 100, {"vlan_vid": vid, "eth_dst": mac}, ((PopVlan(),) if pop else ()) + (Output(port),),
                     cookie=COOKIE_LEARNED, idle_timeout=idle)


def test_multicast_is_the_low_bit_of_the_first_byte_in_hex():
    assert [is_multicast(m + ":00:00:00:00:00") for m in ("01", "03", "ff", "11", "0b", "02", "0a", "10", "fe", "00")] == [
        True, True, True, True, True, False, False, False, False, False]
    assert is_multicast("02:00:00:00:00:00") is False and is_multicast("01:00:00:00:00:00") is True


def test_a_new_source_is_learned_with_its_two_flows_and_its_time():
    table = MacTable(idle_timeout=30, access_ports={1})
    mods = table.packet_in(1, V10, A, now=7.5)
    assert mods == [FlowMod("add", source(V10, 1, A, 30)), FlowMod("add", destination(V10, 1, A, pop=True, idle=30))]
    assert mods[0].flow.notify_removal is True and mods[1].flow.notify_removal is False
    assert table.entries[(V10, A)].port == 1 and table.entries[(V10, A)].since == 7.5
    assert table.packet_in(1, V10, A, now=8) == []  # known: a packet-in that raced the flow-mod
    assert table.packet_in(2, VID_NONE, B, now=9)[1] == FlowMod("add", destination(VID_NONE, 2, B, idle=30))  # untagged: nothing to pop
    assert table.packet_in(1, VID_NONE, C, now=9)[1] == FlowMod("add", destination(VID_NONE, 1, C, idle=30))
    assert table.packet_in(3, V10, "01:00:5e:00:00:01", now=9) == [] and (V10, "01:00:5e:00:00:01") not in table.entries


def test_a_source_that_moves_is_forgotten_where_it_was():
    table = MacTable()
    table.packet_in(1, V10, A, now=0)
    assert table.packet_in(2, V10, A, now=1) == [
        FlowMod("delete_strict", source(V10, 1, A)), FlowMod("delete_strict", destination(V10, 1, A)),
        FlowMod("add", source(V10, 2, A)), FlowMod("add", destination(V10, 2, A))]
    assert table.count(1) == 0 and table.count(2) == 1 and table.entries[(V10, A)].since == 1


def test_each_port_and_vlan_learns_up_to_the_limit():
    table = MacTable(limit=2)
    for mac in (A, B):
        table.packet_in(1, V10, mac, now=0)
    assert table.packet_in(1, V10, C, now=0) == [] and table.over_limit == 1 and (V10, C) not in table.entries
    assert len(table.packet_in(1, V20, C, now=0)) == 2  # another VLAN on the same port has its own budget
    assert len(table.packet_in(2, V10, C, now=0)) == 2  # and so has another port
    assert (table.count(1, V10), table.count(1, V20), table.count(1), table.count(2), table.count(3), table.count(3, V10)) == (2, 1, 3, 1, 0, 0)
    assert table.per_port == {(1, V10): 2, (1, V20): 1, (2, V10): 1}


def test_forgetting_counts_down_and_keeps_no_empty_count():
    table = MacTable(limit=2)
    for mac in (A, B):
        table.packet_in(1, V10, mac, now=0)
    assert table.expired(V10, A, port=2) == [] and table.expired(V20, A, port=1) == []
    assert table.expired(V10, A, port=1) == [FlowMod("delete_strict", source(V10, 1, A)), FlowMod("delete_strict", destination(V10, 1, A))]
    assert table.per_port == {(1, V10): 1}
    assert len(table.packet_in(1, V10, C, now=0)) == 2  # a place freed
    assert len(table.forget_ports({1})) == 4 and table.per_port == {} and table.entries == {}


def test_frame_fields_read_straight_from_the_bytes():
    head = bytes.fromhex("ffffffffffff" "0a0000000001")
    assert frame_fields(head + bytes.fromhex("0800") + bytes(46)) == (A, 0x0800, VID_NONE)
    assert frame_fields(head + bytes.fromhex("8100" "a00a" "0806") + bytes(42)) == (A, 0x0806, V10)  # priority bits dropped
    assert frame_fields(head + bytes.fromhex("88a8" "000a" "8100")) == (A, 0x88A8, None)
    assert frame_fields(head + bytes.fromhex("8100")) == (A, 0x8100, VID_NONE)  # a tag cut short is not read through
    assert frame_fields(head[:13]) is None


def test_frame_fields_at_the_shortest_lengths_and_with_the_vlans_high_bits():
    head = bytes.fromhex("ffffffffffff" "0a0000000001")
    assert frame_fields(head + bytes.fromhex("0800")) == (A, 0x0800, VID_NONE)  # 14 bytes: just the header
    assert frame_fields(head + bytes.fromhex("8100" "010a" "0800")) == (A, 0x0800, 0x1000 | 266)  # 18 bytes: one whole tag
    assert frame_fields(head + bytes.fromhex("8100" "010a" "08")) == (A, 0x8100, VID_NONE)  # 17: not a whole tag


def learned(table: int, vid: int, port: int, mac: str, **kw) -> Flow:
    """A learned-cookie flow as a switch reports it (unchecked)."""
    match = {"vlan_vid": vid, **({"in_port": port, "eth_src": mac} if table == LEARN else {"eth_dst": mac})}
    return Flow(table, 100, tuple(sorted({**match, **kw}.items())), () if table == LEARN else (Output(port),), None, COOKIE_LEARNED)


def test_adopt_keeps_what_a_switch_still_holds_and_deletes_what_it_cannot_keep():
    table = MacTable(limit=1)
    agree = [learned(LEARN, V10, 1, A), learned(FORWARD, V10, 1, A)]
    disagree = [learned(LEARN, V10, 2, B), learned(FORWARD, V10, 3, B)]
    over = [learned(LEARN, V10, 1, C), learned(FORWARD, V10, 1, C)]  # port 1's one place in VLAN 10 is A's
    lone_source, lone_destination = learned(LEARN, V20, 4, A), learned(FORWARD, V20, 5, B)
    ignored = [
        Flow(LEARN, 100, (("eth_src", A), ("in_port", 6)), (), None, COOKIE_LEARNED),  # no vlan_vid
        Flow(LEARN, 100, (("in_port", 6), ("vlan_vid", V20)), (), None, COOKIE_LEARNED),  # no eth_src
        Flow(0, 100, (("in_port", 6), ("vlan_vid", V20)), (), None, COOKIE_LEARNED),  # another table
        Flow(FORWARD, 100, (("eth_dst", C), ("vlan_vid", V20)), (), None, COOKIE_LEARNED),  # no output
        Flow(LEARN, 100, learned(LEARN, V20, 7, C).match, (), None, 1),  # not a learned cookie
    ]
    mods = table.adopt(agree + disagree + over + [lone_source, lone_destination] + ignored, now=3.0)
    assert sorted(mods, key=repr) == sorted((FlowMod("delete_strict", f) for f in disagree + over), key=repr)
    assert {k: (e.port, e.since) for k, e in table.entries.items()} == {(V10, A): (1, 3.0), (V20, A): (4, 3.0), (V20, B): (5, 3.0)}
    assert table.adopt(agree, now=4.0) == [FlowMod("delete_strict", f) for f in agree]  # already known: its flows go


def test_adopt_counts_each_vlan_of_a_port_apart():
    table = MacTable(limit=1)
    flows = [learned(LEARN, V10, 1, A), learned(FORWARD, V10, 1, A), learned(LEARN, V20, 1, B), learned(FORWARD, V20, 1, B)]
    assert table.adopt(flows, now=0) == []
    assert set(table.entries) == {(V10, A), (V20, B)}
