"""How fast traffic comes back after a cut, and how fast the controller stops,
each next to a baseline run in the same invocation.

    .venv/bin/python bench/recovery_bench.py     # writes bench/results/recovery.md (root, OVS running)

- **Recovery after a cut**: the triangle lab (three bridges in a loop, one
  host on each). Each link is cut in turn (one of them is off the active
  path, so the minimum is near zero and the maximum is the case that
  matters); the time until h1 gets answers from both h2 and h3 again is
  measured, `--cuts` times.
  sdnlab: `SimLab` with the controller (it recomputes the flood tree).
  Baseline: the same three OVS bridges in standalone mode with OVS's own RSTP,
  the usual in-the-box answer to a loop.
- **Stopping**: SIGTERM to a listening `sdnlab controller` until it has exited,
  next to the textbook os-ken switch on the same launcher.

These were assertions in system tests once; timings belong here.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host.control import free_port, wait_listening  # noqa: E402
from host.verify import parse_ping  # noqa: E402
from sdnlab import load  # noqa: E402

PY = sys.executable
TRIANGLE = ROOT / "topologies" / "triangle.yaml"


def answers(host, address: str, timeout: float = 0.3) -> bool:
    return parse_ping(host.cmd(f"ping -c 1 -W {timeout:g} {address}"))[1] > 0


def time_until_both_answer(h1, addresses: list[str], limit: float = 60.0) -> float:
    started = time.monotonic()
    while not all(answers(h1, a) for a in addresses):
        if time.monotonic() - started > limit:
            return float("inf")
    return time.monotonic() - started


def sdnlab_recovery(cuts: int) -> list[float]:
    from sim.lab import SimLab

    topology = load(TRIANGLE)
    targets = [str(topology.endpoints[h].nics[0].ip.ip) for h in ("h2", "h3")]
    times = []
    with SimLab(topology) as lab:
        h1 = lab.hosts["h1"]
        time_until_both_answer(h1, targets)
        for i in range(cuts):
            link = ("l12", "l23", "l31")[i % 3]
            lab.set_link(link, up=False)
            times.append(time_until_both_answer(h1, targets))
            lab.set_link(link, up=True)
            time_until_both_answer(h1, targets)
    return times


def rstp_recovery(cuts: int) -> list[float]:
    """Three standalone OVS bridges in a triangle with RSTP, built by plain Mininet."""
    from mininet.log import setLogLevel
    from mininet.net import Mininet
    from mininet.node import OVSSwitch
    from mininet.topo import Topo

    from host.preflight import datapath

    class Triangle(Topo):
        def build(self) -> None:
            s = [self.addSwitch(f"rs{i}", failMode="standalone") for i in (1, 2, 3)]
            for i, sw in enumerate(s, 1):
                self.addLink(self.addHost(f"h{i}", ip=f"10.10.0.{i}/24"), sw)
            self.addLink(s[0], s[1])
            self.addLink(s[1], s[2])
            self.addLink(s[2], s[0])

    setLogLevel("error")
    kind = "kernel" if datapath().kernel else "user"
    net = Mininet(topo=Triangle(), switch=lambda name, **kw: OVSSwitch(name, datapath=kind, **kw), controller=None, autoSetMacs=True)
    times = []
    try:
        net.start()
        for sw in net.switches:
            subprocess.run(["ovs-vsctl", "set", "Bridge", sw.name, "rstp_enable=true"], check=True)
        h1 = net.get("h1")
        targets = ["10.10.0.2", "10.10.0.3"]
        time_until_both_answer(h1, targets, 120)  # RSTP converges first
        for i in range(cuts):
            a, b = (("rs1", "rs2"), ("rs2", "rs3"), ("rs3", "rs1"))[i % 3]
            net.configLinkStatus(a, b, "down")
            times.append(time_until_both_answer(h1, targets))
            net.configLinkStatus(a, b, "up")
            time_until_both_answer(h1, targets)
    finally:
        net.stop()  # not mininet.clean: it deletes every OVS bridge on the host
    return times


def stop_times(command, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        port = free_port()
        proc = subprocess.Popen(command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        why = wait_listening(port, proc)
        if why:
            proc.kill()
            raise RuntimeError(why)
        sent = time.monotonic()
        proc.terminate()
        proc.wait(timeout=30)
        times.append(time.monotonic() - sent)
    return times


def summary(times: list[float]) -> str:
    return f"{min(times):.2f} / {statistics.median(times):.2f} / {max(times):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuts", type=int, default=12)
    parser.add_argument("--stops", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory():
        ours = sdnlab_recovery(args.cuts)
        print(f"sdnlab recovery (min/median/max s): {summary(ours)}", flush=True)
        base = rstp_recovery(args.cuts)
        print(f"OVS RSTP recovery (min/median/max s): {summary(base)}", flush=True)
        stop_ours = stop_times(lambda p: [PY, "-m", "sdnlab.cli", "controller", str(TRIANGLE), "--port", str(p)], args.stops)
        stop_base = stop_times(lambda p: [PY, str(ROOT / "bench" / "textbook_switch.py"), str(p)], args.stops)
        print(f"stop on SIGTERM (min/median/max s): sdnlab {summary(stop_ours)}, textbook {summary(stop_base)}", flush=True)
    ratio = max(ours) / max(base)
    lines = [
        "# Recovery and stop benchmark",
        "",
        f"Command: `.venv/bin/python bench/recovery_bench.py --cuts {args.cuts} --stops {args.stops}`",
        f"Machine: {platform.node()}, {platform.machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "Recovery: the triangle lab, each link cut in turn, time until h1 gets answers from h2 and h3 again",
        "(pings 0.3 s apart at most, so figures are upper bounds within about 0.3 s).",
        "",
        "| what | min / median / max s | ratio to baseline (max for recovery, median for stops) |",
        "|---|---|---|",
        f"| sdnlab controller (flood tree recomputed) | {summary(ours)} | {ratio:.2f} |",
        f"| baseline: OVS standalone with RSTP | {summary(base)} | 1.00 |",
        f"| sdnlab controller stops on SIGTERM | {summary(stop_ours)} | {statistics.median(stop_ours) / statistics.median(stop_base):.2f} |",
        f"| baseline: textbook os-ken switch stops on SIGTERM | {summary(stop_base)} | 1.00 |",
    ]
    out = ROOT / "bench" / "results" / "recovery.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
