"""A whole lab in simulated OpenFlow tables, driven by the real core.

Port numbers are deterministic (`port_plan`): on each bridge, its NICs in
name order from 1, then its link ends in file order. The simulator and the
real deployment request the same numbers from OVS (`ofport_request`), so a
flow dump from a real switch can be replayed here unchanged.
"""

from __future__ import annotations

from controller.core import Core
from controller.flows import VID_NONE, VID_PRESENT, Flow, FlowMod
from controller.oftable import Fabric, FlowTables, Frame
from controller.pipeline import static_flows
from controller.state import Binding, Port, SwitchView, resolve
from sdnlab.model import Topology


def port_plan(topology: Topology) -> dict[str, dict[int, Binding]]:
    """bridge -> port number -> what the port is bound to."""
    plan: dict[str, dict[int, Binding]] = {name: {} for name in topology.bridges}
    for nic in sorted(topology.nics(), key=lambda n: n.id):
        ports = plan[nic.bridge]
        ports[len(ports) + 1] = Binding("nic", nic.id)
    for link in topology.links:
        for bridge in link.between:
            ports = plan[bridge]
            ports[len(ports) + 1] = Binding("link", link.id)
    return plan


def port_of(plan: dict[str, dict[int, Binding]], bridge: str, binding: Binding) -> int:
    return next(n for n, b in plan[bridge].items() if b == binding)


class SimulatedLab:
    """The core and simulated switches in a closed loop: packet-ins are answered before the next frame."""

    def __init__(self, topology: Topology, now: float = 0.0):
        self.topology = topology
        self.plan = port_plan(topology)
        self.core = Core(topology)
        self.fabric = Fabric()
        self.now = now
        self.down: set[tuple[str, int]] = set()
        for link in topology.links:
            a, b = link.between
            binding = Binding("link", link.id)
            self.fabric.wire((a, port_of(self.plan, a, binding)), (b, port_of(self.plan, b, binding)))
        self.nic_port = {}
        for bridge, ports in self.plan.items():
            for number, binding in ports.items():
                if binding.kind == "nic":
                    self.nic_port[binding.id] = (bridge, number)
        for bridge in sorted(b for b, br in topology.bridges.items() if br.is_ovs):
            self.fabric.tables[bridge] = FlowTables()
            self.apply(self.core.connect(self.view(bridge), [], self.now))
        self._linux_tables()

    def _linux_tables(self) -> None:
        """Linux bridges flood within their segments and learn nothing: the
        pipeline's static flows without a controller behave just so."""
        for name, bridge in self.topology.bridges.items():
            if not bridge.is_ovs:
                self.fabric.tables[name] = FlowTables(static_flows(resolve(self.topology, self.view(name)), self.core.trees))

    def view(self, bridge: str) -> SwitchView:
        ports = {n: Port(n, f"p{n}", (bridge, n) not in self.down, b) for n, b in self.plan[bridge].items()}
        return SwitchView(bridge, self.topology.bridges[bridge].dpid, ports)

    def apply(self, mods: dict[str, list[FlowMod]]) -> None:
        for bridge, items in mods.items():
            self.fabric.tables[bridge].apply(items)

    def set_link(self, link_id: str, up: bool) -> None:
        """Take both ends of a link down or up, as OVS would report it."""
        link = next(link for link in self.topology.links if link.id == link_id)
        for bridge in link.between:
            port = port_of(self.plan, bridge, Binding("link", link.id))
            (self.down.discard if up else self.down.add)((bridge, port))
            if self.topology.bridges[bridge].is_ovs:
                self.apply(self.core.update_ports(self.view(bridge)))
        self._linux_tables()

    def send(self, nic_id: str, frame: Frame) -> set[str]:
        """Send from a NIC; answer packet-ins; return the NICs (ids) that received it."""
        bridge, port = self.nic_port[nic_id]
        packet_ins: list = []
        out = self.fabric.send(bridge, port, frame, packet_ins=packet_ins)
        for pbridge, in_port, pframe in packet_ins:
            vid = VID_PRESENT | pframe.vlans[0] if pframe.vlans else VID_NONE
            self.apply({pbridge: self.core.packet_in(pbridge, in_port, vid, pframe.src, self.now)})
        by_port = {v: k for k, v in self.nic_port.items()}
        received = set()
        for obridge, oport, oframe in out:
            if oframe.vlans:
                raise AssertionError(f"{obridge} port {oport} emitted a tagged frame towards a NIC: {oframe}")
            received.add(by_port[(obridge, oport)])
        return received

    def flows(self, bridge: str) -> list[Flow]:
        return list(self.fabric.tables[bridge].flows.values())
