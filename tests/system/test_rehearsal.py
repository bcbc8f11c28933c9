"""Labs across hosts, rehearsed here: `sdnlab up --separate-nodes` builds each node on an
emulated host of its own (a namespace with its own Open vSwitch) through `up --node`, links
between nodes as VXLAN tunnels over an underlay bridge."""

from __future__ import annotations

import itertools
import json
import os
import re
import threading

from controller.pvenames import base_number
from sdnlab import analyse, load
from sdnlab.underlay import VXLAN_PORT
from tests.conftest import TOPOLOGIES
from tests.system.leftovers import machine
from tests.system.test_deploy import sdnlab, tools  # noqa: F401  (tools: a fixture)

TWO = TOPOLOGIES / "across-hosts.yaml"
LOOP = TOPOLOGIES / "across-hosts-loop.yaml"
UNDERLAY_SCENARIO = TOPOLOGIES / "scenarios" / "across-hosts-underlay.yaml"


def answers(lab, a: str, b: str) -> bool:
    topology = load(lab)
    target = topology.endpoints[b].nics[0].ip.ip
    out = sdnlab("exec", str(lab), a, "--", "ping", "-c", "2", "-W", "1", str(target))
    return " 0 received" not in out.stdout and out.returncode == 0


class Underlay:
    """VXLAN packets crossing the underlay port of a node's host, each as its VNI and inner frame."""

    def __init__(self, iface: str):
        import socket

        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((iface, 0))
        self.sock.settimeout(0.1)
        self.packets: list[tuple[int, bytes]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                frame = self.sock.recv(65535)
            except TimeoutError:
                continue
            # Outer Ethernet (14) + IPv4 (IHL) + UDP (8) to port 4789 + VXLAN (8): the inner frame follows.
            if len(frame) < 50 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
                continue
            ihl = (frame[14] & 0x0F) * 4
            udp = 14 + ihl
            if int.from_bytes(frame[udp + 2:udp + 4], "big") != VXLAN_PORT:
                continue
            vni = int.from_bytes(frame[udp + 12:udp + 15], "big")
            self.packets.append((vni, frame[udp + 16:]))

    def close(self) -> list[tuple[int, bytes]]:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()
        return self.packets


def vlan_of(inner: bytes) -> int | None:
    """The 802.1Q VLAN of an inner frame (None: untagged)."""
    return int.from_bytes(inner[14:16], "big") & 0xFFF if inner[12:14] == b"\x81\x00" else None


def test_two_nodes_rehearsed_follow_the_file_across_the_tunnel_and_leave_nothing(tools):  # noqa: F811
    topology = load(TWO)
    analysis = analyse(topology)
    before = machine()
    up = sdnlab("up", str(TWO), "--separate-nodes")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert re.search(r"\[pve1\] link link1 \(lab1-lab2\) created: VXLAN \d+ to node pve2", up.stdout)  # a Linux bridge's
        assert re.search(r"\[pve1\] link link0 \(vmbr0-vmbr1\) created: VXLAN \d+ to node pve2 at 192\.0\.2\.12 \(MTU 1450\)", up.stdout)
        assert "controller listening on 192.0.2.10:6653" in up.stdout
        for a, b in itertools.permutations(sorted(topology.endpoints), 2):
            assert answers(TWO, a, b) == analysis.is_reachable(a, b), (a, b)

        # MTU as Proxmox sets a VXLAN zone's: 1450, so a full frame fits the tunnel and a bigger one is refused at the source.
        fits = sdnlab("exec", str(TWO), "web1", "--", "ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1422", "10.0.10.12")
        too_big = sdnlab("exec", str(TWO), "web1", "--", "ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1423", "10.0.10.12")
        assert fits.returncode == 0, fits.stdout
        assert too_big.returncode != 0 and "mtu=1450" in too_big.stdout + too_big.stderr

        # On the underlay: VLAN 10 crosses (the positive control), VLAN 20 (same subnet) and untagged frames never do.
        sniffer = Underlay(f"sdl{base_number(topology.name)}u0")  # pve1's host port on the underlay bridge
        try:
            for a, target in (("db1", "10.0.10.22"), ("db1", "10.0.10.12"), ("web1", "10.0.10.12")):
                sdnlab("exec", str(TWO), a, "--", "ping", "-c", "3", "-i", "0.2", "-W", "1", target)
        finally:
            packets = sniffer.close()
        link = topology.links[0]
        assert packets and {vni for vni, _ in packets} >= {link.vni}
        packets = [(vni, inner) for vni, inner in packets if vni == link.vni]  # the Linux bridges' tunnel has its own VNI
        # Untagged: only the controller's own LLDP (it asks whether the tunnel is alive); tagged: VLAN 10 alone.
        vlans = {vlan_of(inner) for _, inner in packets if inner[12:14] != b"\x88\xcc"}
        assert vlans == {10}, f"VLANs seen in the tunnel: {vlans}"

        status = sdnlab("status", str(TWO))
        assert status.returncode == 0, status.stdout
        assert "node pve1 (192.0.2.11, host" in status.stdout and "): up; Open vSwitch running; 3 endpoints" in status.stdout
        facts = json.loads(sdnlab("status", str(TWO), "--json").stdout)
        assert facts["ok"] and set(facts["nodes"]) == {"pve1", "pve2"} and all(n["up"] for n in facts["nodes"].values())
    finally:
        down = sdnlab("down", str(TWO))
    assert down.returncode == 0, down.stdout + down.stderr
    assert machine() == before
    assert "nothing to remove" in sdnlab("down", str(TWO)).stdout


def test_three_nodes_in_a_loop_route_around_a_cut_underlay_and_back(tools):  # noqa: F811
    """Every pair is probed at each `expect: intent` (a container, a guest and a namespace per VLAN); cutting
    pve1-pve2 takes no port down (the tunnels stay up): the controller finds it by LLDP's silence."""
    before = machine()
    run = sdnlab("sim", "run", str(UNDERLAY_SCENARIO), "--separate-nodes", "--json", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["agree"] and [e["agree"] for e in result["expectations"]] == [True, True, True]
    # What the cut did, as the probes saw it: VLAN 10 went round over pve3, VLAN 20 lost pve1.
    cut = result["expectations"][1]
    assert ["db1", "db2"] in cut["isolated"] and ["db1", "db3"] in cut["isolated"] and ["db2", "db3"] in cut["reachable"]
    assert ["web1", "web2"] in cut["reachable"] and ["db1", "web1"] in cut["isolated"]
    assert [e["reachable"] for e in result["expectations"]][0] == result["expectations"][2]["reachable"]
    assert "[2/7] node_link_down pve1-pve2" in run.stderr
    assert machine() == before


def test_a_node_that_fails_rolls_the_whole_rehearsal_back(tools):  # noqa: F811
    before = machine()
    out = sdnlab("up", str(LOOP), "--separate-nodes", env={**os.environ, "SDNLAB_QEMU": "/bin/false"}, timeout=600)
    assert out.returncode == 1
    assert "QEMU did not start guest" in out.stdout and "`sdnlab up --node` failed on" in out.stderr
    assert "rolled back" in out.stdout and "Traceback" not in out.stderr
    assert machine() == before


def test_a_node_built_alone_names_what_it_lacks_and_changes_nothing(tools, tmp_path):  # noqa: F811
    """`up --node` on a host: a file whose controller is on loopback cannot serve other hosts, and a node must be in the file."""
    before = machine()
    lab = tmp_path / "lab.yaml"
    lab.write_text(LOOP.read_text().replace("pve1: {}", "pve1: {address: 192.0.2.1}"))
    out = sdnlab("up", str(lab), "--node", "pve1")
    assert out.returncode == 1
    assert "link link0 (vmbr1-vmbr2) crosses from node pve1 to node pve2, but node pve2 has no address: " \
           "give it one under nodes.pve2.address" in out.stderr, out.stderr
    every = tmp_path / "every.yaml"
    every.write_text(LOOP.read_text().replace("pve1: {}", "pve1: {address: 192.0.2.1}").replace("pve2: {}", "pve2: {address: 192.0.2.2}")
                     .replace("pve3: {}", "pve3: {address: 192.0.2.3}"))
    out = sdnlab("up", str(every), "--node", "pve2")
    assert out.returncode == 1 and "controller.host is 127.0.0.1, which the other nodes cannot reach" in out.stderr, out.stderr
    missing = sdnlab("up", str(TWO), "--node", "nosuch")
    assert missing.returncode == 1 and "there is no node 'nosuch'" in missing.stderr
    assert machine() == before


def test_up_node_on_this_host_runs_the_controller_where_the_file_puts_it(tools, tmp_path):  # noqa: F811
    """The node whose host holds controller.host runs the controller there; alone, its own endpoints answer."""
    before = machine()
    lab = tmp_path / "solo.yaml"
    # One node, with the controller on loopback: `--node` then builds that node exactly as `up` would, tunnels none.
    lab.write_text("name: solo-node\nnodes: {n1: {}}\nbridges: {br1: {type: ovs}}\n"
                   "endpoints:\n  a: {type: host, nics: [{bridge: br1, ip: 10.9.0.1/24}]}\n"
                   "  b: {type: host, nics: [{bridge: br1, ip: 10.9.0.2/24}]}\n")
    out = sdnlab("up", str(lab), "--node", "n1")
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        assert "node n1 of lab solo-node is up" in out.stdout and "all 1 reachable pairs answer ping" in out.stdout
        assert sdnlab("exec", str(lab), "a", "--", "ping", "-c", "1", "-W", "1", "10.9.0.2").returncode == 0
        status = sdnlab("status", str(lab), "--node", "n1")
        assert status.returncode == 0 and "lab solo-node node n1" in status.stdout, status.stdout
    finally:
        down = sdnlab("down", str(lab), "--node", "n1")
    assert down.returncode == 0 and "lab solo-node node n1: removed" in down.stdout
    assert machine() == before
