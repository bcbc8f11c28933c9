"""The controller's core against simulated OpenFlow tables: where does a frame go?"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from controller.core import Core
from controller.flows import COOKIE_LEARNED, FORWARD, GUARD, LEARN, Flow, Output, PopVlan, PushVlan, SetVlan, ToController, parse_dump
from controller.oftable import Fabric, FlowTables, Frame
from controller.pipeline import diff
from controller.simlab import SimulatedLab
from controller.state import Binding
from controller.tables import BY_ID
from sdnlab import analyse, load, loads
from tests.conftest import TOPOLOGIES

BROADCAST = "ff:ff:ff:ff:ff:ff"
BUNDLED = sorted(p.name for p in TOPOLOGIES.glob("*.yaml"))


def mac(topology, nic_id: str) -> str:
    name, index = nic_id.split(".")
    return topology.endpoints[name].nics[int(index)].mac


def expected_receivers(topology, nic_id: str) -> set[str]:
    """NICs the check says are L2-reachable from this NIC (same reach class)."""
    analysis = analyse(topology)
    for cls in analysis.classes:
        ids = {n.id for n in cls.nics}
        if nic_id in ids:
            return ids - {nic_id}
    raise AssertionError(nic_id)


@pytest.mark.parametrize("name", BUNDLED)
def test_broadcast_reaches_exactly_the_reach_class(name):
    topology = load(TOPOLOGIES / name)
    lab = SimulatedLab(topology)
    for nic in topology.nics():
        got = lab.send(nic.id, Frame(nic.mac, BROADCAST))
        assert got == expected_receivers(topology, nic.id), nic.id


@pytest.mark.parametrize("name", BUNDLED)
def test_forged_and_double_tagged_frames_reach_nobody_else(name):
    topology = load(TOPOLOGIES / name)
    lab = SimulatedLab(topology)
    vids = sorted(topology.vlans) + [1, 4094]
    others = [n.mac for n in topology.nics()]
    for nic in topology.nics():
        allowed = expected_receivers(topology, nic.id)
        for vid in vids:
            assert lab.send(nic.id, Frame(nic.mac, BROADCAST, vlans=(vid,))) == set(), (nic.id, vid)
            assert lab.send(nic.id, Frame(nic.mac, BROADCAST, vlans=(vid, vid))) == set()
            if nic.tag is not None:
                assert lab.send(nic.id, Frame(nic.mac, BROADCAST, vlans=(nic.tag, vid))) == set()
        # A forged source (another endpoint's MAC) changes nothing about where frames may go: from an
        # OVS port the source guard drops it; a Linux bridge guards nothing, so there a broadcast still
        # reaches exactly the sender's class (not a subset: a drop is no pass), and unicast at most that class
        # (the forged MAC now lives on this port, so a frame to it stays here).
        guarded = topology.bridges[nic.bridge].is_ovs
        for forged in others[:5]:
            spoofed = forged != nic.mac and guarded
            assert lab.send(nic.id, Frame(forged, BROADCAST)) == (set() if spoofed else allowed), (nic.id, forged)
            for dst in others:
                assert lab.send(nic.id, Frame(forged, dst)) <= (set() if spoofed else allowed)


def test_known_unicast_goes_only_to_its_port_and_learning_is_per_vlan():
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    lab = SimulatedLab(topology)
    web1, web2 = mac(topology, "web1.0"), mac(topology, "web2.0")
    assert lab.send("web1.0", Frame(web1, web2)) == {"web2.0"}  # unknown: flooded in VLAN 10 only
    assert lab.send("web2.0", Frame(web2, web1)) == {"web1.0"}
    before = len(lab.fabric.tables["vmbr1"].flows)
    assert lab.send("web1.0", Frame(web1, web2)) == {"web2.0"}
    assert len(lab.fabric.tables["vmbr1"].flows) == before  # nothing new: it was known
    learned = [f for f in lab.flows("vmbr1") if f.cookie == COOKIE_LEARNED and f.table == FORWARD]
    assert {f.fields["eth_dst"] for f in learned} == {web1, web2}


def test_same_mac_in_two_vlans_is_two_entries():
    topology = loads("""name: x
vlans: {10: {}, 20: {}}
bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10, mac: '02:00:00:00:00:01', port_security: false}]}
  b: {type: host, nics: [{bridge: br, tag: 20, mac: '02:00:00:00:00:02', port_security: false}]}
  c: {type: host, nics: [{bridge: br, tag: 10}]}
  d: {type: host, nics: [{bridge: br, tag: 20}]}
""")
    lab = SimulatedLab(topology)
    shared = "02:aa:00:00:00:01"
    assert lab.send("a.0", Frame(shared, BROADCAST)) == {"c.0"}
    assert lab.send("b.0", Frame(shared, BROADCAST)) == {"d.0"}
    assert len(lab.core.macs["br"].entries) == 2
    assert lab.send("c.0", Frame(mac(topology, "c.0"), shared)) == {"a.0"}
    assert lab.send("d.0", Frame(mac(topology, "d.0"), shared)) == {"b.0"}


def test_host_move_relearns():
    # a2 is a nested bridge (port_security: false), so a1's MAC may show up behind it.
    topology = loads((TOPOLOGIES / "one-bridge.yaml").read_text().replace("tag: 100, ip: 10.1.0.2/24", "tag: 100, ip: 10.1.0.2/24, port_security: false"))
    lab = SimulatedLab(topology)
    a1, a2 = mac(topology, "a1.0"), mac(topology, "a2.0")
    lab.send("a1.0", Frame(a1, BROADCAST))
    assert lab.send("a2.0", Frame(a2, a1)) == {"a1.0"}
    lab.send("a2.0", Frame(a1, BROADCAST))  # a1's MAC now appears on a2's port
    assert lab.core.macs["vmbr0"].entries[(0x1000 | 100, a1)].port == lab.plan.nic_port("a2.0")[1]


def test_mac_limit_stops_learning_but_not_forwarding():
    text = (TOPOLOGIES / "one-bridge.yaml").read_text() + "controller: {mac_limit: 2}\n"
    topology = loads(text.replace("tag: 100, ip: 10.1.0.1/24", "tag: 100, ip: 10.1.0.1/24, port_security: false"))
    lab = SimulatedLab(topology)
    for i in range(5):
        assert lab.send("a1.0", Frame(f"02:00:00:00:01:0{i}", BROADCAST)) == {"a2.0"}
    table = lab.core.macs["vmbr0"]
    assert table.count(lab.plan.nic_port("a1.0")[1]) == 2 and table.over_limit == 3
    # Over-limit sources get no flow and no entry: frames to them are flooded.
    assert lab.send("a2.0", Frame(mac(topology, "a2.0"), "02:00:00:00:01:04")) == {"a1.0"}
    assert len(table.entries) == 3  # the two of a1's port, and a2


def test_multicast_source_is_never_learned():
    topology = load(TOPOLOGIES / "one-bridge.yaml")
    lab = SimulatedLab(topology)
    assert lab.send("a1.0", Frame("03:00:00:00:00:01", BROADCAST)) == set()
    assert lab.core.macs["vmbr0"].entries == {}


def test_loop_floods_once_and_survives_link_cuts():
    topology = load(TOPOLOGIES / "triangle.yaml")
    lab = SimulatedLab(topology)
    h1 = mac(topology, "h1.0")
    assert lab.send("h1.0", Frame(h1, BROADCAST)) == {"h2.0", "h3.0"}  # no loop (Fabric would raise)
    tree = lab.core.trees[10]
    for cut in ("l12", "l23", "l31"):
        lab.set_link(cut, up=False)
        assert lab.send("h1.0", Frame(h1, BROADCAST)) == {"h2.0", "h3.0"}, cut
        assert lab.send("h2.0", Frame(mac(topology, "h2.0"), h1)) == {"h1.0"}
        lab.set_link(cut, up=True)
    assert lab.core.trees[10] == tree


def test_cut_off_bridge_reaches_nobody_and_recovers():
    topology = load(TOPOLOGIES / "triangle.yaml")
    lab = SimulatedLab(topology)
    h2 = mac(topology, "h2.0")
    lab.set_link("l12", up=False)
    lab.set_link("l23", up=False)
    assert lab.send("h2.0", Frame(h2, BROADCAST)) == set()
    lab.set_link("l12", up=True)
    assert lab.send("h2.0", Frame(h2, BROADCAST)) == {"h1.0", "h3.0"}


def test_trunk_accepts_only_its_vlans_and_floods_them_in_their_vlan_only():
    topology = load(TOPOLOGIES / "leaf-spine.yaml")
    lab = SimulatedLab(topology)
    tables = lab.fabric.tables["leaf1"]
    uplink = lab.plan.port("leaf1", Binding("link", "l1s1a"))  # trunks 10, 20 and untagged
    other_uplink = lab.plan.port("leaf1", Binding("link", "l1s2"))  # the flood tree's other link at leaf1
    web1, db1 = lab.plan.nic_port("web1.0")[1], lab.plan.nic_port("db1.0")[1]

    def outputs(vlans):
        result = tables.process(uplink, Frame("02:00:00:00:00:09", BROADCAST, vlans=vlans))
        return sorted((port, frame.vlans) for port, frame in result.outputs), len(result.to_controller)

    # VLAN 30 is not trunked to leaf1: dropped, not even learned.
    assert outputs((30,)) == ([], 0)
    # A trunked VLAN goes on along the tree still tagged, and to its own access port untagged; learned once.
    assert outputs((10,)) == (sorted([(other_uplink, (10,)), (web1, ())]), 1)
    assert outputs((20,)) == (sorted([(other_uplink, (20,)), (db1, ())]), 1)
    # Untagged crosses (untagged: true) but reaches no access port: every NIC on leaf1 is tagged.
    assert outputs(()) == ([(other_uplink, ())], 1)


def test_restart_sends_nothing_when_tables_are_right():
    topology = load(TOPOLOGIES / "leaf-spine.yaml")
    lab = SimulatedLab(topology)
    for a, b in itertools.combinations(["web1.0", "web2.0", "web4.0"], 2):
        lab.send(a, Frame(mac(topology, a), mac(topology, b)))
        lab.send(b, Frame(mac(topology, b), mac(topology, a)))
    fresh = Core(topology)
    for bridge in sorted(lab.fabric.tables):
        if topology.bridges[bridge].is_ovs:
            assert fresh.connect(lab.view(bridge), lab.flows(bridge), 0.0).get(bridge, []) == [], bridge
    # The new core adopted what the old one learned.
    assert lab.core.macs["leaf1"].entries
    assert fresh.macs["leaf1"].entries.keys() == lab.core.macs["leaf1"].entries.keys()


def test_restart_repairs_only_what_differs():
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    lab = SimulatedLab(topology)
    flows = lab.flows("vmbr0")
    damaged = [f for f in flows if not (f.table == FORWARD and f.priority == 10)]
    mods = Core(topology).connect(lab.view("vmbr0"), damaged, 0.0)["vmbr0"]
    assert [m.command for m in mods] == ["add"] * len(mods)
    assert {m.flow for m in mods} == {f for f in flows if f.table == FORWARD and f.priority == 10}


def test_diff_deletes_before_adds():
    a = Flow.make(0, 5, {"in_port": 1})
    b = Flow.make(0, 5, {"in_port": 2})
    assert [(m.command, m.flow) for m in diff([a], [b])] == [("delete_strict", a), ("add", b)]


def test_flow_removal_of_source_removes_destination():
    topology = load(TOPOLOGIES / "one-bridge.yaml")
    lab = SimulatedLab(topology)
    a1 = mac(topology, "a1.0")
    lab.send("a1.0", Frame(a1, BROADCAST))
    source = next(f for f in lab.flows("vmbr0") if f.table == LEARN and f.cookie == COOKIE_LEARNED)
    lab.fabric.tables["vmbr0"].flows.pop(source.key)  # what the switch's idle timeout does
    lab.apply({"vmbr0": lab.core.flow_removed("vmbr0", source)})
    assert not [f for f in lab.flows("vmbr0") if f.cookie == COOKIE_LEARNED]


def test_a_port_the_plan_does_not_have_carries_nothing():
    # Ports bound to the wrong bridge or twice: tests/unit/test_resolve.py.
    topology = load(TOPOLOGIES / "one-bridge.yaml")
    lab = SimulatedLab(topology)
    tables = lab.fabric.tables["vmbr0"]
    result = tables.process(99, Frame("02:00:00:00:00:09", BROADCAST))
    assert result.outputs == [] and result.to_controller == []


def test_generated_flows_are_well_formed():
    for name in BUNDLED:
        lab = SimulatedLab(load(TOPOLOGIES / name))
        for nic in lab.topology.nics():
            lab.send(nic.id, Frame(nic.mac, BROADCAST))  # learned flows too
        for bridge, tables in lab.fabric.tables.items():
            flows = list(tables.flows.values())
            for f in flows:
                assert f.goto is None or f.goto > f.table
                assert set(f.fields) <= BY_ID[f.table].match, f  # Flow.make checks it; flows made otherwise must hold to it too
            # No two flows of one priority in one table may overlap.
            for x, y in itertools.combinations(flows, 2):
                if x.table == y.table and x.priority == y.priority:
                    fx, fy = x.fields, y.fields
                    shared = set(fx) & set(fy)
                    assert shared and any(fx[k] != fy[k] for k in shared), (bridge, x, y)


# Captured from `ovs-ofctl -O OpenFlow13 dump-flows` on Open vSwitch 3.1 (userspace datapath) with the
# three-table pipeline, its learn and forward tables renumbered (2 and 3) for the guard table; the guard's
# lines, and the classify drops added with it, are written in the same format (`arp` is how dump-flows
# writes dl_type=0x0806).
REAL_DUMP = """OFPST_FLOW reply (OF1.3) (xid=0x2):
 cookie=0x5d1a000000000001, duration=0.010s, table=0, n_packets=0, n_bytes=0, priority=200,dl_type=0x88cc actions=CONTROLLER:128
 cookie=0x5d1a000000000001, duration=0.010s, table=0, n_packets=0, n_bytes=0, priority=220,dl_type=0x88a8 actions=drop
 cookie=0x5d1a000000000001, duration=0.010s, table=0, n_packets=0, n_bytes=0, priority=210,dl_dst=01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 actions=drop
 cookie=0x5d1a000000000001, duration=0.011s, table=0, n_packets=0, n_bytes=0, priority=100,in_port=1,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4106->vlan_vid,goto_table:1
 cookie=0x5d1a000000000001, duration=0.011s, table=0, n_packets=0, n_bytes=0, priority=100,in_port=3,dl_vlan=10 actions=goto_table:1
 cookie=0x5d1a000000000001, duration=0.010s, table=1, n_packets=0, n_bytes=0, priority=120,arp,in_port=1,dl_src=02:00:00:00:00:01,arp_spa=10.0.10.11,arp_sha=02:00:00:00:00:01 actions=goto_table:2
 cookie=0x5d1a000000000001, duration=0.010s, table=1, n_packets=0, n_bytes=0, priority=110,arp,in_port=1 actions=drop
 cookie=0x5d1a000000000001, duration=0.010s, table=1, n_packets=0, n_bytes=0, priority=100,in_port=1,dl_src=02:00:00:00:00:01 actions=goto_table:2
 cookie=0x5d1a000000000001, duration=0.010s, table=1, n_packets=0, n_bytes=0, priority=100,in_port=3 actions=goto_table:2
 cookie=0x5d1a000000000001, duration=0.010s, table=1, n_packets=0, n_bytes=0, priority=0 actions=drop
 cookie=0x5d1a000000000002, duration=0.010s, table=2, n_packets=0, n_bytes=0, idle_timeout=300, priority=100,in_port=1,dl_vlan=10,dl_src=02:00:00:00:00:01 actions=goto_table:3
 cookie=0x5d1a000000000001, duration=0.010s, table=2, n_packets=0, n_bytes=0, priority=0 actions=CONTROLLER:128,goto_table:3
 cookie=0x5d1a000000000002, duration=0.010s, table=3, n_packets=0, n_bytes=0, idle_timeout=300, priority=100,dl_vlan=10,dl_dst=02:00:00:00:00:01 actions=pop_vlan,output:1
 cookie=0x5d1a000000000001, duration=0.010s, table=3, n_packets=0, n_bytes=0, priority=10,dl_vlan=10 actions=output:3,pop_vlan,output:1,output:2
 cookie=0x5d1a000000000001, duration=0.010s, table=3, n_packets=0, n_bytes=0, priority=10,vlan_tci=0x0000/0x1fff actions=output:3
 cookie=0x5d1a000000000001, duration=0.010s, table=0, n_packets=0, n_bytes=0, priority=0 actions=drop
"""


def test_parse_a_real_dump():
    flows = {(f.table, f.priority, f.match): f for f in parse_dump(REAL_DUMP)}
    assert len(flows) == 16
    push = flows[(0, 100, (("in_port", 1), ("vlan_vid", 0)))]
    assert push.actions == (PushVlan(), SetVlan(4106)) and push.goto == GUARD
    arp = flows[(1, 120, (("arp_sha", "02:00:00:00:00:01"), ("arp_spa", "10.0.10.11"), ("eth_src", "02:00:00:00:00:01"),
                          ("eth_type", 0x0806), ("in_port", 1)))]
    assert arp.goto == LEARN and flows[(1, 110, (("eth_type", 0x0806), ("in_port", 1)))].actions == ()
    assert flows[(0, 210, (("eth_dst", ("01:80:c2:00:00:00", "ff:ff:ff:ff:ff:f0")),))].actions == ()
    learned = flows[(2, 100, (("eth_src", "02:00:00:00:00:01"), ("in_port", 1), ("vlan_vid", 4106)))]
    assert learned.cookie == COOKIE_LEARNED and learned.idle_timeout == 300
    flood = flows[(3, 10, (("vlan_vid", 4106),))]
    assert flood.actions == (Output(3), PopVlan(), Output(1), Output(2))
    assert flows[(0, 0, ())].actions == () and flows[(0, 200, (("eth_type", 0x88CC),))].actions == (ToController(),)
    # The dumped tables forward like the flows they came from.
    tables = FlowTables(list(flows.values()))
    out = tables.process(3, Frame("02:00:00:00:00:09", "02:00:00:00:00:01", vlans=(10,)))
    assert [(p, f.vlans) for p, f in out.outputs] == [(1, ())]
    own = Frame("02:00:00:00:00:01", BROADCAST, eth_type=0x0806, arp_spa="10.0.10.11")
    assert tables.process(1, own).outputs  # the NIC's own ARP: flooded
    assert not tables.process(1, replace(own, arp_spa="10.0.10.12")).outputs  # claiming another address: dropped


def test_to_ofctl_is_what_ovs_ofctl_reads():
    flow = Flow.make(0, 100, {"in_port": 1, "vlan_vid": 0}, (PushVlan(), SetVlan(4106)), 1)
    assert flow.to_ofctl() == "table=0,priority=100,cookie=0x5d1a000000000001,in_port=1,vlan_tci=0x0000/0x1fff,actions=push_vlan:0x8100,set_field:4106->vlan_vid,goto_table:1"


def test_fabric_reports_loops():
    fabric = Fabric()
    fabric.tables["a"] = FlowTables([Flow.make(0, 1, {}, (Output(1), Output(2)))])
    fabric.tables["b"] = FlowTables([Flow.make(0, 1, {}, (Output(1), Output(2)))])
    fabric.wire(("a", 1), ("b", 2))
    fabric.wire(("a", 2), ("b", 1))
    with pytest.raises(RuntimeError, match="loop"):
        fabric.send("a", 3, Frame("02:00:00:00:00:01", BROADCAST), limit=100)


def test_reload_retags_a_port_and_forgets_what_it_learned_there():
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    lab = SimulatedLab(topology)
    web1, web2, db1 = (mac(topology, f"{n}.0") for n in ("web1", "web2", "db1"))
    lab.send("web2.0", Frame(web2, BROADCAST))
    assert lab.send("web1.0", Frame(web1, web2)) == {"web2.0"}
    retagged = loads((TOPOLOGIES / "two-nodes.yaml").read_text().replace("{bridge: vmbr1, tag: 10, ip: 10.0.10.12/24}", "{bridge: vmbr1, tag: 20, ip: 10.0.20.12/24}"))
    lab.apply(lab.core.reload(retagged))
    lab.topology = retagged
    assert lab.send("web1.0", Frame(web1, web2)) == set()  # old VLAN: gone
    assert lab.send("web2.0", Frame(web2, db1)) == {"db1.0"}  # new VLAN
    assert lab.send("db1.0", Frame(db1, web2)) == {"web2.0"}
    assert not [k for k in lab.core.macs["vmbr1"].entries if k == (0x1000 | 10, web2)]


def test_restoring_the_only_link_restores_traffic():
    # The bug this pins: with the only link down there are no trees at all, and
    # the link coming back (one end's port event at a time) must still reprogram both ends.
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    lab = SimulatedLab(topology)
    web1, web2 = mac(topology, "web1.0"), mac(topology, "web2.0")
    assert lab.send("web1.0", Frame(web1, BROADCAST)) == {"web2.0"}
    lab.set_link("link0", up=False)
    assert lab.send("web1.0", Frame(web1, BROADCAST)) == set()
    lab.set_link("link0", up=True)
    assert lab.send("web1.0", Frame(web1, BROADCAST)) == {"web2.0"}
    assert lab.send("web2.0", Frame(web2, web1)) == {"web1.0"}
