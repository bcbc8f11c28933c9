"""`sdnlab sim run FILE --separate-nodes`: replay a topology or a scenario on a rehearsal
(deploy/rehearsal.py) instead of Mininet: every node on a host of its own, links between nodes
over VXLAN, probes from inside the endpoints, the steps done to the real thing.

The rehearsal does the steps it can do to hosts: cut and restore the underlay between two nodes
(`node_link_down`/`node_link_up`), take a tunnel down and up (`link_down`/`link_up` of a link
between nodes: its VXLAN device on both hosts), `wait` and `expect`. A scenario with another step
is refused before anything is built.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from deploy import rehearsal
from host import netlink, nsenter
from host.verify import probeable_pairs, shared_target
from sdnlab.check import analyse
from sdnlab.model import Topology
from sdnlab.scenario import LabState, Scenario, pingable_pairs, play
from sdnlab.steps import Expect, Step, UnsupportedStep, unsupported
from sdnlab.underlay import crossing, tunnel_name

Pair = tuple[str, str]


def probe(lab: rehearsal.Rehearsal, topology: Topology, expected: dict[Pair, bool], tries: int = 3) -> dict[Pair, bool]:
    """Whether each pair answers ping from inside its first endpoint: a few tries where an answer is expected (a path
    may be moving), one where none is (an answer would show at once)."""
    out = {}
    for (a, b), reachable in expected.items():
        target = shared_target(topology.endpoints[a].nics, topology.endpoints[b].nics)
        out[(a, b)] = any(lab.run(a, f"ping -c 1 -W 1 {target}")[0] == 0 for _ in range(tries if reachable else 1))
    return out


def report(found: dict[Pair, bool], intent: dict[Pair, bool], out: TextIO) -> list[Pair]:
    """Print the probes against what was expected; the pairs where they disagree."""
    wrong = [p for p in found if found[p] != intent[p]]
    for a, b in wrong:
        print(f"  {a}-{b}: expected {'reachable' if intent[(a, b)] else 'isolated'}, "
              f"probe says {'reachable' if found[(a, b)] else 'isolated'}", file=out)
    print(f"  {len(found) - len(wrong)} of {len(found)} pairs as expected", file=out)
    return wrong


class RehearsalTarget:
    """Scenario steps done on a rehearsal (part of `sdnlab.steps.StepTarget`, and `UnderlayTarget`)."""

    def __init__(self, lab: rehearsal.Rehearsal, topology: Topology, out: TextIO):
        self.lab = lab
        self.topology = topology
        self.out = out
        self.results: list[dict] = []

    def begin(self, step: Step, total: int) -> None:
        print(f"[{step.index + 1}/{total}] {step.describe(self.topology)}", file=self.out, flush=True)

    def set_underlay(self, a: str, b: str, up: bool) -> None:
        self.lab.set_underlay(a, b, up)

    def set_link(self, link_id: str, up: bool) -> None:
        link = next(x for x in self.topology.links if x.id == link_id)
        if not crossing(self.topology, link):
            raise UnsupportedStep(f"link {link_id} is within one node: the rehearsal takes down only links between nodes")
        for bridge in link.between:
            with nsenter.inside(self.lab.names.netns(self.topology.bridges[bridge].node)):
                netlink.set_up(tunnel_name(link), up)

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def expect(self, step: Expect, state: LabState) -> None:
        pairs = pingable_pairs(state) if step.intent else sorted(set(step.reachable) | set(step.isolated))
        if step.intent:
            analysis = analyse(state.topology())
            intent = {p: analysis.is_reachable(*p) for p in pairs}
        else:
            intent = {p: p in step.reachable for p in pairs}
        found = probe(self.lab, self.topology, intent)
        wrong = report(found, intent, self.out)
        self.results.append({"step": step.index, "agree": not wrong, "reachable": sorted(p for p in found if found[p]),
                             "isolated": sorted(p for p in found if not found[p]), "disagree": sorted(wrong)})


def refused(scenario: Scenario) -> list[str]:
    """Why the rehearsal cannot play this scenario (nothing: it can)."""
    topology = scenario.topology
    why = []
    for step in scenario.steps:  # in step order
        why += unsupported([step], RehearsalTarget, topology)
        links = getattr(step, "links", ())
        inside = [topology.links[i].id for i in links if not crossing(topology, topology.links[i])]
        if step.kind in ("link_down", "link_up") and inside:
            why.append(f"step {step.index + 1} ({step.describe(topology)}): links {', '.join(inside)} are within one node; "
                       "the rehearsal takes down only links between nodes")
    return why


def run(path: Path, loaded: Topology | Scenario, as_json: bool) -> int:
    """Rehearse, probe (or play the scenario), tear down; 0 when every expectation held."""
    out = sys.stderr if as_json else sys.stdout
    scenario = loaded if isinstance(loaded, Scenario) else None
    topology = scenario.topology if scenario else loaded
    if scenario and refused(scenario):
        raise rehearsal.DeployError(f"scenario {scenario.source} has steps the rehearsal cannot do: " + "; ".join(refused(scenario)))
    print(f"rehearsing {path}: {len(topology.nodes)} nodes, each on a host of its own", file=out)
    started = time.monotonic()
    with contextlib.redirect_stdout(out):  # the build's own lines go where ours go
        rehearsal.up(topology, Path(topology.source), tls=True)
    print(f"  up in {time.monotonic() - started:.1f} s", file=out)
    try:
        lab = rehearsal.Rehearsal(topology)
        if scenario is None:
            pairs = probeable_pairs(topology)
            analysis = analyse(topology)
            target = RehearsalTarget(lab, topology, out)
            intent = {p: analysis.is_reachable(*p) for p in pairs}
            found = probe(lab, topology, intent)
            wrong = report(found, intent, out)
            target.results.append({"step": None, "agree": not wrong, "reachable": sorted(p for p in found if found[p]),
                                   "isolated": sorted(p for p in found if not found[p]), "disagree": sorted(wrong)})
        else:
            target = RehearsalTarget(lab, topology, out)
            play(scenario, target)
    finally:
        with contextlib.redirect_stdout(out):
            rehearsal.down_rehearsal(topology, quiet=True)
    failed = sum(not r["agree"] for r in target.results)
    print(f"{len(target.results) - failed} of {len(target.results)} expectations held", file=out)
    if as_json:
        print(json.dumps({"file": str(path), "topology": topology.name, "rehearsed": True, "agree": failed == 0,
                          "expectations": target.results}, indent=2))
    return 0 if failed == 0 else 1
