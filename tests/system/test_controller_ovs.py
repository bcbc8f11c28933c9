"""The controller on real OVS (userspace datapath) with Mininet hosts."""

from __future__ import annotations

import subprocess
import time

import pytest

from controller.flows import COOKIE_STATIC
from controller.state import Binding
from host.verify import parse_ping, probeable_pairs
from sdnlab import analyse, load
from sim.lab import SimLab
from sim.probe import probe
from tests.conftest import TOPOLOGIES
from tests.system.labtools import answers, counter, iter_until, relaxed, sniffing, wait_for_log

pytestmark = pytest.mark.usefixtures("real_ovs")


def assert_probes_match_the_check(lab, topology) -> None:
    """Every pair sharing a subnet, pinged both ways in parallel, answers exactly when the check says so."""
    analysis = analyse(topology)
    pairs = probeable_pairs(topology)
    results = probe(lab.hosts, topology, pairs)
    wrong = [(a, b) for a, b in pairs if results[(a, b)].reachable != analysis.is_reachable(a, b)]
    assert not wrong, wrong


def test_same_vlan_pings_cross_vlan_does_not(tmp_path):
    # b1 and b2 may use other addresses (no port security), so that only the VLANs keep them from a1.
    work = relaxed(TOPOLOGIES / "one-bridge.yaml", ["b1", "b2"], tmp_path)
    topology = load(work)
    with SimLab(topology, work) as lab:
        assert lab.ping("a1", "a2") and lab.ping("b1", "b2")
        # The control: b1 reaches b2 on a new address; the test: a1, in that subnet but another VLAN, does not.
        lab.hosts["b1"].cmd("ip addr add 10.1.0.9/24 dev eth0")
        lab.hosts["b2"].cmd("ip addr add 10.1.0.10/24 dev eth0")
        assert answers(lab, "b1", "10.1.0.10")
        assert not answers(lab, "b1", "10.1.0.1")


def test_two_nodes_over_a_trunk(tmp_path):
    work = relaxed(TOPOLOGIES / "two-nodes.yaml", ["db1"], tmp_path)
    topology = load(work)
    with SimLab(topology, work) as lab:
        assert lab.ping("web1", "web2")
        assert lab.ping("web2", "web1")
        lab.hosts["db1"].cmd("ip addr add 10.0.10.99/24 dev eth0")
        db1, web2 = (topology.endpoints[name].nics[0].mac for name in ("db1", "web2"))
        sent = counter(lab, "db1", "tx_packets")
        with sniffing(lab, "web1", 4) as seen:
            assert not lab.ping("db1", "web1")
            assert lab.ping("web2", "web1")  # the control: the same sniffer sees a sender of web1's own VLAN
        # db1 did send (its ARP requests left its NIC), and not one of its frames reached web1.
        assert counter(lab, "db1", "tx_packets") > sent
        assert seen.get(web2, 0) > 0 and seen.get(db1, 0) == 0, seen


def test_loop_works_and_a_cut_recovers():
    topology = load(TOPOLOGIES / "triangle.yaml")
    with SimLab(topology) as lab:
        assert_probes_match_the_check(lab, topology)
        # No storm: a broadcast-heavy ping of the broadcast address leaves the switches sane.
        lab.hosts["h1"].cmd("ping -b -c 3 -i 0.2 -W 1 10.10.0.255")
        for cut in ("l12", "l31"):
            lab.set_link(cut, up=False)
            started = time.monotonic()
            # How fast is measured by bench/recovery_bench.py; here, that it recovers at all.
            while not (lab.ping("h1", "h2", timeout=0.3) and lab.ping("h1", "h3", timeout=0.3)):
                assert time.monotonic() - started < 10, f"no recovery after cutting {cut}"
            lab.set_link(cut, up=True)
        assert lab.ping("x1", "x3")


def test_restart_under_continuous_ping_loses_nothing():
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    with SimLab(topology) as lab:
        assert lab.ping("web1", "web2")
        pinger = lab.hosts["web1"].popen("ping -i 0.02 -c 250 -W 1 10.0.10.12", stdout=subprocess.PIPE, text=True)
        first = "".join(iter_until(pinger.stdout, "bytes from"))  # the ping is flowing before the restart
        lab.restart_controller()
        lab.wait_for_flows(10)
        rest, _ = pinger.communicate(timeout=30)
        out = first + rest
        sent, received = parse_ping(out)
        print(out.splitlines()[-2:])
        assert sent == 250 and received == sent, out[-300:]
        log = lab.controller_log.read_text()
        assert "already installed; sending only the difference" in log


def test_ports_added_by_hand_are_bound_live_and_unbound_ones_carry_nothing():
    topology = load(TOPOLOGIES / "one-bridge.yaml")
    with SimLab(topology) as lab:
        bridge = lab.bridge("vmbr0")
        a1_ip = "10.1.0.1"
        rogue = f"{lab.tag}x0"
        probe = lab.net.addHost("rogue", ip=None)
        try:
            subprocess.run(["ip", "link", "add", rogue, "type", "veth", "peer", "name", "eth9", "netns", str(probe.pid)], check=True)
            # The re-plugged NIC keeps a2's MAC and address (the source guard allows nothing else on a2's port).
            a2 = topology.endpoints["a2"].nics[0]
            probe.cmd(f"ip link set eth9 address {a2.mac} && ip link set eth9 up && ip addr add {a2.ip} dev eth9")
            subprocess.run(["ip", "link", "set", rogue, "up"], check=True)
            subprocess.run(["ovs-vsctl", "add-port", bridge, rogue], check=True)
            wait_for_log(lab, f"({rogue}) carries nothing: no sdnlab binding")
            assert "0 received" in probe.cmd(f"ping -c 2 -W 1 {a1_ip}")  # unbound: carries nothing
            # Bind it by hand as a second tenant-a NIC of a2 would be: a NIC id the file knows on this bridge.
            subprocess.run(["ovs-vsctl", "set", "Interface", rogue, "external_ids:sdnlab-nic=a2.0"], check=True)
            subprocess.run(["ip", "link", "set", lab.port_intf("vmbr0", lab_port(lab, "vmbr0", "a2.0")), "down"], check=True)
            deadline = time.monotonic() + 5
            while " 0 received" in probe.cmd(f"ping -c 1 -W 1 {a1_ip}"):
                assert time.monotonic() < deadline, "hand-bound port never carried traffic"
        finally:
            subprocess.run(["ip", "link", "del", rogue], capture_output=True)
            probe.terminate()
        log = lab.controller_log.read_text()
        assert "carries nothing: no sdnlab binding" in log and "is NIC a2.0" in log


def test_lldp_confirms_declared_links():
    topology = load(TOPOLOGIES / "triangle.yaml")
    with SimLab(topology) as lab:
        wait_for_log(lab, "confirmed by LLDP", count=3)
        assert "not declared" not in lab.controller_log.read_text()


def lab_port(lab, bridge: str, nic_id: str) -> int:
    return lab.plan.port(bridge, Binding("nic", nic_id))


def test_real_flow_dumps_replayed_in_the_simulator_match_the_intent():
    from controller.oftable import Fabric, FlowTables, Frame

    topology = load(TOPOLOGIES / "leaf-spine.yaml")
    with SimLab(topology) as lab:
        assert_probes_match_the_check(lab, topology)
        fabric = Fabric()
        for bridge in topology.bridges:
            fabric.tables[bridge] = FlowTables(lab.dump(bridge))
        learned = sum(1 for b in topology.bridges for f in fabric.tables[b].flows.values() if f.idle_timeout)
        assert learned > 0  # the dumps include what the controller learned from the pings
        for link in topology.links:
            fabric.wire(*lab.plan.link_ends(link))
        analysis = analyse(topology)
        for nic in topology.nics():
            bridge, port = lab.plan.nic_port(nic.id)
            got = {lab.plan.nic_at(b, p) for b, p, _ in fabric.send(bridge, port, Frame(nic.mac, "ff:ff:ff:ff:ff:ff"))}
            want = {n.id for cls in analysis.classes if nic in cls.nics for n in cls.nics} - {nic.id}
            assert got == want, nic.id


def test_packet_in_storm_is_metered_and_the_lab_keeps_working(tmp_path):
    # b1 without port security, so that its random sources reach learning (with it, the guard drops them first).
    work = relaxed(TOPOLOGIES / "one-bridge.yaml", ["b1"], tmp_path)
    topology = load(work)
    with SimLab(topology, work) as lab:
        assert lab.ping("a1", "a2")
        storm = (
            "import os, socket\n"
            "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('eth0', 0))\n"
            "for i in range(20000):\n"
            "    s.send(b'\\xff' * 6 + bytes([2]) + os.urandom(5) + b'\\x08\\x00' + b'\\x00' * 46)\n"
        )
        lab.hosts["b1"].cmd(f"python3 -c \"{storm}\"")
        assert lab.ping("a1", "a2") and lab.ping("b2", "b1")
        rows = subprocess.run(["ovs-vsctl", "get", "Controller", subprocess.run(
            ["ovs-vsctl", "get", "Bridge", lab.bridge("vmbr0"), "controller"], capture_output=True, text=True).stdout.strip(" []\n"),
            "controller_rate_limit"], capture_output=True, text=True).stdout.strip()
        assert rows == str(topology.controller.packet_in_rate)
        log = lab.controller_log.read_text()
        assert "reached its limit of 256 learned MACs" in log
        assert "Traceback" not in log


def test_sighup_with_an_invalid_file_keeps_the_running_topology(tmp_path):
    work = tmp_path / "one-bridge.yaml"
    work.write_text((TOPOLOGIES / "one-bridge.yaml").read_text())
    topology = load(work)
    with SimLab(topology, work) as lab:
        assert lab.ping("a1", "a2") and not lab.ping("a1", "b1")
        static = {b: {f for f in flows if f.cookie == COOKIE_STATIC} for b, flows in lab.dumps().items()}
        work.write_text(work.read_text().replace("tag: 100", "tag: 999"))  # a VLAN the file does not declare
        lab.controller.reload()
        wait_for_log(lab, "not reloading")
        log = lab.controller_log.read_text()
        assert "VLAN 999 is not declared" in log and "keeping the running topology" in log
        assert lab.controller.proc.poll() is None  # still running
        # Nothing changed: the same static flows, the same answers.
        assert {b: {f for f in flows if f.cookie == COOKIE_STATIC} for b, flows in lab.dumps().items()} == static
        assert lab.ping("a1", "a2") and not lab.ping("a1", "b1")


PROXMOX_NODE = """name: pve-node
vlans: {10: {name: web}, 20: {name: db}}
bridges: {vmbr9: {type: ovs}}
endpoints:
  web1: {type: kvm, vmid: 101, nics: [{bridge: vmbr9, tag: 10, ip: 10.4.0.1/24}]}
  web2: {type: lxc, vmid: 102, nics: [{bridge: vmbr9, tag: 10, ip: 10.4.0.2/24}]}
  db1: {type: kvm, vmid: 103, nics: [{bridge: vmbr9, tag: 20, ip: 10.4.0.3/24}]}
"""


def test_a_bridge_built_as_proxmox_builds_it_is_controlled_with_no_labels_and_the_file_wins_over_its_tags(tmp_path):
    """Ports made exactly as Proxmox makes them (`ovs-vsctl add-port vmbr tap<vmid>i<n> tag=<t>`), nothing labelled:
    the controller binds them by name, logs a tag that disagrees with the file, and enforces the file."""
    from host.control import ControllerProcess

    lab = tmp_path / "pve-node.yaml"
    lab.write_text(PROXMOX_NODE)
    topology = load(lab)
    controller = ControllerProcess(lab, tmp_path / "controller.log")
    ports = {"web1": "tap101i0", "web2": "veth102i0", "db1": "tap103i0"}
    given = {"web1": "tag=10", "web2": "tag=10", "db1": "tag=10"}  # db1's tag is wrong on the node: the file says 20
    try:
        controller.start()
        # The two lines of the README: the node's bridge pointed at the controller, nothing else.
        subprocess.run(["ovs-vsctl", "add-br", "vmbr9", "--", "set", "bridge", "vmbr9", "datapath_type=netdev", "fail_mode=secure",
                        "protocols=OpenFlow13", f"other_config:datapath-id={topology.bridges['vmbr9'].dpid:016x}"], check=True)
        subprocess.run(["ovs-vsctl", "set-controller", "vmbr9", controller.target], check=True)
        for name, port in ports.items():
            nic = topology.endpoints[name].nics[0]
            subprocess.run(["ip", "netns", "add", f"pvet-{name}"], check=True)
            subprocess.run(["ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", f"pvet-{name}"], check=True)
            subprocess.run(["ip", "-n", f"pvet-{name}", "link", "set", "eth0", "address", nic.mac, "up"], check=True)
            subprocess.run(["ip", "-n", f"pvet-{name}", "addr", "add", str(nic.ip), "dev", "eth0"], check=True)
            subprocess.run(["ip", "link", "set", port, "up"], check=True)
            subprocess.run(["ovs-vsctl", "add-port", "vmbr9", port, given[name]], check=True)

        def ping(src: str, dst: str) -> bool:
            out = subprocess.run(["ip", "netns", "exec", f"pvet-{src}", "ping", "-c", "2", "-i", "0.3", "-W", "1",
                                  str(topology.endpoints[dst].nics[0].ip.ip)], capture_output=True, text=True).stdout
            return parse_ping(out)[1] > 0

        deadline = time.monotonic() + 20
        while not ping("web1", "web2"):
            assert time.monotonic() < deadline, controller.log.read_text()[-3000:]
        assert not ping("web1", "db1") and not ping("db1", "web2")  # OVSDB says VLAN 10 for db1; the file's 20 holds
        log = controller.log.read_text()
        assert "port tap103i0: OVSDB tag=10, the file says tag 20; the file wins" in log, log[-3000:]
        assert log.count("the file wins") == 1  # agreeing ports are not reported, and a disagreement once
    finally:
        subprocess.run(["ovs-vsctl", "--if-exists", "del-br", "vmbr9"], capture_output=True)
        for name, port in ports.items():
            subprocess.run(["ip", "link", "del", port], capture_output=True)
            subprocess.run(["ip", "netns", "del", f"pvet-{name}"], capture_output=True)
        controller.stop()
