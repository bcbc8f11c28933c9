"""Attacks, tried as an attacker would, on a replayed lab with the real controller.

Frames are sent from inside the lab's hosts (tests/system/inject.py) and
counted by sniffers in the others (tests/system/sniff.py), by a random marker
per attack, so no other traffic can be taken for a leak. Each attack says
what must hold, and where the guard can be switched off in the same lab (a
NIC with `port_security: false`), a control shows the attack works there: the
guard is what stops it.

The rogue OpenFlow peer (tests/system/rogue.py) is a local process that
speaks OpenFlow to the controller claiming to be a switch.
"""

from __future__ import annotations

import re
import secrets
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from controller import lldp
from controller.flows import COOKIE_LEARNED, COOKIE_STATIC
from host.verify import dump_flows
from sdnlab import load
from sim.lab import SimLab
from tests.system.labtools import arp_reply, frame, inject, sniffing, wait_for_log
from tests.system.rogue import RoguePeer, wait_until

pytestmark = pytest.mark.usefixtures("real_ovs")
BROADCAST = "ff:ff:ff:ff:ff:ff"

LAB = """name: attack
vlans: {10: {name: blue}, 20: {name: red}}
bridges:
  vmbr0: {type: ovs}
  vmbr1: {type: ovs}
endpoints:
  v: {type: host, nics: [{bridge: vmbr0, tag: 10, ip: 10.9.0.1/24}]}   # the victim
  s: {type: host, nics: [{bridge: vmbr1, tag: 10, ip: 10.9.0.2/24}]}   # talks to the victim, across the trunk
  x: {type: host, nics: [{bridge: vmbr0, tag: 10, ip: 10.9.0.3/24}]}   # the attacker, behind the guard
  y: {type: host, nics: [{bridge: vmbr0, tag: 10, ip: 10.9.0.4/24, port_security: false}]}   # the control: no guard
  o: {type: host, nics: [{bridge: vmbr1, tag: 20, ip: 10.9.0.5/24}]}   # another VLAN
links:
  - {name: trunk, between: [vmbr0, vmbr1], trunks: [10, 20]}
controller: {mac_limit: 64}
"""


@pytest.fixture
def lab(tmp_path):
    path = tmp_path / "attack.yaml"
    path.write_text(LAB)
    topology = load(path)
    with SimLab(topology, path) as built:
        assert built.ping("v", "s") and built.ping("s", "v")  # both learned, caches warm
        yield built


def mac(lab, host: str) -> str:
    return lab.topology.endpoints[host].nics[0].mac


def marker() -> bytes:
    return b"sdnlab-attack-" + secrets.token_bytes(8)


def rss_kib(pid: int) -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))


def test_a_spoofed_source_mac_steals_nothing(lab):
    v, s = mac(lab, "v"), mac(lab, "s")
    stolen = marker()
    inject(lab, "x", [frame(BROADCAST, v, stolen)], count=20)  # x claims to be v
    probe = marker()
    with sniffing(lab, "x", 3, probe) as at_x, sniffing(lab, "v", 3, probe) as at_v:
        inject(lab, "s", [frame(v, s, probe)], count=20)
    assert at_x.get(s, 0) == 0 and at_v.get(s, 0) == 20, (at_x, at_v)
    # The control, in the same lab: without the guard, the same spoof takes v's traffic.
    inject(lab, "y", [frame(BROADCAST, v, marker())], count=20)
    probe = marker()
    with sniffing(lab, "y", 3, probe) as at_y:
        inject(lab, "s", [frame(v, s, probe)], count=20)
    assert at_y.get(s, 0) > 0, "the control failed: the spoof should have worked without the guard"


def test_gratuitous_arp_for_another_hosts_address_poisons_no_cache(lab):
    v, s, x, y = (mac(lab, h) for h in "vsxy")

    def cached() -> str:
        return lab.hosts["v"].cmd("ip neigh show 10.9.0.2")

    def keep_lying(liar: str, liar_mac: str) -> None:
        # Linux overrides a neighbour only when its last update is older than the locktime (1 s),
        # and every lie counts as an update: lie three times, 1.2 s apart.
        for _ in range(3):
            inject(lab, liar, [arp_reply(liar_mac, "10.9.0.2", v, "10.9.0.1")])  # "10.9.0.2 is at me"
            time.sleep(1.2)

    assert s in cached()
    keep_lying("x", x)
    assert s in cached() and x not in cached(), cached()
    assert lab.ping("v", "s")
    # The control: without the guard, the same lie is believed.
    keep_lying("y", y)
    assert y in cached(), cached()


def test_frames_for_another_vlan_reach_nobody_there(lab):
    v, x = mac(lab, "v"), mac(lab, "x")
    forged = marker()
    attacks = [
        frame(BROADCAST, x, forged, tags=((0x8100, 20),)),  # a forged tag from an access port
        frame(BROADCAST, x, forged, tags=((0x8100, 10), (0x8100, 20))),  # double-tagged: hop into VLAN 20
        frame(BROADCAST, x, forged, tags=((0x88A8, 20),)),  # 802.1ad
        frame(BROADCAST, x, forged, tags=((0x88A8, 10), (0x8100, 20))),
        frame(BROADCAST, x, forged, tags=((0x9100, 20),)),
        frame(o_mac := mac(lab, "o"), x, forged, tags=((0x8100, 20),)),  # unicast to the other VLAN's host
    ]
    control = marker()
    with sniffing(lab, "o", 3, forged) as at_o, sniffing(lab, "v", 3, forged) as at_v, \
            sniffing(lab, "s", 3, control) as at_s, sniffing(lab, "o", 3, control) as at_o_control:
        inject(lab, "x", attacks, count=10)
        inject(lab, "x", [frame(BROADCAST, x, control)], count=10)  # the control: a plain broadcast
    assert at_o == {} and at_v == {}, (at_o, at_v)
    assert at_s.get(x) == 10 and at_o_control == {}, (at_s, at_o_control)  # its own VLAN hears it; VLAN 20 does not
    assert o_mac != v


def test_reserved_group_addresses_are_flooded_nowhere(lab):
    x = mac(lab, "x")
    reserved = marker()
    frames = [frame(f"01:80:c2:00:00:{last:02x}", x, reserved) for last in (0x00, 0x01, 0x02, 0x03, 0x0F)]  # STP, PAUSE, LACP, EAPOL
    control = marker()
    with sniffing(lab, "v", 3, reserved) as at_v, sniffing(lab, "s", 3, reserved) as at_s, sniffing(lab, "v", 3, control) as seen:
        inject(lab, "x", frames, count=5)
        inject(lab, "x", [frame(BROADCAST, x, control)], count=5)
    assert at_v == {} and at_s == {}, (at_v, at_s)
    assert seen.get(x) == 5


def test_a_mac_flood_leaves_bounded_state_and_the_victims_traffic(lab):
    controller = lab.controller.proc.pid
    before = rss_kib(controller)
    flood = [frame(BROADCAST, f"02:66:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}", b"flood")
             for i in range(4000)]
    inject(lab, "x", flood)  # behind the guard: dropped before learning
    inject(lab, "y", flood)  # no guard: learning sees them, up to the port's budget
    learned = [f for f in dump_flows(lab.bridge("vmbr0")) if f.cookie == COOKIE_LEARNED and "eth_src" in f.fields]
    flooders = {f.fields["eth_src"] for f in learned if str(f.fields["eth_src"]).startswith("02:66")}
    assert len(flooders) <= 64, len(flooders)  # controller: {mac_limit: 64}, per port and VLAN
    assert lab.ping("v", "s") and lab.ping("s", "v")
    assert lab.controller.proc.poll() is None
    assert rss_kib(controller) - before < 20_000  # not a byte per forged source: bounded
    assert "reached its limit of 64 learned MACs" in lab.controller_log.read_text()


def test_forged_lldp_is_metered_and_reported_once(lab):
    dpid = lab.topology.bridges["vmbr1"].dpid
    frames = [lldp.build(dpid, 1000 + i) for i in range(300)]  # x claims to be port after port of vmbr1
    inject(lab, "x", frames)
    wait_for_log(lab, "not declared")
    log = lab.controller_log.read_text()
    assert log.count("not declared") == 1, log[-2000:]
    assert lab.controller.proc.poll() is None and lab.ping("v", "s")


def test_without_a_certificate_no_local_process_can_be_a_switch(lab):
    static = {b: {f for f in dump_flows(lab.bridge(b)) if f.cookie == COOKIE_STATIC} for b in ("vmbr0", "vmbr1")}
    dpid = lab.topology.bridges["vmbr1"].dpid
    plain = RoguePeer(lab.port, dpid, [(1, "p1")]).connect()  # plain TCP to a TLS listener
    assert plain.wait_closed(10) and not plain.featured.is_set()
    plain.close()
    forged = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    forged.check_hostname, forged.verify_mode = False, ssl.CERT_NONE  # trusts anything, presents no certificate
    try:  # with TLS 1.3 the client may finish its handshake before the controller rejects it: then it is closed on
        rogue = RoguePeer(lab.port, dpid, [(1, "p1")], tls=forged).connect()
    except (ssl.SSLError, OSError):
        rogue = None
    if rogue is not None:
        assert rogue.wait_closed(10) and not rogue.featured.is_set()  # the controller wants a certificate
        rogue.close()
    assert {b: {f for f in dump_flows(lab.bridge(b)) if f.cookie == COOKIE_STATIC} for b in static} == static
    assert lab.ping("v", "s")


def test_a_second_session_for_a_connected_bridge_is_refused_and_nothing_it_sends_is_acted_on(tmp_path):
    path = tmp_path / "attack.yaml"
    path.write_text(LAB)
    topology = load(path)
    with SimLab(topology, path, tls=False) as lab:  # without TLS the session guard is all there is
        assert lab.ping("v", "s")
        before = {b: set(dump_flows(lab.bridge(b))) for b in ("vmbr0", "vmbr1")}
        bridge = topology.bridges["vmbr1"]
        ports = [(n, f"p{n}") for n in lab.plan["vmbr1"]]
        trunk = next(n for n, b in lab.plan["vmbr1"].items() if b.kind == "link")
        rogue = RoguePeer(lab.port, bridge.dpid, ports).connect()
        assert rogue.featured.wait(10)
        rogue.wait_closed(2)  # refused by now, if the guard holds
        # What the attack tries: the trunk down (would tear down vmbr0's flows too), a packet-in
        # moving v's MAC to the trunk in VLAN 20, a flow-removed for v's learned flow, garbage.
        rogue.port_status(trunk, f"p{trunk}", up=False)
        v = topology.endpoints["v"].nics[0].mac
        rogue.packet_in(trunk, bytes.fromhex("ffffffffffff" + v.replace(":", "") + "81000014" + "0800") + bytes(46))
        rogue.flow_removed(0x5D1A000000000002, 2, 100, {"vlan_vid": 0x100A, "eth_src": v})
        rogue.garbage()
        time.sleep(1)  # what the controller would do with them, it has done by now
        assert lab.ping("v", "s") and lab.ping("s", "v")
        after = {b: set(dump_flows(lab.bridge(b))) for b in before}
        for b in before:
            assert {f for f in after[b] if f.cookie == COOKIE_STATIC} == {f for f in before[b] if f.cookie == COOKIE_STATIC}
            assert {f.key for f in before[b] if f.cookie == COOKIE_LEARNED} <= {f.key for f in after[b]}
        assert lab.controller.proc.poll() is None
        # The real vmbr1 is still the one being programmed: its learned flows, removed by hand, come back.
        subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "del-flows", lab.bridge("vmbr1"), f"cookie={COOKIE_LEARNED:#x}/-1"], check=True)
        assert lab.ping("s", "v")
        assert wait_until(lambda: any(f.cookie == COOKIE_LEARNED for f in dump_flows(lab.bridge("vmbr1"))), 5)
        assert "vmbr1 disconnected" not in lab.controller_log.read_text()
        assert rogue.wait_closed(5) and "refused a second OpenFlow session" in lab.controller_log.read_text()
        rogue.close()
