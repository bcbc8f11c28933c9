"""A whole lab in simulated OpenFlow tables, driven by the real core.

Ports are numbered by the `PortPlan` (controller/state.py), as the
simulator and the real deployment number them on real switches.
"""

from __future__ import annotations

from controller.core import Core
from controller.flows import ETH_LLDP, Flow, FlowMod
from controller.learning import frame_fields
from controller.oftable import Fabric, FlowTables, Frame
from controller.pipeline import static_flows
from controller.state import PortPlan, SwitchView, resolve
from sdnlab.model import Topology


class SimulatedLab:
    """The core and simulated switches in a closed loop: packet-ins are answered before the next frame."""

    def __init__(self, topology: Topology, now: float = 0.0):
        self.topology = topology
        self.plan = PortPlan(topology)
        self.core = Core(topology)
        self.fabric = Fabric()
        self.now = now
        self.down: set[tuple[str, int]] = set()
        self._nics = {nic.id: nic for nic in topology.nics()}
        for link in topology.links:
            self.fabric.wire(*self.plan.link_ends(link))
        for bridge in sorted(b for b, br in topology.bridges.items() if br.is_ovs):
            self.fabric.tables[bridge] = FlowTables()
            self.apply(self.core.connect(self.view(bridge), [], self.now))
        self._linux_tables()

    def _linux_tables(self) -> None:
        """Linux bridges flood within their segments and learn nothing: the
        pipeline's static flows without a controller behave just so."""
        for name, bridge in self.topology.bridges.items():
            if not bridge.is_ovs:
                self.fabric.tables[name] = FlowTables(static_flows(resolve(self.topology, self.view(name)), self.core.trees, port_security=False))

    def view(self, bridge: str) -> SwitchView:
        return self.plan.view(bridge, {n for b, n in self.down if b == bridge})

    def apply(self, mods: dict[str, list[FlowMod]]) -> None:
        for bridge, items in mods.items():
            self.fabric.tables[bridge].apply(items)

    def set_link(self, link_id: str, up: bool) -> None:
        """Take both ends of a link down or up, as OVS would report it."""
        link = next(link for link in self.topology.links if link.id == link_id)
        for bridge, port in self.plan.link_ends(link):
            (self.down.discard if up else self.down.add)((bridge, port))
            if self.topology.bridges[bridge].is_ovs:
                self.apply(self.core.update_ports(self.view(bridge)))
        self._linux_tables()

    def send(self, nic_id: str, frame: Frame) -> set[str]:
        """Send from a NIC; answer packet-ins; return the NICs (ids) that received it."""
        return self.inject(*self.plan.nic_port(nic_id), frame)

    def inject(self, bridge: str, port: int, frame: Frame) -> set[str]:
        """A frame arriving on any port (a link end too: what the far side sent); answer
        packet-ins as the app does (from the frame's bytes; LLDP is not learned); return
        the NICs (ids) that received it."""
        return {nic_id for nic_id, _ in self.deliveries(bridge, port, frame)}

    def send_detail(self, nic_id: str, frame: Frame) -> set[tuple[str, tuple[int, ...]]]:
        """Send from a NIC; return (NIC id, VLAN tags it arrived with) for every NIC that received it."""
        return self.deliveries(*self.plan.nic_port(nic_id), frame)

    def deliveries(self, bridge: str, port: int, frame: Frame) -> set[tuple[str, tuple[int, ...]]]:
        """`inject`, keeping the tags each NIC received the frame with: none, except one
        of its `trunks` on a trunk NIC (anything else towards a NIC is a pipeline bug)."""
        packet_ins: list = []
        out = self.fabric.send(bridge, port, frame, packet_ins=packet_ins)
        for pbridge, in_port, pframe in packet_ins:
            src, ethertype, vid = frame_fields(pframe.packet())
            if ethertype != ETH_LLDP:
                self.apply({pbridge: self.core.packet_in(pbridge, in_port, vid, src, self.now)})
        received = set()
        for obridge, oport, oframe in out:
            nic_id = self.plan.nic_at(obridge, oport)
            trunks = self._nics[nic_id].trunks if nic_id in self._nics else frozenset()
            if oframe.vlans and not (len(oframe.vlans) == 1 and oframe.vlans[0] in trunks):
                raise AssertionError(f"{obridge} port {oport} emitted a frame tagged {list(oframe.vlans)} towards NIC {nic_id}, which does not trunk it: {oframe}")
            received.add((nic_id, oframe.vlans))
        return received

    def flows(self, bridge: str) -> list[Flow]:
        return list(self.fabric.tables[bridge].flows.values())
