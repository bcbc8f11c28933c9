"""The pipeline's declared shape: flows are checked against their table when
made, the declarations are consistent, and every declared match field and
action round-trips through `ovs-ofctl` text and dump parsing."""

from __future__ import annotations

import pytest

from controller.actions import ACTIONS, Unknown, parse_ofctl
from controller.fields import FIELDS
from controller.flows import (
    CLASSIFY,
    FORWARD,
    GUARD,
    LEARN,
    PIPELINE,
    Flow,
    Output,
    PopVlan,
    PushVlan,
    SetVlan,
    Table,
    ToController,
    parse_dump,
)
from controller.oftable import Frame
from controller.simlab import SimulatedLab
from controller.tables import BY_NAME, consistency_errors
from sdnlab import load
from tests.conftest import TOPOLOGIES
from tests.unit.field_samples import field_flows


def test_the_declarations_are_consistent():
    assert consistency_errors(PIPELINE) == []
    assert PIPELINE == (CLASSIFY, GUARD, LEARN, FORWARD)
    for table in PIPELINE:
        assert table.match <= set(FIELDS)
        for name in table.next:
            assert name in BY_NAME and BY_NAME[name].id > table.id  # every goto target exists, and lies ahead


def test_consistency_errors_catches_bad_declarations():
    a = Table(0, "a", {"in_port"}, next=("b",))
    assert consistency_errors((a, Table(1, "b", {"in_port"}))) == []
    assert "gotos must go forward" in " ".join(consistency_errors((Table(0, "a", set()), Table(1, "b", set(), next=("a",)))))
    assert "not in the pipeline" in " ".join(consistency_errors((a,)))
    assert "no field" in " ".join(consistency_errors((Table(0, "a", {"ip_proto"}),)))
    assert "0, 1, 2" in " ".join(consistency_errors((Table(1, "a", set()),)))
    assert "unique" in " ".join(consistency_errors((Table(0, "a", set()), Table(1, "a", set()))))


def test_a_table_stands_for_its_id():
    assert LEARN == 2 and 2 == LEARN and LEARN != 3 and hash(LEARN) == hash(2) and int(FORWARD) == 3
    flow = Flow.make(CLASSIFY, 100, {"in_port": 1}, (), GUARD)
    assert flow == Flow.make(0, 100, {"in_port": 1}, (), 1)
    assert type(flow.table) is int and type(flow.goto) is int  # flows hold plain ids, as switches report them


@pytest.mark.parametrize(
    "table, match",
    [(CLASSIFY, {"arp_spa": "10.0.0.1"}), (GUARD, {"ipv4_src": "10.0.0.1"}), (LEARN, {"eth_type": 0x0800}), (FORWARD, {"in_port": 1}), (FORWARD, {"nw_src": "10.0.0.1"})],
)
def test_a_match_field_the_table_does_not_declare_raises_when_made(table, match):
    field = next(iter(match))
    with pytest.raises(ValueError, match=f"table {table.id} \\({table.name}\\) does not match on {field}"):
        Flow.make(table, 10, match)


@pytest.mark.parametrize(
    "table, goto",
    [(LEARN, CLASSIFY), (FORWARD, LEARN), (LEARN, LEARN), (CLASSIFY, FORWARD), (FORWARD, 3), (CLASSIFY, 7)],
    ids=["backward", "backward-2", "to-itself", "skipping-a-table", "from-the-last", "to-no-table"],
)
def test_a_goto_that_is_not_a_declared_next_table_raises_when_made(table, goto):
    with pytest.raises(ValueError, match=f"cannot goto table {int(goto)}"):
        Flow.make(table, 10, {}, (), goto)


def test_an_undeclared_table_or_a_bare_tuple_action_raises_when_made():
    with pytest.raises(ValueError, match="no table 5"):
        Flow.make(5, 10)
    with pytest.raises(TypeError, match="not an action"):
        Flow.make(FORWARD, 10, {"vlan_vid": 0}, (("output", 3),))
    with pytest.raises(TypeError, match="not an action"):
        Flow.make(FORWARD, 10, {"vlan_vid": 0}, (Unknown("OFPActionSetQueue"),))


def test_unchecked_flows_are_what_a_switch_may_report():
    # app.py reads a switch's flows unchecked (an older pipeline's may linger there, for the diff to delete).
    flow = Flow.make(FORWARD, 10, {"in_port": 1}, (Unknown("OFPActionSetQueue"),), 1, check=False)
    assert flow.table == 3 and flow.goto == 1 and flow.fields == {"in_port": 1}


def dump_line(flow: Flow) -> str:
    """The flow as `ovs-ofctl dump-flows` shows it: cookie first, the statistics, the match, then ` actions=`."""
    head, _, actions = flow.to_ofctl().partition(",actions=")
    items = head.split(",")
    cookie = next(i for i in items if i.startswith("cookie="))
    return f" {cookie}, duration=1.5s, n_packets=0, n_bytes=0, " + ",".join(i for i in items if i != cookie) + f" actions={actions}"


@pytest.mark.parametrize("flow", field_flows(), ids=lambda f: repr(f.match))
def test_every_declared_field_round_trips_through_ofctl_text(flow):
    assert parse_dump(dump_line(flow)) == [flow]


def test_every_flow_the_core_makes_round_trips_through_ofctl_text():
    flows = set()
    for name in ("two-nodes.yaml", "leaf-spine.yaml", "one-bridge.yaml"):
        lab = SimulatedLab(load(TOPOLOGIES / name))
        for nic in lab.topology.nics():
            lab.send(nic.id, Frame(nic.mac, "ff:ff:ff:ff:ff:ff"))
        flows |= {f for t in lab.fabric.tables.values() for f in t.flows.values()}
    assert {type(a) for f in flows for a in f.actions} == set(ACTIONS)
    dump = "OFPST_FLOW reply (OF1.3) (xid=0x2):\n" + "\n".join(dump_line(f) for f in sorted(flows, key=repr))
    assert set(parse_dump(dump)) == flows


@pytest.mark.parametrize("action", [Output(7), ToController(), PushVlan(), SetVlan(0x1000 | 42), PopVlan()], ids=str)
def test_every_action_round_trips_through_ofctl_text(action):
    assert type(action) in ACTIONS and parse_ofctl(action.ofctl()) == action
    assert len({action, type(action)(*vars(action).values())}) == 1  # hashable, equal by value


def test_a_dump_flow_that_fits_no_declared_table_is_refused():
    line = " cookie=0x5d1a000000000001, duration=1.0s, table=1, n_packets=0, n_bytes=0, priority=5,dl_dst=02:00:00:00:00:01 actions=drop"
    with pytest.raises(ValueError, match="does not match on eth_dst.*line: cookie="):
        parse_dump(line)
