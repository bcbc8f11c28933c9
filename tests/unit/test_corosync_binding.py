"""controller/corosync.py without corosync: struct layouts, error naming, the view fold, and the
dispatch thread driven by a stand-in for libcpg/libquorum (pipes for their fds)."""

from __future__ import annotations

import ctypes
import os
import threading

import pytest

from controller import corosync
from controller.corosync import (
    CONFCHG_FN,
    TOTEM_CONFCHG_FN,
    Cluster,
    CorosyncError,
    CpgAddress,
    CpgCallbacks,
    CpgModelV1Data,
    CpgName,
    CpgRingId,
    Facts,
    Membership,
    QuorumCallbacks,
    fold,
)

PID = 4242


# Sizes and offsets printed by a C program built against corosync 3.1.7's headers (x86_64):
# sizeof/offsetof of struct cpg_name, cpg_address, cpg_ring_id, cpg_model_v1_data_t, cpg_callbacks_t, quorum_callbacks_t.
@pytest.mark.parametrize(("struct", "size", "offsets"), [
    (CpgName, 4 + 128, {"length": 0, "value": 4}),
    (CpgAddress, 12, {"nodeid": 0, "pid": 4, "reason": 8}),
    (CpgRingId, 16, {"nodeid": 0, "seq": 8}),
    (CpgModelV1Data, 40, {"model": 0, "cpg_deliver_fn": 8, "cpg_confchg_fn": 16, "cpg_totem_confchg_fn": 24, "flags": 32}),
    (CpgCallbacks, 16, {"cpg_deliver_fn": 0, "cpg_confchg_fn": 8}),
    (QuorumCallbacks, 8, {"quorum_notify_fn": 0}),
])
def test_struct_layouts_match_the_headers(struct, size, offsets):
    assert ctypes.sizeof(struct) == size
    assert {name: getattr(struct, name).offset for name in offsets} == offsets


def test_constants_match_the_headers():
    assert (corosync.CS_OK, corosync.CS_ERR_LIBRARY, corosync.CS_ERR_TRY_AGAIN, corosync.CS_ERR_EXIST) == (1, 2, 6, 14)
    assert (corosync.CS_DISPATCH_ALL, corosync.CS_TRACK_CURRENT | corosync.CS_TRACK_CHANGES) == (2, 3)
    assert (corosync.CPG_MODEL_V1, corosync.CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF, corosync.CPG_MAX_NAME_LENGTH) == (1, 1, 128)
    # cs_error_t runs 1..28, skips 29, then 30 and 100
    assert sorted(corosync.CS_ERRORS) == [*range(1, 29), 30, 100]
    assert all(name.startswith("CS_") for name in corosync.CS_ERRORS.values())


def test_errors_name_the_call_and_the_code():
    assert str(CorosyncError("cpg_join", 2)) == "cpg_join failed: CS_ERR_LIBRARY (2): is corosync running, in this network and mount namespace?"
    assert str(CorosyncError("quorum_dispatch", 9)).startswith("quorum_dispatch failed: CS_ERR_BAD_HANDLE (9)")
    assert str(CorosyncError("cpg_leave", 12)) == "cpg_leave failed: CS_ERR_NOT_EXIST (12)"
    assert str(CorosyncError("cpg_x", 99)) == "cpg_x failed: unknown cs_error_t (99)"
    e = CorosyncError("cpg_join", 11)
    assert (e.call, e.code) == ("cpg_join", 11) and "uidgid.d" in str(e)


def test_a_missing_library_names_the_debian_package(monkeypatch):
    monkeypatch.setattr(corosync, "_libs", {})
    monkeypatch.setitem(corosync._SONAMES, "cpg", ("libcpg-not-here.so.4", "libcpg4"))
    with pytest.raises(CorosyncError, match=r"loading libcpg-not-here.so.4 failed: CS_ERR_LIBRARY .*install the Debian package libcpg4"):
        corosync.group_members("g")


def test_group_names_are_length_counted():
    name = corosync.cpg_name("sdnlab")
    assert (name.length, name.value) == (6, b"sdnlab")
    assert corosync.cpg_name("x" * 128).length == 128
    for bad in ("", "x" * 129):
        with pytest.raises(CorosyncError, match="1 to 128 bytes"):
            corosync.cpg_name(bad)
    delivered = CpgName(3, b"abcgarbage")  # what follows `length` is not part of the name
    assert corosync.name_bytes(delivered) == b"abc"


def test_try_again_is_retried_then_other_errors_raise(monkeypatch):
    answers = [6, 6, 1]

    class Lib:
        def cpg_join(self, *_):
            return answers.pop(0)

    monkeypatch.setattr(corosync, "_libs", {"cpg": Lib()})
    assert corosync.call("cpg_join", retry=5.0) == 1 and answers == []
    answers[:] = [6] * 1000
    with pytest.raises(CorosyncError, match="CS_ERR_TRY_AGAIN"):
        corosync.call("cpg_join")  # no retry asked: the first answer stands
    answers[:] = [14]
    assert corosync.call("cpg_join", ok=(1, 14)) == 14


# The fold: what the callbacks said, to the view election.py decides on.

def facts(**kw) -> Facts:
    return Facts(me=2, pid=PID, **kw)


def test_joined_means_this_process_is_in_the_group():
    f = fold(facts(), group=[(3, 10), (2, PID), (1, 7), (3, 11)])
    assert f.view() == Membership(2, (1, 2, 3), False, 0, True)  # sorted, one per node; no quorum heard yet
    f = fold(f, quorum=(True, 5), totem_seq=5)
    assert f.view() == Membership(2, (1, 2, 3), True, 5, True)
    other = fold(f, group=[(2, PID + 1), (1, 7)])  # another process on this node: not us
    assert other.view() == Membership(2, (), True, 5, False)


def test_leaving_drops_the_members():
    f = fold(facts(quorate=True), group=[(1, 7), (2, PID)])
    assert fold(f, group=[(1, 7)]).view().members == ()


def test_ring_sequence_never_goes_back():
    f = fold(facts(), quorum=(True, 9), totem_seq=9)
    f = fold(f, totem_seq=4)
    f = fold(f, quorum=(True, 3))
    assert f.view().ring_seq == 9 and f.settled


def test_quorum_counts_only_for_the_newest_ring():
    """CPG announces the new ring first: until the quorum service speaks of it, the old quorum does not count."""
    f = fold(facts(), group=[(1, 7), (2, PID), (3, 8)], quorum=(True, 13), totem_seq=13)
    assert f.view().quorate
    f = fold(fold(f, totem_seq=21), group=[(2, PID)])  # cut off: the other two are gone
    assert not f.settled and f.view() == Membership(2, (2,), False, 21, True)
    assert fold(f, quorum=(False, 21)).view() == Membership(2, (2,), False, 21, True)
    majority = fold(f, quorum=(True, 21))
    assert majority.settled and majority.view().quorate


def test_a_newer_quorum_report_counts_at_once():
    f = fold(facts(), group=[(2, PID)], totem_seq=13, quorum=(True, 17))
    assert f.view() == Membership(2, (2,), True, 17, True)


def test_lost_corosync_means_nothing():
    f = fold(facts(), group=[(1, 7), (2, PID)], quorum=(True, 13), totem_seq=13)
    gone = fold(f, lost=True)
    assert gone.view() == Membership(2, (), False, 13, False)
    assert fold(gone, quorum=(True, 14)).view().quorate is False


# The Cluster and its thread, on a stand-in for the two libraries: each service's fd is a pipe's
# read end; a byte on it means "dispatch me", closing its write end is corosync dying.

class FakeCorosync:
    def __init__(self) -> None:
        self.fds = {"cpg": os.pipe(), "quorum": os.pipe()}
        self.pending: dict[str, list] = {"cpg": [], "quorum": []}
        self.calls: list[str] = []
        self.join_answers = [6, 1]  # busy once, then fine

    def _ret(self, arg, value) -> None:
        arg._obj.value = value

    def send(self, service: str, event) -> None:
        self.pending[service].append(event)
        os.write(self.fds[service][1], b"x")

    def die(self) -> None:
        for _, w in self.fds.values():
            os.close(w)

    def close(self) -> None:
        for r, _ in self.fds.values():
            os.close(r)

    def cpg_model_initialize(self, handle, model, data, _ctx) -> int:
        self.model = data._obj
        assert model == 1 and self.model.flags == 1
        self._ret(handle, 7)
        self.send("cpg", lambda: self.model.cpg_totem_confchg_fn(7, CpgRingId(1, 13), 0, None))  # the initial totem conf
        return 1

    def cpg_local_get(self, _h, me) -> int:
        self._ret(me, 2)
        return 1

    def quorum_initialize(self, handle, callbacks, quorum_type) -> int:
        self.quorum = callbacks._obj
        self._ret(handle, 8)
        self._ret(quorum_type, 1)
        return 1

    def quorum_trackstart(self, _h, flags) -> int:
        assert flags == 3
        self.send("quorum", lambda: self.quorum.quorum_notify_fn(8, 1, 13, 0, None))
        return 1

    def cpg_fd_get(self, _h, fd) -> int:
        self._ret(fd, self.fds["cpg"][0])
        return 1

    def quorum_fd_get(self, _h, fd) -> int:
        self._ret(fd, self.fds["quorum"][0])
        return 1

    def cpg_join(self, _h, name) -> int:
        self.calls.append(f"join {corosync.name_bytes(name._obj).decode()}")
        return self.join_answers.pop(0)

    def confchg(self, members: list[tuple[int, int]]) -> None:
        name = corosync.cpg_name("g")
        addrs = (CpgAddress * len(members))(*[CpgAddress(n, p, 1) for n, p in members])
        self.send("cpg", lambda: self.model.cpg_confchg_fn(7, ctypes.pointer(name), addrs, len(members), None, 0, None, 0))

    def _dispatch(self, service: str) -> int:  # CS_DISPATCH_ALL: every event already there
        for _ in os.read(self.fds[service][0], 4096):
            self.pending[service].pop(0)()
        return 1

    def cpg_dispatch(self, _h, flags) -> int:
        return self._dispatch("cpg")

    def quorum_dispatch(self, _h, flags) -> int:
        return self._dispatch("quorum")

    def cpg_finalize(self, _h) -> int:
        self.calls.append("cpg_finalize")
        return 2  # as when corosync is gone: ignored

    def quorum_finalize(self, _h) -> int:
        self.calls.append("quorum_finalize")
        return 1


class Views:
    def __init__(self) -> None:
        self.seen: list[Membership] = []
        self.cond = threading.Condition()

    def __call__(self, view: Membership) -> None:
        with self.cond:
            self.seen.append(view)
            self.cond.notify_all()

    def until(self, test) -> Membership:
        with self.cond:
            assert self.cond.wait_for(lambda: any(test(v) for v in self.seen), timeout=10), self.seen
            return next(v for v in self.seen if test(v))


@pytest.fixture
def fake(monkeypatch):
    fake = FakeCorosync()
    monkeypatch.setattr(corosync, "_libs", {"cpg": fake, "quorum": fake})
    yield fake
    fake.close()


def test_cluster_reports_views_and_notices_corosync_dying(fake):
    views = Views()
    cluster = Cluster("g", views)
    cluster.start()
    cluster.join()
    cluster.join()  # idempotent: one cpg_join, tried again once on CS_ERR_TRY_AGAIN
    assert fake.calls == ["join g", "join g"] and fake.join_answers == []
    fake.confchg([(2, os.getpid()), (1, 9)])
    assert views.until(lambda v: v.joined) == Membership(2, (1, 2), True, 13, True)
    assert cluster.membership() == Membership(2, (1, 2), True, 13, True) and cluster.alive

    fake.die()
    assert views.until(lambda v: not v.quorate) == Membership(2, (), False, 13, False)
    cluster._thread.join(timeout=10)
    assert not cluster.alive and not cluster._thread.is_alive()
    cluster.stop()
    cluster.stop()
    assert fake.calls[2:] == ["quorum_finalize", "cpg_finalize"]


def test_a_new_ring_is_held_until_the_quorum_service_speaks_of_it(fake):
    views = Views()
    cluster = Cluster("g", views)
    cluster.start()
    cluster.join()
    fake.confchg([(2, os.getpid()), (1, 9), (3, 4)])
    views.until(lambda v: v.members == (1, 2, 3))
    fake.send("cpg", lambda: fake.model.cpg_totem_confchg_fn(7, CpgRingId(2, 17), 0, None))
    fake.confchg([(2, os.getpid()), (1, 9)])
    fake.send("quorum", lambda: fake.quorum.quorum_notify_fn(8, 1, 17, 0, None))
    assert views.until(lambda v: v.ring_seq == 17) == Membership(2, (1, 2), True, 17, True)
    assert [v for v in views.seen if v.members == (1, 2)] == [Membership(2, (1, 2), True, 17, True)]  # no half-way view
    cluster.stop()
    assert not cluster.alive and not cluster._thread.is_alive()


def test_stop_from_on_change_closes_from_the_thread(fake):
    cluster: Cluster | None = None
    done = threading.Event()

    def on_change(view: Membership) -> None:
        cluster.stop()
        done.set()

    cluster = Cluster("g", on_change)
    cluster.start()
    assert done.wait(10)
    cluster._thread.join(timeout=10)
    assert fake.calls == ["quorum_finalize", "cpg_finalize"] and not cluster.alive


def test_callback_types_pass_the_ring_id_by_value():
    """struct cpg_ring_id is passed by value: the CFUNCTYPE must carry it through libffi intact."""
    seen = []
    fn = TOTEM_CONFCHG_FN(lambda h, ring, n, members: seen.append((h, ring.nodeid, ring.seq, n, members[1])))
    fn(2**63, CpgRingId(3, 2**40 + 5), 2, (ctypes.c_uint32 * 2)(1, 3))
    confchg = CONFCHG_FN(lambda h, name, m, n, *_: seen.append((corosync.name_bytes(name.contents), m[0].nodeid, n)))
    confchg(1, ctypes.pointer(corosync.cpg_name("g")), (CpgAddress * 1)(CpgAddress(5, 6, 1)), 1, None, 0, None, 0)
    assert seen == [(2**63, 3, 2**40 + 5, 2, 3), (b"g", 5, 1)]
