"""The pictures the notebooks show besides the lab itself: endpoints ringed by their live
state, two labs with the pairs one lost and the other gained, a lab with parts failed, and
one frame's walk through a switch's flow tables. Each is checked through what it draws
(`draw.drawn`: every object's gid and colour), not by looking at it."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest

from controller.actions import Output, PushVlan, SetVlan
from controller.flows import Flow
from controller.oftable import FlowTables, Frame, Result, Step, outcome, steps
from controller.simlab import SimulatedLab
from controller.tables import PIPELINE
from deploy import lab as deploy
from deploy.lxc import LxcDriver
from deploy.qemu import QemuDriver
from sdnlab import analyse, load, loads
from sdnlab.diff import diff
from sdnlab.draw import (
    FAILED,
    GAINED,
    LOST,
    STATE_COLOURS,
    diff_figure,
    drawn,
    failure_figure,
    figure,
    pipeline_path,
    state_colours,
)
from sdnlab.failures import fail, parse_part
from sdnlab.pve import DirSource, import_snapshot
from tests.conftest import TOPOLOGIES

PENDING = Path(__file__).resolve().parents[1] / "fixtures" / "pve" / "pending"
TABLES = [(t.id, t.name) for t in PIPELINE]


@pytest.fixture(autouse=True)
def close_figures():
    matplotlib.use("Agg")  # rendered off screen, so every artist has its place in pixels
    yield
    plt.close("all")


def snapshot(pending: bool):
    return analyse(loads(import_snapshot(DirSource(PENDING), pending=pending, name="pending").text, "pending.yaml" if pending else "running.yaml"))


# -- live state ---------------------------------------------------------------------------------

def test_each_state_has_its_colour_and_an_unknown_state_is_refused():
    assert state_colours({"a": "running", "b": "stopped", "c": "absent"}) == {"a": "#38a169", "b": "#e53e3e", "c": "#a0aec0"}
    assert state_colours({}) == {}
    assert len(set(STATE_COLOURS.values())) == len(STATE_COLOURS)
    with pytest.raises(ValueError, match="no colour for state 'paused'"):
        state_colours({"a": "running", "b": "paused"})


def test_the_lab_drawn_with_states_rings_each_endpoint_in_its_states_colour():
    analysis = analyse(load(TOPOLOGIES / "real-lab.yaml"))
    states = {"ct1": "running", "ct2": "stopped", "vm1": "absent", "vm2": "running"}
    fig = figure(analysis, states=states)
    assert drawn(fig, "endpoint") == state_colours(states)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][-3:] == ["running", "stopped", "absent"]
    # Without states, the thin black edge of every picture before.
    assert set(drawn(figure(analysis), "endpoint").values()) == {"#000000"}
    # An endpoint without a state keeps it too.
    assert drawn(figure(analysis, states={"ct1": "stopped"}), "endpoint") == {"ct1": "#e53e3e", "vm1": "#000000", "ct2": "#000000", "vm2": "#000000"}


def test_endpoint_states_read_the_state_file_and_ask_each_driver_whether_it_is_alive(monkeypatch, tmp_path):
    monkeypatch.setattr(deploy, "STATE_ROOT", tmp_path)
    topology = load(TOPOLOGIES / "real-lab.yaml")
    lab = deploy.Lab(topology, deploy.State(topology.name))
    asked = []

    def alive(self, record):
        asked.append(record["name"])
        return record["name"] in {lab.names.container("ct1"), "vm2"}

    monkeypatch.setattr(LxcDriver, "alive", alive)
    monkeypatch.setattr(QemuDriver, "alive", alive)
    objects = [{"kind": "ovs-bridge", "name": "vmbr0"}]
    for name in ("ct1", "ct2", "vm2"):  # vm1 never recorded: up did not get to it
        drv = lab.driver(name)
        objects.append({"kind": "endpoint", "type": drv.kind, **drv.record(lab, topology.endpoints[name])})
    state = deploy.State(topology.name, topology.name, objects)
    assert deploy.endpoint_states(topology, state) == {"ct1": "running", "ct2": "stopped", "vm1": "absent", "vm2": "running"}
    assert sorted(asked) == sorted([lab.names.container("ct1"), lab.names.container("ct2"), "vm2"])
    # A record of another kind under an endpoint's name is not that endpoint.
    wrong = deploy.State(topology.name, topology.name, [{"kind": "endpoint", "type": "lxc", "name": "vm2"}])
    assert deploy.endpoint_states(topology, wrong)["vm2"] == "absent"
    # A lab that is down: every endpoint absent (the state file is gone); each state has a colour.
    assert deploy.endpoint_states(topology) == dict.fromkeys(sorted(topology.endpoints), "absent")
    assert set(deploy.endpoint_states(topology, state).values()) <= set(STATE_COLOURS)


# -- diff and failures --------------------------------------------------------------------------

def test_a_diff_is_drawn_as_two_labs_with_the_pairs_lost_and_gained():
    change = diff(snapshot(False), snapshot(True))
    fig = diff_figure(change)
    left, right = fig.axes[:2]
    assert drawn(left, "pair") == {"alpha-beta": LOST, "beta-delta": LOST}
    assert drawn(right, "pair") == {"alpha-delta": GAINED, "alpha-gamma2": GAINED}
    assert list(drawn(left, "endpoint")) == ["alpha", "beta", "gamma", "delta"]
    assert list(drawn(right, "endpoint")) == ["alpha", "beta", "gamma2", "delta"]
    assert left.get_title() == "running.yaml: 2 pairs lost" and right.get_title() == "pending.yaml: 2 pairs gained"
    assert [a.get_title() for a in diff_figure(change, ("now", "then")).axes[:2]] == ["now", "then"]
    # The same lab twice: nothing marked.
    same = diff_figure(diff(snapshot(True), snapshot(True)))
    assert drawn(same.axes[0], "pair") == drawn(same.axes[1], "pair") == {}
    assert same.axes[0].get_title() == "pending.yaml: 0 pairs lost"
    one = diff_figure(diff(snapshot(True), fail(snapshot(True), [parse_part("link:link1")]).analysis))
    assert one.axes[0].get_title() == "pending.yaml: 1 pair lost" and one.axes[1].get_title() == "pending.yaml: 0 pairs gained"


def test_pairs_marked_on_one_row_bow_apart_and_stay_inside_the_picture():
    fig = diff_figure(diff(snapshot(False), snapshot(True)))
    right = fig.axes[1]
    fig.canvas.draw()
    arcs = [a for a in right.patches if (a.get_gid() or "").startswith("pair ")]
    boxes = [a.get_window_extent() for a in arcs]
    up, down = sorted(boxes, key=lambda box: -box.y1)
    assert up.y0 >= down.y1 - 5 and up.y1 > up.y0 + 20 and down.y1 > down.y0 + 20  # one bows up from the row, the other down
    frame = right.get_window_extent()
    for box in boxes:
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1 and frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1


def test_a_failed_link_is_drawn_red_with_the_pairs_it_cuts():
    pending = snapshot(True)
    failure = fail(pending, [parse_part("link:[pve1-vmbr1, pve2-vmbr1]")])
    fig = failure_figure(failure)
    assert drawn(fig, "pair") == {"alpha-gamma2": LOST}
    assert drawn(fig, "link") == {"link0": "#cbd5e0", "link1": FAILED}  # the failed link red, the others pale
    assert fig.axes[0].get_title() == "with link:[pve1-vmbr1,pve2-vmbr1] failed: 1 pair cut"
    assert drawn(fig, "failed node") == {} and drawn(fig, "failed bridge") == {}


def test_a_failed_node_or_bridge_is_hatched_red():
    pending = snapshot(True)
    node = failure_figure(fail(pending, [parse_part("node:pve1")]), "pve1 down")
    assert drawn(node, "failed node") == {"pve1": FAILED}
    assert drawn(node, "pair") == {"alpha-delta": LOST, "alpha-gamma2": LOST}
    assert node.axes[0].get_title() == "pve1 down"
    _, ax = plt.subplots()
    bridge = failure_figure(fail(pending, [parse_part("bridge:pve2-vmbr1")]), ax=ax)
    assert bridge is ax.figure
    assert drawn(bridge, "failed bridge") == {"pve2-vmbr1": FAILED}
    assert drawn(bridge, "pair") == {"alpha-gamma2": LOST}


# -- one frame through the pipeline ------------------------------------------------------------

def two_nodes():
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    lab = SimulatedLab(topology)
    web1, web2 = topology.endpoints["web1"].nics[0], topology.endpoints["web2"].nics[0]
    bridge, port = lab.plan.nic_port(web1.id)
    return lab, web1, web2, bridge, port


def test_steps_and_outcome_are_the_walk_explain_prints():
    first = Flow(0, 100, (("in_port", 1), ("vlan_vid", 0)), (PushVlan(), SetVlan(0x1000 | 10)), 1, 1)
    last = Flow(1, 0, (), (Output(2),), None, 1)
    result = Result(outputs=[(2, Frame("0a:00:00:00:00:01", "0a:00:00:00:00:02", (10,)))], path=[first, last, Flow(2, 7, (), (), None, 1)])
    assert steps(result) == [Step(0, 100, ("in_port=1", "vlan_vid=0"), ("push_vlan", "set_vlan 4106", "goto table 1")),
                             Step(1, 0, (), ("output 2",)), Step(2, 7, (), ())]
    assert outcome(result) == "port 2 (vlans [10])"
    assert steps(Result()) == [] and outcome(Result()) == "nowhere: dropped"


def test_a_delivered_frame_is_drawn_through_every_table_to_its_port():
    lab, web1, web2, bridge, port = two_nodes()
    lab.send(web2.id, Frame(web2.mac, web1.mac))  # learn both ends first
    lab.send(web1.id, Frame(web1.mac, web2.mac))
    walk = FlowTables(lab.flows(bridge)).process(port, Frame(web1.mac, web2.mac))
    fig = pipeline_path(TABLES, steps(walk), outcome(walk), "web1 -> web2", start="web1")
    assert list(drawn(fig, "table")) == ["0", "1", "2", "3"]
    assert list(drawn(fig, "step")) == ["0", "1", "2", "3"]
    assert drawn(fig, "outcome") == {"delivered": GAINED}
    arrows = [p for p in fig.axes[0].patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(arrows) == 5  # in, three between the tables, out
    texts = "\n".join(t.get_text() for t in fig.axes[0].texts)
    assert "-> output 2" in texts and "CLASSIFY" in texts and "out: port 2 (vlans [10])" in texts and "web1" in texts


def test_a_forged_frame_is_drawn_dropped_in_the_first_table_and_the_rest_left_grey():
    lab, web1, _, bridge, port = two_nodes()
    walk = FlowTables(lab.flows(bridge)).process(port, Frame(web1.mac, "ff:ff:ff:ff:ff:ff", vlans=(20,)))
    fig = pipeline_path(TABLES, steps(walk), outcome(walk))
    tables = drawn(fig, "table")
    assert tables["0"] != tables["1"] == tables["2"] == tables["3"]  # only the table it went through stands out
    assert drawn(fig, "step") == {"0": LOST} and drawn(fig, "outcome") == {"dropped": LOST}
    assert len([p for p in fig.axes[0].patches if type(p).__name__ == "FancyArrowPatch"]) == 1  # in, and nothing after the drop
    assert fig.axes[0].get_title() == "one frame through 4 tables: 1 flows matched"


def test_the_walk_drawn_fits_its_columns():
    lab, web1, web2, bridge, port = two_nodes()
    walk = FlowTables(lab.flows(bridge)).process(port, Frame(web1.mac, web2.mac))
    fig = pipeline_path(TABLES, steps(walk), outcome(walk))
    fig.canvas.draw()
    ax = fig.axes[0]
    columns = [p.get_window_extent() for p in ax.patches if (p.get_gid() or "").startswith("table ")]
    cards = [t.get_window_extent() for t in ax.texts if t.get_text().startswith("priority ")]
    assert len(cards) == len(steps(walk)) == 4
    for card, column in zip(cards, columns, strict=True):
        assert column.x0 <= card.x0 and card.x1 <= column.x1 and column.y0 <= card.y0 and card.y1 <= column.y1


def test_a_walk_through_a_table_the_picture_lacks_is_refused():
    with pytest.raises(ValueError, match="table 7"):
        pipeline_path(TABLES, [Step(7, 0, (), ())], "nowhere: dropped")
    # No flow matched at all (a table-miss in table 0): straight in to the outcome.
    fig = pipeline_path(TABLES, [], "nowhere: dropped")
    assert drawn(fig, "step") == {} and len([p for p in fig.axes[0].patches if type(p).__name__ == "FancyArrowPatch"]) == 1
