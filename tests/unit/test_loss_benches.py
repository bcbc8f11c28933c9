"""bench/probe_stream.py, bench/failover_bench.py and bench/reload_bench.py: the parts that need no lab.

The prober runs here on a stand-in socket (a raw ICMP socket needs root and a
network); the analyses run on made-up records; the reports are written to a
temporary directory. SimLab's `controller_target` is checked without building anything.
"""

from __future__ import annotations

import json
import os
import struct
from argparse import Namespace
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import failover_bench, probe_stream, reload_bench
from bench.faucet_peer import faucet_config
from bench.probe_stream import LOST, checksum, echo_request, longest_loss_run, loss_runs, parse_reply, send_intervals_ms
from sdnlab import load

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
MS = 1_000_000


def reply_packet(request: bytes, source: str = "10.0.0.2") -> bytes:
    """The IPv4 packet an echo request's reply arrives as on a raw socket."""
    body = bytes([0, 0, 0, 0]) + request[4:]
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 64, 1, 0, bytes(map(int, source.split("."))), bytes(4))
    return header + body


# --- the wire ---------------------------------------------------------------------------


def test_checksum_of_a_packet_with_its_checksum_is_zero():
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D  # RFC 1071's worked example: a checksum of 0 always would pass below
    request = echo_request(0x1234, 1, 70_000, 123456789)
    assert checksum(request) == 0
    assert len(request) == 8 + probe_stream.SIZE


def test_a_reply_is_matched_by_identifier_destination_and_a_sequence_that_does_not_wrap():
    request = echo_request(0x1234, 1, 70_000, 5)
    assert parse_reply(reply_packet(request), 0x1234) == (1, 70_000)
    assert parse_reply(reply_packet(request), 0x4321) is None  # another prober's
    assert parse_reply(request, 0x1234) is None  # not even an IP packet
    ip = reply_packet(request)
    assert parse_reply(ip[:20] + bytes([8]) + ip[21:], 0x1234) is None  # an echo request is no reply
    assert parse_reply(ip[:28] + b"XXXX" + ip[32:], 0x1234) is None  # somebody else's payload


# --- the prober, on a stand-in socket -------------------------------------------------


class FakeSocket:
    """Answers every request except the ticks in `drop`, at once; asks the prober to stop after `ticks` ticks."""

    def __init__(self, destinations: list[str], drop: set[int], ticks: int, control_w: int):
        self.destinations, self.drop, self.ticks, self.control_w = destinations, drop, ticks, control_w
        self.queue: list[tuple[bytes, str]] = []
        self.sent = 0

    def setsockopt(self, *args) -> None:
        pass

    def setblocking(self, flag) -> None:
        pass

    def sendto(self, data: bytes, address) -> None:
        self.sent += 1
        _, _, seq, _ = probe_stream.PAYLOAD.unpack_from(data, probe_stream.HEADER.size)
        if seq not in self.drop:
            self.queue.append((reply_packet(data, address[0]), address[0]))
            if seq % 7 == 0:
                self.queue.append((reply_packet(data, address[0]), address[0]))  # a duplicate
        if self.sent == self.ticks * len(self.destinations):
            os.write(self.control_w, b"stop\n")

    def recvmsg(self, size, ancillary_size):
        if not self.queue:
            raise BlockingIOError
        packet, source = self.queue.pop(0)
        return packet, [], 0, (source, 0)

    def close(self) -> None:
        pass


def test_the_prober_records_every_probe_and_which_were_lost(monkeypatch, capsys):
    destinations = ["10.0.0.2", "10.0.0.3"]
    r, w = os.pipe()
    sock = FakeSocket(destinations, drop={5, 6, 7, 20}, ticks=40, control_w=w)

    def fake_select(readable, writable, errors, timeout):
        ready = [x for x in readable if (x is sock and sock.queue)]
        import select as real
        if any(x is not sock for x in readable) and real.select([r], [], [], 0)[0]:
            ready += [x for x in readable if x is not sock]
        return ready, [], []

    monkeypatch.setattr(probe_stream, "select", SimpleNamespace(select=fake_select))
    with os.fdopen(r, "rb", buffering=0) as control:
        record = probe_stream.probe(destinations, 200_000, 20 * MS, control=control, sock=sock)
    os.close(w)
    assert capsys.readouterr().out == "ready\n"
    assert [len(s) for s in record["sent_ns"]] == [40, 40]
    for d in range(2):
        lost = [i for i, rtt in enumerate(record["rtt_ns"][d]) if rtt == LOST]
        assert lost == [5, 6, 7, 20]
        assert all(rtt >= 0 for i, rtt in enumerate(record["rtt_ns"][d]) if i not in lost)
    assert record["duplicates"] == 2 * len([s for s in range(40) if s % 7 == 0 and s not in {5, 6, 7, 20}])
    assert record["strays"] == record["send_errors"] == record["overflow"] == 0
    start, end = record["sent_ns"][0][0], record["sent_ns"][0][-1] + 1
    assert longest_loss_run(record, 0, start, end)["run"] == 3
    assert all(x >= 0 for x in send_intervals_ms(record))


# --- reading a record -----------------------------------------------------------------


def record_of(rtts: list[list[int]], interval: int = MS) -> dict:
    return {"interval_ns": interval, "destinations": [f"10.0.0.{i + 2}" for i in range(len(rtts))],
            "sent_ns": [[1000 * MS + i * interval for i in range(len(r))] for r in rtts], "rtt_ns": rtts}


def test_loss_runs_in_a_window_and_late_replies():
    ok, late = MS // 10, 200 * MS
    rtts = [ok, LOST, LOST, ok, late, late, late, ok, LOST]
    record = record_of([rtts])
    start, end = 1000 * MS, 1000 * MS + len(rtts) * MS
    assert loss_runs(record, 0, start, end) == [(1, 2), (8, 1)]
    assert loss_runs(record, 0, start, end, late_ns=100 * MS) == [(1, 2), (4, 3), (8, 1)]
    run = longest_loss_run(record, 0, start, end, late_ns=100 * MS)
    assert (run["sent"], run["lost"], run["run"]) == (9, 6, 3)
    assert run["run_ms_by_clock"] == pytest.approx(3.0)
    assert run["max_rtt_ms"] == pytest.approx(0.1)
    # A window that starts inside a run counts only its part of it; one that ends in a run, up to its end.
    assert loss_runs(record, 0, start + 2 * MS, start + 6 * MS, late_ns=100 * MS) == [(2, 1), (4, 2)]
    assert longest_loss_run(record, 0, start + 9 * MS, start + 20 * MS) == {"sent": 0, "lost": 0, "run": 0, "run_ms_by_clock": 0.0,
                                                                             "max_rtt_ms": None}


# --- the failover bench -----------------------------------------------------------------


def failover_args(**changes) -> Namespace:
    values = {"cuts": 3, "interval_ms": 1.0, "hold": 0.01, "settle": 0.005, "late_ms": 100.0, "quiet": 0.005, "no_tls": False}
    return Namespace(**{**values, **changes})


def test_failover_analysis_takes_the_longest_run_of_a_cut_over_both_destinations_and_both_phases():
    ok = MS // 10
    # 40 ticks: quiet 0-4; cut 1 at 5 (restore at 15): h2 loses 6-8, h3 loses 7-10; cut 2 at 20 (restore at 30): h2 loses
    # 31-32 after the restore; cut 3 at 32 (restore 36): down until the restore for h3 (33-35 lost, 36 not sent in it).
    h2 = [ok] * 40
    h3 = [ok] * 40
    for i in (6, 7, 8):
        h2[i] = LOST
    for i in (7, 8, 9, 10):
        h3[i] = LOST
    for i in (31,):
        h2[i] = LOST
    for i in (33, 34, 35):
        h3[i] = LOST
    record = {**record_of([h2, h3]), "late_ticks": 0, "resyncs": 0, "overflow": 0, "send_errors": 0, "duplicates": 0, "strays": 0}
    at = record["sent_ns"][0]
    events = [{"link": "l12", "cut_ns": at[5], "restored_ns": at[15], "whole_before": True, "whole_after_s": 0.01},
              {"link": "l23", "cut_ns": at[20], "restored_ns": at[30], "whole_before": True, "whole_after_s": 0.01},
              {"link": "l31", "cut_ns": at[32], "restored_ns": at[36], "whole_before": False, "whole_after_s": None}]
    result = failover_bench.analyse(record, events, at[0], at[39] + 1, ["10.0.0.2", "10.0.0.3"], failover_args())
    assert result["gaps_ms"] == [4.0, 1.0, 3.0]
    first, second, third = result["cuts"]
    assert (first["cut_gap_ms"], first["restore_gap_ms"], first["down_until_restore"]) == (4.0, 0.0, False)
    assert first["destinations"]["10.0.0.2"]["gap_ms"] == 3.0
    assert (second["cut_gap_ms"], second["restore_gap_ms"]) == (0.0, 1.0)
    assert third["down_until_restore"]
    s = result["summary"]
    assert (s["min"], s["median"], s["max"], s["cuts_with_loss"], s["down_until_restore"], s["cuts_on_a_broken_ring"]) == (1.0, 3.0, 4.0, 3, 1, 1)
    assert result["quiet"]["sent"] == 10 and result["quiet"]["lost"] == 0


def test_summary_and_comparison():
    assert failover_bench.summary([]) == {"min": None, "median": None, "p90": None, "max": None}
    assert failover_bench.summary([5.0]) == {"min": 5.0, "median": 5.0, "p90": 5.0, "max": 5.0}
    assert failover_bench.summary([float(x) for x in range(1, 11)])["p90"] == pytest.approx(9.1)
    ours = {"summary": {"median": 3.0, "max": 8.0}}
    assert failover_bench.compare({"sdnlab": ours, "faucet": {"summary": {"median": 6.0, "max": 1000.0}}}) == {
        "goal_ms": 20.0, "under_goal": True, "median_ratio": 0.5, "max_ratio": 0.008, "at_or_ahead_of_faucet": True}
    zero = failover_bench.compare({"sdnlab": ours, "faucet": {"summary": {"median": 0.0, "max": 2.0}}})
    assert zero["median_ratio"] is None and not zero["at_or_ahead_of_faucet"]
    assert "median_ratio" not in failover_bench.compare({"sdnlab": ours, "faucet": {"error": "no venv"}})


def test_port_metrics_are_read_for_both_controllers():
    page = """# HELP port_stack_state state of stacking on a port
port_stack_state{dp_id="0x1",dp_name="br1",port="2",port_description="link l12 to br2"} 3.0
port_stack_state{dp_id="0x1",dp_name="br1",port="3",port_description="link l31 to br3"} 1.0
port_status{dp_id="0x2",dp_name="br2",port="1"} 1.0
"""
    assert failover_bench.port_samples(page, "port_stack_state") == {("br1", "2"): 3.0, ("br1", "3"): 1.0}
    assert failover_bench.port_samples(page, "port_status") == {("br2", "1"): 1.0}


def test_link_ports_are_faucets_stack_ports():
    topology = load(TOPOLOGIES / "triangle.yaml")
    stack = {(dp, str(number)) for dp, body in faucet_config(topology)["dps"].items()
             for number, port in body["interfaces"].items() if "stack" in port}
    assert failover_bench.link_ports(topology) == stack and len(stack) == 6


def test_failover_report(tmp_path, monkeypatch):
    monkeypatch.setattr(failover_bench, "RESULTS", tmp_path)
    cut = {"n": 1, "link": "l12", "gap_ms": 4.0, "cut_gap_ms": 4.0, "restore_gap_ms": 0.0, "down_until_restore": False,
           "whole_before": True, "whole_after_s": 1.0, "destinations": {}}
    prober = {"interval_ms_median": 1.0, "interval_ms_p99": 1.2, "interval_ms_max": 3.0, "late_ticks": 0, "resyncs": 0, "overflow": 0,
              "send_errors": 0, "duplicates": 0, "strays": 0}
    ours = {"label": "sdnlab controller (TLS channel)", "gaps_ms": [4.0], "cuts": [cut], "prober": prober,
            "summary": {**failover_bench.summary([4.0]), "cuts": 1, "cuts_with_loss": 1, "down_until_restore": 0, "cuts_on_a_broken_ring": 0,
                        "whole_after_restore_s_median": 1.0},
            "quiet": {"seconds": 2.0, "sent": 4000, "lost": 0}}
    theirs = {**ours, "label": "Faucet 1.10.12", "gaps_ms": [1.0], "cuts": [{**cut, "gap_ms": 1000.0, "down_until_restore": True}],
              "summary": {**ours["summary"], "min": 1.0, "median": 1.0, "p90": 1000.0, "max": 1000.0, "down_until_restore": 1}}
    info = {"node": "vm", "machine": "x86_64", "cpus": 2, "python": "3.11", "kernel": "6.1", "ovs": "ovs 3.1", "datapath": "userspace (netdev)",
            "time_utc": "2026-01-01 00:00 UTC"}
    failover_bench.write_report({"sdnlab": ours, "faucet": theirs}, failover_args(cuts=1), info)
    text = (tmp_path / "failover.md").read_text()
    assert "under 20 ms: **met** (4 ms)" in text
    assert "median **4**, max **0.004**" in text and "at or ahead of Faucet (median and max no longer): **NOT met**" in text
    assert "| 1 | l12 | 4 (4 / 0) | 1000* (4 / 0) |" in text
    data = json.loads((tmp_path / "failover.json").read_text())
    assert data["controllers"]["faucet"]["gaps_ms"] == [1.0] and not data["comparison"]["at_or_ahead_of_faucet"]
    failover_bench.write_report({"sdnlab": ours, "faucet": {"error": "pip failed\nmore"}}, failover_args(cuts=1), info)
    assert "| faucet | not measured: pip failed |" in (tmp_path / "failover.md").read_text()


# --- the reload bench --------------------------------------------------------------------


def test_reload_pairs_peers_and_retag(tmp_path):
    topology = load(TOPOLOGIES / "triangle.yaml")
    work = tmp_path / "triangle.yaml"
    work.write_text((TOPOLOGIES / "triangle.yaml").read_text())
    moved = reload_bench.retagged(work, "x3", 0, 10)
    assert moved.endpoints["x3"].nics[0].tag == 10 and reload_bench.load(work).endpoints["x3"].nics[0].tag == 10
    assert reload_bench.untouched_pairs(topology, moved, "x3") == [("h1", "h2"), ("h1", "h3"), ("h2", "h3")]
    assert reload_bench.peers(topology, "x3") == ["x1"]
    assert reload_bench.peers(moved, "x3") == ["h1", "h2", "h3"]
    assert reload_bench.target(topology, "h1", "h3") == "10.10.0.3"


def test_reload_counts_and_report(tmp_path, monkeypatch):
    ok = MS // 10
    record = record_of([[ok, LOST, ok, 150 * MS, ok]])
    start, end = record["sent_ns"][0][0], record["sent_ns"][0][-1] + 1
    assert reload_bench.counts(record, 0, start, end, 100 * MS) == {"sent": 5, "lost": 1, "late": 1, "longest_run": 1,
                                                                    "max_rtt_ms": pytest.approx(150.0)}
    monkeypatch.setattr(reload_bench, "RESULTS", tmp_path)
    zero = {"sent": 1000, "lost": 0, "late": 0, "longest_run": 0, "max_rtt_ms": 0.4}
    result = {"endpoint": "x3", "vlans": [20, 10], "pairs": [{"pair": "h1-h2", "during_reloads": zero, "quiet": zero}],
              "total": {"sent": 1000, "lost": 0, "late": 0}, "quiet": {"sent": 1000, "lost": 0, "late": 0, "seconds": 5.0}, "reload_seconds": 12.0,
              "reloads": [{"n": 1, "tag": 10, "reached_s": {"h1": 0.2}, "isolated": {"x1": True}, "lost_by_untouched_pairs": 0}],
              "probers": {"h1": {"overflow": 0, "send_errors": 0}}, "all_reloads_took_effect": True}
    args = Namespace(topology=str(TOPOLOGIES / "triangle.yaml"), reloads=1, interval_ms=1.0, wait=1.0, late_ms=100.0, quiet=5.0)
    info = {"node": "vm", "machine": "x86_64", "cpus": 2, "python": "3.11", "kernel": "6.1", "ovs": "ovs 3.1", "datapath": "userspace (netdev)",
            "time_utc": "2026-01-01 00:00 UTC"}
    reload_bench.write_report(result, args, info)
    text = (tmp_path / "reload.md").read_text()
    assert "**Sent 1000, lost 0 across 1 reloads**" in text and "goal, 0 lost: **met**" in text
    assert "| 1 | 10 | h1 0.20 | x1 yes | 0 |" in text and "- h1-h2: sent 1000, lost 0 across 1 reloads" in text
    assert json.loads((tmp_path / "reload.json").read_text())["settings"]["topology"] == "topologies/triangle.yaml"


# --- SimLab's seam for another controller ------------------------------------------------


def test_simlab_with_a_controller_target_starts_no_controller_of_its_own():
    from sim.lab import SimLab

    topology = load(TOPOLOGIES / "triangle.yaml")
    lab = SimLab(topology, controller_target="tcp:127.0.0.1:6653")
    assert lab.controller is None and lab.controller_target == "tcp:127.0.0.1:6653"
    assert not lab.tls and lab.port is None and lab.metrics_addresses() == [] and lab.masters() == {}
    lab.start_controller()
    lab.stop_controller()  # nothing to start or stop
    assert SimLab(topology).controller is not None  # without it, as before
    with pytest.raises(ValueError):
        SimLab(topology, cluster=True, controller_target="tcp:127.0.0.1:6653")
    with pytest.raises(ValueError):
        SimLab(topology, controller_port=6653, controller_target="tcp:127.0.0.1:6653")
