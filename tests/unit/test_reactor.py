"""controller/channel.py's Reactor: one thread serves every switch's socket, and no switch can stall the others.

Real sockets (loopback TCP) and the real reactor thread; each "switch" is the other end of a connection, driven by the
test. The connections are served as os-ken's listener serves them: `serve()` in a thread of their own, which only
waits while the reactor does the work.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from os_ken.controller import ofp_event
from os_ken.controller.handler import DEAD_DISPATCHER
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller import channel
from controller.channel import FastDatapath, split_messages

ADDRESS = ("192.0.2.9", 40002)


def packet_in(xid: int) -> bytes:
    frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + bytes(46)
    match = struct.pack("!HHHBBI", ofp.OFPMT_OXM, 12, ofp.OFPXMC_OPENFLOW_BASIC, ofp.OFPXMT_OFB_IN_PORT << 1, 4, 1) + bytes(4)
    body = struct.pack("!IHBBQ", ofp.OFP_NO_BUFFER, len(frame), ofp.OFPR_NO_MATCH, 0, 0) + match + bytes(2) + frame
    return struct.pack("!BBHI", 4, ofp.OFPT_PACKET_IN, 8 + len(body), xid) + body


class Answering(FastDatapath):
    """Answers each packet-in with a packet-out of the same xid (carrying `answer_bytes` of data), as a direct
    handler would; notes the thread that handled it."""

    answer_bytes = 8

    def __init__(self, sock, address=ADDRESS):
        super().__init__(sock, address)
        self.set_version(ofp.OFP_VERSION)
        self.handled_in: set[str] = set()
        self.answered = 0

    def _dispatch(self, ev) -> None:
        if isinstance(ev, ofp_event.EventOFPPacketIn):
            self.handled_in.add(threading.current_thread().name)
            self.answered += 1
            out = parser.OFPPacketOut(self, ofp.OFP_NO_BUFFER, ofp.OFPP_CONTROLLER, [parser.OFPActionOutput(1)], bytes(self.answer_bytes))
            out.xid = ev.msg.xid
            self.send_msg(out)


def tcp_pair(buffers: int | None = None) -> tuple[socket.socket, socket.socket]:
    """Two ends of a loopback TCP connection (os-ken sets TCP options a socket pair does not have); with `buffers`,
    that many bytes of socket buffer each way (set before connecting, so TCP's window follows), not megabytes."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        one = socket.socket()
        if buffers:
            one.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffers)
            one.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffers)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffers)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffers)
        one.connect(listener.getsockname())
        other, _ = listener.accept()
    return one, other


class Switch:
    """The switch's end of a socket pair, and the thread serving the controller's end."""

    def __init__(self, kind: type[FastDatapath] = Answering, name: str = "switch", buffers: int | None = None):
        self.end, theirs = tcp_pair(buffers)
        self.end.settimeout(10)
        self.dp = kind(theirs, ADDRESS)
        self.thread = threading.Thread(target=self.dp.serve, name=name, daemon=True)
        self.thread.start()
        self.buffer = bytearray()
        assert self.read(1) == [(ofp.OFPT_HELLO, self.read_hello_xid)]

    read_hello_xid = None

    def read(self, count: int, timeout: float = 10) -> list[tuple[int, int]]:
        """The next `count` messages, as (type, xid); a hello's xid is not checked."""
        got: list[tuple[int, int]] = []
        self.end.settimeout(timeout)
        while len(got) < count:
            messages, used, error = split_messages(self.buffer)
            assert error is None
            del self.buffer[:used]
            got += [(m[1], None if m[1] == ofp.OFPT_HELLO else m[3]) for m in messages]
            if len(got) >= count:
                break
            data = self.end.recv(65536)
            assert data, "the controller closed the connection"
            self.buffer += data
        return got

    def close(self) -> None:
        self.end.close()
        self.thread.join(10)
        assert not self.thread.is_alive(), "serve() did not return once the switch went away"


@pytest.fixture
def switches():
    made: list[Switch] = []

    def make(*args, **kwargs) -> Switch:
        made.append(Switch(*args, **kwargs))
        return made[-1]

    yield make
    for switch in made:
        switch.close()


def test_every_switch_is_served_by_the_one_reactor_thread_and_each_gets_its_own_answers(switches):
    fleet = [switches(name=f"conn-{i}") for i in range(8)]
    for round_ in range(50):
        for i, switch in enumerate(fleet):
            switch.end.sendall(packet_in(1000 * i + round_))
        for i, switch in enumerate(fleet):
            assert switch.read(1) == [(ofp.OFPT_PACKET_OUT, 1000 * i + round_)]
    assert all(s.dp.handled_in == {"openflow-reactor"} for s in fleet)
    assert len({s.dp._reactor for s in fleet}) == 1


class Writers:
    """A socket that notes which threads write to it."""

    def __init__(self, inner: socket.socket):
        self.inner, self.threads = inner, set()

    def send(self, data) -> int:
        self.threads.add(threading.current_thread().name)
        return self.inner.send(data)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class Watched(Answering):
    def __init__(self, sock, address=ADDRESS):
        super().__init__(sock, address)
        self.socket = Writers(sock)


def test_a_send_from_another_thread_is_written_by_the_reactor_soon_and_only_the_reactor_writes(switches):
    switch = switches(Watched)
    out = parser.OFPEchoRequest(switch.dp, data=b"from elsewhere")
    out.xid = 77
    assert switch.dp.send_msg(out)  # from the test's thread: handed to the reactor, which is waiting in epoll
    assert switch.read(1, timeout=2) == [(ofp.OFPT_ECHO_REQUEST, 77)]
    switch.end.sendall(packet_in(5))
    assert switch.read(1) == [(ofp.OFPT_PACKET_OUT, 5)]
    # The hello (from the serving thread), the echo (from this one), the answer: all written by the reactor, so
    # a TLS connection's state is never touched by two threads at once.
    assert switch.dp.socket.threads == {"openflow-reactor"}


def test_close_from_another_thread_ends_serve(switches):
    switch = switches()
    switch.dp.close()  # as the app closes an impostor's session, or os-ken's echo loop a silent switch's
    switch.thread.join(5)
    assert not switch.thread.is_alive() and switch.dp.state == DEAD_DISPATCHER
    assert switch.end.recv(100) == b""  # the controller's end is closed


def test_a_switch_that_goes_away_ends_its_serve_and_no_other(switches):
    gone, staying = switches(), switches()
    gone.close()  # asserts serve() returned
    staying.end.sendall(packet_in(5))
    assert staying.read(1) == [(ofp.OFPT_PACKET_OUT, 5)]


class BigAnswers(Answering):
    answer_bytes = 1000
    PAUSE_READING_AT = 256 * 1024


def test_a_switch_that_does_not_read_is_not_read_either_and_stalls_no_other(switches):
    slow, other = switches(BigAnswers, buffers=65536), switches()
    # 2 MB of packet-ins, each answered with 1 kB: the sockets' buffers fill, then the slow switch's outbox.
    messages = [packet_in(i) for i in range(1, 20001)]
    sender = threading.Thread(target=lambda: _send_until_blocked(slow.end, messages), daemon=True)
    sender.start()
    deadline = time.monotonic() + 10
    while slow.dp._watched != (False, True) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slow.dp._watched == (False, True), "the reactor kept reading a switch that does not take its answers"
    waiting, answered = len(slow.dp._unsent), slow.dp.answered
    one_read = (channel.RECV_BYTES // len(messages[0]) + 1) * (BigAnswers.answer_bytes + 64)  # the answers to one read, at most
    assert BigAnswers.PAUSE_READING_AT <= waiting < BigAnswers.PAUSE_READING_AT + one_read  # it stopped at the read that crossed
    for xid in range(100000, 100020):  # meanwhile, the other switch is answered at once
        other.end.sendall(packet_in(xid))
        assert other.read(1, timeout=1) == [(ofp.OFPT_PACKET_OUT, xid)]
    sender.join(20)
    sent = _sent_count[slow.end]
    assert sent < len(messages), "the switch could send everything: the controller went on reading it"
    assert slow.dp.answered == answered  # nothing more was read from the slow one
    # Once it reads, it gets every answer, in order, and is read from again.
    assert [xid for _, xid in slow.read(sent, timeout=20)] == list(range(1, sent + 1))
    assert slow.dp.answered == sent
    deadline = time.monotonic() + 5  # the reactor drops what it wrote after send() returns, maybe after we read it
    while (slow.dp._watched != (True, False) or slow.dp._unsent) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slow.dp._watched == (True, False) and not slow.dp._unsent


_sent_count: dict = {}


def _send_until_blocked(end: socket.socket, messages: list[bytes]) -> None:
    """Send the messages one by one; stop at the first that does not go out within a second (the peer stopped
    reading), or when all went; the count sent is kept in _sent_count."""
    end.settimeout(1.0)
    count = 0
    try:
        for message in messages:
            end.sendall(message)
            count += 1
    except (TimeoutError, OSError):
        pass
    _sent_count[end] = count


def test_a_switch_that_leaves_too_much_unread_is_disconnected(switches, monkeypatch):
    switch = switches()
    monkeypatch.setattr(FastDatapath, "MAX_UNSENT", 1 << 20)
    frame = parser.OFPPacketOut(switch.dp, ofp.OFP_NO_BUFFER, ofp.OFPP_CONTROLLER, [], bytes(60000))
    taken = [switch.dp.send_msg(frame) for _ in range(100)]  # 6 MB the switch never reads
    assert not all(taken) and taken.index(False) > 10  # what fits its buffers and the limit is taken, then no more
    assert switch.dp.send(b"x" * 8) is False
    # Disconnected, not only closed for writing: serve() returns by itself and the app is told the session is dead.
    switch.thread.join(5)
    assert not switch.thread.is_alive() and switch.dp.state == DEAD_DISPATCHER


def test_an_error_in_one_connection_ends_it_alone(switches, caplog):
    class Broken(Answering):
        def _dispatch(self, ev) -> None:
            raise RuntimeError("as an os-ken handler that fails on a message")

    broken, fine = switches(Broken), switches()
    broken.end.sendall(packet_in(1))
    broken.thread.join(5)
    assert not broken.thread.is_alive()
    assert "Error in the datapath" in caplog.text
    fine.end.sendall(packet_in(2))
    assert fine.read(1) == [(ofp.OFPT_PACKET_OUT, 2)]


def test_the_reactor_is_one_per_process():
    assert channel.reactor() is channel.reactor()
