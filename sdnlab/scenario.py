"""Scenario files: events replayed on a topology, and what must hold after each.

Loading checks the whole scenario, its topology included, before anything
runs: every step is applied to a model of the lab so that each `expect` can be
checked against the topology *as changed by the steps so far*. `intent_at`
gives the pairs to probe and the expected answer for every `expect` step,
which is what the simulator compares its probes with; `play` does the steps
on a running lab (anything that implements `sdnlab.steps.StepTarget`).

What each kind of step means (its parsing, description, model update and
action) lives in one class per kind in `sdnlab/steps.py`; this module only
reads the file around the steps and loops over them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any

from sdnlab.check import analyse
from sdnlab.loader import load, read_source
from sdnlab.model import Endpoint, Nic, Topology
from sdnlab.problems import Index, Problem, TopologyError, render_path
from sdnlab.steps import STEPS, Expect, Pair, ParseContext, SetTag, Step, StepTarget
from sdnlab.yamlsrc import read_text

# Kept for code that imported it from here; the registry in sdnlab/steps.py is the list.
STEP_KINDS = tuple(STEPS)


@dataclass
class LabState:
    """The lab as the steps so far have left it."""

    base: Topology
    down_links: set[int] = field(default_factory=set)
    down_nics: set[tuple[str, int]] = field(default_factory=set)
    nics: dict[tuple[str, int], Nic] = field(default_factory=dict)  # NICs changed by set_tag
    cut_nodes: set[frozenset[str]] = field(default_factory=set)  # node pairs whose underlay is cut (node_link_down)

    def apply(self, step: Step) -> None:
        step.apply(self)

    def nic(self, endpoint: str, index: int) -> Nic:
        return self.nics.get((endpoint, index)) or self.base.endpoints[endpoint].nics[index]

    def addressed(self) -> dict[str, list[Nic]]:
        """Every endpoint's NICs with their current addresses (up or down)."""
        return {name: [self.nic(name, n.index) for n in e.nics] for name, e in self.base.endpoints.items()}

    def share_subnet(self, a: str, b: str) -> bool:
        """Whether endpoints a and b now have addresses in one subnet (so a probe between them can tell)."""
        xs, ys = ([self.nic(name, n.index) for n in self.base.endpoints[name].nics] for name in (a, b))
        return _share_subnet(xs, ys)

    def link_is_up(self, index: int) -> bool:
        """Whether link `index` carries traffic now: not taken down, and its nodes' underlay not cut."""
        if index in self.down_links:
            return False
        if not self.cut_nodes:
            return True
        link = self.base.links[index]
        return frozenset(self.base.bridges[b].node for b in link.between) not in self.cut_nodes

    def topology(self) -> Topology:
        """The lab now: down links (and links across a cut underlay) and down NICs removed, retagged NICs changed."""
        endpoints = {
            name: Endpoint(e.name, e.type, e.node, tuple(self.nic(name, n.index) for n in e.nics if (name, n.index) not in self.down_nics), e.vmid)
            for name, e in self.base.endpoints.items()
        }
        links = tuple(link for link in self.base.links if self.link_is_up(link.index))
        return dataclasses.replace(self.base, endpoints=endpoints, links=links)


@dataclass(frozen=True)
class Scenario:
    source: str
    topology: Topology
    steps: tuple[Step, ...]

    def intent_at(self) -> list[tuple[Step, list[Pair], set[Pair]]]:
        """For every `expect` step: the pairs to probe and which of them must be reachable."""
        state = LabState(self.topology)
        out = []
        for step in self.steps:
            state.apply(step)
            if not isinstance(step, Expect):
                continue
            if step.intent:
                analysis = analyse(state.topology())
                probe = pingable_pairs(state)
                out.append((step, probe, {p for p in probe if analysis.is_reachable(*p)}))
            else:
                out.append((step, sorted(step.reachable + step.isolated), set(step.reachable)))
        return out


def retagged(topology: Topology, endpoint: str, nic: int, tag: int | None, ip: str | None = None) -> Topology:
    """The topology with one NIC moved to another VLAN (None: untagged), as a scenario's set_tag does."""
    state = LabState(topology)
    state.apply(SetTag(index=0, endpoint=endpoint, nic=nic, tag=tag, ip=IPv4Interface(ip) if ip else None))
    return state.topology()


def play(scenario: Scenario, target: StepTarget) -> LabState:
    """Do every step on `target`, in order, the model of the lab following along.

    Each step is applied to the model first, so an `expect` is compared with
    the lab as changed by that step; returns the lab as the last step left it.
    """
    state = LabState(scenario.topology)
    for step in scenario.steps:
        state.apply(step)
        target.begin(step, len(scenario.steps))
        step.run(target, state)
    return state


def pingable_pairs(state: LabState) -> list[Pair]:
    """Pairs of endpoints with addresses in one subnet (the pairs a probe can answer)."""
    nics = state.addressed()
    names = sorted(nics)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if _share_subnet(nics[a], nics[b])]


def _share_subnet(xs: list[Nic], ys: list[Nic]) -> bool:
    return any(x.ip and y.ip and x.ip.ip in y.ip.network and y.ip.ip in x.ip.network for x in xs for y in ys)


def is_scenario(tree: Any) -> bool:
    return isinstance(tree, dict) and "steps" in tree


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file and its topology; raise TopologyError listing every problem."""
    src = read_text(read_source(path), str(path))
    if src.problems:
        raise TopologyError(src.problems)
    return _ScenarioReader(src, Path(path)).scenario()


def load_any(path: str | Path) -> Topology | Scenario:
    """A topology or a scenario file, told apart by its `steps` key."""
    src = read_text(read_source(path), str(path))
    if not src.problems and is_scenario(src.value):
        return _ScenarioReader(src, Path(path)).scenario()
    return load(path)


class _ScenarioReader:
    def __init__(self, src, path: Path):
        self.src = src
        self.path = path
        self.problems: list[Problem] = []

    def error(self, path: tuple, message: str, at_key: bool = False) -> None:
        line, col = self.src.where(path, at_key)
        self.problems.append(Problem(self.src.file, line, col, render_path(path), message))

    def scenario(self) -> Scenario:
        doc = self.src.value
        if not isinstance(doc, dict):
            self.error((), "a scenario file must be a map with 'topology' and 'steps'")
            raise TopologyError(self.problems)
        for key in doc:
            if key not in ("topology", "steps", "description"):
                self.error((key,), f"unknown key '{key}'; expected one of: topology, steps, description", at_key=True)
        if not isinstance(doc.get("topology"), str):
            self.error(("topology",) if "topology" in doc else (), "a scenario needs 'topology': the path of its topology file, relative to the scenario")
            raise TopologyError(self.problems)
        try:
            topology = load(os.path.normpath(self.path.parent / doc["topology"]))
        except TopologyError as exc:
            raise TopologyError(self.problems + exc.problems) from None
        steps = doc.get("steps")
        if not isinstance(steps, list) or not steps:
            self.error(("steps",) if "steps" in doc else (), "a scenario needs 'steps': a list of at least one step")
            raise TopologyError(self.problems)
        state = LabState(topology)
        parsed = []
        for i, raw in enumerate(steps):
            step = self.step(raw, ("steps", Index(i)), i, state)
            if step is not None:
                state.apply(step)
                parsed.append(step)
        if self.problems:
            raise TopologyError(self.problems)
        return Scenario(self.src.file, topology, tuple(parsed))

    def step(self, raw: Any, path: tuple, i: int, state: LabState) -> Step | None:
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in STEPS:
            self.error(path, f"a step is a map with one key, one of: {', '.join(STEPS)}")
            return None
        kind, arg = next(iter(raw.items()))
        at = ParseContext(index=i, line=self.src.where(path)[0], path=path + (kind,), state=state, report=self)
        return STEPS[kind].parse(arg, at)
