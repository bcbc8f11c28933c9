"""How a lab built on this host is checked against the file, the same way for
the simulator and the real deployment:

- **pairs**: endpoints with addresses in one subnet, the ones a ping can judge;
- **flows**: the tables dumped from every OVS bridge, replayed in the
  controller's OpenFlow table simulator (Linux bridges flood within their
  segments, as they do; a bridge that forwards by OVS's NORMAL action, such
  as the stand-in for a VLAN-aware Linux bridge, by its ports' 802.1Q
  settings: controller/normal.py);
- **trace**: a sample cross-checked with `ovs-appctl ofproto/trace` on the
  real switch.

Everything takes explicit inputs (the topology, its port plan, the dumps, the
host's bridge names), not a lab object, so both builders can call it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Collection, Mapping

from controller.flows import COOKIE_STATIC, Flow, parse_dump
from controller.normal import NormalBridge, VlanSettings
from controller.oftable import Fabric, FlowTables, Frame
from controller.ovsdb import SeenPort, vlan_disagreements
from controller.pipeline import static_flows
from controller.state import Binding, PortPlan, resolve
from controller.trees import flood_trees
from host import standin
from sdnlab.model import Nic, Topology

Pair = tuple[str, str]
BROADCAST = "ff:ff:ff:ff:ff:ff"


def shared_target(src: tuple[Nic, ...], dst: tuple[Nic, ...]) -> str | None:
    """An address of `dst` in a subnet one of `src`'s addresses is in (and the other way round)."""
    for x in src:
        for y in dst:
            if x.ip and y.ip and x.ip.ip in y.ip.network and y.ip.ip in x.ip.network:
                return str(y.ip.ip)
    return None


def probeable_pairs(topology: Topology) -> list[Pair]:
    """Pairs of endpoints with addresses in one subnet: the ones a ping can judge."""
    names = sorted(topology.endpoints)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]
            if shared_target(topology.endpoints[a].nics, topology.endpoints[b].nics)]


def parse_ping(text: str) -> tuple[int, int]:
    """(sent, received) from ping's summary line; (0, 0) when there is none."""
    found = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def dump_flows(ovs_bridge: str) -> list[Flow]:
    """The flows installed in a bridge right now (`ovs-ofctl dump-flows`)."""
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", ovs_bridge], capture_output=True, text=True, check=True)
    return parse_dump(out.stdout)


def dump_all(topology: Topology, ovs_name: Callable[[str], str] = str) -> dict[str, list[Flow]]:
    """Every OVS bridge's flows, by the file's bridge name; `ovs_name` gives its name on the host."""
    return {name: dump_flows(ovs_name(name)) for name, bridge in sorted(topology.bridges.items()) if bridge.is_ovs}


def expected_static(topology: Topology, plan: PortPlan) -> dict[str, set[Flow]]:
    """The static flows the controller computes for every OVS bridge with every port up."""
    trees = flood_trees(list(topology.links))
    return {b: set(static_flows(resolve(topology, plan.view(b)), trees)) for b, br in topology.bridges.items() if br.is_ovs}


def missing_static(expected: Mapping[str, set[Flow]], dumps: Mapping[str, list[Flow]]) -> dict[str, int]:
    """How many of the expected static flows each bridge lacks (all zero once the controller has programmed it)."""
    return {b: len(want - {f for f in dumps[b] if f.cookie == COOKIE_STATIC}) for b, want in expected.items()}


def dumped_fabric(topology: Topology, plan: PortPlan, dumps: Mapping[str, list[Flow]], trees: dict,
                  down_links: Collection[str] = (), normal: Mapping[str, Mapping[int, VlanSettings]] | None = None) -> Fabric:
    """Every OVS bridge's dumped tables, Linux bridges as plain flooding bridges, wired as the file says.

    A bridge in `normal` (bridge -> port number -> its 802.1Q settings) forwards
    by NORMAL, not by flows: it has no flows to dump, and the model of what
    NORMAL does with those settings stands in for them.
    """
    fabric = Fabric()
    for name, bridge in topology.bridges.items():
        if normal and name in normal:
            fabric.tables[name] = NormalBridge(normal[name])  # type: ignore[assignment]  # answers process() as FlowTables does
        elif bridge.is_ovs:
            fabric.tables[name] = FlowTables(dumps[name])
        else:
            fabric.tables[name] = FlowTables(static_flows(resolve(topology, plan.view(name)), trees, port_security=False))  # a Linux bridge has no guard
    for link in topology.links:
        if link.id not in down_links:
            fabric.wire(*plan.link_ends(link))
    return fabric


def flow_reachability(topology: Topology, plan: PortPlan, dumps: Mapping[str, list[Flow]], pairs: list[Pair],
                      down_links: Collection[str] = (), down_nics: Collection[str] = (),
                      normal: Mapping[str, Mapping[int, VlanSettings]] | None = None) -> dict[Pair, bool]:
    """Whether, by the dumped tables, a frame from each side (unicast and broadcast) reaches the other.

    `normal`: the bridges that forward by NORMAL, each port's 802.1Q settings
    by its plan number (see dumped_fabric); every other bridge as before.
    """
    trees = flood_trees([link for link in topology.links if link.id not in down_links])
    fabric = dumped_fabric(topology, plan, dumps, trees, down_links, normal)

    def delivers(src: str, dst: str) -> bool:
        targets = {n.id for n in topology.endpoints[dst].nics} - set(down_nics)
        for nic in topology.endpoints[src].nics:
            if nic.id in down_nics:
                continue
            bridge, port = plan.nic_port(nic.id)
            for to in [n.mac for n in topology.endpoints[dst].nics] + [BROADCAST]:
                if {plan.nic_at(b, p) for b, p, _ in fabric.send(bridge, port, Frame(nic.mac, to))} & targets:
                    return True
        return False

    return {(a, b): delivers(a, b) and delivers(b, a) for a, b in pairs}


def parse_trace_outputs(text: str) -> set[int]:
    """OpenFlow output ports in `ovs-appctl ofproto/trace` text, less the ones OVS skipped (the input port)."""
    outputs: set[int] = set()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        found = re.match(r"\s+output:(\d+)\s*$", line)
        if found and not (i + 1 < len(lines) and "skipping output to input port" in lines[i + 1]):
            outputs.add(int(found.group(1)))
    return outputs


def ofproto_trace(ovs_bridge: str, port: int, src: str, dst: str, vlan: int | None = None) -> str:
    """`ovs-appctl ofproto/trace` on the real switch for a frame entering `port` of `ovs_bridge`."""
    flow = f"in_port={port},dl_src={src},dl_dst={dst},dl_type=0x0800" + (f",dl_vlan={vlan}" if vlan is not None else "")
    return subprocess.run(["ovs-appctl", "ofproto/trace", ovs_bridge, flow], capture_output=True, text=True).stdout


def trace_sample(pairs: list[Pair], size: int) -> list[Pair]:
    """At most `size` pairs spread evenly over `pairs`."""
    return pairs[:: max(1, len(pairs) // size)][:size]


def trace_check(topology: Topology, plan: PortPlan, dumps: Mapping[str, list[Flow]], sample: list[Pair],
                ovs_name: Callable[[str], str] = str) -> list[str]:
    """For each sampled pair, compare the simulator's first-hop outputs with ofproto/trace's on the real switch."""
    mismatches = []
    for a, b in sample:
        nic = topology.endpoints[a].nics[0]
        if not topology.bridges[nic.bridge].is_ovs:
            continue
        bridge, port = plan.nic_port(nic.id)
        tables = FlowTables(dumps[bridge])
        for dst in (topology.endpoints[b].nics[0].mac, BROADCAST):
            ours = {p for p, _ in tables.process(port, Frame(nic.mac, dst)).outputs}
            theirs = parse_trace_outputs(ofproto_trace(ovs_name(bridge), port, nic.mac, dst))
            if ours != theirs:
                mismatches.append(f"{a}->{b} ({dst}) on {bridge}: simulator outputs {sorted(ours)}, ofproto/trace {sorted(theirs)}")
    return mismatches


def _ovs_json(*args: str) -> list[dict]:
    out = subprocess.run(["ovs-vsctl", "--format=json", *args], capture_output=True, text=True, check=True).stdout
    table = json.loads(out)
    return [dict(zip(table["headings"], row, strict=True)) for row in table["data"]]


def _ovs_value(value):
    """An OVSDB JSON value: ["set", [...]] is a set (empty: None for a scalar column), anything else itself."""
    if isinstance(value, list) and value and value[0] == "set":
        return value[1]
    return value


def _ovs_map(value) -> dict[str, str]:
    return dict(value[1]) if isinstance(value, list) and value and value[0] == "map" else {}


def port_columns(ovs_bridge: str) -> dict[int, tuple[str, dict[str, str], VlanSettings]]:
    """Each port of an OVS bridge by OpenFlow number: its name, its Interface's external_ids and its Port's
    802.1Q columns, as OVSDB holds them now."""
    members = set(subprocess.run(["ovs-vsctl", "list-ports", ovs_bridge], capture_output=True, text=True, check=True).stdout.split())
    interfaces = {row["name"]: row for row in _ovs_json("--columns=name,ofport,external_ids", "list", "Interface") if row["name"] in members}
    out = {}
    for row in _ovs_json("--columns=name,tag,trunks,vlan_mode", "list", "Port"):
        iface = interfaces.get(row["name"])
        if iface is None or not isinstance(iface["ofport"], int):
            continue
        tag, trunks, mode = (_ovs_value(row[k]) for k in ("tag", "trunks", "vlan_mode"))
        trunks = [trunks] if isinstance(trunks, int) else trunks  # a one-element set is written bare
        out[iface["ofport"]] = (row["name"], _ovs_map(iface["external_ids"]),
                                VlanSettings(tag if isinstance(tag, int) else None, frozenset(trunks or ()), mode if isinstance(mode, str) else None))
    return out


def normal_settings(topology: Topology, ovs_name: Callable[[str], str] = str) -> dict[str, dict[int, VlanSettings]]:
    """For each bridge that forwards by NORMAL (a VLAN-aware Linux bridge's stand-in), each port's 802.1Q
    settings as OVSDB holds them now, by OpenFlow port number: the flows view models what the switch has,
    not what sdnlab meant to give it."""
    return {name: {number: vlan for number, (_, _, vlan) in port_columns(ovs_name(name)).items()}
            for name, bridge in sorted(topology.bridges.items()) if standin.stood_in(bridge)}


def vlan_warnings(topology: Topology, ovs_name: Callable[[str], str] = str) -> list[str]:
    """Ports of the file's OVS bridges whose OVSDB tag/trunks/vlan_mode disagree with the file (the file wins)."""
    out = []
    for name, bridge in sorted(topology.bridges.items()):
        if bridge.is_ovs:
            seen = {n: SeenPort(port, Binding.from_external_ids(ids), vlan) for n, (port, ids, vlan) in port_columns(ovs_name(name)).items()}
            out += vlan_disagreements(topology, name, seen)
    return out
