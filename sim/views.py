"""The flows view: the tables dumped from the real switches, replayed in the
OpenFlow table simulator, and a sample cross-checked with ofproto/trace."""

from __future__ import annotations

import re
import subprocess

from controller.oftable import Fabric, FlowTables, Frame
from controller.pipeline import static_flows
from controller.state import Port, SwitchView, resolve
from sdnlab.model import Topology
from sim.probe import Pair

BROADCAST = "ff:ff:ff:ff:ff:ff"


def dumped_fabric(lab, trees: dict) -> Fabric:
    """Every OVS bridge's dumped tables, Linux bridges as plain flooding bridges, wired as the file says."""
    topology: Topology = lab.topology
    fabric = Fabric()
    for name, bridge in topology.bridges.items():
        if bridge.is_ovs:
            fabric.tables[name] = FlowTables(lab.dump(name))
        else:
            view = SwitchView(name, 0, {n: Port(n, "", True, b) for n, b in lab.plan[name].items()})
            fabric.tables[name] = FlowTables(static_flows(resolve(topology, view), trees))
    for link in topology.links:
        if link.id in lab.down_links:
            continue
        ends = [(b, next(n for n, x in lab.plan[b].items() if x.kind == "link" and x.id == link.id)) for b in link.between]
        fabric.wire(*ends)
    return fabric


def flow_reachability(lab, pairs: list[Pair], trees: dict) -> dict[Pair, bool]:
    """Whether, by the dumped tables, a frame from each side (unicast and broadcast) reaches the other."""
    fabric = dumped_fabric(lab, trees)
    where = {(b, n): x.id for b in lab.plan for n, x in lab.plan[b].items() if x.kind == "nic"}
    port_of = {nic_id: key for key, nic_id in where.items()}
    topology: Topology = lab.topology

    def delivers(src: str, dst: str) -> bool:
        targets = {n.id for n in topology.endpoints[dst].nics}
        for nic in topology.endpoints[src].nics:
            if nic.id in lab.down_nics:
                continue
            bridge, port = port_of[nic.id]
            for to in [n.mac for n in topology.endpoints[dst].nics] + [BROADCAST]:
                got = {where.get((b, p)) for b, p, _ in fabric.send(bridge, port, Frame(nic.mac, to))}
                if got & (targets - lab.down_nics):
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


def ofproto_trace(lab, bridge: str, port: int, src: str, dst: str, vlan: int | None = None) -> str:
    """`ovs-appctl ofproto/trace` on the real switch for a frame entering `port` of `bridge`."""
    flow = f"in_port={port},dl_src={src},dl_dst={dst},dl_type=0x0800" + (f",dl_vlan={vlan}" if vlan is not None else "")
    return subprocess.run(["ovs-appctl", "ofproto/trace", lab.bridge(bridge), flow], capture_output=True, text=True).stdout


def trace_check(lab, sample: list[Pair]) -> list[str]:
    """For each sampled pair, compare the simulator's first-hop outputs with ofproto/trace's on the real switch."""
    mismatches = []
    topology: Topology = lab.topology
    for a, b in sample:
        nic = topology.endpoints[a].nics[0]
        if not topology.bridges[nic.bridge].is_ovs:
            continue
        port = next(n for n, x in lab.plan[nic.bridge].items() if x.kind == "nic" and x.id == nic.id)
        tables = FlowTables(lab.dump(nic.bridge))
        for dst in (topology.endpoints[b].nics[0].mac, BROADCAST):
            ours = {p for p, _ in tables.process(port, Frame(nic.mac, dst)).outputs}
            theirs = parse_trace_outputs(ofproto_trace(lab, nic.bridge, port, nic.mac, dst))
            if ours != theirs:
                mismatches.append(f"{a}->{b} ({dst}) on {nic.bridge}: simulator outputs {sorted(ours)}, ofproto/trace {sorted(theirs)}")
    return mismatches
