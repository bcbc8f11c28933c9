"""A tunnel's port stays up when the underlay under it is cut: the controller takes a link between nodes down when
LLDP has not crossed it for LINK_SILENT_AFTER seconds, and back up when LLDP crosses it again.

First `LinkCheck.silent` alone, then the os-ken app without os-ken running (the `make_app` fixture): two bridges on
different nodes whose link ports are the tunnels `vx<vni>`, connected through the app's own connect path, with a clock
the test moves."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller import app as app_module
from controller import lldp
from controller.normal import VlanSettings
from controller.ovsdb import SeenPort
from controller.state import Binding
from sdnlab import loads
from tests.unit import fake_switch

# -- LinkCheck.silent ----------------------------------------------------------------------------------------------


def test_exactly_after_seconds_of_silence_is_not_silent_a_moment_more_is():
    check = lldp.LinkCheck({"l": ("a", "b")})
    assert check.silent({"l": 10.0}, 13.5, 3.5) == set()
    assert check.silent({"l": 10.0}, 13.50001, 3.5) == {"l"}


def test_lldp_heard_before_the_link_could_carry_it_counts_from_since():
    check = lldp.LinkCheck({"l": ("a", "b")}, heard={"l": 5.0})
    assert check.silent({"l": 10.0}, 13.5, 3.5) == set()  # 8.5 s after it was heard, but only 3.5 s after since
    assert check.silent({"l": 10.0}, 13.6, 3.5) == {"l"}


def test_lldp_heard_after_since_counts_from_when_it_was_heard():
    check = lldp.LinkCheck({"l": ("a", "b"), "m": ("b", "c")})
    link = Binding("link", "l")
    assert check.observe(("a", 4), link, ("b", 7), link, 12.0) is not None
    assert check.heard == {"l": 12.0}
    assert check.silent({"l": 10.0, "m": 10.0}, 15.5, 3.5) == {"m"}  # l was heard 3.5 s ago; m never
    assert check.silent({"l": 10.0, "m": 10.0}, 15.6, 3.5) == {"l", "m"}
    assert check.silent({}, 100.0, 3.5) == set()  # only watched links can be silent


# -- the app ---------------------------------------------------------------------------------------------------------

LAB = """
name: tunnels
nodes: {n1: {address: 192.0.2.1}, n2: {address: 192.0.2.2}}
bridges: {br1: {type: ovs, node: n1}, br2: {type: ovs, node: n2}}
endpoints:
  a: {type: kvm, node: n1, vmid: 101, nics: [{bridge: br1, ip: 10.0.0.1/24}]}
  b: {type: kvm, node: n2, vmid: 102, nics: [{bridge: br2, ip: 10.0.0.2/24}]}
links: [{between: [br1, br2], vni: 4242}]
controller: {packet_in_rate: 5}
"""
NIC, LINK = 1, 2  # the port numbers the switches report


class Session(fake_switch.Session):
    """A switch's session (tests/unit/fake_switch.py), with the ports the app sent LLDP out of."""

    def lldp_ports(self) -> list[int]:
        return [m.actions[0].port for m in self.msgs if isinstance(m, parser.OFPPacketOut)]


@pytest.fixture
def lab(make_app, monkeypatch):
    topology = loads(LAB, "tunnels.yaml")
    app = make_app(topology)
    app.stopping.set()  # no LLDP ticker thread: the test calls _check_tunnels itself, at the times it chooses
    clock = [1000.0]
    monkeypatch.setattr(app_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    views = []
    update_ports = app.core.update_ports

    def recorded(view):
        views.append(view)
        return update_ports(view)

    app.core.update_ports = recorded
    return SimpleNamespace(app=app, topology=topology, clock=clock, views=views, sessions={})


def connect(lab, bridge: str, ports: dict[int, str]) -> Session:
    """The switch connects: its port list and (no) flows arrive, and the app takes them in as after the replies."""
    dp = Session(lab.topology.bridges[bridge].dpid)
    lab.app.datapaths[bridge] = dp
    lab.app.connecting[bridge] = {"ports": [(n, (name, True)) for n, name in ports.items()], "flows": [], "done": {"ports", "flows"},
                                  "xids": set()}
    lab.app._finish_connect(bridge)
    lab.sessions[bridge] = dp
    return dp


def tunnels_up(lab) -> None:
    connect(lab, "br1", {NIC: "tap101i0", LINK: "vx4242"})
    connect(lab, "br2", {NIC: "tap102i0", LINK: "vx4242"})


def packet_in(dp: Session, in_port: int, data: bytes) -> SimpleNamespace:
    return SimpleNamespace(msg=SimpleNamespace(datapath=dp, match={"in_port": in_port}, data=data))


def lldp_from_br2(lab) -> bytes:
    """What br2's tunnel port sends: an LLDP frame naming br2's dpid and port LINK."""
    return lldp.build(lab.topology.bridges["br2"].dpid, LINK)


def ports_up(view) -> dict[int, bool]:
    return {n: p.up for n, p in view.ports.items()}


def test_a_silent_tunnel_goes_down_and_comes_back_with_lldp(lab):
    app = lab.app
    tunnels_up(lab)
    assert {n: link.id for n, link in app.core.resolved["br1"].links.items()} == {LINK: "link0"}  # bound by the name vx4242
    app._check_tunnels(1000.0)
    app._check_tunnels(1003.5)  # exactly LINK_SILENT_AFTER (3.5 s): not yet
    assert app.silent == {} and lab.views == []
    sent = {b: len(dp.buffers) for b, dp in lab.sessions.items()}

    app._check_tunnels(1003.6)
    assert app.silent == {"br1": {LINK: "link0"}, "br2": {LINK: "link0"}}
    assert [(v.bridge, ports_up(v)) for v in lab.views] == [("br1", {NIC: True, LINK: False}), ("br2", {NIC: True, LINK: False})]
    assert app.core.resolved["br1"].links == {} and app.core.resolved["br2"].links == {}
    assert all(len(dp.buffers) > sent[b] for b, dp in lab.sessions.items())  # flow-mods sent to both switches
    # The core's next view of the bridge keeps the port down too.
    assert ports_up(app._view("br1")) == {NIC: True, LINK: False}
    # A silent tunnel is still asked whether it is back.
    lab.sessions["br1"].msgs.clear()
    app._send_lldp("br1")
    assert lab.sessions["br1"].lldp_ports() == [LINK]

    app._check_tunnels(1004.0)  # still silent: nothing new
    assert len(lab.views) == 2

    lab.clock[0] = 1005.0
    app._packet_in(packet_in(lab.sessions["br1"], LINK, lldp_from_br2(lab)))  # the underlay is back
    assert app.links.heard == {"link0": 1005.0}
    sent = {b: len(dp.buffers) for b, dp in lab.sessions.items()}
    app._check_tunnels(1005.1)
    assert app.silent == {"br1": {}, "br2": {}}
    assert [(v.bridge, ports_up(v)) for v in lab.views[2:]] == [("br1", {NIC: True, LINK: True}), ("br2", {NIC: True, LINK: True})]
    assert {n: link.id for n, link in app.core.resolved["br2"].links.items()} == {LINK: "link0"}
    assert all(len(dp.buffers) > sent[b] for b, dp in lab.sessions.items())

    # Silent again 3.5 s after it was last heard.
    app._check_tunnels(1008.5)
    assert app.silent == {"br1": {}, "br2": {}}
    app._check_tunnels(1008.6)
    assert app.silent == {"br1": {LINK: "link0"}, "br2": {LINK: "link0"}}


def test_lldp_taken_in_directly_brings_the_tunnel_back(lab):
    app = lab.app
    tunnels_up(lab)
    app._check_tunnels(1000.0)
    app._check_tunnels(1010.0)
    assert app.silent == {"br1": {LINK: "link0"}, "br2": {LINK: "link0"}}
    app._lldp_in("br2", LINK, lldp.build(lab.topology.bridges["br1"].dpid, LINK), 1010.5)
    app._check_tunnels(1011.0)
    assert app.silent == {"br1": {}, "br2": {}}
    assert [(v.bridge, ports_up(v)[LINK]) for v in lab.views] == [("br1", False), ("br2", False), ("br1", True), ("br2", True)]


def test_a_tunnel_is_watched_only_once_both_its_bridges_are_connected(lab):
    app = lab.app
    connect(lab, "br1", {NIC: "tap101i0", LINK: "vx4242"})
    app._check_tunnels(1000.0)
    app._check_tunnels(1100.0)  # br2 is not there: its silence says nothing about the underlay
    assert app.silent == {} and lab.views == []
    lab.clock[0] = 1100.0
    connect(lab, "br2", {NIC: "tap102i0", LINK: "vx4242"})
    app._check_tunnels(1103.5)  # counted from br2's connection
    assert app.silent == {}
    app._check_tunnels(1103.6)
    assert app.silent == {"br1": {LINK: "link0"}, "br2": {LINK: "link0"}}


def test_the_same_link_on_ports_with_other_names_is_never_silenced(lab):
    app = lab.app
    # A link between nodes built on one host: a veth or patch port, bound by its OVSDB mark; OVS reports its state.
    for bridge in ("br1", "br2"):
        app.bindings[lab.topology.bridges[bridge].dpid] = {LINK: SeenPort("sdl100l0a", Binding("link", "link0"), VlanSettings())}
    connect(lab, "br1", {NIC: "tap101i0", LINK: "sdl100l0a"})
    connect(lab, "br2", {NIC: "tap102i0", LINK: "sdl100l0a"})
    assert {n: link.id for n, link in app.core.resolved["br1"].links.items()} == {LINK: "link0"}
    assert app._tunnels() == []
    for now in (1000.0, 1003.6, 1100.0, 5000.0):
        app._check_tunnels(now)
    assert app.silent == {} and lab.views == []
    assert {n: link.id for n, link in app.core.resolved["br2"].links.items()} == {LINK: "link0"}


def test_a_flood_on_a_nic_port_does_not_use_up_the_lldp_bucket_of_the_link_port(lab):
    app = lab.app
    tunnels_up(lab)
    app._check_tunnels(1000.0)
    lab.clock[0] = 1002.0  # every packet-in below at this one instant: no bucket refills
    dp = lab.sessions["br1"]
    for i in range(20):  # broadcasts from a guest, each from a new source
        frame = bytes.fromhex("ffffffffffff" + f"0200000000{i:02x}" + "0800") + bytes(46)
        app._packet_in(packet_in(dp, NIC, frame))
    assert app.limiter.dropped == 15  # packet_in_rate 5: br1's bucket is empty
    app._packet_in(packet_in(dp, LINK, lldp_from_br2(lab)))
    assert app.links.heard == {"link0": 1002.0}  # handled: the link port's LLDP has a bucket of its own
    app._check_tunnels(1004.0)  # 4 s since the tunnels connected, 2 s since LLDP crossed: up
    assert app.silent == {} and lab.views == []
    # LLDP on the NIC port (a guest can send it) goes through the bridge's bucket, which the flood emptied.
    app._packet_in(packet_in(dp, NIC, lldp_from_br2(lab)))
    assert app.limiter.dropped == 16
    assert app.links.reported == {}


def test_a_silenced_tunnel_port_keeps_its_own_lldp_bucket_while_it_is_down(lab):
    app = lab.app
    tunnels_up(lab)
    app._check_tunnels(1000.0)
    app._check_tunnels(1010.0)
    assert app.silent["br1"] == {LINK: "link0"} and app.core.resolved["br1"].links == {}  # no link port of the core now
    lab.clock[0] = 1011.0
    dp = lab.sessions["br1"]
    for i in range(20):
        frame = bytes.fromhex("ffffffffffff" + f"0200000000{i:02x}" + "0800") + bytes(46)
        app._packet_in(packet_in(dp, NIC, frame))
    app._packet_in(packet_in(dp, LINK, lldp_from_br2(lab)))  # the flood must not keep the tunnel down
    assert app.links.heard == {"link0": 1011.0}
    app._check_tunnels(1011.5)
    assert app.silent == {"br1": {}, "br2": {}}


def test_a_silenced_tunnel_stays_down_while_its_peer_is_away_and_until_lldp_crosses_it_after(lab):
    app = lab.app
    tunnels_up(lab)
    app._check_tunnels(1000.0)
    app._check_tunnels(1010.0)
    assert app.silent == {"br1": {LINK: "link0"}, "br2": {LINK: "link0"}}
    # br2 goes away: its link is watched no more, but that is no news of the underlay.
    app._dead(SimpleNamespace(datapath=lab.sessions["br2"]))
    app._check_tunnels(1011.0)
    assert app.silent == {"br1": {LINK: "link0"}}
    # br2 is back; until LLDP crosses the tunnel, it stays down on both sides.
    lab.clock[0] = 1012.0
    connect(lab, "br2", {NIC: "tap102i0", LINK: "vx4242"})
    app._check_tunnels(1012.5)
    assert app.silent["br1"] == {LINK: "link0"}
    assert ports_up(app._view("br1"))[LINK] is False
    app._lldp_in("br1", LINK, lldp_from_br2(lab), 1013.0)
    app._check_tunnels(1013.1)
    assert app.silent["br1"] == {}


def test_a_deleted_port_takes_its_silence_along(lab):
    app = lab.app
    tunnels_up(lab)
    app._check_tunnels(1000.0)
    app._check_tunnels(1010.0)
    dp = lab.sessions["br1"]
    desc = parser.OFPPort(LINK, b"\x02" * 6, b"vx4242", 0, 0, 0, 0, 0, 0, 0, 0)
    app._port_status(SimpleNamespace(msg=SimpleNamespace(datapath=dp, reason=ofp.OFPPR_DELETE, desc=desc)))
    assert app.silent["br1"] == {}
