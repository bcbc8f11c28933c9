"""Mutation tests for sdnlab/scenario.py: the lab model, files told apart, and the reader's problems."""

from __future__ import annotations

from ipaddress import IPv4Interface

import pytest

from sdnlab import TopologyError, load, loads
from sdnlab.model import Topology
from sdnlab.scenario import LabState, Scenario, is_scenario, load_any, load_scenario, pingable_pairs, retagged
from sdnlab.steps import Expect, LinkDown, NicDown, SetTag
from tests.conftest import TOPOLOGIES

TOPOLOGY = loads("""
name: subnets
vlans: {10: {}}
bridges: {br1: {type: ovs}}
endpoints:
  a: {type: kvm, nics: [{bridge: br1, tag: 10, ip: 10.0.0.1/16}]}
  b: {type: lxc, nics: [{bridge: br1, tag: 10, ip: 10.0.200.2/24}]}
  c: {type: host, nics: [{bridge: br1, tag: 10, ip: 10.0.0.3/24}]}
  d: {type: host, nics: [{bridge: br1, tag: 10}]}
""")


def test_two_endpoints_share_a_subnet_only_when_each_address_is_in_the_others_network():
    # a (10.0.0.1/16) holds b's address, but b (10.0.200.2/24) does not hold a's; d has no address.
    assert pingable_pairs(LabState(TOPOLOGY)) == [("a", "c")]
    state = LabState(TOPOLOGY)
    assert state.share_subnet("a", "c") and not state.share_subnet("a", "b") and not state.share_subnet("a", "d")


def test_the_lab_now_keeps_every_endpoint_as_it_is_but_its_changed_nics():
    state = LabState(TOPOLOGY)
    SetTag(index=0, endpoint="b", tag=None, ip=IPv4Interface("10.0.0.2/16")).apply(state)
    NicDown(index=1, endpoint="d").apply(state)
    now = state.topology()
    assert [(e.name, e.type, e.node) for e in now.endpoints.values()] == [("a", "kvm", "node1"), ("b", "lxc", "node1"), ("c", "host", "node1"), ("d", "host", "node1")]
    assert now.endpoints["b"].nics[0].tag is None and str(now.endpoints["b"].nics[0].ip) == "10.0.0.2/16"
    assert now.endpoints["d"].nics == () and now.endpoints["a"] == TOPOLOGY.endpoints["a"]
    assert pingable_pairs(state) == [("a", "b"), ("a", "c"), ("b", "c")]


def test_retagged_moves_one_nic_and_keeps_or_replaces_its_address():
    moved = retagged(TOPOLOGY, "c", 0, None)
    assert isinstance(moved, Topology)
    assert moved.endpoints["c"].nics[0].tag is None and str(moved.endpoints["c"].nics[0].ip) == "10.0.0.3/24"
    assert moved.endpoints["a"] == TOPOLOGY.endpoints["a"] and TOPOLOGY.endpoints["c"].nics[0].tag == 10
    two = loads("name: two\nvlans: {10: {}}\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br}, {bridge: br}]}}\n")
    assert [n.tag for n in retagged(two, "h", 1, 10).endpoints["h"].nics] == [None, 10]
    readdressed = retagged(TOPOLOGY, "d", 0, 10, "10.9.0.4/24")
    assert readdressed.endpoints["d"].nics[0].tag == 10 and str(readdressed.endpoints["d"].nics[0].ip) == "10.9.0.4/24"


def test_a_scenario_is_a_map_with_steps():
    assert is_scenario({"steps": [], "topology": "x"}) and is_scenario({"steps": None})
    assert not is_scenario({"name": "x"}) and not is_scenario(["steps"]) and not is_scenario("steps")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "two-nodes.yaml").write_text((TOPOLOGIES / "two-nodes.yaml").read_text())
    (tmp_path / "s.yaml").write_text("topology: two-nodes.yaml\ndescription: a cut\nsteps:\n  - link_down: [vmbr0, vmbr1]\n  - expect: intent\n")
    return tmp_path


def test_load_any_tells_a_scenario_from_a_topology(files):
    scenario = load_any(files / "s.yaml")
    assert isinstance(scenario, Scenario) and scenario.source == str(files / "s.yaml")
    assert scenario.topology == load(files / "two-nodes.yaml")
    assert scenario.steps == (LinkDown(index=0, line=4, links=(0,)), Expect(index=1, line=5, intent=True))
    assert load_scenario(files / "s.yaml") == scenario
    topology = load_any(files / "two-nodes.yaml")
    assert isinstance(topology, Topology) and topology.source == str(files / "two-nodes.yaml")


def test_a_scenario_that_is_not_yaml_is_a_topology_error_naming_the_file(files):
    (files / "bad.yaml").write_text("topology: two-nodes.yaml\nsteps: [\n")
    with pytest.raises(TopologyError) as caught:
        load_scenario(files / "bad.yaml")
    assert caught.value.problems and all(p.file == str(files / "bad.yaml") for p in caught.value.problems)
    with pytest.raises(TopologyError) as caught:
        load_any(files / "bad.yaml")
    assert all(p.file == str(files / "bad.yaml") for p in caught.value.problems)


@pytest.mark.parametrize(
    "text, expected",
    [("- 1\n", ["1:1: a scenario file must be a map with 'topology' and 'steps'"]),
     ("steps: [{wait: 1}]\n", ["1:1: a scenario needs 'topology': the path of its topology file, relative to the scenario"]),
     ("topology: 5\nsteps: [{wait: 1}]\n", ["1:11: topology: a scenario needs 'topology': the path of its topology file, relative to the scenario"]),
     ("topology: two-nodes.yaml\n", ["1:1: a scenario needs 'steps': a list of at least one step"]),
     ("topology: two-nodes.yaml\nsteps: []\n", ["2:8: steps: a scenario needs 'steps': a list of at least one step"]),
     ("topology: two-nodes.yaml\ncolour: red\nsteps: [{wait: 1}]\n", ["2:1: colour: unknown key 'colour'; expected one of: topology, steps, description"]),
     ("topology: two-nodes.yaml\nsteps:\n  - {wait: 1, restart: controller}\n  - jump: 1\n", [
         "3:5: steps[0]: a step is a map with one key, one of: link_down, link_up, nic_down, nic_up, set_tag, restart, "
         "stop_controller, start_controller, partition_controller, heal_controller, node_link_down, node_link_up, wait, expect",
         "4:5: steps[1]: a step is a map with one key, one of: link_down, link_up, nic_down, nic_up, set_tag, restart, "
         "stop_controller, start_controller, partition_controller, heal_controller, node_link_down, node_link_up, wait, expect"]),
     ("topology: two-nodes.yaml\nsteps:\n  - wait: -1\n", ["3:11: steps[0].wait: wait takes a number of seconds, 0 or more"])],
)
def test_the_problems_of_a_scenario_file_where_they_are(files, text, expected):
    (files / "s.yaml").write_text(text)
    with pytest.raises(TopologyError) as caught:
        load_scenario(files / "s.yaml")
    assert [str(p).removeprefix(str(files / "s.yaml") + ":") for p in caught.value.problems] == expected


def test_a_scenario_on_a_broken_topology_reports_both_files(files):
    (files / "two-nodes.yaml").write_text("name: x\n")
    (files / "s.yaml").write_text("topology: two-nodes.yaml\ncolour: red\nsteps: [{wait: 1}]\n")
    with pytest.raises(TopologyError) as caught:
        load_scenario(files / "s.yaml")
    assert {p.file for p in caught.value.problems} == {str(files / "s.yaml"), str(files / "two-nodes.yaml")}


def test_steps_see_the_lab_as_the_steps_before_them_left_it(files):
    (files / "s.yaml").write_text(
        "topology: two-nodes.yaml\nsteps:\n  - set_tag: {endpoint: db1, tag: 10}\n  - expect: {reachable: [[db1, web1]]}\n")
    scenario = load_scenario(files / "s.yaml")
    assert scenario.steps[1] == Expect(index=1, line=4, reachable=(("db1", "web1"),))
    [(step, probe, reachable)] = scenario.intent_at()
    assert (probe, reachable) == ([("db1", "web1")], {("db1", "web1")})


def test_the_lab_now_keeps_each_endpoints_vmid():
    topology = loads("""
name: vmids
bridges: {br1: {type: ovs}}
endpoints:
  a: {type: kvm, vmid: 101, nics: [{bridge: br1}]}
  b: {type: lxc, vmid: 102, nics: [{bridge: br1}]}
""")
    state = LabState(topology)
    NicDown(index=0, endpoint="b").apply(state)
    now = state.topology()
    assert {name: (e.vmid, len(e.nics)) for name, e in now.endpoints.items()} == {"a": (101, 1), "b": (102, 0)}
