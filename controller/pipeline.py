"""The static part of the pipeline: flows that follow from the topology and
the live port state alone (classification, table-miss behaviour, flooding).

    table 0 classify  access port: untagged in, push its tag; tagged in: dropped
                      untagged NIC: untagged in only
                      link port: its trunks (tagged) and untagged if allowed, only
                      for segments whose flood tree uses this link
                      multicast source: dropped; LLDP: to the controller
    table 1 learn     known (segment, port, source): on; otherwise to the
                      controller and on (learning.py adds the known ones)
    table 2 forward   known destination: its port (learning.py); otherwise flood
                      within the segment along its tree, tags kept on links and
                      popped towards access ports

Pure: the same inputs give the same flows, so a restart can diff them.
"""

from __future__ import annotations

from controller.flows import (
    CLASSIFY,
    ETH_LLDP,
    FORWARD,
    LEARN,
    VID_NONE,
    Action,
    Flow,
    FlowMod,
    Output,
    PopVlan,
    PushVlan,
    SetVlan,
    ToController,
    segment_vid,
)
from controller.state import Resolved
from sdnlab.model import UNTAGGED, Segment, segment_key

PRIO_LLDP = 300
PRIO_BAD_SOURCE = 200
PRIO_PORT = 100
PRIO_FLOOD = 10
PRIO_MISS = 0


def static_flows(resolved: Resolved, trees: dict[Segment, frozenset[int]]) -> list[Flow]:
    """Every static flow one bridge needs, given its usable ports and the flood trees."""
    flows = [
        Flow.make(CLASSIFY, PRIO_MISS),  # anything not classified below: dropped
        Flow.make(CLASSIFY, PRIO_LLDP, {"eth_type": ETH_LLDP}, (ToController(),)),
        Flow.make(CLASSIFY, PRIO_BAD_SOURCE, {"eth_src": ("01:00:00:00:00:00", "01:00:00:00:00:00")}),
        Flow.make(LEARN, PRIO_MISS, None, (ToController(),), FORWARD),
        Flow.make(FORWARD, PRIO_MISS),
    ]
    members: dict[Segment, dict[str, list[int]]] = {}  # segment -> {"access"|"plain"|"trunk": ports}
    for port, nic in resolved.nics.items():
        if nic.tag is None:
            flows.append(Flow.make(CLASSIFY, PRIO_PORT, {"in_port": port, "vlan_vid": VID_NONE}, (), LEARN))
            members.setdefault(UNTAGGED, {}).setdefault("plain", []).append(port)
        else:
            push = (PushVlan(), SetVlan(segment_vid(nic.tag)))
            flows.append(Flow.make(CLASSIFY, PRIO_PORT, {"in_port": port, "vlan_vid": VID_NONE}, push, LEARN))
            members.setdefault(nic.tag, {}).setdefault("access", []).append(port)
    for port, link in resolved.links.items():
        for segment in sorted(link.segments, key=segment_key):
            if link.index not in trees.get(segment, ()):
                continue  # not on this segment's tree: frames of it arriving here would loop
            flows.append(Flow.make(CLASSIFY, PRIO_PORT, {"in_port": port, "vlan_vid": segment_vid(segment)}, (), LEARN))
            members.setdefault(segment, {}).setdefault("trunk" if segment != UNTAGGED else "plain", []).append(port)
    for segment in sorted(members, key=segment_key):
        ports = members[segment]
        actions: list[Action] = [Output(p) for p in sorted(ports.get("trunk", []) + ports.get("plain", []))]
        if ports.get("access"):
            actions.append(PopVlan())
            actions += [Output(p) for p in sorted(ports["access"])]
        flows.append(Flow.make(FORWARD, PRIO_FLOOD, {"vlan_vid": segment_vid(segment)}, tuple(actions)))
    return flows


def diff(installed: list[Flow], wanted: list[Flow]) -> list[FlowMod]:
    """The fewest flow-mods that turn `installed` into `wanted` (deletes first).

    Used after a restart (installed = what the switch reports) and after every
    port or link change, so traffic that is unaffected is never disturbed.
    """
    have = {f.key: f for f in installed}
    want = {f.key: f for f in wanted}
    mods = [FlowMod("delete_strict", f) for k, f in sorted(have.items(), key=_order) if k not in want]
    mods += [FlowMod("add", f) for k, f in sorted(want.items(), key=_order) if have.get(k) != f]
    return mods


def _order(item: tuple) -> tuple:
    flow = item[1]
    return (flow.table, -flow.priority, repr(flow.match))
