"""Confirming links with LLDP: frames the controller sends out of link ports,
and a pure record of which declared links were seen, and what was seen that
the file does not declare."""

from __future__ import annotations

from dataclasses import dataclass, field

from os_ken.lib.packet import ethernet, lldp, packet

from controller.state import Binding

LLDP_MAC = lldp.LLDP_MAC_NEAREST_BRIDGE
CHASSIS_PREFIX = "dpid:"


def build(dpid: int, port: int, src_mac: str = "02:5d:1a:00:00:00") -> bytes:
    """An LLDP frame saying 'this is port `port` of switch `dpid`'."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(LLDP_MAC, src_mac, ethernet.ether.ETH_TYPE_LLDP))
    tlvs = (
        lldp.ChassisID(subtype=lldp.ChassisID.SUB_LOCALLY_ASSIGNED, chassis_id=f"{CHASSIS_PREFIX}{dpid:016x}".encode()),
        lldp.PortID(subtype=lldp.PortID.SUB_PORT_COMPONENT, port_id=str(port).encode()),
        lldp.TTL(ttl=120),
        lldp.End(),
    )
    pkt.add_protocol(lldp.lldp(tlvs))
    pkt.serialize()
    return bytes(pkt.data)


def parse(data: bytes) -> tuple[int, int] | None:
    """(dpid, port) from one of our LLDP frames; None for anybody else's."""
    try:
        pkt = packet.Packet(data)
    except Exception:
        return None
    msg = pkt.get_protocol(lldp.lldp)
    if msg is None or len(msg.tlvs) < 2:
        return None
    chassis, port = msg.tlvs[0], msg.tlvs[1]
    if not isinstance(chassis, lldp.ChassisID) or not chassis.chassis_id.startswith(CHASSIS_PREFIX.encode()):
        return None
    try:
        return int(chassis.chassis_id[len(CHASSIS_PREFIX) :], 16), int(port.port_id)
    except ValueError:
        return None


End = tuple[str, int]  # (bridge, port)

REPORT_INTERVAL = 60.0  # seconds between two reports of undeclared links seen on one port
REPORT_MEMORY = 1024  # ports whose last report is remembered


@dataclass
class LinkCheck:
    """What LLDP has shown about the declared links. Pure: the time comes in as `now`.

    Reports of undeclared links are bounded, because anybody on a port can
    send LLDP claiming to be any port of any switch: at most one per receiving
    port (a real port of ours, whatever the frame claims) per `interval`, and
    at most `memory` ports remembered; past that, reports are left out
    (counted in `unreported`) rather than memory grown.
    """

    declared: dict[str, tuple[str, str]]  # link id -> its two bridges
    confirmed: set[str] = field(default_factory=set)
    heard: dict[str, float] = field(default_factory=dict)  # link id -> when LLDP last crossed it
    reported: dict[End, float] = field(default_factory=dict)  # receiving port -> when it was last reported, oldest first
    interval: float = REPORT_INTERVAL
    memory: int = REPORT_MEMORY
    unreported: int = 0

    def observe(self, here: End, here_binding: Binding | None, there: End, there_binding: Binding | None, now: float) -> str | None:
        """An LLDP frame sent from `there` arrived at `here`; return a message when something new was learned."""
        if (
            here_binding is not None
            and here_binding == there_binding
            and here_binding.kind == "link"
            and set(self.declared.get(here_binding.id, ())) == {here[0], there[0]}
        ):
            link = here_binding.id
            self.heard[link] = now
            if link in self.confirmed:
                return None
            self.confirmed.add(link)
            return f"link {link} confirmed by LLDP: {there[0]} port {there[1]} <-> {here[0]} port {here[1]}"
        # Forget reports older than the interval (the dict is in report order, so they are at its front).
        while self.reported:
            oldest = next(iter(self.reported))
            if now - self.reported[oldest] < self.interval:
                break
            del self.reported[oldest]
        if here in self.reported or len(self.reported) >= self.memory:
            self.unreported += 1
            return None
        self.reported[here] = now
        return (
            f"link seen but not declared: {there[0]} port {there[1]} ({_name(there_binding)}) <-> "
            f"{here[0]} port {here[1]} ({_name(here_binding)})"
        )

    def silent(self, watched: dict[str, float], now: float, after: float) -> set[str]:
        """The links of `watched` (link id -> since when LLDP could cross it: both ends connected, and we send it)
        that LLDP has not crossed for `after` seconds, that long after they could. A tunnel's port stays up when
        the network under it is cut: only its silence tells."""
        return {link for link, since in watched.items() if now - max(since, self.heard.get(link, since)) > after}

    def missing(self) -> list[str]:
        """Declared links LLDP has not confirmed (yet)."""
        return sorted(set(self.declared) - self.confirmed)


def _name(binding: Binding | None) -> str:
    return "unbound" if binding is None else f"{binding.kind} {binding.id}"
