"""Benchmark the simulator against plain Mininet, in one invocation.

    .venv/bin/python bench/sim_bench.py          # writes bench/results/sim.md (root, OVS running)

Shapes: a tree of depth 2 and fanout 4 (5 switches, 16 hosts) and a
leaf-spine of 20 bridges (4 spines, 16 leaves, one host per leaf). For each:

- plain Mininet: the same shape, OVS switches on the same datapath, and
  ovs-testcontroller (Mininet's OVSController); bring-up = net.start() until
  every switch is connected, then net.pingAll();
- sdnlab: `SimLab` (controller started, every flow installed and checked),
  then sdnlab's probe of every pair in both directions.

The leaf-spine has loops, and ovs-testcontroller is a plain learning switch:
pingAll there would be a broadcast storm, so only its bring-up is timed.
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mininet.log import setLogLevel  # noqa: E402
from mininet.net import Mininet  # noqa: E402
from mininet.node import OVSController, OVSSwitch  # noqa: E402
from mininet.topo import Topo  # noqa: E402
from mininet.topolib import TreeTopo  # noqa: E402

from host.preflight import datapath  # noqa: E402
from host.verify import probeable_pairs  # noqa: E402
from sdnlab import load  # noqa: E402
from sim.lab import SimLab  # noqa: E402
from sim.probe import probe  # noqa: E402

DATAPATH = "kernel" if datapath().kernel else "user"


class LeafSpine(Topo):
    def build(self, spines: int = 4, leaves: int = 16) -> None:
        top = [self.addSwitch(f"s{i + 1}") for i in range(spines)]
        for j in range(leaves):
            leaf = self.addSwitch(f"s{spines + j + 1}")
            for spine in top:
                self.addLink(leaf, spine)
            self.addLink(self.addHost(f"h{j + 1}"), leaf)


def tree_yaml() -> str:
    lines = ["name: tree", "bridges:", "  s1: {type: ovs}"] + [f"  s{k}: {{type: ovs}}" for k in range(2, 6)] + ["endpoints:"]
    lines += [f"  h{h}: {{type: host, nics: [{{bridge: s{2 + (h - 1) // 4}, ip: 10.0.0.{h}/24}}]}}" for h in range(1, 17)]
    lines += ["links:"] + [f"  - {{between: [s1, s{k}]}}" for k in range(2, 6)]
    return "\n".join(lines) + "\n"


def leaf_spine_yaml() -> str:
    lines = ["name: leafspine", "bridges:"] + [f"  sp{i}: {{type: ovs}}" for i in range(1, 5)] + [f"  lf{j}: {{type: ovs}}" for j in range(1, 17)]
    lines += ["endpoints:"] + [f"  h{j}: {{type: host, nics: [{{bridge: lf{j}, ip: 10.0.0.{j}/24}}]}}" for j in range(1, 17)]
    lines += ["links:"] + [f"  - {{between: [lf{j}, sp{i}]}}" for j in range(1, 17) for i in range(1, 5)]
    return "\n".join(lines) + "\n"


def plain_mininet(topo: Topo, ping: bool) -> dict:
    setLogLevel("error")
    net = Mininet(topo=topo, switch=partial(OVSSwitch, datapath=DATAPATH, protocols="OpenFlow13"), controller=OVSController, autoSetMacs=True)
    try:
        started = time.monotonic()
        net.start()
        connected = net.waitConnected(timeout=60)
        up = time.monotonic() - started
        result = {"up_s": up, "connected": bool(connected)}
        if ping:
            started = time.monotonic()
            loss = net.pingAll(timeout=1)
            result.update(probe_s=time.monotonic() - started, loss_pct=loss)
        return result
    finally:
        net.stop()  # not mininet.clean: it deletes every OVS bridge on the host


def sdnlab_run(text: str, tmp: Path, name: str) -> dict:
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    topology = load(path)
    started = time.monotonic()
    with SimLab(topology, path) as lab:
        up = time.monotonic() - started
        pairs = probeable_pairs(topology)
        started = time.monotonic()
        results = probe(lab.hosts, topology, pairs)
        probe_s = time.monotonic() - started
    reachable = sum(r.reachable for r in results.values())
    return {"up_s": up, "probe_s": probe_s, "pairs": len(pairs), "reachable": reachable}


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for label, topo, text, ping in (
            ("tree: 5 switches, 16 hosts", TreeTopo(depth=2, fanout=4), tree_yaml(), True),
            ("leaf-spine: 20 bridges, 16 hosts", LeafSpine(), leaf_spine_yaml(), False),
        ):
            base = plain_mininet(topo, ping)
            ours = sdnlab_run(text, tmp, label.split(":")[0])
            rows.append((label, base, ours))
            print(f"{label}: mn up {base['up_s']:.2f} s" + (f", pingAll {base['probe_s']:.2f} s ({base['loss_pct']:.0f}% loss)" if ping else "")
                  + f" | sdnlab up {ours['up_s']:.2f} s, probe {ours['probe_s']:.2f} s ({ours['reachable']}/{ours['pairs']} pairs reachable, both ways)",
                  flush=True)
    lines = [
        "# Simulator benchmark",
        "",
        "Command: `.venv/bin/python bench/sim_bench.py`",
        f"Machine: {platform.node()}, {platform.machine()}, datapath {DATAPATH}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "Plain Mininet: same shape, OVS on the same datapath, ovs-testcontroller; up = start until every switch is connected.",
        "sdnlab: SimLab (controller started, every flow installed and checked against the core); probe = every pair, both ways.",
        "",
        "| shape | mn up s | sdnlab up s | up ratio (goal <= 1.5) | mn pingAll s | sdnlab probe s | probe ratio (goal < 1) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, base, ours in rows:
        probe_cols = (f"{base['probe_s']:.2f} | {ours['probe_s']:.2f} | {ours['probe_s'] / base['probe_s']:.2f}"
                      if "probe_s" in base else f"not run (loops: a storm) | {ours['probe_s']:.2f} | -")
        mn_up = f"{base['up_s']:.2f}" + ("" if base["connected"] else " (not all switches connected within 60 s)")
        lines.append(f"| {label} | {mn_up} | {ours['up_s']:.2f} | {ours['up_s'] / base['up_s']:.2f} | {probe_cols} |")
    out = ROOT / "bench" / "results" / "sim.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
