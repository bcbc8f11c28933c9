"""Mutation tests for sdnlab/diff.py: the merge of two pair streams, the order of segments and the words of the text.

Expected answers, by hand: in SIX, a..f are in VLAN 10 (no name) on one bridge, so they make 6*5/2 = 15
reachable pairs, and u-v one more, untagged: 16 in all. MOVED is SIX with f alone in VLAN 20: the
five pairs of f are lost and nothing is gained.
"""

from __future__ import annotations

from sdnlab import analyse, loads
from sdnlab.diff import _merge, by_segment, diff, diff_text, segment_lines

SIX_TEXT = """
name: six
vlans: {10: {}, 20: {}}
bridges: {br: {type: ovs}}
endpoints:
  a: {type: host, nics: [{bridge: br, tag: 10}]}
  b: {type: host, nics: [{bridge: br, tag: 10}]}
  c: {type: host, nics: [{bridge: br, tag: 10}]}
  d: {type: host, nics: [{bridge: br, tag: 10}]}
  e: {type: host, nics: [{bridge: br, tag: 10}]}
  f: {type: host, nics: [{bridge: br, tag: 10}]}
  u: {type: host, nics: [{bridge: br}]}
  v: {type: host, nics: [{bridge: br}]}
"""
SIX = analyse(loads(SIX_TEXT, "six.yaml"))
MOVED = analyse(loads(SIX_TEXT.replace("f: {type: host, nics: [{bridge: br, tag: 10}]}", "f: {type: host, nics: [{bridge: br, tag: 20}]}"),
                      "moved.yaml"))
VLAN10 = [(x, y) for i, x in enumerate("abcdef") for y in "abcdef"[i + 1:]]  # the 15 pairs, sorted


def test_merge_yields_the_pairs_of_one_side_only_with_their_side():
    before = [("a", "b"), ("a", "c"), ("c", "d")]
    after = [("a", "c"), ("b", "c"), ("c", "d"), ("d", "e")]
    assert list(_merge(iter(before), iter(after))) == [(("a", "b"), "before"), (("b", "c"), "after"), (("d", "e"), "after")]


def test_merge_of_an_empty_stream():
    assert list(_merge(iter([]), iter([("a", "b")]))) == [(("a", "b"), "after")]
    assert list(_merge(iter([("a", "b")]), iter([]))) == [(("a", "b"), "before")]
    assert list(_merge(iter([]), iter([]))) == []


def test_by_segment_puts_vlans_before_untagged():
    # The untagged pair first: the segments come out sorted all the same (an int and a str: segment_key sorts them).
    groups = by_segment(SIX, [("u", "v"), ("a", "b")])
    assert list(groups.items()) == [(10, [("a", "b")]), ("untagged", [("u", "v")])]


def test_segment_lines_show_twelve_pairs_then_count_the_rest():
    assert VLAN10[:12] == [("a", "b"), ("a", "c"), ("a", "d"), ("a", "e"), ("a", "f"), ("b", "c"), ("b", "d"), ("b", "e"),
                           ("b", "f"), ("c", "d"), ("c", "e"), ("c", "f")]
    twelve = "a-b a-c a-d a-e a-f b-c b-d b-e b-f c-d c-e c-f"
    # Exactly twelve: all of them and no count; fifteen: twelve and '+3'. "10" is padded to the width of "untagged".
    assert segment_lines(SIX, VLAN10[:12]) == [f"  10  {twelve}"]
    assert segment_lines(SIX, VLAN10 + [("u", "v")]) == [f"  10        {twelve} ... (+3; --json lists every pair)", "  untagged  u-v"]


def test_the_text_of_the_same_reachability_counts_pairs():
    assert diff_text(diff(SIX, SIX)) == "six.yaml -> six.yaml: same reachability (16 reachable pairs)"


def test_the_text_lists_what_was_lost_when_nothing_was_gained():
    result = diff(SIX, MOVED)
    assert (result.gained, result.lost) == ((), (("a", "f"), ("b", "f"), ("c", "f"), ("d", "f"), ("e", "f")))
    assert diff_text(result).splitlines() == [
        "six.yaml -> moved.yaml: reachability differs: 0 pairs gained, 5 pairs lost",
        "Gained: none",
        "Lost (reachable in six.yaml, not in moved.yaml)",
        "  10  a-f b-f c-f d-f e-f",
    ]
    assert diff_text(diff(MOVED, SIX)).splitlines()[0] == "moved.yaml -> six.yaml: reachability differs: 5 pairs gained, 0 pairs lost"
