"""A controller cluster on corosync in the simulator: kill, partition and heal on a looped lab.

The bundled scenario (topologies/scenarios/cluster-failover.yaml, run by
test_sim.py's bundled-scenario test too) kills the master, cuts a link the new
master must repair, partitions the next master and heals it. Here: the same
steps fail with one replica; a partitioned master loses quorum, steps down, and
OVS refuses a role request carrying its generation id as stale; nothing
outlives a run.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from sdnlab import load
from sdnlab.scenario import load_scenario
from sim.lab import SimLab
from sim.runner import current_master, run_scenario
from tests.conftest import REPO, TOPOLOGIES
from tests.system.leftovers import difference, machine
from tests.system.rogue import DP, HEADER, _bytes, wait_until

pytestmark = pytest.mark.usefixtures("real_ovs")


def corosync_pids() -> list[str]:
    return subprocess.run(["pgrep", "-x", "corosync"], capture_output=True, text=True).stdout.split()


@pytest.fixture
def clean_host():
    before, members = machine(), corosync_pids()
    yield
    assert difference(before, machine()) == {}
    assert corosync_pids() == members, "a corosync member outlived the lab"


def scenario_with_replicas(tmp_path: Path, replicas: int) -> Path:
    topology = yaml.safe_load((TOPOLOGIES / "cluster.yaml").read_text())
    topology["controller"]["replicas"] = replicas
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(topology))
    scenario = yaml.safe_load((TOPOLOGIES / "scenarios" / "cluster-failover.yaml").read_text())
    scenario["topology"] = "cluster.yaml"
    path = tmp_path / "failover.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


@pytest.mark.usefixtures("clean_host")
def test_the_failover_scenario_holds_with_three_replicas_and_fails_with_one(tmp_path, capsys):
    assert run_scenario(load_scenario(scenario_with_replicas(tmp_path, 3)), as_json=True, plot_to=None) == 0
    three = json.loads(capsys.readouterr().out)
    # Replica 1 was master when it was killed, and another replica took over. (At the start, the replica that
    # joins corosync's group first is master for a moment, until the lowest node id joins.)
    masters = [change["master"] for change in three["masters"] if change["master"] is not None]
    assert any(a == 1 and b not in (None, 1) for a, b in pairwise(masters)), f"no takeover from replica 1: {masters}"

    # One replica: killed, nothing repairs the cut; the expectation right after it fails.
    assert run_scenario(load_scenario(scenario_with_replicas(tmp_path, 1)), as_json=True, plot_to=None) == 1
    one = json.loads(capsys.readouterr().out)
    assert [e["agree"] for e in one["expectations"]][:2] == [True, False]
    assert any(d["pair"] == ["h1", "h2"] and not d["probes"] for d in one["expectations"][1]["disagreements"])


def generations(log: str) -> list[int]:
    return [int(g) for g in re.findall(r"role (?:master|slave) \(generation (\d+)\)", log)]


def role_request(sock: socket.socket, role: int, generation: int) -> tuple[int, int | None]:
    """Send a role request on our own session with a switch: (message type of the answer, error code or role)."""
    sock.sendall(_bytes(parser.OFPRoleRequest(DP, role, generation)))
    while True:
        version, kind, length, _ = HEADER.unpack(_recv(sock, HEADER.size))
        body = _recv(sock, length - HEADER.size)
        if kind == ofp.OFPT_ERROR:
            err_type, code = struct.unpack("!HH", body[:4])
            return kind, code if err_type == ofp.OFPET_ROLE_REQUEST_FAILED else -1
        if kind == ofp.OFPT_ROLE_REPLY:
            return kind, struct.unpack("!I", body[:4])[0]
        if kind == ofp.OFPT_ECHO_REQUEST:
            sock.sendall(HEADER.pack(version, ofp.OFPT_ECHO_REPLY, length, 0) + body)


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the switch closed our session"
        data += chunk
    return data


@pytest.mark.usefixtures("clean_host")
def test_a_partitioned_master_loses_quorum_steps_down_and_its_generation_is_refused_as_stale():
    topology = load(TOPOLOGIES / "cluster.yaml")
    with SimLab(topology) as lab:
        assert wait_until(lambda: current_master(lab.masters()) is not None, 15)
        old = current_master(lab.masters())
        old_log = lab.replicas[old].controller.log
        old_generation = max(generations(old_log.read_text()))
        lab.replicas.partition(old)
        cut_at = len(old_log.read_text())

        # The majority elects another master, and the switches confirm it on every bridge.
        assert wait_until(lambda: set(lab.masters().values()) - {old, None} and None not in lab.masters().values()
                          and old not in lab.masters().values(), 15), lab.masters()
        new = current_master(lab.masters())
        new_generation = max(generations(lab.replicas[new].controller.log.read_text()))
        assert new_generation > old_generation

        # The cut-off master lost quorum and stepped down by itself, and asked for no role since.
        assert wait_until(lambda: "NO QUORUM" in old_log.read_text()[cut_at:], 10)
        assert "steps down" in old_log.read_text()[cut_at:]
        assert generations(old_log.read_text()[cut_at:]) == []

        # A role request with the old master's generation, forced onto a session of our own with br1: OVS refuses it.
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            server.settimeout(15)
            port = server.getsockname()[1]
            name = lab.bridge("br1")
            added = subprocess.run(["ovs-vsctl", "--", "--id=@c", "create", "Controller", f'target="tcp:127.0.0.1:{port}"',
                                    "--", "add", "Bridge", name, "controller", "@c"], capture_output=True, text=True, check=True).stdout.strip()
            try:
                conn, _ = server.accept()
                with conn:
                    conn.settimeout(10)
                    conn.sendall(_bytes(parser.OFPHello(DP)))
                    assert role_request(conn, ofp.OFPCR_ROLE_SLAVE, old_generation) == (ofp.OFPT_ERROR, ofp.OFPRRFC_STALE)
                    # Positive control, same session: the current generation is accepted.
                    assert role_request(conn, ofp.OFPCR_ROLE_SLAVE, new_generation) == (ofp.OFPT_ROLE_REPLY, ofp.OFPCR_ROLE_SLAVE)
            finally:
                subprocess.run(["ovs-vsctl", "remove", "Bridge", name, "controller", added], check=True)

        # What `sdnlab status` shows on a node, here from inside the new master's namespaces: quorum, the replicas, each
        # switch's master (OVS writes roles to OVSDB every few seconds, hence the wait).
        script = ("import json, sys; from sdnlab import load; from host.cluster import cluster_report; from host.ovsdb import ovsdb\n"
                  "with ovsdb() as api: print(json.dumps(cluster_report(load(sys.argv[1]), api, lambda n: sys.argv[2] + str(int(n[2:]) - 1))))")
        member = lab.replicas[new]

        def report():
            out = subprocess.run(["nsenter", "-t", str(member.corosync.pid), "-m", "-n", sys.executable, "-c", script,
                                  str(TOPOLOGIES / "cluster.yaml"), lab.bridge("br1")[:-1]], capture_output=True, text=True, cwd=REPO)
            if out.returncode != 0:
                return None
            lines, healthy = json.loads(out.stdout)
            return lines if healthy and all(f"master ssl:{member.address}:" in line for line in lines[1:]) else None

        assert wait_until(report, 15), subprocess.run(["ovs-vsctl", "list", "controller"], capture_output=True, text=True).stdout
        lines = report()
        assert "corosync quorate" in lines[0] and f"node {new}" in lines[0] and f"node {old}" not in lines[0]

        # Healed, it rejoins; the lowest node id is master again once its switches reach it.
        lab.replicas.heal(old)
        assert wait_until(lambda: set(lab.masters().values()) == {min(old, new)}, 20), lab.masters()
        time.sleep(0.5)
        assert lab.ping("h1", "h3") and not lab.ping("h1", "x3")
