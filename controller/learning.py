"""Per-VLAN MAC learning for one bridge: packet-ins in, flow-mods out.

A source is learned as (segment, MAC) -> port with two flows: table 1 says
"this source on this port is known" (so its frames stop coming to the
controller), table 2 sends frames for it straight to its port. Both expire
after `idle_timeout` without traffic; the table-1 flow reports its removal so
the table-2 flow goes with it. Pure: the time comes in as `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.flows import COOKIE_LEARNED, FORWARD, LEARN, VID_NONE, Flow, FlowMod, Output, PopVlan

PRIO_LEARNED = 100


def is_multicast(mac: str) -> bool:
    return int(mac[:2], 16) & 1 == 1


@dataclass
class Entry:
    port: int
    since: float
    learned: bool  # False: over the port's limit, only silenced (no table-2 flow)


@dataclass
class MacTable:
    """What one bridge has learned. `access_ports`: ports where the tag is popped on the way out."""

    limit: int = 256
    idle_timeout: int = 300
    access_ports: set[int] = field(default_factory=set)
    entries: dict[tuple[int, str], Entry] = field(default_factory=dict)  # (vid, mac) -> entry
    over_limit: int = 0  # sources not learned because their port was full
    per_port: dict[int, int] = field(default_factory=dict)  # learned entries per port, kept in step with `entries`

    def count(self, port: int) -> int:
        return self.per_port.get(port, 0)

    def _put(self, key: tuple[int, str], entry: Entry) -> None:
        self.entries[key] = entry
        if entry.learned:
            self.per_port[entry.port] = self.per_port.get(entry.port, 0) + 1

    def _pop(self, key: tuple[int, str]) -> Entry:
        entry = self.entries.pop(key)
        if entry.learned:
            self.per_port[entry.port] -= 1
        return entry

    def packet_in(self, in_port: int, vid: int, src: str, now: float) -> list[FlowMod]:
        """A frame from `src` arrived on `in_port` in segment `vid` and missed table 1."""
        if is_multicast(src):
            return []  # never learned (table 0 drops these before they get here)
        key = (vid, src)
        old = self.entries.get(key)
        if old is not None and old.port == in_port:
            return []  # already known: a packet-in that raced the flow-mod
        mods = self._forget(key) if old is not None else []
        learned = self.count(in_port) < self.limit
        if not learned:
            self.over_limit += 1
        self._put(key, Entry(in_port, now, learned))
        mods.append(FlowMod("add", self._source_flow(vid, in_port, src)))
        if learned:
            mods.append(FlowMod("add", self._destination_flow(vid, in_port, src)))
        return mods

    def expired(self, vid: int, src: str, port: int) -> list[FlowMod]:
        """The switch removed the table-1 flow of (vid, src) on `port` (idle timeout)."""
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

    def adopt(self, flows: list[Flow], now: float) -> None:
        """Rebuild the table from learned flows a switch still holds (after a restart)."""
        for flow in flows:
            if flow.cookie != COOKIE_LEARNED:
                continue
            fields = flow.fields
            if flow.table == LEARN and "eth_src" in fields:
                key = (fields["vlan_vid"], fields["eth_src"])
                learned = key in self.entries and self.entries[key].learned
                if key in self.entries:
                    self._pop(key)
                self._put(key, Entry(fields["in_port"], now, learned))
            elif flow.table == FORWARD and "eth_dst" in fields and flow.outputs():
                key = (fields["vlan_vid"], fields["eth_dst"])
                port = self._pop(key).port if key in self.entries else flow.outputs()[0]
                self._put(key, Entry(port, now, True))

    def _forget(self, key: tuple[int, str]) -> list[FlowMod]:
        entry = self._pop(key)
        vid, mac = key
        mods = [FlowMod("delete_strict", self._source_flow(vid, entry.port, mac))]
        if entry.learned:
            mods.append(FlowMod("delete_strict", self._destination_flow(vid, entry.port, mac)))
        return mods

    def _source_flow(self, vid: int, port: int, mac: str) -> Flow:
        return Flow.make(
            LEARN, PRIO_LEARNED, {"in_port": port, "vlan_vid": vid, "eth_src": mac}, (), FORWARD,
            cookie=COOKIE_LEARNED, idle_timeout=self.idle_timeout, notify_removal=True,
        )

    def _destination_flow(self, vid: int, port: int, mac: str) -> Flow:
        pop = (PopVlan(),) if port in self.access_ports and vid != VID_NONE else ()
        return Flow.make(
            FORWARD, PRIO_LEARNED, {"vlan_vid": vid, "eth_dst": mac}, (*pop, Output(port)),
            cookie=COOKIE_LEARNED, idle_timeout=self.idle_timeout,
        )
