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
INJECT = Path(__file__).with_name("inject.py")


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


def inject(lab, host: str, frames: list[bytes], count: int = 1) -> None:
    """Send raw frames from `host`'s eth0 (each `count` times)."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".frames") as listing:
        listing.write("\n".join(f.hex() for f in frames))
        listing.flush()
        out = lab.hosts[host].cmd(f"{sys.executable} {INJECT} eth0 {count} {listing.name}")
    assert f"sent {count * len(frames)}" in out, out


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def frame(dst: str, src: str, payload: bytes, ethertype: int = 0x88B5, tags: tuple[tuple[int, int], ...] = ()) -> bytes:
    """An Ethernet frame; `tags` are (TPID, VLAN) outermost first; 0x88b5 is the IEEE's ethertype for experiments."""
    head = mac_bytes(dst) + mac_bytes(src) + b"".join(tpid.to_bytes(2, "big") + vid.to_bytes(2, "big") for tpid, vid in tags)
    return (head + ethertype.to_bytes(2, "big") + payload).ljust(60, b"\0")


def arp_reply(sender_mac: str, sender_ip: str, target_mac: str, target_ip: str) -> bytes:
    """A gratuitous-style ARP reply claiming `sender_ip` is at `sender_mac`, sent to `target_mac`."""
    import ipaddress

    body = (bytes.fromhex("0001080006040002") + mac_bytes(sender_mac) + ipaddress.IPv4Address(sender_ip).packed
            + mac_bytes(target_mac) + ipaddress.IPv4Address(target_ip).packed)
    return frame(target_mac, sender_mac, body, ethertype=0x0806)
