"""`sdnlab sim run`: replay a topology or a scenario and show that the intent
(the check), the flows installed in OVS and the probes agree."""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from pathlib import Path
from typing import TextIO

import yaml

from host import standin
from host.errors import HostError
from host.verify import Pair, flow_reachability, normal_settings, probeable_pairs, trace_check, trace_sample
from sdnlab.check import analyse
from sdnlab.loader import loads
from sdnlab.model import Topology
from sdnlab.progress import Progress
from sdnlab.scenario import LabState, Scenario, pingable_pairs, play
from sdnlab.steps import Expect, Step, needs_cluster, unsupported
from sim.lab import SimError, SimLab
from sim.probe import PairResult, probe

TRACE_SAMPLE = 4


@dataclass
class Comparison:
    """Three views of the same pairs, and where they differ."""

    pairs: list[Pair]
    intent: dict[Pair, bool]
    flows: dict[Pair, bool]
    probes: dict[Pair, PairResult]
    trace_mismatches: list[str] = field(default_factory=list)

    def disagreements(self) -> list[dict]:
        out = []
        for pair in self.pairs:
            views = {"intent": self.intent[pair], "flows": self.flows[pair], "probes": self.probes[pair].reachable}
            if len(set(views.values())) > 1 or self.probes[pair].asymmetric:
                out.append({"pair": list(pair), **views, "asymmetric": self.probes[pair].asymmetric})
        return out

    @property
    def agree(self) -> bool:
        return not self.disagreements() and not self.trace_mismatches

    def to_json(self) -> dict:
        reachable = [list(p) for p in self.pairs if self.probes[p].reachable]
        return {
            "reachable": reachable,
            "isolated": [list(p) for p in self.pairs if not self.probes[p].reachable],
            "compared_with": {
                "intent": {"reachable": [list(p) for p in self.pairs if self.intent[p]], "isolated": [list(p) for p in self.pairs if not self.intent[p]]},
                "flows": {"reachable": [list(p) for p in self.pairs if self.flows[p]], "isolated": [list(p) for p in self.pairs if not self.flows[p]]},
            },
            "agree": self.agree,
            "disagreements": self.disagreements(),
            "trace_check": {"sampled": min(TRACE_SAMPLE, len(self.pairs)), "mismatches": self.trace_mismatches},
        }


def compare(lab: SimLab, intent_topology: Topology, pairs: list[Pair], progress: Progress | None = None) -> Comparison:
    analysis = analyse(intent_topology)
    intent = {p: analysis.is_reachable(*p) for p in pairs}
    results = probe(lab.hosts, lab.topology, pairs, progress=(lambda d, t: progress.update("probing", d, t)) if progress else None)
    dumps = lab.dumps()
    flows = flow_reachability(lab.topology, lab.plan, dumps, pairs, lab.down_links, lab.down_nics, normal_settings(lab.topology, lab.bridge))
    mismatches = trace_check(lab.topology, lab.plan, dumps, trace_sample(pairs, TRACE_SAMPLE), lab.bridge)
    return Comparison(pairs, intent, flows, results, mismatches)


def print_comparison(comparison: Comparison, out=sys.stdout) -> None:
    n = len(comparison.pairs)
    reachable = sum(1 for p in comparison.pairs if comparison.probes[p].reachable)
    print(f"  probed {n} pairs both ways: {reachable} reachable, {n - reachable} isolated", file=out)
    if comparison.agree:
        print("  intent, flows and probes agree on every pair; ofproto/trace agrees with the simulator on the sample", file=out)
        return
    for d in comparison.disagreements():
        a, b = d["pair"]
        words = ", ".join(f"{k} says {'reachable' if d[k] else 'isolated'}" for k in ("intent", "flows", "probes"))
        print(f"  DISAGREE {a}-{b}: {words}{' (answers in one direction only)' if d['asymmetric'] else ''}", file=out)
    for m in comparison.trace_mismatches:
        print(f"  DISAGREE ofproto/trace: {m}", file=out)


def plot(topology: Topology, comparison: Comparison, output: Path, title: str) -> Path:
    """The topology with failed expectations drawn in red, and the reachability matrix beside it."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from sdnlab.draw import draw_on, figure_size

    names = sorted(topology.endpoints)
    bad = {tuple(d["pair"]): "#e53e3e" for d in comparison.disagreements()}
    w, h = figure_size(topology)
    fig, (left, right) = plt.subplots(1, 2, figsize=(w + max(5, len(names) * 0.3), max(h, 4)), gridspec_kw={"width_ratios": [w, max(5, len(names) * 0.3)], "wspace": 0.45})
    draw_on(left, analyse(topology), title, bad)
    colours = {"ok-reach": (0.22, 0.63, 0.41), "ok-iso": (0.85, 0.87, 0.9), "bad": (0.9, 0.24, 0.24), "none": (1, 1, 1)}
    grid = [[colours["none"]] * len(names) for _ in names]
    index = {n: i for i, n in enumerate(names)}
    for pair in comparison.pairs:
        i, j = index[pair[0]], index[pair[1]]
        cell = "bad" if pair in bad else ("ok-reach" if comparison.probes[pair].reachable else "ok-iso")
        grid[i][j] = grid[j][i] = colours[cell]
    right.imshow(grid, interpolation="nearest")
    right.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    right.set_yticks(range(len(names)), names, fontsize=7)
    right.set_title("probes (white: not probed, no shared subnet)", fontsize=9)
    right.legend(handles=[Patch(color=colours["ok-reach"], label="reachable, as intended"), Patch(color=colours["ok-iso"], label="isolated, as intended"),
                          Patch(color=colours["bad"], label="disagreement")], loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, ncol=1)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return output


def run_topology(path: Path, topology: Topology, as_json: bool, plot_to: Path | None, tls: bool = True) -> int:
    progress = Progress()
    out = sys.stderr if as_json else sys.stdout
    print(f"replaying {path} ({len(topology.bridges)} bridges, {len(topology.endpoints)} endpoints) in Mininet with the controller", file=out)
    if standin.note(topology):
        print(f"  {standin.note(topology)}", file=out)
    started = time.monotonic()
    with SimLab(topology, path, tls=tls) as lab:
        print(f"  up in {time.monotonic() - started:.1f} s on the {lab.datapath} datapath; flows installed as the core computes them", file=out)
        print(f"  metrics: {', '.join(f'http://{a}/metrics' for a in lab.metrics_addresses())}", file=out)
        if lab.replicas is not None:
            print(f"  {cluster_line(lab)}", file=out)
        comparison = compare(lab, topology, probeable_pairs(topology), progress)
    print_comparison(comparison, out)
    if plot_to:
        print(f"  picture: {plot(topology, comparison, plot_to, f'{topology.name}: probes vs intent')}", file=out)
    if as_json:
        print(json.dumps({"topology": topology.name, **comparison.to_json()}, indent=2))
    return 0 if comparison.agree else 1


def _retag(work: Path, endpoint: str, index: int, tag: int | None, ip: IPv4Interface | None) -> None:
    """Rewrite the working copy of the topology file with the NIC's new tag (and address)."""
    doc = yaml.safe_load(work.read_text())
    nic = doc["endpoints"][endpoint]["nics"][index]
    if tag is None:
        nic.pop("tag", None)
    else:
        nic["tag"] = tag
    if ip is not None:
        nic["ip"] = str(ip)
    work.write_text(yaml.safe_dump(doc, sort_keys=False))


class SimTarget:
    """Scenario steps done on a running SimLab (the simulator's `sdnlab.steps.StepTarget`).

    Retags go to `work`, the lab's working copy of the topology file, which the
    controller reloads on SIGHUP. Every `expect` is probed and compared; the
    results are kept for the summary and --json.
    """

    def __init__(self, lab: SimLab, work: Path, topology: Topology, out: TextIO, progress: Progress):
        self.lab = lab
        self.work = work
        self.topology = topology  # the scenario's, as loaded: steps describe themselves against it
        self.out = out
        self.progress = progress
        self.results: list[dict] = []
        self.failed = 0
        self.last: Comparison | None = None
        self.master_changes: list[dict] = []

    def begin(self, step: Step, total: int) -> None:
        print(f"[{step.index + 1}/{total}] {step.describe(self.topology)}", file=self.out, flush=True)

    def set_link(self, link_id: str, up: bool) -> None:
        self.lab.set_link(link_id, up=up)

    def set_nic(self, endpoint: str, up: bool) -> None:
        self.lab.set_nic(endpoint, up=up)

    def retag(self, endpoint: str, nic: int, tag: int | None, ip: IPv4Interface | None) -> None:
        _retag(self.work, endpoint, nic, tag, ip)
        if ip is not None:
            self.lab.hosts[endpoint].cmd(f"ip addr flush dev eth{nic} && ip addr add {ip} dev eth{nic}")
        self.lab.topology = loads(self.work.read_text(), str(self.work))
        self.lab.controller.reload()

    def restart_controller(self) -> None:
        self.lab.restart_controller()

    # -- a controller cluster (sdnlab.steps.ReplicaTarget) ------------------------
    def stop_replica(self, replica: int | None) -> None:
        number = replica or self._master("stop_controller")
        self.lab.replicas.stop_replica(number)
        print(f"  replica {number} killed (controller and corosync member, SIGKILL)", file=self.out, flush=True)

    def start_replica(self, replica: int | None) -> None:
        numbers = [replica] if replica else [r.number for r in self.lab.replicas.replicas if not r.running]
        for number in numbers:
            self.lab.replicas.start_replica(number)
        print(f"  replica {', '.join(map(str, numbers)) or '(none stopped)'} started", file=self.out, flush=True)

    def partition_replica(self, replica: int | None) -> None:
        number = replica or self._master("partition_controller")
        self.lab.replicas.partition(number)
        print(f"  replica {number} cut off from its peers and its switches (still running)", file=self.out, flush=True)

    def heal_replica(self, replica: int | None) -> None:
        numbers = [replica] if replica else [r.number for r in self.lab.replicas.replicas if r.partitioned]
        for number in numbers:
            self.lab.replicas.heal(number)
        print(f"  replica {', '.join(map(str, numbers)) or '(none partitioned)'} reconnected", file=self.out, flush=True)

    def _master(self, step: str, patience: float = 15) -> int:
        """The current master; a replica that (re)joined may still be taking over, so wait for one a while."""
        deadline = time.monotonic() + patience
        while (found := current_master(self.lab.masters())) is None:
            if time.monotonic() > deadline:
                raise SimError(f"{step} master: no replica has been master of the switches for {patience:.0f} s")
            time.sleep(0.1)
        return found

    def wait(self, seconds: float) -> None:
        _wait(seconds, self.progress)

    def expect(self, step: Expect, state: LabState) -> None:
        pairs = pingable_pairs(state) if step.intent else sorted(set(step.reachable) | set(step.isolated))
        intent_topology = state.topology()
        self.last = compare(self.lab, intent_topology, pairs, self.progress)
        if not step.intent:  # the listed pairs are the expectation
            self.last.intent = {p: p in step.reachable for p in pairs}
        print_comparison(self.last, self.out)
        self.failed += not self.last.agree
        self.results.append({"step": step.index, **self.last.to_json()})


def run_scenario(scenario: Scenario, as_json: bool, plot_to: Path | None, tls: bool = True) -> int:
    progress = Progress()
    out = sys.stderr if as_json else sys.stdout
    topology = scenario.topology
    refused = unsupported(scenario.steps, SimTarget, topology)
    if refused:  # said before anything is built, not at the step
        raise HostError(f"scenario {scenario.source} has steps the simulator cannot do: " + "; ".join(refused))
    print(f"scenario {scenario.source} on {topology.source}: {len(scenario.steps)} steps", file=out)
    if standin.note(topology):
        print(f"  {standin.note(topology)}", file=out)
    # Steps that stop or cut a replica run the controller as a cluster even with one replica: the same machinery.
    cluster = topology.controller.replicas > 1 or needs_cluster(scenario.steps)
    with tempfile.TemporaryDirectory(prefix="sdnlab-scenario-") as tmp:
        work = Path(tmp) / Path(topology.source).name
        work.write_text(Path(topology.source).read_text())
        with SimLab(topology, work, tls=tls, cluster=cluster) as lab:
            print(f"  lab up on the {lab.datapath} datapath; metrics: {', '.join(f'http://{a}/metrics' for a in lab.metrics_addresses())}", file=out)
            target = SimTarget(lab, work, topology, out, progress)
            with MasterWatch(lab, out) as watch:
                state = play(scenario, target)
            target.master_changes = watch.changes
    results, failed, last = target.results, target.failed, target.last
    if plot_to and last is not None:
        print(f"picture: {plot(state.topology(), last, plot_to, f'{topology.name} after the last step')}", file=out)
    print(f"{len(results) - failed} of {len(results)} expectations held", file=out)
    if as_json:
        print(json.dumps({"scenario": scenario.source, "topology": topology.name, "agree": failed == 0, "expectations": results,
                          **({"masters": target.master_changes} if cluster else {})}, indent=2))
    return 0 if failed == 0 else 1


def _wait(seconds: float, progress: Progress) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        progress.update("waiting", int((seconds - left) * 10), int(seconds * 10))
        time.sleep(min(0.1, left))
    progress.update("waiting", int(seconds * 10), int(seconds * 10))


def current_master(masters: dict[str, int | None]) -> int | None:
    """The replica that is master of the most switches (None: of none)."""
    counted = Counter(m for m in masters.values() if m is not None)
    return counted.most_common(1)[0][0] if counted else None


def cluster_line(lab: SimLab, masters: dict[str, int | None] | None = None) -> str:
    """Members, quorum and each switch's master (`masters`, read now when not given), in one line (the corosync
    view is the master's, else the first live replica's)."""
    masters = lab.masters() if masters is None else masters
    master = current_master(masters)
    views = [(r.number, lab.replicas.quorum(r.number)) for r in lab.replicas.replicas if r.running and not r.partitioned]
    number, view = next(((n, v) for n, v in views if n == master), views[0] if views else (None, None))
    seen = (f"corosync (replica {number}): members {','.join(map(str, view[1])) or 'none'}, {'quorate' if view[0] else 'NOT quorate'}"
            if view else "corosync: no replica answers")
    by_switch = ", ".join(f"{b}={'-' if m is None else m}" for b, m in sorted(masters.items()))
    return f"master: {'none' if master is None else f'replica {master}'} [{by_switch}]; {seen}"


class MasterWatch:
    """While a scenario runs on a controller cluster, print which replica is master whenever that changes
    (as OVS reports each switch's controller roles), and keep the changes for --json."""

    def __init__(self, lab: SimLab, out: TextIO, interval: float = 0.1):
        self.lab, self.out, self.interval = lab, out, interval
        self.changes: list[dict] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="master-watch", daemon=True)

    def __enter__(self) -> MasterWatch:
        if self.lab.replicas is not None:
            self.started = time.monotonic()
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def _run(self) -> None:
        last = None
        while True:
            try:
                masters = self.lab.masters()
            except Exception:  # noqa: BLE001 - OVSDB going away as the lab stops; the next poll or the exit decides
                masters = None
            if masters is not None and masters != last:
                last = masters
                at = time.monotonic() - self.started
                self.changes.append({"t": round(at, 3), "master": current_master(masters), "switches": masters})
                print(f"  [{at:6.2f} s] {cluster_line(self.lab, masters)}", file=self.out, flush=True)
            if self.stop.wait(self.interval):
                return
