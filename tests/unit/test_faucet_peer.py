"""bench/faucet_peer.py: a lab as Faucet's config, and the pieces around Faucet that need no install.

Faucet's own checker (check_faucet_config) is not run here: it needs Faucet's
venv (bench.faucet_peer.ensure_faucet), which the unit tests do not install.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench import faucet_peer
from bench.faucet_peer import (
    FAUCET_VERSION,
    UnsupportedLab,
    differences,
    ensure_faucet,
    faucet_command,
    faucet_config,
    start_faucet,
    stop_faucet,
    write_config,
)
from controller.state import PortPlan
from sdnlab import load, loads
from sdnlab.model import UNTAGGED, Topology

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"

# A trunk NIC with a native VLAN (fw), one whose native side is untagged (rtr), an
# untagged NIC (lan), a NIC without port security (db), and one link carrying two
# VLANs (and untagged, the default).
HAND = """\
name: faucet-peer
vlans: {10: {name: web}, 20: {name: db}}
bridges: {sw1: {type: ovs}, sw2: {type: ovs}}
endpoints:
  fw: {type: kvm, nics: [{bridge: sw1, tag: 10, trunks: [20], ip: 10.0.10.1/24}]}
  rtr: {type: kvm, nics: [{bridge: sw1, trunks: [10, 20], ip: 192.168.0.1/24}]}
  lan: {type: host, nics: [{bridge: sw2, ip: 192.168.0.2/24}]}
  web: {type: lxc, nics: [{bridge: sw2, tag: 10, ip: 10.0.10.2/24}]}
  db: {type: lxc, nics: [{bridge: sw2, tag: 20, ip: 10.0.20.2/24, port_security: false}]}
links:
  - {name: trunk, between: [sw1, sw2], trunks: [10, 20]}
"""


def hand() -> Topology:
    return loads(HAND, "hand.yaml")


def lab(name: str) -> Topology:
    return load(TOPOLOGIES / name)


def check_translation(topology: Topology, config: dict) -> None:
    """What every translation must keep: dpids, PortPlan's numbers, each NIC's VLANs, stack ports both ways, one root."""
    plan = PortPlan(topology)
    nics = {nic.id: nic for nic in topology.nics()}
    vids = {name: vlan["vid"] for name, vlan in config["vlans"].items()}
    untagged = vids.get(faucet_peer.UNTAGGED_VLAN)
    ovs = [name for name, bridge in topology.bridges.items() if bridge.is_ovs and plan[name]]
    assert sorted(config["dps"]) == sorted(ovs)
    used = set()
    for name in ovs:
        dp = config["dps"][name]
        assert dp["dp_id"] == topology.bridges[name].dpid
        assert dp["hardware"] == "Open vSwitch"
        assert sorted(dp["interfaces"]) == sorted(plan[name])
        for number, port in dp["interfaces"].items():
            binding = plan.binding(name, number)
            if binding.kind == "nic":
                nic = nics[binding.id]
                native = untagged if nic.segment == UNTAGGED else nic.segment
                assert vids[port["native_vlan"]] == native
                assert sorted(vids[v] for v in port.get("tagged_vlans", [])) == sorted(nic.trunks)
                assert "stack" not in port
                used |= set(nic.segments)
            else:
                other, other_port = port["stack"]["dp"], port["stack"]["port"]
                assert other_port == plan.port(other, binding)
                assert config["dps"][other]["interfaces"][other_port]["stack"] == {"dp": name, "port": number}
                assert not {"native_vlan", "tagged_vlans", "max_hosts", "acls_in"} & set(port)
                assert "lldp_beacon" in dp
    wanted = sorted(untagged if s == UNTAGGED else s for s in used)
    assert sorted(vids.values()) == wanted  # every VLAN a NIC uses, and no other
    roots = [name for name, dp in config["dps"].items() if "stack" in dp]
    assert len(roots) == (1 if topology.links else 0)
    assert all(config["dps"][r]["stack"] == {"priority": 1} for r in roots)


@pytest.mark.parametrize("name", ["triangle.yaml", "two-nodes.yaml", "one-bridge.yaml", "leaf-spine.yaml", "cluster.yaml", "real-lab.yaml"])
def test_a_bundled_lab_translates_with_sdnlabs_port_numbers(name):
    topology = lab(name)
    check_translation(topology, faucet_config(topology))


def test_the_triangle_is_one_stack_with_both_vlans_on_access_ports():
    topology = lab("triangle.yaml")
    config = faucet_config(topology)
    assert config["vlans"] == {"vlan10": {"vid": 10, "description": "app", "max_hosts": 0},
                               "vlan20": {"vid": 20, "description": "mgmt", "max_hosts": 0}}
    br1 = config["dps"]["br1"]
    assert br1["stack"] == {"priority": 1}  # three bridges of two links each: the first in the file
    assert br1["interfaces"][1]["native_vlan"] == "vlan10"  # h1.0 sorts before x1.0
    assert br1["interfaces"][2]["native_vlan"] == "vlan20"
    assert br1["interfaces"][3]["stack"] == {"dp": "br2", "port": 2}  # l12: br1's first link, br2's first
    assert br1["interfaces"][4]["stack"] == {"dp": "br3", "port": 4}  # l31: br3's second link, after its two NICs
    assert br1["lldp_beacon"] == {"send_interval": 5, "max_per_interval": 5}


def test_two_nodes_leaves_its_unlinked_linux_bridge_out():
    topology = lab("two-nodes.yaml")
    config = faucet_config(topology)
    assert sorted(config["dps"]) == ["vmbr0", "vmbr1"]
    assert "untagged" not in config["vlans"]  # probe's untagged NIC is on lab0, which Faucet does not drive
    assert config["dps"]["vmbr0"]["stack"] == {"priority": 1}
    assert config["dps"]["vmbr0"]["interfaces"][2]["stack"] == {"dp": "vmbr1", "port": 3}


def test_a_trunk_nic_is_native_plus_tagged_and_untagged_is_a_free_vlan():
    topology = hand()
    config = faucet_config(topology)
    check_translation(topology, config)
    assert config["vlans"]["untagged"]["vid"] == 4094
    sw1, sw2 = config["dps"]["sw1"]["interfaces"], config["dps"]["sw2"]["interfaces"]
    assert sw1[1] | {"acls_in": None} == {"description": "NIC fw.0", "native_vlan": "vlan10", "tagged_vlans": ["vlan20"],
                                          "max_hosts": 512, "acls_in": None}
    assert sw1[2]["native_vlan"] == "untagged" and sw1[2]["tagged_vlans"] == ["vlan10", "vlan20"]
    assert sw1[2]["max_hosts"] == 3 * 256  # sdnlab's budget is per (port, VLAN); Faucet's per port
    assert sw1[3]["stack"] == {"dp": "sw2", "port": 4}
    assert sw2[4]["stack"] == {"dp": "sw1", "port": 3}
    assert sw2[2]["native_vlan"] == "untagged"  # lan
    assert "acls_in" not in sw2[1]  # db has port_security: false


def test_the_untagged_vlan_takes_the_highest_vid_the_lab_leaves_free():
    topology = loads(HAND.replace("20: {name: db}", "4094: {name: db}").replace("20]", "4094]").replace("tag: 20", "tag: 4094"))
    config = faucet_config(topology)
    assert config["vlans"]["untagged"]["vid"] == 4093
    assert config["vlans"]["vlan4094"]["vid"] == 4094


def test_the_guard_acl_is_sdnlabs_source_guard():
    topology = hand()
    fw = next(nic for nic in topology.nics() if nic.endpoint == "fw")
    config = faucet_config(topology)
    assert config["dps"]["sw1"]["interfaces"][1]["acls_in"] == ["guard-fw.0"]
    arp = {"eth_type": 0x0806, "eth_src": fw.mac, "arp_sha": fw.mac}
    assert [r["rule"] for r in config["acls"]["guard-fw.0"]] == [
        {**arp, "arp_spa": "10.0.10.1", "actions": {"allow": 1}},
        {**arp, "arp_spa": "0.0.0.0", "actions": {"allow": 1}},
        {**arp, "vlan_vid": 20, "actions": {"allow": 1}},  # ARP in a trunk VLAN: held to the MAC only
        {"eth_type": 0x0806, "actions": {"allow": 0}},
        {"eth_src": fw.mac, "actions": {"allow": 1}},
    ]
    assert "guard-db.0" not in config["acls"]
    assert "acls" not in faucet_config(topology, port_security=False)


def test_the_labs_controller_settings_become_faucets():
    topology = loads(HAND + "controller: {mac_limit: 10, mac_idle_timeout: 20, packet_in_rate: 50}\n")
    dp = faucet_config(topology)["dps"]["sw2"]
    assert (dp["timeout"], dp["use_idle_timeout"], dp["packetin_pps"]) == (20, True, 50)
    assert dp["arp_neighbor_timeout"] == dp["nd_neighbor_timeout"] == 9  # Faucet wants them under half the MAC timeout
    assert dp["interfaces"][1]["max_hosts"] == 10


def test_a_mac_timeout_faucet_cannot_have_is_refused():
    with pytest.raises(UnsupportedLab, match="mac_idle_timeout is 14 s"):
        faucet_config(loads(HAND + "controller: {mac_idle_timeout: 14}\n"))


@pytest.mark.parametrize(("name", "link", "bridge"), [("mixed.yaml", "uplink", "legacy"), ("vlan-aware.yaml", "uplink", "vmbr0"),
                                                      ("classroom.yaml", "kit", "lab")])
def test_a_link_through_a_linux_bridge_is_refused_naming_it(name, link, bridge):
    with pytest.raises(UnsupportedLab, match=f"link {link} .* goes through {bridge}, a Linux bridge"):
        faucet_config(lab(name))


def test_a_link_through_a_linux_bridge_is_refused_in_a_hand_written_lab_too():
    topology = loads(HAND.replace("sw2: {type: ovs}", "sw2: {type: linux, vlan_aware: true}"))
    with pytest.raises(UnsupportedLab, match="link trunk \\(sw1 - sw2\\) goes through sw2, a Linux bridge"):
        faucet_config(topology)


def test_a_vlan_the_lab_keeps_off_a_link_is_a_difference_refused_unless_allowed():
    pruned = loads(HAND.replace("trunks: [10, 20]}\n", "trunks: [10]}\n"))
    assert differences(pruned) == ["VLAN 20 (db): the lab keeps sw1 | sw2 apart (no chain of links that carries it), but Faucet's stack joins them"]
    with pytest.raises(UnsupportedLab, match="VLAN 20 \\(db\\)"):
        faucet_config(pruned)
    check_translation(pruned, faucet_config(pruned, allow_differences=True))
    assert differences(hand()) == []


def test_an_untagged_segment_kept_off_a_link_is_a_difference():
    topology = loads(HAND.replace("trunks: [10, 20]}", "trunks: [10, 20], untagged: false}"))
    assert [d.split(":")[0] for d in differences(topology)] == ["untagged"]


def test_a_vlan_reaching_around_a_pruned_link_is_no_difference():
    # VLAN 20 is on a and c; a-b does not carry it but a-c does: the lab joins them too.
    topology = loads("""\
name: around
vlans: {10: {}, 20: {}}
bridges: {a: {type: ovs}, b: {type: ovs}, c: {type: ovs}}
endpoints:
  x: {type: host, nics: [{bridge: a, tag: 20}]}
  y: {type: host, nics: [{bridge: c, tag: 20}]}
links:
  - {between: [a, b], trunks: [10]}
  - {between: [b, c], trunks: [10]}
  - {between: [a, c], trunks: [20]}
""")
    assert differences(topology) == []


def test_two_separate_stacks_are_refused():
    topology = loads("""\
name: apart
bridges: {a: {type: ovs}, b: {type: ovs}, c: {type: ovs}, d: {type: ovs}}
endpoints:
  x: {type: host, nics: [{bridge: a}]}
  y: {type: host, nics: [{bridge: c}]}
links:
  - {between: [a, b]}
  - {between: [c, d]}
""")
    with pytest.raises(UnsupportedLab, match="2 separately linked groups \\(a, b; c, d\\)"):
        faucet_config(topology)


def test_the_root_is_the_bridge_with_most_links():
    topology = loads("""\
name: star
bridges: {leaf1: {type: ovs}, hub: {type: ovs}, leaf2: {type: ovs}}
endpoints:
  x: {type: host, nics: [{bridge: leaf1}]}
  y: {type: host, nics: [{bridge: leaf2}]}
links:
  - {between: [leaf1, hub]}
  - {between: [hub, leaf2]}
""")
    config = faucet_config(topology)
    check_translation(topology, config)
    assert [name for name, dp in config["dps"].items() if "stack" in dp] == ["hub"]
    assert "interfaces" in config["dps"]["hub"] and all("stack" in p for p in config["dps"]["hub"]["interfaces"].values())


def test_an_ovs_bridge_without_ports_is_no_datapath():
    topology = loads(HAND.replace("sw2: {type: ovs}}", "sw2: {type: ovs}, spare: {type: ovs}}"))
    assert "spare" not in faucet_config(topology)["dps"]


def test_write_config_writes_the_same_dict_as_yaml(tmp_path):
    path = tmp_path / "conf" / "faucet.yaml"
    written = write_config(hand(), path)
    text = path.read_text()
    assert text.startswith("# Faucet config for sdnlab lab 'faucet-peer' (hand.yaml)")
    assert yaml.safe_load(text) == written == faucet_config(hand())


def test_ensure_faucet_does_nothing_when_the_pin_is_installed(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "faucet").write_text("")
    (tmp_path / faucet_peer.MARKER).write_text(FAUCET_VERSION + "\n")
    monkeypatch.setattr(faucet_peer, "_run", lambda *a, **k: pytest.fail("ran a command"))
    assert ensure_faucet(tmp_path) == tmp_path / "bin" / "faucet"


def test_ensure_faucet_makes_the_venv_and_installs_the_pin_once(tmp_path, monkeypatch):
    venv = tmp_path / "venv"
    (venv / faucet_peer.MARKER).parent.mkdir()
    (venv / faucet_peer.MARKER).write_text("1.0.0\n")  # another pin: installed again
    ran = []

    def run(argv, what, env=None):
        ran.append((argv, env))
        if argv[1:3] == ["-m", "venv"]:
            (venv / "bin").mkdir(parents=True)
            (venv / "bin" / "python").write_text("")
        else:
            (venv / "bin" / "faucet").write_text("")

    monkeypatch.setattr(faucet_peer, "_run", run)
    assert ensure_faucet(venv) == venv / "bin" / "faucet"
    assert ran[0] == (["/usr/bin/python3", "-m", "venv", str(venv)], None)
    assert ran[1][0] == [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"faucet=={FAUCET_VERSION}"]
    assert ran[1][1]["DEBINSTALL"] == "1"  # keeps Faucet's setup.py out of /etc/faucet
    assert (venv / faucet_peer.MARKER).read_text() == FAUCET_VERSION + "\n"
    ensure_faucet(venv)
    assert len(ran) == 2


def test_the_command_names_osken_options_through_faucets_ryu_prefix(tmp_path):
    conf = tmp_path / "osken.conf"
    assert faucet_command(6653, conf, tmp_path)[1:] == [f"--ryu-config-file={conf}", "--ryu-ofp-listen-host=127.0.0.1",
                                                        "--ryu-ofp-tcp-listen-port=6653"]


FAKE_FAUCET = """#!/bin/sh
# Stands in for faucet: records how it was started, then waits like a server, with a child of its own.
{{ echo "$@"; env; }} > "{out}.part" && mv "{out}.part" "{out}"
sleep 60 &
exec sleep 60
"""


def group_gone(pgid: int, timeout: float = 5) -> bool:
    """Whether process group `pgid` empties within `timeout` s (an orphan's zombie lasts until its new parent reaps it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_start_faucet_runs_it_in_its_own_group_with_its_settings_and_stop_ends_the_group(tmp_path):
    venv, work = tmp_path / "venv", tmp_path / "work"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "faucet"
    fake.write_text(FAKE_FAUCET.format(out=tmp_path / "started"))
    fake.chmod(0o755)
    proc = start_faucet(tmp_path / "faucet.yaml", 16653, 19302, work, venv)
    try:
        deadline = time.monotonic() + 10
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline, "the stand-in did not start"
            time.sleep(0.05)
        assert os.getpgid(proc.pid) == proc.pid != os.getpgid(0)
    finally:
        status = stop_faucet(proc)
    assert status == -signal.SIGTERM
    assert group_gone(proc.pid), "the stand-in's child outlived it"
    args, *env = (tmp_path / "started").read_text().splitlines()
    env = dict(line.split("=", 1) for line in env if "=" in line)
    assert args == f"--ryu-config-file={work / 'osken.conf'} --ryu-ofp-listen-host=127.0.0.1 --ryu-ofp-tcp-listen-port=16653"
    assert env["FAUCET_CONFIG"] == str((tmp_path / "faucet.yaml").resolve())
    assert (env["FAUCET_PROMETHEUS_PORT"], env["FAUCET_PROMETHEUS_ADDR"]) == ("19302", "127.0.0.1")
    assert env["FAUCET_LOG"] == str(work / "faucet.log") and env["FAUCET_EXCEPTION_LOG"] == str(work / "faucet_exception.log")
    assert env["PATH"].split(os.pathsep)[0] == str(venv / "bin")  # faucet execs osken-manager from PATH: the venv's
    assert "echo_request_interval=3" in (work / "osken.conf").read_text()


def test_stop_faucet_on_a_process_that_already_exited():
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait()
    assert stop_faucet(proc) == 0

