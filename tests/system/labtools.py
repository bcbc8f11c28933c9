"""Small helpers for system tests on a simulated lab: wait for what a fixed sleep would only hope for."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from host.verify import parse_ping

SNIFF = Path(__file__).with_name("sniff.py")


def answers(lab, src: str, address: str) -> bool:
    return parse_ping(lab.hosts[src].cmd(f"ping -c 2 -i 0.2 -W 1 {address}"))[1] > 0


def counter(lab, host: str, name: str) -> int:
    return int(lab.hosts[host].cmd(f"cat /sys/class/net/eth0/statistics/{name}"))


def iter_until(stream, marker: str):
    """Lines of a process's output up to and including the first that holds `marker`."""
    for line in stream:
        yield line
        if marker in line:
            return
    raise AssertionError(f"the output ended before {marker!r}")


def wait_for_log(lab, text: str, count: int = 1, timeout: float = 10) -> None:
    """Until the controller's log says `text` (`count` times): what a fixed sleep would only hope for."""
    deadline = time.monotonic() + timeout
    while lab.controller_log.read_text().count(text) < count:
        assert time.monotonic() < deadline, f"the controller never logged {text!r}:\n" + lab.controller_log.read_text()[-2000:]
        time.sleep(0.05)


@contextmanager
def sniffing(lab, host: str, seconds: float, marker: bytes = b"") -> Iterator[dict[str, int]]:
    """Frames `host`'s eth0 receives while the block runs (and until `seconds` have passed), by source MAC."""
    proc = lab.hosts[host].popen([sys.executable, str(SNIFF), "eth0", str(seconds), marker.hex()], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", "the sniffer did not start"
    seen: dict[str, int] = {}
    try:
        yield seen
    finally:
        out, _ = proc.communicate(timeout=seconds + 10)
        seen.update(json.loads(out.strip().splitlines()[-1]))


def relaxed(path: Path, endpoints: list[str], tmp: Path) -> Path:
    """A copy of a topology file whose named endpoints' NICs have `port_security: false` (may send from other addresses)."""
    doc = yaml.safe_load(path.read_text())
    for name in endpoints:
        for nic in doc["endpoints"][name]["nics"]:
            nic["port_security"] = False
    out = tmp / path.name
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out
