"""Mutation tests for controller/normal.py: copying settings, an explicit trunk with a tag, comparing settings, and TPIDs kept.

Expected answers, by hand, from the rules in controller/normal.py's docstring.
"""

from __future__ import annotations

from types import SimpleNamespace

from controller.normal import NormalBridge, VlanSettings
from controller.oftable import Frame

TRUNK = VlanSettings(None, frozenset({10, 20}))
BROADCAST = "ff:ff:ff:ff:ff:ff"


def test_like_copies_every_column():
    assert VlanSettings.like(SimpleNamespace(tag=10, trunks=[30, 20], mode="native-untagged")) == VlanSettings(
        10, frozenset({20, 30}), "native-untagged")


def test_vlan_mode_trunk_puts_untagged_frames_in_vlan_0_whatever_its_tag():
    explicit = VlanSettings(10, mode="trunk")  # the tag is ignored by vlan_mode=trunk
    assert explicit.ingress(None) == 0 and explicit.ingress(0) == 0 and explicit.ingress(30) == 30
    assert VlanSettings(10, frozenset({10}), "trunk").ingress(None) is None  # VLAN 0 not among its trunks


def test_settings_that_differ_only_on_a_vlan_neither_names_do_not_forward_alike():
    # Both native-untagged with native VLAN 1: the first carries every VLAN, the second only 1 and 5.
    # VLANs 0, 1 and 5 (the named ones) go alike; VLAN 2, named by neither, does not (tagged by one, dropped by the other).
    every = VlanSettings(1, mode="native-untagged")
    five = VlanSettings(1, frozenset({5}), "native-untagged")
    assert (every.egress(2), five.egress(2)) == ((2,), None)
    assert not every.forwards_like(five) and not five.forwards_like(every)
    assert every.forwards_like(VlanSettings(1, mode="native-untagged"))


def test_a_tagged_frame_keeps_its_tpid_where_it_leaves_tagged():
    bridge = NormalBridge({1: TRUNK, 2: TRUNK, 3: VlanSettings(10)})
    out = dict(bridge.process(1, Frame("02:00:00:00:00:01", BROADCAST, vlans=(10,), tpid=0x88A8)).outputs)
    assert (out[2].vlans, out[2].tpid) == ((10,), 0x88A8)
    assert (out[3].vlans, out[3].tpid) == ((), 0x8100)
    assert sorted(out) == [2, 3]
