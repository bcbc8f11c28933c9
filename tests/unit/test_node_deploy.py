"""`sdnlab up --node` without building anything: where a node's state lives, what of the file a node builds, which
host runs the controller, and the command line's refusals that come before anything is touched.

The state folder is a temporary one (deploy.lab.STATE_ROOT); `Lab(...)` only reads it. The tests may run as root, so
nothing here relies on `preflight.require_root` stopping a command: where a command could go on to build, the
function that would build is replaced by one that fails the test."""

from __future__ import annotations

import json

import pytest

from deploy import lab as deploy
from deploy import rehearsal, rehearse_run
from deploy.lab import ControllerPlace, DeployError, Lab, State, _controller_place, part_of, state_key
from sdnlab import cli, load, loads
from sdnlab.underlay import UnderlayError
from tests.conftest import TOPOLOGIES

ACROSS = TOPOLOGIES / "across-hosts.yaml"
LOOP = TOPOLOGIES / "across-hosts-loop.yaml"


@pytest.fixture(autouse=True)
def state_root(tmp_path, monkeypatch):
    root = tmp_path / "labs"
    monkeypatch.setattr(deploy, "STATE_ROOT", root)
    return root


@pytest.fixture
def nothing_builds(monkeypatch):
    """Whatever would build a lab fails the test instead."""

    def never(*args, **kwargs):
        raise AssertionError("reached a function that builds")

    monkeypatch.setattr(deploy, "up", never)
    monkeypatch.setattr(deploy, "check_host", never)
    monkeypatch.setattr(deploy, "down", never)
    monkeypatch.setattr(rehearsal, "up", never)
    monkeypatch.setattr(rehearse_run, "run", never)


# -- the state of a node's part ----------------------------------------------------------------------------------------


def test_a_nodes_state_lives_in_lab_at_node_apart_from_the_whole_labs(state_root):
    assert state_key("across-hosts", "pve1") == "across-hosts@pve1" and state_key("across-hosts") == "across-hosts"
    node = State("across-hosts", "/x/across-hosts.yaml", node="pve1")
    node.add(kind="ovs-bridge", name="vmbr0")
    assert json.loads((state_root / "across-hosts@pve1" / "state.json").read_text()) == {
        "lab": "across-hosts", "node": "pve1", "topology": "/x/across-hosts.yaml", "objects": [{"kind": "ovs-bridge", "name": "vmbr0"}]}
    again = State.load("across-hosts", "pve1")
    assert again == node and again.node == "pve1" and again.directory == state_root / "across-hosts@pve1"
    # The whole lab, and the other node, have nothing recorded.
    assert State.load("across-hosts").objects == [] and State.load("across-hosts").node == ""
    assert State.load("across-hosts", "pve2").objects == []
    whole = State("across-hosts", "/x/across-hosts.yaml")
    whole.add(kind="ovs-bridge", name="vmbr1")
    assert State.load("across-hosts", "pve1").objects == [{"kind": "ovs-bridge", "name": "vmbr0"}]
    assert State.load("across-hosts").objects == [{"kind": "ovs-bridge", "name": "vmbr1"}]


def test_a_state_file_of_a_node_is_not_the_whole_labs_nor_another_nodes(state_root):
    (state_root / "lab1").mkdir(parents=True)
    (state_root / "lab1" / "state.json").write_text(json.dumps({"lab": "lab1", "node": "pve1", "objects": []}))
    with pytest.raises(DeployError, match=r"names lab 'lab1' \(node pve1\), not 'lab1' \(node -\)"):
        State.load("lab1")
    (state_root / "lab1@pve2").mkdir()
    (state_root / "lab1@pve2" / "state.json").write_text(json.dumps({"lab": "lab1", "objects": []}))
    with pytest.raises(DeployError, match=r"names lab 'lab1' \(node -\), not 'lab1' \(node pve2\)"):
        State.load("lab1", "pve2")
    with pytest.raises(DeployError, match="'pve1/..' is not a lab or node name"):
        State.load("lab1", "pve1/..")


# -- what a node builds --------------------------------------------------------------------------------------------


def test_a_lab_of_one_node_builds_that_nodes_part_with_its_tunnels_and_the_tunnel_mtu(state_root):
    topology = load(ACROSS)
    lab = Lab(topology, node="pve1")
    assert lab.state.node == "pve1" and lab.directory == state_root / "across-hosts@pve1"
    assert (lab.part.bridges, lab.part.endpoints, lab.part.links) == (["lab1", "vmbr0"], ["db1", "probe1", "web1"], [])
    assert [(t.link.id, t.bridge, t.remote_node, t.remote, t.local) for t in lab.part.tunnels] == [
        ("link0", "vmbr0", "pve2", "192.0.2.12", "192.0.2.11"), ("link1", "lab1", "pve2", "192.0.2.12", "192.0.2.11")]
    assert lab.mtu == 1450
    whole = Lab(topology)  # the whole lab on one host: its links are no tunnels, the MTU stays
    assert (whole.part.bridges, whole.part.tunnels) == (["lab1", "lab2", "vmbr0", "vmbr1"], [])
    assert whole.part.endpoints == ["db1", "db2", "probe1", "probe2", "web1", "web2"]
    assert [link.id for link in whole.part.links] == ["link0", "link1"] and whole.mtu is None
    assert not state_root.exists()  # reading the state wrote nothing


def test_a_node_of_a_file_without_addresses_is_built_only_as_a_rehearsals_node():
    topology = load(LOOP)
    with pytest.raises(UnderlayError, match=r"node pve1 has no address: give it one under nodes\.pve1\.address"):
        Lab(topology, node="pve1")
    rehearsed = part_of(topology, "pve2", rehearsed=True)
    assert [(t.link.id, t.remote_node, t.remote, t.local) for t in rehearsed.tunnels] == [
        ("link0", "pve1", "10.217.0.1", "10.217.0.2"), ("link1", "pve3", "10.217.0.3", "10.217.0.2")]
    assert Lab(topology, node="pve2", rehearsed=True).mtu == 1450


def test_up_turns_a_missing_address_into_its_error_before_looking_at_the_host(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("reached the host")

    monkeypatch.setattr(deploy, "check_host", never)
    monkeypatch.setattr(deploy, "_build", never)
    with pytest.raises(DeployError) as caught:
        deploy.up(load(LOOP), LOOP, node="pve1")
    assert str(caught.value) == (f"{LOOP}: link link0 (vmbr1-vmbr2) crosses from node pve1 to node pve2, but node pve1 has no address: "
                                 "give it one under nodes.pve1.address")


# -- where the controller runs --------------------------------------------------------------------------------------


@pytest.fixture
def local(monkeypatch):
    """Which addresses this host holds, as `_is_local` would find them."""
    held: set[str] = set()
    monkeypatch.setattr(deploy, "_is_local", lambda address: address in held)
    return held


def test_a_whole_lab_runs_its_controller_on_loopback_at_any_port(local):
    assert _controller_place(Lab(load(ACROSS)), None) == ControllerPlace(True, "127.0.0.1", 0)


def test_a_node_runs_the_controller_when_its_host_holds_controller_host(local):
    lab = Lab(load(ACROSS), node="pve1")
    assert _controller_place(lab, None) == ControllerPlace(False, "192.0.2.10", 6653)
    local.add("192.0.2.10")
    assert _controller_place(lab, None) == ControllerPlace(True, "192.0.2.10", 6653)


def test_controller_given_on_the_command_line_points_elsewhere(local):
    local.add("192.0.2.10")  # even on the host of controller.host: --controller wins, and nothing runs here
    lab = Lab(load(ACROSS), node="pve2")
    assert _controller_place(lab, "198.51.100.7:7001") == ControllerPlace(False, "198.51.100.7", 7001)
    assert _controller_place(lab, "[2001:db8::7]:6653") == ControllerPlace(False, "2001:db8::7", 6653)


def test_loopback_controller_host_with_several_nodes_is_an_error_unless_controller_is_given(local):
    lab = Lab(load(LOOP), node="pve1", rehearsed=True)
    with pytest.raises(DeployError) as caught:
        _controller_place(lab, None)
    assert str(caught.value) == (
        f"{LOOP}: controller.host is 127.0.0.1, which the other nodes cannot reach: set it to the address of the host that runs "
        "the controller (every node's bridges connect to it over TLS)")
    assert _controller_place(lab, "10.217.0.250:6653") == ControllerPlace(False, "10.217.0.250", 6653)


def test_loopback_controller_host_with_one_node_runs_it_there_on_the_files_port(local):
    topology = loads("""
name: solo
nodes: {only: {}}
bridges: {br: {type: ovs, node: only}}
controller: {port: 6700}
""", "solo.yaml")
    assert _controller_place(Lab(topology, node="only"), None) == ControllerPlace(True, "127.0.0.1", 6700)


def test_an_ipv6_controller_host(local):
    topology = loads("""
name: six
nodes: {n1: {address: "2001:db8::1"}, n2: {address: "2001:db8::2"}}
bridges: {b1: {type: ovs, node: n1}, b2: {type: ovs, node: n2}}
links: [{between: [b1, b2]}]
controller: {host: "2001:db8::10"}
""", "six.yaml")
    place = _controller_place(Lab(topology, node="n1"), None)
    assert place == ControllerPlace(False, "2001:db8::10", 6653)
    assert place.target(tls=True) == "ssl:[2001:db8::10]:6653"


def test_the_target_switches_are_given():
    assert ControllerPlace(False, "192.0.2.10", 6653).target(tls=True) == "ssl:192.0.2.10:6653"
    assert ControllerPlace(False, "192.0.2.10", 6653).target(tls=False) == "tcp:192.0.2.10:6653"
    assert ControllerPlace(True, "127.0.0.1", 0).target(True, port=41234) == "ssl:127.0.0.1:41234"  # the port it got
    assert ControllerPlace(False, "fd00:217::fa", 6653).target(tls=True) == "ssl:[fd00:217::fa]:6653"
    assert ControllerPlace(False, "::1", 6653).target(False, 7000) == "tcp:[::1]:7000"


def test_is_local_binds_to_tell():
    assert deploy._is_local("127.0.0.1")
    assert not deploy._is_local("198.51.100.77")  # TEST-NET-2: held by no host


# -- the command line ----------------------------------------------------------------------------------------------


def test_controller_without_node_is_refused_before_anything(nothing_builds, capsys):
    # `_up` checks this first thing after reading the file, before deploy.lab.up (and so before its root check,
    # which would not stop a test run as root): the fixture makes reaching any builder fail the test.
    assert cli.main(["up", str(ACROSS), "--controller", "1.2.3.4:6653"]) == 1
    assert capsys.readouterr().err == "sdnlab up: --controller goes with --node\n"
    assert cli.main(["up", str(ACROSS), "--separate-nodes", "--controller", "1.2.3.4:6653"]) == 1
    assert capsys.readouterr().err == "sdnlab up: --controller goes with --node\n"


def test_node_and_separate_nodes_exclude_each_other(nothing_builds, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["up", str(ACROSS), "--node", "pve1", "--separate-nodes"])
    assert caught.value.code == 2
    assert "argument --separate-nodes: not allowed with argument --node" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--plot", "x.png"], ["--no-tls"]])
def test_sim_run_on_separate_nodes_refuses_a_picture_and_plain_tcp(nothing_builds, capsys, flag):
    assert cli.main(["sim", "run", str(ACROSS), "--separate-nodes", *flag]) == 1
    assert capsys.readouterr().err == "sdnlab sim: --separate-nodes builds the lab as a real one is built (TLS) and draws no picture\n"


def test_status_of_a_node_that_is_not_up(nothing_builds, capsys):
    assert cli.main(["status", str(ACROSS), "--node", "pve1"]) == 1
    assert capsys.readouterr().out == "lab across-hosts node pve1 is not up\n"
    assert cli.main(["status", str(ACROSS), "--node", "pve1", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"lab": "across-hosts", "node": "pve1", "up": False, "ok": False}


@pytest.mark.parametrize("text, expected", [("192.0.2.10:6653", ("192.0.2.10", 6653)), ("[fd00::1]:6653", ("fd00::1", 6653))])
def test_controller_option_takes_an_address_and_a_port(text, expected):
    from deploy.lab import controller_address

    assert controller_address(text) == expected


@pytest.mark.parametrize("text", ["192.0.2.10", "fd00::1:6653", "ctl.example:6653", "192.0.2.10:0", "192.0.2.10:70000", "[192.0.2.1]:1"])
def test_controller_option_refuses_what_is_not_address_and_port(text):
    from deploy.lab import DeployError, controller_address

    with pytest.raises(DeployError, match=r"--controller takes ADDRESS:PORT, an IPv4 address or \[IPv6\]:PORT"):
        controller_address(text)
