"""Each bundled topology is valid, says what it teaches, and gives its pinned outcome."""

from __future__ import annotations

import pytest

from sdnlab import analyse, load
from tests.conftest import TOPOLOGIES

EXPECTED = {
    "one-bridge.yaml": {"reachable": [("a1", "a2"), ("b1", "b2")], "warnings": 0},
    "two-nodes.yaml": {"reachable": [("web1", "web2")], "warnings": 0},
    "across-hosts.yaml": {"reachable": [("probe1", "probe2"), ("web1", "web2")], "warnings": 0},
    "across-hosts-loop.yaml": {"reachable": [("db1", "db2"), ("db1", "db3"), ("db2", "db3"), ("web1", "web2"), ("web1", "web3"), ("web2", "web3")], "warnings": 0},
    "triangle.yaml": {"reachable": [("h1", "h2"), ("h1", "h3"), ("h2", "h3"), ("x1", "x3")], "warnings": 0},
    "cluster.yaml": {"reachable": [("h1", "h2"), ("h1", "h3"), ("h2", "h3"), ("x1", "x3")], "warnings": 0},
    "leaf-spine.yaml": {
        "reachable": sorted(
            [(f"web{i}", f"web{j}") for i in range(1, 5) for j in range(i + 1, 5)]
            + [(f"db{i}", f"db{j}") for i in range(1, 5) for j in range(i + 1, 5)]
            + [("backup3", "backup4")]
        ),
        "warnings": 0,
    },
    "mixed.yaml": {
        "reachable": [("app1", "app2"), ("app1", "dev"), ("app2", "dev"), ("mon", "nas"), ("mon", "printer"), ("nas", "printer")],
        "warnings": 2,
    },
    "real-lab.yaml": {"reachable": [("ct1", "vm2"), ("ct2", "vm1")], "warnings": 0},
    "vlan-aware.yaml": {"reachable": [("db1", "db2"), ("mgmt1", "mgmt2"), ("web1", "web2")], "warnings": 0},
    "classroom.yaml": {
        "reachable": sorted(
            [(f"t{t}s{i}", f"t{t}s{j}") for t in range(1, 5) for i in range(1, 7) for j in range(i + 1, 7)]
            + [tuple(sorted(p)) for p in __import__("itertools").combinations(["mon1", "mon2", "mon3", "kit1", "kit2", "kit3"], 2)]
        ),
        "warnings": 0,
    },
}


def test_every_bundled_topology_has_a_pinned_outcome():
    assert {p.name for p in TOPOLOGIES.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_outcome(name):
    path = TOPOLOGIES / name
    head = path.read_text().splitlines()[:3]
    assert all(line.startswith("#") for line in head), "a bundled topology opens with a comment on what it teaches"
    assert any("Expected" in line for line in path.read_text().splitlines() if line.startswith("#"))
    analysis = analyse(load(path))
    assert analysis.reachable() == EXPECTED[name]["reachable"]
    assert len(analysis.warnings) == EXPECTED[name]["warnings"]


def test_classroom_has_thirty_endpoints():
    assert len(load(TOPOLOGIES / "classroom.yaml").endpoints) == 30
