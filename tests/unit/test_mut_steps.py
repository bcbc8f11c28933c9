"""Mutation tests for sdnlab/steps.py: each step kind's parsing, problem by problem, word for word.

Steps are parsed directly (`Kind.parse(arg, ParseContext(...))`) with a
reporter that records every problem's key path, message and whether it
points at the key, so a wrong path or message shows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Interface

import pytest

from sdnlab import loads
from sdnlab.problems import Index
from sdnlab.scenario import LabState
from sdnlab.steps import STEPS, Expect, LinkDown, LinkUp, NicDown, NicUp, ParseContext, Restart, SetTag, Step, Wait, register, unsupported

# One OVS trunk pair with two links, a plain Linux bridge; VLAN 1 is declared so that `true` (== 1) would be a VLAN.
TOPOLOGY = loads("""
name: steps
vlans: {1: {}, 10: {}, 20: {}}
bridges: {br1: {type: ovs}, br2: {type: ovs}, lb: {type: linux}}
endpoints:
  a: {type: host, nics: [{bridge: br1, tag: 10, ip: 10.0.0.1/24}, {bridge: br2, tag: 20, ip: 10.2.0.1/24}]}
  b: {type: host, nics: [{bridge: br2, tag: 10, ip: 10.0.0.2/24}]}
  c: {type: host, nics: [{bridge: lb, ip: 192.168.0.3/24}]}
  d: {type: host, nics: [{bridge: br2, tag: 20, ip: 10.2.0.4/24}]}
  e: {type: host, nics: [{bridge: br1, tag: 20}]}
links:
  - {name: l12, between: [br1, br2]}
  - {between: [br2, br1]}
  - {between: [br2, lb]}
""")


class Reporter:
    def __init__(self):
        self.problems: list[tuple] = []

    def error(self, path: tuple, message: str, at_key: bool = False) -> None:
        self.problems.append((path, message, at_key))


def parse(kind: str, arg, state: LabState | None = None) -> tuple[Step | None, list[tuple]]:
    reporter = Reporter()
    at = ParseContext(index=4, line=9, path=("steps", Index(4), kind), state=state or LabState(TOPOLOGY), report=reporter)
    return STEPS[kind].parse(arg, at), reporter.problems


P = ("steps", Index(4))


def only_problem(kind: str, arg, state: LabState | None = None) -> tuple:
    step, problems = parse(kind, arg, state)
    assert step is None
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(
    "arg, message",
    [("nowhere", "no link is named 'nowhere'"), (["br1", "lb"], "no link joins br1 and lb"), (["lb", "br9"], "unknown bridge 'br9'"),
     (5, "give a link's name, or two bridge names [A, B]"), (["br1"], "give a link's name, or two bridge names [A, B]"),
     (["br1", 5], "give a link's name, or two bridge names [A, B]"), ({"between": ["br1", "br2"]}, "give a link's name, or two bridge names [A, B]")],
)
def test_a_link_step_that_names_no_link(arg, message):
    assert only_problem("link_down", arg) == (P + ("link_down",), message, False)


def test_link_steps_find_every_link_between_two_bridges_in_either_order():
    step, problems = parse("link_up", ["br2", "br1"])
    assert problems == [] and step == LinkUp(index=4, line=9, links=(0, 1))
    assert parse("link_down", "l12") == (LinkDown(index=4, line=9, links=(0,)), [])
    assert step.describe(TOPOLOGY) == "link_up l12 (br1-br2), link1 (br2-br1)"


def test_nic_steps():
    assert parse("nic_down", "a") == (NicDown(index=4, line=9, endpoint="a"), [])
    assert parse("nic_up", "b") == (NicUp(index=4, line=9, endpoint="b"), [])
    assert only_problem("nic_up", "z") == (P + ("nic_up",), "unknown endpoint 'z'", False)


S = P + ("set_tag",)
NEEDS = "set_tag needs {endpoint: E, nic: N, tag: T} (tag: null for untagged; ip optional)"
IP_FORM = "ip must be an IPv4 address with a prefix length, like 10.0.10.11/24, not '{}'"


@pytest.mark.parametrize(
    "arg, problem",
    [(["a"], (S, NEEDS, False)), ({"endpoint": "a"}, (S, NEEDS, False)), ({"tag": 10}, (S, NEEDS, False)),
     ({"endpoint": "z", "tag": 10}, (S + ("endpoint",), "unknown endpoint 'z'", False)),
     ({"endpoint": "a", "nic": 2, "tag": 10}, (S + ("nic",), "a has NICs 0 to 1, not 2", False)),
     ({"endpoint": "a", "nic": -1, "tag": 10}, (S + ("nic",), "a has NICs 0 to 1, not -1", False)),
     ({"endpoint": "a", "nic": True, "tag": 10}, (S + ("nic",), "a has NICs 0 to 1, not True", False)),
     ({"endpoint": "a", "nic": "0", "tag": 10}, (S + ("nic",), "a has NICs 0 to 1, not 0", False)),
     ({"endpoint": "a", "tag": 30}, (S + ("tag",), "tag must be a declared VLAN (1, 10, 20) or null", False)),
     ({"endpoint": "a", "tag": True}, (S + ("tag",), "tag must be a declared VLAN (1, 10, 20) or null", False)),
     ({"endpoint": "a", "tag": "10"}, (S + ("tag",), "tag must be a declared VLAN (1, 10, 20) or null", False)),
     ({"endpoint": "c", "tag": 10}, (S + ("tag",), "bridge lb is a Linux bridge that is not VLAN-aware, so it cannot carry tag 10", False)),
     ({"endpoint": "a", "tag": 20, "ip": "10.0.0.300/24"}, (S + ("ip",), IP_FORM.format("10.0.0.300/24"), False)),
     ({"endpoint": "a", "tag": 20, "ip": "10.0.0.9"}, (S + ("ip",), IP_FORM.format("10.0.0.9"), False)),
     ({"endpoint": "a", "tag": 20, "ip": 5}, (S + ("ip",), IP_FORM.format(5), False)),
     ({"endpoint": "a", "nic": 1, "tag": 20, "ip": "10.0.0.2/24"}, (S + ("ip",), "address 10.0.0.2 is already used by b's NIC 0", False)),
     ({"endpoint": "b", "tag": 20, "ip": "10.2.0.1/16"}, (S + ("ip",), "address 10.2.0.1 is already used by a's NIC 1", False))],
)
def test_a_set_tag_that_cannot_be_done(arg, problem):
    assert only_problem("set_tag", arg) == problem


def test_a_set_tag_with_an_unknown_key_is_reported_at_the_key_and_still_parsed():
    step, problems = parse("set_tag", {"endpoint": "a", "tag": 10, "colour": "red"})
    assert problems == [(S + ("colour",), "unknown key 'colour'; expected endpoint, nic, tag, ip", True)]
    assert step == SetTag(index=4, line=9, endpoint="a", nic=0, tag=10, ip=None)


def test_set_tag_steps():
    assert parse("set_tag", {"endpoint": "a", "nic": 1, "tag": None}) == (SetTag(index=4, line=9, endpoint="a", nic=1, tag=None, ip=None), [])
    step, problems = parse("set_tag", {"endpoint": "a", "tag": 20, "ip": "10.0.0.1/16"})  # its own address, a new prefix: fine
    assert problems == [] and step == SetTag(index=4, line=9, endpoint="a", nic=0, tag=20, ip=IPv4Interface("10.0.0.1/16"))
    assert step.ip is not None and SetTag(index=0, endpoint="a", tag=None).ip is None


def test_set_tag_runs_with_its_address():
    calls = []

    class Target:
        def retag(self, *args):
            calls.append(args)

    step = SetTag(index=0, endpoint="a", nic=1, tag=20, ip=IPv4Interface("10.2.0.9/24"))
    step.run(Target(), LabState(TOPOLOGY))
    assert calls == [("a", 1, 20, IPv4Interface("10.2.0.9/24"))]


def test_restart_and_wait():
    assert parse("restart", "controller") == (Restart(index=4, line=9), [])
    assert only_problem("restart", "switch") == (P + ("restart",), "only 'restart: controller' is supported", False)
    assert parse("wait", 0) == (Wait(index=4, line=9, seconds=0.0), [])
    assert parse("wait", 0.5) == (Wait(index=4, line=9, seconds=0.5), [])
    for bad in (-1, -0.5, True, "1", None):
        assert only_problem("wait", bad) == (P + ("wait",), "wait takes a number of seconds, 0 or more", False)


E = P + ("expect",)
TAKES = "expect takes 'intent' or {reachable: [[A, B], ...], isolated: [[C, D], ...]}"
PAIR = "a pair is two different endpoint names [A, B]"


@pytest.mark.parametrize("arg", [{}, 5, None, "sometimes", [["a", "b"]], {"reachable": [["a", "b"]], "sometimes": []}])
def test_an_expect_that_is_no_expectation(arg):
    assert only_problem("expect", arg) == (E, TAKES, False)


def test_every_bad_pair_of_an_expect_is_reported():
    step, problems = parse("expect", {
        "reachable": [["a"], ["a", "a"], 5, ["a", "z"], ["z", "y"], ["a", "c"], ["e", "b"]],
        "isolated": [["a", "b", "d"], ["q", "a"], ["c", "d"]],
    })
    r, i = E + ("reachable",), E + ("isolated",)
    assert problems == [
        (r + (Index(0),), PAIR, False), (r + (Index(1),), PAIR, False), (r + (Index(2),), PAIR, False),
        (r + (Index(3),), "unknown endpoint 'z'", False), (r + (Index(4),), "unknown endpoint 'z'", False),
        (r + (Index(5),), "a and c have no addresses in one subnet at this step, so a probe cannot tell", False),
        (r + (Index(6),), "e and b have no addresses in one subnet at this step, so a probe cannot tell", False),
        (i + (Index(0),), PAIR, False), (i + (Index(1),), "unknown endpoint 'q'", False),
        (i + (Index(2),), "c and d have no addresses in one subnet at this step, so a probe cannot tell", False),
    ]
    assert step == Expect(index=4, line=9, reachable=(), isolated=())


def test_expect_steps():
    assert parse("expect", "intent") == (Expect(index=4, line=9, intent=True), [])
    step, problems = parse("expect", {"reachable": [["b", "a"]], "isolated": [["d", "a"], ["a", "b"]]})
    assert problems == [(E, "('a', 'b') is listed as both reachable and isolated", False)] and step is None
    step, problems = parse("expect", {"reachable": [["b", "a"]], "isolated": [["d", "a"]]})
    assert problems == [] and step == Expect(index=4, line=9, reachable=(("a", "b"),), isolated=(("a", "d"),))
    assert parse("expect", {"isolated": None, "reachable": [["a", "b"]]})[0].reachable == (("a", "b"),)


def test_a_context_reports_not_at_the_key_unless_told():
    reporter = Reporter()
    at = ParseContext(index=0, line=None, path=(), state=LabState(TOPOLOGY), report=reporter)
    at.error(("x",), "m")
    at.error(("y",), "n", at_key=True)
    assert reporter.problems == [(("x",), "m", False), (("y",), "n", True)]


def test_register_refuses_a_kind_twice_and_adds_a_new_one():
    class Twice(Wait):
        kind = "wait"

    with pytest.raises(ValueError, match="^step kind 'wait' is registered twice$"):
        register(Twice)
    assert STEPS["wait"] is Wait

    class Fresh(Wait):
        kind = "fresh-kind-for-a-test"

    try:
        assert register(Fresh) is Fresh
        assert STEPS["fresh-kind-for-a-test"] is Fresh
    finally:
        STEPS.pop("fresh-kind-for-a-test", None)


def test_the_base_step_is_abstract():
    step = Step(index=0)
    with pytest.raises(NotImplementedError):
        step.describe(TOPOLOGY)
    with pytest.raises(NotImplementedError):
        step.run(None, LabState(TOPOLOGY))
    with pytest.raises(NotImplementedError):
        Step.parse(None, None)
    assert step.apply(LabState(TOPOLOGY)) is None


def test_replica_steps_keep_their_place_and_take_replica_1():
    assert parse("stop_controller", "master") == (STEPS["stop_controller"](index=4, line=9), [])
    # One replica (the default): 1 is the only number there is.
    assert parse("heal_controller", 1) == (STEPS["heal_controller"](index=4, line=9, replica=1), [])
    assert parse("start_controller", 0)[0] is None


NODES = loads("""
name: nodes
nodes: {pve1: {}, pve2: {}}
bridges: {br1: {type: ovs, node: pve1}, br2: {type: ovs, node: pve2}}
links: [{name: up, between: [br1, br2]}, {between: [br2, br1]}]
""")


def test_node_link_steps_keep_their_place_and_list_every_link_between_the_nodes():
    step, problems = parse("node_link_down", ["pve2", "pve1"], LabState(NODES))
    assert problems == [] and step == STEPS["node_link_down"](index=4, line=9, nodes=("pve2", "pve1"))
    assert step.describe(NODES) == "node_link_down pve2-pve1 (links between them: up, link1)"


@dataclass(frozen=True, kw_only=True)
class _Beyond(Step):
    """A step kind no lab can do, which describes itself with the lab's name."""

    kind = "beyond"

    def describe(self, topology):
        return f"beyond {topology.name}"

    def missing_on(self, target):
        return "no lab can"


def test_unsupported_describes_each_step_with_the_topology():
    assert unsupported([_Beyond(index=2)], object(), TOPOLOGY) == ["step 3 (beyond steps): no lab can"]
