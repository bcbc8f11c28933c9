"""The controller's own flow model: what the pure core returns and the table
simulator executes, convertible to os-ken messages, to `ovs-ofctl` text, and
back from `ovs-ofctl dump-flows` output.

Inside the pipeline a segment is a VLAN id: 0x1000|v for VLAN v (OpenFlow's
"tag present" bit), and 0 (OFPVID_NONE, no tag) for the untagged segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sdnlab.model import UNTAGGED, Segment

# Tables of the pipeline.
CLASSIFY, LEARN, FORWARD = 0, 1, 2

# Cookies: the high 32 bits mark flows as sdnlab's; the low bits say which kind.
COOKIE_BASE = 0x5D1A_0000_0000_0000
COOKIE_MASK = 0xFFFF_FFFF_0000_0000
COOKIE_STATIC = COOKIE_BASE | 1  # derived from the topology and port state
COOKIE_LEARNED = COOKIE_BASE | 2  # installed by MAC learning

VID_PRESENT = 0x1000
VID_NONE = 0
ETH_LLDP = 0x88CC

Action = tuple  # ("output", port) | ("push_vlan",) | ("set_vlan", vid) | ("pop_vlan",) | ("controller",)


def segment_vid(segment: Segment) -> int:
    """The vlan_vid match value of a segment inside the pipeline."""
    return VID_NONE if segment == UNTAGGED else VID_PRESENT | int(segment)


@dataclass(frozen=True)
class Flow:
    """One OpenFlow 1.3 flow entry: apply-actions, then an optional goto."""

    table: int
    priority: int
    match: tuple[tuple[str, object], ...]  # sorted (field, value); eth_src may be (value, mask)
    actions: tuple[Action, ...] = ()
    goto: int | None = None
    cookie: int = COOKIE_STATIC
    idle_timeout: int = 0
    notify_removal: bool = field(default=False, compare=False)

    @staticmethod
    def make(table: int, priority: int, match: dict | None = None, actions: tuple = (), goto: int | None = None, **kw) -> Flow:
        return Flow(table, priority, tuple(sorted((match or {}).items())), tuple(actions), goto, **kw)

    @property
    def key(self) -> tuple:
        """What identifies an entry in a switch (OpenFlow's strict match)."""
        return (self.table, self.priority, self.match)

    @property
    def fields(self) -> dict:
        return dict(self.match)

    def outputs(self) -> list[int]:
        return [a[1] for a in self.actions if a[0] == "output"]

    def to_ofctl(self) -> str:
        """The flow in `ovs-ofctl add-flow` syntax (OpenFlow 1.3)."""
        parts = [f"table={self.table}", f"priority={self.priority}", f"cookie={self.cookie:#x}"]
        if self.idle_timeout:
            parts.append(f"idle_timeout={self.idle_timeout}")
        parts += [_ofctl_match(k, v) for k, v in self.match]
        acts = [_ofctl_action(a) for a in self.actions]
        if self.goto is not None:
            acts.append(f"goto_table:{self.goto}")
        return ",".join(parts) + ",actions=" + (",".join(acts) or "drop")


@dataclass(frozen=True)
class FlowMod:
    """An add, or a delete of the flows matching `flow` (strictly, or by out_port)."""

    command: str  # "add" | "delete_strict" | "delete"
    flow: Flow
    out_port: int | None = None  # for "delete": only flows that output to this port


def _ofctl_match(name: str, value: object) -> str:
    if name == "vlan_vid":
        return "vlan_tci=0x0000/0x1fff" if value == VID_NONE else f"dl_vlan={int(value) & 0xFFF}"
    if name == "eth_src" and isinstance(value, tuple):
        return f"dl_src={value[0]}/{value[1]}"
    if name == "eth_type":
        return f"dl_type={int(value):#06x}"
    return {"eth_src": "dl_src", "eth_dst": "dl_dst"}.get(name, name) + f"={value}"


def _ofctl_action(action: Action) -> str:
    kind = action[0]
    if kind == "output":
        return f"output:{action[1]}"
    if kind == "push_vlan":
        return "push_vlan:0x8100"
    if kind == "set_vlan":
        return f"set_field:{action[1]}->vlan_vid"
    if kind == "pop_vlan":
        return "pop_vlan"
    if kind == "controller":
        return "CONTROLLER:65535"
    raise ValueError(f"unknown action {action}")


def parse_dump(text: str) -> list[Flow]:
    """Flows from `ovs-ofctl -O OpenFlow13 dump-flows BRIDGE` output (our match fields and actions)."""
    flows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("cookie="):
            continue
        head, _, actions = line.partition(" actions=")
        fields: dict[str, str] = {}
        for item in re.split(r",\s*|\s+", head):
            if "=" in item:
                k, v = item.split("=", 1)
                fields[k] = v
            elif item:
                fields[item] = ""
        match: dict[str, object] = {}
        for k, v in fields.items():
            if k == "in_port":
                match["in_port"] = int(v)
            elif k == "dl_vlan":
                match["vlan_vid"] = VID_PRESENT | int(v)
            elif k == "vlan_tci" and v == "0x0000/0x1fff":
                match["vlan_vid"] = VID_NONE
            elif k == "dl_src":
                match["eth_src"] = tuple(v.split("/")) if "/" in v else v
            elif k == "dl_dst":
                match["eth_dst"] = v
            elif k == "dl_type":
                match["eth_type"] = int(v, 16)
            elif k in ("lldp",):
                match["eth_type"] = ETH_LLDP
        acts: list[Action] = []
        goto = None
        for a in _split_actions(actions):
            if a.startswith("output:"):
                acts.append(("output", int(a.split(":", 1)[1])))
            elif a.startswith("push_vlan"):
                acts.append(("push_vlan",))
            elif a.startswith("set_field:") and a.endswith("->vlan_vid"):
                acts.append(("set_vlan", int(a[len("set_field:") : -len("->vlan_vid")], 0)))
            elif a == "pop_vlan" or a == "strip_vlan":
                acts.append(("pop_vlan",))
            elif a.startswith("CONTROLLER") or a.startswith("controller"):
                acts.append(("controller",))
            elif a.startswith("goto_table:"):
                goto = int(a.split(":", 1)[1])
            elif a in ("drop", ""):
                pass
            elif a.isdigit():
                acts.append(("output", int(a)))
            else:
                raise ValueError(f"unsupported action in dump: {a!r} (line: {line})")
        flows.append(
            Flow.make(
                int(fields.get("table", 0)),
                int(fields.get("priority", 32768)),
                match,
                tuple(acts),
                goto,
                cookie=int(fields.get("cookie", "0"), 16),
                idle_timeout=int(fields.get("idle_timeout", 0)),
            )
        )
    return flows


def _split_actions(text: str) -> list[str]:
    # Actions are comma-separated, but CONTROLLER:... and set_field never contain commas here.
    return [a for a in text.split(",") if a]
