"""Our direct OpenFlow 1.3 encoding equals os-ken's, byte for byte, for every flow the core makes
and every declared match field; os-ken's parse of the same bytes reads back as the same Flow."""

from __future__ import annotations

import struct

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller import ofwire
from controller.actions import ACTIONS
from controller.app import from_stats
from controller.flows import COOKIE_MASK, Flow, FlowMod, Output, PopVlan, PushVlan, SetVlan, ToController
from controller.oftable import Frame
from controller.simlab import SimulatedLab
from sdnlab import load
from tests.conftest import TOPOLOGIES
from tests.unit.field_samples import field_flows


class Datapath:
    ofproto, ofproto_parser = ofp, parser


def reference(mod: FlowMod, xid: int) -> bytes:
    """The same flow-mod built and serialised by os-ken."""
    flow = mod.flow
    actions = []
    for action in flow.actions:
        match action:
            case Output(port):
                actions.append(parser.OFPActionOutput(port))
            case PushVlan():
                actions.append(parser.OFPActionPushVlan(0x8100))
            case SetVlan(vid):
                actions.append(parser.OFPActionSetField(vlan_vid=vid))
            case PopVlan():
                actions.append(parser.OFPActionPopVlan())
            case ToController():
                actions.append(parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER))
            case _:
                raise AssertionError(f"no os-ken reference for {action!r}: add it here")
    instructions = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)] if actions else []
    if flow.goto is not None:
        instructions.append(parser.OFPInstructionGotoTable(flow.goto))
    msg = parser.OFPFlowMod(
        Datapath(), cookie=flow.cookie, cookie_mask=0 if mod.command == "delete_strict" else COOKIE_MASK, table_id=flow.table,
        command={"add": ofp.OFPFC_ADD, "delete_strict": ofp.OFPFC_DELETE_STRICT, "delete": ofp.OFPFC_DELETE}[mod.command],
        idle_timeout=flow.idle_timeout, priority=flow.priority, buffer_id=ofp.OFP_NO_BUFFER,
        out_port=mod.out_port if mod.out_port is not None else ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
        flags=ofp.OFPFF_SEND_FLOW_REM if flow.notify_removal else 0, match=parser.OFPMatch(**dict(flow.match)), instructions=instructions,
    )
    msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


def every_flow() -> list[Flow]:
    flows = set()
    for path in sorted(TOPOLOGIES.glob("*.yaml")):
        lab = SimulatedLab(load(path))
        for nic in lab.topology.nics():
            lab.send(nic.id, Frame(nic.mac, "ff:ff:ff:ff:ff:ff"))
        for tables in lab.fabric.tables.values():
            flows |= set(tables.flows.values())
    return sorted(flows, key=repr)


FLOWS = every_flow()


def test_there_are_many_kinds_of_flow():
    assert len(FLOWS) > 200
    assert {type(a) for f in FLOWS for a in f.actions} == set(ACTIONS)


@pytest.mark.parametrize("command", ["add", "delete_strict", "delete"])
def test_flow_mods_match_os_ken_byte_for_byte(command):
    for i, flow in enumerate(FLOWS):
        mod = FlowMod(command, flow, out_port=7 if command == "delete" and i % 2 else None)
        assert ofwire.flow_mod(mod, i + 1) == reference(mod, i + 1), flow


def test_barrier_matches_os_ken():
    msg = parser.OFPBarrierRequest(Datapath())
    msg.set_xid(42)
    msg.serialize()
    assert ofwire.barrier(42) == bytes(msg.buf)


@pytest.mark.parametrize("flow", field_flows(), ids=lambda f: repr(f.match))
def test_every_declared_field_encodes_as_os_ken_does(flow):
    for command in ("add", "delete_strict"):
        assert ofwire.flow_mod(FlowMod(command, flow), 9) == reference(FlowMod(command, flow), 9)


def stats_from(message: bytes) -> object:
    """os-ken's parse of an ofp_flow_stats entry holding a flow-mod's match and instructions (os-ken's own bytes)."""
    # Both ofp_flow_mod and ofp_flow_stats have a 48-byte fixed part followed by the match and the instructions.
    fields = struct.unpack_from("!BBHIQQBBHHHIIIH2x", message)
    cookie, table_id, idle_timeout, priority, flags = fields[4], fields[6], fields[8], fields[10], fields[14]
    body = message[48:]
    head = struct.pack("!HBxIIHHHH4xQQQ", 48 + len(body), table_id, 1, 0, priority, idle_timeout, 0, flags, cookie, 0, 0)
    return parser.OFPFlowStats.parser(head + body, 0)


@pytest.mark.parametrize("flows", [FLOWS, field_flows()], ids=["core", "fields"])
def test_stats_replies_read_back_as_the_same_flows(flows):
    for flow in flows:
        assert from_stats(stats_from(reference(FlowMod("add", flow), 1))) == flow
