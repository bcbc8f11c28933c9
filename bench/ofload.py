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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import time
from dataclasses import dataclass, field

OFP_VERSION = 4
HELLO, ECHO_REQUEST, ECHO_REPLY, FEATURES_REQUEST, FEATURES_REPLY = 0, 2, 3, 5, 6
GET_CONFIG_REQUEST, GET_CONFIG_REPLY, PACKET_IN, PACKET_OUT, FLOW_MOD = 7, 8, 10, 13, 14
MULTIPART_REQUEST, MULTIPART_REPLY, BARRIER_REQUEST, BARRIER_REPLY = 18, 19, 20, 21
MP_PORT_DESC = 13
FRESH = b"\x02\x5d"
HOST = b"\x02\xde"


def header(kind: int, length: int, xid: int) -> bytes:
    return struct.pack("!BBHI", OFP_VERSION, kind, length, xid)


def port_desc(number: int, name: str) -> bytes:
    return struct.pack("!I4x6s2x16sIIIIIIII", number, bytes([2, 0, 0, 0, number >> 8, number & 0xFF]), name.encode(), 0, 4, 0, 0, 0, 0, 0, 0)


def packet_in(xid: int, in_port: int, src: bytes, dst: bytes) -> bytes:
    frame = dst + src + b"\x08\x00" + bytes(46)
    match = struct.pack("!HHIII", 1, 12, 0x80000004, in_port, 0)  # OXM in_port, padded to 16
    body = struct.pack("!IHBBQ", 0xFFFFFFFF, len(frame), 0, 1, 0) + match + b"\x00\x00" + frame
    return header(PACKET_IN, 8 + len(body), xid) + body


@dataclass
class Stats:
    sent: int = 0
    answered: int = 0
    responses: dict[str, int] = field(default_factory=lambda: {"flow_mod": 0, "packet_out": 0})
    rtts: list[float] = field(default_factory=list)


class EmulatedSwitch:
    def __init__(self, dpid: int, ports: list[tuple[int, str]], mode: str, window: int, stats: Stats):
        self.dpid, self.ports, self.mode, self.window, self.stats = dpid, ports, mode, window, stats
        self.seq = 0
        self.outstanding: dict[int, float] = {}
        self.ready = asyncio.Event()
        self.progress = asyncio.Event()
        self.measuring = False
        self.hosts = [HOST + struct.pack("!I", (dpid << 8) + i) for i in range(8)]

    async def run(self, host: str, port: int, warmup: float, duration: float) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(header(HELLO, 8, 1))
        reading = asyncio.create_task(self._read(reader, writer))
        await asyncio.wait_for(self.ready.wait(), 15)
        for i, mac in enumerate(self.hosts):  # warm-up: make the destinations known
            writer.write(packet_in(0, self.ports[i % len(self.ports)][0], mac, b"\xff" * 6))
        await asyncio.sleep(warmup)
        self.measuring = True
        end = time.monotonic() + duration
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
        reading.cancel()
        writer.close()

    def _send(self, writer) -> None:
        self.seq += 1
        src = FRESH + struct.pack("!I", (self.dpid << 20) | self.seq)
        in_port = self.ports[self.seq % len(self.ports)][0]
        writer.write(packet_in(self.seq, in_port, src, self.hosts[self.seq % len(self.hosts)]))
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
                self.ready.set()  # not every controller asks for port descriptions; the warm-up covers the rest
            elif kind == GET_CONFIG_REQUEST:
                writer.write(header(GET_CONFIG_REPLY, 12, xid) + struct.pack("!HH", 0, 0xFFFF))
            elif kind == MULTIPART_REQUEST:
                mp_type = struct.unpack("!H", body[:2])[0]
                payload = b"".join(port_desc(n, name) for n, name in self.ports) if mp_type == MP_PORT_DESC else b""
                writer.write(header(MULTIPART_REPLY, 16 + len(payload), xid) + struct.pack("!HH4x", mp_type, 0) + payload)
            elif kind == BARRIER_REQUEST:
                writer.write(header(BARRIER_REPLY, 8, xid))
            elif kind in (FLOW_MOD, PACKET_OUT):
                self._answer(kind, body)

    def _answer(self, kind: int, body: bytes) -> None:
        if not self.measuring:
            return
        self.stats.responses["flow_mod" if kind == FLOW_MOD else "packet_out"] += 1
        at = body.find(FRESH)
        if at < 0:
            return
        seq = struct.unpack("!I", body[at + 2 : at + 6])[0] & 0xFFFFF
        started = self.outstanding.pop(seq, None)
        if started is not None:
            self.stats.answered += 1
            self.stats.rtts.append(time.monotonic() - started)
            self.progress.set()


async def generate(host: str, port: int, switches: list[tuple[int, list[tuple[int, str]]]], mode: str, window: int,
                   warmup: float, duration: float) -> dict:
    stats = Stats()
    emulated = [EmulatedSwitch(dpid, ports, mode, window, stats) for dpid, ports in switches]
    started = time.monotonic()
    await asyncio.gather(*(s.run(host, port, warmup, duration) for s in emulated))
    rtts = sorted(stats.rtts)
    return {
        "mode": mode,
        "switches": len(switches),
        "duration_s": duration,
        "packet_ins_sent": stats.sent,
        "answered": stats.answered,
        "answered_per_s": stats.answered / duration,
        "responses_per_s": sum(stats.responses.values()) / duration,
        "flow_mods": stats.responses["flow_mod"],
        "packet_outs": stats.responses["packet_out"],
        "latency_ms_median": rtts[len(rtts) // 2] * 1000 if rtts else None,
        "latency_ms_p99": rtts[int(len(rtts) * 0.99)] * 1000 if rtts else None,
        "wall_s": time.monotonic() - started,
    }


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
    snk = sub.add_parser("sink")
    snk.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.cmd == "sink":
        asyncio.run(sink(args.port))
        return 0
    switches = [(int(d), [tuple(p) for p in ports]) for d, ports in json.loads(args.switches)]
    print(json.dumps(asyncio.run(generate("127.0.0.1", args.port, switches, args.mode, args.window, args.warmup, args.duration))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
