"""The scenario steps format 1.1 adds: the underlay between nodes, and controller replicas.

The lab: three nodes; pve1 and pve2 are joined by two links (l12 b1-b2, l12b
b2-b1b), b1 and b1b by l1 inside pve1, pve2 and pve3 by l23. Cutting the
pve1-pve2 underlay leaves h1 alone; h2 and h3 still reach each other.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdnlab import TopologyError, report
from sdnlab.scenario import load_scenario, play
from sdnlab.steps import StopController, UnsupportedStep, unsupported
from tests.unit.test_steps import FakeTarget

TOPOLOGY = """\
name: nl
nodes: {pve1: {}, pve2: {}, pve3: {}}
vlans: {10: {}, 20: {}}
bridges:
  b1: {type: ovs, node: pve1}
  b1b: {type: ovs, node: pve1}
  b2: {type: ovs, node: pve2}
  b3: {type: ovs, node: pve3}
endpoints:
  h1: {type: host, node: pve1, nics: [{bridge: b1, tag: 10, ip: 10.0.0.1/24}]}
  h2: {type: host, node: pve2, nics: [{bridge: b2, tag: 10, ip: 10.0.0.2/24}]}
  h3: {type: host, node: pve3, nics: [{bridge: b3, tag: 10, ip: 10.0.0.3/24, trunks: [20]}]}
links:
  - {name: l12, between: [b1, b2]}
  - {name: l12b, between: [b2, b1b]}
  - {name: l1, between: [b1, b1b]}
  - {name: l23, between: [b2, b3]}
controller: {replicas: 3}
"""


def write(tmp_path: Path, steps: str) -> Path:
    (tmp_path / "nl.yaml").write_text(TOPOLOGY)
    (tmp_path / "s.yaml").write_text("topology: nl.yaml\nsteps:\n" + steps)
    return tmp_path / "s.yaml"


class ClusterTarget(FakeTarget):
    """A lab with a cluster of controllers (no builder has one yet): it records the replica calls."""

    def stop_replica(self, replica):
        self.calls.append(("stop_replica", replica))

    def start_replica(self, replica):
        self.calls.append(("start_replica", replica))

    def partition_replica(self, replica):
        self.calls.append(("partition_replica", replica))

    def heal_replica(self, replica):
        self.calls.append(("heal_replica", replica))


def test_node_link_steps_cut_and_restore_the_links_between_two_nodes(tmp_path):
    scenario = load_scenario(write(tmp_path, (
        "  - node_link_down: [pve1, pve2]\n"
        "  - expect: intent\n"
        "  - link_down: l12\n"
        "  - link_up: l12b\n"  # the underlay is still cut: l12b stays down
        "  - node_link_up: [pve2, pve1]\n"  # l12 stays down: a link_down took it
        "  - expect: intent\n"
        "  - link_up: l12\n"
    )))
    target = FakeTarget()
    state = play(scenario, target)
    assert [c for c in target.calls if c[0] == "set_link"] == [
        ("set_link", "l12", False), ("set_link", "l12b", False),
        ("set_link", "l12", False),
        ("set_link", "l12b", True),
        ("set_link", "l12", True),
    ]
    [(first, probe1, good1), (second, probe2, good2)] = scenario.intent_at()
    assert probe1 == [("h1", "h2"), ("h1", "h3"), ("h2", "h3")]
    assert good1 == {("h2", "h3")}  # h1 is cut off: its bridges' only ways out cross the underlay
    assert good2 == {("h1", "h2"), ("h1", "h3"), ("h2", "h3")}  # back through l1 and l12b
    assert state.cut_nodes == set() and state.down_links == set()


def test_node_link_steps_describe_which_links_they_touch(tmp_path):
    text = report.scenario_text(load_scenario(write(tmp_path, "  - node_link_down: [pve2, pve3]\n  - node_link_up: [pve1, pve3]\n")))
    assert text.splitlines()[1:] == [
        "   1. node_link_down pve2-pve3 (links between them: l23)",
        "   2. node_link_up pve1-pve3 (links between them: none)",
    ]


def test_replica_steps_are_parsed_and_played_on_a_lab_with_a_cluster(tmp_path):
    scenario = load_scenario(write(tmp_path, (
        "  - stop_controller: master\n  - start_controller: 2\n  - partition_controller: 3\n  - heal_controller: all\n  - expect: intent\n"
    )))
    target = ClusterTarget()
    play(scenario, target)
    assert [c for c in target.calls if c[0] not in ("begin", "expect")] == [
        ("stop_replica", None), ("start_replica", 2), ("partition_replica", 3), ("heal_replica", None),
    ]
    assert unsupported(scenario.steps, ClusterTarget, scenario.topology) == []


def test_a_lab_without_a_cluster_refuses_replica_steps_before_and_at_the_step(tmp_path):
    scenario = load_scenario(write(tmp_path, "  - wait: 1\n  - stop_controller: 2\n  - heal_controller: all\n"))
    why = "not supported by this builder yet: it runs one controller, not a cluster of replicas"
    assert unsupported(scenario.steps, FakeTarget, scenario.topology) == [
        f"step 2 (stop_controller 2): {why}",
        f"step 3 (heal_controller all): {why}",
    ]
    with pytest.raises(UnsupportedStep, match="stop_controller 2: not supported by this builder yet"):
        play(scenario, FakeTarget())
    assert StopController(index=0).missing_on(ClusterTarget()) is None


BAD = [
    ("  - stop_controller: 4\n", 3, 22, "steps[0].stop_controller",
     "stop_controller takes 'master' or a replica number from 1 to 3 (controller.replicas is 3), not '4'"),
    ("  - start_controller: true\n", 3, 23, "steps[0].start_controller",
     "start_controller takes 'all' or a replica number from 1 to 3 (controller.replicas is 3), not 'True'"),
    ("  - heal_controller: master\n", 3, 22, "steps[0].heal_controller",
     "heal_controller takes 'all' or a replica number from 1 to 3 (controller.replicas is 3), not 'master'"),
    ("  - partition_controller: [1]\n", 3, 27, "steps[0].partition_controller",
     "partition_controller takes 'master' or a replica number from 1 to 3 (controller.replicas is 3), not a list"),
    ("  - node_link_down: [pve1]\n", 3, 21, "steps[0].node_link_down", "node_link_down takes two node names [N1, N2]"),
    ("  - node_link_up: [pve1, mars]\n", 3, 19, "steps[0].node_link_up", "unknown node 'mars'; nodes are: pve1, pve2, pve3"),
    ("  - node_link_down: [pve2, pve2]\n", 3, 21, "steps[0].node_link_down", "node_link_down takes two different nodes, not pve2 twice"),
    ("  - set_tag: {endpoint: h3, tag: 20}\n", 3, 34, "steps[0].set_tag.tag",
     "VLAN 20 is in trunks of h3's NIC 0, carried tagged; it cannot also be the NIC's untagged tag"),
]


@pytest.mark.parametrize(("steps", "line", "column", "path", "message"), BAD)
def test_each_bad_v11_step_is_a_problem_with_its_place(tmp_path, steps, line, column, path, message):
    with pytest.raises(TopologyError) as info:
        load_scenario(write(tmp_path, steps))
    assert [(p.line, p.column, p.path, p.message) for p in info.value.problems] == [(line, column, path, message)]
