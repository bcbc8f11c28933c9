"""Sets of VLAN ids as sorted ranges, and the spellings Proxmox, ifupdown2 and OVS use for them.

A trunk of `2-4094` is one range here, never 4,093 numbers: imports keep ranges
until they know which VLANs matter (see `reduce.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MIN_VID, MAX_VID = 1, 4094
_RANGE = re.compile(r"(\d+)(?:-(\d+))?\Z")


@dataclass(frozen=True)
class VlanSet:
    """VLAN ids as sorted, disjoint, non-adjacent inclusive ranges."""

    ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, spans: Iterable[tuple[int, int]]) -> VlanSet:
        merged: list[list[int]] = []
        for lo, hi in sorted(spans):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return cls(tuple((lo, hi) for lo, hi in merged))

    @classmethod
    def ids(cls, vids: Iterable[int]) -> VlanSet:
        return cls.of((v, v) for v in vids)

    def __contains__(self, vid: object) -> bool:
        return isinstance(vid, int) and any(lo <= vid <= hi for lo, hi in self.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.ranges:
            yield from range(lo, hi + 1)

    def __or__(self, other: VlanSet) -> VlanSet:
        return VlanSet.of(self.ranges + other.ranges)

    def __and__(self, other: VlanSet) -> VlanSet:
        out = []
        for lo, hi in self.ranges:
            for olo, ohi in other.ranges:
                a, b = max(lo, olo), min(hi, ohi)
                if a <= b:
                    out.append((a, b))
        return VlanSet.of(out)

    def __sub__(self, other: VlanSet) -> VlanSet:
        out = list(self.ranges)
        for olo, ohi in other.ranges:
            nxt = []
            for lo, hi in out:
                if ohi < lo or olo > hi:
                    nxt.append((lo, hi))
                    continue
                if lo < olo:
                    nxt.append((lo, olo - 1))
                if ohi < hi:
                    nxt.append((ohi + 1, hi))
            out = nxt
        return VlanSet.of(out)

    def text(self, sep: str = ";") -> str:
        """'10-20;30' (Proxmox VM trunks); `sep=' '` gives ifupdown2's bridge-vids."""
        return sep.join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ranges)

    def __str__(self) -> str:
        return self.text(", ") or "none"


ALL = VlanSet(((MIN_VID, MAX_VID),))
NONE = VlanSet()


def parse_list(text: str, separators: str, ranges: bool, what: str) -> VlanSet:
    """VLAN ids (and ranges, when allowed) split on any of `separators`; ValueError says what is wrong."""
    parts = [p for p in re.split(f"[{re.escape(separators)}]", text.strip()) if p]
    what = f"{what}: " if what else ""
    if not parts:
        raise ValueError(f"{what}no VLAN given")
    spans = []
    for part in parts:
        m = _RANGE.match(part)
        if not m or (m.group(2) is not None and not ranges):
            hint = "a VLAN id or a range like 10-20" if ranges else "a VLAN id (no ranges here)"
            raise ValueError(f"{what}'{part}' is not {hint}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        for vid in (lo, hi):
            if not MIN_VID <= vid <= MAX_VID:
                raise ValueError(f"{what}VLAN {vid} is not from {MIN_VID} to {MAX_VID}")
        if hi < lo:
            raise ValueError(f"{what}range '{part}' ends before it starts")
        spans.append((lo, hi))
    return VlanSet.of(spans)


def parse_tag(text: str, what: str = "tag") -> int:
    """One VLAN id, 1-4094."""
    if not re.fullmatch(r"\d+", text.strip()):
        raise ValueError(f"{what} '{text}' is not a VLAN id")
    vid = int(text)
    if not MIN_VID <= vid <= MAX_VID:
        raise ValueError(f"{what} {vid} is not from {MIN_VID} to {MAX_VID}")
    return vid
