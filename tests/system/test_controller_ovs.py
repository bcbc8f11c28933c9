"""The controller on real OVS (userspace datapath) with Mininet hosts."""

from __future__ import annotations

import itertools

import pytest

from sdnlab import analyse, load
from sim.lab import SimLab
from tests.conftest import TOPOLOGIES

pytestmark = pytest.mark.usefixtures("real_ovs")


def pingable(topology):
    analysis = analyse(topology)
    pairs = []
    for a, b in itertools.combinations(sorted(topology.endpoints), 2):
        na, nb = topology.endpoints[a].nics, topology.endpoints[b].nics
        if any(x.ip and y.ip and x.ip.network == y.ip.network for x in na for y in nb):
            pairs.append((a, b, analysis.is_reachable(a, b)))
    return pairs


def test_same_vlan_pings_cross_vlan_does_not():
    topology = load(TOPOLOGIES / "one-bridge.yaml")
    with SimLab(topology) as lab:
        assert lab.ping("a1", "a2") and lab.ping("b1", "b2")
        # Put b1 in tenant-a's subnet: it still must not reach a1 across VLANs.
        lab.hosts["b1"].cmd("ip addr add 10.1.0.9/24 dev eth0")
        assert not lab.ping("b1", "a1")


def test_two_nodes_over_a_trunk():
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    with SimLab(topology) as lab:
        assert lab.ping("web1", "web2")
        assert lab.ping("web2", "web1")
        lab.hosts["db1"].cmd("ip addr add 10.0.10.99/24 dev eth0")
        assert not lab.ping("db1", "web1")
