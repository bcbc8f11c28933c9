"""Turn a topology file into the typed model, or reject it with every problem.

The rules are those of the topology format, version 1.1 (see docs/topology-format.md).
Nothing here touches the machine: loading is pure.
"""

from __future__ import annotations

import ipaddress
import re
from ipaddress import AddressValueError, IPv4Interface, NetmaskValueError
from pathlib import Path
from typing import Any

from sdnlab.assign import MAX_VNI, assign_dpids, assign_macs, assign_vnis
from sdnlab.gcutil import no_cyclic_gc
from sdnlab.model import (
    ENDPOINT_TYPES,
    Bridge,
    ControllerConfig,
    Endpoint,
    Link,
    Nic,
    Topology,
)
from sdnlab.problems import Index, Problem, TopologyError, render_path, show
from sdnlab.yamlsrc import Located, read_text

TOPOLOGY_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}\Z")
OBJECT_NAME = re.compile(r"[a-z][a-z0-9-]{0,11}\Z")
MAC = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}\Z", re.IGNORECASE)
TOP_KEYS = ("name", "description", "nodes", "vlans", "bridges", "endpoints", "links", "controller")
DEFAULT_NODE = "node1"
MAX_VMID = 999_999_999  # Proxmox's largest VM or container id
MAX_REPLICAS = 32  # controllers in one simulated cluster; more is a typo, not a lab
NIC_KEYS = ("bridge", "tag", "ip", "mac", "trunks", "port_security")
# A lab of 10,000 endpoints is 1.3 MiB; a larger file is a mistake or an attack, and is not read further.
MAX_FILE_BYTES = 16 * 2**20


def load(path: str | Path) -> Topology:
    """Read and validate a topology file; raise TopologyError listing every problem."""
    return loads(read_source(path), str(path))


def read_source(path: str | Path) -> str:
    """The text of a file, or a TopologyError saying plainly why it cannot be had."""
    file = str(path)
    try:
        with open(path, "rb") as f:
            # Read one byte past the limit, not the whole file: it may be huge, or endless (/dev/zero).
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise TopologyError([Problem(file, None, None, "", f"is larger than {MAX_FILE_BYTES} bytes, the limit for a topology or scenario file")])
        return data.decode("utf-8")
    except IsADirectoryError:
        raise TopologyError([Problem(file, None, None, "", "is a directory, not a topology file")]) from None
    except FileNotFoundError:
        raise TopologyError([Problem(file, None, None, "", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise TopologyError([Problem(file, None, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except OSError as exc:
        raise TopologyError([Problem(file, None, None, "", f"cannot be read: {exc.strerror}")]) from None


def loads(text: str, file: str = "<string>") -> Topology:
    """Validate topology YAML given as text; `file` names it in errors."""
    with no_cyclic_gc():
        src = read_text(text, file)
        if src.problems and src.value is None:
            raise TopologyError(src.problems)
        reader = _Reader(src)
        topology = reader.topology()
    if reader.problems:
        raise TopologyError(reader.problems)
    return topology


def parse_tree(tree: Any, file: str = "<memory>") -> Topology:
    """Validate an already-parsed topology (dicts and lists), e.g. one a program built."""
    src = Located(file=file, value=tree)
    reader = _Reader(src)
    topology = reader.topology()
    if reader.problems:
        raise TopologyError(reader.problems)
    return topology


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "nothing"
    return {dict: "a map", list: "a list", str: "text", int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _quoted(value: Any) -> str:
    """'value' for a plain value, or what it is (a map, a list) for a container, which is never printed."""
    return show(value) if isinstance(value, (dict, list)) else f"'{show(value)}'"


class _Reader:
    """Walks the located tree once, collecting problems instead of stopping."""

    def __init__(self, src: Located):
        self.src = src
        self.problems: list[Problem] = list(src.problems)

    # -- reporting ---------------------------------------------------------
    def error(self, path: tuple, message: str, at_key: bool = False) -> None:
        line, col = self.src.where(path, at_key)
        self.problems.append(Problem(self.src.file, line, col, render_path(path), message))

    def mapping(self, value: Any, path: tuple, what: str, allow_null: bool = False) -> dict | None:
        if value is None and allow_null:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"{what} must be a map, not {_kind(value)}")
            return None
        return value

    def known_keys(self, value: dict, path: tuple, allowed: tuple[str, ...]) -> None:
        for key in value:
            if key not in allowed:
                hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
                self.error(path + (key,), f"unknown key '{show(key)}'{hint}", at_key=True)

    def text(self, value: Any, path: tuple, what: str) -> str | None:
        if not isinstance(value, str):
            extra = " (quote it)" if isinstance(value, (bool, int, float)) else ""
            self.error(path, f"{what} must be text, not {_kind(value)}{extra}")
            return None
        return value

    def boolean(self, value: Any, path: tuple, what: str) -> bool | None:
        if not isinstance(value, bool):
            self.error(path, f"{what} must be true or false, not {_kind(value)}")
            return None
        return value

    def integer(self, value: Any, path: tuple, what: str, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"{what} must be a whole number from {low} to {high}, not {_kind(value)}")
            return None
        if not low <= value <= high:
            self.error(path, f"{what} must be from {low} to {high}, not {show(value)}")
            return None
        return value

    def name(self, value: Any, path: tuple, what: str, pattern: re.Pattern, limit: int, at_key: bool = False) -> bool:
        if not isinstance(value, str) or not pattern.match(value):
            self.error(
                path,
                f"{what} '{show(value)}' must be 1-{limit} characters of a-z, 0-9 and '-', starting with a letter",
                at_key=at_key,
            )
            return False
        return True

    # -- the document ------------------------------------------------------
    def topology(self) -> Topology | None:
        doc = self.mapping(self.src.value, (), "the topology file")
        if doc is None:
            return None
        self.known_keys(doc, (), TOP_KEYS)

        name = None
        if "name" not in doc:
            self.error((), "missing required key 'name'")
        elif self.text(doc["name"], ("name",), "name") is not None:
            if self.name(doc["name"], ("name",), "name", TOPOLOGY_NAME, 32):
                name = doc["name"]
        description = ""
        if "description" in doc and doc["description"] is not None:
            description = self.text(doc["description"], ("description",), "description") or ""

        nodes, node_addresses = self.nodes(doc.get("nodes"), "nodes" in doc)
        vlans = self.vlans(doc.get("vlans"))
        if "bridges" not in doc:
            self.error((), "missing required key 'bridges' (a lab needs at least one bridge)")
        bridges = self.bridges(doc.get("bridges", {}), nodes, "bridges" in doc)
        endpoints = self.endpoints(doc.get("endpoints"), nodes, bridges, vlans)
        links = self.links(doc.get("links"), bridges, vlans)
        controller = self.controller(doc.get("controller"))
        self.unique_addresses(doc.get("endpoints"), endpoints)

        if self.problems or name is None:
            return None
        bridges = assign_dpids(name, bridges)
        endpoints = assign_macs(name, endpoints)
        links = assign_vnis(name, links)
        return Topology(
            name=name,
            description=description,
            nodes=tuple(nodes),
            node_addresses=node_addresses,
            vlans=vlans,
            bridges=bridges,
            endpoints=endpoints,
            links=tuple(links),
            controller=controller,
            source=self.src.file,
        )

    def nodes(self, value: Any, given: bool) -> tuple[list[str], dict[str, str]]:
        """The node names, and the underlay address of each node that gives one."""
        if not given:
            return [DEFAULT_NODE], {}
        value = self.mapping(value, ("nodes",), "nodes")
        if value is None:
            return [], {}
        if not value:
            self.error(("nodes",), "nodes is empty; leave it out for a single node called node1")
        out = []
        addresses: dict[str, str] = {}
        for node, body in value.items():
            path = ("nodes", node)
            if not self.name(node, path, "node name", TOPOLOGY_NAME, 32, at_key=True):
                continue
            body = self.mapping(body, path, f"node {node}", allow_null=True)
            if body is not None:
                self.known_keys(body, path, ("address",))
                if "address" in body:
                    address = self.node_address(body["address"], path + ("address",), addresses)
                    if address is not None:
                        addresses[node] = address
            out.append(node)
        return out, addresses

    def node_address(self, value: Any, path: tuple, taken: dict[str, str]) -> str | None:
        """A node's underlay address: one IPv4 or IPv6 address, no prefix, no other node's."""
        text = self.text(value, path, "node address")
        if text is None:
            return None
        try:
            address = str(ipaddress.ip_address(text))
        except ValueError:
            self.error(path, f"node address must be an IPv4 or IPv6 address without a prefix, like 192.0.2.11, not '{show(text)}'")
            return None
        owner = next((node for node, other in taken.items() if other == address), None)
        if owner is not None:
            self.error(path, f"address {address} is already the address of node {owner}")
            return None
        return address

    def vlans(self, value: Any) -> dict[int, str | None]:
        value = self.mapping(value, ("vlans",), "vlans", allow_null=True)
        out: dict[int, str | None] = {}
        for vid, body in (value or {}).items():
            path = ("vlans", vid)
            if isinstance(vid, bool) or not isinstance(vid, int) or not 1 <= vid <= 4094:
                self.error(path, f"VLAN id '{show(vid)}' must be a whole number from 1 to 4094", at_key=True)
                continue
            body = self.mapping(body, path, f"VLAN {vid}", allow_null=True)
            label = None
            if body is not None:
                self.known_keys(body, path, ("name",))
                if body.get("name") is not None:
                    label = self.text(body["name"], path + ("name",), "VLAN name")
            out[vid] = label
        return out

    def node_of(self, body: dict, path: tuple, nodes: list[str], what: str) -> str | None:
        if "node" not in body:
            if len(nodes) == 1:
                return nodes[0]
            if nodes:
                self.error(path, f"{what} needs a 'node': the file has several nodes ({', '.join(nodes)})")
            return None
        node = body["node"]
        if not isinstance(node, str):
            self.error(path + ("node",), f"node must be text, not {_kind(node)}")
            return None
        if node not in nodes:
            self.error(path + ("node",), f"unknown node '{show(node)}'; nodes are: {', '.join(nodes) or 'none'}")
            return None
        return node

    def bridges(self, value: Any, nodes: list[str], given: bool) -> dict[str, Bridge]:
        value = self.mapping(value, ("bridges",), "bridges")
        if value is None:
            return {}
        if given and not value:
            self.error(("bridges",), "a lab needs at least one bridge")
        out: dict[str, Bridge] = {}
        dpids: dict[int, str] = {}
        for name, body in value.items():
            path = ("bridges", name)
            named = self.name(name, path, "bridge name", OBJECT_NAME, 12, at_key=True)
            body = self.mapping(body, path, f"bridge {name}")
            if body is None:
                continue
            self.known_keys(body, path, ("type", "node", "dpid", "vlan_aware"))
            kind = body.get("type")
            if "type" not in body:
                self.error(path, "missing required key 'type' (ovs or linux)")
            elif kind not in ("ovs", "linux"):
                self.error(path + ("type",), f"type must be 'ovs' or 'linux', not {_quoted(kind)}")
                kind = None
            node = self.node_of(body, path, nodes, f"bridge {name}")
            dpid = None
            if "dpid" in body:
                if kind == "linux":
                    self.error(path + ("dpid",), "dpid is for OVS bridges only; a Linux bridge has no datapath id")
                else:
                    dpid = self.integer(body["dpid"], path + ("dpid",), "dpid", 1, 2**64 - 1)
                    if dpid is not None and dpid in dpids:
                        self.error(path + ("dpid",), f"dpid {dpid} is already used by bridge {dpids[dpid]}")
                    elif dpid is not None:
                        dpids[dpid] = name
            vlan_aware = False
            if "vlan_aware" in body:
                if kind == "ovs":
                    self.error(path + ("vlan_aware",), "vlan_aware is for Linux bridges only; OVS bridges are always VLAN-aware")
                else:
                    vlan_aware = bool(self.boolean(body["vlan_aware"], path + ("vlan_aware",), "vlan_aware"))
            if named and kind and node:
                out[name] = Bridge(name=name, type=kind, node=node, dpid=dpid, vlan_aware=vlan_aware or kind == "ovs")
        return out

    def endpoints(self, value: Any, nodes: list[str], bridges: dict[str, Bridge], vlans: dict) -> dict[str, Endpoint]:
        value = self.mapping(value, ("endpoints",), "endpoints", allow_null=True)
        out: dict[str, Endpoint] = {}
        vmids: dict[int, str] = {}
        for name, body in (value or {}).items():
            path = ("endpoints", name)
            named = self.name(name, path, "endpoint name", OBJECT_NAME, 12, at_key=True)
            if named and name in bridges:
                self.error(path, f"'{name}' is already the name of a bridge; bridge and endpoint names must be unique together", at_key=True)
            body = self.mapping(body, path, f"endpoint {name}")
            if body is None:
                continue
            self.known_keys(body, path, ("type", "node", "vmid", "nics"))
            kind = body.get("type")
            if "type" not in body:
                self.error(path, "missing required key 'type' (kvm, lxc or host)")
            elif kind not in ENDPOINT_TYPES:
                self.error(path + ("type",), f"type must be 'kvm', 'lxc' or 'host', not {_quoted(kind)}")
                kind = None
            node = self.node_of(body, path, nodes, f"endpoint {name}")
            nics = self.nics(body, path, name, node, bridges, vlans)
            vmid = self.vmid(body["vmid"], path + ("vmid",), name, vmids) if "vmid" in body else None
            if named and kind and node and nics is not None:
                out[name] = Endpoint(name=name, type=kind, node=node, nics=nics, vmid=vmid)
        return out

    def vmid(self, value: Any, path: tuple, endpoint: str, taken: dict[int, str]) -> int | None:
        """A Proxmox VM or container id, unique in the file (Proxmox numbers guests and containers together)."""
        vmid = self.integer(value, path, "vmid", 100, MAX_VMID)
        if vmid is None:
            return None
        if vmid in taken:
            self.error(path, f"vmid {vmid} is already the vmid of endpoint {taken[vmid]}")
            return None
        taken[vmid] = endpoint
        return vmid

    def nics(self, body: dict, path: tuple, endpoint: str, node: str | None, bridges: dict, vlans: dict) -> tuple[Nic, ...] | None:
        if "nics" not in body:
            self.error(path, "missing required key 'nics' (an endpoint needs at least one NIC)")
            return None
        items = body["nics"]
        if not isinstance(items, list):
            self.error(path + ("nics",), f"nics must be a list, not {_kind(items)}")
            return None
        if not items:
            self.error(path + ("nics",), "an endpoint needs at least one NIC")
            return None
        out = []
        ok = True
        for i, nic in enumerate(items):
            npath = path + ("nics", Index(i))
            nic = self.mapping(nic, npath, "a NIC")
            if nic is None:
                ok = False
                continue
            self.known_keys(nic, npath, NIC_KEYS)
            bridge = self.nic_bridge(nic, npath, node, bridges)
            tag = None
            if nic.get("tag") is not None:
                tag = self.vlan_ref(nic["tag"], npath + ("tag",), vlans, "tag")
                if tag is not None and bridge is not None and not bridge.keeps_vlans_apart:
                    self.error(npath + ("tag",), f"bridge {bridge.name} is a Linux bridge that is not VLAN-aware, so it cannot carry tag {tag}; set vlan_aware: true on it or remove the tag")
            ip = self.ip(nic.get("ip"), npath + ("ip",)) if nic.get("ip") is not None else None
            mac = self.mac(nic.get("mac"), npath + ("mac",)) if nic.get("mac") is not None else ""
            port_security = self.boolean(nic["port_security"], npath + ("port_security",), "port_security") if "port_security" in nic else True
            trunks = self.nic_trunks(nic["trunks"], npath + ("trunks",), bridge, tag, vlans) if nic.get("trunks") is not None else frozenset()
            if bridge is None or mac is None or port_security is None or trunks is None or (nic.get("ip") is not None and ip is None):
                ok = False
                continue
            if nic.get("tag") is not None and tag is None:
                ok = False
                continue
            out.append(Nic(endpoint=endpoint, index=i, bridge=bridge.name, mac=mac, tag=tag, ip=ip, port_security=port_security, trunks=trunks))
        return tuple(out) if ok else None

    def nic_trunks(self, items: Any, path: tuple, bridge: Bridge | None, tag: int | None, vlans: dict) -> frozenset[int] | None:
        """A NIC's `trunks` (v1.1): declared VLANs, each once, none of them its native `tag`."""
        out = self.vlan_list(items, path, vlans)
        if out is None:
            return None
        if tag is not None and tag in out:
            # Tagged and untagged at once would make the same VLAN two frame formats on one port.
            self.error(path, f"VLAN {tag} is this NIC's tag, its untagged (native) VLAN; it cannot also be in trunks, which are carried tagged")
            return None
        if out and bridge is not None and not bridge.keeps_vlans_apart:
            self.error(path, f"bridge {bridge.name} is a Linux bridge that is not VLAN-aware, so it cannot trunk VLANs to a NIC; set vlan_aware: true on it or remove trunks")
            return None
        return out

    def vlan_list(self, items: Any, path: tuple, vlans: dict) -> frozenset[int] | None:
        """A list of declared VLAN ids, each listed once (a link's or a NIC's `trunks`)."""
        if not isinstance(items, list):
            self.error(path, f"trunks must be a list of VLAN ids, not {_kind(items)}")
            return None
        out: set[int] = set()
        ok = True
        for j, item in enumerate(items):
            vid = self.vlan_ref(item, path + (Index(j),), vlans, "trunk VLAN")
            if vid is None:
                ok = False
            elif vid in out:
                self.error(path + (Index(j),), f"VLAN {vid} is listed twice")
            else:
                out.add(vid)
        return frozenset(out) if ok else None

    def nic_bridge(self, nic: dict, path: tuple, node: str | None, bridges: dict) -> Bridge | None:
        if "bridge" not in nic:
            self.error(path, "missing required key 'bridge'")
            return None
        name = nic["bridge"]
        bridge = bridges.get(name) if isinstance(name, str) else None
        if bridge is None:
            self.error(path + ("bridge",), f"unknown bridge {_quoted(name)}")
            return None
        if node is not None and bridge.node != node:
            self.error(path + ("bridge",), f"bridge {name} is on node {bridge.node}, but this endpoint is on node {node}")
            return None
        return bridge

    def vlan_ref(self, value: Any, path: tuple, vlans: dict, what: str) -> int | None:
        vid = self.integer(value, path, what, 1, 4094)
        if vid is not None and vid not in vlans:
            declared = ", ".join(str(v) for v in sorted(vlans)) or "none"
            self.error(path, f"VLAN {vid} is not declared under 'vlans' (declared: {declared})")
            return None
        return vid

    def ip(self, value: Any, path: tuple) -> IPv4Interface | None:
        if not isinstance(value, str) or "/" not in value:
            self.error(path, f"ip must be an IPv4 address with a prefix length, like 10.0.10.11/24, not {_quoted(value)}")
            return None
        try:
            return IPv4Interface(value)
        except (AddressValueError, NetmaskValueError, ValueError):
            self.error(path, f"'{show(value)}' is not an IPv4 address with a prefix length, like 10.0.10.11/24")
            return None

    def mac(self, value: Any, path: tuple) -> str | None:
        if not isinstance(value, str) or not MAC.match(value):
            self.error(path, f"{_quoted(value)} is not a MAC address like 52:54:00:12:34:56")
            return None
        mac = value.lower().replace("-", ":")
        if int(mac[:2], 16) & 1:
            self.error(path, f"{mac} is a multicast address; a NIC needs a unicast MAC (even first byte)")
            return None
        if mac == "00:00:00:00:00:00":
            self.error(path, "00:00:00:00:00:00 is not a usable MAC address")
            return None
        return mac

    def links(self, value: Any, bridges: dict[str, Bridge], vlans: dict) -> list[Link]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(("links",), f"links must be a list, not {_kind(value)}")
            return []
        out = []
        names: dict[str, int] = {}
        vnis: dict[int, int] = {}
        for i, body in enumerate(value):
            path = ("links", Index(i))
            body = self.mapping(body, path, "a link")
            if body is None:
                continue
            self.known_keys(body, path, ("between", "name", "trunks", "untagged", "vni"))
            ends = self.link_ends(body, path, bridges)
            name = None
            if "name" in body:
                if self.name(body["name"], path + ("name",), "link name", OBJECT_NAME, 12):
                    name = body["name"]
                    if name in names:
                        self.error(path + ("name",), f"link name '{name}' is already used by links[{names[name]}]")
                    names[name] = i
            untagged = True
            if "untagged" in body:
                untagged = self.boolean(body["untagged"], path + ("untagged",), "untagged")
            trunks = self.trunks(body, path, ends, bridges, vlans)
            vni = None
            if "vni" in body:
                vni = self.integer(body["vni"], path + ("vni",), "vni", 1, MAX_VNI)
                if vni is not None and vni in vnis:
                    # One VNI is one L2 segment across the underlay: two links sharing one would be bridged together.
                    self.error(path + ("vni",), f"vni {vni} is already used by links[{vnis[vni]}]")
                elif vni is not None:
                    vnis[vni] = i
            if ends is not None and trunks is not None and untagged is not None:
                out.append(Link(index=i, between=ends, trunks=trunks, untagged=untagged, name=name, vni=vni))
        return out

    def link_ends(self, body: dict, path: tuple, bridges: dict) -> tuple[str, str] | None:
        if "between" not in body:
            self.error(path, "missing required key 'between' (two bridge names)")
            return None
        ends = body["between"]
        epath = path + ("between",)
        if not isinstance(ends, list) or len(ends) != 2:
            self.error(epath, "between must list exactly two bridge names")
            return None
        ok = True
        for j, end in enumerate(ends):
            if not isinstance(end, str) or end not in bridges:
                self.error(epath + (Index(j),), f"unknown bridge {_quoted(end)}")
                ok = False
        if ok and ends[0] == ends[1]:
            self.error(epath, f"a link joins two different bridges, not {ends[0]} to itself")
            ok = False
        return (ends[0], ends[1]) if ok else None

    def trunks(self, body: dict, path: tuple, ends: tuple[str, str] | None, bridges: dict[str, Bridge], vlans: dict) -> frozenset[int] | None:
        plain = [] if ends is None else [b for b in ends if not bridges[b].keeps_vlans_apart]
        if "trunks" not in body or body["trunks"] is None:
            # Omitted: every declared VLAN, unless a plain Linux bridge is at an end.
            return frozenset() if plain else frozenset(vlans)
        tpath = path + ("trunks",)
        out = self.vlan_list(body["trunks"], tpath, vlans)
        if out and plain:
            self.error(tpath, f"bridge {plain[0]} is a Linux bridge that is not VLAN-aware, so it cannot trunk VLANs; use trunks: [] or set vlan_aware: true on it")
            return None
        return out

    def controller(self, value: Any) -> ControllerConfig:
        value = self.mapping(value, ("controller",), "controller", allow_null=True)
        if not value:
            return ControllerConfig()
        path = ("controller",)
        self.known_keys(value, path, ("host", "port", "replicas", "mac_limit", "mac_idle_timeout", "packet_in_rate"))
        settings: dict[str, Any] = {}
        if "host" in value:
            settings["host"] = self.listen_address(value["host"], path + ("host",))
        if "port" in value:
            settings["port"] = self.integer(value["port"], path + ("port",), "controller port", 1, 65535)
        if "replicas" in value:
            settings["replicas"] = self.integer(value["replicas"], path + ("replicas",), "replicas", 1, MAX_REPLICAS)
        if "mac_limit" in value:
            settings["mac_limit"] = self.integer(value["mac_limit"], path + ("mac_limit",), "mac_limit", 1, 65535)
        if "mac_idle_timeout" in value:
            settings["mac_idle_timeout"] = self.integer(value["mac_idle_timeout"], path + ("mac_idle_timeout",), "mac_idle_timeout", 1, 65535)
        if "packet_in_rate" in value:
            settings["packet_in_rate"] = self.integer(value["packet_in_rate"], path + ("packet_in_rate",), "packet_in_rate", 1, 1_000_000)
        return ControllerConfig(**{k: v for k, v in settings.items() if v is not None})

    def listen_address(self, value: Any, path: tuple) -> str | None:
        """An IPv4 or IPv6 address to listen on: os-ken binds it as given, so a name or a typo would fail late."""
        text = self.text(value, path, "controller host")
        if text is None:
            return None
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            self.error(path, f"controller host must be an IPv4 or IPv6 address to listen on, like 127.0.0.1, not '{show(text)}'")
            return None

    def unique_addresses(self, raw: Any, endpoints: dict[str, Endpoint]) -> None:
        """Duplicate MACs and IPs anywhere in the file are errors."""
        macs: dict[str, str] = {}
        ips: dict[str, str] = {}
        for endpoint in endpoints.values():
            for nic in endpoint.nics:
                path = ("endpoints", endpoint.name, "nics", Index(nic.index))
                where = f"endpoints.{endpoint.name}.nics[{nic.index}]"
                if nic.mac:
                    if nic.mac in macs:
                        self.error(path + ("mac",), f"MAC {nic.mac} is already used by {macs[nic.mac]}")
                    else:
                        macs[nic.mac] = where
                if nic.ip is not None:
                    addr = str(nic.ip.ip)
                    if addr in ips:
                        self.error(path + ("ip",), f"address {addr} is already used by {ips[addr]}")
                    else:
                        ips[addr] = where
