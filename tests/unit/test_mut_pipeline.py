"""Mutation tests for controller/pipeline.py: the order of a diff's flow-mods."""

from __future__ import annotations

from controller.flows import Flow, FlowMod
from controller.pipeline import diff


def f(table, priority, port, cookie=1) -> Flow:
    return Flow(table, priority, (("in_port", port),), (), None, cookie)


def test_a_diff_deletes_then_adds_each_in_table_order_highest_priority_first_then_by_match():
    have = [f(1, 5, 1), f(0, 5, 2), f(0, 9, 3), f(0, 5, 1), f(2, 0, 9)]
    want = [f(2, 0, 9), f(1, 7, 4), f(0, 1, 5), f(0, 8, 6), f(0, 8, 10), f(0, 5, 1, cookie=2)]
    assert diff(have, want) == [
        FlowMod("delete_strict", f(0, 9, 3)), FlowMod("delete_strict", f(0, 5, 2)), FlowMod("delete_strict", f(1, 5, 1)),
        FlowMod("add", f(0, 8, 10)), FlowMod("add", f(0, 8, 6)), FlowMod("add", f(0, 5, 1, cookie=2)), FlowMod("add", f(0, 1, 5)),
        FlowMod("add", f(1, 7, 4)),
    ]
