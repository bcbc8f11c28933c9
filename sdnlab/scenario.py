"""Scenario files: events replayed on a topology, and what must hold after each.

Loading checks the whole scenario, its topology included, before anything
runs: every step is applied to a model of the lab so that each `expect` can be
checked against the topology *as changed by the steps so far*. `intent_at`
gives the pairs to probe and the expected answer for every `expect` step,
which is what the simulator compares its probes with.
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
from sdnlab.yamlsrc import read_text

Pair = tuple[str, str]
STEP_KINDS = ("link_down", "link_up", "nic_down", "nic_up", "set_tag", "restart", "wait", "expect")


@dataclass(frozen=True)
class Step:
    """One event or expectation; `links` (indices) for link steps, `endpoint` for NIC steps."""

    index: int
    kind: str
    line: int | None = None
    links: tuple[int, ...] = ()
    endpoint: str | None = None
    nic: int | None = None
    tag: int | None = None
    ip: IPv4Interface | None = None
    seconds: float = 0.0
    reachable: tuple[Pair, ...] = ()
    isolated: tuple[Pair, ...] = ()
    intent: bool = False  # `expect: intent`


@dataclass
class LabState:
    """The lab as the steps so far have left it."""

    base: Topology
    down_links: set[int] = field(default_factory=set)
    down_nics: set[tuple[str, int]] = field(default_factory=set)
    nics: dict[tuple[str, int], Nic] = field(default_factory=dict)  # NICs changed by set_tag

    def apply(self, step: Step) -> None:
        if step.kind == "link_down":
            self.down_links.update(step.links)
        elif step.kind == "link_up":
            self.down_links.difference_update(step.links)
        elif step.kind in ("nic_down", "nic_up"):
            keys = {(step.endpoint, nic.index) for nic in self.base.endpoints[step.endpoint].nics}
            (self.down_nics.update if step.kind == "nic_down" else self.down_nics.difference_update)(keys)
        elif step.kind == "set_tag":
            key = (step.endpoint, step.nic)
            old = self.nics.get(key) or self.base.endpoints[step.endpoint].nics[step.nic]
            self.nics[key] = dataclasses.replace(old, tag=step.tag, ip=step.ip or old.ip)

    def nic(self, endpoint: str, index: int) -> Nic:
        return self.nics.get((endpoint, index)) or self.base.endpoints[endpoint].nics[index]

    def addressed(self) -> dict[str, list[Nic]]:
        """Every endpoint's NICs with their current addresses (up or down)."""
        return {name: [self.nic(name, n.index) for n in e.nics] for name, e in self.base.endpoints.items()}

    def topology(self) -> Topology:
        """The lab now: down links and down NICs removed, retagged NICs changed."""
        endpoints = {
            name: Endpoint(e.name, e.type, e.node, tuple(self.nic(name, n.index) for n in e.nics if (name, n.index) not in self.down_nics))
            for name, e in self.base.endpoints.items()
        }
        links = tuple(link for link in self.base.links if link.index not in self.down_links)
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
            if step.kind != "expect":
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
    state.apply(Step(0, "set_tag", endpoint=endpoint, nic=nic, tag=tag, ip=IPv4Interface(ip) if ip else None))
    return state.topology()


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
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in STEP_KINDS:
            self.error(path, f"a step is a map with one key, one of: {', '.join(STEP_KINDS)}")
            return None
        kind, arg = next(iter(raw.items()))
        apath = path + (kind,)
        line = self.src.where(path)[0]
        topo = state.base
        if kind in ("link_down", "link_up"):
            links = self.links(arg, apath, topo)
            return Step(i, kind, line, links=links) if links else None
        if kind in ("nic_down", "nic_up"):
            if arg not in topo.endpoints:
                self.error(apath, f"unknown endpoint '{arg}'")
                return None
            return Step(i, kind, line, endpoint=arg)
        if kind == "set_tag":
            return self.set_tag(arg, apath, i, line, state)
        if kind == "restart":
            if arg != "controller":
                self.error(apath, "only 'restart: controller' is supported")
                return None
            return Step(i, kind, line)
        if kind == "wait":
            if isinstance(arg, bool) or not isinstance(arg, (int, float)) or arg < 0:
                self.error(apath, "wait takes a number of seconds, 0 or more")
                return None
            return Step(i, kind, line, seconds=float(arg))
        return self.expect(arg, apath, i, line, state)

    def links(self, arg: Any, path: tuple, topo: Topology) -> tuple[int, ...]:
        if isinstance(arg, str):
            found = tuple(link.index for link in topo.links if link.name == arg)
            if not found:
                self.error(path, f"no link is named '{arg}'")
            return found
        if isinstance(arg, list) and len(arg) == 2 and all(isinstance(b, str) for b in arg):
            for b in arg:
                if b not in topo.bridges:
                    self.error(path, f"unknown bridge '{b}'")
                    return ()
            found = tuple(link.index for link in topo.links if set(link.between) == set(arg))
            if not found:
                self.error(path, f"no link joins {arg[0]} and {arg[1]}")
            return found
        self.error(path, "give a link's name, or two bridge names [A, B]")
        return ()

    def set_tag(self, arg: Any, path: tuple, i: int, line: int | None, state: LabState) -> Step | None:
        topo = state.base
        if not isinstance(arg, dict) or "endpoint" not in arg or "tag" not in arg:
            self.error(path, "set_tag needs {endpoint: E, nic: N, tag: T} (tag: null for untagged; ip optional)")
            return None
        for key in arg:
            if key not in ("endpoint", "nic", "tag", "ip"):
                self.error(path + (key,), f"unknown key '{key}'; expected endpoint, nic, tag, ip", at_key=True)
        name = arg["endpoint"]
        if name not in topo.endpoints:
            self.error(path + ("endpoint",), f"unknown endpoint '{name}'")
            return None
        index = arg.get("nic", 0)
        nics = topo.endpoints[name].nics
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(nics):
            self.error(path + ("nic",), f"{name} has NICs 0 to {len(nics) - 1}, not {index}")
            return None
        tag = arg["tag"]
        if tag is not None:
            if isinstance(tag, bool) or not isinstance(tag, int) or tag not in topo.vlans:
                self.error(path + ("tag",), f"tag must be a declared VLAN ({', '.join(map(str, sorted(topo.vlans)))}) or null")
                return None
            bridge = topo.bridges[nics[index].bridge]
            if not bridge.keeps_vlans_apart:
                self.error(path + ("tag",), f"bridge {bridge.name} is a Linux bridge that is not VLAN-aware, so it cannot carry tag {tag}")
                return None
        ip = None
        if arg.get("ip") is not None:
            try:
                ip = IPv4Interface(arg["ip"]) if isinstance(arg["ip"], str) and "/" in arg["ip"] else None
            except ValueError:
                ip = None
            if ip is None:
                self.error(path + ("ip",), f"ip must be an IPv4 address with a prefix length, like 10.0.10.11/24, not '{arg['ip']}'")
                return None
            for (other, nic_list) in state.addressed().items():
                for nic in nic_list:
                    if nic.ip and nic.ip.ip == ip.ip and (other, nic.index) != (name, index):
                        self.error(path + ("ip",), f"address {ip.ip} is already used by {other}'s NIC {nic.index}")
                        return None
        return Step(i, "set_tag", line, endpoint=name, nic=index, tag=tag, ip=ip)

    def expect(self, arg: Any, path: tuple, i: int, line: int | None, state: LabState) -> Step | None:
        if arg == "intent":
            return Step(i, "expect", line, intent=True)
        if not isinstance(arg, dict) or not arg or set(arg) - {"reachable", "isolated"}:
            self.error(path, "expect takes 'intent' or {reachable: [[A, B], ...], isolated: [[C, D], ...]}")
            return None
        lists: dict[str, list[Pair]] = {}
        nics = state.addressed()
        for key in ("reachable", "isolated"):
            lists[key] = []
            for j, pair in enumerate(arg.get(key) or []):
                ppath = path + (key, Index(j))
                if not isinstance(pair, list) or len(pair) != 2 or pair[0] == pair[1]:
                    self.error(ppath, "a pair is two different endpoint names [A, B]")
                    continue
                unknown = [p for p in pair if p not in state.base.endpoints]
                if unknown:
                    self.error(ppath, f"unknown endpoint '{unknown[0]}'")
                    continue
                if not _share_subnet(nics[pair[0]], nics[pair[1]]):
                    self.error(ppath, f"{pair[0]} and {pair[1]} have no addresses in one subnet at this step, so a probe cannot tell")
                    continue
                lists[key].append(tuple(sorted(pair)))
        both = set(lists["reachable"]) & set(lists["isolated"])
        if both:
            self.error(path, f"{sorted(both)[0]} is listed as both reachable and isolated")
            return None
        return Step(i, "expect", line, reachable=tuple(lists["reachable"]), isolated=tuple(lists["isolated"]))

