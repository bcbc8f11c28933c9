"""Probing a simulated lab from its Mininet hosts: every pair pinged both ways, in parallel, bounded in time."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from host.verify import Pair, parse_ping, shared_target
from sdnlab.model import Topology

PARALLEL = 96  # pings in flight at once; isolated pairs wait out the deadline, so this bounds a run


@dataclass(frozen=True)
class PairResult:
    forward: bool  # a got answers from b
    backward: bool

    @property
    def reachable(self) -> bool:
        return self.forward and self.backward

    @property
    def asymmetric(self) -> bool:
        return self.forward != self.backward


def probe(hosts: dict, topology: Topology, pairs: list[Pair], count: int = 3, deadline: int = 2,
          progress: Callable[[int, int], None] | None = None) -> dict[Pair, PairResult]:
    """Ping every pair in both directions: `count` echoes 0.2 s apart, `deadline` seconds at most each."""
    jobs = []
    for a, b in pairs:
        for src, dst in ((a, b), (b, a)):
            target = shared_target(topology.endpoints[src].nics, topology.endpoints[dst].nics)
            jobs.append(((a, b), src, target))
    answers: dict[tuple[Pair, str], bool] = {}
    running: list = []
    done = 0
    queue = list(jobs)
    while queue or running:
        while queue and len(running) < PARALLEL:
            pair, src, target = queue.pop(0)
            proc = hosts[src].popen(["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-w", str(deadline), target],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            running.append((pair, src, proc))
        still = []
        for pair, src, proc in running:
            if proc.poll() is None:
                still.append((pair, src, proc))
                continue
            answers[(pair, src)] = parse_ping(proc.stdout.read())[1] > 0
            proc.stdout.close()
            done += 1
            if progress:
                progress(done, len(jobs))
        running = still
        time.sleep(0.02)
    return {(a, b): PairResult(answers[((a, b), a)], answers[((a, b), b)]) for a, b in pairs}
