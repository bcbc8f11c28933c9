"""A cbench-style OpenFlow 1.3 load generator.

N emulated switches connect to a controller, answer its handshake, then send
packet-ins carrying frames with fresh source MACs (02:5d + a sequence number)
towards destinations learned during a warm-up (02:de:...). A packet-in counts
as answered when its sequence number shows up in any flow-mod or packet-out
that comes back, so a controller answering with two flow-mods is not counted
twice. Modes, as in cbench:

  throughput  every switch keeps `window` packet-ins outstanding
  latency     every switch keeps one packet-in outstanding; round trips are timed

`sink` runs a perfect controller (one packet-out per packet-in, no logic): the
generator's own ceiling on this machine.

All switches measure the same window: it opens once every switch has finished
its handshake and warm-up. With --metrics-url (a Prometheus page with Faucet's
`vlan_hosts_learned`, which sdnlab's --metrics serves too) the page is read as
the window opens and as it closes: the difference is the MACs the controller
itself says it learned in the window. --seq-base starts the sequence numbers
elsewhere, so that a second run against the same controller sends MACs it has
never seen.

--faucet makes the packet-ins those a switch running Faucet's pipeline sends
for an unknown source: from the flow in Faucet's eth_src table, so with reason
OFPR_ACTION, that table's id and Faucet's cookie (Faucet drops packet-ins with
another cookie, `strict_packet_in_cookie`, and any with reason NO_MATCH), and
the frame already tagged with the port's native VLAN (Faucet's vlan table
pushes it; an untagged frame is no VLAN traffic to Faucet and is not learned).
Such a switch also starts sending packet-ins only once Faucet has turned them
on with SET_ASYNC, which Faucet does when it has programmed the switch (until
then os-ken would not hand them to Faucet at all), so that is when the warm-up
starts. Without --faucet the packet-ins are as they always were.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import time
import urllib.request
from dataclasses import dataclass, field

OFP_VERSION = 4
HELLO, ECHO_REQUEST, ECHO_REPLY, FEATURES_REQUEST, FEATURES_REPLY = 0, 2, 3, 5, 6
GET_CONFIG_REQUEST, GET_CONFIG_REPLY, PACKET_IN, PACKET_OUT, FLOW_MOD = 7, 8, 10, 13, 14
MULTIPART_REQUEST, MULTIPART_REPLY, BARRIER_REQUEST, BARRIER_REPLY = 18, 19, 20, 21
SET_ASYNC = 28
MP_DESC, MP_PORT_DESC = 0, 13
REASON_NO_MATCH, REASON_ACTION = 0, 1
FRESH = b"\x02\x5d"
HOST = b"\x02\xde"
SEQ_BITS = 20  # a fresh MAC is 02:5d + (dpid << SEQ_BITS | seq)


def header(kind: int, length: int, xid: int) -> bytes:
    return struct.pack("!BBHI", OFP_VERSION, kind, length, xid)


def port_desc(number: int, name: str) -> bytes:
    return struct.pack("!I4x6s2x16sIIIIIIII", number, bytes([2, 0, 0, 0, number >> 8, number & 0xFF]), name.encode(), 0, 4, 0, 0, 0, 0, 0, 0)


def desc_stats() -> bytes:
    """An ofp_desc body (OFPMP_DESC): manufacturer, hardware, software, serial number, datapath description."""
    return struct.pack("!256s256s256s32s256s", b"sdnlab", b"ofload emulated switch", b"bench/ofload.py", b"None", b"ofload")


@dataclass(frozen=True)
class PacketInShape:
    """What a packet-in looks like beyond its port and frame: the table and flow it comes from, and the VLAN tag
    the switch's pipeline has pushed by then (per port; none: the frame as it came in)."""

    reason: int = REASON_NO_MATCH
    table_id: int = 1
    cookie: int = 0
    vids: dict[int, int] = field(default_factory=dict)


PLAIN = PacketInShape()  # what every contender but Faucet gets, as it always has


def packet_in(xid: int, in_port: int, src: bytes, dst: bytes, shape: PacketInShape = PLAIN) -> bytes:
    vid = shape.vids.get(in_port)
    tag = b"" if vid is None else struct.pack("!HH", 0x8100, vid & 0xFFF)
    frame = dst + src + tag + b"\x08\x00" + bytes(46)
    match = struct.pack("!HHIII", 1, 12, 0x80000004, in_port, 0)  # OXM in_port, padded to 16
    body = struct.pack("!IHBBQ", 0xFFFFFFFF, len(frame), shape.reason, shape.table_id, shape.cookie) + match + b"\x00\x00" + frame
    return header(PACKET_IN, 8 + len(body), xid) + body


def metric_sum(url: str, name: str) -> float:
    """The sum of metric `name`'s labelled samples over the Prometheus text page at `url`."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    return sum(float(line.rsplit(None, 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def hosts_learned(url: str) -> float:
    """The sum of `vlan_hosts_learned` (Faucet's metric; sdnlab's --metrics serves it too)."""
    return metric_sum(url, "vlan_hosts_learned")


@dataclass
class Stats:
    sent: int = 0
    answered: int = 0
    responses: dict[str, int] = field(default_factory=lambda: {"flow_mod": 0, "packet_out": 0})
    rtts: list[float] = field(default_factory=list)
    in_flow_mods: set[int] = field(default_factory=set)  # distinct fresh MACs seen in flow-mods in the window


class EmulatedSwitch:
    def __init__(self, dpid: int, ports: list[tuple[int, str]], mode: str, window: int, stats: Stats,
                 shape: PacketInShape = PLAIN, wait_async: bool = False, seq_base: int = 0):
        self.dpid, self.ports, self.mode, self.window, self.stats = dpid, ports, mode, window, stats
        self.shape, self.wait_async = shape, wait_async
        self.seq = seq_base
        self.outstanding: dict[int, float] = {}
        self.ready = asyncio.Event()
        self.progress = asyncio.Event()
        self.measuring = False
        self.hosts = [HOST + struct.pack("!I", (dpid << 8) + i) for i in range(8)]
        self.writer = None
        self.reading = None

    async def connect(self, host: str, port: int) -> None:
        """Connect, answer the handshake, and send the warm-up that makes the destinations known."""
        reader, self.writer = await asyncio.open_connection(host, port)
        self.writer.write(header(HELLO, 8, 1))
        self.reading = asyncio.create_task(self._read(reader, self.writer))
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait({ready, self.reading}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if not self.ready.is_set():
            ready.cancel()
            if self.reading.done() and self.reading.exception() is not None:
                raise RuntimeError(f"switch {self.dpid:#x}: the controller closed the connection before it was ready") from self.reading.exception()
            raise RuntimeError(f"switch {self.dpid:#x}: not ready within 15 s" + (" (no SET_ASYNC turning packet-ins on)" if self.wait_async else ""))
        for i, mac in enumerate(self.hosts):  # warm-up: make the destinations known
            self.writer.write(packet_in(0, self.ports[i % len(self.ports)][0], mac, b"\xff" * 6, self.shape))

    async def measure(self, end: float) -> None:
        writer = self.writer
        self.measuring = True
        while time.monotonic() < end:
            while len(self.outstanding) < (self.window if self.mode == "throughput" else 1):
                self._send(writer)
            await writer.drain()
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), 1.0)
            except TimeoutError:
                self.outstanding.clear()  # lost answers (rate limits): move on with fresh ones
        self.measuring = False

    def close(self) -> None:
        if self.reading is not None:
            self.reading.cancel()
        if self.writer is not None:
            self.writer.close()

    def _send(self, writer) -> None:
        self.seq += 1
        src = FRESH + struct.pack("!I", (self.dpid << SEQ_BITS) | self.seq)
        in_port = self.ports[self.seq % len(self.ports)][0]
        writer.write(packet_in(self.seq, in_port, src, self.hosts[self.seq % len(self.hosts)], self.shape))
        self.outstanding[self.seq] = time.monotonic()
        self.stats.sent += 1

    async def _read(self, reader, writer) -> None:
        while True:
            head = await reader.readexactly(8)
            _, kind, length, xid = struct.unpack("!BBHI", head)
            body = await reader.readexactly(length - 8)
            if kind == ECHO_REQUEST:
                writer.write(header(ECHO_REPLY, length, xid) + body)
            elif kind == FEATURES_REQUEST:
                writer.write(header(FEATURES_REPLY, 32, xid) + struct.pack("!QIBB2xII", self.dpid, 0, 254, 0, 0x4F, 0))
                if not self.wait_async:
                    self.ready.set()  # not every controller asks for port descriptions; the warm-up covers the rest
            elif kind == GET_CONFIG_REQUEST:
                writer.write(header(GET_CONFIG_REPLY, 12, xid) + struct.pack("!HH", 0, 0xFFFF))
            elif kind == MULTIPART_REQUEST:
                mp_type = struct.unpack("!H", body[:2])[0]
                if mp_type == MP_PORT_DESC:
                    payload = b"".join(port_desc(n, name) for n, name in self.ports)
                elif mp_type == MP_DESC:
                    payload = desc_stats()
                else:
                    payload = b""
                writer.write(header(MULTIPART_REPLY, 16 + len(payload), xid) + struct.pack("!HH4x", mp_type, 0) + payload)
            elif kind == BARRIER_REQUEST:
                writer.write(header(BARRIER_REPLY, 8, xid))
            elif kind == SET_ASYNC and self.wait_async:
                packet_in_mask = struct.unpack("!I", body[:4])[0]  # master/equal role's packet-in reasons
                if packet_in_mask & (1 << self.shape.reason):
                    self.ready.set()
            elif kind in (FLOW_MOD, PACKET_OUT):
                self._answer(kind, body)

    def _answer(self, kind: int, body: bytes) -> None:
        if not self.measuring:
            return
        self.stats.responses["flow_mod" if kind == FLOW_MOD else "packet_out"] += 1
        at = body.find(FRESH)
        while at >= 0:  # the first fresh MAC that is one of ours (02:5d could also be part of some other field)
            value = struct.unpack("!I", body[at + 2 : at + 6])[0]
            seq = value & ((1 << SEQ_BITS) - 1)
            if kind == FLOW_MOD and value >> SEQ_BITS == self.dpid:
                self.stats.in_flow_mods.add(value)
            started = self.outstanding.pop(seq, None)
            if started is not None:
                self.stats.answered += 1
                self.stats.rtts.append(time.monotonic() - started)
                self.progress.set()
                return
            at = body.find(FRESH, at + 1)


async def generate(host: str, port: int, switches: list[tuple[int, list[tuple[int, str]]]], mode: str, window: int,
                   warmup: float, duration: float, metrics_url: str | None = None, faucet: dict | None = None, seq_base: int = 0) -> dict:
    """Run one measurement. `faucet`: per dpid (a string), {"cookie", "table_id", "vids": {port (a string): vid}},
    for packet-ins shaped as Faucet's pipeline sends them (see the module's docstring)."""
    stats = Stats()
    emulated = []
    for dpid, ports in switches:
        if faucet is None:
            emulated.append(EmulatedSwitch(dpid, ports, mode, window, stats, seq_base=seq_base))
        else:
            dp = faucet[str(dpid)]
            shape = PacketInShape(REASON_ACTION, dp["table_id"], dp["cookie"], {int(p): v for p, v in dp["vids"].items()})
            emulated.append(EmulatedSwitch(dpid, ports, mode, window, stats, shape, wait_async=True, seq_base=seq_base))
    started = time.monotonic()
    learned = None
    try:
        await asyncio.gather(*(s.connect(host, port) for s in emulated))
        await asyncio.sleep(warmup)
        before = await asyncio.to_thread(hosts_learned, metrics_url) if metrics_url else None
        end = time.monotonic() + duration
        closing = asyncio.create_task(_read_at(end, metrics_url)) if metrics_url else None
        await asyncio.gather(*(s.measure(end) for s in emulated))
        if closing is not None:
            learned = await closing - before
    finally:
        for s in emulated:
            s.close()
    rtts = sorted(stats.rtts)
    return {
        "mode": mode,
        "switches": len(switches),
        "duration_s": duration,
        "packet_in_shape": "faucet" if faucet is not None else "plain",
        "packet_ins_sent": stats.sent,
        "answered": stats.answered,
        "answered_per_s": stats.answered / duration,
        "responses_per_s": sum(stats.responses.values()) / duration,
        "flow_mods": stats.responses["flow_mod"],
        "packet_outs": stats.responses["packet_out"],
        "latency_ms_median": rtts[len(rtts) // 2] * 1000 if rtts else None,
        "latency_ms_p99": rtts[int(len(rtts) * 0.99)] * 1000 if rtts else None,
        # distinct fresh MACs that came back inside flow-mods during the window (whatever the controller did with them)
        "macs_in_flow_mods": len(stats.in_flow_mods),
        "macs_in_flow_mods_per_s": len(stats.in_flow_mods) / duration,
        # the controller's own count: vlan_hosts_learned at the window's close minus at its opening
        "macs_learned": learned,
        "macs_learned_per_s": learned / duration if learned is not None else None,
        "wall_s": time.monotonic() - started,
    }


async def _read_at(when: float, url: str) -> float:
    await asyncio.sleep(max(0.0, when - time.monotonic()))
    return await asyncio.to_thread(hosts_learned, url)


async def sink(port: int) -> None:
    """A perfect controller: handshake, then one packet-out per packet-in, echoing the frame."""

    async def serve(reader, writer):
        writer.write(header(HELLO, 8, 1) + header(FEATURES_REQUEST, 8, 2) + header(MULTIPART_REQUEST, 16, 3) + struct.pack("!HH4x", MP_PORT_DESC, 0))
        try:
            while True:
                head = await reader.readexactly(8)
                _, kind, length, xid = struct.unpack("!BBHI", head)
                body = await reader.readexactly(length - 8)
                if kind == PACKET_IN:
                    frame = body[34:]
                    out = struct.pack("!IIH6x", 0xFFFFFFFF, 0xFFFFFFFD, 0) + frame
                    writer.write(header(PACKET_OUT, 8 + len(out), xid) + out)
                elif kind == ECHO_REQUEST:
                    writer.write(header(ECHO_REPLY, length, xid) + body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--port", type=int, required=True)
    gen.add_argument("--mode", choices=("throughput", "latency"), default="throughput")
    gen.add_argument("--switches", required=True, help="JSON list of [dpid, [[port, name], ...]]")
    gen.add_argument("--window", type=int, default=64)
    gen.add_argument("--warmup", type=float, default=2.0)
    gen.add_argument("--duration", type=float, default=5.0)
    gen.add_argument("--seq-base", type=int, default=0, help="first sequence number less one (fresh MACs for a second run against one controller)")
    gen.add_argument("--metrics-url", help="a Prometheus page with vlan_hosts_learned: the controller's own count of MACs learned in the window")
    gen.add_argument("--faucet", help="JSON per dpid {cookie, table_id, vids: {port: vid}}: packet-ins as from Faucet's pipeline")
    snk = sub.add_parser("sink")
    snk.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.cmd == "sink":
        asyncio.run(sink(args.port))
        return 0
    switches = [(int(d), [tuple(p) for p in ports]) for d, ports in json.loads(args.switches)]
    faucet = json.loads(args.faucet) if args.faucet else None
    if args.seq_base < 0 or args.seq_base >= 1 << (SEQ_BITS - 1):
        parser.error(f"--seq-base must be in [0, {1 << (SEQ_BITS - 1)})")
    print(json.dumps(asyncio.run(generate("127.0.0.1", args.port, switches, args.mode, args.window, args.warmup, args.duration,
                                          args.metrics_url, faucet, args.seq_base))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
