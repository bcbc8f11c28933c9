"""Issue 11's guards in the controller's core and app, against simulated tables:
the source guard (port_security), per-(port, VLAN) MAC budgets that keep no
state for sources over them, the packet-in VLAN check, LLDP through the meter
with bounded reports, reserved group addresses, and foreign or second tags."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from controller import lldp
from controller.core import Core
from controller.flows import FORWARD, LEARN, VID_NONE, VID_PRESENT
from controller.learning import frame_fields
from controller.oftable import Frame
from controller.simlab import SimulatedLab
from controller.state import Binding, PortPlan
from sdnlab import TopologyError, loads
from tests.unit.conftest import session

BROADCAST = "ff:ff:ff:ff:ff:ff"
ARP = 0x0806

LAB = """name: guards
vlans: {10: {}, 20: {}}
bridges: {br1: {type: ovs}, br2: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br1, tag: 10, ip: 10.0.0.1/24%(a)s}]}
  b: {type: host, nics: [{bridge: br2, tag: 10, ip: 10.0.0.2/24}]}
  c: {type: host, nics: [{bridge: br2, tag: 20, ip: 10.0.0.3/24}]}
  d: {type: host, nics: [{bridge: br2, tag: 20, ip: 10.0.0.4/24}]}
  u: {type: host, nics: [{bridge: br1, ip: 10.0.1.1/24}]}
  v: {type: host, nics: [{bridge: br2, ip: 10.0.1.2/24}]}
links:
  - {name: trunk, between: [br1, br2], trunks: [10, 20]}
controller: {mac_limit: 4}
"""


def lab(a: str = "") -> SimulatedLab:
    """The guards lab; `a` adds keys to NIC a.0 (", port_security: false")."""
    return SimulatedLab(loads(LAB % {"a": a}))


def mac(lab: SimulatedLab, name: str) -> str:
    return lab.topology.endpoints[name].nics[0].mac


def ip(lab: SimulatedLab, name: str) -> str:
    return str(lab.topology.endpoints[name].nics[0].ip.ip)


def trunk(lab: SimulatedLab, bridge: str = "br2") -> int:
    return lab.plan.port(bridge, Binding("link", "trunk"))


# -- the file: port_security ---------------------------------------------------


def test_port_security_is_a_boolean_defaulting_to_true_kept_for_assigned_macs():
    topology = loads(LAB % {"a": ", port_security: false"})
    nics = {n.id: n for n in topology.nics()}
    assert nics["a.0"].port_security is False and nics["a.0"].mac  # its MAC was assigned: the flag survives
    assert all(n.port_security for i, n in nics.items() if i != "a.0")


@pytest.mark.parametrize("value, kind", [("'no'", "text"), ("1", "integer"), ("null", "null")])
def test_port_security_that_is_not_a_boolean_is_an_error_at_its_place(value, kind):
    with pytest.raises(TopologyError) as caught:
        loads(LAB % {"a": f", port_security: {value}"}, "lab.yaml")
    (problem,) = caught.value.problems
    assert problem.path == "endpoints.a.nics[0].port_security" and problem.line == 5
    assert "port_security must be true or false" in problem.message


# -- the source guard ----------------------------------------------------------


def test_a_spoofed_source_mac_from_an_access_port_reaches_nobody():
    sim = lab()
    a, b = mac(sim, "a"), mac(sim, "b")
    assert sim.send("b.0", Frame(b, BROADCAST)) == {"a.0"}  # b is known on br2 and br1
    assert sim.send("a.0", Frame(b, BROADCAST)) == set()  # a claiming b's MAC
    assert sim.send("a.0", Frame(b, a)) == set()
    # Nothing was learned from it: b's traffic still goes to b, not to the spoofer.
    assert sim.send("a.0", Frame(a, b)) == {"b.0"}
    assert sim.core.macs["br1"].entries[(VID_PRESENT | 10, b)].port == trunk(sim, "br1")


def test_gratuitous_arp_for_another_hosts_address_is_dropped():
    sim = lab()
    a = mac(sim, "a")
    garp = Frame(a, BROADCAST, eth_type=ARP, arp_spa=ip(sim, "b"))
    assert sim.send("a.0", garp) == set()
    assert sim.send("a.0", Frame(a, BROADCAST, eth_type=ARP, arp_spa=ip(sim, "a"), arp_sha=mac(sim, "b"))) == set()
    # Its own address, and an ARP probe (RFC 5227: sender 0.0.0.0, which claims nothing), pass.
    assert sim.send("a.0", Frame(a, BROADCAST, eth_type=ARP, arp_spa=ip(sim, "a"))) == {"b.0"}
    assert sim.send("a.0", Frame(a, BROADCAST, eth_type=ARP, arp_spa="0.0.0.0")) == {"b.0"}
    # Other traffic from its own MAC is not ARP's business.
    assert sim.send("a.0", Frame(a, BROADCAST)) == {"b.0"}


def test_port_security_false_lets_other_sources_through():
    sim = lab(", port_security: false")
    a, b = mac(sim, "a"), mac(sim, "b")
    assert sim.send("a.0", Frame("02:00:00:00:99:01", BROADCAST)) == {"b.0"}  # a nested bridge's guest
    assert sim.send("a.0", Frame(a, BROADCAST, eth_type=ARP, arp_spa="10.0.0.99")) == {"b.0"}  # a VRRP address
    assert sim.send("a.0", Frame(b, BROADCAST)) == {"b.0"}  # even another NIC's MAC (still only within its VLAN)
    assert sim.core.macs["br1"].entries[(VID_PRESENT | 10, b)].port == sim.plan.nic_port("a.0")[1]


def test_link_ports_pass_the_guard():
    sim = lab()
    assert sim.inject("br2", trunk(sim), Frame("02:00:00:00:77:01", BROADCAST, vlans=(10,))) == {"b.0"}
    assert sim.inject("br2", trunk(sim), Frame("02:00:00:00:77:01", BROADCAST, eth_type=ARP, arp_spa="10.9.9.9")) == {"v.0"}


# -- MAC budgets per (port, VLAN) ----------------------------------------------


def test_a_vlan_10_flood_on_a_trunk_does_not_stop_vlan_20_learning_behind_it():
    sim = lab()
    port = trunk(sim)
    for i in range(50):
        sim.inject("br2", port, Frame(f"02:00:00:00:10:{i:02x}", BROADCAST, vlans=(10,)))
    host = "02:00:00:00:20:01"  # a VLAN-20 host behind the trunk
    assert sim.inject("br2", port, Frame(host, BROADCAST, vlans=(20,))) == {"c.0", "d.0"}
    table = sim.core.macs["br2"]
    assert table.count(port, VID_PRESENT | 10) == 4 and table.count(port, VID_PRESENT | 20) == 1
    assert table.entries[(VID_PRESENT | 20, host)].port == port
    # Learned, so unicast to it goes to the trunk only, not flooded to d.
    assert sim.send("c.0", Frame(mac(sim, "c"), host)) == set()


def test_ten_thousand_sources_over_the_limit_leave_no_flows_and_no_entries():
    sim = lab(", port_security: false")
    before = {bridge: len(sim.flows(bridge)) for bridge in ("br1", "br2")}
    for i in range(10_000):
        sim.send("a.0", Frame(f"02:00:00:{i >> 16:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}", BROADCAST))
    table = sim.core.macs["br1"]
    assert len(table.entries) == 4 and table.over_limit == 10_000 - 4
    assert len(sim.flows("br1")) == before["br1"] + 2 * 4  # a learn and a forward flow per learned source, nothing else
    assert len(sim.flows("br2")) == before["br2"] + 2 * 4  # br2 learns them behind its trunk, within that port's budget
    assert len(sim.core.macs["br2"].entries) == 4
    # Their frames still come to the controller, which counts them (and meters them: the app).
    sim.send("a.0", Frame("02:00:00:00:ff:ff", BROADCAST))
    assert table.over_limit == 10_000 - 4 + 1 and len(table.entries) == 4


def test_a_restart_with_a_lower_limit_deletes_what_is_over_it():
    sim = lab(", port_security: false")
    for i in range(4):
        sim.send("a.0", Frame(f"02:00:00:00:00:{i:02x}", BROADCAST))
    lower = loads((LAB % {"a": ", port_security: false"}).replace("mac_limit: 4", "mac_limit: 2"))
    fresh = Core(lower)
    mods = fresh.connect(sim.view("br1"), sim.flows("br1"), 0.0).get("br1", [])
    assert len(fresh.macs["br1"].entries) == 2
    deleted = [m.flow for m in mods if m.command == "delete_strict"]
    assert len(deleted) == 4 and {f.table for f in deleted} == {LEARN, FORWARD}


# -- the packet-in VLAN check ----------------------------------------------------


def test_a_packet_in_in_a_vlan_its_port_does_not_carry_is_refused_before_learning():
    sim = lab()
    core, table = sim.core, sim.core.macs["br2"]
    b_port, v_port, port = sim.plan.nic_port("b.0")[1], sim.plan.nic_port("v.0")[1], trunk(sim)
    src = "02:00:00:00:66:01"
    for in_port, vid in [(b_port, VID_PRESENT | 20), (b_port, VID_NONE), (v_port, VID_PRESENT | 10), (port, VID_PRESENT | 30),
                         (99, VID_NONE), (port, None)]:
        assert core.packet_in("br2", in_port, vid, src, 0.0) == [], (in_port, vid)
    assert table.entries == {} and table.refused == 6
    # What each port does carry is learned: its access VLAN, untagged, the trunk's VLANs.
    for in_port, vid in [(b_port, VID_PRESENT | 10), (v_port, VID_NONE), (port, VID_PRESENT | 20)]:
        assert core.packet_in("br2", in_port, vid, src, 0.0), (in_port, vid)
    assert table.refused == 6 and len(table.entries) == 3


def test_untagged_is_refused_on_a_link_that_does_not_carry_it():
    sim = SimulatedLab(loads(LAB.replace("trunks: [10, 20]}", "trunks: [10, 20], untagged: false}") % {"a": ""}))
    assert sim.core.packet_in("br2", trunk(sim), VID_NONE, "02:00:00:00:66:01", 0.0) == []
    assert sim.core.macs["br2"].refused == 1


# -- LLDP: metered, reports bounded ----------------------------------------------


def test_forged_lldp_is_metered_and_its_reports_are_bounded(make_app):
    topology = loads(LAB.replace("controller: {mac_limit: 4}", "controller: {packet_in_rate: 5}") % {"a": ""})
    app = make_app(topology)
    app.core.connect(PortPlan(topology).view("br1"), [], 0.0)
    dpid = topology.bridges["br2"].dpid
    _, port = PortPlan(topology).nic_port("a.0")
    br1 = session(app, "br1")
    for forged in range(1000):  # a guest claiming to be port after port of br2
        data = lldp.build(dpid, 1000 + forged)
        app._packet_in(SimpleNamespace(msg=SimpleNamespace(datapath=br1, match={"in_port": port}, data=data)))
    assert app.limiter.dropped == 1000 - 5
    assert list(app.links.reported) == [("br1", port)] and app.links.unreported == 4  # one line for the port


def test_undeclared_link_reports_are_one_per_port_per_interval_and_capped():
    check = lldp.LinkCheck({}, interval=60.0, memory=100)
    nic = Binding("nic", "a.0")
    lines = [check.observe(("br1", 1), nic, ("br2", forged), None, 0.0) for forged in range(10_000)]
    assert sum(line is not None for line in lines) == 1 and check.unreported == 9_999
    assert check.observe(("br1", 1), nic, ("br2", 7), None, 59.0) is None
    assert "not declared" in check.observe(("br1", 1), nic, ("br2", 7), None, 60.0)  # the next interval: reported again
    # Many ports at once: never more than `memory` remembered, the rest left out.
    lines = [check.observe(("br1", p), nic, ("br2", 1), None, 61.0) for p in range(2, 10_002)]
    assert len(check.reported) == 100 and sum(line is not None for line in lines) == 99
    # Once their interval has passed, they are forgotten and ports are reported again.
    assert check.observe(("br1", 20_000), nic, ("br2", 1), None, 200.0) is not None and len(check.reported) == 1


# -- reserved group addresses ------------------------------------------------------


@pytest.mark.parametrize("dst, what", [("01:80:c2:00:00:00", "STP"), ("01:80:c2:00:00:01", "PAUSE"), ("01:80:c2:00:00:02", "LACP"),
                                       ("01:80:c2:00:00:03", "EAPOL"), ("01:80:c2:00:00:0f", "reserved")])
def test_reserved_group_addresses_are_flooded_nowhere(dst, what):
    sim = lab()
    for nic in sim.topology.nics():
        assert sim.send(nic.id, Frame(nic.mac, dst)) == set(), (nic.id, what)
    for vlans in ((10,), (20,), ()):
        assert sim.inject("br2", trunk(sim), Frame("02:00:00:00:55:01", dst, vlans=vlans)) == set(), (vlans, what)


def test_lldp_still_reaches_the_controller():
    sim = lab()
    frame = Frame("02:00:00:00:55:01", lldp.LLDP_MAC, eth_type=0x88CC)
    result = sim.fabric.tables["br2"].process(trunk(sim), frame)
    assert result.to_controller == [frame] and result.outputs == []


# -- second tags and foreign TPIDs ----------------------------------------------


def test_a_double_tagged_frame_from_a_trunk_reaches_nobody():
    sim = lab()
    for outer, inner in [(10, 10), (10, 20), (20, 10)]:
        for tpid in (0x8100, 0x88A8):  # 802.1Q in 802.1Q, and QinQ proper (802.1ad outside)
            assert sim.inject("br2", trunk(sim), Frame("02:00:00:00:44:01", BROADCAST, vlans=(outer, inner), tpid=tpid)) == set()
    assert sim.core.macs["br2"].entries == {}


@pytest.mark.parametrize("eth_type", [0x88A8, 0x9100, 0x8100])
def test_a_foreign_tag_where_ovs_sees_an_ethertype_is_dropped(eth_type):
    # Behind the one tag OVS parses, or (0x9100, never parsed as a tag) anywhere: it is the eth_type.
    sim = lab()
    assert sim.inject("br2", trunk(sim), Frame("02:00:00:00:44:01", BROADCAST, vlans=(10,), eth_type=eth_type)) == set()
    assert sim.send("u.0", Frame(mac(sim, "u"), BROADCAST, eth_type=eth_type)) == set()  # untagged NIC to untagged NIC
    assert sim.inject("br2", trunk(sim), Frame("02:00:00:00:44:01", BROADCAST, eth_type=eth_type)) == set()


def test_an_8021ad_tagged_frame_is_dropped_on_access_ports_and_never_learned_from_a_link():
    sim = lab()
    assert sim.send("a.0", Frame(mac(sim, "a"), BROADCAST, vlans=(10,), tpid=0x88A8)) == set()
    assert sim.send("u.0", Frame(mac(sim, "u"), BROADCAST, vlans=(10,), tpid=0x88A8)) == set()
    # On a trunk OVS forwards it as VLAN 10 (OpenFlow cannot match the TPID); the controller reads it as
    # that VLAN too, and learns it nowhere (it used to learn it as untagged).
    src = "02:00:00:00:44:02"
    sim.inject("br2", trunk(sim), Frame(src, BROADCAST, vlans=(10,), tpid=0x88A8))
    table = sim.core.macs["br2"]
    assert table.entries == {} and table.refused == 1
    assert sim.inject("br2", trunk(sim), Frame(src, BROADCAST, vlans=(10,))) == {"b.0"}  # the same source, 802.1Q: learned
    assert list(table.entries) == [(VID_PRESENT | 10, src)]


def test_a_packet_in_behind_an_8021ad_tag_is_read_as_no_vlan_to_learn():
    src = "020000000001"
    assert frame_fields(bytes.fromhex("ffffffffffff" + src + "88a8" + "000a" + "0800") + bytes(46)) == ("02:00:00:00:00:01", 0x88A8, None)
    assert frame_fields(bytes.fromhex("ffffffffffff" + src + "8100" + "000a" + "0800") + bytes(46)) == ("02:00:00:00:00:01", 0x0800, VID_PRESENT | 10)
    assert Frame("02:00:00:00:00:01", BROADCAST, (10, 20), tpid=0x88A8).packet()[12:22].hex() == "88a8000a8100001408" + "00"
