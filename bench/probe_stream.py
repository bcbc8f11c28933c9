"""Continuous ICMP echo probes from one lab host, every probe's fate recorded: the benches' loss meter.

    with streaming(lab.hosts["h1"], ["10.10.0.2", "10.10.0.3"], 1.0, workdir / "h1.json") as stream:
        ...                                  # cut links, reload the controller
        record = stream.stop()               # {"sent_ns": [[...], ...], "rtt_ns": [[...], ...], ...}
    longest_loss_run(record, 0, start_ns, end_ns, late_ns)

Run as a script it is the prober itself, started in a host's namespace (Mininet's
`host.popen`) as root, since it uses a raw ICMP socket:

    probe_stream.py --interval-ms 1 --out FILE DEST [DEST ...]

Every interval, on an absolute schedule (a late tick is sent at once; after a
stall of several intervals the schedule restarts rather than bursting, and the
record counts it), it sends one echo request to each destination. Each carries a 64-bit
sequence number (the tick) in its payload, so nothing wraps and every reply is
matched to its request by destination and tick. It prints `ready` once its
socket is open; a line `stop` (or EOF) on stdin ends the sending, replies are
awaited for `--drain` seconds, then it writes FILE (JSON) and prints `done`.
Times are CLOCK_MONOTONIC nanoseconds, the same clock in every network
namespace, so the caller can place its own events (a cut, a reload) among the
probes. The socket's receive buffer is made large and the kernel's count of
replies it dropped for lack of room (SO_RXQ_OVFL) is reported as `overflow`:
a nonzero count means losses were the meter's own, not the network's.

ping(8) was the other choice: at 1 ms its -O reports are tied to its own
scheduling and its sequence numbers wrap after 65 s; here every probe has an
exact send time and an exact fate.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve()
ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0
HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, 16-bit sequence
PAYLOAD = struct.Struct("!4sHQQ")  # magic, destination index, 64-bit sequence, send time (ns)
MAGIC = b"SDNP"
SIZE = 56  # ICMP payload bytes, as ping's default
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux: a cmsg with the socket's cumulative drop count
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # root may exceed net.core.rmem_max
RECEIVE_BUFFER = 8 << 20
LOST = -1  # rtt_ns of a probe never answered
RESYNC = 5  # a tick this many intervals late restarts the schedule instead of sending a burst


# --- the wire --------------------------------------------------------------------


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident: int, index: int, seq: int, sent_ns: int) -> bytes:
    """An ICMP echo request (without IP header) carrying destination index, 64-bit sequence and send time."""
    payload = PAYLOAD.pack(MAGIC, index, seq, sent_ns).ljust(SIZE, b"\0")
    header = HEADER.pack(ICMP_ECHO_REQUEST, 0, 0, ident, seq & 0xFFFF)
    return HEADER.pack(ICMP_ECHO_REQUEST, 0, checksum(header + payload), ident, seq & 0xFFFF) + payload


def parse_reply(packet: bytes, ident: int) -> tuple[int, int] | None:
    """(destination index, sequence) of one of our echo replies, from a raw socket's IPv4 packet; None for anything else."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    icmp = packet[(packet[0] & 0x0F) * 4:]
    if len(icmp) < HEADER.size + PAYLOAD.size:
        return None
    kind, code, _, rid, _ = HEADER.unpack_from(icmp)
    if kind != ICMP_ECHO_REPLY or code != 0 or rid != ident:
        return None
    magic, index, seq, _ = PAYLOAD.unpack_from(icmp, HEADER.size)
    return (index, seq) if magic == MAGIC else None


# --- the prober (runs in a lab host) ---------------------------------------------


def _overflow(ancillary) -> int | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(data) >= 4:
            return struct.unpack("I", data[:4])[0]
    return None


def probe(destinations: list[str], interval_ns: int, drain_ns: int, control=None, sock=None) -> dict:
    """Probe until `control` (a binary file, stdin) says stop or ends; the record (see the module docstring).
    `sock`: the raw ICMP socket to use (one is opened by default)."""
    control = control if control is not None else sys.stdin.buffer
    ident = os.getpid() & 0xFFFF
    sock = sock if sock is not None else socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
    sock.setblocking(False)
    sent = [array("q") for _ in destinations]
    rtt = [array("q") for _ in destinations]
    where = {address: i for i, address in enumerate(destinations)}
    counts = {"send_errors": 0, "duplicates": 0, "strays": 0, "overflow": 0, "late_ticks": 0, "resyncs": 0}
    print("ready", flush=True)
    watched = [sock, control]
    tick = 0
    next_ns = time.monotonic_ns()
    stopped_ns = None
    while True:
        now = time.monotonic_ns()
        if stopped_ns is None and now >= next_ns:
            if now - next_ns >= RESYNC * interval_ns:
                counts["resyncs"] += 1  # stalled (descheduled): no burst of catch-up probes, the schedule starts again now
                next_ns = now
            elif now - next_ns >= interval_ns:
                counts["late_ticks"] += 1  # sent late: the record has the true send times
            for i, address in enumerate(destinations):
                at = time.monotonic_ns()
                sent[i].append(at)
                rtt[i].append(LOST)
                try:
                    sock.sendto(echo_request(ident, i, tick, at), (address, 0))
                except OSError:
                    counts["send_errors"] += 1
            tick += 1
            next_ns += interval_ns
            continue
        if stopped_ns is not None and now - stopped_ns >= drain_ns:
            break
        wait_ns = (next_ns - now) if stopped_ns is None else (stopped_ns + drain_ns - now)
        readable, _, _ = select.select(watched, [], [], max(0, wait_ns) / 1e9)
        if sock in readable:
            while True:
                try:
                    packet, ancillary, _, source = sock.recvmsg(2048, socket.CMSG_SPACE(4))
                except (BlockingIOError, InterruptedError):
                    break
                arrived = time.monotonic_ns()
                dropped = _overflow(ancillary)
                if dropped is not None:
                    counts["overflow"] = max(counts["overflow"], dropped)
                found = parse_reply(packet, ident)
                if found is None:
                    continue
                index, seq = found
                if index >= len(destinations) or seq >= len(sent[index]) or where.get(source[0]) != index:
                    counts["strays"] += 1
                elif rtt[index][seq] != LOST:
                    counts["duplicates"] += 1
                else:
                    rtt[index][seq] = arrived - sent[index][seq]
        if control in readable:
            line = os.read(control.fileno(), 4096)
            if not line or b"stop" in line:
                stopped_ns = time.monotonic_ns()
                watched = [sock]
    sock.close()
    return {"destinations": destinations, "interval_ns": interval_ns, "sent_ns": [list(s) for s in sent],
            "rtt_ns": [list(r) for r in rtt], **counts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destinations", nargs="+", help="IPv4 addresses")
    parser.add_argument("--interval-ms", type=float, default=1.0)
    parser.add_argument("--drain", type=float, default=1.0, help="seconds to wait for replies after the stop")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    record = probe(args.destinations, int(args.interval_ms * 1e6), int(args.drain * 1e9))
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_text(json.dumps(record))
    tmp.replace(args.out)
    print("done", flush=True)
    return 0


# --- the caller's side ---------------------------------------------------------


class Stream:
    """A prober running in a lab host; `stop()` ends it and returns its record."""

    def __init__(self, proc: subprocess.Popen, out: Path, drain: float):
        self.proc = proc
        self.out = out
        self.drain = drain
        self.record: dict | None = None

    def _line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().decode().strip() if ready else ""

    def wait_ready(self, timeout: float = 15) -> None:
        if self._line(timeout) != "ready":
            self.kill()
            error = self.out.with_suffix(".err")
            raise RuntimeError(f"the prober did not start: {error.read_text()[-2000:] if error.exists() else '(no output)'}")

    def stop(self) -> dict:
        """Stop sending, wait for late replies and the record."""
        if self.record is not None:
            return self.record
        try:
            self.proc.stdin.write(b"stop\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait(timeout=self.drain + 60)  # writing 100,000s of numbers takes a moment
        if self.proc.returncode != 0 or not self.out.exists():
            error = self.out.with_suffix(".err")
            raise RuntimeError(f"the prober failed (status {self.proc.returncode}): {error.read_text()[-2000:] if error.exists() else ''}")
        self.record = json.loads(self.out.read_text())
        return self.record

    def kill(self) -> None:
        """End the prober if it still runs (SIGTERM, then SIGKILL) and reap it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


@contextmanager
def streaming(host, destinations: list[str], interval_ms: float, out: Path, drain: float = 1.0,
              env: dict[str, str] | None = None) -> Iterator[Stream]:
    """Run a prober in a Mininet `host` towards `destinations` for the duration of the block; it is killed on the way out.

    `out` is where it writes its record (its stderr goes next to it, `.err`);
    `env` its environment (give it the lab's run tag, so `sdnlab sim clean` finds it after a kill -9).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with open(out.with_suffix(".err"), "wb") as errors:
        proc = host.popen([sys.executable, str(HERE), "--interval-ms", f"{interval_ms:g}", "--drain", f"{drain:g}", "--out", str(out),
                           *destinations], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env)
    stream = Stream(proc, out, drain)
    try:
        stream.wait_ready()
        yield stream
    finally:
        stream.kill()


# --- reading a record --------------------------------------------------------------


def window(record: dict, index: int, start_ns: int, end_ns: int) -> range:
    """The probes to destination `index` sent in [start_ns, end_ns)."""
    sent = record["sent_ns"][index]
    return range(bisect.bisect_left(sent, start_ns), bisect.bisect_left(sent, end_ns))


def is_lost(rtt_ns: int, late_ns: int | None) -> bool:
    """Never answered, or (with `late_ns`) answered later than that."""
    return rtt_ns == LOST or (late_ns is not None and rtt_ns > late_ns)


def loss_runs(record: dict, index: int, start_ns: int, end_ns: int, late_ns: int | None = None) -> list[tuple[int, int]]:
    """(first probe, length) of each run of consecutive lost probes to destination `index` in the window."""
    rtt = record["rtt_ns"][index]
    runs: list[tuple[int, int]] = []
    first = None
    probes = window(record, index, start_ns, end_ns)
    for i in probes:
        if is_lost(rtt[i], late_ns):
            if first is None:
                first = i
        elif first is not None:
            runs.append((first, i - first))
            first = None
    if first is not None:
        runs.append((first, probes.stop - first))
    return runs


def longest_loss_run(record: dict, index: int, start_ns: int, end_ns: int, late_ns: int | None = None) -> dict:
    """The longest run of lost probes to destination `index` in the window: its length, the probes sent and lost there,
    and the run's duration by the clock (from its first probe's send time to that of the next probe, which was answered)."""
    runs = loss_runs(record, index, start_ns, end_ns, late_ns)
    probes = window(record, index, start_ns, end_ns)
    rtt = record["rtt_ns"][index]
    answered = [rtt[i] for i in probes if not is_lost(rtt[i], late_ns)]
    out = {"sent": len(probes), "lost": sum(n for _, n in runs), "run": 0, "run_ms_by_clock": 0.0,
           "max_rtt_ms": max(answered) / 1e6 if answered else None}
    if runs:
        first, length = max(runs, key=lambda r: r[1])
        sent = record["sent_ns"][index]
        after = first + length
        end = sent[after] if after < len(sent) else (sent[after - 1] + record["interval_ns"])
        out.update(run=length, run_ms_by_clock=(end - sent[first]) / 1e6)
    return out


def send_intervals_ms(record: dict, start_ns: int | None = None, end_ns: int | None = None) -> list[float]:
    """The prober's actual intervals between ticks (its first destination's send times), in ms."""
    sent = record["sent_ns"][0]
    lo = 0 if start_ns is None else bisect.bisect_left(sent, start_ns)
    hi = len(sent) if end_ns is None else bisect.bisect_left(sent, end_ns)
    return [(sent[i + 1] - sent[i]) / 1e6 for i in range(lo, max(lo, hi - 1))]


if __name__ == "__main__":
    sys.exit(main())
