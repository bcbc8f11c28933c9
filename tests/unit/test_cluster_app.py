"""The app as one replica of a controller cluster: roles asked of the switches, nothing sent unless master.

Corosync is replaced by a stand-in whose membership the test sets (controller/corosync.py is tested on its own);
the switches by sessions that keep what is sent to them, decoded by os-ken's own parser classes.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

import controller.app as app_module
import controller.corosync as corosync_module
from controller.election import Membership
from controller.flows import FlowMod
from controller.state import PortPlan
from sdnlab import loads
from tests.unit import fake_switch

LAB = """\
name: pair
bridges: {br1: {type: ovs}, br2: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br1, ip: 10.0.0.1/24}]}
  b: {type: host, nics: [{bridge: br2, ip: 10.0.0.2/24}]}
links: [{between: [br1, br2]}]
controller: {replicas: 3}
"""


class FakeCluster:
    """What the app uses of controller.corosync.Cluster; the test calls `on_change` itself."""

    made: list[FakeCluster] = []

    def __init__(self, group: str, on_change):
        self.group, self.on_change, self.joined = group, on_change, False
        FakeCluster.made.append(self)

    def start(self) -> None: ...

    def membership(self) -> Membership:
        return Membership(me=1, members=(), quorate=False, ring_seq=0, joined=False)

    def join(self) -> None:
        self.joined = True

    def stop(self) -> None: ...


class Session(fake_switch.Session):
    """A switch's session (tests/unit/fake_switch.py), with what a replica asked of it."""

    def roles(self) -> list[tuple[int, int]]:
        return [(m.role, m.generation_id) for m in self.msgs if isinstance(m, parser.OFPRoleRequest)]

    def asked_state(self) -> int:
        return sum(isinstance(m, parser.OFPFlowStatsRequest) for m in self.msgs)


@pytest.fixture
def replica(monkeypatch, make_app):
    FakeCluster.made.clear()
    monkeypatch.setattr(corosync_module, "Cluster", FakeCluster)
    monkeypatch.setattr(app_module.SdnlabApp, "cluster_group", "sdnlab-pair")
    topology = loads(LAB, "pair.yaml")
    app = make_app(topology)
    sessions = {}
    for bridge in ("br1", "br2"):
        sessions[bridge] = Session(topology.bridges[bridge].dpid)
        app.datapaths[bridge] = sessions[bridge]
    return SimpleNamespace(app=app, topology=topology, sessions=sessions, cluster=FakeCluster.made[0])


def view(me: int, members: tuple[int, ...], quorate: bool = True, ring: int = 12) -> Membership:
    return Membership(me=me, members=members, quorate=quorate, ring_seq=ring, joined=True)


def a_flow_mod(replica) -> dict[str, list[FlowMod]]:
    """Whatever the core would send br1 on connecting: something to send."""
    mods = replica.app.core.connect(PortPlan(replica.topology).view("br1"), [], 0.0)
    assert mods["br1"]
    return mods


def test_before_corosync_names_a_master_the_replica_sends_nothing(replica):
    assert replica.cluster.group == "sdnlab-pair"
    replica.app._send(a_flow_mod(replica))
    replica.app._send_lldp("br1")
    assert replica.sessions["br1"].buffers == [] and replica.sessions["br1"].msgs == []


def test_the_elected_master_asks_every_switch_for_the_master_role_with_the_ring_and_adopts_its_flows(replica):
    replica.cluster.on_change(view(1, (1, 2, 3), ring=12))
    for session in replica.sessions.values():
        assert session.roles() == [(ofp.OFPCR_ROLE_MASTER, 12)]
        assert session.asked_state() == 1  # the switch's flows, to adopt before sending the difference
    replica.app._send(a_flow_mod(replica))
    assert replica.sessions["br1"].buffers


def test_a_slave_asks_for_the_slave_role_and_sends_no_change(replica):
    replica.cluster.on_change(view(2, (1, 2, 3)))
    assert [s.roles() for s in replica.sessions.values()] == [[(ofp.OFPCR_ROLE_SLAVE, 12)]] * 2
    assert all(s.asked_state() == 0 for s in replica.sessions.values())
    replica.app._send(a_flow_mod(replica))
    assert replica.sessions["br1"].buffers == []


def test_a_master_that_loses_quorum_steps_down_and_sends_no_role_request(replica):
    replica.cluster.on_change(view(1, (1, 2, 3), ring=12))
    replica.cluster.on_change(view(1, (1,), quorate=False, ring=16))
    assert [s.roles() for s in replica.sessions.values()] == [[(ofp.OFPCR_ROLE_MASTER, 12)]] * 2
    replica.app._send(a_flow_mod(replica))
    assert replica.sessions["br1"].buffers == []
    # Back in the majority at a newer ring: master again, with that ring.
    replica.cluster.on_change(view(1, (1, 3), ring=20))
    assert replica.sessions["br1"].roles()[-1] == (ofp.OFPCR_ROLE_MASTER, 20)


def test_the_generation_never_goes_down(replica):
    replica.cluster.on_change(view(2, (1, 2), ring=20))
    replica.cluster.on_change(view(2, (2,), ring=8))  # 1 left (a controller process died; the ring the test gives is lower)
    assert replica.sessions["br1"].roles() == [(ofp.OFPCR_ROLE_SLAVE, 20), (ofp.OFPCR_ROLE_MASTER, 20)]


def error(session, kind: int, code: int):
    return SimpleNamespace(msg=SimpleNamespace(datapath=session, type=kind, code=code))


def test_a_master_the_switch_takes_for_a_slave_asks_again_once_a_second(replica):
    replica.cluster.on_change(view(1, (1, 2)))
    br1 = replica.sessions["br1"]
    replica.app._error(error(br1, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_IS_SLAVE))
    replica.app._error(error(br1, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_IS_SLAVE))  # same instant: not again
    assert br1.roles() == [(ofp.OFPCR_ROLE_MASTER, 12)] * 2
    assert br1.asked_state() == 2


def test_a_slave_refused_as_slave_does_not_ask_for_master(replica):
    replica.cluster.on_change(view(2, (1, 2)))
    br1 = replica.sessions["br1"]
    replica.app._error(error(br1, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_IS_SLAVE))
    assert br1.roles() == [(ofp.OFPCR_ROLE_SLAVE, 12)]


def test_a_stale_refusal_makes_the_master_step_down(replica):
    replica.cluster.on_change(view(1, (1, 2)))
    replica.app._error(error(replica.sessions["br1"], ofp.OFPET_ROLE_REQUEST_FAILED, ofp.OFPRRFC_STALE))
    assert not replica.app._may_send()
    replica.app._send(a_flow_mod(replica))
    assert replica.sessions["br1"].buffers == []


def test_a_role_reply_of_slave_to_a_master_means_it_was_demoted(replica):
    replica.cluster.on_change(view(1, (1, 2)))
    br2 = replica.sessions["br2"]
    replica.app._role_reply(SimpleNamespace(msg=SimpleNamespace(datapath=br2, role=ofp.OFPCR_ROLE_SLAVE, generation_id=12)))
    assert replica.app.roles["br2"] == "slave"
    assert br2.roles() == [(ofp.OFPCR_ROLE_MASTER, 12)] * 2
