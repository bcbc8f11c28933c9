"""A faster OpenFlow channel for os-ken: the same parser, handlers, states and
events as its `Datapath`, with less machinery between the socket and the app.

Profiled, about 90% of a packet-in's time went to os-ken's channel, not to the
app: two recv() calls per message (header, then body), a queue, a semaphore
and a thread switch per message sent, and a queue plus a thread switch per
event handed to the app. `FastDatapath` changes only how bytes and events move:

- one recv() of up to 64 KiB at a time, split into every complete message it
  completes (`split_messages`), the partial tail kept for the next read; each is
  parsed by os-ken's `ofproto_parser.msg`, as its own `_recv_loop` does;
- os-ken's own handlers (ofp_handler: hello, features, echo, port status) run
  in the receiving thread as on the stock channel; an app's handlers marked
  `@direct` run there too, right after them, instead of being queued to the
  app's event thread. Unmarked handlers are queued as before;
- sends are written to the socket under a lock, with no queue or send thread;
  while the messages of one read are handled, whatever is sent (by any thread)
  is gathered and written with one sendall at the end of the read, so the
  answers to a burst of packet-ins leave in one write.

The launcher installs it as the connection handler of os-ken's OpenFlow
listener (controller/launcher.py); `sdnlab controller --stock-channel` keeps
os-ken's own. Works over TLS as well: an SSL socket's recv() returns at most
one record, and nothing here assumes a read holds more than it does.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import struct
import threading
import weakref
from collections.abc import Callable

from os_ken.base import app_manager
from os_ken.controller import controller as ofp_controller
from os_ken.controller import ofp_event
from os_ken.controller.handler import DEAD_DISPATCHER
from os_ken.lib import hub
from os_ken.lib.dpid import dpid_to_str
from os_ken.ofproto import ofproto_parser, ofproto_v1_3_parser

LOG = logging.getLogger("sdnlab.controller.channel")

RECV_BYTES = 65536
_HEADER = struct.Struct("!BBHI")  # ofp_header: version, type, length, xid
HEADER_SIZE = _HEADER.size
_DIRECT = "sdnlab_direct"

Message = tuple[int, int, int, int, bytearray]  # version, type, length, xid, the whole message


# Apps whose `lock` is held while one read's messages are parsed and handled (`hold_during_reads`; weakly, so an
# app that is gone is forgotten). Every switch's receiving thread takes its app's lock for each message it hands
# over; with many switches they queue on it, and handing it over costs more than the handling (measured: 85% of
# the threads' samples waited there). Held once per read, it changes hands once per read: a read of a busy
# switch holds dozens of packet-ins.
_READ_HOLDERS: weakref.WeakSet = weakref.WeakSet()


PACKET_IN = 10
_PACKET_IN = struct.Struct("!IHBBQHH4sI")  # after the header: buffer_id, total_len, reason, table_id, cookie, match type and length,
_IN_PORT_OXM = bytes.fromhex("80000004")  # ... and its one field: OXM in_port (class 0x8000, field 0, 4 bytes)
_DATA_AT = 8 + 16 + 16 + 2  # header, fixed part, a match of one field padded to 16 bytes, 2 bytes of pad


def packet_in(dp, version: int, length: int, xid: int, data: bytearray):
    """A packet-in whose match is only its in_port (what OVS sends for a frame no table has changed), as os-ken's
    parser makes it, without its generic OXM decoding (a third of a packet-in's cost); None for any other, which
    os-ken's parser then takes."""
    if version != 4 or length < _DATA_AT:
        return None
    buffer_id, total_len, reason, table_id, cookie, match_type, match_len, oxm, in_port = _PACKET_IN.unpack_from(data, 8)
    if match_type != 1 or match_len != 12 or oxm != _IN_PORT_OXM:
        return None
    parser = ofproto_v1_3_parser  # the message's version, whatever the session's
    match = parser.OFPMatch(in_port=in_port)
    match.length = match_len
    msg = parser.OFPPacketIn(dp, buffer_id, total_len, reason, table_id, cookie, match, bytes(data[_DATA_AT:_DATA_AT + total_len]))
    msg.set_headers(version, PACKET_IN, length, xid)
    msg.buf = bytes(data)  # as os-ken's parser leaves it (its `msg` takes a copy)
    return msg


def hold_during_reads(app) -> None:
    """Have the fast channel hold `app.lock` (reentrant, as the app's handlers take it too) while it handles a read."""
    _READ_HOLDERS.add(app)


def release_during_reads(app) -> None:
    _READ_HOLDERS.discard(app)


def direct(handler: Callable) -> Callable:
    """Mark an app's OpenFlow message handler (one with `set_ev_cls`) to be called in the switch's receiving
    thread on the fast channel, not queued to the app's event thread; the stock channel queues it as usual.
    Each switch has a receiving thread of its own, so the handler must be safe to run in several at once.
    An app's event is queued unless all its handlers for that event and state are marked."""
    setattr(handler, _DIRECT, True)
    return handler


def split_messages(buf: bytearray) -> tuple[list[Message], int, str | None]:
    """The complete messages at the start of `buf`, how many bytes they take, and what is wrong with the
    next one if its header cannot be right (None otherwise: the rest is an incomplete message).

    A message's length field is 16 bits, so an incomplete tail never exceeds 64 KiB."""
    messages: list[Message] = []
    offset, end = 0, len(buf)
    unpack = _HEADER.unpack_from
    while end - offset >= HEADER_SIZE:
        version, msg_type, length, xid = unpack(buf, offset)
        if length < HEADER_SIZE:
            # os-ken's _recv_loop skips 8 bytes and carries on, mid-stream; no switch sends this, so close instead.
            return messages, offset, f"message of length {length}, shorter than its own header"
        if end - offset < length:
            break
        # A bytearray, as os-ken's _recv_loop passes: messages keep it as msg.buf, and packet-ins' data is a slice of it.
        messages.append((version, msg_type, length, xid, buf[offset:offset + length]))
        offset += length
    return messages, offset, None


class FastDatapath(ofp_controller.Datapath):
    """os-ken's Datapath (state, xids, echo, close) with the receive and send paths replaced; see the module."""

    def __init__(self, socket, address) -> None:
        super().__init__(socket, address)
        self._send_lock = threading.Lock()
        self._unsent: list[bytes] = []  # gathered while a read's messages are handled (under _send_lock)
        self._gathering = False
        self._writable = True
        self._route_cache: dict[tuple[type, str], tuple[list, list, list]] = {}
        # os-ken's queue (self.send_q) stays unused, but its echo loop takes `send_q is not None` for "still sending".

    def serve(self) -> None:
        self.send_msg(self.ofproto_parser.OFPHello(self))
        if self.max_unreplied_echo_requests:  # os-ken's loop, which ends by itself once sending stops
            hub.spawn(self._echo_request_loop)
        try:
            self._recv_loop()
        finally:
            with self._send_lock:
                self._writable = False
                self._unsent.clear()
                self.send_q = None
            self.is_active = False

    def _recv_loop(self) -> None:
        buf = bytearray()
        try:
            while self.state != DEAD_DISPATCHER:
                try:
                    data = self.socket.recv(RECV_BYTES)
                except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue  # an idle switch: os-ken sets a timeout on the socket so the state is checked now and then
                except (EOFError, OSError):
                    # os-ken retries on any SSLError because eventlet raised one on a read timeout; native sockets
                    # raise a timeout, so an SSLError here is a broken TLS stream, and retrying could spin forever.
                    break
                if not data:
                    break
                buf += data
                messages, used, error = split_messages(buf)
                del buf[:used]
                self._handle(messages)
                if error:
                    LOG.warning("switch at %s sent a %s: closing the connection", _address(self), error)
                    break
        finally:
            with contextlib.suppress(OSError):
                self.socket.close()

    def _handle(self, messages: list[Message]) -> None:
        """Parse and dispatch one read's messages; what is sent meanwhile leaves in one write at the end."""
        with self._send_lock:
            self._gathering = True
        try:
            with contextlib.ExitStack() as held:
                for app in list(_READ_HOLDERS):
                    held.enter_context(app.lock)
                for version, msg_type, length, xid, data in messages:
                    msg = (msg_type == PACKET_IN and packet_in(self, version, length, xid, data)) or \
                        ofproto_parser.msg(self, version, msg_type, length, xid, data)
                    if msg:
                        self._dispatch(ofp_event.ofp_msg_to_ev(msg))
        finally:
            with self._send_lock:
                self._gathering = False
                if self._unsent and self._writable:
                    self._write_unsent()
                self._unsent.clear()  # closed meanwhile: nothing more leaves, as on os-ken's channel

    def _dispatch(self, ev) -> None:
        """As os-ken's _recv_loop: to the observers (by the state the message arrived in), then os-ken's own
        handlers; except that an app whose handlers are all `@direct` is called here, after os-ken's handlers,
        where a queued handler would usually run too: it sees the datapath they updated (its id, its ports)."""
        brick = self.ofp_brick
        if brick is None:
            return
        state = self.state
        queued, own, direct_handlers = self._routes(brick, ev, state)
        for name in queued:
            brick.send_event(name, ev, state)
        for handler in own:
            handler(ev)  # as on the stock channel, an exception here ends the connection
        for handler in direct_handlers:
            try:
                handler(ev)
            except Exception:  # as os-ken's event loop does: the app's bug must not end the switch's connection
                LOG.exception("%s failed on %s from switch at %s", getattr(handler, "__qualname__", handler),
                              ev.__class__.__name__, _address(self))

    def _routes(self, brick, ev, state) -> tuple[list, list, list]:
        """Where an event of this class, arriving in this state, goes: apps to queue it to, os-ken's own handlers,
        direct handlers. Worked out once per (class, state) for this connection: apps register before switches
        connect, and looking it up for each message cost as much as handling a packet-in."""
        key = (ev.__class__, state)
        routes = self._route_cache.get(key)
        if routes is None:
            queued, direct_handlers = [], []
            for name in brick.get_observers(ev, state):
                app = app_manager.lookup_service_brick(name)
                handlers = list(app.get_handlers(ev, state)) if app is not None else []
                if handlers and all(getattr(h, _DIRECT, False) for h in handlers):
                    direct_handlers += handlers
                else:
                    queued.append(name)
            own = [h for h in brick.get_handlers(ev) if state in h.callers[ev.__class__].dispatchers]
            routes = self._route_cache[key] = (queued, own, direct_handlers)
        return routes

    def send(self, buf: bytes, close_socket: bool = False) -> bool:
        """Write `buf` now, or, while this switch's receiving thread handles a read, with the rest of its answers.
        Whether it was taken (False once the connection no longer sends), as os-ken's send()."""
        with self._send_lock:
            if not self._writable:
                LOG.debug("Datapath in process of terminating; send() to %s discarded.", self.address)
                return False
            self._unsent.append(buf)
            if self._gathering and not close_socket:
                return True
            taken = self._write_unsent()
            if close_socket:
                self._close_write()
            return taken

    def _write_unsent(self) -> bool:
        """Under _send_lock. A failed write ends sending, as it ends os-ken's send loop."""
        data = self._unsent[0] if len(self._unsent) == 1 else b"".join(self._unsent)
        self._unsent.clear()
        try:
            self.socket.sendall(data)
            return True
        except OSError as exc:
            LOG.debug("cannot send to switch at %s: %s", _address(self), exc)
            self._close_write()
            return False

    def _close_write(self) -> None:
        self._writable = False
        super()._close_write()


def _address(dp: ofp_controller.Datapath) -> str:
    address = dp.address
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) and len(address) >= 2 else str(address)


def connection_factory(socket, address) -> None:
    """os-ken's datapath_connection_factory, serving the connection with a FastDatapath."""
    LOG.debug("connected socket:%s address:%s", socket, address)
    with contextlib.closing(FastDatapath(socket, address)) as datapath:
        try:
            datapath.serve()
        except BaseException:
            # As os-ken: a malformed message makes its parser raise; say which switch, and let the thread log why.
            LOG.error("Error in the datapath %s from %s", "None" if datapath.id is None else dpid_to_str(datapath.id), address)
            raise
