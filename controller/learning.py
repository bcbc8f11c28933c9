"""Per-VLAN MAC learning for one bridge: packet-ins in, flow-mods out.

A source is learned as (segment, MAC) -> port with two flows: the learn table
says "this source on this port is known" (so its frames stop coming to the
controller), the forward table sends frames for it straight to its port. Both
expire after `idle_timeout` without traffic; the learn flow reports its
removal so the forward flow goes with it. Pure: the time comes in as `now`.

Each (port, VLAN) learns at most `limit` sources, so a flood of sources in one
VLAN behind a trunk cannot stop another VLAN's hosts behind it from being
learned. A source over its budget leaves nothing behind, neither an entry here
nor a flow: its frames keep coming to the controller (which meters them) and
are only counted (`over_limit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.flows import COOKIE_LEARNED, ETH_QINQ, ETH_VLAN, FORWARD, LEARN, VID_NONE, VID_PRESENT, Flow, FlowMod, Output, PopVlan

PRIO_LEARNED = 100


def is_multicast(mac: str) -> bool:
    return int(mac[:2], 16) & 1 == 1


def frame_fields(data: bytes) -> tuple[str, int, int | None] | None:
    """(source MAC, ethertype, pipeline vlan_vid) of a packet-in, read straight from the frame's bytes.

    An 802.1Q tag is read through: its VLAN, and the ethertype behind it. An
    802.1ad (0x88a8) tag, which OVS matches and forwards as a VLAN like any
    other (no OpenFlow 1.3 match sees the TPID), gives its TPID as the
    ethertype and None as the VLAN: the controller learns nothing behind it
    (core.Core.packet_in), rather than learning it in a segment the switch
    does not forward it in. os-ken's packet library builds an object per
    header; on the packet-in path only these three values are needed.
    """
    if len(data) < 14:
        return None
    src = data[6:12].hex(":")
    ethertype = int.from_bytes(data[12:14], "big")
    if ethertype == ETH_VLAN and len(data) >= 18:
        return src, int.from_bytes(data[16:18], "big"), VID_PRESENT | (int.from_bytes(data[14:16], "big") & 0xFFF)
    if ethertype == ETH_QINQ:
        return src, ethertype, None
    return src, ethertype, VID_NONE



@dataclass(slots=True)
class Entry:
    port: int
    since: float


@dataclass
class MacTable:
    """What one bridge has learned. `access_ports`: ports where the tag is popped on the way out;
    `native`: for a trunk NIC's port with a tag, the one VLAN popped there (its trunks stay tagged)."""

    limit: int = 256  # learned sources per (port, VLAN)
    idle_timeout: int = 300
    access_ports: set[int] = field(default_factory=set)
    native: dict[int, int] = field(default_factory=dict)  # port -> vlan_vid
    entries: dict[tuple[int, str], Entry] = field(default_factory=dict)  # (vid, mac) -> entry
    over_limit: int = 0  # packet-ins from sources not learned because their (port, VLAN) was full
    refused: int = 0  # packet-ins refused before learning (core.Core.packet_in): a VLAN their port does not carry
    per_port: dict[tuple[int, int], int] = field(default_factory=dict)  # entries per (port, vid), kept in step with `entries`

    def count(self, port: int, vid: int | None = None) -> int:
        """Sources learned on `port` in VLAN `vid` (None: in all its VLANs)."""
        if vid is None:
            return sum(n for (p, _), n in self.per_port.items() if p == port)
        return self.per_port.get((port, vid), 0)

    def _put(self, key: tuple[int, str], entry: Entry) -> None:
        self.entries[key] = entry
        budget = (entry.port, key[0])
        self.per_port[budget] = self.per_port.get(budget, 0) + 1

    def _pop(self, key: tuple[int, str]) -> Entry:
        entry = self.entries.pop(key)
        budget = (entry.port, key[0])
        self.per_port[budget] -= 1
        if not self.per_port[budget]:
            del self.per_port[budget]  # a port's VLANs come and go: keep no count for nothing
        return entry

    def packet_in(self, in_port: int, vid: int, src: str, now: float) -> list[FlowMod]:
        """A frame from `src` arrived on `in_port` in segment `vid` and missed the learn table."""
        if is_multicast(src):
            return []  # never learned (classify drops these before they get here)
        key = (vid, src)
        old = self.entries.get(key)
        if old is not None and old.port == in_port:
            return []  # already known: a packet-in that raced the flow-mod
        mods = self._forget(key) if old is not None else []  # it moved: it is not where it was
        if self.count(in_port, vid) >= self.limit:
            self.over_limit += 1
            return mods
        self._put(key, Entry(in_port, now))
        mods.append(FlowMod("add", self._source_flow(vid, in_port, src)))
        mods.append(FlowMod("add", self._destination_flow(vid, in_port, src)))
        return mods

    def expired(self, vid: int, src: str, port: int) -> list[FlowMod]:
        """The switch removed the learn flow of (vid, src) on `port` (idle timeout)."""
        entry = self.entries.get((vid, src))
        if entry is None or entry.port != port:
            return []
        return self._forget((vid, src))

    def forget_ports(self, ports: set[int]) -> list[FlowMod]:
        """Drop everything learned on these ports (gone, down, or their link moved)."""
        mods = []
        for key in [k for k, e in self.entries.items() if e.port in ports]:
            mods += self._forget(key)
        return mods

    def adopt(self, flows: list[Flow], now: float) -> list[FlowMod]:
        """Rebuild the table from learned flows a switch still holds (after a restart).

        Returns the deletes of the flows it cannot keep: those over their
        (port, VLAN)'s budget (a lower limit now, or an older controller's
        flows for over-limit sources), and a source's two flows when they
        disagree on its port (it is relearned from its next frame).
        """
        found: dict[tuple[int, str], dict[str, Flow]] = {}  # (vid, mac) -> {"source"|"destination": flow}
        for flow in flows:
            fields = flow.fields
            if flow.cookie != COOKIE_LEARNED or "vlan_vid" not in fields:
                continue
            if flow.table == LEARN and "eth_src" in fields and "in_port" in fields:
                found.setdefault((fields["vlan_vid"], fields["eth_src"]), {})["source"] = flow
            elif flow.table == FORWARD and "eth_dst" in fields and flow.outputs():
                found.setdefault((fields["vlan_vid"], fields["eth_dst"]), {})["destination"] = flow
        mods = []
        for key in sorted(found):
            held = found[key]
            ports = {held["source"].fields["in_port"]} if "source" in held else set()
            ports |= {held["destination"].outputs()[0]} if "destination" in held else set()
            port = min(ports)
            if len(ports) > 1 or self.count(port, key[0]) >= self.limit or key in self.entries:
                mods += [FlowMod("delete_strict", f) for f in held.values()]
                continue
            self._put(key, Entry(port, now))
        return mods

    def _forget(self, key: tuple[int, str]) -> list[FlowMod]:
        entry = self._pop(key)
        vid, mac = key
        return [
            FlowMod("delete_strict", self._source_flow(vid, entry.port, mac)),
            FlowMod("delete_strict", self._destination_flow(vid, entry.port, mac)),
        ]

    def _source_flow(self, vid: int, port: int, mac: str) -> Flow:
        return Flow.make(
            LEARN, PRIO_LEARNED, {"in_port": port, "vlan_vid": vid, "eth_src": mac}, (), FORWARD,
            cookie=COOKIE_LEARNED, idle_timeout=self.idle_timeout, notify_removal=True,
        )

    def _destination_flow(self, vid: int, port: int, mac: str) -> Flow:
        untagged_here = port in self.access_ports or self.native.get(port) == vid
        pop = (PopVlan(),) if untagged_here and vid != VID_NONE else ()
        return Flow.make(
            FORWARD, PRIO_LEARNED, {"vlan_vid": vid, "eth_dst": mac}, (*pop, Output(port)),
            cookie=COOKIE_LEARNED, idle_timeout=self.idle_timeout,
        )
