"""What a cut looks like from inside: replies of a continuous ping over time."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from itertools import pairwise

INTERVAL = 0.05


def parse_replies(text: str) -> list[float]:
    """Timestamps (ping -D) of the echo replies in ping's output."""
    return [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", text, re.M)]


def ping_timeline(host, target: str, seconds: float, events: list[tuple[float, str, Callable[[], None]]]) -> dict:
    """Ping `target` from `host` every 50 ms for `seconds`, running each event (at, label, action) on time.

    Returns the reply times and the event times, both relative to the start.
    """
    count = int(seconds / INTERVAL)
    proc = host.popen(["ping", "-D", "-n", "-i", str(INTERVAL), "-c", str(count), "-W", "1", target], stdout=subprocess.PIPE, text=True)
    start = time.time()
    done = []
    for at, label, action in sorted(events, key=lambda e: e[0]):
        time.sleep(max(0.0, start + at - time.time()))
        action()
        done.append((time.time() - start, label))
    out, _ = proc.communicate(timeout=seconds + 10)
    return {"replies": [t - start for t in parse_replies(out)], "events": done, "sent": count, "interval": INTERVAL}


def gaps(replies: list[float], interval: float = INTERVAL) -> list[tuple[float, float]]:
    """Stretches with no reply longer than three intervals: (from, to)."""
    return [(a, b) for a, b in pairwise(replies) if b - a > 3 * interval]
