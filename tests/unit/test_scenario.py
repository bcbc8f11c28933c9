"""Scenario files: checked whole before anything runs; intent follows the steps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sdnlab import TopologyError
from sdnlab.scenario import load_scenario
from tests.conftest import TOPOLOGIES

SCENARIOS = TOPOLOGIES / "scenarios"


# The scenario tests' own triangle: VLAN 10 in 10.10.0.0/24, VLAN 20 in 10.20.0.0/24.
TRIANGLE = """name: triangle
vlans: {10: {}, 20: {}}
bridges: {br1: {type: ovs}, br2: {type: ovs}, br3: {type: ovs}}
endpoints:
  h1: {type: host, nics: [{bridge: br1, tag: 10, ip: 10.10.0.1/24}]}
  h2: {type: host, nics: [{bridge: br2, tag: 10, ip: 10.10.0.2/24}]}
  h3: {type: host, nics: [{bridge: br3, tag: 10, ip: 10.10.0.3/24}]}
  x1: {type: host, nics: [{bridge: br1, tag: 20, ip: 10.20.0.1/24}]}
  x3: {type: host, nics: [{bridge: br3, tag: 20, ip: 10.20.0.3/24}]}
links:
  - {name: l12, between: [br1, br2]}
  - {name: l23, between: [br2, br3]}
  - {name: l31, between: [br3, br1]}
"""


def write(tmp_path: Path, steps: str, topology: str = "triangle.yaml") -> Path:
    text = TRIANGLE if topology == "triangle.yaml" else (TOPOLOGIES / topology).read_text()
    (tmp_path / topology).write_text(text)
    path = tmp_path / "s.yaml"
    path.write_text(f"topology: {topology}\nsteps:\n{steps}")
    return path


def expectations(path: Path) -> list[tuple[list, set]]:
    return [(probe, good) for _, probe, good in load_scenario(path).intent_at()]


def test_cutting_the_loop_keeps_the_vlan_together_and_cutting_twice_isolates(tmp_path):
    path = write(tmp_path, "  - link_down: l12\n  - expect: intent\n  - link_down: [br2, br3]\n  - expect: intent\n  - link_up: l23\n  - expect: intent\n")
    (probe1, good1), (probe2, good2), (_, good3) = expectations(path)
    assert probe1 == [("h1", "h2"), ("h1", "h3"), ("h2", "h3"), ("x1", "x3")]
    assert good1 == set(probe1)
    assert good2 == {("h1", "h3"), ("x1", "x3")}  # br2 cut off from both sides
    assert good3 == set(probe1)


def test_nic_down_reaches_nobody_and_up_restores(tmp_path):
    path = write(tmp_path, "  - nic_down: h1\n  - expect: intent\n  - nic_up: h1\n  - expect: intent\n")
    (_, down), (_, up) = expectations(path)
    assert ("h1", "h2") not in down and ("h2", "h3") in down
    assert ("h1", "h2") in up


def test_set_tag_moves_an_endpoint_between_vlans(tmp_path):
    path = write(tmp_path, "  - set_tag: {endpoint: x1, nic: 0, tag: 10, ip: 10.10.0.9/24}\n  - expect: intent\n")
    [(probe, good)] = expectations(path)
    assert ("h1", "x1") in good and ("x1", "x3") not in probe  # x3 is in another subnet now


def test_set_tag_null_makes_untagged(tmp_path):
    path = write(tmp_path, "  - set_tag: {endpoint: web2, tag: null}\n  - expect: intent\n", "two-nodes.yaml")
    [(probe, good)] = expectations(path)
    assert ("web1", "web2") in probe and good == set()


BAD_STEPS = [
    ("  - link_down: nope\n", "steps[0].link_down", "no link is named 'nope'"),
    ("  - link_down: [br1, zz]\n", "steps[0].link_down", "unknown bridge 'zz'"),
    ("  - nic_down: ghost\n", "steps[0].nic_down", "unknown endpoint 'ghost'"),
    ("  - set_tag: {endpoint: h1, tag: 99}\n", "steps[0].set_tag.tag", "declared VLAN"),
    ("  - set_tag: {endpoint: h1, nic: 3, tag: 10}\n", "steps[0].set_tag.nic", "NICs 0 to 0"),
    ("  - set_tag: {endpoint: h1, tag: 20, ip: 10.10.0.2/24}\n", "steps[0].set_tag.ip", "already used by h2"),
    ("  - restart: switch\n", "steps[0].restart", "restart: controller"),
    ("  - wait: -1\n", "steps[0].wait", "0 or more"),
    ("  - reboot: all\n", "steps[0]", "one key, one of"),
    ("  - expect: maybe\n", "steps[0].expect", "expect takes 'intent'"),
    ("  - expect: {reachable: [[h1, x1]]}\n", "steps[0].expect.reachable[0]", "no addresses in one subnet"),
    ("  - expect: {reachable: [[h1, nobody]]}\n", "steps[0].expect.reachable[0]", "unknown endpoint 'nobody'"),
    ("  - expect: {reachable: [[h1, h2]], isolated: [[h2, h1]]}\n", "steps[0].expect", "both reachable and isolated"),
]


@pytest.mark.parametrize(("steps", "path", "words"), BAD_STEPS)
def test_bad_step(tmp_path, steps, path, words):
    with pytest.raises(TopologyError) as info:
        load_scenario(write(tmp_path, steps))
    assert any(p.path == path and words in p.message and p.line for p in info.value.problems), info.value.problems


def test_pair_valid_only_after_retag_is_judged_at_its_step(tmp_path):
    ok = "  - set_tag: {endpoint: x1, tag: 10, ip: 10.10.0.9/24}\n  - expect: {reachable: [[h1, x1]]}\n"
    assert load_scenario(write(tmp_path, ok))
    with pytest.raises(TopologyError, match="no addresses in one subnet"):
        load_scenario(write(tmp_path, "  - expect: {reachable: [[h1, x1]]}\n" + ok))


def test_bad_topology_is_reported_with_the_scenario(tmp_path):
    (tmp_path / "t.yaml").write_text("name: x\nbridges: {b: {type: nope}}\n")
    (tmp_path / "s.yaml").write_text("topology: t.yaml\nsteps: [{wait: 1}]\n")
    with pytest.raises(TopologyError) as info:
        load_scenario(tmp_path / "s.yaml")
    assert info.value.problems[0].file.endswith("t.yaml") and info.value.problems[0].path == "bridges.b.type"


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.yaml")))
def test_bundled_scenarios_are_valid(name):
    scenario = load_scenario(SCENARIOS / name)
    assert any(s.kind == "expect" for s in scenario.steps)


def test_check_command_accepts_scenarios():
    out = subprocess.run([str(Path(sys.executable).parent / "sdnlab"), "check", str(SCENARIOS / "retag.yaml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "scenario is valid" in out.stdout and "reachable: db1-web2; isolated: web1-web2" in out.stdout
