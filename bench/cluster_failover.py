"""Failover of the controller cluster, measured: kill the master, partition it, and how long until a new one is in control.

    .venv/bin/python bench/cluster_failover.py [--rounds 5]     # root; `make bench-cluster`

On topologies/cluster.yaml (three bridges in a loop, three replicas on
corosync) in the simulator, each round:

- kill: a 10 ms ping from h1 to h3 runs while the master replica (controller
  and corosync member) is SIGKILLed; the figures are the time until the
  switches confirm a new master (its role replies), until it is in control
  (it has adopted every switch's flows and may install its own), and the
  pings lost. Then a link on the path (l12) is cut: the time until h1 reaches
  h2 again is the new master's repair. The old replica is started again and
  the cluster settles before the next round.
- partition: the same with the master cut off from its peers and its switches
  instead of killed; it must lose quorum and step down (its log says so).

Baseline, in the same run: the only failover a single controller has, a
restart (`restart: controller` on topologies/triangle.yaml): the time until the
restarted controller has adopted every switch's flows again. Writes
bench/results/cluster_failover.md.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host.cluster import TOKEN_MS  # noqa: E402
from sdnlab import load  # noqa: E402
from sim.lab import SimLab  # noqa: E402
from sim.runner import current_master  # noqa: E402

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ", re.M)
RESULTS = ROOT / "bench" / "results" / "cluster_failover.md"


def stamped(log: str, pattern: str, after: float) -> list[tuple[float, str]]:
    """(epoch seconds, line) of each log line matching `pattern` written after `after`."""
    found = []
    for line in log.splitlines():
        m = STAMP.match(line)
        if m and re.search(pattern, line):
            when = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000
            if when >= after:
                found.append((when, line))
    return found


def in_control(log: str, bridges: list[str], after: float) -> tuple[float, float] | None:
    """(when every switch confirmed the role, when every switch's flows were adopted) after `after`; None if not yet."""
    confirmed, adopted = [], []
    for bridge in bridges:
        role = stamped(log, rf"INFO {bridge}: role master", after)
        if not role:
            return None
        done = stamped(log, rf"INFO {bridge}: \d+ of our flows already installed", role[0][0])
        if not done:
            return None
        confirmed.append(role[0][0])
        adopted.append(done[0][0])
    return max(confirmed), max(adopted)


def ping_loss(proc: subprocess.Popen) -> tuple[int, int]:
    """(sent, lost) of a ping once it has sent its count (stopping it early would count the one in flight as lost)."""
    out = proc.communicate(timeout=30)[0]
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    return (int(m.group(1)), int(m.group(1)) - int(m.group(2))) if m else (0, -1)


def wait_for(condition, timeout: float, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(step)
    return None


def repair_time(lab: SimLab) -> float:
    """Cut l12 (on the flood tree) and time until h1 reaches h2 again; the link is restored afterwards."""
    cut = time.monotonic()
    lab.set_link("l12", up=False)
    try:
        ok = wait_for(lambda: lab.ping("h1", "h2", count=1, timeout=0.2), 15, step=0)
        return time.monotonic() - cut if ok else float("nan")
    finally:
        lab.set_link("l12", up=True)


def one_round(lab: SimLab, bridges: list[str], how: str) -> dict:
    master = wait_for(lambda: current_master(lab.masters()) if set(lab.masters().values()) == {1} else None, 30)
    if master is None:
        raise SystemExit(f"the cluster did not settle with replica 1 master: {lab.masters()}")
    time.sleep(1)
    # 4 s of pings: 1 s before the failover and the rest across it (a new master is in control within 1.2 s).
    pinger = lab.hosts["h1"].popen(["ping", "-n", "-i", "0.01", "-c", "400", "10.10.0.3"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    at = time.time()
    (lab.replicas.stop_replica if how == "kill" else lab.replicas.partition)(master)
    new = wait_for(lambda: (m := current_master(lab.masters())) not in (None, master) and set(lab.masters().values()) == {m} and m, 15)
    log = lab.replicas[new].controller.log if new else None
    times = wait_for(lambda: in_control(log.read_text(), bridges, at), 10) if log else None
    sent, lost = ping_loss(pinger)
    stepped_down = None
    if how == "partition":
        old_log = lab.replicas[master].controller.log
        stepped_down = bool(wait_for(lambda: stamped(old_log.read_text(), "NO QUORUM.*steps down", at), 10))
    repair = repair_time(lab) if new else float("nan")
    if how == "kill":
        lab.replicas.start_replica(master)
    else:
        lab.replicas.heal(master)
    return {"how": how, "old": master, "new": new, "confirmed": times[0] - at if times else float("nan"),
            "control": times[1] - at if times else float("nan"), "sent": sent, "lost": lost, "repair": repair, "stepped_down": stepped_down}


def baseline(rounds: int) -> list[float]:
    """A single controller's restart: seconds until it has adopted every switch's flows again."""
    topology = load(ROOT / "topologies" / "triangle.yaml")
    bridges = sorted(topology.bridges)
    out = []
    with SimLab(topology) as lab:
        for _ in range(rounds):
            at = time.time()
            lab.restart_controller()
            times = wait_for(lambda at=at: in_adopted(lab.controller.log.read_text(), bridges, at), 15)
            out.append(times - at if times else float("nan"))
            time.sleep(1)
    return out


def in_adopted(log: str, bridges: list[str], after: float) -> float | None:
    found = [stamped(log, rf"INFO {b}: \d+ of our flows already installed", after) for b in bridges]
    return max(f[0][0] for f in found) if all(found) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    topology = load(ROOT / "topologies" / "cluster.yaml")
    bridges = sorted(topology.bridges)
    results = []
    with SimLab(topology) as lab:
        for how in ("kill", "partition"):
            for i in range(args.rounds):
                result = one_round(lab, bridges, how)
                results.append(result)
                print(f"{how} {i + 1}: replica {result['old']} -> {result['new']}: confirmed {result['confirmed']:.2f} s, "
                      f"in control {result['control']:.2f} s, {result['lost']} of {result['sent']} pings lost, "
                      f"cut repaired in {result['repair']:.2f} s" + ("" if result["stepped_down"] is None else
                                                                   f", old master stepped down: {result['stepped_down']}"), flush=True)
    single = baseline(args.rounds)
    print(f"baseline (single controller restart, adopted again): {', '.join(f'{s:.2f}' for s in single)} s", flush=True)
    write(results, single, args)
    return 0


def write(results: list[dict], single: list[float], args) -> None:
    def med(how: str, key: str) -> float:
        return statistics.median(r[key] for r in results if r["how"] == how)

    corosync = subprocess.run(["corosync", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    ovs = subprocess.run(["ovs-vswitchd", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    rows = [f"| {r['how']} | {r['old']} → {r['new']} | {r['confirmed']:.2f} | {r['control']:.2f} | {r['lost']} / {r['sent']} | {r['repair']:.2f} | "
            f"{'-' if r['stepped_down'] is None else ('yes' if r['stepped_down'] else 'NO')} |" for r in results]
    base = statistics.median(single)
    lines = [
        "# Controller cluster failover",
        "",
        f"Command: `.venv/bin/python bench/cluster_failover.py --rounds {args.rounds}` (`make bench-cluster`)",
        f"Machine: {platform.node()}, {platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs, Python {platform.python_version()}, "
        f"{corosync}, {ovs}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"Lab: topologies/cluster.yaml in the simulator (userspace datapath), 3 replicas, corosync token {TOKEN_MS} ms, token_coefficient 0.",
        "",
        "Times are seconds from the kill (SIGKILL of the master's controller and corosync member) or the partition (its veth down):",
        "*confirmed* when every switch has answered the new master's role request, *in control* when it has also adopted every",
        "switch's flows (and may install its own). Pings: h1 → h3 every 10 ms across the failover, on the existing path.",
        "*repair*: l12, on the flood tree, cut right after the failover, until h1 reaches h2 again.",
        "",
        "| event | master | confirmed | in control | pings lost | repair | old master stepped down |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Medians: kill in control {med('kill', 'control'):.2f} s, partition in control {med('partition', 'control'):.2f} s; "
        f"pings lost in all: {sum(r['lost'] for r in results)} of {sum(r['sent'] for r in results)}.",
        f"Baseline, same run: a single controller's restart (topologies/triangle.yaml) is in control again after "
        f"{', '.join(f'{s:.2f}' for s in single)} s (median {base:.2f} s); the cluster's kill failover takes "
        f"{med('kill', 'control') / base:.2f}x that, without anyone restarting anything.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
