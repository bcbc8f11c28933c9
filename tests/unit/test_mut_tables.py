"""Mutation tests for controller/tables.py: the pipeline declaration and its checks, word for word."""

from __future__ import annotations

import pytest

from controller import tables
from controller.tables import CLASSIFY, FORWARD, LEARN, Table, consistency_errors


def test_a_declaration_keeps_its_fields_as_a_frozenset_and_its_next_tables_as_a_tuple():
    t = Table(0, "a", {"in_port"}, next=["b"])
    assert type(t.match) is frozenset and t.match == {"in_port"}
    assert type(t.next) is tuple and t.next == ("b",)
    assert t == 0 and t == Table(0, "other", set()) and t != Table(1, "a", {"in_port"})
    assert t.__eq__("0") is NotImplemented


def test_every_error_of_a_declaration_in_words():
    assert consistency_errors((Table(0, "a", set()), Table(1, "a", set()))) == ["table names must be unique"]
    assert consistency_errors((Table(1, "a", set()),)) == ["table ids must be 0, 1, 2... in pipeline order, not [1]"]
    assert consistency_errors((Table(0, "a", {"ip_proto", "tcp_dst", "in_port"}),)) == [
        "table a matches on ip_proto, which is no field of fields.FIELDS", "table a matches on tcp_dst, which is no field of fields.FIELDS"]
    assert consistency_errors((Table(0, "a", set(), next=("a",)),)) == ["table a goes to a: gotos must go forward"]
    assert consistency_errors((Table(0, "a", set(), next=("z",)),)) == ["table a goes to z, which is not in the pipeline"]
    assert consistency_errors((Table(0, "a", set(), next=("b",)), Table(1, "b", set()))) == []


def test_an_undeclared_table_is_named_with_the_declared_ones():
    with pytest.raises(ValueError, match=r"^no table 7 in the pipeline \(tables: 0 \(classify\), 1 \(guard\), 2 \(learn\), 3 \(forward\)\)$"):
        tables.table(7)
    assert tables.table(2) is LEARN


def test_the_checks_of_a_flow_in_words():
    with pytest.raises(ValueError, match=r"^table 3 \(forward\) does not match on eth_src, in_port; it declares eth_dst, vlan_vid$"):
        FORWARD.check(["in_port", "eth_src", "vlan_vid"], None)
    with pytest.raises(ValueError, match=r"^table 0 \(classify\) cannot goto table 2: its next tables are 1 \(guard\)$"):
        CLASSIFY.check([], 2)
    with pytest.raises(ValueError, match=r"^table 3 \(forward\) cannot goto table 1: its next tables are none$"):
        FORWARD.check(["eth_dst"], 1)
    CLASSIFY.check(["in_port", "vlan_vid"], 1)
    LEARN.check([], None)
    with pytest.raises(ValueError, match=r"^table 0 \(a\) does not match on in_port; it declares nothing$"):
        Table(0, "a", set()).check(["in_port"], None)


def test_a_goto_refusal_lists_every_declared_next_table():
    with pytest.raises(ValueError, match=r"^table 0 \(x\) cannot goto table 3: its next tables are 1 \(guard\), 2 \(learn\)$"):
        Table(0, "x", set(), next=("guard", "learn")).check([], 3)
