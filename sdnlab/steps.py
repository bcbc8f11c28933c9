"""Scenario step kinds: one class each, so a step is written in one place.

A class here is everything the project knows about one kind of step:

- `kind`: its YAML key (`{link_down: l12}`);
- `parse(arg, at)`: validation of the key's value, reporting problems with the
  file, line, column and key path, and the step it describes;
- `describe(topology)`: one line for people (`sdnlab check`, `sdnlab sim run`);
- `apply(state)`: what the step changes in the model of the lab (`LabState`),
  which is what each `expect` is checked against;
- `run(target, state)`: doing it on a running lab, through `StepTarget`.

`STEPS` (YAML key -> class) is the only list of step kinds; `register` adds a
class to it, in the order the classes are defined here (the order error
messages list them in).

Adding a step kind is one new `@register`ed class in this module plus the
`StepTarget` method its `run` calls; the lab that runs scenarios
(sim/runner.py) then implements that method. Nothing else dispatches on step
kinds.

The controller-replica steps of format 1.1 (`stop_controller`,
`start_controller`, `partition_controller`, `heal_controller`) call methods
that only a lab running a cluster of controllers has (`ReplicaTarget`, not
part of `StepTarget`): `unsupported` lists the steps a lab lacks the methods
for, so a builder can refuse a scenario before building anything, and `run`
raises `UnsupportedStep` on such a lab.

This module is the model layer: it must not import the simulator, the
controller or deployment code. They come to it through `StepTarget`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from ipaddress import IPv4Interface
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from sdnlab.model import Topology
from sdnlab.problems import Index, show

if TYPE_CHECKING:  # scenario.py imports this module; LabState is only named in hints here
    from sdnlab.scenario import LabState

Pair = tuple[str, str]


@runtime_checkable
class StepTarget(Protocol):
    """A running lab that scenario steps are done on (the simulator implements it).

    `play` in sdnlab/scenario.py calls `begin` before each step, after the model
    (`LabState`) has applied it, then the step's `run` calls one of the others.
    """

    def begin(self, step: Step, total: int) -> None:
        """Step `step.index + 1` of `total` is about to be done (say so)."""

    def set_link(self, link_id: str, up: bool) -> None:
        """Bring one link (by its id, as in `Link.id`) up or down."""

    def set_nic(self, endpoint: str, up: bool) -> None:
        """Bring every NIC of an endpoint up or down."""

    def retag(self, endpoint: str, nic: int, tag: int | None, ip: IPv4Interface | None) -> None:
        """Move a NIC to VLAN `tag` (None: untagged), with a new address when `ip` is given."""

    def restart_controller(self) -> None:
        """Stop the controller (every replica) and start it again."""

    def wait(self, seconds: float) -> None:
        """Let the lab run for that long."""

    def expect(self, step: Expect, state: LabState) -> None:
        """Probe the lab and compare with what `step` requires of the lab as `state` models it."""


class ReplicaTarget(Protocol):
    """What a lab running `controller.replicas` controllers as one cluster adds to `StepTarget`
    (no builder does yet). A replica is numbered from 1; None is the word of the step."""

    def stop_replica(self, replica: int | None) -> None:
        """Kill a replica (None: the current master)."""

    def start_replica(self, replica: int | None) -> None:
        """Start a stopped replica again (None: all of them)."""

    def partition_replica(self, replica: int | None) -> None:
        """Cut a replica off from its peers and its switches without stopping it (None: the master)."""

    def heal_replica(self, replica: int | None) -> None:
        """Undo a partition (None: every partitioned replica)."""


class UnderlayTarget(Protocol):
    """What a lab whose nodes are separate hosts adds to `StepTarget` (the rehearsal)."""

    def set_underlay(self, a: str, b: str, up: bool) -> None:
        """Cut (or restore) the underlay network between the hosts of nodes `a` and `b`, both ways."""


class UnsupportedStep(Exception):
    """A lab was asked to do a step it cannot do (yet)."""


class Reporter(Protocol):
    """Where parsing reports problems: `path` is the key path from the top of the file."""

    def error(self, path: tuple, message: str, at_key: bool = False) -> None: ...


@dataclass(frozen=True)
class ParseContext:
    """What `parse` needs besides the key's value: where the step is, and the lab so far."""

    index: int  # position in `steps`, from 0
    line: int | None  # the step's line in the file
    path: tuple  # key path of the step's value, e.g. ('steps', Index(2), 'set_tag')
    state: LabState  # the lab as the steps before this one leave it
    report: Reporter

    def error(self, path: tuple, message: str, at_key: bool = False) -> None:
        self.report.error(path, message, at_key)


@dataclass(frozen=True, kw_only=True)
class Step:
    """One event or expectation of a scenario; subclasses are the step kinds."""

    kind: ClassVar[str]  # the YAML key
    method: ClassVar[str | None] = None  # the target's method `run` calls, if it calls one
    index: int
    line: int | None = None

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        """The step `arg` (the value under the key) describes, or None after reporting why not."""
        raise NotImplementedError

    def describe(self, topology: Topology) -> str:
        """One line for people: what the step does."""
        raise NotImplementedError

    def apply(self, state: LabState) -> None:
        """Change the model of the lab as the step changes the lab; most steps change nothing."""

    def run(self, target: StepTarget, state: LabState) -> None:
        """Do the step on a running lab; `state` already includes it."""
        raise NotImplementedError

    def missing_on(self, target: object) -> str | None:
        """Why `target` (a lab, or its class) cannot do this step; None when it can: when it has the method
        `run` calls (a builder may implement only part of `StepTarget`, as the rehearsal does)."""
        if self.method is None or callable(getattr(target, self.method, None)):
            return None
        return "not supported by this builder yet"


def unsupported(steps: tuple[Step, ...] | list[Step], target: object, topology: Topology) -> list[str]:
    """One line per step that `target` cannot do, so a builder can refuse before it builds anything."""
    return [f"step {step.index + 1} ({step.describe(topology)}): {why}" for step in steps if (why := step.missing_on(target)) is not None]


STEPS: dict[str, type[Step]] = {}

S = TypeVar("S", bound=type[Step])


def register(cls: S) -> S:
    """Make `cls` a step kind, under its `kind` key."""
    if cls.kind in STEPS:
        raise ValueError(f"step kind {cls.kind!r} is registered twice")
    STEPS[cls.kind] = cls
    return cls


@dataclass(frozen=True, kw_only=True)
class _LinkStep(Step):
    """Every link between two bridges, or the link with a name; `links` are indices into `Topology.links`."""

    up: ClassVar[bool]
    links: tuple[int, ...]

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        links = _links(arg, at)
        return cls(index=at.index, line=at.line, links=links) if links else None

    def describe(self, topology: Topology) -> str:
        return f"{self.kind} " + ", ".join(topology.links[i].id + " (" + "-".join(topology.links[i].between) + ")" for i in self.links)

    def apply(self, state: LabState) -> None:
        (state.down_links.difference_update if self.up else state.down_links.update)(self.links)

    def run(self, target: StepTarget, state: LabState) -> None:
        for i in self.links:
            # A link across a cut underlay (node_link_down) stays down until the underlay is back.
            if not self.up or state.link_is_up(i):
                target.set_link(state.base.links[i].id, up=self.up)


def _quoted(value: Any) -> str:
    """'value' for a plain value; a map or list by its kind, never printed (an alias could make it huge)."""
    return show(value) if isinstance(value, (dict, list)) else f"'{show(value)}'"


def _links(arg: Any, at: ParseContext) -> tuple[int, ...]:
    topo = at.state.base
    if isinstance(arg, str):
        found = tuple(link.index for link in topo.links if link.name == arg)
        if not found:
            at.error(at.path, f"no link is named '{show(arg)}'")
        return found
    if isinstance(arg, list) and len(arg) == 2 and all(isinstance(b, str) for b in arg):
        for b in arg:
            if b not in topo.bridges:
                at.error(at.path, f"unknown bridge '{b}'")
                return ()
        found = tuple(link.index for link in topo.links if set(link.between) == set(arg))
        if not found:
            at.error(at.path, f"no link joins {arg[0]} and {arg[1]}")
        return found
    at.error(at.path, "give a link's name, or two bridge names [A, B]")
    return ()


@register
@dataclass(frozen=True, kw_only=True)
class LinkDown(_LinkStep):
    kind = "link_down"
    method = "set_link"
    up = False


@register
@dataclass(frozen=True, kw_only=True)
class LinkUp(_LinkStep):
    kind = "link_up"
    method = "set_link"
    up = True


@dataclass(frozen=True, kw_only=True)
class _NicStep(Step):
    """All NICs of one endpoint."""

    up: ClassVar[bool]
    endpoint: str

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        # A list or map is no name (and cannot be looked up in a dict: it is unhashable).
        if not isinstance(arg, str) or arg not in at.state.base.endpoints:
            at.error(at.path, f"unknown endpoint {_quoted(arg)}")
            return None
        return cls(index=at.index, line=at.line, endpoint=arg)

    def describe(self, topology: Topology) -> str:
        return f"{self.kind} {self.endpoint}"

    def apply(self, state: LabState) -> None:
        keys = {(self.endpoint, nic.index) for nic in state.base.endpoints[self.endpoint].nics}
        (state.down_nics.difference_update if self.up else state.down_nics.update)(keys)

    def run(self, target: StepTarget, state: LabState) -> None:
        target.set_nic(self.endpoint, up=self.up)


@register
@dataclass(frozen=True, kw_only=True)
class NicDown(_NicStep):
    kind = "nic_down"
    method = "set_nic"
    up = False


@register
@dataclass(frozen=True, kw_only=True)
class NicUp(_NicStep):
    kind = "nic_up"
    method = "set_nic"
    up = True


@register
@dataclass(frozen=True, kw_only=True)
class SetTag(Step):
    """One NIC moved to another VLAN (`tag` None: untagged), optionally with a new address."""

    kind = "set_tag"
    method = "retag"
    endpoint: str
    nic: int = 0
    tag: int | None = None
    ip: IPv4Interface | None = None

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        path, state = at.path, at.state
        topo = state.base
        if not isinstance(arg, dict) or "endpoint" not in arg or "tag" not in arg:
            at.error(path, "set_tag needs {endpoint: E, nic: N, tag: T} (tag: null for untagged; ip optional)")
            return None
        for key in arg:
            if key not in ("endpoint", "nic", "tag", "ip"):
                at.error(path + (key,), f"unknown key '{key}'; expected endpoint, nic, tag, ip", at_key=True)
        name = arg["endpoint"]
        if not isinstance(name, str) or name not in topo.endpoints:
            at.error(path + ("endpoint",), f"unknown endpoint {_quoted(name)}")
            return None
        index = arg.get("nic", 0)
        nics = topo.endpoints[name].nics
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(nics):
            at.error(path + ("nic",), f"{name} has NICs 0 to {len(nics) - 1}, not {show(index)}")
            return None
        tag = arg["tag"]
        if tag is not None:
            if isinstance(tag, bool) or not isinstance(tag, int) or tag not in topo.vlans:
                at.error(path + ("tag",), f"tag must be a declared VLAN ({', '.join(map(str, sorted(topo.vlans)))}) or null")
                return None
            bridge = topo.bridges[nics[index].bridge]
            if not bridge.keeps_vlans_apart:
                at.error(path + ("tag",), f"bridge {bridge.name} is a Linux bridge that is not VLAN-aware, so it cannot carry tag {tag}")
                return None
            if tag in nics[index].trunks:
                at.error(path + ("tag",), f"VLAN {tag} is in trunks of {name}'s NIC {index}, carried tagged; it cannot also be the NIC's untagged tag")
                return None
        ip = None
        if arg.get("ip") is not None:
            try:
                ip = IPv4Interface(arg["ip"]) if isinstance(arg["ip"], str) and "/" in arg["ip"] else None
            except ValueError:
                ip = None
            if ip is None:
                at.error(path + ("ip",), f"ip must be an IPv4 address with a prefix length, like 10.0.10.11/24, not {_quoted(arg['ip'])}")
                return None
            for other, nic_list in state.addressed().items():
                for nic in nic_list:
                    if nic.ip and nic.ip.ip == ip.ip and (other, nic.index) != (name, index):
                        at.error(path + ("ip",), f"address {ip.ip} is already used by {other}'s NIC {nic.index}")
                        return None
        return cls(index=at.index, line=at.line, endpoint=name, nic=index, tag=tag, ip=ip)

    def describe(self, topology: Topology) -> str:
        tag = "untagged" if self.tag is None else f"tag {self.tag}"
        return f"set_tag {self.endpoint} NIC {self.nic} to {tag}" + (f", ip {self.ip}" if self.ip else "")

    def apply(self, state: LabState) -> None:
        key = (self.endpoint, self.nic)
        old = state.nic(*key)
        state.nics[key] = dataclasses.replace(old, tag=self.tag, ip=self.ip or old.ip)

    def run(self, target: StepTarget, state: LabState) -> None:
        target.retag(self.endpoint, self.nic, self.tag, self.ip)


@register
@dataclass(frozen=True, kw_only=True)
class Restart(Step):
    """`restart: controller`, the only thing a scenario restarts."""

    kind = "restart"
    method = "restart_controller"

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        if arg != "controller":
            at.error(at.path, "only 'restart: controller' is supported")
            return None
        return cls(index=at.index, line=at.line)

    def describe(self, topology: Topology) -> str:
        return "restart controller"

    def run(self, target: StepTarget, state: LabState) -> None:
        target.restart_controller()


@dataclass(frozen=True, kw_only=True)
class _ReplicaStep(Step):
    """One replica of the clustered controller (v1.1, `controller.replicas`), or the step's word for
    the master or for all of them (`replica` None)."""

    word: ClassVar[str]  # 'master' or 'all'
    replica: int | None = None

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        if arg == cls.word:
            return cls(index=at.index, line=at.line)
        count = at.state.base.controller.replicas
        # `true` is not replica 1, though YAML's true == 1 in Python.
        if isinstance(arg, bool) or not isinstance(arg, int) or not 1 <= arg <= count:
            at.error(at.path, f"{cls.kind} takes '{cls.word}' or a replica number from 1 to {count} (controller.replicas is {count}), not {_quoted(arg)}")
            return None
        return cls(index=at.index, line=at.line, replica=arg)

    def describe(self, topology: Topology) -> str:
        return f"{self.kind} {self.word if self.replica is None else self.replica}"

    def missing_on(self, target: object) -> str | None:
        if callable(getattr(target, self.method, None)):
            return None
        return "not supported by this builder yet: it runs one controller, not a cluster of replicas"

    def run(self, target: StepTarget, state: LabState) -> None:
        why = self.missing_on(target)
        if why is not None:
            raise UnsupportedStep(f"{self.describe(state.base)}: {why}")
        getattr(target, self.method)(self.replica)


def needs_cluster(steps: list[Step]) -> bool:
    """Whether a scenario stops, starts, cuts or heals a controller replica: then even one replica runs as a cluster."""
    return any(isinstance(step, _ReplicaStep) for step in steps)


@register
@dataclass(frozen=True, kw_only=True)
class StopController(_ReplicaStep):
    kind = "stop_controller"
    word = "master"
    method = "stop_replica"


@register
@dataclass(frozen=True, kw_only=True)
class StartController(_ReplicaStep):
    kind = "start_controller"
    word = "all"
    method = "start_replica"


@register
@dataclass(frozen=True, kw_only=True)
class PartitionController(_ReplicaStep):
    kind = "partition_controller"
    word = "master"
    method = "partition_replica"


@register
@dataclass(frozen=True, kw_only=True)
class HealController(_ReplicaStep):
    kind = "heal_controller"
    word = "all"
    method = "heal_replica"


@dataclass(frozen=True, kw_only=True)
class _NodeLinkStep(Step):
    """The underlay between two nodes (v1.1). A lab whose nodes are separate hosts (the rehearsal,
    `UnderlayTarget`) cuts it. On a lab that builds every node on one host (the simulator) there is
    no underlay to cut, so the step takes down, or brings back, the links that join a bridge of one
    node to a bridge of the other: what a cut underlay does to them."""

    up: ClassVar[bool]
    nodes: tuple[str, str]

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        nodes = at.state.base.nodes
        if not isinstance(arg, list) or len(arg) != 2 or not all(isinstance(n, str) for n in arg):
            at.error(at.path, f"{cls.kind} takes two node names [N1, N2]")
            return None
        unknown = [n for n in arg if n not in nodes]
        if unknown:
            at.error(at.path, f"unknown node '{show(unknown[0])}'; nodes are: {', '.join(nodes)}")
            return None
        if arg[0] == arg[1]:
            at.error(at.path, f"{cls.kind} takes two different nodes, not {arg[0]} twice")
            return None
        return cls(index=at.index, line=at.line, nodes=(arg[0], arg[1]))

    def crossing(self, topology: Topology) -> list[int]:
        """The links that join a bridge of one of the two nodes to a bridge of the other."""
        pair = set(self.nodes)
        return [link.index for link in topology.links if {topology.bridges[b].node for b in link.between} == pair]

    def describe(self, topology: Topology) -> str:
        links = ", ".join(topology.links[i].id for i in self.crossing(topology)) or "none"
        return f"{self.kind} {self.nodes[0]}-{self.nodes[1]} (links between them: {links})"

    def apply(self, state: LabState) -> None:
        (state.cut_nodes.discard if self.up else state.cut_nodes.add)(frozenset(self.nodes))

    def missing_on(self, target: object) -> str | None:
        if callable(getattr(target, "set_underlay", None)) or callable(getattr(target, "set_link", None)):
            return None
        return "not supported by this builder yet"

    def run(self, target: StepTarget, state: LabState) -> None:
        if callable(getattr(target, "set_underlay", None)):
            target.set_underlay(*self.nodes, up=self.up)
            return
        for i in self.crossing(state.base):
            # Up: only the links nothing else keeps down (a link_down, another cut underlay).
            if not self.up or state.link_is_up(i):
                target.set_link(state.base.links[i].id, up=self.up)


@register
@dataclass(frozen=True, kw_only=True)
class NodeLinkDown(_NodeLinkStep):
    kind = "node_link_down"
    up = False


@register
@dataclass(frozen=True, kw_only=True)
class NodeLinkUp(_NodeLinkStep):
    kind = "node_link_up"
    up = True


@register
@dataclass(frozen=True, kw_only=True)
class Wait(Step):
    kind = "wait"
    method = "wait"
    seconds: float = 0.0

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        if isinstance(arg, bool) or not isinstance(arg, (int, float)) or arg < 0:
            at.error(at.path, "wait takes a number of seconds, 0 or more")
            return None
        return cls(index=at.index, line=at.line, seconds=float(arg))

    def describe(self, topology: Topology) -> str:
        return f"wait {self.seconds:g} s"

    def run(self, target: StepTarget, state: LabState) -> None:
        target.wait(self.seconds)


@register
@dataclass(frozen=True, kw_only=True)
class Expect(Step):
    """`expect: intent` (every pingable pair, as the check computes them now) or listed pairs."""

    kind = "expect"
    method = "expect"
    reachable: tuple[Pair, ...] = ()
    isolated: tuple[Pair, ...] = ()
    intent: bool = False

    @classmethod
    def parse(cls, arg: Any, at: ParseContext) -> Step | None:
        path, state = at.path, at.state
        if arg == "intent":
            return cls(index=at.index, line=at.line, intent=True)
        if not isinstance(arg, dict) or not arg or set(arg) - {"reachable", "isolated"}:
            at.error(path, "expect takes 'intent' or {reachable: [[A, B], ...], isolated: [[C, D], ...]}")
            return None
        lists: dict[str, list[Pair]] = {}
        for key in ("reachable", "isolated"):
            lists[key] = []
            pairs = arg.get(key)
            if pairs is not None and not isinstance(pairs, list):
                at.error(path + (key,), f"{key} must be a list of pairs [[A, B], ...], not {_quoted(pairs)}")
                continue
            for j, pair in enumerate(pairs or []):
                ppath = path + (key, Index(j))
                if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(p, str) for p in pair) or pair[0] == pair[1]:
                    at.error(ppath, "a pair is two different endpoint names [A, B]")
                    continue
                unknown = [p for p in pair if p not in state.base.endpoints]
                if unknown:
                    at.error(ppath, f"unknown endpoint '{show(unknown[0])}'")
                    continue
                if not state.share_subnet(pair[0], pair[1]):
                    at.error(ppath, f"{pair[0]} and {pair[1]} have no addresses in one subnet at this step, so a probe cannot tell")
                    continue
                lists[key].append(tuple(sorted(pair)))
        both = set(lists["reachable"]) & set(lists["isolated"])
        if both:
            at.error(path, f"{sorted(both)[0]} is listed as both reachable and isolated")
            return None
        return cls(index=at.index, line=at.line, reachable=tuple(lists["reachable"]), isolated=tuple(lists["isolated"]))

    def describe(self, topology: Topology) -> str:
        return "expect intent" if self.intent else "expect listed pairs"

    def run(self, target: StepTarget, state: LabState) -> None:
        target.expect(self, state)
