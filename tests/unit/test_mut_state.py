"""Mutation tests for controller/state.py: a port's binding as OVSDB's external_ids give it."""

from __future__ import annotations

from controller.state import LINK_KEY, NIC_KEY, Binding


def test_a_binding_is_read_from_external_ids():
    assert (NIC_KEY, LINK_KEY) == ("sdnlab-nic", "sdnlab-link")
    assert Binding.from_external_ids({"sdnlab-nic": "web1.0"}) == Binding("nic", "web1.0")
    assert Binding.from_external_ids({"sdnlab-link": "uplink", "iface-id": "x"}) == Binding("link", "uplink")
    assert Binding.from_external_ids({"sdnlab-nic": "web1.0", "sdnlab-link": "uplink"}) == Binding("nic", "web1.0")
    assert Binding.from_external_ids({"iface-id": "x"}) is None and Binding.from_external_ids({}) is None


def test_a_plan_views_a_bridge_as_the_switch_reports_it():
    from controller.state import Port, PortPlan
    from sdnlab import load
    from tests.conftest import TOPOLOGIES

    topology = load(TOPOLOGIES / "two-nodes.yaml")
    plan = PortPlan(topology)
    view = plan.view("vmbr1", down={2})
    assert (view.bridge, view.dpid) == ("vmbr1", topology.bridges["vmbr1"].dpid)
    # vmbr1: its NICs in NIC-id order (db1.0, web2.0), then its link end
    assert view.ports == {1: Port(1, "p1", True, Binding("nic", "db1.0")), 2: Port(2, "p2", False, Binding("nic", "web2.0")),
                          3: Port(3, "p3", True, Binding("link", "link0"))}
    assert plan.view("vmbr1", name=lambda n: f"eth{n * 10}").ports[3].name == "eth30"
