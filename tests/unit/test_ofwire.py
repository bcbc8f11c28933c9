"""Our direct OpenFlow 1.3 encoding equals os-ken's, byte for byte, for every flow the core makes."""

from __future__ import annotations

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller import ofwire
from controller.flows import COOKIE_MASK, Flow, FlowMod
from controller.oftable import Frame
from controller.simlab import SimulatedLab
from sdnlab import load
from tests.conftest import TOPOLOGIES


class Datapath:
    ofproto, ofproto_parser = ofp, parser


def reference(mod: FlowMod, xid: int) -> bytes:
    """The same flow-mod built and serialised by os-ken."""
    flow = mod.flow
    actions = []
    for action in flow.actions:
        kind = action[0]
        if kind == "output":
            actions.append(parser.OFPActionOutput(action[1]))
        elif kind == "push_vlan":
            actions.append(parser.OFPActionPushVlan(0x8100))
        elif kind == "set_vlan":
            actions.append(parser.OFPActionSetField(vlan_vid=action[1]))
        elif kind == "pop_vlan":
            actions.append(parser.OFPActionPopVlan())
        elif kind == "controller":
            actions.append(parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER))
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
    assert {a[0] for f in FLOWS for a in f.actions} == {"output", "push_vlan", "set_vlan", "pop_vlan", "controller"}


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
