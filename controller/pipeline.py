"""The static part of the pipeline: flows that follow from the topology and
the live port state alone (classification, the source guard, table-miss
behaviour, flooding).

    table 0 classify  access port: untagged in, push its tag; tagged in: dropped
                      untagged NIC: untagged in only
                      trunk NIC (v1.1 `trunks`): as above for untagged frames
                      (its tag is the native VLAN), and tagged frames of its
                      trunks as they are; other tags dropped
                      link port: its trunks (tagged) and untagged if allowed, only
                      for segments whose flood tree uses this link
                      on every port: multicast source, IEEE reserved group
                      destination (01:80:c2:00:00:0x), a second tag, and a
                      0x88a8/0x9100 header where OVS sees an ethertype: dropped;
                      LLDP: to the controller
    table 1 guard     NIC port with port_security: only its NIC's MAC, and ARP
                      only with that MAC as sender and its ip (if it has one) as
                      sender address; everything else from it dropped. Link ports
                      and NICs with port_security: false: on
    table 2 learn     known (segment, port, source): on; otherwise to the
                      controller and on (learning.py adds the known ones)
    table 3 forward   known destination: its port (learning.py); otherwise flood
                      within the segment along its tree, tags kept on links and
                      on trunk NICs for their trunks, popped towards access
                      ports (a trunk NIC's native VLAN too)

Pure: the same inputs give the same flows, so a restart can diff them.
"""

from __future__ import annotations

from controller.flows import (
    CLASSIFY,
    ETH_ARP,
    ETH_LLDP,
    ETH_QINQ,
    ETH_VLAN,
    FORWARD,
    GUARD,
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
from sdnlab.model import UNTAGGED, Link, Nic, Segment, segment_key

PRIO_LLDP = 300
PRIO_FOREIGN_TAG = 220
PRIO_RESERVED = 210
PRIO_BAD_SOURCE = 200
PRIO_GUARD_ARP = 120
PRIO_GUARD_OTHER_ARP = 110
PRIO_PORT = 100
PRIO_FLOOD = 10
PRIO_MISS = 0

# IEEE 802.1D/802.1Q reserved group addresses 01:80:c2:00:00:00-0f (STP, PAUSE, LACP, EAPOL, LLDP...):
# a bridge must never forward them. LLDP (01:80:c2:00:00:0e) still reaches the controller: its flow
# matches on eth_type at a higher priority.
RESERVED_GROUP = ("01:80:c2:00:00:00", "ff:ff:ff:ff:ff:f0")
ETH_QINQ_OLD = 0x9100  # pre-standard QinQ tag, which OVS does not parse as a VLAN header
# Where Open vSwitch shows one of these as eth_type, a frame carries a header no port of ours may send:
# - 0x8100 or 0x88a8: a second VLAN header. OVS (other_config:vlan-limit=1, its default) parses one VLAN
#   header; the next one's TPID becomes eth_type and stays unparsed. Dropping these drops double-tagged
#   frames arriving on links (Faucet drops them too), which would otherwise reach access ports still
#   carrying their inner tag. Access ports drop every tagged frame anyway. (With vlan-limit=2 OVS would
#   parse both tags and this rule would never match: the bridges must keep the default.)
# - 0x9100: OVS does not parse it as a VLAN header at all, so it is the eth_type on any port.
# An outer 0x88a8 tag is different: OVS 3.1 parses it as it parses 0x8100 (lib/flow.c, eth_type_vlan), and
# no OpenFlow 1.3 match can tell the two TPIDs apart (ovs-fields(7): "No version of OpenFlow provides a way
# to distinguish or match on the TPID"). On an access port it is a tag, so dropped; on a link carrying its
# VID it is forwarded in that VLAN, and cannot be dropped by a flow. The controller sees the 0x88a8 in the
# packet-in and learns nothing from it (learning.frame_fields, core.Core.packet_in), where it used to learn
# it as untagged: what is learned never disagrees with how OVS forwards. Only a bridge at a link's far end
# that takes 0x88a8 frames for untagged ones (a VLAN-aware Linux bridge, vlan_protocol 802.1Q) could
# carry one from another segment into that VLAN.
FOREIGN_TAGS = (ETH_VLAN, ETH_QINQ, ETH_QINQ_OLD)
NO_ADDRESS = "0.0.0.0"  # an ARP probe's sender address (RFC 5227): it claims nothing, so it is let through


def static_flows(resolved: Resolved, trees: dict[Segment, frozenset[int]], port_security: bool = True) -> list[Flow]:
    """Every static flow one bridge needs, given its usable ports and the flood trees.

    `port_security=False` ignores the NICs' `port_security` (a Linux bridge's
    model: it forwards whatever its ports send).
    """
    flows = [
        Flow.make(CLASSIFY, PRIO_MISS),  # anything not classified below: dropped
        Flow.make(CLASSIFY, PRIO_LLDP, {"eth_type": ETH_LLDP}, (ToController(),)),
        *(Flow.make(CLASSIFY, PRIO_FOREIGN_TAG, {"eth_type": t}) for t in FOREIGN_TAGS),
        Flow.make(CLASSIFY, PRIO_RESERVED, {"eth_dst": RESERVED_GROUP}),
        Flow.make(CLASSIFY, PRIO_BAD_SOURCE, {"eth_src": ("01:00:00:00:00:00", "01:00:00:00:00:00")}),
        Flow.make(GUARD, PRIO_MISS),  # a port the guard does not know: dropped
        Flow.make(LEARN, PRIO_MISS, None, (ToController(),), FORWARD),
        Flow.make(FORWARD, PRIO_MISS),
    ]
    members: dict[Segment, dict[str, list[int]]] = {}  # segment -> {"access"|"plain"|"trunk": ports}
    for port, nic in resolved.nics.items():
        if nic.tag is None:
            flows.append(Flow.make(CLASSIFY, PRIO_PORT, {"in_port": port, "vlan_vid": VID_NONE}, (), GUARD))
            members.setdefault(UNTAGGED, {}).setdefault("plain", []).append(port)
        else:
            push = (PushVlan(), SetVlan(segment_vid(nic.tag)))
            flows.append(Flow.make(CLASSIFY, PRIO_PORT, {"in_port": port, "vlan_vid": VID_NONE}, push, GUARD))
            members.setdefault(nic.tag, {}).setdefault("access", []).append(port)
        for vid in sorted(nic.trunks):
            # Like a link, a trunk NIC's tagged frames keep their tag; no tree applies: a NIC closes no loop.
            flows.append(Flow.make(CLASSIFY, PRIO_PORT, {"in_port": port, "vlan_vid": segment_vid(vid)}, (), GUARD))
            members.setdefault(vid, {}).setdefault("trunk", []).append(port)
        flows += _guard(port, nic if port_security and nic.port_security else None)
    for port, link in resolved.links.items():
        for segment in link_segments(link, trees):
            flows.append(Flow.make(CLASSIFY, PRIO_PORT, {"in_port": port, "vlan_vid": segment_vid(segment)}, (), GUARD))
            members.setdefault(segment, {}).setdefault("trunk" if segment != UNTAGGED else "plain", []).append(port)
        flows += _guard(port, None)
    for segment in sorted(members, key=segment_key):
        ports = members[segment]
        actions: list[Action] = [Output(p) for p in sorted(ports.get("trunk", []) + ports.get("plain", []))]
        if ports.get("access"):
            actions.append(PopVlan())
            actions += [Output(p) for p in sorted(ports["access"])]
        flows.append(Flow.make(FORWARD, PRIO_FLOOD, {"vlan_vid": segment_vid(segment)}, tuple(actions)))
    return flows


def _guard(port: int, nic: Nic | None) -> list[Flow]:
    """The source guard's flows for one port: `nic` when its sources are checked, None to let it through."""
    if nic is None:
        return [Flow.make(GUARD, PRIO_PORT, {"in_port": port}, (), LEARN)]
    arp = {"in_port": port, "eth_src": nic.mac, "eth_type": ETH_ARP, "arp_sha": nic.mac}
    # IPv6 ND is checked by its Ethernet source only: the file gives NICs IPv4 addresses alone, so there is
    # no declared address to hold ipv6_src or ipv6_nd_target to.
    senders = [{**arp, "arp_spa": str(nic.ip.ip)}, {**arp, "arp_spa": NO_ADDRESS}] if nic.ip is not None else [arp]
    # In a trunk NIC's tagged VLANs the file gives it no address (a router's are its own business): ARP there is
    # held to the NIC's MAC only.
    senders += [{**arp, "vlan_vid": segment_vid(vid)} for vid in sorted(nic.trunks)]
    return [
        *(Flow.make(GUARD, PRIO_GUARD_ARP, match, (), LEARN) for match in senders),
        Flow.make(GUARD, PRIO_GUARD_OTHER_ARP, {"in_port": port, "eth_type": ETH_ARP}),  # ARP claiming anybody else: dropped
        Flow.make(GUARD, PRIO_PORT, {"in_port": port, "eth_src": nic.mac}, (), LEARN),
    ]


def link_segments(link: Link, trees: dict[Segment, frozenset[int]] | None) -> list[Segment]:
    """The segments a link port accepts: those it carries whose flood tree uses it (others would loop)."""
    return [s for s in sorted(link.segments, key=segment_key) if link.index in (trees or {}).get(s, ())]


def port_vids(resolved: Resolved, trees: dict[Segment, frozenset[int]] | None, port: int) -> frozenset[int]:
    """The vlan_vid values frames from `port` may carry past classify (none for a port that carries nothing)."""
    nic = resolved.nics.get(port)
    if nic is not None:
        return frozenset(segment_vid(s) for s in nic.segments)
    link = resolved.links.get(port)
    return frozenset(segment_vid(s) for s in link_segments(link, trees)) if link is not None else frozenset()


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
