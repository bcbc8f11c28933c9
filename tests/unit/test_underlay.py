"""sdnlab/underlay.py on the bundled labs across hosts and on small hand-written ones: which links become tunnels, from
which bridge to which node and address, the rehearsal's generated addresses and controller, what each node builds,
the MTU, and the errors that say what to add to the file. Expected values are written out by hand."""

from __future__ import annotations

import pytest

from controller.state import Binding, port_names
from sdnlab import load, loads
from sdnlab.underlay import UnderlayError, addresses, controller_address, crosses_hosts, lab_mtu, node_parts, tunnel_name, tunnels
from tests.conftest import TOPOLOGIES

ACROSS = TOPOLOGIES / "across-hosts.yaml"
LOOP = TOPOLOGIES / "across-hosts-loop.yaml"


def ends(found) -> list[tuple[str, str, str, str, str, int, str]]:
    """Each tunnel as (link, bridge here, remote node, remote address, local address, VNI, device)."""
    return [(t.link.id, t.bridge, t.remote_node, t.remote, t.local, t.link.vni, t.device) for t in found]


def vni(topology, link_id: str) -> int:
    """The VNI the file's loading gave a link (assigned from the lab's name: the file's, not underlay.py's)."""
    (link,) = [x for x in topology.links if x.id == link_id]
    assert isinstance(link.vni, int) and 1 <= link.vni <= 16_777_215
    return link.vni


# -- tunnels of the bundled labs ------------------------------------------------------------------------------------


def test_across_hosts_has_a_tunnel_each_way_per_link_with_the_files_addresses():
    topology = load(ACROSS)
    nodes = addresses(topology)
    assert nodes == {"pve1": "192.0.2.11", "pve2": "192.0.2.12"}
    assert addresses(topology, generate=True) == nodes  # the file's addresses, never generated ones
    v0, v1 = vni(topology, "link0"), vni(topology, "link1")  # the OVS trunk, and the Linux bridges' link
    assert v0 != v1
    assert ends(tunnels(topology, "pve1", nodes)) == [("link0", "vmbr0", "pve2", "192.0.2.12", "192.0.2.11", v0, "vx" + str(v0)),
                                                      ("link1", "lab1", "pve2", "192.0.2.12", "192.0.2.11", v1, "vx" + str(v1))]
    assert ends(tunnels(topology, "pve2", nodes)) == [("link0", "vmbr1", "pve1", "192.0.2.11", "192.0.2.12", v0, "vx" + str(v0)),
                                                      ("link1", "lab2", "pve1", "192.0.2.11", "192.0.2.12", v1, "vx" + str(v1))]
    assert tunnel_name(topology.links[0]) == "vx" + str(v0)


def test_across_hosts_loop_gets_generated_addresses_in_sorted_node_order_and_two_tunnels_per_node():
    topology = load(LOOP)
    assert addresses(topology) == {}  # the file gives none, and nothing is generated unless asked
    nodes = addresses(topology, generate=True)
    assert nodes == {"pve1": "10.217.0.1", "pve2": "10.217.0.2", "pve3": "10.217.0.3"}
    v0, v1, v2 = vni(topology, "link0"), vni(topology, "link1"), vni(topology, "link2")
    assert len({v0, v1, v2}) == 3
    assert ends(tunnels(topology, "pve1", nodes)) == [
        ("link0", "vmbr1", "pve2", "10.217.0.2", "10.217.0.1", v0, f"vx{v0}"),
        ("link2", "vmbr1", "pve3", "10.217.0.3", "10.217.0.1", v2, f"vx{v2}"),
    ]
    assert ends(tunnels(topology, "pve2", nodes)) == [
        ("link0", "vmbr2", "pve1", "10.217.0.1", "10.217.0.2", v0, f"vx{v0}"),
        ("link1", "vmbr2", "pve3", "10.217.0.3", "10.217.0.2", v1, f"vx{v1}"),
    ]
    assert ends(tunnels(topology, "pve3", nodes)) == [
        ("link1", "vmbr3", "pve2", "10.217.0.2", "10.217.0.3", v1, f"vx{v1}"),
        ("link2", "vmbr3", "pve1", "10.217.0.1", "10.217.0.3", v2, f"vx{v2}"),
    ]


def test_the_generated_addresses_follow_the_sorted_names_not_the_files_order():
    topology = loads("""
name: order
nodes: {zeta: {}, alpha: {}, mid: {}}
bridges: {b1: {type: ovs, node: zeta}, b2: {type: ovs, node: alpha}, b3: {type: ovs, node: mid}}
links: [{between: [b1, b2], vni: 77}]
""", "order.yaml")
    assert addresses(topology, generate=True) == {"alpha": "10.217.0.1", "mid": "10.217.0.2", "zeta": "10.217.0.3"}
    assert ends(tunnels(topology, "mid", addresses(topology, generate=True))) == []  # no link of mid crosses
    assert ends(tunnels(topology, "zeta", addresses(topology, generate=True))) == [
        ("link0", "b1", "alpha", "10.217.0.1", "10.217.0.3", 77, "vx77")]


def test_a_link_within_one_node_is_no_tunnel():
    topology = loads("""
name: inside
nodes: {n1: {address: 192.0.2.1}, n2: {address: 192.0.2.2}}
bridges: {a: {type: ovs, node: n1}, b: {type: ovs, node: n1}, c: {type: ovs, node: n2}}
links: [{between: [a, b], vni: 10}, {between: [b, c], vni: 20}]
""", "inside.yaml")
    nodes = addresses(topology)
    assert ends(tunnels(topology, "n1", nodes)) == [("link1", "b", "n2", "192.0.2.2", "192.0.2.1", 20, "vx20")]
    assert ends(tunnels(topology, "n2", nodes)) == [("link1", "c", "n1", "192.0.2.1", "192.0.2.2", 20, "vx20")]


# -- the rehearsal's controller ---------------------------------------------------------------------------------------


def test_the_controller_is_the_files_host_unless_it_is_loopback():
    assert controller_address(load(ACROSS), {"pve1": "192.0.2.11", "pve2": "192.0.2.12"}) == "192.0.2.10"
    loop = load(LOOP)  # controller.host left at 127.0.0.1
    assert controller_address(loop, {"pve1": "10.217.0.1", "pve2": "10.217.0.2", "pve3": "10.217.0.3"}) == "10.217.0.250"
    assert controller_address(loop, {}) == "10.217.0.250"


def lab_with_controller(host: str) -> str:
    return f"""
name: ctl
nodes: {{n1: {{}}, n2: {{}}}}
bridges: {{b1: {{type: ovs, node: n1}}, b2: {{type: ovs, node: n2}}}}
links: [{{between: [b1, b2], vni: 5}}]
controller: {{host: "{host}"}}
"""


def test_a_node_on_250_moves_the_controller_to_the_next_free_address_from_the_top():
    topology = loads(lab_with_controller("127.0.0.1"), "ctl.yaml")
    assert controller_address(topology, {"n1": "10.217.0.1", "n2": "10.217.0.250"}) == "10.217.0.254"
    assert controller_address(topology, {"n1": "10.217.0.254", "n2": "10.217.0.250"}) == "10.217.0.253"


def test_a_controller_host_that_is_a_nodes_address_is_not_used_for_the_controller():
    topology = loads(lab_with_controller("10.217.0.1"), "ctl.yaml")
    assert controller_address(topology, {"n1": "10.217.0.1", "n2": "10.217.0.2"}) == "10.217.0.250"
    other = loads(lab_with_controller("10.217.0.9"), "ctl.yaml")
    assert controller_address(other, {"n1": "10.217.0.1", "n2": "10.217.0.2"}) == "10.217.0.9"


def test_ipv6_nodes_get_an_ipv6_controller():
    topology = loads(lab_with_controller("::1"), "ctl.yaml")
    assert controller_address(topology, {"n1": "fd00:217::1", "n2": "fd00:217::2"}) == "fd00:217::fa"
    topology = loads(lab_with_controller("127.0.0.1"), "ctl.yaml")
    assert controller_address(topology, {"n1": "2001:db8::1", "n2": "2001:db8::2"}) == "fd00:217::fa"


# -- errors that say what to add --------------------------------------------------------------------------------------

PARTIAL = """
name: partial
nodes: {pve1: {address: 192.0.2.11}, pve2: {}, pve3: {}}
bridges: {vmbr1: {type: ovs, node: pve1}, vmbr2: {type: ovs, node: pve2}, vmbr3: {type: ovs, node: pve3}}
links: [{between: [vmbr1, vmbr2], vni: 12}, {between: [vmbr3, vmbr1], vni: 31}]
"""


def test_some_nodes_with_an_address_and_others_without_cannot_be_rehearsed():
    topology = loads(PARTIAL, "partial.yaml")
    with pytest.raises(UnderlayError) as caught:
        addresses(topology, generate=True)
    assert str(caught.value) == "partial.yaml: nodes pve2, pve3 have no address while others do: give every node one, or none"
    assert addresses(topology) == {"pve1": "192.0.2.11"}  # `up --node` takes what the file gives; tunnels say what is missing


def test_a_link_to_a_node_without_an_address_names_the_link_both_nodes_and_the_key_to_add():
    topology = loads(PARTIAL, "partial.yaml")
    with pytest.raises(UnderlayError) as caught:
        tunnels(topology, "pve1", addresses(topology))
    assert str(caught.value) == ("partial.yaml: link link0 (vmbr1-vmbr2) crosses from node pve1 to node pve2, "
                                 "but node pve2 has no address: give it one under nodes.pve2.address")
    # From the side without an address, it is that node's own address that is missing.
    with pytest.raises(UnderlayError) as caught:
        tunnels(topology, "pve3", addresses(topology))
    assert str(caught.value) == ("partial.yaml: link link1 (vmbr3-vmbr1) crosses from node pve3 to node pve1, "
                                 "but node pve3 has no address: give it one under nodes.pve3.address")


def test_the_loop_without_addresses_cannot_be_built_by_node_without_generating_them():
    with pytest.raises(UnderlayError, match=r"node pve1 has no address: give it one under nodes\.pve1\.address"):
        tunnels(load(LOOP), "pve1", {})


# -- what `up --node` builds ------------------------------------------------------------------------------------------


def test_node_parts_of_the_bundled_labs():
    across = load(ACROSS)
    assert node_parts(across, "pve1") == (["lab1", "vmbr0"], ["db1", "probe1", "web1"], [])
    assert node_parts(across, "pve2") == (["lab2", "vmbr1"], ["db2", "probe2", "web2"], [])
    loop = load(LOOP)
    assert node_parts(loop, "pve1") == (["vmbr1"], ["db1", "web1"], [])
    assert node_parts(loop, "pve2") == (["vmbr2"], ["db2", "web2"], [])
    assert node_parts(loop, "pve3") == (["vmbr3"], ["db3", "web3"], [])


def test_node_parts_keep_the_links_within_the_node_and_refuse_an_unknown_node():
    topology = loads("""
name: parts
nodes: {n1: {}, n2: {}}
bridges: {z: {type: ovs, node: n1}, a: {type: ovs, node: n1}, c: {type: ovs, node: n2}}
endpoints:
  e2: {type: host, node: n1, nics: [{bridge: z}]}
  e1: {type: host, node: n1, nics: [{bridge: a}]}
  e3: {type: host, node: n2, nics: [{bridge: c}]}
links: [{between: [z, a]}, {between: [a, c]}]
""", "parts.yaml")
    bridges, endpoints, links = node_parts(topology, "n1")
    assert (bridges, endpoints, [link.id for link in links]) == (["a", "z"], ["e1", "e2"], ["link0"])
    bridges, endpoints, links = node_parts(topology, "n2")
    assert (bridges, endpoints, links) == (["c"], ["e3"], [])
    with pytest.raises(UnderlayError) as caught:
        node_parts(topology, "n3")
    assert str(caught.value) == "parts.yaml: there is no node 'n3' (the file's nodes: n1, n2)"


# -- the MTU -------------------------------------------------------------------------------------------------------


def test_a_lab_with_a_tunnel_gets_1450_and_one_without_keeps_the_defaults():
    assert lab_mtu(load(ACROSS)) == 1450
    assert lab_mtu(load(LOOP)) == 1450
    assert lab_mtu(load(ACROSS), 9000) == 8950
    assert crosses_hosts(load(ACROSS))
    one = load(TOPOLOGIES / "one-bridge.yaml")
    assert lab_mtu(one) is None and not crosses_hosts(one)
    same_node = loads("""
name: same
nodes: {n1: {}, n2: {}}
bridges: {a: {type: ovs, node: n1}, b: {type: ovs, node: n1}, c: {type: ovs, node: n2}}
links: [{between: [a, b]}]
""", "same.yaml")
    assert lab_mtu(same_node) is None  # n2 has a bridge, but no link leaves n1


# -- the names the controller binds unmarked ports by (controller/state.py) ------------------------------------------


def test_port_names_of_across_hosts():
    topology = load(ACROSS)
    # Host endpoints numbered from the lab's base (pvenames.base_number("across-hosts") is 100), in name order.
    assert port_names(topology) == {
        "veth100i0": Binding("nic", "db1.0"),
        "veth101i0": Binding("nic", "db2.0"),
        "veth102i0": Binding("nic", "probe1.0"),
        "veth103i0": Binding("nic", "probe2.0"),
        "veth104i0": Binding("nic", "web1.0"),
        "veth105i0": Binding("nic", "web2.0"),
        f"vx{vni(topology, 'link0')}": Binding("link", "link0"),
        f"vx{vni(topology, 'link1')}": Binding("link", "link1"),  # between Linux bridges: no switch of the controller's has it
    }


def test_port_names_of_across_hosts_loop_follow_each_endpoints_kind():
    topology = load(LOOP)
    # base_number("across-hosts-loop") is 6250; kvm guests get tap, containers and namespaces veth.
    assert port_names(topology) == {
        "veth6250i0": Binding("nic", "db1.0"),  # lxc
        "veth6251i0": Binding("nic", "db2.0"),  # host
        "tap6252i0": Binding("nic", "db3.0"),  # kvm
        "veth6253i0": Binding("nic", "web1.0"),  # host
        "tap6254i0": Binding("nic", "web2.0"),  # kvm
        "veth6255i0": Binding("nic", "web3.0"),  # lxc
        f"vx{vni(topology, 'link0')}": Binding("link", "link0"),
        f"vx{vni(topology, 'link1')}": Binding("link", "link1"),
        f"vx{vni(topology, 'link2')}": Binding("link", "link2"),
    }


def test_port_names_of_two_nodes_on_one_host_name_the_tunnel_no_port_has_there():
    """two-nodes.yaml is built on one host (its link is a patch port there), but its link still joins two nodes:
    port_names gives it its tunnel's name, which is harmless since no port of that lab has it."""
    topology = load(TOPOLOGIES / "two-nodes.yaml")
    assert port_names(topology) == {
        "veth490i0": Binding("nic", "db1.0"),  # base_number("two-tenants") is 490
        "veth491i0": Binding("nic", "probe.0"),
        "tap492i0": Binding("nic", "web1.0"),
        "veth493i0": Binding("nic", "web2.0"),
        f"vx{vni(topology, 'link0')}": Binding("link", "link0"),
    }


def test_port_names_give_no_tunnel_to_a_link_within_a_node_and_proxmox_names_to_a_vmid():
    topology = loads("""
name: mixed-names
nodes: {n1: {}, n2: {}}
bridges: {a: {type: ovs, node: n1}, b: {type: ovs, node: n1}, c: {type: ovs, node: n2}}
endpoints:
  vm: {type: kvm, node: n1, vmid: 300, nics: [{bridge: a}, {bridge: b}]}
links: [{between: [a, b], vni: 41}, {between: [b, c], vni: 42}]
""", "mixed.yaml")
    assert port_names(topology) == {
        "tap300i0": Binding("nic", "vm.0"), "fwln300o0": Binding("nic", "vm.0"),
        "tap300i1": Binding("nic", "vm.1"), "fwln300o1": Binding("nic", "vm.1"),
        "vx42": Binding("link", "link1"),
    }


def test_an_ipv6_controller_never_takes_a_nodes_address():
    topology = loads("name: six\nnodes: {a: {address: 'fd00:217::fa'}, b: {address: 'fd00:217::2'}}\nbridges: {x: {type: ovs, node: a}}\n", "six.yaml")
    assert controller_address(topology, addresses(topology)) == "fd00:217::fe"
