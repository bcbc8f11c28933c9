"""Steps on labs that implement only part of `StepTarget`: `missing_on` from each step's `method`, the underlay
steps on a lab with `set_underlay` (the rehearsal) and on one with only `set_link` (the simulator), and the steps a
rehearsal refuses before building anything (deploy/rehearse_run.refused)."""

from __future__ import annotations

import pytest

from deploy.rehearse_run import RehearsalTarget, refused
from sdnlab import loads
from sdnlab.scenario import LabState, load_scenario
from sdnlab.steps import (
    STEPS,
    Expect,
    LinkDown,
    LinkUp,
    NicDown,
    NodeLinkDown,
    NodeLinkUp,
    ReplicaTarget,
    Restart,
    SetTag,
    Step,
    StepTarget,
    StopController,
    Wait,
    unsupported,
)
from tests.conftest import TOPOLOGIES

NOT_YET = "not supported by this builder yet"
NOT_A_CLUSTER = "not supported by this builder yet: it runs one controller, not a cluster of replicas"


class Calls:
    """A lab that records the calls made to it."""

    def __init__(self):
        self.calls: list[tuple] = []


class LinksAndWaits(Calls):
    """Has only set_link and wait."""

    def set_link(self, link_id: str, up: bool) -> None:
        self.calls.append(("set_link", link_id, up))

    def wait(self, seconds: float) -> None:
        self.calls.append(("wait", seconds))


class Underlay(LinksAndWaits):
    """Has set_underlay too (as the rehearsal)."""

    def set_underlay(self, a: str, b: str, up: bool) -> None:
        self.calls.append(("set_underlay", a, b, up))


class UnderlayOnly(Calls):
    def set_underlay(self, a: str, b: str, up: bool) -> None:
        self.calls.append(("set_underlay", a, b, up))


class NotCallable:
    set_link = None
    set_underlay = "cut"
    wait = 5


def test_missing_on_follows_the_method_each_step_calls():
    target = LinksAndWaits()
    assert LinkDown(index=0, links=(0,)).missing_on(target) is None
    assert LinkUp(index=0, links=(0,)).missing_on(target) is None
    assert Wait(index=0, seconds=1.0).missing_on(target) is None
    assert NodeLinkDown(index=0, nodes=("a", "b")).missing_on(target) is None  # by set_link, as the simulator does it
    assert NicDown(index=0, endpoint="e").missing_on(target) == NOT_YET
    assert SetTag(index=0, endpoint="e", tag=10).missing_on(target) == NOT_YET
    assert Restart(index=0).missing_on(target) == NOT_YET
    assert Expect(index=0, intent=True).missing_on(target) == NOT_YET
    assert StopController(index=0).missing_on(target) == NOT_A_CLUSTER
    # The class is asked as well as an instance (a builder refuses before it makes its lab).
    assert NicDown(index=0, endpoint="e").missing_on(LinksAndWaits) == NOT_YET
    assert LinkDown(index=0, links=(0,)).missing_on(LinksAndWaits) is None


def test_the_underlay_steps_need_set_underlay_or_set_link_and_attributes_that_are_not_methods_do_not_count():
    assert NodeLinkUp(index=0, nodes=("a", "b")).missing_on(UnderlayOnly()) is None
    assert LinkDown(index=0, links=(0,)).missing_on(UnderlayOnly()) == NOT_YET
    assert NodeLinkDown(index=0, nodes=("a", "b")).missing_on(object()) == NOT_YET
    assert NodeLinkDown(index=0, nodes=("a", "b")).missing_on(NotCallable()) == NOT_YET
    assert LinkDown(index=0, links=(0,)).missing_on(NotCallable()) == NOT_YET
    assert Wait(index=0).missing_on(NotCallable()) == NOT_YET


def test_every_step_kind_names_a_method_of_a_target_or_decides_for_itself():
    for kind, cls in STEPS.items():
        if cls.method is None:
            assert cls.missing_on is not Step.missing_on, kind  # else it would pass on any lab
        else:
            assert hasattr(StepTarget, cls.method) or hasattr(ReplicaTarget, cls.method), (kind, cls.method)
    assert {k for k, c in STEPS.items() if c.method is None} == {"node_link_down", "node_link_up"}


# -- node_link_down / node_link_up ------------------------------------------------------------------------------------

NODES = loads("""
name: three
nodes: {n1: {}, n2: {}, n3: {}}
bridges: {a: {type: ovs, node: n1}, b: {type: ovs, node: n1}, c: {type: ovs, node: n2}, d: {type: ovs, node: n3}}
links:
  - {name: inside, between: [a, b]}
  - {name: first, between: [b, c]}
  - {name: n23, between: [c, d]}
  - {name: second, between: [c, a]}
""", "three.yaml")


def run(step, target, state: LabState | None = None) -> LabState:
    """As `play` does it: the model takes the step, then the lab does it."""
    state = state or LabState(NODES)
    state.apply(step)
    step.run(target, state)
    return state


def test_a_lab_with_set_underlay_cuts_the_underlay_once_with_both_nodes():
    target = Underlay()
    state = run(NodeLinkDown(index=0, nodes=("n2", "n1")), target)
    assert target.calls == [("set_underlay", "n2", "n1", False)]  # not set_link, though the lab has it
    run(NodeLinkUp(index=1, nodes=("n2", "n1")), target, state)
    assert target.calls == [("set_underlay", "n2", "n1", False), ("set_underlay", "n2", "n1", True)]


def test_a_lab_with_only_set_link_takes_down_the_links_between_the_two_nodes():
    target = LinksAndWaits()
    state = run(NodeLinkDown(index=0, nodes=("n1", "n2")), target)
    assert target.calls == [("set_link", "first", False), ("set_link", "second", False)]
    assert state.cut_nodes == {frozenset({"n1", "n2"})}
    target.calls.clear()
    run(NodeLinkUp(index=1, nodes=("n2", "n1")), target, state)
    assert target.calls == [("set_link", "first", True), ("set_link", "second", True)]


def test_restoring_the_underlay_leaves_down_a_link_a_step_took_down():
    target = LinksAndWaits()
    state = run(LinkDown(index=0, links=(3,)), target)  # `second`
    state = run(NodeLinkDown(index=1, nodes=("n1", "n2")), target, state)
    target.calls.clear()
    run(NodeLinkUp(index=2, nodes=("n1", "n2")), target, state)
    assert target.calls == [("set_link", "first", True)]


# -- what a rehearsal refuses ----------------------------------------------------------------------------------------

TOPOLOGY = """
name: refusals
nodes: {n1: {}, n2: {}}
vlans: {10: {}, 20: {}}
bridges: {a: {type: ovs, node: n1}, b: {type: ovs, node: n1}, c: {type: ovs, node: n2}}
endpoints:
  e1: {type: host, node: n1, nics: [{bridge: a, tag: 10, ip: 10.0.0.1/24}]}
  e2: {type: host, node: n2, nics: [{bridge: c, tag: 10, ip: 10.0.0.2/24}]}
links:
  - {name: inner, between: [a, b], trunks: [10]}
  - {name: cross, between: [b, c], trunks: [10]}
"""

SCENARIO = """
topology: refusals.yaml
steps:
  - link_down: cross
  - link_down: inner
  - link_up: [a, b]
  - nic_down: e1
  - nic_up: e1
  - set_tag: {endpoint: e1, tag: 20}
  - restart: controller
  - stop_controller: master
  - node_link_down: [n1, n2]
  - wait: 1
  - expect: intent
"""


@pytest.fixture
def scenario(tmp_path):
    (tmp_path / "refusals.yaml").write_text(TOPOLOGY)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    return load_scenario(tmp_path / "scenario.yaml")


def test_the_rehearsal_refuses_every_step_it_cannot_do_saying_why(scenario):
    found = refused(scenario)
    expected = [
        "step 2 (link_down inner (a-b)): links inner are within one node; the rehearsal takes down only links between nodes",
        "step 3 (link_up inner (a-b)): links inner are within one node; the rehearsal takes down only links between nodes",
        f"step 4 (nic_down e1): {NOT_YET}",
        f"step 5 (nic_up e1): {NOT_YET}",
        f"step 6 (set_tag e1 NIC 0 to tag 20): {NOT_YET}",
        f"step 7 (restart controller): {NOT_YET}",
        f"step 8 (stop_controller master): {NOT_A_CLUSTER}",
    ]
    assert sorted(found) == sorted(expected) and len(found) == len(expected)


def test_the_rehearsal_target_class_has_what_the_rehearsal_does(scenario):
    assert unsupported([s for s in scenario.steps if s.kind in ("link_down", "node_link_down", "wait", "expect")], RehearsalTarget,
                       scenario.topology) == []


def test_the_rehearsal_cuts_the_underlay_itself_rather_than_its_tunnels(scenario):
    class Hosts(Calls):
        def set_underlay(self, a: str, b: str, up: bool) -> None:
            self.calls.append(("set_underlay", a, b, up))

    # Checked first: without it the step would fall back to set_link, which enters the nodes' namespaces
    # (the fake has no `names`, so it would stop there anyway).
    assert callable(getattr(RehearsalTarget, "set_underlay", None))
    hosts = Hosts()
    step = next(s for s in scenario.steps if s.kind == "node_link_down")
    run(step, RehearsalTarget(hosts, scenario.topology, out=None), LabState(scenario.topology))
    assert hosts.calls == [("set_underlay", "n1", "n2", False)]


def test_the_bundled_underlay_scenario_is_not_refused_and_the_retag_one_is():
    assert refused(load_scenario(TOPOLOGIES / "scenarios" / "across-hosts-underlay.yaml")) == []
    assert refused(load_scenario(TOPOLOGIES / "scenarios" / "retag.yaml")) == [
        f"step 2 (set_tag web2 NIC 0 to tag 20): {NOT_YET}", f"step 5 (restart controller): {NOT_YET}"]
