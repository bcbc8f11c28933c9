"""A faster OpenFlow channel for os-ken: the same parser, handlers, states and
events as its `Datapath`, with less machinery between the socket and the app.

Profiled, about 90% of a packet-in's time went to os-ken's channel, not to the
app: two recv() calls per message (header, then body), a queue, a semaphore
and a thread switch per message sent, and a queue plus a thread switch per
event handed to the app. `FastDatapath` changes only how bytes and events move:

- one thread, the `Reactor`, does every switch's socket I/O: it waits on all
  their sockets at once and serves each ready one with one read, so a round of
  packet-ins from eight switches costs no thread hand-over at all;
- a read takes up to 64 KiB, split into every complete message it completes
  (`split_messages`), the partial tail kept for the next read; each is parsed
  by os-ken's `ofproto_parser.msg`, as its own `_recv_loop` does;
- os-ken's own handlers (ofp_handler: hello, features, echo, port status) run
  in the reactor's thread as they run in the receiving thread on the stock
  channel; an app's handlers marked `@direct` run there too, right after them,
  instead of being queued to the app's event thread. Unmarked handlers are
  queued as before;
- whatever is sent while a read's messages are handled (by any thread) is
  written in one go at the end of the read, so the answers to a burst of
  packet-ins leave in one write; sends from other threads are handed to the
  reactor. No queue or send thread per switch, and nothing ever blocks on a
  socket: a switch that does not read its answers is not read from either
  until it does, and is disconnected if it leaves too much unread.

The launcher installs it as the connection handler of os-ken's OpenFlow
listener (controller/launcher.py), which still accepts each connection (and
does its TLS handshake) in a thread of its own; that thread then waits until
the reactor is done with the connection. `sdnlab controller --stock-channel`
keeps os-ken's own. Works over TLS as well: a non-blocking TLS read that finds
only part of a record waits for the rest, and what TLS decrypted but did not
return yet (`pending()`) is read at once.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import selectors
import socket
import ssl
import struct
import threading
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


# Apps whose `lock` is held while one read's messages are parsed and handled (`hold_during_reads`, until the app's
# `release_during_reads`). Taken for each message, the lock changed hands with the app's other threads once per
# message (measured on the per-switch threads this channel had before the reactor: 85% of their samples waited
# there); held once per read, it changes hands once per read: a read of a busy switch holds dozens of packet-ins.
_READ_HOLDERS: tuple = ()  # replaced, not changed, so a read that iterates it meanwhile is not disturbed


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
    match = parser.OFPMatch(length=match_len, _ordered_fields=[("in_port", in_port)])  # as its parser leaves it; kwargs cost 5x
    msg = parser.OFPPacketIn(dp, buffer_id, total_len, reason, table_id, cookie, match, bytes(data[_DATA_AT:_DATA_AT + total_len]))
    msg.set_headers(version, PACKET_IN, length, xid)
    msg.buf = bytes(data)  # as os-ken's parser leaves it (its `msg` takes a copy)
    return msg


def hold_during_reads(app) -> None:
    """Have the fast channel hold `app.lock` (reentrant, as the app's handlers take it too) while it handles a read."""
    global _READ_HOLDERS
    if app not in _READ_HOLDERS:
        _READ_HOLDERS = (*_READ_HOLDERS, app)


def release_during_reads(app) -> None:
    global _READ_HOLDERS
    _READ_HOLDERS = tuple(a for a in _READ_HOLDERS if a is not app)


def direct(handler: Callable) -> Callable:
    """Mark an app's OpenFlow message handler (one with `set_ev_cls`) to be called in the reactor's thread on
    the fast channel, not queued to the app's event thread; the stock channel queues it as usual. It runs beside
    the app's other threads, and must never wait for anything the reactor itself would do (a reply from a switch).
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


class Reactor:
    """The one thread that does every switch connection's socket I/O (`FastDatapath`): it waits on all their
    sockets at once (epoll), reads whatever is ready, hands it to the connection, and writes what is pending.

    One thread instead of one per switch: the app's lock serialises the handling anyway, so per-switch threads
    only took turns on it and on the GIL, and each packet-in paid a thread wake-up and a hand-over (measured:
    the receiving threads spent 26% of their samples getting the GIL back after a write). Here a round of epoll
    serves every switch that is ready, in turn, each with one read, so a busy switch cannot starve the others.

    Nothing here blocks: sockets are non-blocking; a switch that does not read what we send keeps its answers
    in its own outbox (bounded, `FastDatapath.MAX_UNSENT`) and is not read from until it has taken them."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_in, self._wake_out = socket.socketpair()
        for end in (self._wake_in, self._wake_out):
            end.setblocking(False)
        self._selector.register(self._wake_in, selectors.EVENT_READ, None)
        self._calls: collections.deque[Callable[[], None]] = collections.deque()
        self._thread = threading.Thread(target=self._run, name="openflow-reactor", daemon=True)
        self._thread.start()

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def call(self, fn: Callable[[], None]) -> None:
        """Run `fn` in the reactor's thread, soon (from any thread)."""
        self._calls.append(fn)
        if not self.is_current():
            with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
                self._wake_out.send(b"\0")

    def add(self, connection: FastDatapath) -> None:
        """Serve `connection` from now on (from any thread); one whose socket cannot be waited on is ended."""
        def register() -> None:
            try:
                self._selector.register(connection.socket, _events(*connection._watched), connection)
            except (OSError, ValueError, KeyError) as exc:  # closed meanwhile, or (a bug) added twice
                LOG.warning("cannot serve switch at %s: %s", _address(connection), exc)
                connection._end()

        self.call(register)

    def watch(self, connection: FastDatapath, read: bool, write: bool) -> bool:
        """In the reactor's thread: what to wait for on `connection`'s socket; False if it is not registered."""
        try:
            self._selector.modify(connection.socket, _events(read, write), connection)
        except KeyError:  # not registered yet: a first write (the hello) that did not all go out; registered with it
            return False
        return True

    def remove(self, connection: FastDatapath) -> None:
        """In the reactor's thread, before the socket is closed."""
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(connection.socket)

    def _run(self) -> None:
        while True:
            for key, events in self._selector.select():
                connection = key.data
                if connection is None:
                    with contextlib.suppress(BlockingIOError):
                        while self._wake_in.recv(4096):
                            pass
                    continue
                try:
                    if events & selectors.EVENT_WRITE:
                        connection._on_writable()
                    if events & selectors.EVENT_READ:
                        connection._on_readable()
                except Exception:
                    # As os-ken's per-connection thread: what a switch's messages break ends that switch's connection.
                    LOG.exception("Error in the datapath %s from %s",
                                  "None" if connection.id is None else dpid_to_str(connection.id), connection.address)
                    connection._end()
            while self._calls:
                fn = self._calls.popleft()
                try:
                    fn()
                except Exception:
                    LOG.exception("the OpenFlow reactor's call %r failed", fn)


def _events(read: bool, write: bool) -> int:
    """The selector's mask; a connection always waits for something (it is never neither read nor written)."""
    return (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0) or selectors.EVENT_READ


_REACTOR: Reactor | None = None
_REACTOR_LOCK = threading.Lock()


def reactor() -> Reactor:
    """The process's reactor, started by the first connection."""
    global _REACTOR
    with _REACTOR_LOCK:
        if _REACTOR is None:
            _REACTOR = Reactor()
        return _REACTOR


class FastDatapath(ofp_controller.Datapath):
    """os-ken's Datapath (state, xids, echo, close) with the receive and send paths replaced; see the module.
    Its socket is read and written by the process's `Reactor` only (any thread may shut it down for writing);
    `serve` waits until the connection ends."""

    SEND_BYTES = 65536  # at most this much per send() call: with TLS, a retried write must offer the same bytes
    PAUSE_READING_AT = 1 << 20  # a switch with this much of our answers unread is not read from until it takes them
    MAX_UNSENT = 16 << 20  # ... and one that leaves more than this unread (sends from other threads) is disconnected

    def __init__(self, socket, address) -> None:
        super().__init__(socket, address)
        self._reactor: Reactor | None = None  # set by serve(); before, sends are written by the caller
        self._send_lock = threading.Lock()
        self._unsent = bytearray()  # accepted, not yet written (under _send_lock)
        self._gathering = False  # a read's messages are being handled: what they send leaves at the end, together
        self._flush_asked = False
        self._close_after_flush = False
        self._writable = True
        self._watched = (True, False)  # what the reactor waits for on the socket: readable, writable
        self._received = bytearray()  # the incomplete message at the end of what was read so far
        self._ended = threading.Event()
        self._tls = isinstance(socket, ssl.SSLSocket)
        self._route_cache: dict[tuple[type, str], tuple[list, list, list]] = {}
        # os-ken's queue (self.send_q) stays unused, but its echo loop takes `send_q is not None` for "still sending".

    def serve(self) -> None:
        self.socket.setblocking(False)  # the reactor waits for readiness; no read or write may block it
        self._reactor = reactor()
        self.send_msg(self.ofproto_parser.OFPHello(self))
        if self.max_unreplied_echo_requests:  # os-ken's loop, which ends by itself once sending stops
            hub.spawn(self._echo_request_loop)
        try:
            self._reactor.add(self)
            self._ended.wait()
        finally:
            with self._send_lock:
                self._writable = False
                self._unsent.clear()
                self.send_q = None
            self.is_active = False

    def close(self) -> None:
        super().close()  # DEAD, and no more sends, as os-ken's
        if self._reactor is not None:
            self._reactor.call(self._end)

    # -- in the reactor's thread -------------------------------------------------
    def _on_readable(self) -> None:
        """Read what is there (one read: each ready switch gets one per round) and handle its complete messages."""
        while True:
            if self.state == DEAD_DISPATCHER:  # closed (by an app, or the echo loop) since the last read
                self._end()
                return
            try:
                data = self.socket.recv(RECV_BYTES)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return  # with TLS: part of a record; the rest comes with a later readiness
            except OSError:
                # os-ken retries on any SSLError because eventlet raised one on a read timeout; here a read never
                # waits, so an SSLError is a broken TLS stream, and retrying could spin forever.
                self._end()
                return
            if not data:
                self._end()
                return
            self._received += data
            messages, used, error = split_messages(self._received)
            del self._received[:used]
            self._handle(messages)
            if error:
                LOG.warning("switch at %s sent a %s: closing the connection", _address(self), error)
                self._end()
                return
            # TLS may hold the rest of a record it decrypted, where epoll cannot see it.
            if not (self._tls and self.socket.pending()):
                break
        if self.state == DEAD_DISPATCHER:
            self._end()

    def _on_writable(self) -> None:
        self._flush()

    def _end(self) -> None:
        """The connection is over: forget the socket, close it, and let serve() return."""
        if self._ended.is_set():
            return
        if self._reactor is not None:
            self._reactor.remove(self)
        with contextlib.suppress(OSError):
            self.socket.close()
        self._ended.set()

    def _handle(self, messages: list[Message]) -> None:
        """Parse and dispatch one read's messages; what is sent meanwhile leaves in one write at the end."""
        self._gathering = True  # a plain flag: a send that misses it only asks the reactor for a flush it then finds done
        try:
            with _holding(_READ_HOLDERS):
                for version, msg_type, length, xid, data in messages:
                    msg = (msg_type == PACKET_IN and packet_in(self, version, length, xid, data)) or \
                        ofproto_parser.msg(self, version, msg_type, length, xid, data)
                    if msg:
                        self._dispatch(ofp_event.ofp_msg_to_ev(msg))
        finally:
            self._gathering = False
            self._flush()

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

    # -- from any thread ---------------------------------------------------------
    def send(self, buf: bytes, close_socket: bool = False) -> bool:
        """Take `buf` to be written: now if this is the reactor's thread (at the end of the read being handled, if
        one is), else by the reactor, soon. False once the connection no longer sends, as os-ken's send()."""
        with self._send_lock:
            if not self._writable:
                LOG.debug("Datapath in process of terminating; send() to %s discarded.", self.address)
                return False
            self._unsent += buf
            overflow = len(self._unsent) > self.MAX_UNSENT
            if overflow:
                self._writable = False
            elif close_socket:
                self._close_after_flush = True
            elif self._gathering:
                return True
            if not overflow and self._reactor is not None and not self._reactor.is_current():
                if not self._flush_asked:
                    self._flush_asked = True
                    self._reactor.call(self._flush)
                return True
        if overflow:
            # Disconnected, not only closed for writing: a switch that reads nothing would otherwise keep its session.
            LOG.warning("switch at %s left %d bytes of ours unread: disconnecting it", _address(self), len(self._unsent))
            self.close()
            return False
        self._flush()
        return True

    def _flush(self) -> None:
        """Write what the socket takes now; the rest waits for it to be writable (the reactor watches for that)."""
        with self._send_lock:
            self._flush_asked = False
            while self._unsent and self._writable:
                try:
                    sent = self.socket.send(self._unsent if len(self._unsent) <= self.SEND_BYTES else self._unsent[:self.SEND_BYTES])
                except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    break
                except OSError as exc:  # as a failed write ends os-ken's send loop
                    LOG.debug("cannot send to switch at %s: %s", _address(self), exc)
                    self._close_write()
                    break
                del self._unsent[:sent]
            if self._close_after_flush and not self._unsent and self._writable:
                self._close_write()
            waiting = len(self._unsent) if self._writable else 0
        watch = (waiting < self.PAUSE_READING_AT, waiting > 0)
        if watch != self._watched and self._reactor is not None and self._reactor.is_current() and not self._ended.is_set() \
                and self._reactor.watch(self, *watch):
            self._watched = watch

    def _close_write(self) -> None:
        """Also from close() in any thread, without _send_lock: a write may be under way, its bytes not resizable.
        A TLS connection is shut down below TLS: SSLSocket.shutdown() would drop its TLS state, under a read the
        reactor may be doing, and what it then read would be records taken for OpenFlow."""
        self._writable = False
        self._unsent = bytearray()
        with contextlib.suppress(OSError):
            if self._tls:
                socket.socket.shutdown(self.socket, socket.SHUT_WR)
            else:
                self.socket.shutdown(socket.SHUT_WR)


def _holding(apps: tuple) -> contextlib.AbstractContextManager:
    """The locks of `apps`, held together (one app, as a rule: no ExitStack for it)."""
    if not apps:
        return contextlib.nullcontext()
    if len(apps) == 1:
        return apps[0].lock
    stack = contextlib.ExitStack()
    for app in apps:
        stack.enter_context(app.lock)
    return stack


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
