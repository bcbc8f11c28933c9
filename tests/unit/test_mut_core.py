"""Mutation tests for controller/core.py: what a reload forgets and sends, a switch leaving, removed flows."""

from __future__ import annotations

from controller.actions import Output
from controller.core import Core
from controller.flows import COOKIE_LEARNED, COOKIE_STATIC, LEARN, Flow, FlowMod
from controller.oftable import Frame
from controller.simlab import SimulatedLab
from sdnlab import load, loads
from tests.conftest import TOPOLOGIES

BROADCAST = "ff:ff:ff:ff:ff:ff"


def learned_lab(name: str) -> SimulatedLab:
    lab = SimulatedLab(load(TOPOLOGIES / name))
    for nic in lab.topology.nics():
        lab.send(nic.id, Frame(nic.mac, BROADCAST))
    return lab


def test_a_reload_of_the_same_file_changes_nothing_and_forgets_nothing():
    lab = learned_lab("triangle.yaml")
    learned = {b: dict(t.entries) for b, t in lab.core.macs.items()}
    assert any(port in lab.core.resolved["br1"].links for (_, _), e in learned["br1"].items() for port in [e.port])  # learned behind a link too
    assert lab.core.reload(load(TOPOLOGIES / "triangle.yaml")) == {}
    assert {b: dict(t.entries) for b, t in lab.core.macs.items()} == learned


def test_a_reload_that_moves_a_flood_tree_reprograms_a_bridge_whose_ports_did_not_change():
    # Dropping VLAN 10 from l23 moves VLAN 10's tree from l12+l23 to l12+l31: br1's ports
    # (l12, l31) are the same links as before, yet its flood flows change.
    lab = learned_lab("triangle.yaml")
    text = (TOPOLOGIES / "triangle.yaml").read_text().replace("{name: l23, between: [br2, br3], trunks: [10, 20]}", "{name: l23, between: [br2, br3], trunks: [20]}")
    changed = loads(text)
    mods = lab.core.reload(changed)
    assert set(mods) == {"br1", "br2", "br3"}
    lab.apply(mods)
    lab.topology = changed
    h1, h3 = (lab.topology.endpoints[n].nics[0].mac for n in ("h1", "h3"))
    assert lab.send("h1.0", Frame(h1, BROADCAST)) == {"h2.0", "h3.0"}
    assert lab.send("h3.0", Frame(h3, h1)) == {"h1.0"}


def test_a_switch_that_leaves_is_forgotten_and_the_others_keep_forwarding():
    lab = learned_lab("triangle.yaml")
    mods = lab.core.disconnect("br2")
    assert "br2" not in lab.core.views and "br2" not in lab.core.macs and "br2" not in lab.core.installed and "br2" not in lab.core.resolved
    assert "br2" not in mods  # nothing is sent to a switch that is gone
    assert lab.core.disconnect("br2") == {}  # and leaving twice changes nothing


def test_a_removed_flow_that_is_not_a_learned_source_takes_nothing_along():
    lab = learned_lab("one-bridge.yaml")
    static = next(f for f in lab.flows("vmbr0") if f.cookie == COOKIE_STATIC)
    assert lab.core.flow_removed("vmbr0", static) == []
    learned = next(f for f in lab.flows("vmbr0") if f.table == LEARN and f.cookie == COOKIE_LEARNED)
    assert lab.core.flow_removed("nowhere", learned) == []
    destination = next(f for f in lab.flows("vmbr0") if f.cookie == COOKIE_LEARNED and "eth_dst" in f.fields)
    assert lab.core.flow_removed("vmbr0", destination) == []
    assert [m.command for m in lab.core.flow_removed("vmbr0", learned)] == ["delete_strict", "delete_strict"]


def test_learned_entries_carry_the_time_of_their_packet_in():
    lab = SimulatedLab(load(TOPOLOGIES / "one-bridge.yaml"), now=42.5)
    nic = next(lab.topology.nics())
    lab.send(nic.id, Frame(nic.mac, BROADCAST))
    assert [e.since for e in lab.core.macs["vmbr0"].entries.values()] == [42.5]


def test_when_the_trees_move_what_was_learned_behind_links_is_relearned(caplog):
    lab = learned_lab("triangle.yaml")
    br1 = lab.core.resolved["br1"]
    assert any(e.port in br1.links for e in lab.core.macs["br1"].entries.values())
    with caplog.at_level("INFO", logger="sdnlab.controller"):
        lab.set_link("l12", up=False)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("flood trees")] == [
        "flood trees: {'10': ['l23', 'l31'], '20': ['l23', 'l31'], 'untagged': ['l23', 'l31']}"]
    for bridge in ("br1", "br2", "br3"):
        resolved = lab.core.resolved[bridge]
        assert not [e for e in lab.core.macs[bridge].entries.values() if e.port in resolved.links], bridge
        assert {e.port for e in lab.core.macs[bridge].entries.values()} <= set(resolved.nics), bridge  # nothing on the port that went down
    h1 = lab.topology.endpoints["h1"].nics[0].mac
    assert lab.send("h1.0", Frame(h1, BROADCAST)) == {"h2.0", "h3.0"}


def test_a_reconnecting_switch_keeps_agreeing_learned_flows_and_deletes_the_rest_with_the_static_diff():
    lab = learned_lab("one-bridge.yaml")
    flows = lab.flows("vmbr0")
    a1, a2 = (lab.topology.endpoints[n].nics[0] for n in ("a1", "a2"))
    port_a2 = lab.plan.nic_port(a2.id)[1]
    wrong = next(f for f in flows if f.cookie == COOKIE_LEARNED and f.fields.get("eth_dst") == a1.mac)
    moved = Flow(wrong.table, wrong.priority, wrong.match, (Output(port_a2),), None, COOKIE_LEARNED, wrong.idle_timeout)
    static = next(f for f in flows if f.cookie == COOKIE_STATIC and f.priority == 10)
    installed = [f for f in flows if f not in (wrong, static)] + [moved]
    core = Core(lab.topology)
    mods = core.connect(lab.view("vmbr0"), installed, now=9.0)["vmbr0"]
    a1_source = next(f for f in flows if f.table == LEARN and f.fields.get("eth_src") == a1.mac)
    assert sorted(mods, key=repr) == sorted([FlowMod("delete_strict", a1_source), FlowMod("delete_strict", moved), FlowMod("add", static)], key=repr)
    # every NIC sent a frame in learned_lab: all but a1 are kept, as of the reconnection
    assert {k[1]: e.since for k, e in core.macs["vmbr0"].entries.items()} == {n.mac: 9.0 for n in lab.topology.nics() if n.id != a1.id}


def test_a_reload_that_readdresses_an_unguarded_nic_forgets_it_and_changes_no_static_flow():
    text = """
name: readdress
vlans: {10: {}}
bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.1/24, port_security: false}]}
  b: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.2/24}]}
"""
    lab = SimulatedLab(loads(text))
    for nic in lab.topology.nics():
        lab.send(nic.id, Frame(nic.mac, BROADCAST))
    a = lab.topology.endpoints["a"].nics[0]
    learned = sorted((f for f in lab.flows("br") if f.cookie == COOKIE_LEARNED and a.mac in (f.fields.get("eth_src"), f.fields.get("eth_dst"))), key=repr)
    assert len(learned) == 2
    mods = lab.core.reload(loads(text.replace("10.0.0.1/24, port_security", "10.0.0.9/24, port_security")))
    assert list(mods) == ["br"] and sorted(mods["br"], key=repr) == [FlowMod("delete_strict", f) for f in learned]
