"""Probing a running lab: every pair pinged both ways, in parallel, bounded in time."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from sdnlab.model import Nic, Topology

Pair = tuple[str, str]
PARALLEL = 96  # pings in flight at once; isolated pairs wait out the deadline, so this bounds a run


def parse_ping(text: str) -> tuple[int, int]:
    """(sent, received) from ping's summary line; (0, 0) when there is none."""
    found = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def shared_target(src: tuple[Nic, ...], dst: tuple[Nic, ...]) -> str | None:
    """An address of `dst` in a subnet one of `src`'s addresses is in (and the other way round)."""
    for x in src:
        for y in dst:
            if x.ip and y.ip and x.ip.ip in y.ip.network and y.ip.ip in x.ip.network:
                return str(y.ip.ip)
    return None


def probeable_pairs(topology: Topology) -> list[Pair]:
    """Pairs of endpoints with addresses in one subnet: the ones a ping can judge."""
    names = sorted(topology.endpoints)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]
            if shared_target(topology.endpoints[a].nics, topology.endpoints[b].nics)]


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
