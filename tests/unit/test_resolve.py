"""`controller.state.resolve`: a port carries a NIC or a link end only when its
binding belongs on that bridge, and only one port per NIC or link end.

Misbound and duplicate ports are built on top of the `PortPlan`'s own view of
a bridge, as a person adding a port by hand with a wrong `external_ids` would
make them, and must be ignored with the reason the controller logs.
"""

from __future__ import annotations

import pytest

from controller.oftable import Frame
from controller.simlab import SimulatedLab
from controller.state import Binding, Port, PortPlan, SwitchView, resolve
from sdnlab import load
from tests.conftest import TOPOLOGIES

BROADCAST = "ff:ff:ff:ff:ff:ff"

# triangle.yaml's plan on br1: 1 h1.0, 2 x1.0, 3 l12 (br1-br2), 4 l31 (br3-br1).
# h2.0 is a NIC of br2, l23 joins br2 and br3: neither belongs on br1.
MISBOUND = {
    10: Binding("nic", "h2.0"),   # a NIC of another bridge
    11: Binding("link", "l23"),   # a link that does not touch this bridge
    12: Binding("nic", "h1.0"),   # a second port claiming port 1's NIC
    13: Binding("link", "l12"),   # a second port claiming port 3's link end
    14: Binding("nic", "nobody.0"),  # a NIC the file does not have
}


@pytest.fixture(scope="module")
def triangle():
    return load(TOPOLOGIES / "triangle.yaml")


def with_extra_ports(view: SwitchView, extra: dict[int, Binding]) -> SwitchView:
    ports = dict(view.ports)
    ports.update({n: Port(n, f"extra{n}", True, b) for n, b in extra.items()})
    return SwitchView(view.bridge, view.dpid, ports)


def test_plan_view_resolves_every_port_it_numbers(triangle):
    plan = PortPlan(triangle)
    for bridge in plan:
        resolved = resolve(triangle, plan.view(bridge))
        assert resolved.ignored == {}, bridge
        assert {n: nic.id for n, nic in resolved.nics.items()} == {n: b.id for n, b in plan[bridge].items() if b.kind == "nic"}
        assert {n: link.id for n, link in resolved.links.items()} == {n: b.id for n, b in plan[bridge].items() if b.kind == "link"}


def test_resolve_ignores_a_nic_or_link_bound_on_the_wrong_bridge_and_duplicate_bindings_with_the_reason(triangle):
    view = with_extra_ports(PortPlan(triangle).view("br1"), MISBOUND)
    resolved = resolve(triangle, view)
    # The plan's own ports keep their bindings; the lowest number wins a duplicate.
    assert {n: nic.id for n, nic in resolved.nics.items()} == {1: "h1.0", 2: "x1.0"}
    assert {n: link.id for n, link in resolved.links.items()} == {3: "l12", 4: "l31"}
    assert resolved.ignored == {
        10: "bound to nic 'h2.0', which is not on bridge br1 in the topology",
        11: "bound to link 'l23', which is not on bridge br1 in the topology",
        12: "duplicate binding (port 1 already has it)",
        13: "duplicate binding (port 3 already has it)",
        14: "bound to nic 'nobody.0', which is not on bridge br1 in the topology",
    }


def test_resolve_keeps_the_lowest_numbered_of_duplicate_ports_whichever_came_first(triangle):
    view = PortPlan(triangle).view("br2")  # 1 h2.0, 2 l12, 3 l23
    ports = {n: p for n, p in view.ports.items() if n != 3}
    ports[9] = Port(9, "late", True, Binding("link", "l23"))
    ports[5] = Port(5, "early", True, Binding("link", "l23"))
    resolved = resolve(triangle, SwitchView("br2", view.dpid, ports))
    assert {n: link.id for n, link in resolved.links.items()} == {2: "l12", 5: "l23"}
    assert resolved.ignored == {9: "duplicate binding (port 5 already has it)"}


def test_resolve_gives_down_and_unbound_ports_their_own_reasons(triangle):
    plan = PortPlan(triangle)
    view = plan.view("br1", down={3})
    ports = dict(view.ports)
    ports[20] = Port(20, "stray", True, None)
    resolved = resolve(triangle, SwitchView("br1", view.dpid, ports))
    assert resolved.ignored == {3: "down", 20: "no sdnlab binding"}
    assert set(resolved.links) == {4}


class MisboundLab(SimulatedLab):
    """The simulated lab with extra ports on some bridges, as the core sees them from the start."""

    def __init__(self, topology, extra: dict[str, dict[int, Binding]]):
        self.extra = extra
        super().__init__(topology)

    def view(self, bridge: str) -> SwitchView:
        return with_extra_ports(super().view(bridge), self.extra.get(bridge, {}))


@pytest.mark.parametrize("port", sorted(MISBOUND))
def test_a_misbound_or_duplicate_port_carries_nothing_in_the_simulated_lab(triangle, port):
    lab = MisboundLab(triangle, {"br1": {port: MISBOUND[port]}})
    h2 = triangle.endpoints["h2"].nics[0].mac
    # What such a port would carry if it counted: untagged as a NIC, tagged as a trunk end.
    for frame in (Frame(h2, BROADCAST), Frame(h2, BROADCAST, vlans=(10,)), Frame(h2, BROADCAST, vlans=(20,))):
        packet_ins: list = []
        assert lab.fabric.send("br1", port, frame, packet_ins=packet_ins) == [], (port, frame)
        assert packet_ins == [], (port, frame)
    # The lab itself is untouched: the real NICs reach their classes, and nothing leaves by a misbound port.
    assert lab.send("h2.0", Frame(h2, BROADCAST)) == {"h1.0", "h3.0"}
    assert lab.send("x3.0", Frame(triangle.endpoints["x3"].nics[0].mac, BROADCAST)) == {"x1.0"}
    assert not any(port in f.outputs() for f in lab.flows("br1"))
