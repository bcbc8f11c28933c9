"""The controller's own flow model: what the pure core returns and the table
simulator executes, convertible to os-ken messages, to `ovs-ofctl` text, and
back from `ovs-ofctl dump-flows` output.

Inside the pipeline a segment is a VLAN id: 0x1000|v for VLAN v (OpenFlow's
"tag present" bit), and 0 (OFPVID_NONE, no tag) for the untagged segment.

The pipeline's shape lives in tables.py (which table matches on what and goes
where), the match fields in fields.py and the actions in actions.py; this
module re-exports what the rest of the controller imports from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller import fields as _fields
from controller import tables as _tables
from controller.actions import ACTIONS, Action, Output, PopVlan, PushVlan, SetVlan, ToController, parse_ofctl
from controller.fields import ETH_ARP, ETH_LLDP, ETH_QINQ, ETH_VLAN, VID_NONE, VID_PRESENT
from controller.tables import CLASSIFY, FORWARD, GUARD, LEARN, PIPELINE, Table
from sdnlab.model import UNTAGGED, Segment

__all__ = [
    "CLASSIFY", "COOKIE_BASE", "COOKIE_LEARNED", "COOKIE_MASK", "COOKIE_STATIC", "ETH_ARP", "ETH_LLDP", "ETH_QINQ", "ETH_VLAN",
    "FORWARD", "GUARD", "LEARN", "PIPELINE", "VID_NONE", "VID_PRESENT", "Action", "Flow", "FlowMod", "Output", "PopVlan", "PushVlan",
    "SetVlan", "Table", "ToController", "parse_dump", "segment_vid",
]

# Cookies: the high 32 bits mark flows as sdnlab's; the low bits say which kind.
COOKIE_BASE = 0x5D1A_0000_0000_0000
COOKIE_MASK = 0xFFFF_FFFF_0000_0000
COOKIE_STATIC = COOKIE_BASE | 1  # derived from the topology and port state
COOKIE_LEARNED = COOKIE_BASE | 2  # installed by MAC learning


def segment_vid(segment: Segment) -> int:
    """The vlan_vid match value of a segment inside the pipeline."""
    return VID_NONE if segment == UNTAGGED else VID_PRESENT | int(segment)


@dataclass(frozen=True)
class Flow:
    """One OpenFlow 1.3 flow entry: apply-actions, then an optional goto.

    `table` and `goto` are table ids (what the switch and its dumps speak);
    build flows with `Flow.make`, which checks them against the declared pipeline.
    """

    table: int
    priority: int
    match: tuple[tuple[str, object], ...]  # sorted (field, value); a MAC may be (value, mask)
    actions: tuple[Action, ...] = ()
    goto: int | None = None
    cookie: int = COOKIE_STATIC
    idle_timeout: int = 0
    notify_removal: bool = field(default=False, compare=False)

    @staticmethod
    def make(
        table: Table | int,
        priority: int,
        match: Mapping[str, object] | None = None,
        actions: Iterable[Action] = (),
        goto: Table | int | None = None,
        *,
        check: bool = True,
        **kw,
    ) -> Flow:
        """A flow of `table`. Raises ValueError if the table does not declare a
        match field or the goto, TypeError for an action we cannot write;
        `check=False` only for flows a switch reports (see app.py)."""
        match = match or {}
        actions = tuple(actions)
        # Flows hold plain table ids, as switches report them. (Flow.make is on the
        # packet-in path: isinstance and .id, not int(), which calls Table.__index__.)
        declared = table if isinstance(table, Table) else None
        table_id = table.id if declared is not None else table
        goto_id = goto.id if isinstance(goto, Table) else goto
        if check:
            (declared or _tables.table(table_id)).check(match, goto_id)
            for action in actions:
                if not isinstance(action, ACTIONS):
                    raise TypeError(f"{action!r} is not an action of controller/actions.py")
        return Flow(table_id, priority, tuple(sorted(match.items())), actions, goto_id, **kw)

    @property
    def key(self) -> tuple:
        """What identifies an entry in a switch (OpenFlow's strict match)."""
        return (self.table, self.priority, self.match)

    @property
    def fields(self) -> dict:
        return dict(self.match)

    def outputs(self) -> list[int]:
        return [a.port for a in self.actions if isinstance(a, Output)]

    def to_ofctl(self) -> str:
        """The flow in `ovs-ofctl add-flow` syntax (OpenFlow 1.3)."""
        parts = [f"table={self.table}", f"priority={self.priority}", f"cookie={self.cookie:#x}"]
        if self.idle_timeout:
            parts.append(f"idle_timeout={self.idle_timeout}")
        parts += _fields.ofctl(self.match)
        acts = [a.ofctl() for a in self.actions]
        if self.goto is not None:
            acts.append(f"goto_table:{self.goto}")
        return ",".join(parts) + ",actions=" + (",".join(acts) or "drop")


@dataclass(frozen=True)
class FlowMod:
    """An add, or a delete of the flows matching `flow` (strictly, or by out_port)."""

    command: str  # "add" | "delete_strict" | "delete"
    flow: Flow
    out_port: int | None = None  # for "delete": only flows that output to this port


def parse_dump(text: str) -> list[Flow]:
    """Flows from `ovs-ofctl -O OpenFlow13 dump-flows BRIDGE` output (our match fields and actions).

    The flows are checked against the declared pipeline, as flows the core
    makes are: the dumps read here come from bridges only our controller
    programs (fail_mode=secure), and they are replayed in the simulator and
    compared with what the core wants, so a flow fitting no declared table is
    a bug or another pipeline's leftover, and is better refused loudly (as an
    unknown action always was) than replayed as something it is not. (The
    controller itself reads a switch's flows unchecked: app.py.)
    """
    flows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("cookie="):
            continue
        head, _, actions = line.partition(" actions=")
        items: dict[str, str] = {}
        for item in re.split(r",\s*|\s+", head):
            if "=" in item:
                k, v = item.split("=", 1)
                items[k] = v
            elif item:
                items[item] = ""
        acts: list[Action] = []
        goto = None
        for a in _split_actions(actions):
            if a.startswith("goto_table:"):
                goto = int(a.split(":", 1)[1])
            elif a not in ("drop", ""):
                try:
                    acts.append(parse_ofctl(a))
                except ValueError:
                    raise ValueError(f"unsupported action in dump: {a!r} (line: {line})") from None
        try:
            flow = Flow.make(
                int(items.get("table", 0)),
                int(items.get("priority", 32768)),
                _fields.from_dump(items),
                acts,
                goto,
                cookie=int(items.get("cookie", "0"), 16),
                idle_timeout=int(items.get("idle_timeout", 0)),
            )
        except ValueError as e:
            raise ValueError(f"{e} (line: {line})") from None
        flows.append(flow)
    return flows


def _split_actions(text: str) -> list[str]:
    # Actions are comma-separated, but CONTROLLER:... and set_field never contain commas here.
    return [a for a in text.split(",") if a]
