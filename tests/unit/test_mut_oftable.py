"""Mutation tests for controller/oftable.py: the table simulator's walk, deletes, explanation and loop guard.

Flows here are built unchecked (`Flow(...)`), as a switch may report them, so
that they do not depend on the pipeline's declared tables.
"""

from __future__ import annotations

import pytest

from controller.actions import Output, PopVlan, PushVlan, SetVlan, ToController
from controller.flows import Flow, FlowMod
from controller.oftable import Fabric, FlowTables, Frame, Result, explain

A, B = "0a:00:00:00:00:01", "0a:00:00:00:00:02"


def flow(table, priority, match=(), actions=(), goto=None, cookie=1) -> Flow:
    return Flow(table, priority, tuple(sorted(match)), tuple(actions), goto, cookie)


def test_explain_walks_the_matching_flows_then_says_where_the_frame_went():
    first = flow(0, 100, [("in_port", 1), ("vlan_vid", 0)], [PushVlan(), SetVlan(0x1000 | 10)], goto=1)
    second = flow(1, 0, [], [ToController(), Output(2), PopVlan(), Output(3)])
    result = Result(outputs=[(2, Frame(A, B, (10,))), (3, Frame(A, B))], path=[first, second, flow(2, 7)])
    assert explain(result) == "\n".join([
        "table 0 priority 100: in_port=1,vlan_vid=0",
        "    -> push_vlan, set_vlan 4106, goto table 1",
        "table 1 priority 0: (anything)",
        "    -> controller, output 2, pop_vlan, output 3",
        "table 2 priority 7: (anything)",
        "    -> drop",
        "out: port 2 (vlans [10]), port 3 (vlans none)",
    ])
    assert explain(Result()) == "out: nowhere: dropped"


def test_a_frame_walks_the_tables_by_priority_and_is_never_sent_back_where_it_came_from():
    tables = FlowTables([
        flow(0, 10, [("in_port", 1)], [PushVlan(), SetVlan(0x1000 | 5)], goto=2),
        flow(0, 20, [("in_port", 1), ("eth_src", B)], []),  # a higher priority drop for B
        flow(2, 0, [], [Output(1), Output(4)]),
    ])
    result = tables.process(1, Frame(A, B))
    assert result.outputs == [(4, Frame(A, B, (5,)))] and [f.table for f in result.path] == [0, 2]
    assert tables.process(1, Frame(B, A)).outputs == [] and len(tables.process(1, Frame(B, A)).path) == 1
    assert tables.process(9, Frame(A, B)).path == []  # table-miss: dropped


def test_an_unchecked_backward_goto_is_refused():
    tables = FlowTables([flow(0, 0, [], [], goto=1), flow(1, 0, [], [], goto=1)])
    with pytest.raises(ValueError, match="^goto from table 1 to 1: gotos must go forward$"):
        tables.process(1, Frame(A, B))


def test_deletes_strictly_by_cookie_table_out_port_and_match():
    kept = [
        flow(0, 5, [("in_port", 1)], [Output(2)], cookie=7),
        flow(1, 5, [("in_port", 1)], [Output(2)], cookie=7),  # another table
        flow(0, 6, [("in_port", 1)], [Output(2)], cookie=8),  # another cookie
        flow(0, 7, [("in_port", 1)], [Output(3)], cookie=7),  # does not output to port 2
        flow(0, 8, [("in_port", 2)], [Output(2)], cookie=7),  # another in_port
    ]
    gone = [flow(0, 9, [("in_port", 1), ("eth_dst", B)], [Output(2)], cookie=7), flow(0, 5, [("in_port", 1)], [Output(5), Output(2)], cookie=7)]
    tables = FlowTables(kept[:1] + kept[1:] + gone[:1])
    tables.apply([FlowMod("add", gone[1])])  # replaces kept[0], same key
    tables.apply([FlowMod("delete", flow(0, 0, [("in_port", 1)], cookie=7), out_port=2)])
    assert sorted(tables.flows.values(), key=repr) == sorted(kept[1:], key=repr)
    tables = FlowTables(kept)
    tables.apply([FlowMod("delete", flow(0, 0, [], cookie=0))])  # cookie 0: any cookie; no out_port: any
    assert sorted(tables.flows.values(), key=repr) == [kept[1]]
    tables = FlowTables(kept)
    tables.apply([FlowMod("delete_strict", kept[3]), FlowMod("delete_strict", flow(0, 99))])
    assert kept[3] not in tables.flows.values() and len(tables.flows) == 4
    with pytest.raises(ValueError, match="^modify$"):
        tables.apply([FlowMod("modify", kept[0])])


def chain(n: int) -> Fabric:
    """Bridges s0..s{n-1}, each forwarding port 1 to port 2, s{i} port 2 wired to s{i+1} port 1."""
    fabric = Fabric()
    for i in range(n):
        fabric.tables[f"s{i}"] = FlowTables([flow(0, 0, [("in_port", 1)], [Output(2)])])
        if i:
            fabric.wire((f"s{i - 1}", 2), (f"s{i}", 1))
    return fabric


def test_a_frame_crosses_as_many_hops_as_the_limit_allows():
    assert chain(4).send("s0", 1, Frame(A, B), limit=4) == [("s3", 2, Frame(A, B))]
    with pytest.raises(RuntimeError, match="^forwarding loop: more than 3 hops$"):
        chain(4).send("s0", 1, Frame(A, B), limit=3)


def test_a_loop_is_stopped_at_the_default_limit():
    fabric = Fabric()
    fabric.tables["a"] = FlowTables([flow(0, 0, [], [Output(1), Output(2)])])
    fabric.wire(("a", 1), ("a", 2))
    with pytest.raises(RuntimeError, match="^forwarding loop: more than 10000 hops$"):
        fabric.send("a", 3, Frame(A, B))


def test_packet_ins_are_collected_with_where_they_came_from():
    fabric = chain(2)
    fabric.tables["s1"] = FlowTables([flow(0, 0, [], [ToController()])])
    packet_ins: list = []
    assert fabric.send("s0", 1, Frame(A, B), packet_ins=packet_ins) == []
    assert packet_ins == [("s1", 1, Frame(A, B))]
    assert fabric.send("s0", 1, Frame(A, B)) == []  # without a list, packet-ins are dropped


def test_a_frame_as_a_switch_puts_it_in_a_packet_in():
    assert Frame(A, B).packet() == bytes.fromhex("0a0000000002" "0a0000000001" "0800") + bytes(46)  # padded to 60 bytes
    tagged = Frame(A, B, (10, 20), 0x0806, tpid=0x88A8).packet()
    assert tagged == bytes.fromhex("0a0000000002" "0a0000000001" "88a8000a" "81000014" "0806") + bytes(38)
    many = Frame(A, B, tuple(range(1, 13))).packet()
    assert len(many) == 12 + 4 * 12 + 2 and many[-2:] == bytes.fromhex("0800")  # longer than 60: not cut
