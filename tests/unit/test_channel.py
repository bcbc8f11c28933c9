"""controller/channel.py, byte by byte against os-ken's own parser: whatever way a
stream is cut into reads, every message comes out as os-ken's `ofproto_parser.msg`
makes of it alone; sends leave as the exact concatenation of what was sent;
os-ken's handshake still runs; packet-ins reach an app's direct handler in the
thread that reads them. Switches are fake sockets, served by `InlineReactor` (the
reactor's part played in the serving thread, read after read), or a TLS
connection over loopback served by the real reactor (tests/unit/test_reactor.py
tests the reactor itself).

The messages are os-ken's own test corpus (os_ken/tests/packet_data/of13, as
switches send them), each given its own xid.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import socket
import ssl
import struct
import threading
import time
from pathlib import Path
from unittest.mock import ANY

import os_ken
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from os_ken.base import app_manager
from os_ken.controller import controller as ofp_controller
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.controller.ofp_handler import OFPHandler
from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller import channel, launcher
from controller.channel import FastDatapath, connection_factory, direct, split_messages

CORPUS = Path(os_ken.__file__).parent / "tests" / "packet_data" / "of13"
FROM_SWITCHES = [
    "4-10-ofp_hello", "4-13-ofp_echo_request", "4-4-ofp_packet_in", "4-39-ofp_port_status", "4-54-ofp_port_desc_reply",
    "4-12-ofp_flow_stats_reply", "4-15-ofp_error_msg", "4-41-ofp_error_msg_experimenter", "4-40-ofp_flow_removed",
    "4-6-ofp_features_reply", "4-20-ofp_role_reply", "4-14-ofp_echo_reply", "4-59-ofp_packet_in",
    "4-56-ofp_table_features_reply",  # 11 KiB: spans reads whatever their size
]
ADDRESS = ("192.0.2.7", 40001)


def with_xid(data: bytes, xid: int) -> bytes:
    return data[:4] + struct.pack("!I", xid) + data[8:]


def packet_in(xid: int, in_port: int = 1, src: bytes = b"\x02\x00\x00\x00\x00\x01") -> bytes:
    """A packet-in as OVS sends one for a table miss (no buffer, the whole frame, in_port in the match)."""
    frame = b"\xff" * 6 + src + b"\x08\x00" + bytes(46)
    match = struct.pack("!HHIII", 1, 12, 0x80000004, in_port, 0)
    body = struct.pack("!IHBBQ", ofp.OFP_NO_BUFFER, len(frame), 0, 0, 0) + match + b"\x00\x00" + frame
    return struct.pack("!BBHI", 4, ofp.OFPT_PACKET_IN, 8 + len(body), xid) + body


def stream() -> list[bytes]:
    """Every kind of message a switch sends, and the longest message there can be (an echo request of 64 KiB)."""
    messages = [with_xid((CORPUS / f"{name}.packet").read_bytes(), 0x5D000 + i) for i, name in enumerate(FROM_SWITCHES)]
    messages.append(packet_in(0x5D100))
    messages.append(struct.pack("!BBHI", 4, ofp.OFPT_ECHO_REQUEST, 0xFFFF, 0x5D101) + bytes(range(256)) * 255 + bytes(247))
    return messages


def header(data: bytes) -> tuple[int, int, int, int]:
    return struct.unpack_from("!BBHI", data)


class FakeSocket:
    """What FastDatapath uses of a socket: recv() gives the chunks in turn (then end of stream), send() keeps all."""

    def __init__(self, chunks: list[bytes] = ()):
        self.chunks = list(chunks)
        self.sent: list[bytes] = []
        self.shut = self.closed = False
        self.writes = 0  # send calls, failed ones too

    def setsockopt(self, *args) -> None: ...

    def settimeout(self, timeout) -> None: ...

    def setblocking(self, flag: bool) -> None: ...

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            return b""
        chunk = self.chunks.pop(0)
        if len(chunk) > size:
            self.chunks.insert(0, chunk[size:])
        return chunk[:size]

    def send(self, data) -> int:
        self.writes += 1
        if self.shut:
            raise BrokenPipeError(32, "Broken pipe")
        self.sent.append(bytes(data))
        return len(data)

    def shutdown(self, how) -> None:
        self.shut = True

    def close(self) -> None:
        self.closed = True


class InlineReactor:
    """The reactor's part, played by the thread that serves the connection: read after read until the connection
    ends (a FakeSocket's reads never wait), each thread taken for the reactor's own."""

    def is_current(self) -> bool:
        return True

    def call(self, fn) -> None:
        fn()

    def add(self, connection: FastDatapath) -> None:
        while not connection._ended.is_set():
            connection._on_readable()

    def watch(self, connection, read: bool, write: bool) -> None: ...

    def remove(self, connection) -> None: ...


@pytest.fixture(autouse=True)
def inline_reactor(request, monkeypatch):
    """Fake sockets cannot be waited on: their connections are served inline, unless a test asks for the real reactor."""
    if request.node.get_closest_marker("real_reactor") is None:
        monkeypatch.setattr(channel, "reactor", InlineReactor)


class Recording(FastDatapath):
    """Keeps every event the channel dispatches, instead of dispatching it."""

    def __init__(self, sock, address=ADDRESS):
        super().__init__(sock, address)
        self.events: list = []

    def _dispatch(self, ev) -> None:
        self.events.append(ev)


def alone(dp, data: bytes):
    """What os-ken's parser makes of one message by itself, given as its _recv_loop gives it (a bytearray)."""
    return ofproto_parser.msg(dp, *header(data), bytearray(data))


def assert_parsed_as_alone(dp, got: list, sent: list[bytes]) -> None:
    assert len(got) == len(sent)
    for ev, data in zip(got, sent, strict=True):
        want = alone(dp, data)
        msg = ev.msg
        assert type(ev) is type(ofp_event.ofp_msg_to_ev(want))
        assert (type(msg), msg.version, msg.msg_type, msg.msg_len, msg.xid) == (type(want), want.version, want.msg_type, want.msg_len, want.xid)
        assert bytes(msg.buf) == data and type(msg.buf) is type(want.buf)
        assert str(msg) == str(want)  # every field os-ken parsed


def cut(data: bytes, sizes) -> list[bytes]:
    chunks, offset = [], 0
    for size in sizes:
        if offset >= len(data):
            break
        chunks.append(data[offset:offset + size])
        offset += size
    return chunks + ([data[offset:]] if offset < len(data) else [])


def serve(chunks: list[bytes]) -> tuple[Recording, FakeSocket]:
    sock = FakeSocket(chunks)
    dp = Recording(sock)
    dp.serve()
    return dp, sock


# -- splitting and parsing -------------------------------------------------------
def test_many_messages_in_one_read_are_each_parsed_as_os_ken_parses_them_alone():
    messages = stream()
    data = b"".join(messages)
    dp, sock = serve(cut(data, [channel.RECV_BYTES] * (len(data) // channel.RECV_BYTES + 1)))
    assert_parsed_as_alone(dp, dp.events, messages)
    assert sock.closed and not dp.is_active


def test_a_stream_read_one_byte_at_a_time_gives_the_same_messages():
    messages = stream()[:-1]  # the 64 KiB echo a byte at a time would only be slow
    dp, _ = serve(cut(b"".join(messages), [1] * sum(map(len, messages))))
    assert_parsed_as_alone(dp, dp.events, messages)


@pytest.mark.parametrize("seed", range(8))
def test_a_stream_cut_anywhere_gives_the_same_messages(seed):
    messages = stream()
    rng = random.Random(seed)
    data = b"".join(messages)
    dp, _ = serve(cut(data, [rng.choice([1, 3, 7, 8, 9, 100, 1500, 16384, 70000]) for _ in range(len(data))]))
    assert_parsed_as_alone(dp, dp.events, messages)


def test_the_splitter_keeps_an_incomplete_message_for_the_next_read():
    first, second = packet_in(1), packet_in(2)
    buf = bytearray(first + second[:5])
    messages, used, error = split_messages(buf)
    assert [m[3] for m in messages] == [1] and used == len(first) and error is None
    buf = bytearray(first + second[:20])  # the header of the second is there, not its body
    messages, used, error = split_messages(buf)
    assert [m[3] for m in messages] == [1] and used == len(first) and error is None
    barrier_reply = struct.pack("!BBHI", 4, ofp.OFPT_BARRIER_REPLY, 8, 3)  # a message that is only a header
    messages, used, _ = split_messages(bytearray(barrier_reply + first))
    assert [(m[1], m[3], bytes(m[4])) for m in messages] == [(ofp.OFPT_BARRIER_REPLY, 3, barrier_reply), (ofp.OFPT_PACKET_IN, 1, first)]


@pytest.mark.parametrize("length", [0, 4, 7])
def test_a_length_shorter_than_a_header_closes_the_connection(length):
    hello, bad, after = stream()[0], struct.pack("!BBHI", 4, ofp.OFPT_ECHO_REQUEST, length, 9), packet_in(10)
    sock = FakeSocket([hello + bad + after, packet_in(11)])
    dp = Recording(sock)
    connection_factory_with(dp)
    assert [ev.msg.xid for ev in dp.events] == [header(hello)[3]]  # what came before is handled, nothing after
    assert sock.closed and dp.state == DEAD_DISPATCHER
    assert sock.chunks == [packet_in(11)]  # not read any further


def connection_factory_with(dp: FastDatapath) -> None:
    """connection_factory, serving `dp` (it makes a FastDatapath of its own)."""
    original = channel.FastDatapath
    channel.FastDatapath = lambda sock, address: dp
    try:
        connection_factory(dp.socket, dp.address)
    finally:
        channel.FastDatapath = original


# -- sending ---------------------------------------------------------------------
def packet_outs(dp, count: int, first_xid: int = 100) -> list:
    msgs = []
    for i in range(count):
        msg = parser.OFPPacketOut(dp, ofp.OFP_NO_BUFFER, ofp.OFPP_CONTROLLER, [parser.OFPActionOutput(i + 1)], b"frame %d" % i)
        msg.xid = first_xid + i
        msgs.append(msg)
    return msgs


def serialised(msgs: list) -> list[bytes]:
    """The same messages serialised apart from the channel, by os-ken."""
    out = []
    for msg in msgs:
        copy = parser.OFPPacketOut(msg.datapath, msg.buffer_id, msg.in_port, msg.actions, msg.data)
        copy.xid = msg.xid
        copy.serialize()
        out.append(bytes(copy.buf))
    return out


def test_sends_outside_a_read_are_written_at_once_each_as_serialised():
    sock = FakeSocket()
    dp = FastDatapath(sock, ADDRESS)
    dp.set_version(ofp.OFP_VERSION)
    msgs = packet_outs(dp, 50)
    for msg in msgs:
        assert dp.send_msg(msg)
    assert sock.sent == serialised(msgs)


class Answering(FastDatapath):
    """Answers every packet-in with a packet-out, as an app's direct handler would, in the receiving thread."""

    def __init__(self, sock, address=ADDRESS):
        super().__init__(sock, address)
        self.set_version(ofp.OFP_VERSION)
        self.answers: list = []

    def _dispatch(self, ev) -> None:
        if isinstance(ev, ofp_event.EventOFPPacketIn):
            [msg] = packet_outs(self, 1, first_xid=ev.msg.xid)
            self.answers.append(msg)
            self.send_msg(msg)


def test_the_answers_to_one_read_leave_in_one_write_as_the_exact_concatenation():
    burst, later = [packet_in(i) for i in range(1, 201)], [packet_in(i) for i in range(201, 204)]
    sock = FakeSocket([b"".join(burst), b"".join(later[:2])[:-10], b"".join(later[:2])[-10:] + later[2]])
    dp = Answering(sock)
    dp.serve()
    hello, *writes = sock.sent
    assert header(hello)[1] == ofp.OFPT_HELLO
    expected = serialised(dp.answers)
    assert writes == [b"".join(expected[:200]), expected[200], b"".join(expected[201:])]
    assert [m.xid for m in dp.answers] == list(range(1, 204))


def test_sends_from_many_threads_never_interleave():
    sock = FakeSocket()
    dp = FastDatapath(sock, ADDRESS)
    dp.set_version(ofp.OFP_VERSION)
    per_thread = [packet_outs(dp, 200, first_xid=1000 * t) for t in range(1, 5)]
    threads = [threading.Thread(target=lambda msgs=msgs: [dp.send_msg(m) for m in msgs]) for msgs in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    messages, used, error = split_messages(bytearray(b"".join(sock.sent)))
    assert error is None and used == sum(map(len, sock.sent))
    assert sorted(bytes(m[4]) for m in messages) == sorted(b for msgs in per_thread for b in serialised(msgs))
    for msgs in per_thread:  # each thread's messages in the order it sent them
        mine = {m.xid for m in msgs}
        assert [m[3] for m in messages if m[3] in mine] == [m.xid for m in msgs]


def test_nothing_is_written_once_closed():
    sock = FakeSocket()
    dp = FastDatapath(sock, ADDRESS)
    dp.close()
    assert sock.shut and dp.state == DEAD_DISPATCHER
    assert dp.send(b"x" * 8) is False and sock.writes == 0  # not even tried


def test_a_send_that_closes_writes_what_was_gathered_first():
    sock = FakeSocket([packet_in(1) + packet_in(2)])

    class ClosingOnTheSecond(Answering):
        def _dispatch(self, ev) -> None:
            if ev.msg.xid == 2:
                self.send(b"last", close_socket=True)
            else:
                super()._dispatch(ev)

    dp = ClosingOnTheSecond(sock)
    dp.serve()
    assert sock.sent[1:] == [serialised(dp.answers)[0] + b"last"] and sock.shut


# -- os-ken's handshake, and an app's direct handler ---------------------------------
class Watcher(app_manager.OSKenApp):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, str, int]] = []

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    @direct
    def packet_in(self, ev) -> None:
        self.seen.append(("packet-in", threading.current_thread().name, ev.msg.xid))
        if ev.msg.xid == 66:
            raise RuntimeError("a bug in the app")  # logged; the connection goes on
        ev.msg.datapath.send_msg(packet_outs(ev.msg.datapath, 1, first_xid=ev.msg.xid)[0])

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    @direct
    def features(self, ev) -> None:  # after os-ken's handler, which sets the datapath's id
        self.seen.append(("features", threading.current_thread().name, ev.msg.datapath.id))

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev) -> None:  # not marked: queued to the app's event thread
        self.seen.append(("port-status", threading.current_thread().name, ev.msg.xid))

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def dead(self, ev) -> None:
        self.seen.append(("dead", threading.current_thread().name, 0))


@contextlib.contextmanager
def registered(app: app_manager.OSKenApp):
    """os-ken's ofp_handler and `app`, registered as os-ken's AppManager registers them (their threads not started)."""
    bricks = [OFPHandler(), app]
    for brick in bricks:
        app_manager.register_app(brick)
    try:
        app_manager.AppManager()._update_bricks()
        yield
    finally:
        for brick in bricks:
            app_manager.unregister_app(brick)


@pytest.fixture
def watcher():
    app = Watcher()
    with registered(app):
        yield app


def sent_messages(data: bytes) -> list[tuple[int, int]]:
    messages, used, error = split_messages(bytearray(data))
    assert error is None and used == len(data)
    return [(m[1], m[3]) for m in messages]


def test_os_ken_shakes_hands_and_packet_ins_reach_the_direct_handler_in_the_receiving_thread(watcher):
    app = watcher
    corpus = {name: (CORPUS / f"{name}.packet").read_bytes() for name in FROM_SWITCHES}
    handshake = [struct.pack("!BBHI", 4, ofp.OFPT_HELLO, 8, 1), with_xid(corpus["4-6-ofp_features_reply"], 2),
                 with_xid(corpus["4-54-ofp_port_desc_reply"], 3)]
    echo = struct.pack("!BBHI", 4, ofp.OFPT_ECHO_REQUEST, 12, 77) + b"ping"
    main = [echo, packet_in(65), with_xid(corpus["4-39-ofp_port_status"], 5), packet_in(66), packet_in(67)]
    sock = FakeSocket([b"".join(handshake), b"".join(main)])
    dp = FastDatapath(sock, ADDRESS)
    switch = threading.Thread(target=connection_factory_with, args=(dp,), name="switch-7")
    switch.start()
    switch.join(10)
    assert not switch.is_alive()
    # os-ken's ofp_handler, in the receiving thread: features request after hello, port-desc request after
    # features, echo reply with the request's xid and data; then the app's answers; what one read caused, in one write.
    hello, *writes = sock.sent
    assert header(hello)[1] == ofp.OFPT_HELLO
    assert [sent_messages(w) for w in writes] == [
        [(ofp.OFPT_FEATURES_REQUEST, ANY), (ofp.OFPT_MULTIPART_REQUEST, ANY)],
        [(ofp.OFPT_ECHO_REPLY, 77), (ofp.OFPT_PACKET_OUT, 65), (ofp.OFPT_PACKET_OUT, 67)]]
    assert writes[1][8:12] == b"ping"
    assert dp.id == alone(dp, handshake[1]).datapath_id
    assert app.seen == [("features", "switch-7", dp.id), ("packet-in", "switch-7", 65), ("packet-in", "switch-7", 66), ("packet-in", "switch-7", 67)]
    # The port status and, on close, the DEAD state change go through os-ken's queue to the app's event thread.
    queued = [app.events.get_nowait() for _ in range(app.events.qsize())]
    assert [(type(ev), state) for ev, state in queued] == [(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER),
                                                           (ofp_event.EventOFPStateChange, DEAD_DISPATCHER)]
    assert dp.state == DEAD_DISPATCHER and sock.closed


class ScriptedSwitch(FakeSocket):
    """An OVS bridge as the app meets it: answers features and multipart requests from what was sent to it so far,
    then, once the app has programmed it (a barrier request), sends a burst of packet-ins; then disconnects."""

    def __init__(self, dpid: int, ports: dict[int, str], burst: list[bytes]):
        super().__init__([struct.pack("!BBHI", 4, ofp.OFPT_HELLO, 8, 1)])
        self.dpid, self.ports, self.burst = dpid, ports, burst
        self.answered = 0
        self.writers: set[str] = set()

    def send(self, data) -> int:
        self.writers.add(threading.current_thread().name)
        return super().send(data)

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            messages, _, _ = split_messages(bytearray(b"".join(self.sent)))
            for _, kind, _, xid, body in messages[self.answered:]:
                self.chunks += self.answer(kind, xid, bytes(body))
            self.answered = len(messages)
        return super().recv(size)

    def answer(self, kind: int, xid: int, body: bytes) -> list[bytes]:
        if kind == ofp.OFPT_FEATURES_REQUEST:
            return [struct.pack("!BBHIQIBB2xII", 4, ofp.OFPT_FEATURES_REPLY, 32, xid, self.dpid, 0, 254, 0, 0, 0)]
        if kind == ofp.OFPT_MULTIPART_REQUEST:
            part = struct.unpack_from("!H", body, 8)[0]
            items = b"".join(struct.pack("!I4x6s2x16sIIIIIIII", n, bytes([2, 0, 0, 0, 0, n]), name.encode(), 0, ofp.OFPPS_LIVE, 0, 0, 0, 0, 0, 0)
                             for n, name in self.ports.items()) if part == ofp.OFPMP_PORT_DESC else b""
            return [struct.pack("!BBHIHH4x", 4, ofp.OFPT_MULTIPART_REPLY, 16 + len(items), xid, part, 0) + items]
        if kind == ofp.OFPT_BARRIER_REQUEST and self.burst:
            burst, self.burst = self.burst, []
            return [b"".join(burst)]
        return []


def test_the_app_connects_a_switch_and_learns_on_the_fast_channel_its_event_thread_never_started(make_app):
    from controller.app import SdnlabApp
    from controller.ovsdb import SeenPort
    from controller.state import PortPlan
    from sdnlab import loads

    topology = loads("name: one\nbridges: {br1: {type: ovs, dpid: 7}}\nendpoints:\n"
                     "  a: {type: host, nics: [{bridge: br1, ip: 10.0.0.1/24}]}\n"
                     "  b: {type: host, nics: [{bridge: br1, ip: 10.0.0.2/24}]}\n", "one.yaml")
    app: SdnlabApp = make_app(topology)
    plan = PortPlan(topology)["br1"]
    app.bindings = {7: {n: SeenPort(f"p{n}", binding) for n, binding in plan.items()}}
    sources = [bytes([2, 0, 0, 0, 1, i]) for i in range(1, 31)]
    switch = ScriptedSwitch(7, {n: f"p{n}" for n in plan}, [packet_in(100 + i, in_port=1 + i % 2, src=mac) for i, mac in enumerate(sources)])
    with registered(app):
        dp = FastDatapath(switch, ADDRESS)  # it finds os-ken's ofp_handler when made
        thread = threading.Thread(target=connection_factory_with, args=(dp,), name="switch-br1")
        thread.start()
        thread.join(10)
    assert not thread.is_alive()
    # Everything the app did, it did in the receiving thread: the features reply was handled before the
    # multipart replies it asked for, and the packet-ins were learned from.
    assert switch.writers == {"switch-br1"}
    assert app.datapaths == {"br1": dp} and set(app.ports["br1"]) == set(plan)
    assert app.counts.packet_ins["br1"] == len(sources)
    learned = app.core.macs["br1"].entries
    assert {(mac, entry.port) for (_, mac), entry in learned.items()} == {(mac.hex(":"), 1 + i % 2) for i, mac in enumerate(sources)}
    # The answers to the burst (a source flow and a destination flow each) in one write, after the static flows.
    last = sent_messages(switch.sent[-1])
    assert [kind for kind, _ in last] == [ofp.OFPT_FLOW_MOD] * 2 * len(sources)
    assert app.counts.flowmsgs["br1"] > len(last)


# -- the launcher: which channel --------------------------------------------------
@pytest.mark.parametrize(("fast", "handler"), [(True, connection_factory), (False, ofp_controller.datapath_connection_factory)])
def test_the_listener_serves_with_the_fast_channel_or_os_kens_when_asked(monkeypatch, fast, handler):
    monkeypatch.setattr(ofp_controller, "StreamServer", ofp_controller.StreamServer)  # _serve_on replaces it
    sock = socket.socket()
    try:
        launcher._serve_on(sock, fast_channel=fast)
        server = ofp_controller.StreamServer(("127.0.0.1", 0), ofp_controller.datapath_connection_factory)
        assert server.server is sock and server.handle is handler
    finally:
        sock.close()


@pytest.mark.parametrize(("flag", "fast"), [([], True), (["--stock-channel"], False)])
def test_sdnlab_controller_is_fast_unless_told_stock(monkeypatch, tmp_path, flag, fast):
    from controller.app import SdnlabApp
    from sdnlab import cli

    got = {}
    monkeypatch.setattr(launcher, "serve", lambda *args, **kwargs: got.update(kwargs) or 0)
    monkeypatch.setattr(SdnlabApp, "topology", None)
    monkeypatch.setattr(SdnlabApp, "cluster_group", None)
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: one\nbridges: {br1: {type: ovs}}\nendpoints:\n  a: {type: host, nics: [{bridge: br1, ip: 10.0.0.1/24}]}\n")
    assert cli.main(["controller", str(lab), "--port", "0", *flag]) == 0
    assert got["fast_channel"] is fast


def test_the_textbook_switch_stays_on_os_kens_channel():
    import inspect

    assert inspect.signature(launcher.serve).parameters["fast_channel"].default is False


# -- TLS -----------------------------------------------------------------------------
def self_signed(where: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "sdnlab test controller")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (where / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (where / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return where / "cert.pem", where / "key.pem"


def tls_contexts(where: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A controller's TLS context with a self-signed certificate, and a switch's that takes any."""
    cert, key = self_signed(where)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE
    return server_ctx, client_ctx


@pytest.mark.real_reactor
def test_over_tls_reads_of_one_record_each_still_give_every_message_and_answer(tmp_path):
    server_ctx, client_ctx = tls_contexts(tmp_path)
    listener = socket.create_server(("127.0.0.1", 0))
    reads: list[int] = []
    done: dict = {}

    def controller() -> None:
        raw, address = listener.accept()
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            recv = tls.recv

            def counted(size: int) -> bytes:
                data = recv(size)
                reads.append(len(data))
                return data

            tls.recv = counted
            done["dp"] = dp = Answering(tls, address)
            dp.serve()

    thread = threading.Thread(target=controller)
    thread.start()
    burst = [packet_in(i) for i in range(1, 501)]  # 50 KB: several TLS records
    try:
        with client_ctx.wrap_socket(socket.create_connection(listener.getsockname(), timeout=10)) as switch:
            switch.sendall(b"".join(burst))
            got = bytearray()
            answers = []
            while len(answers) < 1 + len(burst):  # the hello, then a packet-out for each
                data = switch.recv(65536)
                assert data, "the controller closed the connection"
                got += data
                messages, used, _ = split_messages(got)
                del got[:used]
                answers += [(m[1], m[3]) for m in messages]
    finally:
        thread.join(10)
        listener.close()
    assert not thread.is_alive()
    assert answers == [(ofp.OFPT_HELLO, answers[0][1])] + [(ofp.OFPT_PACKET_OUT, i) for i in range(1, 501)]
    assert sum(reads) == sum(map(len, burst)) and max(reads) <= 16384  # a read gives one TLS record at most
    assert [m.xid for m in done["dp"].answers] == list(range(1, 501))


@pytest.mark.real_reactor
def test_over_tls_a_connection_closed_for_writing_still_reads_tls(tmp_path, caplog):
    """os-ken closes a connection for writing after its last message (close_socket=True, e.g. an error to a switch
    of the wrong version), then reads until the switch hangs up. Shut down through the SSL object, the connection
    would lose its TLS state, and what the switch sent next would be read as raw records: an unknown OpenFlow version."""
    server_ctx, client_ctx = tls_contexts(tmp_path)
    listener = socket.create_server(("127.0.0.1", 0))
    served: dict = {}
    ready = threading.Event()

    def controller() -> None:
        raw, address = listener.accept()
        tls = server_ctx.wrap_socket(raw, server_side=True)
        served["dp"] = dp = Answering(tls, address)
        ready.set()
        dp.serve()

    thread = threading.Thread(target=controller)
    thread.start()
    try:
        with client_ctx.wrap_socket(socket.create_connection(listener.getsockname(), timeout=10)) as switch:
            got = b""
            while len(got) < 8 or len(got) < struct.unpack_from("!H", got, 2)[0]:
                got += switch.recv(100)  # the hello: the reactor serves the connection
            assert ready.wait(10)
            dp = served["dp"]
            assert dp.send(b"", close_socket=True)  # nothing more to say: closed for writing once that is written
            assert switch.recv(100) == b""  # so it was
            switch.sendall(packet_in(1))
            deadline = time.monotonic() + 5
            while not dp.answers and time.monotonic() < deadline:
                time.sleep(0.01)
            assert [m.xid for m in dp.answers] == [1]  # read and parsed as OpenFlow (its answer is not sent)
    finally:
        thread.join(10)
        listener.close()
    assert not thread.is_alive()  # the switch hung up: served to the end
    assert "Error in the datapath" not in caplog.text and "OFPUnknownVersion" not in caplog.text


# -- one read, one hand-over of the app's lock ------------------------------------
class CountingLock:
    def __init__(self):
        self.entered = 0
        self.held = False

    def __enter__(self):
        self.entered += 1
        self.held = True

    def __exit__(self, *exc) -> None:
        self.held = False


class LockHolder:
    def __init__(self):
        self.lock = CountingLock()


def test_a_reads_messages_are_handled_under_the_apps_lock_taken_once_per_read():
    holder = LockHolder()
    held: list[bool] = []

    class Checking(Recording):
        def _dispatch(self, ev) -> None:
            held.append(holder.lock.held)
            super()._dispatch(ev)

    channel.hold_during_reads(holder)
    try:
        dp = Checking(FakeSocket([b"".join(packet_in(100 + i) for i in range(3)), packet_in(200)]))
        dp.serve()
    finally:
        channel.release_during_reads(holder)
    assert held == [True] * 4 and not holder.lock.held
    assert holder.lock.entered == 2  # two reads: two hand-overs, not four
    dp2, _ = serve([packet_in(300)])
    assert holder.lock.entered == 2  # released: no longer taken


def test_a_packet_in_whose_match_has_more_than_in_port_goes_to_os_kens_parser():
    frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + bytes(46)
    # in_port and metadata (OXM field 2, 8 bytes): 4 + 8 + 12 = 24 bytes, no padding.
    match = struct.pack("!HHIIIQ", 1, 24, 0x80000004, 3, 0x80000408, 7)
    body = struct.pack("!IHBBQ", ofp.OFP_NO_BUFFER, len(frame), 0, 0, 0) + match + b"\x00\x00" + frame
    data = struct.pack("!BBHI", 4, ofp.OFPT_PACKET_IN, 8 + len(body), 77) + body
    assert channel.packet_in(None, 4, len(data), 77, bytearray(data)) is None
    dp, _ = serve([data, packet_in(78, in_port=9)])
    assert [dict(ev.msg.match.items()) for ev in dp.events] == [{"in_port": 3, "metadata": 7}, {"in_port": 9}]
    assert_parsed_as_alone(dp, dp.events, [data, packet_in(78, in_port=9)])
