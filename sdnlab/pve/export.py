"""Write a topology as Proxmox VE configuration: per node its bridges as
/etc/network/interfaces stanzas, each endpoint as a qemu-server or lxc config
with its `netN` lines, and commands.sh with the same NICs as `qm set`/`pct set`.

Proxmox joins bridges of different nodes only through the physical switch, which
`sdnlab import pve` models as joining same-named bridges with a physical port.
So the export names bridges by what the links make of them: the bridges that
links connect (over any node) form a group; on each node a group is one
Proxmox bridge (bridges of one group on one node are merged), named after its
members (`pve1-vmbr0` and `pve2-vmbr0` become `vmbr0`; otherwise the most
common member name, or the first free `vmbr<N>`); a group that spans nodes gets
a physical port `eno<k>` on each, carrying the VLANs its links between nodes
trunk (`bridge-vids` on Linux, `trunks=` on OVS, with 0 for untagged). The
export then imports its own files and compares the reachable pairs with the
topology's: any difference is a warning, pair by pair.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx

from sdnlab.model import Bridge, Endpoint, Nic, Topology
from sdnlab.problems import TopologyError
from sdnlab.pve.guestconf import MIN_VMID
from sdnlab.pve.vlans import VlanSet

RESERVED = re.compile(r"(lo|eno\d+)\Z")
EXAMPLES = 5


@dataclass
class PveBridge:
    """One Proxmox bridge of one node: one or more topology bridges merged."""

    name: str
    node: str
    members: list[Bridge]
    uplink: str | None = None  # the physical port, when its group spans nodes
    vlans: set[int] = field(default_factory=set)
    untagged: bool = False
    vlan1: bool = False  # its group uses VLAN 1, which a VLAN-aware Linux bridge keeps for untagged frames

    @property
    def type(self) -> str:
        return "ovs" if self.vlan1 or any(b.is_ovs for b in self.members) else "linux"

    @property
    def vlan_aware(self) -> bool:
        return any(b.keeps_vlans_apart for b in self.members)


@dataclass
class ExportResult:
    files: dict[str, str]  # relative path -> text
    warnings: list[str]
    vmids: dict[str, int]
    bridges: dict[str, str]  # topology bridge -> Proxmox bridge name

    def summary(self) -> str:
        guests = sum(1 for p in self.files if p.endswith(".conf"))
        nodes = sum(1 for p in self.files if p.endswith("/interfaces"))
        names = sorted(set(self.bridges.values()))
        return (f"{nodes} node{'s' * (nodes != 1)}, bridge{'s' * (len(names) != 1)} {', '.join(names)}, "
                f"{guests} guest config{'s' * (guests != 1)}, {len(self.warnings)} warning{'s' * (len(self.warnings) != 1)}")


def assign_vmids(topology: Topology) -> dict[str, int]:
    """Each endpoint's vmid: its own, else the lowest free id from 100 up, in file order."""
    used = {e.vmid for e in topology.endpoints.values() if getattr(e, "vmid", None) is not None}
    out: dict[str, int] = {}
    nxt = MIN_VMID
    for name, endpoint in topology.endpoints.items():
        vmid = getattr(endpoint, "vmid", None)
        if vmid is None:
            while nxt in used:
                nxt += 1
            vmid = nxt
            used.add(vmid)
        out[name] = vmid
    return out


def _proxmox_name(bridge: Bridge) -> str:
    prefix = f"{bridge.node}-"
    return bridge.name[len(prefix):] if bridge.name.startswith(prefix) and len(bridge.name) > len(prefix) else bridge.name


def plan_bridges(topology: Topology) -> dict[str, PveBridge]:
    """Topology bridge -> the Proxmox bridge it becomes."""
    joined = nx.utils.UnionFind(topology.bridges)
    for link in topology.links:
        if link.segments:
            joined.union(*link.between)
    groups: dict[str, list[Bridge]] = {}
    for name in topology.bridges:
        groups.setdefault(joined[name], []).append(topology.bridges[name])
    spans = {root: {b.node for b in members} for root, members in groups.items()}

    def preferred(root: str) -> str:
        """The name most members share (Proxmox-style vmbrN first), or '' when no two share one."""
        counts = Counter(_proxmox_name(b) for b in groups[root])
        best = min(counts, key=lambda n: (-counts[n], not re.fullmatch(r"vmbr\d+", n), n))
        return best if counts[best] > 1 or len(counts) == 1 else ""

    taken: list[tuple[str, set[str], bool]] = []

    def clashes(name: str, nodes: set[str], multi: bool) -> bool:
        return bool(RESERVED.match(name)) or any(n == name and (nodes & ns or (multi and m)) for n, ns, m in taken)

    names: dict[str, str] = {}
    for root in sorted(groups, key=lambda r: (len(spans[r]) == 1, preferred(r), min(b.name for b in groups[r]))):
        nodes, multi = spans[root], len(spans[root]) > 1
        name = preferred(root)
        k = 0
        while not name or clashes(name, nodes, multi):
            name = f"vmbr{k}"
            k += 1
        taken.append((name, nodes, multi))
        names[root] = name
    vlan1 = {joined[n.bridge] for n in topology.nics() if n.tag == 1 or 1 in getattr(n, "trunks", ())}
    vlan1 |= {joined[link.between[0]] for link in topology.links if 1 in link.trunks}
    out: dict[str, PveBridge] = {}
    per_node: dict[tuple[str, str], PveBridge] = {}
    for root, members in groups.items():
        for bridge in members:
            key = (root, bridge.node)
            if key not in per_node:
                per_node[key] = PveBridge(names[root], bridge.node, [], vlan1=root in vlan1)
            per_node[key].members.append(bridge)
            out[bridge.name] = per_node[key]
    for link in topology.links:
        a, b = (out[end] for end in link.between)
        if a.node != b.node:
            for pve in (a, b):
                pve.vlans |= set(link.trunks)
                pve.untagged |= link.untagged
    for node in topology.nodes:
        mine = sorted({id(p): p for p in out.values() if p.node == node}.values(), key=lambda p: p.name)
        k = 1
        for pve in mine:
            if len(spans[joined[pve.members[0].name]]) > 1 and (pve.vlans or pve.untagged):
                pve.uplink = f"eno{k}"
                k += 1
    return out


def interfaces_text(node: str, bridges: list[PveBridge], title: str) -> str:
    lines = [f"# Generated by `sdnlab export pve` from {title}: the bridges of node {node}.", "", "auto lo", "iface lo inet loopback", ""]
    for pve in sorted(bridges, key=lambda p: p.name):
        if pve.type == "ovs":
            if pve.uplink:
                carried = ",".join(["0"] * pve.untagged + [str(v) for v in sorted(pve.vlans)])  # 0: untagged frames
                lines += [f"auto {pve.uplink}", f"iface {pve.uplink} inet manual", "\tovs_type OVSPort", f"\tovs_bridge {pve.name}",
                          f"\tovs_options trunks={carried}", ""]
            lines += [f"auto {pve.name}", f"iface {pve.name} inet manual", "\tovs_type OVSBridge"]
            if pve.uplink:
                lines.append(f"\tovs_ports {pve.uplink}")
        else:
            if pve.uplink and pve.vlan_aware and not pve.vlans:
                # Untagged only: an access port in VLAN 1, the bridge's PVID (its untagged frames).
                lines += [f"iface {pve.uplink} inet manual", "\tbridge-access 1", ""]
            elif pve.uplink:
                lines += [f"iface {pve.uplink} inet manual", ""]
            lines += [f"auto {pve.name}", f"iface {pve.name} inet manual", f"\tbridge-ports {pve.uplink or 'none'}", "\tbridge-stp off", "\tbridge-fd 0"]
            if pve.vlan_aware:
                vids = VlanSet.ids(pve.vlans) if pve.uplink and pve.vlans else VlanSet(((2, 4094),))
                lines += ["\tbridge-vlan-aware yes", f"\tbridge-vids {vids.text(' ')}"]
        lines.append("")
    return "\n".join(lines)


def _trunks(nic: Nic, ranges: bool) -> str | None:
    trunks = getattr(nic, "trunks", frozenset())
    if not trunks:
        return None
    return VlanSet.ids(trunks).text(";") if ranges else ";".join(str(v) for v in sorted(trunks))


def guest_lines(endpoint: Endpoint, bridges: dict[str, PveBridge]) -> tuple[str, list[tuple[str, str]]]:
    """(kind, [(key, value)]) of an endpoint's config: name or hostname, netN, ipconfigN."""
    if endpoint.type == "kvm":
        out = [("name", endpoint.name)]
        for i, nic in enumerate(endpoint.nics):
            parts = [f"virtio={nic.mac.upper()}", f"bridge={bridges[nic.bridge].name}"]
            if nic.tag is not None:
                parts.append(f"tag={nic.tag}")
            trunks = _trunks(nic, ranges=True)
            if trunks:
                parts.append(f"trunks={trunks}")
            out.append((f"net{i}", ",".join(parts)))
        out += [(f"ipconfig{i}", f"ip={nic.ip}") for i, nic in enumerate(endpoint.nics) if nic.ip is not None]
        return "qemu", out
    out = [("hostname", endpoint.name)]
    for i, nic in enumerate(endpoint.nics):
        parts = {"name": f"eth{i}", "bridge": bridges[nic.bridge].name, "hwaddr": nic.mac.upper(), "type": "veth"}
        if nic.ip is not None:
            parts["ip"] = str(nic.ip)
        if nic.tag is not None:
            parts["tag"] = str(nic.tag)
        trunks = _trunks(nic, ranges=False)
        if trunks:
            parts["trunks"] = trunks
        out.append((f"net{i}", ",".join(f"{k}={parts[k]}" for k in sorted(parts))))
    return "lxc", out


def export_topology(topology: Topology, title: str | None = None, check: bool = True) -> ExportResult:
    """The Proxmox files for a topology, and warnings for what they cannot say the same way."""
    title = title or topology.name
    warnings: list[str] = []
    vmids = assign_vmids(topology)
    bridges = plan_bridges(topology)
    files: dict[str, str] = {}
    for node in topology.nodes:
        mine = list({id(p): p for p in bridges.values() if p.node == node}.values())
        files[f"nodes/{node}/etc/network/interfaces"] = interfaces_text(node, mine, title)
    merged = sorted({id(p): p for p in bridges.values() if len(p.members) > 1}.values(), key=lambda p: (p.node, p.name))
    for pve in merged:
        warnings.append(f"bridges {', '.join(b.name for b in pve.members)} of node {pve.node} are one Proxmox bridge, {pve.name}: "
                        "links join them, and Proxmox joins bridges only through a physical switch")
    vlan1 = sorted({id(p): p for p in bridges.values() if p.vlan1 and not any(b.is_ovs for b in p.members)}.values(), key=lambda p: (p.node, p.name))
    for pve in vlan1:
        warnings.append(f"bridge {pve.name} of node {pve.node} ({', '.join(b.name for b in pve.members)}) is an OVS bridge: its NICs or links use "
                        "VLAN 1, which a VLAN-aware Linux bridge keeps for its untagged frames (its PVID)")
    hosts = [e.name for e in topology.endpoints.values() if e.type == "host"]
    if hosts:
        warnings.append(f"{len(hosts)} host endpoint{'s' * (len(hosts) != 1)} ({', '.join(hosts[:EXAMPLES])}{' ...' if len(hosts) > EXAMPLES else ''}) "
                        + ("becomes a container" if len(hosts) == 1 else "become containers") + ": Proxmox has no plain network namespaces")
    commands: dict[str, list[str]] = {}
    for name, endpoint in topology.endpoints.items():
        kind, lines = guest_lines(endpoint, bridges)
        folder = "qemu-server" if kind == "qemu" else "lxc"
        vmid = vmids[name]
        files[f"etc/pve/nodes/{endpoint.node}/{folder}/{vmid}.conf"] = (
            f"#Exported by sdnlab from {title}\n" + "".join(f"{k}: {v}\n" for k, v in lines))
        tool = "qm" if kind == "qemu" else "pct"
        args = " ".join(f"--{k} {shlex.quote(v)}" for k, v in lines)
        commands.setdefault(endpoint.node, []).append(f"    {tool} set {vmid} {args}")
    script = ["#!/bin/sh", f"# Generated by `sdnlab export pve` from {title}.",
              "# Sets each guest's name and NICs on its node: run it on every node; each runs its own part.",
              "# The guests must exist already (qm create / pct create), and the bridges of",
              "# nodes/<node>/etc/network/interfaces must be up (ifreload -a).", "set -e", "node=$(hostname -s)"]
    for node in topology.nodes:
        if node in commands:
            script += [f'if [ "$node" = {node} ]; then'] + commands[node] + ["fi"]
    files["commands.sh"] = "\n".join(script) + "\n"
    result = ExportResult(files, warnings, vmids, {name: pve.name for name, pve in bridges.items()})
    if check:
        warnings += compare(topology, files, vmids)
    return result


def compare(topology: Topology, files: dict[str, str], vmids: dict[str, int]) -> list[str]:
    """Import the exported files and list every pair whose reachability differs from the topology's."""
    from sdnlab.check import analyse
    from sdnlab.loader import parse_tree
    from sdnlab.pve.importer import import_snapshot
    from sdnlab.pve.source import MemorySource

    try:
        result = import_snapshot(MemorySource(files, "<export>"), name=topology.name)
        back = parse_tree(result.document, "<export>")
    except TopologyError as exc:
        return [f"the exported files do not import back: {exc.problems[0]}"]
    by_vmid = {vmid: name for name, vmid in vmids.items()}
    rename = {name: by_vmid.get(getattr(e, "vmid", None), name) for name, e in back.endpoints.items()}
    before = set(analyse(topology).reachable())
    after = {tuple(sorted((rename[a], rename[b]))) for a, b in analyse(back).reachable()}
    out = []
    missing = sorted(set(topology.endpoints) - set(rename.values()))
    if missing:
        out.append(f"{len(missing)} endpoint(s) do not come back from the exported files: {', '.join(missing[:EXAMPLES])}")
    for what, pairs in (("reachable in the topology but not in Proxmox", before - after), ("reachable in Proxmox but not in the topology", after - before)):
        if pairs:
            shown = ", ".join(f"{a}-{b}" for a, b in sorted(pairs)[:EXAMPLES])
            more = f" and {len(pairs) - EXAMPLES} more" if len(pairs) > EXAMPLES else ""
            out.append(f"{len(pairs)} pair{'s' * (len(pairs) != 1)} {what}: {shown}{more}")
    return out
