"""Every validation rule of the topology format: one bad file each."""

from __future__ import annotations

import hashlib
import textwrap

import pytest

from sdnlab import TopologyError, load, loads
from tests.conftest import TOPOLOGIES

GOOD = """\
name: lab
nodes:
  pve1: {}
  pve2: {}
vlans:
  10: {name: web}
  20: {}
bridges:
  vmbr0: {type: ovs, node: pve1}
  vmbr1: {type: ovs, node: pve2}
  lnx0: {type: linux, node: pve2}
endpoints:
  web1:
    type: kvm
    node: pve1
    nics:
      - {bridge: vmbr0, tag: 10, ip: 10.0.10.1/24}
  web2:
    type: lxc
    node: pve2
    nics:
      - {bridge: vmbr1, tag: 10, ip: 10.0.10.2/24}
links:
  - {between: [vmbr0, vmbr1]}
"""


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(TopologyError) as info:
        loads(textwrap.dedent(text), "lab.yaml")
    return [(p.path, p.message) for p in info.value.problems]


def only(text: str) -> tuple[str, str]:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def test_good_file_loads_with_defaults():
    topo = loads(GOOD, "lab.yaml")
    assert topo.name == "lab"
    assert topo.nodes == ("pve1", "pve2")
    assert topo.vlans == {10: "web", 20: None}
    assert topo.links[0].trunks == {10, 20}  # omitted: every declared VLAN
    assert topo.links[0].untagged is True
    assert topo.controller.host == "127.0.0.1" and topo.controller.port == 6653
    assert topo.bridges["vmbr0"].dpid is not None
    assert topo.bridges["lnx0"].dpid is None
    assert all(nic.mac.startswith("02:") for nic in topo.nics())


def test_assigned_values_are_deterministic_and_unique():
    a, b = loads(GOOD, "a.yaml"), loads(GOOD, "b.yaml")
    assert [n.mac for n in a.nics()] == [n.mac for n in b.nics()]
    assert {k: v.dpid for k, v in a.bridges.items()} == {k: v.dpid for k, v in b.bridges.items()}
    assert len({n.mac for n in a.nics()}) == 2
    assert a.bridges["vmbr0"].dpid != a.bridges["vmbr1"].dpid
    # Adding a bridge does not renumber the others.
    more = GOOD.replace("  lnx0:", "  vmbr9: {type: ovs, node: pve1}\n  lnx0:")
    assert loads(more).bridges["vmbr0"].dpid == a.bridges["vmbr0"].dpid


def test_assigned_mac_avoids_a_given_one():
    topo = loads(GOOD)
    taken = topo.endpoints["web1"].nics[0].mac
    text = GOOD.replace("{bridge: vmbr1, tag: 10, ip: 10.0.10.2/24}", f"{{bridge: vmbr1, tag: 10, ip: 10.0.10.2/24, mac: '{taken}'}}")
    again = loads(text)
    assert again.endpoints["web2"].nics[0].mac == taken
    assert again.endpoints["web1"].nics[0].mac != taken


def documented_dpid(topology: str, bridge: str) -> int:
    """docs/topology-format.md: the first 48 bits of sha256("<topology name>/bridge/<bridge name>")."""
    return int(hashlib.sha256(f"{topology}/bridge/{bridge}".encode()).hexdigest()[:12], 16)


def documented_mac(topology: str, endpoint: str, index: int) -> str:
    """docs/topology-format.md: 02: then the first 40 bits of sha256("<topology name>/nic/<endpoint>/<nic index>")."""
    hexdigits = hashlib.sha256(f"{topology}/nic/{endpoint}/{index}".encode()).hexdigest()[:10]
    return "02:" + ":".join(hexdigits[i : i + 2] for i in range(0, 10, 2))


TWO_NICS = "name: twonics\nbridges: {br: {type: ovs}, lx: {type: linux}}\nendpoints:\n  h: {type: host, nics: [{bridge: br}, {bridge: lx}]}\n"


@pytest.mark.parametrize("name", sorted(p.name for p in TOPOLOGIES.glob("*.yaml")))
def test_assigned_dpids_and_macs_follow_the_documented_sha256_formulas(name):
    # No bundled file gives a dpid or a MAC, and none of their values clash: every one is the formula's.
    assert "dpid" not in (TOPOLOGIES / name).read_text() and "mac:" not in (TOPOLOGIES / name).read_text()
    topo = load(TOPOLOGIES / name)
    for bridge in topo.bridges.values():
        assert bridge.dpid == (documented_dpid(topo.name, bridge.name) if bridge.type == "ovs" else None), bridge.name
    for nic in topo.nics():
        assert nic.mac == documented_mac(topo.name, nic.endpoint, nic.index), nic.id


def test_assigned_values_use_the_topology_name_and_the_nic_index():
    topo = loads(TWO_NICS)
    assert topo.bridges["br"].dpid == documented_dpid("twonics", "br")
    assert [n.mac for n in topo.endpoints["h"].nics] == [documented_mac("twonics", "h", 0), documented_mac("twonics", "h", 1)]
    renamed = loads(TWO_NICS.replace("name: twonics", "name: other"))
    assert renamed.bridges["br"].dpid == documented_dpid("other", "br") != topo.bridges["br"].dpid


def test_assigned_values_of_two_nodes_are_these_literals():
    # Worked out once by hand from the document (sha256 of "two-tenants/bridge/vmbr0" and "two-tenants/nic/web1/0").
    topo = load(TOPOLOGIES / "two-nodes.yaml")
    assert topo.bridges["vmbr0"].dpid == 0xE2B743C026E2
    assert topo.endpoints["web1"].nics[0].mac == "02:5b:eb:da:32:1d"


def test_single_node_defaults():
    topo = loads("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br}]}}\n")
    assert topo.nodes == ("node1",)
    assert topo.bridges["br"].node == "node1" and topo.endpoints["h"].node == "node1"


def test_linux_ends_default_to_no_trunks_and_vlan_aware_linux_trunks_all():
    text = GOOD + "  - {between: [vmbr1, lnx0]}\n"
    assert loads(text).links[1].trunks == frozenset()
    aware = text.replace("lnx0: {type: linux, node: pve2}", "lnx0: {type: linux, node: pve2, vlan_aware: true}")
    assert loads(aware).links[1].trunks == {10, 20}


def test_mac_written_like_base60_number_stays_a_mac():
    text = GOOD.replace("tag: 10, ip: 10.0.10.1/24}", "tag: 10, ip: 10.0.10.1/24, mac: 52:54:00:12:34:56}")
    assert loads(text).endpoints["web1"].nics[0].mac == "52:54:00:12:34:56"


def test_yaml_boolean_words_work_as_names():
    topo = loads("name: x\nbridges: {br: {type: ovs}}\nendpoints: {no: {type: host, nics: [{bridge: br}]}}\n")
    assert "no" in topo.endpoints


def test_merge_keys_and_anchors():
    text = """\
name: x
bridges: {br: {type: ovs}}
vlans: {10: {}}
endpoints:
  a: {type: host, nics: [&n {bridge: br, tag: 10}]}
  b: {type: host, nics: [{<<: *n, ip: 10.0.0.2/24}]}
"""
    topo = loads(text)
    assert topo.endpoints["b"].nics[0].tag == 10


# (yaml, path, words in the message) — each breaks exactly one rule.
RULES = [
    ("bridges: {br: {type: ovs}}", "", "missing required key 'name'"),
    ("name: Lab\nbridges: {br: {type: ovs}}", "name", "must be 1-32 characters"),
    ("name: " + "a" * 33 + "\nbridges: {br: {type: ovs}}", "name", "must be 1-32"),
    ("name: 1lab\nbridges: {br: {type: ovs}}", "name", "starting with a letter"),
    ("name: yes\nbridges: {br: {type: ovs}}", "name", "must be text, not true/false (quote it)"),
    ("name: x\nbridges: {br: {type: ovs}}\ncolour: red", "colour", "unknown key 'colour'"),
    ("name: x", "", "missing required key 'bridges'"),
    ("name: x\nbridges: {}", "bridges", "at least one bridge"),
    ("name: x\nbridges: [br]", "bridges", "must be a map, not a list"),
    ("name: x\nnodes: {PVE: {}}\nbridges: {br: {type: ovs}}", "nodes.PVE", "node name 'PVE'"),
    ("name: x\nnodes: {p: {cpu: 4}}\nbridges: {br: {type: ovs}}", "nodes.p.cpu", "unknown key 'cpu'"),
    ("name: x\nvlans: {0: {}}\nbridges: {br: {type: ovs}}", "vlans.0", "from 1 to 4094"),
    ("name: x\nvlans: {4095: {}}\nbridges: {br: {type: ovs}}", "vlans.4095", "from 1 to 4094"),
    ("name: x\nvlans: {web: {}}\nbridges: {br: {type: ovs}}", "vlans.web", "must be a whole number"),
    ("name: x\nvlans: {10: {name: 5}}\nbridges: {br: {type: ovs}}", "vlans.10.name", "must be text"),
    ("name: x\nvlans: {10: {label: a}}\nbridges: {br: {type: ovs}}", "vlans.10.label", "unknown key"),
    ("name: x\nbridges: {br: {}}", "bridges.br", "missing required key 'type'"),
    ("name: x\nbridges: {br: {type: vpp}}", "bridges.br.type", "must be 'ovs' or 'linux'"),
    ("name: x\nbridges: {Br: {type: ovs}}", "bridges.Br", "bridge name 'Br'"),
    ("name: x\nbridges: {abcdefghijklm: {type: ovs}}", "bridges.abcdefghijklm", "1-12 characters"),
    ("name: x\nnodes: {a: {}, b: {}}\nbridges: {br: {type: ovs}}", "bridges.br", "needs a 'node'"),
    ("name: x\nbridges: {br: {type: ovs, node: pve9}}", "bridges.br.node", "unknown node 'pve9'"),
    ("name: x\nbridges: {br: {type: ovs, dpid: 0}}", "bridges.br.dpid", "from 1 to 18446744073709551615"),
    ("name: x\nbridges: {br: {type: ovs, dpid: 18446744073709551616}}", "bridges.br.dpid", "from 1 to"),
    ("name: x\nbridges: {a: {type: ovs, dpid: 5}, b: {type: ovs, dpid: 5}}", "bridges.b.dpid", "dpid 5 is already used by bridge a"),
    ("name: x\nbridges: {br: {type: linux, dpid: 5}}", "bridges.br.dpid", "OVS bridges only"),
    ("name: x\nbridges: {br: {type: ovs, vlan_aware: true}}", "bridges.br.vlan_aware", "Linux bridges only"),
    ("name: x\nbridges: {br: {type: linux, vlan_aware: 1}}", "bridges.br.vlan_aware", "true or false"),
    ("name: x\nbridges: {br: {type: ovs, stp: true}}", "bridges.br.stp", "unknown key 'stp'"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {br: {type: host, nics: [{bridge: br}]}}", "endpoints.br", "already the name of a bridge"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {nics: [{bridge: br}]}}", "endpoints.h", "missing required key 'type'"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: docker, nics: [{bridge: br}]}}", "endpoints.h.type", "'kvm', 'lxc' or 'host'"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {H1: {type: host, nics: [{bridge: br}]}}", "endpoints.H1", "endpoint name 'H1'"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host}}", "endpoints.h", "missing required key 'nics'"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: []}}", "endpoints.h.nics", "at least one NIC"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: {bridge: br}}}", "endpoints.h.nics", "must be a list"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{tag: 10}]}}", "endpoints.h.nics[0]", "missing required key 'bridge'"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: nope}]}}", "endpoints.h.nics[0].bridge", "unknown bridge 'nope'"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, vlan: 3}]}}", "endpoints.h.nics[0].vlan", "unknown key 'vlan'"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, tag: 10}]}}", "endpoints.h.nics[0].tag", "VLAN 10 is not declared"),
    ("name: x\nvlans: {10: {}}\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, tag: 5000}]}}", "endpoints.h.nics[0].tag", "from 1 to 4094"),
    ("name: x\nvlans: {10: {}}\nbridges: {br: {type: linux}}\nendpoints: {h: {type: host, nics: [{bridge: br, tag: 10}]}}", "endpoints.h.nics[0].tag", "not VLAN-aware"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, ip: 10.0.0.1}]}}", "endpoints.h.nics[0].ip", "with a prefix length"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, ip: 10.0.0.300/24}]}}", "endpoints.h.nics[0].ip", "not an IPv4 address"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, ip: 'fd00::1/64'}]}}", "endpoints.h.nics[0].ip", "not an IPv4 address"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, ip: 10.0.0.1/33}]}}", "endpoints.h.nics[0].ip", "not an IPv4 address"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, mac: 'zz:00:00:00:00:01'}]}}", "endpoints.h.nics[0].mac", "not a MAC address"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, mac: '01:00:5e:00:00:01'}]}}", "endpoints.h.nics[0].mac", "multicast"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints: {h: {type: host, nics: [{bridge: br, mac: '00:00:00:00:00:00'}]}}", "endpoints.h.nics[0].mac", "not a usable MAC"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints:\n  a: {type: host, nics: [{bridge: br, mac: '02:00:00:00:00:01'}]}\n  b: {type: host, nics: [{bridge: br, mac: '02:00:00:00:00:01'}]}",
     "endpoints.b.nics[0].mac", "already used by endpoints.a.nics[0]"),
    ("name: x\nbridges: {br: {type: ovs}}\nendpoints:\n  a: {type: host, nics: [{bridge: br, ip: 10.0.0.1/24}]}\n  b: {type: host, nics: [{bridge: br, ip: 10.0.0.1/16}]}",
     "endpoints.b.nics[0].ip", "address 10.0.0.1 is already used by endpoints.a.nics[0]"),
    ("name: x\nnodes: {p1: {}, p2: {}}\nbridges: {br: {type: ovs, node: p1}}\nendpoints: {h: {type: host, node: p2, nics: [{bridge: br}]}}",
     "endpoints.h.nics[0].bridge", "on node p1, but this endpoint is on node p2"),
    ("name: x\nbridges: {a: {type: ovs}}\nlinks: [{between: [a]}]", "links[0].between", "exactly two"),
    ("name: x\nbridges: {a: {type: ovs}}\nlinks: [{between: [a, a]}]", "links[0].between", "not a to itself"),
    ("name: x\nbridges: {a: {type: ovs}}\nlinks: [{between: [a, b]}]", "links[0].between[1]", "unknown bridge 'b'"),
    ("name: x\nbridges: {a: {type: ovs}, b: {type: ovs}}\nlinks: [{trunks: []}]", "links[0]", "missing required key 'between'"),
    ("name: x\nbridges: {a: {type: ovs}, b: {type: ovs}}\nlinks: {between: [a, b]}", "links", "must be a list"),
    ("name: x\nbridges: {a: {type: ovs}, b: {type: ovs}}\nlinks: [{between: [a, b], trunks: [10]}]", "links[0].trunks[0]", "VLAN 10 is not declared"),
    ("name: x\nvlans: {10: {}}\nbridges: {a: {type: ovs}, b: {type: ovs}}\nlinks: [{between: [a, b], trunks: [10, 10]}]", "links[0].trunks[1]", "listed twice"),
    ("name: x\nvlans: {10: {}}\nbridges: {a: {type: ovs}, b: {type: ovs}}\nlinks: [{between: [a, b], trunks: 10}]", "links[0].trunks", "must be a list"),
    ("name: x\nvlans: {10: {}}\nbridges: {a: {type: ovs}, b: {type: linux}}\nlinks: [{between: [a, b], trunks: [10]}]", "links[0].trunks", "cannot trunk VLANs"),
    ("name: x\nbridges: {a: {type: ovs}, b: {type: ovs}}\nlinks: [{between: [a, b], untagged: no-thanks}]", "links[0].untagged", "true or false"),
    ("name: x\nbridges: {a: {type: ovs}, b: {type: ovs}}\nlinks: [{between: [a, b], name: Up}]", "links[0].name", "link name 'Up'"),
    ("name: x\nbridges: {a: {type: ovs}, b: {type: ovs}}\nlinks: [{between: [a, b], name: up}, {between: [a, b], name: up}]", "links[1].name", "already used by links[0]"),
    ("name: x\nbridges: {a: {type: ovs}, b: {type: ovs}}\nlinks: [{between: [a, b], speed: 10}]", "links[0].speed", "unknown key"),
    ("name: x\nbridges: {a: {type: ovs}}\ncontroller: {port: 70000}", "controller.port", "from 1 to 65535"),
    ("name: x\nbridges: {a: {type: ovs}}\ncontroller: {host: 5}", "controller.host", "must be text"),
    ("name: x\nbridges: {a: {type: ovs}}\ncontroller: {flavour: faucet}", "controller.flavour", "unknown key"),
    ("name: x\nbridges: {a: {type: ovs}}\ncontroller: {mac_limit: 0}", "controller.mac_limit", "from 1 to 65535"),
    ("name: x\nbridges: {a: {type: ovs}, a: {type: linux}}", "bridges.a", "duplicate key 'a' (first given on line 2)"),
    ("- just\n- a list", "", "the topology file must be a map, not a list"),
    ("name: x\nbridges: {br: {type: ovs}\n", "", "not valid YAML"),
    ("", "", "the file is empty"),
    ("# only a comment\n", "", "the file is empty"),
]


@pytest.mark.parametrize(("text", "path", "words"), RULES, ids=[f"{i}:{r[1] or 'root'}" for i, r in enumerate(RULES)])
def test_rule(text, path, words):
    found = problems(text + "\n")
    assert any(p == path and words in m for p, m in found), found


def test_every_problem_reported_at_once_with_line_and_column():
    text = textwrap.dedent("""\
        name: x
        vlans: {10: {}}
        bridges:
          br: {type: ovs}
        endpoints:
          h1:
            type: host
            nics:
              - {bridge: br, tag: 30}
          h2: {type: vm, nics: [{bridge: zz}]}
        """)
    with pytest.raises(TopologyError) as info:
        loads(text, "lab.yaml")
    found = {(p.path, p.line, p.column) for p in info.value.problems}
    assert ("endpoints.h1.nics[0].tag", 9, 27) in found
    assert ("endpoints.h2.type", 10, 14) in found
    assert ("endpoints.h2.nics[0].bridge", 10, 34) in found
    assert all(p.file == "lab.yaml" for p in info.value.problems)
    assert str(info.value).startswith("lab.yaml:9:27: endpoints.h1.nics[0].tag: VLAN 30 is not declared")


def test_unknown_key_points_at_the_key():
    with pytest.raises(TopologyError) as info:
        loads("name: x\nbridges:\n  br: {type: ovs,  colour: red}\n", "f.yaml")
    (p,) = info.value.problems
    assert (p.line, p.column) == (3, 20)


def test_missing_file_directory_and_binary(tmp_path):
    for target, words in [(tmp_path / "nope.yaml", "no such file"), (tmp_path, "is a directory")]:
        with pytest.raises(TopologyError) as info:
            load(target)
        assert words in str(info.value)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(TopologyError, match="not UTF-8"):
        load(binary)


def test_scalars_are_typed_as_yaml_1_1_says():
    from sdnlab.yamlsrc import read_text

    text = "a: 10\nb: '10'\nc: 0x1f\nd: true\ne: ~\nf: 1.5\ng: !!str 12\nh: no\ni: -3\nj: 010\nk: web\nl:\n"
    assert read_text(text, "t").value == {
        "a": 10, "b": "10", "c": 31, "d": True, "e": None, "f": 1.5, "g": "12", "h": False, "i": -3, "j": 8, "k": "web", "l": None,
    }


def test_unknown_tag_is_an_error_not_a_traceback():
    found = problems("name: !custom x\nbridges: {br: {type: ovs}}\n")
    assert found and "not valid YAML" in found[0][1]


def test_libyaml_parser_is_used():
    # The pure-Python scanner is ~10x slower; the scale benchmark depends on this.
    from yaml.cyaml import CParser

    from sdnlab.yamlsrc import _Parser

    assert _Parser is CParser


def test_plain_scalars_type_exactly_as_pyyaml_safeloader():
    import yaml

    from sdnlab.yamlsrc import read_text

    samples = ["yes", "No", "ON", "off", "null", "Null", "~", "true", "FALSE", "y", "n", "nics", "ovs", "node1", "onion", "0", "10",
               "-3", "+4", "0x1f", "017", "1_000", "1.5", ".inf", "-.inf", ".nan", "1e3", "2026-11-26", "<<x", "tag", "Off-site"]  # ("=" makes PyYAML itself fail)
    for sample in samples:
        ours = read_text(f"v: {sample}\n", "t").value["v"]
        theirs = yaml.safe_load(f"v: {sample}\n")["v"]
        if isinstance(theirs, float) and theirs != theirs:  # nan
            assert ours != ours, sample
        elif sample == "2026-11-26":
            assert str(ours) == str(theirs), sample  # a date: PyYAML makes a date object, we keep the same value
        else:
            assert (ours, type(ours)) == (theirs, type(theirs)), sample
