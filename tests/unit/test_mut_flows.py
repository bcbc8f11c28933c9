"""Mutation tests for controller/flows.py: dump-flows lines read with ovs-ofctl's defaults, and the text written."""

from __future__ import annotations

import pytest

from controller.flows import COOKIE_STATIC, Flow, Output, PopVlan, parse_dump

COOKIE = "cookie=0x5d1a000000000001, duration=1.5s"


def test_a_dump_line_without_table_or_priority_is_table_0_at_priority_32768():
    [flow] = parse_dump(f"OFPST_FLOW reply (OF1.3) (xid=0x2):\n {COOKIE}, n_packets=0, n_bytes=0, in_port=1 actions=drop\n")
    assert flow == Flow(0, 32768, (("in_port", 1),), (), None, COOKIE_STATIC)


def test_a_dump_line_with_flags_goto_and_timeouts():
    [flow] = parse_dump(f" {COOKIE}, table=0, n_packets=3, n_bytes=180, send_flow_rem idle_timeout=30, priority=5,in_port=2 "
                        "actions=pop_vlan,output:4,goto_table:1")
    assert (flow.table, flow.priority, flow.match, flow.actions, flow.goto, flow.idle_timeout) == (0, 5, (("in_port", 2),), (PopVlan(), Output(4)), 1, 30)


def test_an_action_of_a_dump_that_is_not_ours_names_itself_and_its_line():
    line = f"{COOKIE}, table=0, priority=5,in_port=2 actions=enqueue:1:2"
    with pytest.raises(ValueError) as caught:
        parse_dump(" " + line)
    assert str(caught.value) == f"unsupported action in dump: 'enqueue:1:2' (line: {line})"


def test_the_ofctl_text_of_a_flow():
    flow = Flow(3, 100, (("eth_dst", "0a:00:00:00:00:01"), ("vlan_vid", 0x1000 | 10)), (PopVlan(), Output(4)), None, COOKIE_STATIC, 300)
    assert flow.to_ofctl() == ("table=3,priority=100,cookie=0x5d1a000000000001,idle_timeout=300,"
                               "dl_dst=0a:00:00:00:00:01,dl_vlan=10,actions=pop_vlan,output:4")
    assert Flow(0, 0, (), (), None, 1).to_ofctl() == "table=0,priority=0,cookie=0x1,actions=drop"
    assert Flow(0, 0, (), (), 1, 1).to_ofctl() == "table=0,priority=0,cookie=0x1,actions=goto_table:1"
