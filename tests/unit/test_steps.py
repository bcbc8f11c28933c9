"""Step kinds are one class each: the registry, their descriptions, and the calls a scenario makes on a lab."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sdnlab import TopologyError, load, report
from sdnlab.scenario import STEP_KINDS, LabState, load_scenario, play
from sdnlab.steps import (
    STEPS,
    Expect,
    HealController,
    LinkDown,
    LinkUp,
    NicDown,
    NicUp,
    NodeLinkDown,
    NodeLinkUp,
    ParseContext,
    PartitionController,
    Restart,
    SetTag,
    StartController,
    Step,
    StepTarget,
    StopController,
    Wait,
)
from tests.conftest import REPO, TOPOLOGIES

SCENARIOS = TOPOLOGIES / "scenarios"
# The step kinds docs/topology-format.md documents and the project implements, in the order errors list them.
DOCUMENTED = ("link_down", "link_up", "nic_down", "nic_up", "set_tag", "restart", "stop_controller", "start_controller",
              "partition_controller", "heal_controller", "node_link_down", "node_link_up", "wait", "expect")


def test_the_registry_lists_exactly_the_documented_kinds():
    assert tuple(STEPS) == DOCUMENTED
    assert STEP_KINDS == DOCUMENTED  # still importable from sdnlab.scenario
    assert all(cls.kind == key and issubclass(cls, Step) for key, cls in STEPS.items())
    doc = (REPO / "docs" / "topology-format.md").read_text()
    assert all(f"{{{kind}:" in doc for kind in STEPS)


@pytest.fixture(scope="module")
def two_nodes():
    return load(TOPOLOGIES / "two-nodes.yaml")


SAMPLES = [
    (LinkDown(index=0, links=(0,)), "link_down link0 (vmbr0-vmbr1)"),
    (LinkUp(index=0, links=(0,)), "link_up link0 (vmbr0-vmbr1)"),
    (NicDown(index=0, endpoint="web1"), "nic_down web1"),
    (NicUp(index=0, endpoint="web1"), "nic_up web1"),
    (SetTag(index=0, endpoint="web2", nic=0, tag=20), "set_tag web2 NIC 0 to tag 20"),
    (SetTag(index=0, endpoint="web2", tag=None, ip=IPv4Interface("10.0.10.77/24")), "set_tag web2 NIC 0 to untagged, ip 10.0.10.77/24"),
    (Restart(index=0), "restart controller"),
    (StopController(index=0), "stop_controller master"),
    (StopController(index=0, replica=2), "stop_controller 2"),
    (StartController(index=0), "start_controller all"),
    (StartController(index=0, replica=3), "start_controller 3"),
    (PartitionController(index=0), "partition_controller master"),
    (HealController(index=0, replica=1), "heal_controller 1"),
    (NodeLinkDown(index=0, nodes=("pve1", "pve2")), "node_link_down pve1-pve2 (links between them: link0)"),
    (NodeLinkUp(index=0, nodes=("pve2", "pve1")), "node_link_up pve2-pve1 (links between them: link0)"),
    (Wait(index=0, seconds=1.0), "wait 1 s"),
    (Wait(index=0, seconds=2.5), "wait 2.5 s"),
    (Expect(index=0, intent=True), "expect intent"),
    (Expect(index=0, reachable=(("web1", "web2"),)), "expect listed pairs"),
]


@pytest.mark.parametrize(("step", "text"), SAMPLES, ids=[f"{s.kind}-{i}" for i, (s, _) in enumerate(SAMPLES)])
def test_each_kind_describes_itself(two_nodes, step, text):
    assert step.describe(two_nodes) == text
    assert report.describe_step(step, two_nodes) == text


def test_every_kind_has_a_description_sample():
    assert {type(step) for step, _ in SAMPLES} == set(STEPS.values())


class FakeTarget:
    """A StepTarget that records what a scenario asks of the lab, with the model's state at each `expect`."""

    def __init__(self):
        self.calls: list[tuple] = []

    def begin(self, step: Step, total: int) -> None:
        self.calls.append(("begin", step.index, total))

    def set_link(self, link_id: str, up: bool) -> None:
        self.calls.append(("set_link", link_id, up))

    def set_nic(self, endpoint: str, up: bool) -> None:
        self.calls.append(("set_nic", endpoint, up))

    def retag(self, endpoint: str, nic: int, tag: int | None, ip: IPv4Interface | None) -> None:
        self.calls.append(("retag", endpoint, nic, tag, ip))

    def restart_controller(self) -> None:
        self.calls.append(("restart_controller",))

    def wait(self, seconds: float) -> None:
        self.calls.append(("wait", seconds))

    def expect(self, step: Expect, state: LabState) -> None:
        # The state is the model after this step; snapshot it, since play goes on changing it.
        tags = tuple(sorted((e, i, nic.tag) for (e, i), nic in state.nics.items()))
        self.calls.append(("expect", step.index, step.intent, tuple(sorted(state.down_links)), tags))


def played(name: str) -> list[tuple]:
    target = FakeTarget()
    assert isinstance(target, StepTarget)
    play(load_scenario(SCENARIOS / name), target)
    return [call for call in target.calls if call[0] != "begin"]


def test_play_announces_every_step_before_doing_it():
    target = FakeTarget()
    scenario = load_scenario(SCENARIOS / "two-nodes-link-failure.yaml")
    state = play(scenario, target)
    assert [c for c in target.calls if c[0] == "begin"] == [("begin", i, 7) for i in range(7)]
    assert target.calls[:3] == [("begin", 0, 7), ("expect", 0, True, (), ()), ("begin", 1, 7)]
    assert state.down_links == set()  # the model as the last step left it


def test_play_two_nodes_link_failure():
    assert played("two-nodes-link-failure.yaml") == [
        ("expect", 0, True, (), ()),
        ("set_link", "link0", False),
        ("wait", 1.0),
        ("expect", 3, False, (0,), ()),
        ("set_link", "link0", True),
        ("wait", 1.0),
        ("expect", 6, True, (), ()),
    ]


def test_play_retag():
    assert played("retag.yaml") == [
        ("expect", 0, False, (), ()),
        ("retag", "web2", 0, 20, None),
        ("wait", 1.0),
        ("expect", 3, False, (), (("web2", 0, 20),)),
        ("restart_controller",),
        ("expect", 5, True, (), (("web2", 0, 20),)),
    ]


def test_play_triangle_cut():
    assert played("triangle-cut.yaml") == [
        ("expect", 0, True, (), ()),
        ("set_link", "l12", False),
        ("wait", 1.0),
        ("expect", 3, False, (0,), ()),
        ("set_link", "l23", False),
        ("expect", 5, True, (0, 1), ()),
        ("set_link", "l12", True),
        ("set_link", "l23", True),
        ("expect", 8, True, (), ()),
    ]


def test_nic_steps_model_and_calls(tmp_path):
    (tmp_path / "two-nodes.yaml").write_text((TOPOLOGIES / "two-nodes.yaml").read_text())
    (tmp_path / "s.yaml").write_text("topology: two-nodes.yaml\nsteps:\n  - nic_down: web1\n  - expect: intent\n  - nic_up: web1\n")
    target = FakeTarget()
    state = play(load_scenario(tmp_path / "s.yaml"), target)
    assert [c[0] for c in target.calls if c[0] != "begin"] == ["set_nic", "expect", "set_nic"]
    assert target.calls[1] == ("set_nic", "web1", False) and target.calls[-1] == ("set_nic", "web1", True)
    assert state.down_nics == set()


@dataclass(frozen=True, kw_only=True)
class Pause(Step):
    """A step kind written only here, to show that one class is all a new kind needs."""

    kind: ClassVar[str] = "pause"
    seconds: float

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        if not isinstance(arg, int):
            at.error(at.path, "pause takes whole seconds")
            return None
        return cls(index=at.index, line=at.line, seconds=arg)

    def describe(self, topology) -> str:
        return f"pause {self.seconds} s"

    def run(self, target, state) -> None:
        target.wait(self.seconds)


def test_a_new_kind_is_one_class(monkeypatch, tmp_path):
    monkeypatch.setitem(STEPS, "pause", Pause)
    (tmp_path / "two-nodes.yaml").write_text((TOPOLOGIES / "two-nodes.yaml").read_text())
    (tmp_path / "s.yaml").write_text("topology: two-nodes.yaml\nsteps:\n  - pause: 3\n  - expect: intent\n")
    scenario = load_scenario(tmp_path / "s.yaml")
    assert report.scenario_text(scenario).splitlines()[1] == "   1. pause 3 s"
    target = FakeTarget()
    play(scenario, target)
    assert ("wait", 3) in target.calls
    (tmp_path / "bad.yaml").write_text("topology: two-nodes.yaml\nsteps:\n  - pause: soon\n")
    with pytest.raises(TopologyError, match="steps\\[0\\].pause: pause takes whole seconds"):
        load_scenario(tmp_path / "bad.yaml")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


@pytest.mark.parametrize("module", ["steps.py", "scenario.py", "report.py"])
def test_the_model_layer_imports_no_simulator_controller_or_host_code(module):
    outside = ("sim", "controller", "deploy", "host")
    bad = {m for m in _imports(REPO / "sdnlab" / module) if m.split(".")[0] in outside or m.startswith("sdnlab.deploy")}
    assert not bad


def test_the_simulator_implements_every_target_method():
    # Read, not imported: importing sim.runner needs Mininet. A method added to StepTarget for a
    # new step kind must be implemented by the simulator's target too.
    tree = ast.parse((REPO / "sim" / "runner.py").read_text())
    sim_target = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "SimTarget")
    implemented = {node.name for node in sim_target.body if isinstance(node, ast.FunctionDef)}
    wanted = {name for name, value in vars(StepTarget).items() if callable(value) and not name.startswith("_")}
    assert wanted == {"begin", "set_link", "set_nic", "retag", "restart_controller", "wait", "expect"}
    assert wanted <= implemented
