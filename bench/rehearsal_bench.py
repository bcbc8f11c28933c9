"""How long a lab across hosts takes to rehearse, against the same lab on one Open vSwitch, in one invocation.

    .venv/bin/python bench/rehearsal_bench.py [--runs N]     # writes bench/results/rehearsal.md (root, OVS running)

The lab is topologies/across-hosts-loop.yaml: three nodes in a loop, six guests (two LXC containers, two
QEMU guests, two namespaces). Each run times `sdnlab up` from start until every reachable pair answers
ping from inside (what `up` waits for before it returns), then `sdnlab down`:

- one host: every node on this host's Open vSwitch, links between nodes as veths and patch ports;
- rehearsed: `sdnlab up --separate-nodes`, each node on a namespace with its own ovsdb-server and
  ovs-vswitchd, links between nodes as VXLAN tunnels over an underlay bridge.

The two kinds alternate, so a drift of the machine's load touches both alike. Goal: rehearsed under 2x.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDNLAB = str(Path(sys.executable).parent / "sdnlab")
LAB = ROOT / "topologies" / "across-hosts-loop.yaml"
KINDS = {"one host (one Open vSwitch)": [], "rehearsed (3 hosts, 3 Open vSwitch instances, VXLAN)": ["--separate-nodes"]}


def timed(*args: str) -> float:
    started = time.monotonic()
    done = subprocess.run([SDNLAB, *args], capture_output=True, text=True, timeout=600)
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"sdnlab {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ups: dict[str, list[float]] = {kind: [] for kind in KINDS}
    downs: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for run in range(args.runs):
        for kind, extra in KINDS.items():
            ups[kind].append(timed("up", str(LAB), *extra))
            downs[kind].append(timed("down", str(LAB)))
            print(f"run {run + 1}/{args.runs}, {kind}: up {ups[kind][-1]:.1f} s, down {downs[kind][-1]:.1f} s", flush=True)
    one, rehearsed = (statistics.median(ups[k]) for k in KINDS)
    ratio = rehearsed / one
    lines = [
        "# Rehearsing a lab across hosts",
        "",
        f"Command: `.venv/bin/python bench/rehearsal_bench.py --runs {args.runs}`",
        f"Machine: {platform.node()}, {platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Lab: `{LAB.relative_to(ROOT)}` (3 nodes in a loop; 2 LXC containers, 2 QEMU guests, 2 namespaces). `up` is timed until every "
        "reachable pair answers ping from inside; the two kinds alternate.",
        "",
        "| build | up, median s | up, each run s | down, median s |",
        "|---|---|---|---|",
    ]
    for kind in KINDS:
        lines.append(f"| {kind} | {statistics.median(ups[kind]):.1f} | {', '.join(f'{x:.1f}' for x in ups[kind])} | "
                     f"{statistics.median(downs[kind]):.1f} |")
    lines += ["", f"- rehearsed / one host: **{ratio:.2f}x** (goal under 2x: {'met' if ratio < 2 else 'NOT met'})", ""]
    out = ROOT / "bench" / "results" / "rehearsal.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
