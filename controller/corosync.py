"""A small ctypes binding to corosync's process groups (libcpg) and quorum service (libquorum).

Why ctypes: there is no maintained Python binding. PyPI has no `corosync`,
`pycorosync` or `python-corosync` (its `pycpg` is an unrelated CrashPlan SDK)
and Debian 12 ships none (apt-cache search corosync lists only the daemon, its
tools and C libraries). The runtime needs only the shared libraries of the
Debian packages libcpg4 and libquorum5 (both pulled in by `corosync`); the
structs below copy corosync 3.1.7's <corosync/cpg.h>, <corosync/quorum.h> and
<corosync/corotypes.h> (packages libcpg-dev, libquorum-dev,
libcorosync-common-dev), and tests/unit/test_corosync_binding.py pins their
sizes and offsets.

A client talks to the corosync of its own network namespace (libqb's IPC uses
abstract unix sockets) and mount namespace (its ring buffers live in /dev/shm).
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from controller.election import Membership

CS_OK, CS_ERR_LIBRARY, CS_ERR_TRY_AGAIN, CS_ERR_BAD_HANDLE, CS_ERR_NOT_EXIST, CS_ERR_EXIST = 1, 2, 6, 9, 12, 14
CS_DISPATCH_ALL = 2
CS_TRACK_CURRENT, CS_TRACK_CHANGES = 0x01, 0x02
CPG_MODEL_V1, CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF = 1, 0x01
CPG_MAX_NAME_LENGTH, CPG_MEMBERS_MAX = 128, 128

CS_ERRORS = {
    1: "CS_OK", 2: "CS_ERR_LIBRARY", 3: "CS_ERR_VERSION", 4: "CS_ERR_INIT", 5: "CS_ERR_TIMEOUT", 6: "CS_ERR_TRY_AGAIN",
    7: "CS_ERR_INVALID_PARAM", 8: "CS_ERR_NO_MEMORY", 9: "CS_ERR_BAD_HANDLE", 10: "CS_ERR_BUSY", 11: "CS_ERR_ACCESS",
    12: "CS_ERR_NOT_EXIST", 13: "CS_ERR_NAME_TOO_LONG", 14: "CS_ERR_EXIST", 15: "CS_ERR_NO_SPACE", 16: "CS_ERR_INTERRUPT",
    17: "CS_ERR_NAME_NOT_FOUND", 18: "CS_ERR_NO_RESOURCES", 19: "CS_ERR_NOT_SUPPORTED", 20: "CS_ERR_BAD_OPERATION",
    21: "CS_ERR_FAILED_OPERATION", 22: "CS_ERR_MESSAGE_ERROR", 23: "CS_ERR_QUEUE_FULL", 24: "CS_ERR_QUEUE_NOT_AVAILABLE",
    25: "CS_ERR_BAD_FLAGS", 26: "CS_ERR_TOO_BIG", 27: "CS_ERR_NO_SECTIONS", 28: "CS_ERR_CONTEXT_NOT_FOUND",
    30: "CS_ERR_TOO_MANY_GROUPS", 100: "CS_ERR_SECURITY",
}
HINTS = {
    2: "is corosync running, in this network and mount namespace?",
    6: "corosync is busy (synchronising a new ring); try again",
    9: "the handle is finalized or corosync went away",
    11: "not allowed: run as root or list the user in /etc/corosync/uidgid.d",
}


class CorosyncError(Exception):
    """A corosync call failed: says which call, with which cs_error_t, and what that usually means."""

    def __init__(self, call: str, code: int, hint: str | None = None) -> None:
        self.call, self.code = call, code
        hint = hint or HINTS.get(code)
        super().__init__(f"{call} failed: {CS_ERRORS.get(code, 'unknown cs_error_t')} ({code})" + (f": {hint}" if hint else ""))


class CpgName(ctypes.Structure):
    _fields_ = [("length", ctypes.c_uint32), ("value", ctypes.c_char * CPG_MAX_NAME_LENGTH)]


class CpgAddress(ctypes.Structure):
    _fields_ = [("nodeid", ctypes.c_uint32), ("pid", ctypes.c_uint32), ("reason", ctypes.c_uint32)]


class CpgRingId(ctypes.Structure):
    _fields_ = [("nodeid", ctypes.c_uint32), ("seq", ctypes.c_uint64)]


DELIVER_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.POINTER(CpgName), ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t)
_ADDRS = ctypes.POINTER(CpgAddress)
CONFCHG_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.POINTER(CpgName), _ADDRS, ctypes.c_size_t, _ADDRS, ctypes.c_size_t, _ADDRS, ctypes.c_size_t)
TOTEM_CONFCHG_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint64, CpgRingId, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32))
QUORUM_NOTIFY_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32))


class CpgCallbacks(ctypes.Structure):
    _fields_ = [("cpg_deliver_fn", DELIVER_FN), ("cpg_confchg_fn", CONFCHG_FN)]


class CpgModelV1Data(ctypes.Structure):
    _fields_ = [("model", ctypes.c_int), ("cpg_deliver_fn", DELIVER_FN), ("cpg_confchg_fn", CONFCHG_FN),
                ("cpg_totem_confchg_fn", TOTEM_CONFCHG_FN), ("flags", ctypes.c_uint)]


class QuorumCallbacks(ctypes.Structure):
    _fields_ = [("quorum_notify_fn", QUORUM_NOTIFY_FN)]


_H, _P, _I = ctypes.c_uint64, ctypes.POINTER, ctypes.c_int
_PROTOTYPES = {
    "cpg": {
        "cpg_initialize": [_P(_H), _P(CpgCallbacks)], "cpg_model_initialize": [_P(_H), _I, _P(CpgModelV1Data), ctypes.c_void_p],
        "cpg_finalize": [_H], "cpg_fd_get": [_H, _P(_I)], "cpg_dispatch": [_H, _I], "cpg_join": [_H, _P(CpgName)],
        "cpg_leave": [_H, _P(CpgName)], "cpg_local_get": [_H, _P(ctypes.c_uint)],
        "cpg_membership_get": [_H, _P(CpgName), _P(CpgAddress), _P(_I)],
    },
    "quorum": {
        "quorum_initialize": [_P(_H), _P(QuorumCallbacks), _P(ctypes.c_uint32)], "quorum_finalize": [_H],
        "quorum_fd_get": [_H, _P(_I)], "quorum_dispatch": [_H, _I], "quorum_getquorate": [_H, _P(_I)],
        "quorum_trackstart": [_H, ctypes.c_uint],
    },
}
_SONAMES = {"cpg": ("libcpg.so.4", "libcpg4"), "quorum": ("libquorum.so.5", "libquorum5")}
_libs: dict[str, ctypes.CDLL] = {}


def lib(name: str) -> ctypes.CDLL:
    """libcpg or libquorum with prototypes set, loaded on first use so that importing this module needs no corosync."""
    if name not in _libs:
        soname, package = _SONAMES[name]
        try:
            cdll = ctypes.CDLL(soname)
        except OSError as e:
            raise CorosyncError(f"loading {soname}", CS_ERR_LIBRARY, f"{e}; install the Debian package {package}") from e
        for fn, argtypes in _PROTOTYPES[name].items():
            getattr(cdll, fn).argtypes, getattr(cdll, fn).restype = argtypes, ctypes.c_int
        _libs[name] = cdll
    return _libs[name]


def call(name: str, *args: object, ok: Iterable[int] = (CS_OK,), retry: float = 0.0) -> int:
    """Call `name`, retrying CS_ERR_TRY_AGAIN for up to `retry` seconds; raise unless the result is in `ok`."""
    fn = getattr(lib(name.split("_")[0]), name)
    deadline = time.monotonic() + retry
    while (rc := fn(*args)) == CS_ERR_TRY_AGAIN and time.monotonic() < deadline:
        time.sleep(0.05)
    if rc not in ok:
        raise CorosyncError(name, rc)
    return rc


def cpg_name(group: str) -> CpgName:
    """A struct cpg_name (not NUL-terminated: corosync compares `length` bytes)."""
    raw = group.encode()
    if not raw or len(raw) > CPG_MAX_NAME_LENGTH:
        raise CorosyncError(f"naming group {group!r}", 13, f"a group name is 1 to {CPG_MAX_NAME_LENGTH} bytes")
    return CpgName(len(raw), raw)


def name_bytes(name: CpgName) -> bytes:
    """The `length` bytes of a struct cpg_name as corosync delivered it (what follows them may be garbage)."""
    return ctypes.string_at(ctypes.addressof(name) + CpgName.value.offset, min(name.length, CPG_MAX_NAME_LENGTH))


# Membership (what callbacks add up to) is controller.election's: the election is its only reader.


QUORUM_SET = 1  # quorum_initialize's quorum_type when a provider (votequorum) is configured
SETTLE = 0.5  # seconds a new ring's view is held back waiting for the quorum service to report on that ring


@dataclass(frozen=True)
class Facts:
    """What the callbacks said so far; `view()` makes the Membership. Pure, so the unit tests can fold by hand.

    CPG and the quorum service report a new ring on two channels, CPG first in practice:
    in between, the old quorum with the new members would make a cut-off node believe it
    still has the majority. So quorum counts only once the quorum service reported on a
    ring at least as new as the newest CPG announced (`settled`).
    """

    me: int
    pid: int  # this process, as CPG lists it in the group
    members: tuple[int, ...] = ()
    joined: bool = False
    quorate: bool = False
    quorum_seq: int = 0  # the ring the quorum service last reported on
    totem_seq: int = 0  # the newest ring CPG announced
    lost: bool = False  # corosync went away

    @property
    def settled(self) -> bool:
        return self.quorum_seq >= self.totem_seq

    def view(self) -> Membership:
        live = self.joined and not self.lost
        return Membership(self.me, self.members if live else (), self.quorate and self.settled and not self.lost,
                          max(self.quorum_seq, self.totem_seq), live)


def fold(facts: Facts, *, group: Iterable[tuple[int, int]] | None = None, totem_seq: int | None = None,
         quorum: tuple[bool, int] | None = None, lost: bool = False) -> Facts:
    """The facts after one callback: a CPG confchg member list of (nodeid, pid), a totem confchg's ring
    sequence, a quorum notification's (quorate, ring_seq), or corosync gone. Rings never go back.

    Joined means this process, (me, pid), is in the member list; the members are dropped
    while not joined, as nothing keeps them up to date then.
    """
    if group is not None:
        group = list(group)
        joined = (facts.me, facts.pid) in group
        facts = replace(facts, joined=joined, members=tuple(sorted({n for n, _ in group})) if joined else ())
    if totem_seq is not None:
        facts = replace(facts, totem_seq=max(facts.totem_seq, totem_seq))
    if quorum is not None:
        facts = replace(facts, quorate=quorum[0], quorum_seq=max(facts.quorum_seq, quorum[1]))
    return replace(facts, lost=True, joined=False, members=(), quorate=False) if lost else facts


class Cluster:
    """This process in one CPG group, plus quorum tracking, dispatched by one daemon thread.

    on_change gets each new view, from that thread. A new ring's view is held back (at most
    SETTLE seconds) until the quorum service reported on that ring, so that no view mixes
    the new members with the old quorum; if it stays silent, the view goes out unquorate.
    """

    def __init__(self, group: str, on_change: Callable[[Membership], None]) -> None:
        self.group, self.on_change, self._name = group, on_change, cpg_name(group)
        self._cpg, self._quorum = _H(), _H()
        self._lock = threading.Lock()  # guards _facts
        self._api = threading.RLock()  # serialises calls on the handles
        self._thread: threading.Thread | None = None
        self._alive, self._stopped, self._want = False, False, False
        # The CFUNCTYPE objects must outlive the handles: C keeps only their addresses.
        self._fns = (DELIVER_FN(lambda *a: None), CONFCHG_FN(self._confchg), TOTEM_CONFCHG_FN(self._totem), QUORUM_NOTIFY_FN(self._quorate))
        self._model = CpgModelV1Data(CPG_MODEL_V1, self._fns[0], self._fns[1], self._fns[2], CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF)
        self._qcallbacks = QuorumCallbacks(self._fns[3])
        call("cpg_model_initialize", ctypes.byref(self._cpg), CPG_MODEL_V1, ctypes.byref(self._model), None, retry=2.0)
        try:
            me, quorum_type = ctypes.c_uint(), ctypes.c_uint32()
            call("cpg_local_get", self._cpg, ctypes.byref(me), retry=2.0)
            call("quorum_initialize", ctypes.byref(self._quorum), ctypes.byref(self._qcallbacks), ctypes.byref(quorum_type), retry=2.0)
        except CorosyncError:
            lib("cpg").cpg_finalize(self._cpg)
            raise
        try:
            if quorum_type.value != QUORUM_SET:  # then corosync calls every partition quorate: no use for electing
                raise CorosyncError("checking quorum_type", 19, "corosync has no quorum provider: set quorum { provider: corosync_votequorum }")
            call("quorum_trackstart", self._quorum, CS_TRACK_CHANGES | CS_TRACK_CURRENT, retry=2.0)
        except CorosyncError:
            lib("quorum").quorum_finalize(self._quorum)
            lib("cpg").cpg_finalize(self._cpg)
            raise
        self._facts = Facts(me.value, os.getpid())
        self._reported = self._facts.view()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)  # stop() wakes the poll through it
        self._alive = True

    # Callbacks: run inside cpg_dispatch/quorum_dispatch on the dispatch thread; they only fold.
    def _confchg(self, _h, name, members, n_members, _left, _nl, _joined, _nj) -> None:
        if name_bytes(name.contents) == self.group.encode():
            self._fold(group=[(members[i].nodeid, members[i].pid) for i in range(n_members)])

    def _totem(self, _h, ring_id, _n, _members) -> None:
        self._fold(totem_seq=ring_id.seq)

    def _quorate(self, _h, quorate, ring_seq, _n, _view) -> None:
        self._fold(quorum=(bool(quorate), ring_seq))

    def _fold(self, **data: object) -> Facts:
        with self._lock:
            self._facts = fold(self._facts, **data)
            return self._facts

    def membership(self) -> Membership:
        """The latest view; safe from any thread."""
        return self._fold().view()

    @property
    def alive(self) -> bool:
        """False once corosync went away (or after stop): the view then says no quorum, no members."""
        return self._alive

    def start(self) -> None:
        """Start the one daemon thread that dispatches both services and calls on_change on every change."""
        if self._thread is None and self._alive:
            services = {self._fd("cpg"): ("cpg", self._cpg), self._fd("quorum"): ("quorum", self._quorum)}
            self._thread = threading.Thread(target=self._run, args=(services,), name=f"corosync-{self.group}", daemon=True)
            self._thread.start()

    def join(self) -> None:
        """Join the group (idempotent); membership().joined turns True when CPG delivers the join."""
        with self._api:
            if not self._want:
                call("cpg_join", self._cpg, ctypes.byref(self._name), ok=(CS_OK, CS_ERR_EXIST), retry=5.0)
                self._want = True

    def leave(self) -> None:
        """Leave the group (idempotent)."""
        with self._api:
            if self._want:
                call("cpg_leave", self._cpg, ctypes.byref(self._name), ok=(CS_OK, CS_ERR_NOT_EXIST), retry=5.0)
                self._want = False

    def _run(self, services: dict[int, tuple[str, ctypes.c_uint64]]) -> None:
        try:
            self._dispatch(services)
        except Exception:  # not meant to happen; then say so, and that this view is gone
            logging.getLogger(__name__).exception("corosync dispatch failed")
            self._fold(lost=True)
            self._alive = False
            self._publish()
        finally:
            if self._stopped:  # stop() was called from on_change, on this thread
                self._close()

    def _dispatch(self, services: dict[int, tuple[str, ctypes.c_uint64]]) -> None:
        poller = select.poll()
        for fd in [*services, self._wake_r]:
            poller.register(fd, select.POLLIN)
        unsettled_since: float | None = None
        while True:
            now = time.monotonic()
            if self._fold().settled:
                unsettled_since = None
            elif unsettled_since is None:
                unsettled_since = now
            held = unsettled_since is not None and now - unsettled_since < SETTLE
            if not held:
                self._publish()
            events = poller.poll(int((unsettled_since + SETTLE - now) * 1000) + 1 if held else None)
            if any(fd == self._wake_r for fd, _ in events):
                return
            dead = any(ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, ev in events)
            for fd, _ in events:
                if not dead:
                    service, handle = services[fd]
                    with self._api:
                        rc = getattr(lib(service), f"{service}_dispatch")(handle, CS_DISPATCH_ALL)
                    dead = rc not in (CS_OK, CS_ERR_TRY_AGAIN)
                    if rc == CS_ERR_TRY_AGAIN:
                        time.sleep(0.01)
            if dead:
                self._fold(lost=True)
                self._alive = False
                self._publish()
                return

    def _fd(self, service: str) -> int:
        fd = ctypes.c_int()
        call(f"{service}_fd_get", self._cpg if service == "cpg" else self._quorum, ctypes.byref(fd))
        return fd.value

    def _publish(self) -> None:
        view = self.membership()
        if view != self._reported:
            self._reported = view
            try:
                self.on_change(view)
            except Exception:  # a failing listener must not end the dispatch thread
                logging.getLogger(__name__).exception("on_change(%s) failed", view)

    def stop(self) -> None:
        """Stop the thread and finalize both handles; idempotent, safe after corosync died and from on_change."""
        with self._api:  # not while the thread closes
            if self._stopped:
                return
            self._stopped, self._alive = True, False
            if self._wake_w >= 0:
                os.write(self._wake_w, b"x")
        if self._thread is None or not self._thread.is_alive():
            self._close()
        elif self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
            self._close()
        # else: called from on_change; the thread closes when it sees the wake-up

    def _close(self) -> None:
        with self._api:
            if self._wake_r < 0:
                return
            lib("quorum").quorum_finalize(self._quorum)  # errors ignored: the handles are freed even when corosync is gone
            lib("cpg").cpg_finalize(self._cpg)
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1


def group_members(group: str) -> tuple[int, ...]:
    """Nodeids of the processes in `group` (sorted, unique), without joining it: for a status command."""
    handle, callbacks = _H(), CpgCallbacks()
    call("cpg_initialize", ctypes.byref(handle), ctypes.byref(callbacks), retry=2.0)
    try:
        members, count = (CpgAddress * CPG_MEMBERS_MAX)(), _I(CPG_MEMBERS_MAX)
        call("cpg_membership_get", handle, ctypes.byref(cpg_name(group)), members, ctypes.byref(count), retry=2.0)
        return tuple(sorted({members[i].nodeid for i in range(count.value)}))
    finally:
        lib("cpg").cpg_finalize(handle)


def quorum_state(timeout: float = 2.0) -> tuple[bool, int]:
    """(quorate, ring_seq) once: from one CS_TRACK_CURRENT notification, else quorum_getquorate with ring_seq 0."""
    handle, seen = _H(), []
    notify = QUORUM_NOTIFY_FN(lambda _h, quorate, seq, _n, _v: seen.append((bool(quorate), int(seq))))
    callbacks = QuorumCallbacks(notify)
    call("quorum_initialize", ctypes.byref(handle), ctypes.byref(callbacks), ctypes.byref(ctypes.c_uint32()), retry=2.0)
    try:
        call("quorum_trackstart", handle, CS_TRACK_CURRENT, retry=2.0)
        fd = _I()
        call("quorum_fd_get", handle, ctypes.byref(fd))
        deadline = time.monotonic() + timeout
        while not seen and time.monotonic() < deadline and select.select([fd.value], [], [], deadline - time.monotonic())[0]:
            call("quorum_dispatch", handle, CS_DISPATCH_ALL, ok=(CS_OK, CS_ERR_TRY_AGAIN))
        if seen:
            return seen[-1]
        quorate = _I()
        call("quorum_getquorate", handle, ctypes.byref(quorate), retry=2.0)
        return bool(quorate.value), 0
    finally:
        lib("quorum").quorum_finalize(handle)
