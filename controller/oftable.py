"""A small OpenFlow 1.3 table simulator, to ask where a frame goes.

It executes the flows the core returns (or flows parsed from a real switch's
dump): highest-priority match per table, apply-actions in order (VLAN push,
set, pop, output, to-controller: each action's `apply` in actions.py), then
goto. Like OVS, an output to the port the frame came in on is dropped. How a
frame's values are read and matched is each field's (fields.FIELDS).
`Fabric` wires several simulated bridges together through their link ports
and follows a frame across all of them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from controller import fields as _fields
from controller.flows import Flow, FlowMod


@dataclass(frozen=True)
class Frame:
    src: str
    dst: str
    vlans: tuple[int, ...] = ()  # VLAN ids, outermost first
    eth_type: int = 0x0800  # the ethertype behind the tags
    arp_spa: str | None = None  # ARP's sender IPv4 address, when eth_type is ARP
    arp_sha: str | None = None  # ARP's sender MAC; None: `src`, as senders normally write it
    # The outermost tag's TPID. OVS matches an 802.1ad (0x88a8) tag as it matches an 802.1Q one,
    # and no OpenFlow match tells them apart; only the controller reading a packet-in does.
    # Tags inside it are 802.1Q, and a tag pushed or popped leaves an 802.1Q tag outermost.
    tpid: int = 0x8100

    def fields(self, in_port: int) -> dict:
        """The value of every match field for this frame arriving on `in_port`."""
        return _fields.read_frame(self, in_port)

    def packet(self) -> bytes:
        """The frame's bytes, as a switch would put them in a packet-in (what app.frame_fields reads)."""
        tags = b"".join((self.tpid if i == 0 else _fields.ETH_VLAN).to_bytes(2, "big") + vid.to_bytes(2, "big")
                        for i, vid in enumerate(self.vlans))
        head = bytes.fromhex(self.dst.replace(":", "") + self.src.replace(":", "")) + tags + self.eth_type.to_bytes(2, "big")
        return (head + bytes(46))[: max(60, len(head))]


def matches(flow: Flow, fields: dict) -> bool:
    return _fields.matches(flow.match, fields)


@dataclass
class Result:
    outputs: list[tuple[int, Frame]] = field(default_factory=list)
    to_controller: list[Frame] = field(default_factory=list)
    path: list[Flow] = field(default_factory=list)  # the flows that matched, in order


class FlowTables:
    """One switch's flow tables."""

    def __init__(self, flows: list[Flow] | None = None):
        self.flows: dict[tuple, Flow] = {}
        for flow in flows or []:
            self.flows[flow.key] = flow

    def apply(self, mods: list[FlowMod]) -> None:
        for mod in mods:
            if mod.command == "add":
                self.flows[mod.flow.key] = mod.flow
            elif mod.command == "delete_strict":
                self.flows.pop(mod.flow.key, None)
            elif mod.command == "delete":
                self.flows = {k: f for k, f in self.flows.items() if not _deleted_by(mod, f)}
            else:
                raise ValueError(mod.command)

    def table(self, number: int) -> list[Flow]:
        return sorted((f for f in self.flows.values() if f.table == number), key=lambda f: -f.priority)

    def process(self, in_port: int, frame: Frame) -> Result:
        result = Result()
        table = 0
        while table is not None:
            fields = frame.fields(in_port)
            flow = next((f for f in self.table(table) if matches(f, fields)), None)
            if flow is None:  # OpenFlow 1.3 table-miss without a flow: drop
                break
            result.path.append(flow)
            for action in flow.actions:
                frame = action.apply(frame, in_port, result)
            # Flow.make refuses backward gotos; flows made unchecked (as a switch reports them) may still hold one.
            if flow.goto is not None and flow.goto <= table:
                raise ValueError(f"goto from table {table} to {flow.goto}: gotos must go forward")
            table = flow.goto
        return result


@dataclass(frozen=True)
class Step:
    """One matching flow of a walk, as plain text and numbers (what `explain` prints, and pictures draw)."""

    table: int
    priority: int
    match: tuple[str, ...]  # "field=value", in the flow's order; empty: it matches anything
    actions: tuple[str, ...]  # its actions, then "goto table N"; empty: the frame is dropped here


def steps(result: Result) -> list[Step]:
    """The walk of `result`: each flow that matched, table by table."""
    return [Step(flow.table, flow.priority, tuple(f"{k}={v}" for k, v in flow.match),
                 tuple(str(action) for action in flow.actions) + ((f"goto table {flow.goto}",) if flow.goto is not None else ()))
            for flow in result.path]


def outcome(result: Result) -> str:
    """Where the frame went: 'port 2 (vlans [10]), port 3 (vlans none)', or 'nowhere: dropped'."""
    outs = ", ".join(f"port {p} (vlans {list(f.vlans) or 'none'})" for p, f in result.outputs)
    return outs or "nowhere: dropped"


def explain(result: Result) -> str:
    """A walk through the tables for people, like ofproto/trace: each matching flow and what came out."""
    lines = []
    for step in steps(result):
        lines.append(f"table {step.table} priority {step.priority}: {','.join(step.match) or '(anything)'}")
        lines.append(f"    -> {', '.join(step.actions) or 'drop'}")
    lines.append(f"out: {outcome(result)}")
    return "\n".join(lines)


def _deleted_by(mod: FlowMod, flow: Flow) -> bool:
    if mod.flow.table != flow.table or (mod.flow.cookie and flow.cookie != mod.flow.cookie):
        return False
    if mod.out_port is not None and mod.out_port not in flow.outputs():
        return False
    fields = dict(flow.match)
    return all(fields.get(k) == v for k, v in mod.flow.match)


class Fabric:
    """Several simulated switches joined by links: (bridge, port) <-> (bridge, port)."""

    def __init__(self):
        self.tables: dict[str, FlowTables] = {}
        self.wires: dict[tuple[str, int], tuple[str, int]] = {}

    def wire(self, a: tuple[str, int], b: tuple[str, int]) -> None:
        self.wires[a] = b
        self.wires[b] = a

    def send(self, bridge: str, port: int, frame: Frame, limit: int = 10_000, packet_ins: list | None = None) -> list[tuple[str, int, Frame]]:
        """Inject a frame; return every (bridge, port, frame) where it leaves the fabric.

        Frames sent to the controller are appended to `packet_ins` as
        (bridge, in_port, frame). Raises RuntimeError past `limit` hops: a forwarding loop.
        """
        out = []
        queue = deque([(bridge, port, frame)])
        hops = 0
        while queue:
            hops += 1
            if hops > limit:
                raise RuntimeError(f"forwarding loop: more than {limit} hops")
            here, in_port, f = queue.popleft()
            result = self.tables[here].process(in_port, f)
            if packet_ins is not None:
                packet_ins.extend((here, in_port, pf) for pf in result.to_controller)
            for out_port, sent in result.outputs:
                peer = self.wires.get((here, out_port))
                if peer is None:
                    out.append((here, out_port, sent))
                else:
                    queue.append((peer[0], peer[1], sent))
        return out
