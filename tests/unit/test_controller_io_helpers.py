"""Small pure pieces of the controller's I/O side: LLDP, the packet-in bucket, frame fields."""

from __future__ import annotations

from controller import lldp
from controller.app import TokenBucket, frame_fields
from controller.state import Binding


def test_lldp_round_trip_and_foreign_frames():
    frame = lldp.build(0x1234, 7)
    assert frame[:6] == bytes.fromhex("0180c200000e") and frame[12:14] == b"\x88\xcc"
    assert lldp.parse(frame) == (0x1234, 7)
    assert lldp.parse(b"\x00" * 60) is None
    assert lldp.parse(frame[:20]) is None


def test_link_check_confirms_declared_and_reports_undeclared_once():
    check = lldp.LinkCheck({"l12": ("br1", "br2"), "l23": ("br2", "br3")})
    link = Binding("link", "l12")
    assert "confirmed" in check.observe(("br2", 3), link, ("br1", 4), link, 0.0)
    assert check.observe(("br2", 3), link, ("br1", 4), link, 0.0) is None
    assert check.missing() == ["l23"]
    # A cable plugged between a NIC port and a link port: seen, not declared.
    message = check.observe(("br3", 1), Binding("nic", "h3.0"), ("br1", 4), link, 0.0)
    assert "not declared" in message and "nic h3.0" in message
    assert check.observe(("br3", 1), Binding("nic", "h3.0"), ("br1", 4), link, 1.0) is None
    # A link binding joining the wrong bridges is not a confirmation either.
    assert "not declared" in check.observe(("br3", 9), Binding("link", "l12"), ("br1", 8), link, 1.0)


def test_token_bucket_limits_and_refills():
    bucket = TokenBucket(rate=10)
    allowed = sum(bucket.allow("br", 0.0) for _ in range(50))
    assert allowed == 10 and bucket.dropped == 40
    assert bucket.allow("br", 0.5)  # half a second refills five
    assert bucket.allow("other", 0.0)  # per switch


def test_frame_fields():
    untagged = bytes.fromhex("ffffffffffff" "020000000001" "0800") + bytes(46)
    assert frame_fields(untagged) == ("02:00:00:00:00:01", 0x0800, 0)
    tagged = bytes.fromhex("ffffffffffff" "020000000002" "8100" "000a" "0806") + bytes(46)
    assert frame_fields(tagged) == ("02:00:00:00:00:02", 0x0806, 0x1000 | 10)
    assert frame_fields(b"\x00" * 10) is None
