"""Mutation tests for controller/actions.py: each action's text, parsing and effect on a frame."""

from __future__ import annotations

import pytest
from os_ken.ofproto import ofproto_v1_3_parser as parser

from controller import actions
from controller.actions import OFPP_CONTROLLER, Output, PopVlan, PushVlan, SetVlan, ToController, Unknown
from controller.oftable import Frame, Result

FRAME = Frame("0a:00:00:00:00:01", "0a:00:00:00:00:02", (10, 20, 30))


def test_how_explain_names_each_action():
    assert [str(a) for a in (Output(3), ToController(), PushVlan(), SetVlan(0x1000 | 5), PopVlan(), Unknown("OFPActionSetQueue"))] == [
        "output 3", "controller", "push_vlan", "set_vlan 4101", "pop_vlan", "unknown OFPActionSetQueue"]


def test_ovs_ofctl_text_of_each_action():
    assert [a.ofctl() for a in (Output(3), ToController(), PushVlan(), SetVlan(4101), PopVlan())] == [
        "output:3", "CONTROLLER:65535", "push_vlan:0x8100", "set_field:4101->vlan_vid", "pop_vlan"]


@pytest.mark.parametrize(
    "text, action",
    [("output:7", Output(7)), ("7", Output(7)), ("CONTROLLER:65535", ToController()), ("controller:65535", ToController()),
     ("push_vlan:0x8100", PushVlan()), ("set_field:4101->vlan_vid", SetVlan(4101)), ("set_field:0x1005->vlan_vid", SetVlan(4101)),
     ("pop_vlan", PopVlan()), ("strip_vlan", PopVlan())],
)
def test_dump_flows_actions_are_parsed(text, action):
    assert actions.parse_ofctl(text) == action


@pytest.mark.parametrize("text", ["output:1:2", "set_field:5->eth_dst", "set_field:x", "5->vlan_vid", "enqueue:1:2", "pop_mpls:0x0800", "Output:3"])
def test_dump_flows_actions_that_are_not_ours_are_refused(text):
    with pytest.raises(ValueError):
        actions.parse_ofctl(text)


def test_the_refusal_names_the_action():
    with pytest.raises(ValueError, match="^unsupported action 'bogus'$"):
        actions.parse_ofctl("bogus")


def test_each_parser_answers_only_for_its_own_action():
    assert Output.from_ofctl("pop_vlan") is None and Output.from_ofctl("push_vlan:0x8100") is None
    assert PopVlan.from_ofctl("push_vlan:0x8100") is None and PopVlan.from_ofctl("output:3") is None
    assert PushVlan.from_ofctl("pop_vlan") is None
    assert ToController.from_ofctl("output:3") is None
    assert SetVlan.from_ofctl("set_field:5->eth_dst") is None and SetVlan.from_ofctl("load:5->vlan_vid") is None


def test_os_ken_actions_become_ours_or_unknown():
    assert actions.from_os_ken(parser.OFPActionOutput(4)) == Output(4)
    assert actions.from_os_ken(parser.OFPActionOutput(OFPP_CONTROLLER, 0xFFFF)) == ToController()
    assert actions.from_os_ken(parser.OFPActionPushVlan(0x8100)) == PushVlan()
    assert actions.from_os_ken(parser.OFPActionPopVlan()) == PopVlan()
    assert actions.from_os_ken(parser.OFPActionSetField(vlan_vid=4101)) == SetVlan(4101)
    assert actions.from_os_ken(parser.OFPActionSetField(eth_dst="0a:00:00:00:00:01")) == Unknown("OFPActionSetField")
    assert actions.from_os_ken(parser.OFPActionSetQueue(1)) == Unknown("OFPActionSetQueue")
    assert PopVlan.from_os_ken(parser.OFPActionPushVlan(0x8100)) is None
    assert PushVlan.from_os_ken(parser.OFPActionPopVlan()) is None
    assert Output.from_os_ken(parser.OFPActionPopVlan()) is None
    assert ToController.from_os_ken(parser.OFPActionOutput(4)) is None


def test_what_each_action_does_to_a_frame():
    result = Result()
    assert PushVlan().apply(FRAME, 1, result) == Frame(FRAME.src, FRAME.dst, (0, 10, 20, 30))
    assert PushVlan().apply(Frame("a", "b"), 1, result).vlans == (0,)
    assert SetVlan(0x1000 | 99).apply(FRAME, 1, result).vlans == (99, 20, 30)
    assert PopVlan().apply(FRAME, 1, result).vlans == (20, 30)
    assert Unknown("OFPActionSetQueue").apply(FRAME, 1, result) == FRAME
    assert ToController().apply(FRAME, 1, result) == FRAME
    assert Output(2).apply(FRAME, 1, result) == FRAME
    assert Output(1).apply(FRAME, 1, result) == FRAME  # back out of its own port: dropped, like OVS
    assert result.outputs == [(2, FRAME)] and result.to_controller == [FRAME]


def test_an_unknown_action_cannot_be_written():
    with pytest.raises(ValueError, match="^unknown action OFPActionSetQueue$"):
        Unknown("OFPActionSetQueue").ofctl()
    with pytest.raises(ValueError, match="^cannot encode action OFPActionSetQueue$"):
        Unknown("OFPActionSetQueue").wire()


def test_the_base_action_is_abstract():
    base = actions.Action()
    for method in (base.ofctl, base.wire):
        with pytest.raises(NotImplementedError):
            method()
    with pytest.raises(NotImplementedError):
        base.apply(FRAME, 1, Result())
    assert actions.Action.from_ofctl("output:1") is None and actions.Action.from_os_ken(parser.OFPActionOutput(1)) is None


def test_a_pushed_or_popped_tag_leaves_an_8021q_tag_outermost():
    qinq = Frame(FRAME.src, FRAME.dst, (10, 20), tpid=0x88A8)
    assert PopVlan().apply(qinq, 1, Result()) == Frame(FRAME.src, FRAME.dst, (20,), tpid=0x8100)
    assert PushVlan().apply(qinq, 1, Result()) == Frame(FRAME.src, FRAME.dst, (0, 10, 20), tpid=0x8100)
