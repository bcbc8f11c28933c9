"""The simulator end to end: every bundled topology and scenario, and proof the comparison can fail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from host.verify import probeable_pairs
from sdnlab import load
from sdnlab.scenario import load_scenario
from sim.lab import SIM_ROOT, SimLab
from sim.runner import compare, run_scenario
from tests.conftest import TOPOLOGIES
from tests.system.labtools import answers, wait_for_log

pytestmark = pytest.mark.usefixtures("real_ovs")
SDNLAB = str(Path(sys.executable).parent / "sdnlab")


def leftovers() -> dict:
    bridges = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split()
    hosts = subprocess.run(["pgrep", "-f", "mininet:"], capture_output=True, text=True).stdout.split()
    links = [line for line in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
             if ": s" in line and "b" in line.split(":")[1]]
    return {"bridges": bridges, "hosts": hosts, "links": [x.split(":")[1].strip() for x in links]}


@pytest.mark.parametrize("name", sorted(p.name for p in TOPOLOGIES.glob("*.yaml")))
def test_bundled_topology_three_views_agree(name):
    before = leftovers()
    topology = load(TOPOLOGIES / name)
    with SimLab(topology) as lab:
        comparison = compare(lab, topology, probeable_pairs(topology))
    assert comparison.disagreements() == [] and comparison.trace_mismatches == []
    assert any(not comparison.intent[p] for p in comparison.pairs), "some probed pair must be isolated, or probes prove nothing"
    assert leftovers() == before


@pytest.mark.parametrize("name", sorted(p.name for p in (TOPOLOGIES / "scenarios").glob("*.yaml")))
def test_bundled_scenario_holds(name, capsys):
    assert run_scenario(load_scenario(TOPOLOGIES / "scenarios" / name), as_json=False, plot_to=None) == 0
    assert "expectations held" in capsys.readouterr().out


def test_a_vlan_left_out_of_a_trunk_at_runtime_is_caught(tmp_path):
    """Sabotage the controller's copy of the file: the comparison with the real intent must fail."""
    original = TOPOLOGIES / "two-nodes.yaml"
    work = tmp_path / "two-nodes.yaml"
    work.write_text(original.read_text())
    topology = load(original)
    with SimLab(topology, work) as lab:
        pairs = probeable_pairs(topology)
        assert compare(lab, topology, pairs).agree
        work.write_text(original.read_text().replace("trunks: [10, 20]", "trunks: [20]"))
        lab.controller.reload()
        wait_for_log(lab, "topology reloaded")
        broken = compare(lab, topology, pairs)
    assert not broken.agree
    assert {tuple(d["pair"]) for d in broken.disagreements()} == {("web1", "web2")}
    d = broken.disagreements()[0]
    assert d["intent"] is True and d["flows"] is False and d["probes"] is False


def test_sim_run_json_and_plot(tmp_path):
    picture = tmp_path / "run.png"
    out = subprocess.run([SDNLAB, "sim", "run", str(TOPOLOGIES / "one-bridge.yaml"), "--json", "--plot", str(picture)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["topology"] == "one-bridge" and doc["agree"] is True
    assert doc["reachable"] == [["a1", "a2"], ["b1", "b2"]]
    assert doc["isolated"] == [["a1", "b1"], ["a1", "b2"], ["a2", "b1"], ["a2", "b2"]]
    assert doc["compared_with"]["intent"]["reachable"] == doc["reachable"]
    assert picture.read_bytes()[:4] == b"\x89PNG"


def test_a_vlan_aware_linux_bridge_replays_as_a_standalone_ovs_bridge_with_proxmox_port_settings():
    """The bundled lab with Proxmox's default bridge: three views agree, and the stand-in is what the note says."""
    before = leftovers()
    out = subprocess.run([SDNLAB, "sim", "run", str(TOPOLOGIES / "vlan-aware.yaml"), "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["agree"] and sorted(map(tuple, result["reachable"])) == [("db1", "db2"), ("mgmt1", "mgmt2"), ("web1", "web2")]
    assert "VLAN-aware Linux bridge vmbr0: built as standalone OVS bridges" in out.stderr + out.stdout
    assert leftovers() == before


def test_a_stand_in_port_retagged_at_runtime_is_seen_by_the_flows_view_as_by_the_probes():
    """The flows view models a stand-in from the VLANs its ports have in OVSDB now, not from what sdnlab gave them:
    put db1 in VLAN 10 by hand and both the flows view and the probes see db1 among the web VLAN, against the intent."""
    topology = load(TOPOLOGIES / "vlan-aware.yaml")
    with SimLab(topology) as lab:
        pairs = probeable_pairs(topology)
        assert compare(lab, topology, pairs).agree
        _, number = lab.plan.nic_port("db1.0")
        subprocess.run(["ovs-vsctl", "set", "Port", lab.port_intf("vmbr0", number), "tag=10"], check=True)
        for host in lab.hosts.values():  # lookups that failed in the first round would hold the first pings back
            host.cmd("ip neigh flush all")
        broken = compare(lab, topology, pairs)
    found = {tuple(d["pair"]): (d["intent"], d["flows"], d["probes"]) for d in broken.disagreements()}
    assert found == {("db1", "db2"): (True, False, False), ("db1", "web1"): (False, True, True), ("db1", "web2"): (False, True, True)}


ROUTER = """name: router
vlans: {10: {name: web}, 20: {name: db}}
bridges: {vmbr0: {type: ovs}}
endpoints:
  fw: {type: kvm, vmid: 100, nics: [{bridge: vmbr0, trunks: [10, 20], ip: 10.3.0.1/24}]}
  web: {type: host, nics: [{bridge: vmbr0, tag: 10, ip: 10.3.10.2/24}]}
  db: {type: host, nics: [{bridge: vmbr0, tag: 20, ip: 10.3.20.2/24}]}
  mgmt: {type: host, nics: [{bridge: vmbr0, ip: 10.3.0.2/24}]}
"""


def test_a_trunk_nic_gives_its_endpoint_one_interface_per_vlan(tmp_path):
    """A firewall VM with `trunks: [10, 20]`: eth0 is its untagged side, eth0.10 and eth0.20 reach each VLAN, and
    nothing leaks: an untagged neighbour with an address in VLAN 10's subnet reaches nobody there."""
    lab_file = tmp_path / "router.yaml"
    lab_file.write_text(ROUTER)
    topology = load(lab_file)
    before = leftovers()
    with SimLab(topology) as lab:
        assert compare(lab, topology, probeable_pairs(topology)).agree
        fw, mgmt = lab.hosts["fw"], lab.hosts["mgmt"]
        fw.cmd("ip addr add 10.3.10.1/24 dev eth0.10 && ip addr add 10.3.20.1/24 dev eth0.20")
        assert answers(lab, "fw", "10.3.10.2") and answers(lab, "fw", "10.3.20.2") and answers(lab, "fw", "10.3.0.2")
        mgmt.cmd("ip addr add 10.3.10.9/24 dev eth0")
        assert not answers(lab, "mgmt", "10.3.10.2")
        assert fw.cmd("cat /sys/class/net/eth0.10/address").strip() == topology.endpoints["fw"].nics[0].mac
    assert leftovers() == before


PVE_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pve"
SNAPSHOTS = sorted(p.name for p in PVE_FIXTURES.iterdir() if (p / "nodes").is_dir() and not p.name.startswith("bad-"))


@pytest.mark.parametrize("pending", [False, True], ids=["running", "pending"])
@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_an_imported_proxmox_cluster_replays_with_three_views_that_agree(snapshot, pending, tmp_path):
    """`sdnlab import pve` of each snapshot fixture, then `sdnlab sim run` of what it wrote."""
    from sdnlab.pve import DirSource, import_snapshot

    lab_file = tmp_path / f"{snapshot}.yaml"
    lab_file.write_text(import_snapshot(DirSource(PVE_FIXTURES / snapshot), pending=pending).text)
    topology = load(lab_file)
    before = leftovers()
    with SimLab(topology) as lab:
        comparison = compare(lab, topology, probeable_pairs(topology))
    assert comparison.disagreements() == [] and comparison.trace_mismatches == []
    assert leftovers() == before


def test_interrupt_and_kill_leave_nothing_behind():
    before = leftovers()
    # Ctrl-C while the lab is up: everything is torn down.
    assert before == {"bridges": [], "hosts": [], "links": []}, "an earlier test left something behind"
    proc = subprocess.Popen([SDNLAB, "sim", "run", str(TOPOLOGIES / "classroom.yaml")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # the lab is up and being probed
        if " up in " in line:
            break
    assert leftovers() != before
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert leftovers() == before
    # kill -9: `sdnlab sim clean` removes what was left.
    proc = subprocess.Popen([SDNLAB, "sim", "run", str(TOPOLOGIES / "triangle.yaml")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True, text=True)
    for line in proc.stdout:
        if " up in " in line:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert leftovers() != before
    out = subprocess.run([SDNLAB, "sim", "clean"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "removed" in out.stdout
    assert leftovers() == before
    assert not list(SIM_ROOT.glob("*"))  # the killed lab's log and keys went too
    out = subprocess.run(["ovs-vsctl", "get-ssl"], capture_output=True, text=True)
    assert out.stdout.strip() == ""  # no lab is up: sdnlab's SSL settings went with the last one


def test_sim_up_gives_mininets_cli_and_tears_down_on_exit():
    before = leftovers()
    out = subprocess.run([SDNLAB, "sim", "up", str(TOPOLOGIES / "one-bridge.yaml")], input="a1 ping -c 2 -W 1 10.1.0.2\nb1 ping -c 2 -W 1 10.1.0.2\nexit\n",
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "one-bridge is up" in out.stdout
    said = out.stdout + out.stderr  # Mininet's CLI writes command output through its logger, to stderr
    assert "2 received" in said and " 0 received" in said  # same VLAN answers, the other tenant does not
    assert leftovers() == before
