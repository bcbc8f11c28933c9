"""Mutation tests for sdnlab/check.py: the ping warnings' words and the JSON of a check."""

from __future__ import annotations

from sdnlab import analyse, loads
from sdnlab.check import NO_ADDRESS, PingWarning, WarningSummary

TOPOLOGY = loads("""
name: warn
vlans: {10: {name: web}, 20: {}}
bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.1/24}]}
  b: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.1.2/24}]}
  c: {type: host, nics: [{bridge: br, tag: 10}]}
  d: {type: host, nics: [{bridge: br, tag: 10}]}
  u: {type: host, nics: [{bridge: br, ip: 10.5.0.1/24}]}
  v: {type: host, nics: [{bridge: br}]}
  w: {type: host, nics: [{bridge: br, tag: 20, ip: 10.2.0.1/24}]}
  x: {type: host, nics: [{bridge: br, tag: 20, ip: 10.2.0.2/24}]}
""")


def test_each_ping_warning_says_why_in_words():
    analysis = analyse(TOPOLOGY)
    head = "{} and {} are L2-reachable (in {}) but cannot ping: "
    assert [(w.pair, w.segments, w.message) for w in analysis.warnings] == [
        (("a", "b"), (10,), head.format("a", "b", "10 (web)") + "10.0.0.1/24 and 10.0.1.2/24 are not in one IPv4 subnet"),
        (("a", "c"), (10,), head.format("a", "c", "10 (web)") + "c has no address there"),
        (("a", "d"), (10,), head.format("a", "d", "10 (web)") + "d has no address there"),
        (("b", "c"), (10,), head.format("b", "c", "10 (web)") + "c has no address there"),
        (("b", "d"), (10,), head.format("b", "d", "10 (web)") + "d has no address there"),
        (("c", "d"), (10,), head.format("c", "d", "10 (web)") + "c and d have no address there"),
        (("u", "v"), ("untagged",), head.format("u", "v", "the untagged segment") + "v has no address there"),
    ]


def test_the_json_of_a_check_and_of_its_warnings():
    out = analyse(TOPOLOGY).to_json()
    assert out["topology"] == "warn" and out["valid"] is True and out["errors"] == []
    assert out["warnings"][0] == {"pair": ["a", "b"], "segments": ["10"],
                                  "message": "a and b are L2-reachable (in 10 (web)) but cannot ping: 10.0.0.1/24 and 10.0.1.2/24 are not in one IPv4 subnet"}
    assert out["warnings"][-1]["segments"] == ["untagged"]
    assert out["segments"] == {"10": ["a", "b", "c", "d"], "20": ["w", "x"], "untagged": ["u", "v"]}
    assert ["w", "x"] in out["reachable"] and ["a", "u"] in out["isolated"]


def test_reach_classes_name_their_bridges():
    topology = loads("""
name: classes
vlans: {10: {}}
bridges: {br1: {type: ovs}, br2: {type: ovs}, br3: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br1, tag: 10}]}
  b: {type: host, nics: [{bridge: br2, tag: 10}]}
  c: {type: host, nics: [{bridge: br3, tag: 10}]}
links: [{between: [br1, br2]}]
""")
    assert [(c.segment, c.bridges, c.endpoints) for c in analyse(topology).classes] == [
        (10, frozenset({"br1", "br2"}), ("a", "b")), (10, frozenset({"br3"}), ("c",))]


def test_a_pair_clean_in_separate_segments_is_still_warned_about_where_it_cannot_ping():
    # a pings c in VLAN 10 and b pings d in VLAN 20; a and b meet only in VLAN 30, without addresses.
    topology = loads("""
name: clean
vlans: {10: {}, 20: {}, 30: {}}
bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10, ip: 10.1.0.1/24}, {bridge: br, tag: 30}]}
  c: {type: host, nics: [{bridge: br, tag: 10, ip: 10.1.0.3/24}]}
  b: {type: host, nics: [{bridge: br, tag: 20, ip: 10.2.0.2/24}, {bridge: br, tag: 30}]}
  d: {type: host, nics: [{bridge: br, tag: 20, ip: 10.2.0.4/24}]}
""")
    assert [(w.pair, w.message) for w in analyse(topology).warnings] == [
        (("a", "b"), "a and b are L2-reachable (in 30) but cannot ping: a and b have no address there")]


def test_pairs_after_one_that_pings_elsewhere_are_still_looked_at():
    # a and b ping each other in VLAN 10; in VLAN 30 nobody has an address: a-e and b-e cannot ping.
    topology = loads("""
name: later
vlans: {10: {}, 30: {}}
bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10, ip: 10.1.0.1/24}, {bridge: br, tag: 30}]}
  b: {type: host, nics: [{bridge: br, tag: 10, ip: 10.1.0.2/24}, {bridge: br, tag: 30}]}
  e: {type: host, nics: [{bridge: br, tag: 30}]}
""")
    assert [w.pair for w in analyse(topology).warnings] == [("a", "e"), ("b", "e")]


def test_a_summary_keeps_examples_up_to_the_limit_and_says_whether_it_kept_one():
    summary = WarningSummary()
    one, two, three = (PingWarning((f"a{i}", "b"), (10,), "m") for i in range(3))
    assert (summary.example(one, 2), summary.example(two, 2), summary.example(three, 2)) == (True, True, False)
    assert summary.examples == {NO_ADDRESS: [one, two]}


def test_a_summary_of_endpoints_without_addresses_gives_the_first_examples():
    # a b c d in VLAN 10 without addresses: 4*3/2 = 6 pairs; the first three examples are a's.
    # e is alone in VLAN 20 without an address: no pair, so no kind counted for it.
    topology = loads("""
name: bare
vlans: {10: {}, 20: {}}
bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10}]}
  b: {type: host, nics: [{bridge: br, tag: 10}]}
  c: {type: host, nics: [{bridge: br, tag: 10}]}
  d: {type: host, nics: [{bridge: br, tag: 10}]}
  e: {type: host, nics: [{bridge: br, tag: 20}]}
""")
    summary = analyse(topology).warning_summary(3)
    assert (summary.total, dict(summary.counts)) == (6, {NO_ADDRESS: 6})
    assert [w.pair for w in summary.examples[NO_ADDRESS]] == [("a", "b"), ("a", "c"), ("a", "d")]
    lone = analyse(loads("""
name: lone
vlans: {20: {}}
bridges: {br: {type: ovs}}
endpoints:
  e: {type: host, nics: [{bridge: br, tag: 20}]}
  f: {type: host, nics: [{bridge: br, ip: 10.0.0.1/24}]}
  g: {type: host, nics: [{bridge: br, ip: 10.0.0.2/24}]}
""")).warning_summary()
    assert (lone.total, dict(lone.counts), lone.examples) == (0, {}, {})


def test_two_endpoints_in_a_vlan_and_untagged_share_both_in_segment_order():
    topology = loads("""
name: both
vlans: {10: {}}
bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br}, {bridge: br, tag: 10}]}
  b: {type: host, nics: [{bridge: br}, {bridge: br, tag: 10}]}
""")
    assert analyse(topology).shared_segments("a", "b") == (10, "untagged")
