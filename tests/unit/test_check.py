"""Every meaning rule of the topology format."""

from __future__ import annotations

from sdnlab import analyse, loads

HEAD = "name: x\nvlans: {10: {}, 20: {}}\n"


def check(body: str):
    return analyse(loads(HEAD + body))


def test_same_bridge_same_segment_reachable_other_segment_isolated():
    a = check("""bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.1/24}]}
  b: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.2/24}]}
  c: {type: host, nics: [{bridge: br, tag: 20, ip: 10.0.0.3/24}]}
  d: {type: host, nics: [{bridge: br, ip: 10.0.0.4/24}]}
""")
    assert a.reachable() == [("a", "b")]
    assert list(a.isolated()) == [("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")]
    assert a.segments == {10: ["a", "b"], 20: ["c"], "untagged": ["d"]}


def test_link_carries_only_its_trunks_and_untagged_flag():
    a = check("""bridges: {p: {type: ovs}, q: {type: ovs}}
endpoints:
  a10: {type: host, nics: [{bridge: p, tag: 10}]}
  b10: {type: host, nics: [{bridge: q, tag: 10}]}
  a20: {type: host, nics: [{bridge: p, tag: 20}]}
  b20: {type: host, nics: [{bridge: q, tag: 20}]}
  au: {type: host, nics: [{bridge: p}]}
  bu: {type: host, nics: [{bridge: q}]}
links: [{between: [p, q], trunks: [10], untagged: false}]
""")
    assert a.reachable() == [("a10", "b10")]


def test_empty_trunks_carry_only_untagged():
    a = check("""bridges: {p: {type: ovs}, q: {type: ovs}}
endpoints:
  a10: {type: host, nics: [{bridge: p, tag: 10}]}
  b10: {type: host, nics: [{bridge: q, tag: 10}]}
  au: {type: host, nics: [{bridge: p}]}
  bu: {type: host, nics: [{bridge: q}]}
links: [{between: [p, q], trunks: []}]
""")
    assert a.reachable() == [("au", "bu")]


def test_reachability_is_transitive_over_a_chain_but_needs_every_hop():
    a = check("""bridges: {p: {type: ovs}, q: {type: ovs}, r: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: p, tag: 10}]}
  c: {type: host, nics: [{bridge: r, tag: 10}]}
  x: {type: host, nics: [{bridge: p, tag: 20}]}
  z: {type: host, nics: [{bridge: r, tag: 20}]}
links:
  - {between: [p, q], trunks: [10, 20]}
  - {between: [q, r], trunks: [10]}
""")
    assert a.reachable() == [("a", "c")]


def test_loops_and_parallel_links_change_nothing():
    ring = """bridges: {p: {type: ovs}, q: {type: ovs}, r: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: p, tag: 10}]}
  b: {type: host, nics: [{bridge: q, tag: 10}]}
  c: {type: host, nics: [{bridge: r, tag: 10}]}
links:
  - {between: [p, q]}
  - {between: [q, r]}
"""
    line = check(ring)
    loop = check(ring + "  - {between: [r, p]}\n  - {between: [p, q]}\n")
    assert line.reachable() == loop.reachable() == [("a", "b"), ("a", "c"), ("b", "c")]


def test_endpoint_with_two_nics_reaches_through_either():
    a = check("""bridges: {p: {type: ovs}, q: {type: ovs}}
endpoints:
  router: {type: kvm, nics: [{bridge: p, tag: 10}, {bridge: q, tag: 20}]}
  a: {type: host, nics: [{bridge: p, tag: 10}]}
  b: {type: host, nics: [{bridge: q, tag: 20}]}
""")
    assert a.reachable() == [("a", "router"), ("b", "router")]
    assert not a.is_reachable("a", "b")
    assert a.segments == {10: ["a", "router"], 20: ["b", "router"]}


def test_untagged_on_linux_bridge_joins_ovs_untagged():
    a = check("""bridges: {o: {type: ovs}, l: {type: linux}}
endpoints:
  a: {type: host, nics: [{bridge: o}]}
  b: {type: host, nics: [{bridge: l}]}
  t: {type: host, nics: [{bridge: o, tag: 10}]}
links: [{between: [o, l]}]
""")
    assert a.reachable() == [("a", "b")]


def test_warnings_for_reachable_pairs_that_cannot_ping():
    a = check("""bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.1/24}]}
  b: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.1.1/24}]}
  c: {type: host, nics: [{bridge: br, tag: 10}]}
  d: {type: host, nics: [{bridge: br, tag: 20, ip: 10.0.2.1/24}]}
  e: {type: host, nics: [{bridge: br, tag: 20, ip: 10.0.2.2/16}]}
""")
    warned = {w.pair: w.message for w in a.warnings}
    assert set(warned) == {("a", "b"), ("a", "c"), ("b", "c")}  # d/e: each inside the other's subnet
    assert "not in one IPv4 subnet" in warned[("a", "b")]
    assert "c has no address" in warned[("a", "c")]


def test_no_warning_when_another_nic_pair_can_ping():
    a = check("""bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10}, {bridge: br, tag: 20, ip: 10.0.0.1/24}]}
  b: {type: host, nics: [{bridge: br, tag: 10}, {bridge: br, tag: 20, ip: 10.0.0.2/24}]}
""")
    assert a.reachable() == [("a", "b")]
    assert a.warnings == []


def test_json_shape_matches_the_format_document():
    a = check("""bridges: {br: {type: ovs}}
endpoints:
  b: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.2/24}]}
  a: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.1/24}]}
  z: {type: host, nics: [{bridge: br}]}
""").to_json()
    assert list(a) == ["topology", "valid", "errors", "warnings", "segments", "reachable", "isolated"]
    assert a["segments"] == {"10": ["a", "b"], "untagged": ["z"]}
    assert a["reachable"] == [["a", "b"]]
    assert a["isolated"] == [["a", "z"], ["b", "z"]]
