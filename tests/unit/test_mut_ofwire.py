"""Mutation tests for controller/ofwire.py: fields at the edges of their ranges, byte for byte as os-ken writes them."""

from __future__ import annotations

from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller import ofwire
from controller.flows import Flow, FlowMod, Output
from tests.unit.test_ofwire import Datapath, reference


def test_a_barrier_with_the_largest_xid():
    msg = parser.OFPBarrierRequest(Datapath())
    msg.set_xid(0xFFFFFFFF)
    msg.serialize()
    assert ofwire.barrier(0xFFFFFFFF) == bytes(msg.buf)


def test_a_goto_to_a_high_table_and_a_long_action_list():
    # An unchecked flow, as a switch may hold it: a goto to table 200, and outputs to 2100 ports (33,600 bytes of actions).
    flow = Flow(100, 5, (("in_port", 1),), tuple(Output(p) for p in range(1, 2101)), 200, 0x5D1A000000000001)
    for command in ("add", "delete_strict"):
        assert ofwire.flow_mod(FlowMod(command, flow), 0xFFFFFFFF) == reference(FlowMod(command, flow), 0xFFFFFFFF)
