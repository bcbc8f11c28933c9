"""The pure pieces of host/, sim/ and deploy/: names, the port plan, parsing
command output, and the flows view replayed against the check without a switch."""

from __future__ import annotations

import pytest

from controller.simlab import SimulatedLab
from controller.state import Binding, PortPlan
from deploy import lab as deploy
from host.preflight import Datapath
from host.verify import (
    expected_static,
    flow_reachability,
    missing_static,
    parse_ping,
    parse_trace_outputs,
    probeable_pairs,
    shared_target,
    trace_sample,
)
from sdnlab import analyse, load
from sim import names
from sim.probe import PairResult
from tests.conftest import TOPOLOGIES

BUNDLED = sorted(p.name for p in TOPOLOGIES.glob("*.yaml"))

PING = """PING 10.0.10.12 (10.0.10.12) 56(84) bytes of data.
64 bytes from 10.0.10.12: icmp_seq=1 ttl=64 time=0.512 ms

--- 10.0.10.12 ping statistics ---
3 packets transmitted, 2 received, 33.3333% packet loss, time 402ms
"""
BUSYBOX_PING = "--- 10.7.0.2 ping statistics ---\n1 packets transmitted, 1 packets received, 0% packet loss\n"

TRACE = """Flow: ip,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=0.0.0.0

bridge("s0042b0")
-----------------
 0. in_port=1,vlan_tci=0x0000/0x1fff, priority 100, cookie 0x5d1a000000000001
    push_vlan:0x8100
    set_field:4106->vlan_vid
    goto_table:1
 1. priority 0, cookie 0x5d1a000000000001
    CONTROLLER:65535
    goto_table:2
 2. dl_vlan=10, priority 10, cookie 0x5d1a000000000001
    output:3
    pop_vlan
    output:1
     >> skipping output to input port
    output:2

Final flow: unchanged
"""


def test_parse_ping_reads_both_summaries_and_nothing_from_noise():
    assert parse_ping(PING) == (3, 2)
    assert parse_ping(BUSYBOX_PING) == (1, 1)
    assert parse_ping("connect: Network is unreachable\n") == (0, 0)


def test_trace_outputs_leave_out_the_skipped_input_port():
    assert parse_trace_outputs(TRACE) == {3, 2}
    assert parse_trace_outputs("no such bridge\n") == set()


def test_shared_target_needs_a_subnet_both_ways():
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    web1, web2, probe = (topology.endpoints[n].nics for n in ("web1", "web2", "probe"))
    assert shared_target(web1, web2) == str(web2[0].ip.ip)
    assert shared_target(web1, probe) is None or probe[0].ip.ip in web1[0].ip.network
    pairs = probeable_pairs(topology)
    assert pairs == sorted(pairs) and all(a < b for a, b in pairs)
    assert all(shared_target(topology.endpoints[a].nics, topology.endpoints[b].nics) for a, b in pairs)


def test_trace_sample_spreads_over_the_pairs():
    pairs = [(f"a{i}", f"b{i}") for i in range(10)]
    assert trace_sample(pairs, 4) == [pairs[0], pairs[2], pairs[4], pairs[6]]
    assert trace_sample(pairs[:2], 4) == pairs[:2]
    assert trace_sample([], 4) == []


@pytest.mark.parametrize("name", BUNDLED)
def test_the_flows_view_of_the_cores_tables_agrees_with_the_check(name):
    """The verification the simulator and `status` use, fed the flows the core computed (no switch)."""
    topology = load(TOPOLOGIES / name)
    lab = SimulatedLab(topology)
    dumps = {b: lab.flows(b) for b, br in topology.bridges.items() if br.is_ovs}
    pairs = [(a, b) for i, a in enumerate(sorted(topology.endpoints)) for b in sorted(topology.endpoints)[i + 1:]]
    analysis = analyse(topology)
    got = flow_reachability(topology, lab.plan, dumps, pairs)
    assert got == {p: analysis.is_reachable(*p) for p in pairs}
    assert set(missing_static(expected_static(topology, lab.plan), dumps).values()) <= {0}


def test_the_flows_view_follows_cut_links_and_down_nics():
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    lab = SimulatedLab(topology)
    dumps = {b: lab.flows(b) for b, br in topology.bridges.items() if br.is_ovs}
    plan = PortPlan(topology)
    assert flow_reachability(topology, plan, dumps, [("web1", "web2")]) == {("web1", "web2"): True}
    trunk = topology.links[0].id
    assert flow_reachability(topology, plan, dumps, [("web1", "web2")], down_links={trunk}) == {("web1", "web2"): False}
    web2 = topology.endpoints["web2"].nics[0].id
    assert flow_reachability(topology, plan, dumps, [("web1", "web2")], down_nics={web2}) == {("web1", "web2"): False}
    # A missing static flow is counted where it is missing.
    expected = expected_static(topology, plan)
    bridge = sorted(expected)[0]
    assert missing_static(expected, {**dumps, bridge: dumps[bridge][1:]})[bridge] == 1


def test_port_plan_numbers_nics_first_then_link_ends_and_answers_both_ways():
    topology = load(TOPOLOGIES / "triangle.yaml")
    plan = PortPlan(topology)
    for bridge in topology.bridges:
        kinds = [plan[bridge][n].kind for n in sorted(plan[bridge])]
        assert sorted(plan[bridge]) == list(range(1, len(kinds) + 1))
        assert kinds == sorted(kinds, key=lambda k: k != "nic")  # NICs, then links
    for nic in topology.nics():
        bridge, number = plan.nic_port(nic.id)
        assert bridge == nic.bridge and plan.nic_at(bridge, number) == nic.id
        assert plan.port(bridge, Binding("nic", nic.id)) == number
    for link in topology.links:
        ends = plan.link_ends(link)
        assert [b for b, _ in ends] == list(link.between)
        assert all(plan.binding(b, n) == Binding("link", link.id) and plan.nic_at(b, n) is None for b, n in ends)
    bridge = sorted(topology.bridges)[0]
    view = plan.view(bridge, down={1})
    assert view.dpid == topology.bridges[bridge].dpid and not view.ports[1].up and all(p.up for n, p in view.ports.items() if n != 1)


def test_sim_names_fit_and_are_recognised_as_a_labs_only():
    tag = names.run_tag()
    assert len(tag) == 5 and tag[0] == "s" and tag[1:].isdigit()
    port = names.port_name(tag, 12, 99)
    assert len(port) <= 15 and names.is_lab_interface(port, tag) and names.is_lab_interface(port)
    assert names.is_lab_interface(names.bridge_name(tag, 3), tag)
    assert names.is_lab_interface(names.trunk_bridge_name(tag, 3), tag) and names.is_lab_interface(names.trunk_port_name(tag, 99, 99), tag)
    assert len(names.trunk_port_name(tag, 99, 4095)) <= 15
    other = "s9999" if tag != "s9999" else "s9998"
    assert not names.is_lab_interface(names.port_name(other, 1, 1), tag)
    for foreign in ("vmbr0", "sdl1234l0a", "eth0", "s12b1", "tap100i0"):
        assert not names.is_lab_interface(foreign)


def test_deployed_names_are_proxmox_style_and_fit_in_15_bytes():
    topology = load(TOPOLOGIES / "real-lab.yaml")
    lab_names = deploy.Names(topology)
    assert 100 <= lab_names.base <= 9090
    for endpoint in topology.endpoints.values():
        for nic in endpoint.nics:
            name = lab_names.nic(endpoint, nic.index)
            assert len(name) <= 15 and name.startswith("tap" if endpoint.type == "kvm" else "veth") and name.endswith(f"i{nic.index}")
            assert len(lab_names.peer(endpoint, nic.index)) <= 15
    assert len({lab_names.nic(e, n.index) for e in topology.endpoints.values() for n in e.nics}) == len(list(topology.nics()))
    assert deploy.base_number("real-lab") == lab_names.base and deploy.base_number("x") != deploy.base_number("y")


def test_state_is_written_through_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(deploy, "STATE_ROOT", tmp_path)
    state = deploy.State("lab1", "/x/lab1.yaml")
    state.add(kind="ovs-bridge", name="vmbr0")
    state.add(kind="endpoint", type="lxc", name="sdnlab-lab1-ct1")
    again = deploy.State.load("lab1")
    assert again == state and again.objects[1]["type"] == "lxc"
    assert deploy.State.load("nothing").objects == []


def test_every_endpoint_type_of_the_format_has_a_driver():
    from deploy.drivers import DRIVERS
    from sdnlab.model import ENDPOINT_TYPES

    assert set(DRIVERS) == set(ENDPOINT_TYPES)
    assert {d.kind for d in DRIVERS.values()} == set(DRIVERS) and all(d.noun for d in DRIVERS.values())
    assert DRIVERS["kvm"].booting and DRIVERS["lxc"].booting and not DRIVERS["host"].booting and deploy.up_port_name("kvm", 7, 1) == "tap7i1"


def test_small_values():
    assert str(Datapath(kernel=False)).startswith("userspace") and Datapath(kernel=False).ovs_type == "netdev"
    assert str(Datapath(kernel=True)) == "kernel" and Datapath(kernel=True).ovs_type == "system"
    assert PairResult(True, False).asymmetric and not PairResult(True, False).reachable and PairResult(True, True).reachable


def test_a_forked_child_that_gets_sigterm_ends_instead_of_running_the_parents_rollback():
    """pyroute2 forks for namespace work and SIGTERMs the child; the child must not raise into `up`'s code."""
    import os
    import signal

    from host.signals import interrupts_raise

    with interrupts_raise():
        pid = os.fork()
        if pid == 0:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                os._exit(0)  # not reached: the handler ends the child
            except KeyboardInterrupt:
                os._exit(99)  # what a rollback in the child would start from
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 128 + signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):  # in the process that owns the block, it still interrupts
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_state_file_cannot_steer_down_outside_its_lab(tmp_path, monkeypatch):
    """`down` removes what state.json lists, so the file must name the lab asked for, in the labs folder."""
    import json

    monkeypatch.setattr(deploy, "STATE_ROOT", tmp_path)
    (tmp_path / "lab1").mkdir()
    (tmp_path / "lab1" / "state.json").write_text(json.dumps({"lab": "../../etc", "objects": [{"kind": "link", "name": "eth0"}]}))
    with pytest.raises(deploy.DeployError, match="names lab '../../etc'"):
        deploy.State.load("lab1")
    for bad in ("../x", "a/b", "", "UPPER"):
        with pytest.raises(deploy.DeployError, match="not a lab or node name"):
            deploy.State.load(bad)
        with pytest.raises(deploy.DeployError, match="not a lab or node name"):
            deploy.State.load("lab1", bad or "..")
    # A node's part has its own directory, and its file must name that node too.
    (tmp_path / "lab1@n2").mkdir()
    (tmp_path / "lab1@n2" / "state.json").write_text(json.dumps({"lab": "lab1", "node": "n1", "objects": []}))
    with pytest.raises(deploy.DeployError, match=r"names lab 'lab1' \(node n1\), not 'lab1' \(node n2\)"):
        deploy.State.load("lab1", "n2")
    assert deploy.State("lab1", node="n1").directory == tmp_path / "lab1@n1"
    state = deploy.State("lab2", "/x.yaml")
    state.save()
    assert (tmp_path / "lab2").stat().st_mode & 0o777 == 0o700 and (tmp_path / "lab2" / "state.json").stat().st_mode & 0o077 == 0


def test_a_recorded_pid_is_signalled_only_while_it_is_the_same_controller():
    import os

    from host.control import process_start, running_controller

    me = os.getpid()
    assert process_start(me) == process_start(me) and process_start(me) is not None
    assert not running_controller(me, "/nowhere.yaml")  # alive, but not an sdnlab controller for that file
    assert not running_controller(2**22 + 7, "/x.yaml")  # no such process
    assert process_start(2**22 + 7) is None



def _reporter(script: str):
    """A child that runs `script` (Python, with `fd` the report pipe), as `sdnlab controller --ready-fd` would write."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", f"import os, sys, time; fd = {write_end}; {script}"], pass_fds=(write_end,))
    os.close(write_end)
    return read_end, proc


@pytest.mark.parametrize(("script", "port", "why"), [
    ("os.write(fd, b'40123\\n'); time.sleep(0.2)", 40123, None),
    ("os.write(fd, b'40'); time.sleep(0.1); os.write(fd, b'124\\n')", 40124, None),  # a report split over two writes
    ("sys.exit(3)", None, "the controller exited at start (status 3)"),
    ("os.write(fd, b'hello\\n')", None, "the controller reported b'hello', not a port"),
    ("os.write(fd, b'0\\n')", None, "the controller reported b'0', not a port"),
])
def test_the_port_comes_from_the_controllers_own_report(script, port, why):
    import os

    from host.control import read_port

    fd, proc = _reporter(script)
    try:
        assert read_port(fd, proc, timeout=5) == (port, why)
    finally:
        os.close(fd)
        proc.wait()


def test_a_controller_that_never_reports_is_not_waited_for_forever():
    import os

    from host.control import read_port

    fd, proc = _reporter("time.sleep(5)")
    try:
        port, why = read_port(fd, proc, timeout=0.3)
        assert port is None and why == "the controller did not report listening within 0 s"
    finally:
        proc.kill()
        proc.wait()
        os.close(fd)


@pytest.mark.parametrize(("subuid", "subgid", "first"), [
    ("root:100000:65536\n", "root:100000:65536\n", 100000),
    ("alice:100000:65536\n0:200000:70000\n", "root:200000:65536\n", 200000),
])
def test_containers_map_to_the_range_root_is_granted(tmp_path, monkeypatch, subuid, subgid, first):
    from host import preflight

    (tmp_path / "subuid").write_text(subuid)
    (tmp_path / "subgid").write_text(subgid)
    monkeypatch.setattr(preflight, "SUBUID", tmp_path / "subuid")
    monkeypatch.setattr(preflight, "SUBGID", tmp_path / "subgid")
    assert preflight.container_ids() == first


@pytest.mark.parametrize(("subuid", "subgid", "said"), [
    ("", "", "add the line root:100000:65536 to both"),
    ("root:100000:1000\n", "root:100000:65536\n", "add the line root:100000:65536"),  # too small for a whole id space
    ("alice:100000:65536\n", "root:100000:65536\n", "add the line"),
    ("root:100000:65536\n", "root:300000:65536\n", "they differ now: uids from 100000, gids from 300000"),
])
def test_without_a_range_for_root_the_host_is_told_how_to_grant_one(tmp_path, monkeypatch, subuid, subgid, said):
    from host import preflight

    (tmp_path / "subuid").write_text(subuid)
    (tmp_path / "subgid").write_text(subgid)
    monkeypatch.setattr(preflight, "SUBUID", tmp_path / "subuid")
    monkeypatch.setattr(preflight, "SUBGID", tmp_path / "subgid")
    with pytest.raises(preflight.HostError, match="unprivileged") as err:
        preflight.container_ids()
    assert said in str(err.value)


def test_a_container_is_unprivileged_and_configures_itself_without_dhcp():
    from deploy import lxc

    assert lxc.base_config(100000).splitlines() == [
        "lxc.include = /usr/share/lxc/config/common.conf",
        "lxc.include = /usr/share/lxc/config/userns.conf",
        "lxc.idmap = u 0 100000 65536",
        "lxc.idmap = g 0 100000 65536",
    ]
    lines = lxc.nic_config([("vethA", "eth0", "52:54:00:00:00:01"), ("vethB", "eth1", "52:54:00:00:00:02")])
    assert lines[0].split(" = ")[1].split() == ["sys_admin", "mknod", "sys_rawio", "sys_boot", "sys_ptrace", "sys_module", "sys_time",
                                               "mac_admin", "mac_override"]
    assert "lxc.net.1.link = vethB" in lines and "lxc.net.1.name = eth1" in lines and "lxc.net.0.hwaddr = 52:54:00:00:00:01" in lines
    script = lxc.init_script([("10.0.0.1/24", "eth0"), ("10.0.2.1/24", "eth2")]).splitlines()
    assert script == ["#!/bin/sh", "/bin/mount -a", "ip link set lo up", "ip addr add 10.0.0.1/24 dev eth0",
                      "ip addr add 10.0.2.1/24 dev eth2", "echo ready > /sdnlab-ready"]
    assert not any("udhcpc" in line for line in script)  # its first act flushes eth0: the old race


def test_host_side_names_follow_the_vmid_as_proxmox_names_them_and_others_never_take_one():
    from sdnlab.loader import loads

    topology = loads("""
name: ids
bridges: {br: {type: ovs}}
endpoints:
  a: {type: kvm, vmid: 101, nics: [{bridge: br}, {bridge: br}]}
  b: {type: lxc, vmid: 5001, nics: [{bridge: br}]}
  c: {type: lxc, nics: [{bridge: br}]}
  d: {type: kvm, nics: [{bridge: br}]}
""")
    assert deploy.endpoint_ids(topology, 5000) == {"a": 101, "b": 5001, "c": 5000, "d": 5002}
    names = deploy.Names(topology)
    a, b = topology.endpoints["a"], topology.endpoints["b"]
    assert [names.nic(a, 0), names.nic(a, 1), names.nic(b, 0)] == ["tap101i0", "tap101i1", "veth5001i0"]


def test_a_trunk_nic_on_a_container_gets_a_tagging_bridge_and_one_interface_per_vlan_a_guest_makes_its_own():
    from host.standin import PortVlan, tagging_ports
    from sdnlab.loader import loads

    topology = loads("""
name: tr
vlans: {10: {}, 20: {}}
bridges: {br: {type: ovs}}
endpoints:
  ct: {type: lxc, vmid: 200, nics: [{bridge: br, trunks: [10, 20], ip: 10.0.0.1/24}]}
  vm: {type: kvm, vmid: 100, nics: [{bridge: br, tag: 10, trunks: [20]}]}
  ns: {type: host, nics: [{bridge: br, tag: 20, ip: 10.0.20.1/24}]}
""")
    lab = deploy.Lab(topology, deploy.State("tr"))
    assert lab.tagged == {"ct.0": 0}  # the guest's kernel makes its VLAN interfaces; a plain NIC needs nothing
    ct, vm, ns = (topology.endpoints[n] for n in ("ct", "vm", "ns"))
    base = lab.names.base
    assert lab.inside(ct, ct.nics[0]) == [(f"sdl{base}t0i2", "eth0", "10.0.0.1/24"), (f"sdl{base}t0i3", "eth0.10", None),
                                           (f"sdl{base}t0i4", "eth0.20", None)]
    assert lab.inside(ns, ns.nics[0]) == [(lab.names.peer(ns, 0), "eth0", "10.0.20.1/24")]
    assert len(lab.names.tagging_port(99, 99, "o")) <= 15
    assert tagging_ports(topology, ct.nics[0]) == [(None, PortVlan("native-untagged", 1, (1, 10, 20))), ("eth0", PortVlan("access", 1)),
                                                   ("eth0.10", PortVlan("access", 10)), ("eth0.20", PortVlan("access", 20))]
    assert tagging_ports(topology, vm.nics[0])[0] == (None, PortVlan("native-untagged", 10, (10, 20)))
