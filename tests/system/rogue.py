"""A rogue OpenFlow 1.3 peer: a local process that connects to the controller
claiming to be a switch, answers its handshake, and then sends what an
attacker would (fake port-status, forged packet-in and flow-removed, garbage).

Messages are built with os-ken's own parser classes, so they are what a real
switch would send, byte for byte.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from types import SimpleNamespace

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

DP = SimpleNamespace(ofproto=ofp, ofproto_parser=parser)  # what os-ken's serialisers need of a datapath
HEADER = struct.Struct("!BBHI")


def _bytes(msg) -> bytes:
    msg.serialize()
    return bytes(msg.buf)


def port(number: int, name: str, up: bool = True):
    mac = f"02:00:00:00:{number >> 8:02x}:{number & 0xFF:02x}"
    return parser.OFPPort(number, mac, name.encode(), 0, 0 if up else ofp.OFPPS_LINK_DOWN, ofp.OFPPF_10GB_FD, 0, 0, 0, 0, 0)


class RoguePeer:
    """Connects, answers the controller's handshake as switch `dpid` with `ports`, records what comes back."""

    def __init__(self, port_number: int, dpid: int, ports: list[tuple[int, str]], tls: ssl.SSLContext | None = None):
        self.address = ("127.0.0.1", port_number)
        self.dpid = dpid
        self.ports = [port(n, name) for n, name in ports]
        self.tls = tls
        self.sock: socket.socket | None = None
        self.received: list[int] = []  # message types from the controller, in order
        self.flow_mods = 0
        self.closed = threading.Event()
        self.featured = threading.Event()  # the controller asked who we are
        self.xid = 1000

    def connect(self, timeout: float = 5) -> RoguePeer:
        raw = socket.create_connection(self.address, timeout=timeout)
        self.sock = self.tls.wrap_socket(raw) if self.tls else raw  # a TLS handshake failure raises here
        self.sock.settimeout(None)
        self.send(_bytes(parser.OFPHello(DP)))
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed.set()

    def _next_xid(self) -> int:
        self.xid += 1
        return self.xid

    def _read(self) -> None:
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 8:
                    _, kind, length, xid = HEADER.unpack_from(buf)
                    if len(buf) < length:
                        break
                    body, buf = buf[8:length], buf[length:]
                    self.received.append(kind)
                    self._answer(kind, xid, body)
        except OSError:
            pass
        self.closed.set()

    def _answer(self, kind: int, xid: int, body: bytes) -> None:
        if kind == ofp.OFPT_ECHO_REQUEST:
            self.send(HEADER.pack(4, ofp.OFPT_ECHO_REPLY, 8 + len(body), xid) + body)
        elif kind == ofp.OFPT_FEATURES_REQUEST:
            reply = parser.OFPSwitchFeatures(DP, self.dpid, 0, 254, 0, 0x4F)
            reply.xid = xid
            self.send(_features(reply))
            self.featured.set()
        elif kind == ofp.OFPT_MULTIPART_REQUEST:
            mp_type = struct.unpack_from("!H", body)[0]
            payload = b"".join(_port_bytes(p) for p in self.ports) if mp_type == ofp.OFPMP_PORT_DESC else b""
            self.send(HEADER.pack(4, ofp.OFPT_MULTIPART_REPLY, 16 + len(payload), xid) + struct.pack("!HH4x", mp_type, 0) + payload)
        elif kind == ofp.OFPT_BARRIER_REQUEST:
            self.send(HEADER.pack(4, ofp.OFPT_BARRIER_REPLY, 8, xid))
        elif kind == ofp.OFPT_FLOW_MOD:
            self.flow_mods += 1

    # -- what an attacker sends -------------------------------------------
    def port_status(self, number: int, name: str, up: bool, reason: int = ofp.OFPPR_MODIFY) -> None:
        msg = parser.OFPPortStatus(DP, reason, port(number, name, up))
        msg.xid = self._next_xid()
        self.send(_port_status(msg))

    def packet_in(self, in_port: int, frame: bytes) -> None:
        msg = parser.OFPPacketIn(DP, ofp.OFP_NO_BUFFER, len(frame), ofp.OFPR_NO_MATCH, 1, 0, parser.OFPMatch(in_port=in_port), frame)
        msg.xid = self._next_xid()
        self.send(_packet_in(msg))

    def flow_removed(self, cookie: int, table: int, priority: int, match: dict) -> None:
        msg = parser.OFPFlowRemoved(DP, cookie, priority, ofp.OFPRR_IDLE_TIMEOUT, table, 1, 0, 300, 0, 0, 0, parser.OFPMatch(**match))
        msg.xid = self._next_xid()
        self.send(_flow_removed(msg))

    def garbage(self) -> None:
        """Malformed messages: a length shorter than the header, an unknown type, a truncated packet-in."""
        self.send(HEADER.pack(4, ofp.OFPT_PACKET_IN, 4, 1))
        self.send(HEADER.pack(4, 250, 8, 2))
        self.send(HEADER.pack(4, ofp.OFPT_PACKET_IN, 20, 3) + b"\xff" * 12)

    def wait_closed(self, timeout: float) -> bool:
        return self.closed.wait(timeout)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


# os-ken's parser classes serialise what a controller sends; what a switch sends
# (features reply, port status, packet-in, flow-removed) is parsed, not
# serialised, by os-ken, so these pack the same layouts by hand.

def _port_bytes(p) -> bytes:
    mac = bytes.fromhex(p.hw_addr.replace(":", ""))
    return struct.pack("!I4x6s2x16sIIIIIIII", p.port_no, mac, p.name.ljust(16, b"\0"), p.config, p.state, p.curr,
                       p.advertised, p.supported, p.peer, p.curr_speed, p.max_speed)


def _features(msg) -> bytes:
    return HEADER.pack(4, ofp.OFPT_FEATURES_REPLY, 32, msg.xid) + struct.pack("!QIBB2xII", msg.datapath_id, msg.n_buffers, msg.n_tables,
                                                                              msg.auxiliary_id, msg.capabilities, 0)


def _port_status(msg) -> bytes:
    body = struct.pack("!B7x", msg.reason) + _port_bytes(msg.desc)
    return HEADER.pack(4, ofp.OFPT_PORT_STATUS, 8 + len(body), msg.xid) + body


def _match(match) -> bytes:
    buf = bytearray()
    match.serialize(buf, 0)
    return bytes(buf)


def _packet_in(msg) -> bytes:
    body = struct.pack("!IHBBQ", msg.buffer_id, msg.total_len, msg.reason, msg.table_id, msg.cookie) + _match(msg.match) + b"\0\0" + msg.data
    return HEADER.pack(4, ofp.OFPT_PACKET_IN, 8 + len(body), msg.xid) + body


def _flow_removed(msg) -> bytes:
    body = struct.pack("!QHBBIIHHQQ", msg.cookie, msg.priority, msg.reason, msg.table_id, msg.duration_sec, msg.duration_nsec,
                       msg.idle_timeout, msg.hard_timeout, msg.packet_count, msg.byte_count) + _match(msg.match)
    return HEADER.pack(4, ofp.OFPT_FLOW_REMOVED, 8 + len(body), msg.xid) + body


def wait_until(condition, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
