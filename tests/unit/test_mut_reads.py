"""Tests the last mutation run asked for: the file-size limit of reads, trunk lists with a bad item, the core's tree counters."""

from __future__ import annotations

import os
import threading

import pytest

from controller.core import Core
from controller.state import Port, PortPlan, SwitchView
from sdnlab import loads
from sdnlab.loader import MAX_FILE_BYTES, read_source
from sdnlab.problems import TopologyError


def test_a_file_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(tmp_path):
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"#" * MAX_FILE_BYTES)
    assert len(read_source(exact)) == MAX_FILE_BYTES
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(TopologyError) as info:
        read_source(big)
    assert str(info.value) == f"{big}: is larger than {MAX_FILE_BYTES} bytes, the limit for a topology or scenario file"


@pytest.mark.timeout(20)
def test_an_endless_file_is_refused_after_the_limit_without_waiting_for_its_end(tmp_path):
    fifo = tmp_path / "endless.yaml"
    os.mkfifo(fifo)
    done = threading.Event()

    def writer():
        with open(fifo, "wb") as out:
            out.write(b"#" * (MAX_FILE_BYTES + 2))
            out.flush()
            done.wait(30)  # keep it open: no end of file while the reader reads

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with pytest.raises(TopologyError, match="is larger than"):
            read_source(fifo)
    finally:
        done.set()


def test_a_bad_item_in_trunks_is_the_only_problem_reported_about_them():
    text = ("name: t\nvlans: {10: {}, 20: {}}\nbridges: {br: {type: ovs}}\n"
            "endpoints: {h: {type: host, nics: [{bridge: br, tag: 10, trunks: [10, 999]}]}}\n")
    with pytest.raises(TopologyError) as info:
        loads(text, "t.yaml")
    messages = [p.message for p in info.value.problems]
    assert len(messages) == 1 and "999" in messages[0], messages  # not also "its tag is in its trunks" from a half-read list


LAB = """\
name: ring
vlans: {10: {}}
bridges: {b1: {type: ovs}, b2: {type: ovs}, b3: {type: ovs}}
endpoints: {h: {type: host, nics: [{bridge: b1, tag: 10}]}}
links: [{between: [b1, b2], trunks: [10]}, {between: [b2, b3], trunks: [10]}, {between: [b3, b1], trunks: [10]}]
"""


def test_the_core_counts_every_tree_computation_and_each_move():
    topology = loads(LAB, "ring.yaml")
    plan = PortPlan(topology)
    core = Core(topology)
    for bridge in ("b1", "b2", "b3"):
        core.connect(plan.view(bridge), [], 0.0)
    assert (core.tree_computations, core.tree_moves) == (3, 0)  # the first trees are not a move
    view = plan.view("b1")
    (a, pa), _ = plan.link_ends(topology.links[0])
    cut = SwitchView(view.bridge, view.dpid, {n: Port(p.number, p.name, n != pa, p.binding) for n, p in view.ports.items()})
    core.update_ports(cut)
    assert (core.tree_computations, core.tree_moves) == (4, 1)
    core.update_ports(cut)  # nothing new: computed again, not moved
    core.update_ports(view)
    assert (core.tree_computations, core.tree_moves) == (6, 2)


def problems(text: str) -> list[str]:
    with pytest.raises(TopologyError) as info:
        loads(text, "t.yaml")
    return [p.message for p in info.value.problems]


def test_a_link_to_unknown_bridges_is_not_also_called_a_loop():
    base = "name: t\nbridges: {br: {type: ovs}}\n"
    assert problems(base + "links: [{between: [nope, nope]}]\n") == ["unknown bridge 'nope'", "unknown bridge 'nope'"]
    assert problems(base + "links: [{between: [br, br]}]\n") == ["a link joins two different bridges, not br to itself"]


def test_a_nic_with_a_bad_port_security_is_left_out_so_it_clashes_with_nothing():
    text = ("name: t\nbridges: {br: {type: ovs}}\nendpoints:\n"
            "  a: {type: host, nics: [{bridge: br, ip: 10.0.0.1/24, port_security: maybe}]}\n"
            "  b: {type: host, nics: [{bridge: br, ip: 10.0.0.1/24}]}\n")
    found = problems(text)
    assert len(found) == 1 and "port_security" in found[0], found


def test_a_link_from_a_linux_bridge_to_itself_is_one_problem_whatever_it_carries():
    text = "name: t\nvlans: {10: {}}\nbridges: {lb: {type: linux}}\nlinks: [{between: [lb, lb], trunks: [10]}]\n"
    assert problems(text) == ["a link joins two different bridges, not lb to itself"]


def test_a_vlan_set_iterates_its_ids_in_order():
    from sdnlab.pve.vlans import VlanSet

    assert list(VlanSet.ids([10, 1, 2, 3, 4094])) == [1, 2, 3, 10, 4094]
    assert list(VlanSet.ids([])) == []


def test_a_scenario_needs_the_cluster_machinery_only_for_replica_steps(tmp_path):
    from sdnlab.scenario import load_scenario
    from sdnlab.steps import needs_cluster

    (tmp_path / "t.yaml").write_text("name: t\nbridges: {br: {type: ovs}}\ncontroller: {replicas: 3}\n")
    (tmp_path / "kill.yaml").write_text("topology: t.yaml\nsteps: [{stop_controller: master}, {wait: 1}]\n")
    (tmp_path / "restart.yaml").write_text("topology: t.yaml\nsteps: [{restart: controller}, {wait: 1}]\n")
    assert needs_cluster(load_scenario(tmp_path / "kill.yaml").steps)
    assert not needs_cluster(load_scenario(tmp_path / "restart.yaml").steps)


def test_a_vlan_set_prints_as_messages_show_it():
    from sdnlab.pve.vlans import VlanSet

    assert (str(VlanSet.ids([10, 1, 2, 3, 4094])), str(VlanSet.ids([]))) == ("1-3, 10, 4094", "none")
