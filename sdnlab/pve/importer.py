"""Assemble a topology document from a Proxmox VE snapshot: its nodes, their bridges,
the guests as endpoints, the VLANs they use and the links the physical switch
stands for. Pure: reads through a `Source`, returns the document and its
warnings, or raises TopologyError with every error found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sdnlab.model import UNTAGGED, segment_key
from sdnlab.problems import Problem
from sdnlab.pve import naming, yamlout
from sdnlab.pve.bridges import HostBridge, read_bridges
from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.guestconf import MAX_VMID, MIN_VMID, Guest, GuestNic, parse_conf, read_guest
from sdnlab.pve.interfaces import parse_interfaces
from sdnlab.pve.sdn import Sdn, read_sdn
from sdnlab.pve.source import Source
from sdnlab.pve.uplinks import NicPlan, Plan, SwitchPort, plan
from sdnlab.pve.vlans import NONE, VlanSet

GUEST_FILE = re.compile(r"(\d+)\.conf\Z")
EXAMPLES = 5


@dataclass
class Snapshot:
    """What was read: each node's bridges (None: no interfaces file), the guests, SDN."""

    nodes: list[str]
    bridges: dict[str, dict[str, HostBridge] | None]
    guests: list[Guest]
    sdn: Sdn


@dataclass
class ImportResult:
    document: dict
    text: str
    warnings: list[Problem]
    links: list[str] = field(default_factory=list)  # the assumed links, described

    def summary(self) -> str:
        doc = self.document
        counts = [(len(doc.get("nodes", {})), "node"), (len(doc.get("bridges", {})), "bridge"), (len(doc.get("endpoints", {})), "endpoint"),
                  (len(doc.get("links", [])), "link"), (len(doc.get("vlans", {})), "VLAN"), (len(self.warnings), "warning")]
        return ", ".join(f"{n} {what}{'' if n == 1 else 's'}" for n, what in counts)


def import_snapshot(source: Source, pending: bool = False, name: str | None = None) -> ImportResult:
    """Read a snapshot and build its topology document; TopologyError lists every error."""
    diag = Diagnostics()
    snapshot = read_snapshot(source, pending, diag)
    diag.raise_errors()
    builder = _Builder(source, snapshot, diag)
    doc, comments = builder.build(name or "pve", pending)
    diag.raise_errors()
    return ImportResult(doc, yamlout.dump(doc, comments), diag.sorted_warnings(), builder.link_notes)


def read_snapshot(source: Source, pending: bool, diag: Diagnostics) -> Snapshot:
    """Every file of the snapshot parsed; errors collected in `diag`."""
    nodes = source.nodes()
    if source.live and not nodes:
        diag.error(source.display("etc/pve/nodes"), None, "", "no nodes here: this machine is not a Proxmox VE node (or /etc/pve is not mounted)")
    elif source.live and source.local_node is None:
        diag.error(source.display("etc/pve/nodes"), None, "", "cannot tell which node this is: the host name is none of the nodes here")
    elif not nodes:
        diag.error(source.display("etc/pve/nodes"), None, "", "no Proxmox nodes: expected etc/pve/nodes/<node>/ and nodes/<node>/etc/network/interfaces")
    bridges = {node: _node_bridges(source, node, pending, diag) for node in nodes}
    guests: list[Guest] = []
    seen: dict[int, str] = {}
    for node in nodes:
        for kind, rel in source.guest_files(node):
            shown = source.display(rel)
            m = GUEST_FILE.match(rel.rsplit("/", 1)[-1])
            if not m:
                diag.warn(shown, None, "", "not named <vmid>.conf; not read")
                continue
            vmid = int(m.group(1))
            if not MIN_VMID <= vmid <= MAX_VMID:
                diag.error(shown, None, "", f"vmid {vmid} is not from {MIN_VMID} to {MAX_VMID}")
                continue
            if vmid in seen:
                diag.error(shown, None, "", f"vmid {vmid} is also {seen[vmid]}; a vmid is unique in a cluster")
                continue
            seen[vmid] = shown
            text = source.read(rel, diag)
            if text is None:
                continue
            conf = parse_conf(text, shown, kind, vmid, node, diag)
            guests.append(read_guest(conf, pending, diag))
    sdn = read_sdn(source, pending, diag) if source.is_dir("etc/pve/sdn") else Sdn()
    return Snapshot(nodes, bridges, sorted(guests, key=lambda g: g.vmid), sdn)


def _node_bridges(source: Source, node: str, pending: bool, diag: Diagnostics) -> dict[str, HostBridge] | None:
    rel, new_rel = source.interfaces(node), source.interfaces(node, new=True)
    if rel is None or new_rel is None:
        return None
    text = source.read(rel, diag)
    new_text = source.read(new_rel, diag)
    if pending and new_text is not None:
        text, rel = new_text, new_rel
    elif new_text is not None and new_text != text:
        diag.warn(source.display(new_rel), None, "", "pending network changes are not applied (import with --pending to use them)")
    if text is None:
        return None
    file = source.display(rel)
    return read_bridges(parse_interfaces(text, file, diag), node, file, diag)


@dataclass
class _Nic:
    """A guest NIC on its way into the file."""

    guest: Guest
    nic: GuestNic
    plan: NicPlan
    mac: str | None
    ip: str | None


class _Builder:
    def __init__(self, source: Source, snapshot: Snapshot, diag: Diagnostics):
        self.source = source
        self.snap = snapshot
        self.diag = diag
        self.link_notes: list[str] = []
        self.tagged_plain: dict[str, HostBridge] = {}  # topology name -> Linux bridge, not VLAN-aware, with tagged NICs
        self.loose_untagged: list[_Nic] = []

    def warn(self, guest: Guest, nic: GuestNic, message: str) -> None:
        self.diag.warn(guest.file, nic.line, nic.key, message)

    # -- the whole ------------------------------------------------------------
    def build(self, name: str, pending: bool) -> tuple[dict, list[str]]:
        snap = self.snap
        nodes = [n for n in snap.nodes if snap.bridges[n] is not None]
        for node in snap.nodes:
            if snap.bridges[node] is None:
                count = sum(1 for g in snap.guests if g.node == node)
                rel = self.source.interfaces(node)
                why = f"in the snapshot ({rel})" if rel else "here: on a live node only this node's /etc/network/interfaces is read"
                self.diag.warn(self.source.display(f"etc/pve/nodes/{node}"), None, "",
                               f"node {node} has no network configuration {why}; it is left out with its {count} guest{'s' * (count != 1)}")
        self.node_names = naming.node_names(nodes)
        for node, topo in self.node_names.items():
            if node != topo:
                self.diag.warn(self.source.display(f"etc/pve/nodes/{node}"), None, "", f"node {node} is called {topo} in the file")
        host = {n: snap.bridges[n] or {} for n in nodes}
        self.bridge_names = naming.bridge_names({n: list(host[n]) for n in nodes}, self.node_names)
        self.host = host
        if not self.bridge_names:
            self.diag.error(self.source.display("nodes"), None, "", "no bridges: no node of the snapshot has a Linux or OVS bridge")
            return {}, []
        guests = [g for g in snap.guests if g.node in host]
        names = naming.endpoint_names([(g.kind, g.vmid, g.name) for g in guests], set(self.bridge_names.values()))
        for g in guests:
            endpoint, why = names[g.vmid]
            if why:
                self.diag.warn(g.file, None, "name" if g.kind == "qemu" else "hostname", f"{why}; the endpoint is called {endpoint}")
        nics: dict[int, list[_Nic]] = {}
        for g in guests:
            nics[g.vmid] = [n for n in (self.nic(g, names[g.vmid][0], nic) for nic in g.nics) if n is not None]
        self.check_plain_bridges(nics)
        self.unique_addresses(guests, nics)
        self.note_loose_untagged()
        ports = self.switch_ports()
        plan_ = plan([n.plan for g in guests for n in nics[g.vmid]], ports)
        for g in guests:
            for n in nics[g.vmid]:
                if n.nic.trunk_ranges:
                    kept = sorted(s for s in n.plan.segments if isinstance(s, int) and s != n.plan.tag)
                    self.warn(g, n.nic, f"trunks={n.nic.trunks_text}: only the VLANs that matter for reachability are declared "
                                        f"(docs/proxmox.md); in the file this NIC trunks {', '.join(map(str, kept)) or 'no VLAN'}")
        doc = {
            "name": _topology_name(name),
            "description": f"Imported from Proxmox VE: {len(nodes)} node{'s' * (len(nodes) != 1)}, {len(guests)} guest{'s' * (len(guests) != 1)}"
                           + (", pending changes applied." if pending else "."),
            "nodes": {self.node_names[n]: {} for n in nodes},
            "vlans": self.vlans(plan_),
            "bridges": self.bridges(nodes),
            "endpoints": self.endpoints(guests, names, nics),
            "links": self.links(plan_, ports),
        }
        if not doc["endpoints"]:
            del doc["endpoints"]
        if not doc["links"]:
            del doc["links"]
        comments = [
            f"Imported from a Proxmox VE snapshot by `sdnlab import pve`{' --pending' if pending else ''} (see docs/proxmox.md).",
            "Bridges are named <node>-<bridge>. Links stand for the physical switch, which the snapshot does not describe:",
        ]
        comments += [f"  {note}" for note in self.link_notes] or ["  (none)"]
        return doc, comments

    # -- NICs ----------------------------------------------------------------
    def nic(self, guest: Guest, endpoint: str, nic: GuestNic) -> _Nic | None:
        """The NIC as the file will have it, or None (with a warning) when it cannot be."""
        what = "container" if guest.kind == "lxc" else "VM"
        if nic.link_down:
            self.warn(guest, nic, "link_down=1: the NIC is disconnected; left out")
            return None
        if nic.bridge is None:
            self.warn(guest, nic, "no bridge: user-mode networking (NAT); left out" if guest.kind == "qemu" else "no bridge: the NIC is not connected; left out")
            return None
        if nic.firewall:
            self.warn(guest, nic, "firewall=1: the Proxmox firewall's rules are not modelled; the NIC is modelled as if they let everything through")
        if nic.rate is not None:
            self.warn(guest, nic, f"rate={nic.rate}: rate limits are not modelled")
        node_bridges = self.host[guest.node]
        tag, trunk_ids, trunk_ranges = nic.tag, nic.trunk_ids, nic.trunk_ranges
        via_vnet = False
        bridge = node_bridges.get(nic.bridge)
        if bridge is None:
            resolved = self.vnet(guest, nic)
            if resolved is None:
                return None
            bridge, tag = resolved
            trunk_ids, trunk_ranges, via_vnet = frozenset(), NONE, True
        topo = self.bridge_names[(guest.node, bridge.name)]
        if bridge.type == "linux" and bridge.vlan_aware:
            if tag == 1:
                self.warn(guest, nic, f"tag=1 is the default PVID of VLAN-aware bridge {bridge.name}, the VLAN of its untagged ports; modelled as untagged")
                tag = None
            if 1 in trunk_ids or 1 in trunk_ranges:
                self.warn(guest, nic, f"VLAN 1 in trunks is the untagged VLAN (PVID 1) of bridge {bridge.name}; not modelled as a trunk VLAN")
                trunk_ids, trunk_ranges = trunk_ids - {1}, trunk_ranges - VlanSet.ids([1])
        elif bridge.type == "linux":
            if trunk_ids or trunk_ranges:
                self.warn(guest, nic, f"trunks on bridge {bridge.name}, which is not VLAN-aware: Proxmox refuses to start the {what} "
                                      "(\"vlan aware feature need to be enabled to use trunks\"); NIC left out")
                return None
            if tag is not None and not via_vnet and not bridge.physical:
                self.warn(guest, nic, f"tag={tag} on bridge {bridge.name}, which is not VLAN-aware and has no physical port: Proxmox refuses to "
                                      f"start the {what} (\"no physical interface on bridge\"); NIC left out")
                return None
            if tag is not None:
                self.tagged_plain[topo] = bridge
        elif (trunk_ids or trunk_ranges) and tag is None:
            self.warn(guest, nic, f"trunks without tag on OVS bridge {bridge.name}: Proxmox adds the port with trunks= only, so OVS drops its "
                                  "untagged frames (VLAN 0 is not in trunks); the file's NIC is untagged too")
        plan_ = NicPlan(endpoint, topo, tag, frozenset(trunk_ids), trunk_ranges)
        out = _Nic(guest, nic, plan_, nic.mac, str(nic.ip) if nic.ip is not None else None)
        if tag is None and not (trunk_ids or trunk_ranges) and (bridge.vlan_aware or bridge.physical):
            self.loose_untagged.append(out)
        return out

    def vnet(self, guest: Guest, nic: GuestNic) -> tuple[HostBridge, int | None] | None:
        """The bridge and VLAN of an SDN vnet on the guest's node, or None with a warning."""
        sdn = self.snap.sdn
        vnet = sdn.vnets.get(nic.bridge or "")
        if vnet is None:
            self.warn(guest, nic, f"bridge {nic.bridge} is neither a bridge of node {guest.node} nor an SDN vnet; NIC left out")
            return None
        zone = sdn.zones[vnet.zone]
        if zone.type != "vlan":
            self.warn(guest, nic, f"vnet {vnet.id} is in {zone.type} zone {zone.id}, which is not modelled; NIC left out")
            return None
        if zone.nodes is not None and guest.node not in zone.nodes:
            self.warn(guest, nic, f"zone {zone.id} of vnet {vnet.id} does not include node {guest.node}; NIC left out")
            return None
        bridge = self.host[guest.node].get(zone.bridge or "")
        if bridge is None:
            self.warn(guest, nic, f"bridge {zone.bridge} of zone {zone.id} (vnet {vnet.id}) is not a bridge of node {guest.node}; NIC left out")
            return None
        if nic.tag is not None:
            self.warn(guest, nic, f"tag={nic.tag} inside vnet {vnet.id} (VLAN {vnet.tag}) is double tagging (QinQ), which is not modelled; "
                                  f"modelled in VLAN {vnet.tag}")
        if nic.has_trunks:
            self.warn(guest, nic, f"trunks inside vnet {vnet.id} are not modelled; left out")
        return bridge, vnet.tag

    def check_plain_bridges(self, nics: dict[int, list[_Nic]]) -> None:
        for topo, bridge in sorted(self.tagged_plain.items()):
            tags = sorted({n.plan.tag for ns in nics.values() for n in ns if n.plan.bridge == topo and n.plan.tag is not None})
            self.diag.warn(bridge.file, bridge.line, bridge.name,
                           f"bridge {bridge.name} of node {bridge.node} is not VLAN-aware, but NICs on it are tagged ({', '.join(map(str, tags))}): "
                           f"Proxmox puts them on per-VLAN bridges {bridge.name}v<tag>; modelled as a VLAN-aware bridge")

    def unique_addresses(self, guests: list[Guest], nics: dict[int, list[_Nic]]) -> None:
        macs: dict[str, str] = {}
        ips: dict[str, str] = {}
        for g in guests:
            for n in nics[g.vmid]:
                here = f"{n.plan.endpoint} {n.nic.key}"
                if n.mac is not None:
                    if n.mac in macs:
                        self.warn(g, n.nic, f"MAC {n.mac} is also the MAC of {macs[n.mac]}; left out here (the file assigns one)")
                        n.mac = None
                    else:
                        macs[n.mac] = here
                if n.ip is not None:
                    address = n.ip.split("/")[0]
                    if address in ips:
                        self.warn(g, n.nic, f"address {address} is also the address of {ips[address]}; left out here")
                        n.ip = None
                    else:
                        ips[address] = here

    def note_loose_untagged(self) -> None:
        if not self.loose_untagged:
            return
        first = self.loose_untagged[0]
        shown = ", ".join(f"{n.plan.endpoint} {n.nic.key}" for n in self.loose_untagged[:EXAMPLES])
        more = f" and {len(self.loose_untagged) - EXAMPLES} more" if len(self.loose_untagged) > EXAMPLES else ""
        self.diag.warn(first.guest.file, first.nic.line, first.nic.key,
                       f"{len(self.loose_untagged)} untagged NIC{'s' * (len(self.loose_untagged) != 1)} without trunks ({shown}{more}) can send and receive "
                       "any VLAN in Proxmox (it adds VLANs 2-4094 to such a port on a VLAN-aware bridge; an OVS port without tag trunks every VLAN; "
                       "a plain bridge passes tags): modelled as untagged only, which sdnlab's controller enforces")

    # -- bridges, links, VLANs -------------------------------------------------
    def switch_ports(self) -> dict[str, SwitchPort]:
        ports = {}
        for (node, name), topo in self.bridge_names.items():
            bridge = self.host[node][name]
            if bridge.uplink is not None:
                ports[topo] = SwitchPort(group=name, order=(node, name), wire=bridge.uplink)
        return ports

    def bridges(self, nodes: list[str]) -> dict[str, dict]:
        out = {}
        for node in nodes:
            for name in sorted(self.host[node]):
                bridge = self.host[node][name]
                topo = self.bridge_names[(node, name)]
                body: dict = {"type": bridge.type, "node": self.node_names[node]}
                if bridge.type == "linux" and (bridge.vlan_aware or topo in self.tagged_plain):
                    body["vlan_aware"] = True
                out[topo] = body
        return out

    def links(self, plan_: Plan, ports: dict[str, SwitchPort]) -> list[dict]:
        where = {topo: self.host[node][name] for (node, name), topo in self.bridge_names.items()}
        out = []
        for (a, b) in sorted(plan_.links):
            segs = plan_.links[(a, b)]
            trunks = sorted(s for s in segs if s != UNTAGGED)
            link: dict = {"between": [a, b], "trunks": trunks}
            if UNTAGGED not in segs:
                link["untagged"] = False
            out.append(link)
            carried = carried_text(segs)
            note = f"{a} -- {b}: {carried}"
            self.link_notes.append(note)
            ba, bb = where[a], where[b]
            self.diag.warn(ba.file, ba.line, ba.name,
                           f"assumed physical link {a} -- {b} carrying {carried}: both bridges are called {ba.name} and have a physical port "
                           f"({ba.uplink_port} on {ba.node}, {bb.uplink_port} on {bb.node}); the switch between them is not in the snapshot")
        for group, wire, per in plan_.mismatches:
            parts = "; ".join(f"{_label(seg)} on {', '.join(bridges)}" for seg, bridges in per)
            first = where[per[0][1][0]]
            self.diag.warn(first.file, first.line, first.name,
                           f"on the switch of the {group} bridges, wire segment {_label(wire)} is {parts}: joining different segments is not modelled")
        return out

    def vlans(self, plan_: Plan) -> dict[int, dict]:
        names: dict[int, list[str]] = {}
        for vnet in self.snap.sdn.vnets.values():
            zone = self.snap.sdn.zones.get(vnet.zone)
            if zone is not None and zone.type == "vlan" and vnet.tag is not None:
                names.setdefault(vnet.tag, []).append(vnet.alias or vnet.id)
        out = {}
        for vid in plan_.declared:
            label = "/".join(sorted(set(names.get(vid, []))))
            out[vid] = {"name": label} if label else {}
        return out

    # -- endpoints -----------------------------------------------------------
    def endpoints(self, guests: list[Guest], names: dict, nics: dict[int, list[_Nic]]) -> dict[str, dict]:
        out = {}
        for g in guests:
            endpoint = names[g.vmid][0]
            items = nics[g.vmid]
            if not items:
                self.diag.warn(g.file, None, "", f"{endpoint} has no NIC on a bridge of the file; left out")
                continue
            renumbered = [f"{n.nic.key} is nics[{i}]" for i, n in enumerate(items) if n.nic.index != i]
            if renumbered:
                self.diag.warn(g.file, items[0].nic.line, "", f"NICs are listed in order, so {', '.join(renumbered)} in the file")
            out[endpoint] = {
                "type": "kvm" if g.kind == "qemu" else "lxc",
                "node": self.node_names[g.node],
                "vmid": g.vmid,
                "nics": [self.nic_doc(n) for n in items],
            }
        return out

    def nic_doc(self, n: _Nic) -> dict:
        body: dict = {"bridge": n.plan.bridge}
        if n.plan.tag is not None:
            body["tag"] = n.plan.tag
        trunks = sorted(s for s in n.plan.segments if isinstance(s, int) and s != n.plan.tag)
        if trunks:
            body["trunks"] = trunks
        if n.mac is not None:
            body["mac"] = n.mac
        if n.ip is not None:
            body["ip"] = n.ip
        return body


def _label(segment) -> str:
    return UNTAGGED if segment == UNTAGGED else f"VLAN {segment}"


def carried_text(segs: set) -> str:
    """'untagged and VLANs 10, 20', 'VLAN 10', 'untagged'."""
    vids = [str(s) for s in sorted(segs, key=segment_key) if s != UNTAGGED]
    parts = ["untagged"] if UNTAGGED in segs else []
    if vids:
        parts.append(f"VLAN{'s' if len(vids) > 1 else ''} {', '.join(vids)}")
    return " and ".join(parts) or "nothing"


def _topology_name(hint: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")
    if not name[:1].isalpha():
        name = "pve-" + name if name else "pve"
    return name[:32].rstrip("-") or "pve"
