"""Soak `sdnlab up` and `sdnlab down`: the same mixed lab, N times, half of them on a loaded machine.

    .venv/bin/python bench/soak.py [--runs 20] [--lab bench/labs/soak-mixed.yaml]   # root; `make soak`

Each run: `sdnlab up`; ping every ordered pair from inside and compare with
`sdnlab check` (a pair that should answer and does not, or the reverse, is a
failure); `sdnlab down`; then compare what is on the host with what was there
before (bridges, containers, guests, controllers, interfaces, namespaces,
state folders): anything new is a leftover. The second half of the runs has
two busy processes competing for the CPUs, the load `up` once failed under.
Writes bench/results/soak.md. Goal: 0 failures and 0 leftovers.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host.verify import parse_ping  # noqa: E402
from sdnlab import analyse, load  # noqa: E402
from tests.system.leftovers import difference, machine  # noqa: E402

SDNLAB = str(Path(sys.executable).parent / "sdnlab")
LAB = ROOT / "bench" / "labs" / "soak-mixed.yaml"


def sdnlab(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([SDNLAB, *args], capture_output=True, text=True, timeout=timeout)


@contextmanager
def cpu_load(busy: int):
    """`busy` processes spinning at normal priority, for the length of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def one_run(lab: Path) -> tuple[list[str], dict, float, float]:
    """(failures, leftovers, seconds up, seconds down) of one up, probe, down."""
    topology = load(lab)
    analysis = analyse(topology)
    before = machine()
    failures: list[str] = []
    started = time.monotonic()
    up = sdnlab("up", str(lab))
    up_s = time.monotonic() - started
    down_s = 0.0
    try:
        if up.returncode != 0:
            failures.append(f"up exited {up.returncode}: {(up.stderr or up.stdout).strip().splitlines()[-1:]}")
        else:
            for a, b in itertools.permutations(sorted(topology.endpoints), 2):
                address = topology.endpoints[b].nics[0].ip.ip
                out = sdnlab("exec", str(lab), a, "--", "ping", "-c", "2", "-i", "0.3", "-W", "1", str(address))
                answered = parse_ping(out.stdout)[1] > 0
                if answered != analysis.is_reachable(a, b):
                    failures.append(f"{a} -> {b}: {'answered' if answered else 'no answer'}, the check says "
                                    f"{'reachable' if analysis.is_reachable(a, b) else 'isolated'}")
    finally:
        started = time.monotonic()
        down = sdnlab("down", str(lab))
        down_s = time.monotonic() - started
        if down.returncode != 0:
            failures.append(f"down exited {down.returncode}: {(down.stderr or down.stdout).strip()[-200:]}")
    return failures, difference(before, machine()), up_s, down_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lab", type=Path, default=LAB)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/soak.py needs root (it runs sdnlab up)", file=sys.stderr)
        return 2
    rows = []
    for run in range(1, args.runs + 1):
        loaded = run > args.runs // 2
        with cpu_load(2 if loaded else 0):
            failures, leftovers, up_s, down_s = one_run(args.lab)
        rows.append((run, loaded, failures, leftovers, up_s, down_s))
        print(f"run {run:2}/{args.runs} {'loaded' if loaded else 'idle  '}  up {up_s:5.1f} s  down {down_s:4.1f} s  "
              f"{'ok' if not failures and not leftovers else 'FAILED'}"
              + "".join(f"\n    {f}" for f in failures) + "".join(f"\n    left behind: {k}: {v}" for k, v in leftovers.items()),
              flush=True)
    failed = sum(1 for r in rows if r[2])
    left = sum(1 for r in rows if r[3])
    report(args, rows, failed, left)
    print(f"{failed} of {len(rows)} runs failed, {left} left something behind; written to {args.out}")
    return 1 if failed or left else 0


def report(args: argparse.Namespace, rows: list, failed: int, left: int) -> None:
    def median(values: list[float]) -> float:
        values = sorted(values)
        return values[len(values) // 2] if values else 0.0

    lines = [
        "# Soak: `sdnlab up`, probe, `sdnlab down`, again and again",
        "",
        f"- Command: `{Path(sys.executable).name} bench/soak.py --runs {args.runs} --lab {args.lab.relative_to(ROOT) if args.lab.is_relative_to(ROOT) else args.lab}` (`make soak`)",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"- Lab: {args.lab.name} (one LXC container, one QEMU guest, a namespace on OVS, a namespace on a Linux bridge)",
        f"- Load: runs {args.runs // 2 + 1} to {args.runs} with two busy processes competing for the CPUs",
        "",
        f"**{failed} of {len(rows)} runs failed; {left} left something behind. Goal: 0 and 0.**",
        "",
        "| | runs | failed | left something | median up (s) | median down (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, group in (("idle", [r for r in rows if not r[1]]), ("loaded", [r for r in rows if r[1]])):
        lines.append(f"| {name} | {len(group)} | {sum(1 for r in group if r[2])} | {sum(1 for r in group if r[3])} | "
                     f"{median([r[4] for r in group]):.1f} | {median([r[5] for r in group]):.1f} |")
    problems = [(r[0], f) for r in rows for f in r[2]] + [(r[0], f"left behind {k}: {v}") for r in rows for k, v in r[3].items()]
    if problems:
        lines += ["", "## What went wrong", ""] + [f"- run {run}: {what}" for run, what in problems]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
