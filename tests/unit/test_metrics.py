"""controller/metrics.py without a switch: what a scrape shows of the app's state."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from controller.metrics import AppCollector, mac_number, parse_address
from controller.state import PortPlan
from sdnlab import loads
from tests.unit.conftest import session

LAB = """\
name: m
vlans: {10: {}}
bridges: {br1: {type: ovs, dpid: 0x2a}, lb: {type: linux}}
endpoints:
  a: {type: host, nics: [{bridge: br1, tag: 10, mac: "02:00:00:00:00:0a"}]}
  b: {type: host, nics: [{bridge: br1, tag: 10}]}
"""


def scrape(app) -> dict[str, list]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AppCollector(app))
    return {f.name: f.samples for f in text_string_to_metric_families(generate_latest(registry).decode())}


def test_addresses():
    assert parse_address("9100") == ("127.0.0.1", 9100)
    assert parse_address("0.0.0.0:0") == ("0.0.0.0", 0)
    assert parse_address("[::1]:9100") == ("::1", 9100)
    for bad in ("x", "1:2:99999", ""):
        with pytest.raises(ValueError, match="--metrics takes"):
            parse_address(bad)
    assert mac_number("02:00:00:00:01:0a") == 0x02000000010A


def test_a_scrape_shows_the_switch_its_ports_bindings_and_what_was_learned(make_app):
    topology = loads(LAB, "m.yaml")
    app = make_app(topology)
    empty = scrape(app)
    assert [(s.labels, s.value) for s in empty["dp_status"]] == [({"dp_id": "0x2a", "dp_name": "br1"}, 0.0)]  # the Linux bridge has none
    dp = session(app, "br1")
    view = PortPlan(topology).view("br1")
    app.ports["br1"] = {n: (p.name, True) for n, p in view.ports.items()}
    app.counts.connections["br1"] += 1
    app._send(app._reconciled(app.core.connect, view, [], 0.0))
    port_a = PortPlan(topology).nic_port("a.0")[1]
    app.core.packet_in("br1", port_a, 0x1000 | 10, "02:00:00:00:00:0a", 0.0)
    got = scrape(app)
    labels = {"dp_id": "0x2a", "dp_name": "br1"}
    assert [s.value for s in got["dp_status"]] == [1.0]
    assert [s.value for s in got["of_dp_connections"] if s.name.endswith("_total")] == [1.0]
    assert got["of_flowmsgs_sent"][0].value == got["sdnlab_reconcile_flowmods"][0].value > 0
    assert len(dp.sent) == 1  # one buffer: every flow-mod of the connect
    bindings = {s.labels["port"]: s.labels["binding"] for s in got["sdnlab_port_binding"]}
    assert bindings[str(port_a)] == "nic:a.0"
    assert [(s.labels, s.value) for s in got["vlan_hosts_learned"]] == [({**labels, "vlan": "10"}, 1.0)]
    assert [(s.labels, s.value) for s in got["learned_macs"]] == [({**labels, "port": str(port_a), "vlan": "10", "n": "0"}, 0x02000000000A)]
    assert got["sdnlab_tree_computations"][0].value == 1 and got["sdnlab_reconciles"][0].value == 1
    assert "sdnlab_cluster_master" not in got  # alone, not a replica


def test_a_scrape_copies_under_the_apps_lock_and_lays_out_the_learned_macs_after_it(make_app):
    """Every switch's packet-ins wait while the app's lock is held: a scrape of many learned MACs must not hold it
    while it makes and formats a sample for each."""
    topology = loads(LAB, "m.yaml")
    app = make_app(topology)
    view = PortPlan(topology).view("br1")
    session(app, "br1")
    app.ports["br1"] = {n: (p.name, True) for n, p in view.ports.items()}
    app._send(app._reconciled(app.core.connect, view, [], 0.0))
    port_a = PortPlan(topology).nic_port("a.0")[1]
    macs = [f"02:00:00:00:{i >> 8:02x}:{i & 0xFF:02x}" for i in range(1, 201)]  # within the port's limit (256)
    for mac in reversed(macs):
        app.core.packet_in("br1", port_a, 0x1000 | 10, mac, 0.0)
    held_while_learned: list[bool] = []
    families = AppCollector(app).collect()
    for family in families:
        if family.name == "learned_macs":
            for _ in family.samples:
                held_while_learned.append(app.lock._is_owned())
    assert len(held_while_learned) == len(macs) and not any(held_while_learned)
    got = scrape(app)  # and the samples are those of the table, in order, each indexed in its (port, VLAN)
    assert [(s.labels["n"], s.value) for s in got["learned_macs"]] == [(str(i), mac_number(m)) for i, m in enumerate(macs)]
    assert [s.value for s in got["vlan_hosts_learned"]] == [len(macs)]
