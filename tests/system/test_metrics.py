"""The controller's Prometheus metrics, scraped from a simulated lab as Prometheus would."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sdnlab import load
from sim.lab import SimLab
from tests.conftest import TOPOLOGIES
from tests.system.rogue import wait_until

pytestmark = pytest.mark.usefixtures("real_ovs")


def scrape(address: str) -> dict[str, list]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def values(samples: list, **labels) -> list[float]:
    return [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]


def test_a_labs_controller_serves_faucet_named_metrics_that_follow_the_lab():
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    with SimLab(topology) as lab:
        (address,) = lab.metrics_addresses()
        assert address.startswith("127.0.0.1:")
        ovs = sorted(name for name, bridge in topology.bridges.items() if bridge.is_ovs)
        before = scrape(address)
        for bridge in ovs:
            dp_id = f"{topology.bridges[bridge].dpid:#x}"
            assert values(before["dp_status"], dp_name=bridge, dp_id=dp_id) == [1.0]
            assert values(before["of_dp_connections"], dp_name=bridge) == [1.0]
            assert values(before["of_flowmsgs_sent"], dp_name=bridge)[0] > 0  # the static pipeline
        web1 = topology.endpoints["web1"].nics[0]
        bound = [s.labels for s in before["sdnlab_port_binding"] if s.labels["binding"] == "nic:web1.0"]
        assert [b["dp_name"] for b in bound] == ["vmbr0"]
        assert values(before["port_status"], dp_name="vmbr0", port=bound[0]["port"]) == [1.0]
        assert before["sdnlab_tree_computations"][0].value > 0

        assert lab.ping("web1", "web2")
        after = scrape(address)
        assert values(after["of_packet_ins"], dp_name="vmbr0")[0] > values(before["of_packet_ins"], dp_name="vmbr0")[0]
        assert values(after["vlan_hosts_learned"], dp_name="vmbr0", vlan="10")[0] >= 1
        assert int(web1.mac.replace(":", ""), 16) in values(after["learned_macs"], dp_name="vmbr0", vlan="10", port=bound[0]["port"])

        # A port taken down shows in port_status, as the controller sees it.
        lab.set_nic("web1", up=False)
        assert wait_until(lambda: values(scrape(address)["port_status"], dp_name="vmbr0", port=bound[0]["port"]) == [0.0], 5)
