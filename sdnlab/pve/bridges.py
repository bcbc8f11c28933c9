"""A node's bridges, read from its interfaces stanzas: Linux bridges (plain or VLAN-aware,
with bridge-vids) and OVS bridges with their ports, bonds and internal ports.

For each bridge this finds its physical uplink (a NIC, a bond, or a VLAN
interface on one) and the `WireMap` of that uplink: which of the bridge's
segments leave it and under which tag on the wire. Two same-named bridges on
different nodes are joined (`uplinks.py`) for the segments whose wire tags agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sdnlab.model import UNTAGGED, Segment
from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.interfaces import Iface
from sdnlab.pve.vlans import ALL, NONE, VlanSet, parse_list, parse_tag

DEFAULT_VIDS = VlanSet(((2, 4094),))  # ifupdown2's bridge-vids default on a VLAN-aware bridge
OVS_TYPES = ("OVSBridge", "OVSPort", "OVSBond", "OVSIntPort", "OVSPatchPort")
BOOL_WORDS = {"yes": True, "on": True, "1": True, "true": True, "no": False, "off": False, "0": False, "false": False}
VIRTUAL_PREFIXES = ("veth", "tap", "fwpr", "fwln", "fwbr", "ln_", "vxlan")


@dataclass(frozen=True)
class WireMap:
    """How a bridge's segments cross its uplink: `identity` VLANs keep their tag,
    `special` maps a segment to another wire segment (an access port, a VLAN interface)."""

    identity: VlanSet
    special: tuple[tuple[Segment, Segment], ...] = ((UNTAGGED, UNTAGGED),)

    def wire(self, segment: Segment) -> Segment | None:
        """The wire segment `segment` leaves as, or None when the uplink does not carry it."""
        for inner, outer in self.special:
            if inner == segment:
                return outer
        return segment if segment != UNTAGGED and segment in self.identity else None

    def describe(self) -> str:
        parts = []
        for inner, outer in self.special:
            parts.append(f"{inner}" if inner == outer else f"{inner} as {outer} on the wire")
        if self.identity:
            parts.append(f"VLANs {self.identity.text(',')}")
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class Port:
    name: str
    kind: str  # nic, bond, vlan, internal, bridge, virtual
    line: int | None


@dataclass
class HostBridge:
    """One bridge of one node, as its interfaces file sets it up."""

    name: str
    node: str
    type: str  # 'linux' or 'ovs'
    file: str
    line: int
    vlan_aware: bool = False
    vids: VlanSet = NONE  # VLAN-aware Linux bridges: bridge-vids
    ports: list[Port] = field(default_factory=list)
    uplink: WireMap | None = None
    uplink_port: str | None = None

    @property
    def physical(self) -> list[Port]:
        return [p for p in self.ports if p.kind in ("nic", "bond", "vlan")]


def _bool(iface: Iface, key: str, file: str, diag: Diagnostics) -> bool:
    option = iface.options.get(key)
    if option is None:
        return False
    value = option.value.lower()
    if value not in BOOL_WORDS:
        diag.error(file, option.line, f"{iface.name}.{option.key}", f"'{option.value}' is not yes or no")
        return False
    return BOOL_WORDS[value]


def _vids(iface: Iface, file: str, diag: Diagnostics) -> VlanSet | None:
    option = iface.options.get("bridge-vids")
    if option is None:
        return None
    try:
        return parse_list(option.value, " ,", True, "")
    except ValueError as exc:
        diag.error(file, option.line, f"{iface.name}.{option.key}", str(exc))
        return None


def read_bridges(ifaces: dict[str, Iface], node: str, file: str, diag: Diagnostics) -> dict[str, HostBridge]:
    """Every Linux and OVS bridge of a node's interfaces file, by name."""
    bridges: dict[str, HostBridge] = {}
    for iface in ifaces.values():
        ovs_type = iface.options.get("ovs-type")
        if ovs_type is not None and ovs_type.value not in OVS_TYPES:
            diag.error(file, ovs_type.line, f"{iface.name}.{ovs_type.key}", f"'{ovs_type.value}' is not one of {', '.join(OVS_TYPES)}")
            continue
        if ovs_type is not None and ovs_type.value == "OVSBridge":
            bridges[iface.name] = HostBridge(iface.name, node, "ovs", file, iface.line, vlan_aware=True)
        elif "bridge-ports" in iface.options:
            aware = _bool(iface, "bridge-vlan-aware", file, diag)
            vids = _vids(iface, file, diag)
            if vids is not None and not aware:
                option = iface.options["bridge-vids"]
                diag.warn(file, option.line, f"{iface.name}.{option.key}", "bridge-vids on a bridge that is not VLAN-aware has no effect")
            bridges[iface.name] = HostBridge(iface.name, node, "linux", file, iface.line, vlan_aware=aware, vids=vids or DEFAULT_VIDS)
            pvid = iface.options.get("bridge-pvid")
            if pvid is not None and pvid.value.strip() != "1":
                diag.warn(file, pvid.line, f"{iface.name}.{pvid.key}", "a bridge PVID other than 1 is not modelled: untagged frames are modelled as untagged")
    for bridge in bridges.values():
        if bridge.type == "linux":
            _linux_ports(bridge, ifaces, bridges, diag)
        else:
            _ovs_ports(bridge, ifaces, bridges, diag)
    _orphan_ovs_ports(ifaces, bridges, file, diag)
    return bridges


def _linux_port_kind(name: str, ifaces: dict[str, Iface], bridges: dict[str, HostBridge]) -> str:
    iface = ifaces.get(name)
    opts = iface.options if iface else {}
    if name in bridges:
        return "bridge"
    if "vlan-raw-device" in opts or "vlan-id" in opts or "." in name:
        return "vlan"
    if "bond-slaves" in opts or "bond-mode" in opts or (iface is None and re.fullmatch(r"bond\d+", name)):
        return "bond"
    if "vxlan-id" in opts or "ovs-type" in opts or (iface and iface.get("link-type") in ("veth", "dummy")):
        return "virtual"
    if name.startswith(VIRTUAL_PREFIXES):
        return "virtual"
    return "nic"


def _linux_ports(bridge: HostBridge, ifaces: dict[str, Iface], bridges: dict[str, HostBridge], diag: Diagnostics) -> None:
    iface = ifaces[bridge.name]
    option = iface.options["bridge-ports"]
    key = f"{bridge.name}.{option.key}"
    words = option.value.split()
    if words[:1] in (["regex"], ["glob"]):
        diag.warn(bridge.file, option.line, key, f"'{words[0]}' port patterns are not expanded; the bridge is modelled without ports")
        return
    for name in words:
        if name == "none":
            continue
        kind = _linux_port_kind(name, ifaces, bridges)
        port_iface = ifaces.get(name)
        bridge.ports.append(Port(name, kind, port_iface.line if port_iface else None))
    physical = bridge.physical
    if not physical:
        return
    first = physical[0]
    if first.kind == "vlan":
        raw, vid = _vlan_of(first.name, ifaces)
        if vid is None or raw in bridges:
            where = f"VLAN {vid} of bridge {raw}" if raw in bridges else "a VLAN interface"
            diag.warn(bridge.file, option.line, key, f"port {first.name} is {where}: the join is not modelled")
            return
        bridge.uplink = WireMap(NONE, ((UNTAGGED, vid),))
        if bridge.vlan_aware:
            diag.warn(bridge.file, option.line, key, f"port {first.name} is VLAN {vid} of {raw}: tagged frames leave it double-tagged (QinQ), which is not modelled")
    else:
        port = ifaces.get(first.name)
        port_vids = _vids(port, bridge.file, diag) if port is not None else None
        access = port.options.get("bridge-access") if port is not None else None
        if bridge.vlan_aware and access is not None:
            try:  # an access port: the wire's untagged frames are this VLAN of the bridge (VLAN 1, the PVID, is its untagged)
                vid = parse_tag(access.value, "bridge-access")
                bridge.uplink = WireMap(NONE) if vid == 1 else WireMap(NONE, ((vid, UNTAGGED),))
            except ValueError as exc:
                diag.error(bridge.file, access.line, f"{first.name}.{access.key}", str(exc))
        elif bridge.vlan_aware:
            bridge.uplink = WireMap((port_vids or bridge.vids) - VlanSet.ids([1]))
        else:
            # Proxmox puts a tagged NIC on a bridge that is not VLAN-aware on vmbr0v<tag> over <port>.<tag>.
            bridge.uplink = WireMap(ALL)
    bridge.uplink_port = first.name
    if len(physical) > 1:
        names = ", ".join(p.name for p in physical)
        diag.warn(bridge.file, option.line, key, f"several physical ports ({names}) are assumed to reach the same switch; modelled as one uplink ({first.name})")


def _vlan_of(name: str, ifaces: dict[str, Iface]) -> tuple[str, int | None]:
    iface = ifaces.get(name)
    raw = iface.get("vlan-raw-device") if iface else None
    vid_text = iface.get("vlan-id") if iface else None
    if "." in name:
        base, _, suffix = name.rpartition(".")
        raw = raw or base
        vid_text = vid_text or suffix
    try:
        return raw or "?", parse_tag(vid_text or "")
    except ValueError:
        return raw or "?", None


def _ovs_options(iface: Iface, file: str, diag: Diagnostics) -> tuple[int | None, VlanSet | None, bool, str | None]:
    """(tag, trunks or None for all, whether trunks include 0 (untagged), vlan_mode) from ovs_options."""
    option = iface.options.get("ovs-options")
    if option is None:
        return None, None, True, None
    key = f"{iface.name}.{option.key}"
    tag = trunks = mode = None
    zero = True
    for word in option.value.split():
        k, _, v = word.partition("=")
        try:
            if k == "tag":
                tag = parse_tag(v, "tag")
            elif k == "trunks":
                ids = [p for p in re.split("[,;]", v) if p]
                zero = "0" in ids
                rest = ",".join(p for p in ids if p != "0")
                trunks = parse_list(rest, ",", True, "trunks") if rest else NONE
            elif k == "vlan_mode":
                if v not in ("access", "trunk", "native-tagged", "native-untagged", "dot1q-tunnel"):
                    raise ValueError(f"vlan_mode '{v}' is not access, trunk, native-tagged, native-untagged or dot1q-tunnel")
                mode = v
        except ValueError as exc:
            diag.error(file, option.line, key, str(exc))
    return tag, trunks, zero, mode


def _ovs_wire(tag: int | None, trunks: VlanSet | None, zero: bool, mode: str | None) -> WireMap | None:
    """An OVS port's VLAN handling (vswitch.conf.db): untagged is VLAN 0, carried by a trunk
    port only when its trunks are empty (all) or list 0."""
    carried = ALL if trunks is None else trunks
    if mode is None:
        mode = "access" if tag is not None else "trunk"
    if mode == "dot1q-tunnel":
        return None
    if mode == "access":
        return WireMap(NONE, ((tag, UNTAGGED),)) if tag is not None else WireMap(NONE)
    if mode == "trunk" or tag is None:
        return WireMap(carried, ((UNTAGGED, UNTAGGED),) if (trunks is None or zero) else ())
    if mode == "native-untagged":
        return WireMap(carried - VlanSet.ids([tag]), ((tag, UNTAGGED),))
    return WireMap(carried | VlanSet.ids([tag]), ())  # native-tagged: untagged frames on the wire join `tag` inbound only


def _ovs_ports(bridge: HostBridge, ifaces: dict[str, Iface], bridges: dict[str, HostBridge], diag: Diagnostics) -> None:
    iface = ifaces[bridge.name]
    names = (iface.get("ovs-ports") or "").split()
    names += [i.name for i in ifaces.values() if i.get("ovs-bridge") == bridge.name and i.name not in names]
    kinds = {"OVSPort": "nic", "OVSBond": "bond", "OVSIntPort": "internal", "OVSBridge": "bridge", "OVSPatchPort": "virtual"}
    maps = []
    for name in names:
        port_iface = ifaces.get(name)
        ovs_type = port_iface.get("ovs-type") if port_iface else None
        kind = kinds.get(ovs_type or "OVSPort", "virtual")
        if port_iface is not None and ovs_type is None:
            kind = _linux_port_kind(name, ifaces, bridges)
        bridge.ports.append(Port(name, kind, port_iface.line if port_iface else None))
        if port_iface is not None:
            named = port_iface.get("ovs-bridge")
            if ovs_type in ("OVSPort", "OVSBond", "OVSIntPort") and named not in (None, bridge.name):
                option = port_iface.options["ovs-bridge"]
                diag.error(bridge.file, option.line, f"{name}.{option.key}", f"port {name} is listed in the ovs_ports of {bridge.name} but names bridge {named}")
        if kind in ("nic", "bond"):
            tag, trunks, zero, mode = _ovs_options(port_iface, bridge.file, diag) if port_iface else (None, None, True, None)
            wire = _ovs_wire(tag, trunks, zero, mode)
            if wire is None:
                diag.warn(bridge.file, port_iface.line if port_iface else iface.line, name, "vlan_mode=dot1q-tunnel (QinQ) is not modelled; the port is left out")
                continue
            maps.append((name, wire))
        elif port_iface is not None:
            _ovs_options(port_iface, bridge.file, diag)  # checked for syntax
    if maps:
        bridge.uplink_port, bridge.uplink = maps[0]
        if len(maps) > 1:
            option = iface.options.get("ovs-ports")
            others = ", ".join(n for n, _ in maps)
            diag.warn(bridge.file, option.line if option else iface.line, bridge.name,
                      f"several physical ports ({others}) are assumed to reach the same switch; modelled as one uplink ({maps[0][0]})")


def _orphan_ovs_ports(ifaces: dict[str, Iface], bridges: dict[str, HostBridge], file: str, diag: Diagnostics) -> None:
    listed = {p.name for b in bridges.values() if b.type == "ovs" for p in b.ports}
    for iface in ifaces.values():
        ovs_type = iface.get("ovs-type")
        if ovs_type in ("OVSPort", "OVSBond", "OVSIntPort"):
            named = iface.options.get("ovs-bridge")
            if named is None and iface.name not in listed:
                diag.error(file, iface.line, f"{iface.name}.ovs_type", f"{ovs_type} {iface.name} names no bridge (ovs_bridge) and no OVS bridge lists it")
            elif named is not None and (named.value not in bridges or bridges[named.value].type != "ovs"):
                diag.error(file, named.line, f"{iface.name}.{named.key}", f"'{named.value}' is not an OVS bridge of this file")
