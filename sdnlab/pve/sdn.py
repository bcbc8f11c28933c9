"""Proxmox SDN: zones, vnets and subnets from /etc/pve/sdn.

`zones.cfg`, `vnets.cfg` and `subnets.cfg` (section config: a `type: id` line,
then indented `key value` lines) hold the configuration as edited;
`.running-config` (JSON) what was applied. The import reads the applied one
when there is one, and the edited files with --pending (or when nothing was
applied yet). VLAN zones are modelled: a guest on a vnet of a VLAN zone is on
the zone's bridge with the vnet's tag. Other zone types are warned about.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.source import Source
from sdnlab.pve.vlans import parse_tag

HEADER = re.compile(r"(\S+):\s*(\S+)\s*\Z")
PROPERTY = re.compile(r"\s+(\S+)(?:\s+(.*\S))?\s*\Z")
ZONE_TYPES = ("simple", "vlan", "qinq", "vxlan", "evpn", "faucet")
VNET_ID = re.compile(r"[a-z][a-z0-9]*[a-z0-9]\Z", re.IGNORECASE)
BOOLS = {"0": False, "1": True}


@dataclass(frozen=True)
class Section:
    type: str
    id: str
    file: str
    line: int | None
    props: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.props[key][0] if key in self.props else None

    def line_of(self, key: str) -> int | None:
        return self.props[key][1] if key in self.props else self.line


@dataclass(frozen=True)
class Zone:
    id: str
    type: str
    bridge: str | None
    nodes: frozenset[str] | None  # None: every node
    file: str
    line: int | None


@dataclass(frozen=True)
class Vnet:
    id: str
    zone: str
    tag: int | None
    alias: str | None
    vlanaware: bool
    isolate_ports: bool
    file: str
    line: int | None


@dataclass
class Sdn:
    zones: dict[str, Zone] = field(default_factory=dict)
    vnets: dict[str, Vnet] = field(default_factory=dict)


def parse_sections(text: str, file: str, diag: Diagnostics) -> list[Section]:
    """Proxmox's section config: `type: id` then indented `key value` lines, sections apart by blank lines."""
    out: list[Section] = []
    current: Section | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            if not raw.strip():
                current = None
            continue
        if raw[0] in " \t":
            if current is None:
                diag.error(file, number, "", f"'{raw.strip()[:40]}' is not inside a section")
                continue
            key, value = PROPERTY.match(raw).groups()  # always matches: the line is indented and not blank
            if key in current.props:
                diag.error(file, number, f"{current.id}.{key}", f"{key} is set twice")
            current.props[key] = (value or "", number)
            continue
        m = HEADER.match(raw)
        if not m:
            diag.error(file, number, "", f"'{raw.strip()[:40]}' is not a 'type: id' section header")
            current = None
            continue
        current = Section(m.group(1), m.group(2), file, number)
        if any(s.id == current.id and s.type == current.type for s in out):
            diag.error(file, number, current.id, f"{current.type} {current.id} is defined twice")
        out.append(current)
    return out


def _running(text: str, file: str, diag: Diagnostics) -> dict[str, list[Section]] | None:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        diag.error(file, exc.lineno, "", f"not JSON: {exc.msg}")
        return None
    out: dict[str, list[Section]] = {}
    for kind in ("zones", "vnets", "subnets"):
        ids = ((doc.get(kind) or {}).get("ids") or {}) if isinstance(doc, dict) else {}
        if not isinstance(ids, dict):
            diag.error(file, None, f"{kind}.ids", "must be an object")
            continue
        out[kind] = []
        for ident, body in ids.items():
            if not isinstance(body, dict):
                diag.error(file, None, f"{kind}.ids.{ident}", "must be an object")
                continue
            props = {k: (str(v), None) for k, v in body.items() if k != "type" and not isinstance(v, (dict, list))}
            out[kind].append(Section(str(body.get("type", "vnet" if kind == "vnets" else "subnet")), str(ident), file, None, props))
    return out


def read_sdn(source: Source, pending: bool, diag: Diagnostics) -> Sdn:
    """The SDN zones and vnets of a snapshot (none when it has no etc/pve/sdn)."""
    running_rel = "etc/pve/sdn/.running-config"
    running_text = None if pending else source.read(running_rel, diag)
    edited = {}
    for kind in ("zones", "vnets", "subnets"):
        rel = f"etc/pve/sdn/{kind}.cfg"
        text = source.read(rel, diag)
        if text is not None:
            edited[kind] = parse_sections(text, source.display(rel), diag)
    if running_text is not None:
        sections = _running(running_text, source.display(running_rel), diag) or {}
        if edited and _summary(edited) != _summary(sections):
            diag.warn(source.display("etc/pve/sdn"), None, "", "the SDN configuration has changes that were not applied; they are left out (import with --pending to use them)")
    else:
        sections = edited
    return _build(sections, diag)


def _summary(sections: dict[str, list[Section]]) -> set:
    keys = ("bridge", "zone", "tag", "nodes", "vlanaware")
    return {(kind, s.type, s.id, tuple(s.get(k) for k in keys)) for kind in ("zones", "vnets") for s in sections.get(kind, [])}


def _build(sections: dict[str, list[Section]], diag: Diagnostics) -> Sdn:
    sdn = Sdn()
    for s in sections.get("zones", []):
        if s.type not in ZONE_TYPES:
            diag.warn(s.file, s.line, s.id, f"zone type '{s.type}' is not known; its vnets are left out")
        nodes = s.get("nodes")
        zone = Zone(s.id, s.type, s.get("bridge"), frozenset(n.strip() for n in nodes.split(",") if n.strip()) if nodes else None, s.file, s.line)
        if s.type in ("vlan", "qinq") and not zone.bridge:
            diag.error(s.file, s.line, s.id, f"a {s.type} zone needs a bridge")
        if s.type in ZONE_TYPES and s.type != "vlan":
            what = {"qinq": "QinQ: a service VLAN around the vnet tags", "vxlan": "VXLAN tunnels between the nodes",
                    "evpn": "EVPN: VXLAN with BGP routing", "simple": "simple: routed, local to each node", "faucet": "Faucet"}[s.type]
            diag.warn(s.file, s.line, s.id, f"zone {s.id} ({what}) is not modelled; NICs on its vnets are left out")
        sdn.zones[s.id] = zone
    for s in sections.get("vnets", []):
        if s.type != "vnet":
            diag.error(s.file, s.line, s.id, f"'{s.type}' is not a vnet section")
            continue
        if not VNET_ID.match(s.id) or len(s.id) > 8:
            diag.error(s.file, s.line, s.id, "a vnet id is 2 to 8 letters and digits, starting with a letter")
        zone = s.get("zone")
        if zone is None:
            diag.error(s.file, s.line, s.id, "a vnet needs a zone")
            continue
        tag = None
        kind = sdn.zones[zone].type if zone in sdn.zones else None
        if s.get("tag") is not None:
            text = s.get("tag") or ""
            if kind in ("vlan", "qinq"):
                try:
                    tag = parse_tag(text, "tag")
                except ValueError as exc:
                    diag.error(s.file, s.line_of("tag"), f"{s.id}.tag", str(exc))
                    continue
            elif not text.isdigit() or not 1 <= int(text) < 2**24:
                diag.error(s.file, s.line_of("tag"), f"{s.id}.tag", f"tag '{text}' is not a VXLAN id (1 to {2**24 - 1})")
                continue
        flags = {}
        for key in ("vlanaware", "isolate-ports"):
            value = s.get(key)
            if value is not None and value not in BOOLS:
                diag.error(s.file, s.line_of(key), f"{s.id}.{key}", f"'{value}' is not 0 or 1")
            flags[key] = BOOLS.get(value or "0", False)
        vnet = Vnet(s.id, zone, tag, s.get("alias"), flags["vlanaware"], flags["isolate-ports"], s.file, s.line)
        if zone not in sdn.zones:
            diag.error(s.file, s.line_of("zone"), f"{s.id}.zone", f"zone '{zone}' is not defined")
            continue
        if sdn.zones[zone].type == "vlan":
            if tag is None:
                diag.error(s.file, s.line, s.id, f"vnet {s.id} is in VLAN zone {zone} and needs a tag")
                continue
            if vnet.isolate_ports:
                diag.warn(s.file, s.line_of("isolate-ports"), f"{s.id}.isolate-ports", "port isolation is not modelled: NICs on this vnet are modelled as reaching each other")
        sdn.vnets[s.id] = vnet
    vnets = {s.id for s in sections.get("vnets", [])}
    for s in sections.get("subnets", []):
        vnet = s.get("vnet")
        if vnet is None:
            diag.error(s.file, s.line, s.id, "a subnet needs a vnet")
        elif vnet not in vnets:
            diag.error(s.file, s.line_of("vnet"), f"{s.id}.vnet", f"vnet '{vnet}' is not defined")
    return sdn
