"""The match fields our flows use, each declared once for every codec.

A `Field` is everything the controller knows about one match field: its
OpenFlow OXM number and size (the wire encoder, ofwire.py), how `ovs-ofctl`
writes it (Flow.to_ofctl) and which `dump-flows` keys report it (parse_dump),
how the table simulator reads it from a frame and compares it (oftable.py),
and whether it is a MAC (maskable). os-ken's stats replies and flow-removed
messages (app.py) already name fields by their OXM names, the keys of FIELDS.

Adding a match field is one entry in FIELDS; a table may then declare it
(tables.py) and every codec handles it.

Values are in OXM form everywhere in the controller: ints; MACs as
"aa:bb:cc:dd:ee:ff" text, masked as (value, mask); IPv4 addresses (arp_spa)
as dotted text, as os-ken gives them, never masked; vlan_vid as OpenFlow's
0x1000|vid for a tag and 0 (OFPVID_NONE) for none.

The simulator reads a frame as Open vSwitch does with its default
`other_config:vlan-limit=1`: one VLAN header (0x8100 or 0x88a8, which OVS
parses alike) is the VLAN; a second header is not parsed, so its TPID is the
eth_type and nothing behind it (ARP fields included) can be matched.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.oftable import Frame

VID_PRESENT = 0x1000
VID_NONE = 0
ETH_LLDP = 0x88CC
ETH_ARP = 0x0806
ETH_VLAN = 0x8100  # an 802.1Q tag's TPID; behind the one tag OVS parses, it is the eth_type of a double-tagged frame
ETH_QINQ = 0x88A8  # an 802.1ad (service) tag's TPID, which OVS parses as it parses 0x8100

Value = int | str | tuple[str, str]


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _mac_int(text: str) -> int:
    return int(text.replace(":", ""), 16)


@dataclass(frozen=True)
class Field:
    """One OXM OPENFLOW_BASIC match field and how each codec reads and writes it."""

    name: str  # the OXM (and os-ken) name: the key in Flow.match
    number: int  # OXM field number; os-ken writes a match's fields in this order
    size: int  # bytes of the value on the wire
    ofctl: Callable[[Value], str]  # the value as `ovs-ofctl` match text, "key=value"
    dump: Mapping[str, Callable[[str], Value | None]]  # dump-flows keys reporting the field -> their value (None: not this field)
    read: Callable[[Frame, int], Value]  # the simulator: the value for a frame arriving on port `in_port`
    mac: bool = False  # a MAC: may be (value, mask), compared regardless of case
    # OXM headers, computed once: they are on the flow-mod hot path.
    head: bytes = field(init=False, repr=False, compare=False)
    masked_head: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        base = 0x80000000 | self.number << 9  # class OPENFLOW_BASIC, then the field number
        object.__setattr__(self, "head", struct.pack("!I", base | self.size))
        object.__setattr__(self, "masked_head", struct.pack("!I", base | 1 << 8 | self.size * 2))

    def oxm(self, value: Value) -> bytes:
        """The OXM TLV, as os-ken's serialiser writes it."""
        if isinstance(value, tuple):
            if not self.mac:
                raise ValueError(f"{self.name} cannot be masked: only MACs are")
            return self.masked_head + _mac(value[0]) + _mac(value[1])
        if self.mac:
            return self.head + _mac(str(value))
        if isinstance(value, str):  # an IPv4 address, in os-ken's dotted text
            return self.head + IPv4Address(value).packed
        return self.head + int(value).to_bytes(self.size, "big")

    def test(self, want: Value, have: Value) -> bool:
        """Whether a frame's value `have` matches a flow's `want` (the simulator)."""
        if have is None:  # the frame has no such field (ARP fields of a frame that is not ARP)
            return False
        if not self.mac:
            return have == want
        if isinstance(want, tuple):
            value, mask = _mac_int(want[0]), _mac_int(want[1])
            return _mac_int(str(have)) & mask == value & mask
        return str(have).lower() == str(want).lower()


def _mac_field(name: str, number: int, key: str, read: Callable[[Frame, int], str]) -> Field:
    """A MAC field, `key` in ovs-ofctl's words; ovs-ofctl writes a mask after a slash."""

    def ofctl(value: Value) -> str:
        return f"{key}={value[0]}/{value[1]}" if isinstance(value, tuple) else f"{key}={value}"

    def dump(text: str) -> Value:
        return tuple(text.split("/", 1)) if "/" in text else text

    return Field(name, number, 6, ofctl, {key: dump}, read, mac=True)


def _vid_ofctl(value: Value) -> str:
    # "No tag" as dump-flows reports it (the TCI's VID and CFI bits all zero), so what we write reads back equal.
    return "vlan_tci=0x0000/0x1fff" if value == VID_NONE else f"dl_vlan={int(value) & 0xFFF}"


def _vid_of_tci(text: str) -> int | None:
    return VID_NONE if text == "0x0000/0x1fff" else None  # other TCI matches are not ours


def _vid_read(frame: Frame, in_port: int) -> int:
    return VID_PRESENT | frame.vlans[0] if frame.vlans else VID_NONE


def _eth_type_read(frame: Frame, in_port: int) -> int:
    # OVS parses one VLAN header (vlan-limit=1); a second one's TPID is what eth_type then holds.
    # The simulator's inner tags are 802.1Q (only the outermost tag's TPID is modelled: Frame.tpid).
    return ETH_VLAN if len(frame.vlans) > 1 else frame.eth_type


def _arp_read(read: Callable[[Frame], str]) -> Callable[[Frame, int], str | None]:
    # ARP fields exist only where OVS sees an ARP frame (not behind a second tag).
    return lambda frame, in_port: read(frame) if _eth_type_read(frame, in_port) == ETH_ARP else None


# In OXM number order (the order os-ken writes them in).
FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field(
            "in_port", number=0, size=4,
            ofctl=lambda v: f"in_port={v}",
            dump={"in_port": int},
            read=lambda frame, in_port: in_port,
        ),
        _mac_field("eth_dst", number=3, key="dl_dst", read=lambda frame, in_port: frame.dst),
        _mac_field("eth_src", number=4, key="dl_src", read=lambda frame, in_port: frame.src),
        Field(
            "eth_type", number=5, size=2,
            ofctl=lambda v: f"dl_type={int(v):#06x}",
            # dump-flows writes dl_type=0x0806 as the word `arp`.
            dump={"dl_type": lambda text: int(text, 16), "lldp": lambda text: ETH_LLDP, "arp": lambda text: ETH_ARP},
            read=_eth_type_read,
        ),
        Field(
            "vlan_vid", number=6, size=2,
            ofctl=_vid_ofctl,
            dump={"dl_vlan": lambda text: VID_PRESENT | int(text), "vlan_tci": _vid_of_tci},
            read=_vid_read,
        ),
        # ARP sender protocol and hardware addresses (the source guard, pipeline.py); OVS needs dl_type=0x0806 with them.
        Field(
            "arp_spa", number=22, size=4,
            ofctl=lambda v: f"arp_spa={v}",
            dump={"arp_spa": str},
            read=_arp_read(lambda frame: frame.arp_spa),
        ),
        _mac_field("arp_sha", number=24, key="arp_sha", read=_arp_read(lambda frame: frame.arp_sha or frame.src)),
    )
}

# dump-flows key -> (field, its parser), for parse_dump.
_DUMP_KEYS = {key: (f, parse) for f in FIELDS.values() for key, parse in f.dump.items()}


def ofctl(match: Iterable[tuple[str, Value]]) -> list[str]:
    """A flow's match as `ovs-ofctl` items."""
    return [FIELDS[name].ofctl(value) for name, value in match]


def from_dump(items: Mapping[str, str]) -> dict[str, Value]:
    """The match in one dump-flows line's key=value items; keys that are no match field of ours are ignored."""
    match: dict[str, Value] = {}
    for key, text in items.items():
        known = _DUMP_KEYS.get(key)
        if known is not None:
            value = known[1](text)
            if value is not None:
                match[known[0].name] = value
    return match


def from_os_ken(items: Iterable[tuple[str, object]]) -> dict[str, object]:
    """The match of an os-ken OFPMatch (stats replies, flow-removed messages).

    os-ken names fields by their OXM names, the keys of FIELDS, and gives values
    in OXM form (a masked MAC as (value, mask)), so they are taken as they are.
    Fields we do not know are kept too, so such a flow equals none we want.
    """
    return dict(items)


def read_frame(frame: Frame, in_port: int) -> dict[str, Value]:
    """Every field's value for a frame arriving on `in_port` (the simulator)."""
    return {f.name: f.read(frame, in_port) for f in FIELDS.values()}


def matches(match: Iterable[tuple[str, Value]], values: Mapping[str, Value]) -> bool:
    """Whether a flow's match holds for these field values (the simulator)."""
    for name, want in match:
        have = values[name]
        # Equal values always match; only then-unequal ones need the field's own test (masks, MAC case).
        if have != want and not FIELDS[name].test(want, have):
            return False
    return True
