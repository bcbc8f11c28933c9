"""Mutation tests for sdnlab/pve/sdn.py: the parsed sections, zones and vnets, and every error and warning in full.

test_pve_parsers.py checks that an SDN snapshot imports; here each file, line,
key and message the SDN reader reports is written out, as a person reads them.
"""

from __future__ import annotations

import json

import pytest

from sdnlab.pve import DirSource, MemorySource
from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.sdn import Sdn, Section, Vnet, Zone, _running, parse_sections, read_sdn


def problems(items):
    return [(p.file, p.line, p.path, p.message) for p in items]


# -- parse_sections -------------------------------------------------------------

SECTIONS = (
    "# a comment before any section\n"  # 1
    "vlan: z1\n"  # 2
    "\tbridge vmbr0\n"  # 3
    "  # an indented comment stays inside the section\n"  # 4
    "\tnodes  pve1, pve2 \n"  # 5
    "\tflag\n"  # 6
    "\tbridge vmbr1\n"  # 7
    "\n"  # 8
    "\torphan 0123456789012345678901234567890123456789\n"  # 9
    "Xtype: x1\n"  # 10
    "\tk v\n"  # 11
    "vxlan: z1\n"  # 12
    "vlan: z1\n"  # 13
    "not a header line that is rather long, over forty characters\n"  # 14
    "\tafter v\n"  # 15
)


def test_parse_sections_whole_result():
    diag = Diagnostics()
    out = parse_sections(SECTIONS, "f.cfg", diag)
    assert out == [
        Section("vlan", "z1", "f.cfg", 2, {"bridge": ("vmbr1", 7), "nodes": ("pve1, pve2", 5), "flag": ("", 6)}),
        Section("Xtype", "x1", "f.cfg", 10, {"k": ("v", 11)}),
        Section("vxlan", "z1", "f.cfg", 12, {}),
        Section("vlan", "z1", "f.cfg", 13, {}),
    ]
    assert problems(diag.errors) == [
        ("f.cfg", 7, "z1.bridge", "bridge is set twice"),
        ("f.cfg", 9, "", "'orphan 012345678901234567890123456789012' is not inside a section"),
        ("f.cfg", 13, "z1", "vlan z1 is defined twice"),
        ("f.cfg", 14, "", "'not a header line that is rather long, o' is not a 'type: id' section header"),
        ("f.cfg", 15, "", "'after v' is not inside a section"),
    ]
    assert diag.warnings == []


def test_parse_sections_property_before_any_header():
    diag = Diagnostics()
    out = parse_sections("\tk v\nvlan: z\n\tbridge b\n", "f.cfg", diag)
    assert out == [Section("vlan", "z", "f.cfg", 2, {"bridge": ("b", 3)})]
    assert problems(diag.errors) == [("f.cfg", 1, "", "'k v' is not inside a section")]


def test_section_get_and_line_of():
    s = Section("vnet", "v", "f", 4, {"zone": ("z", 5)})
    assert (s.get("zone"), s.get("tag")) == ("z", None)
    assert (s.line_of("zone"), s.line_of("tag")) == (5, 4)


# -- _running ---------------------------------------------------------------------

def test_running_not_json():
    diag = Diagnostics()
    assert _running("{\n  x", "r.json", diag) is None
    assert problems(diag.errors) == [("r.json", 2, "", "not JSON: Expecting property name enclosed in double quotes")]


def test_running_not_an_object():
    diag = Diagnostics()
    assert _running("[]", "r.json", diag) == {"zones": [], "vnets": [], "subnets": []}
    assert diag.errors == []


def test_running_whole_result():
    doc = {
        "zones": {"ids": [1]},
        "vnets": {"ids": {
            "v1": {"type": "vnet", "zone": "z", "tag": 5, "x": {"a": 1}, "l": [1]},
            "bad": 3,
            "v2": {"zone": "z"},
        }},
        "subnets": {"ids": {"s1": {"type": "subnet", "vnet": "v1"}, "s2": {"vnet": "v2"}}},
    }
    diag = Diagnostics()
    out = _running(json.dumps(doc), "r.json", diag)
    assert out == {
        "vnets": [Section("vnet", "v1", "r.json", None, {"zone": ("z", None), "tag": ("5", None)}),
                  Section("vnet", "v2", "r.json", None, {"zone": ("z", None)})],
        "subnets": [Section("subnet", "s1", "r.json", None, {"vnet": ("v1", None)}),
                    Section("subnet", "s2", "r.json", None, {"vnet": ("v2", None)})],
    }
    assert problems(diag.errors) == [
        ("r.json", None, "zones.ids", "must be an object"),
        ("r.json", None, "vnets.ids.bad", "must be an object"),
    ]


def test_running_zone_without_type():
    out = _running(json.dumps({"zones": {"ids": {"z": {"bridge": "b"}}}}), "r.json", Diagnostics())
    assert out["zones"] == [Section("subnet", "z", "r.json", None, {"bridge": ("b", None)})]


# -- _build, through read_sdn --pending --------------------------------------------

ZONES = (
    "vlan: zv\n"  # 1
    "\tbridge vmbr0\n"  # 2
    "\tnodes pve1, ,pve2\n"  # 3
    "\n"  # 4
    "qinq: zq\n"  # 5
    "\n"  # 6
    "vxlan: zx\n"  # 7
    "\tpeers 10.0.0.1\n"  # 8
    "\n"  # 9
    "evpn: ze\n"  # 10
    "\n"  # 11
    "simple: zs\n"  # 12
    "\n"  # 13
    "faucet: zf\n"  # 14
    "\n"  # 15
    "weird: zw\n"  # 16
    "\tbridge vmbr9\n"  # 17
    "\n"  # 18
    "vlan: zn\n"  # 19
)
VNETS = (
    "vnet: v1\n"  # 1
    "\tzone zv\n"  # 2
    "\ttag 10\n"  # 3
    "\talias Office net\n"  # 4
    "\tvlanaware 1\n"  # 5
    "\n"  # 6
    "vnet: v2\n"  # 7
    "\tzone zv\n"  # 8
    "\ttag 4095\n"  # 9
    "\n"  # 10
    "vnet: v3\n"  # 11
    "\tzone zq\n"  # 12
    "\ttag x1\n"  # 13
    "\n"  # 14
    "vnet: v4\n"  # 15
    "\tzone zx\n"  # 16
    "\ttag 16777216\n"  # 17
    "\n"  # 18
    "vnet: v5\n"  # 19
    "\tzone zx\n"  # 20
    "\ttag 1\n"  # 21
    "\tisolate-ports 1\n"  # 22
    "\n"  # 23
    "vnet: vlongnam9\n"  # 24
    "\tzone zs\n"  # 25
    "\tvlanaware yes\n"  # 26
    "\tisolate-ports 0\n"  # 27
    "\n"  # 28
    "subnet: s0\n"  # 29
    "\n"  # 30
    "vnet: v7\n"  # 31
    "\ttag 5\n"  # 32
    "\n"  # 33
    "vnet: v8\n"  # 34
    "\tzone nozone\n"  # 35
    "\n"  # 36
    "vnet: v9\n"  # 37
    "\tzone zv\n"  # 38
    "\tisolate-ports 1\n"  # 39
    "\n"  # 40
    "vnet: va\n"  # 41
    "\tzone zv\n"  # 42
    "\ttag 20\n"  # 43
    "\tisolate-ports 1\n"  # 44
    "\n"  # 45
    "vnet: vb\n"  # 46
    "\tzone zx\n"  # 47
    "\ttag\n"  # 48
    "\n"  # 49
    "vnet: 1c\n"  # 50
    "\tzone zs\n"  # 51
    "\n"  # 52
    "vnet: abcdefgh\n"  # 53
    "\tzone zs\n"  # 54
    "\ttag 16777215\n"  # 55
    "\n"  # 56
    "vnet: vc\n"  # 57
    "\tzone zq\n"  # 58
    "\ttag 30\n"  # 59
    "\n"  # 60
    "vnet: vd\n"  # 61
    "\tzone zq\n"  # 62
    "\ttag\n"  # 63
)
SUBNETS = (
    "subnet: z-10.0.0.0-24\n"  # 1
    "\tvnet v1\n"  # 2
    "\n"  # 3
    "subnet: s2\n"  # 4
    "\tgateway 10.0.0.1\n"  # 5
    "\n"  # 6
    "subnet: s3\n"  # 7
    "\tvnet v2\n"  # 8
    "\n"  # 9
    "subnet: s4\n"  # 10
    "\tvnet nope\n"  # 11
)
ZF, VF, SF = "<memory>/etc/pve/sdn/zones.cfg", "<memory>/etc/pve/sdn/vnets.cfg", "<memory>/etc/pve/sdn/subnets.cfg"
NOT_MODELLED = "zone {} ({}) is not modelled; NICs on its vnets are left out"
VNET_ID_RULE = "a vnet id is 2 to 8 letters and digits, starting with a letter"
VXLAN_RULE = "is not a VXLAN id (1 to 16777215)"
ISOLATION = "port isolation is not modelled: NICs on this vnet are modelled as reaching each other"


def snapshot(**files):
    return MemorySource({f"etc/pve/sdn/{name}": text for name, text in files.items()})


def test_build_whole_result():
    diag = Diagnostics()
    sdn = read_sdn(snapshot(**{"zones.cfg": ZONES, "vnets.cfg": VNETS, "subnets.cfg": SUBNETS}), True, diag)
    assert sdn == Sdn(
        zones={
            "zv": Zone("zv", "vlan", "vmbr0", frozenset({"pve1", "pve2"}), ZF, 1),
            "zq": Zone("zq", "qinq", None, None, ZF, 5),
            "zx": Zone("zx", "vxlan", None, None, ZF, 7),
            "ze": Zone("ze", "evpn", None, None, ZF, 10),
            "zs": Zone("zs", "simple", None, None, ZF, 12),
            "zf": Zone("zf", "faucet", None, None, ZF, 14),
            "zw": Zone("zw", "weird", "vmbr9", None, ZF, 16),
            "zn": Zone("zn", "vlan", None, None, ZF, 19),
        },
        vnets={
            "v1": Vnet("v1", "zv", 10, "Office net", True, False, VF, 1),
            "v5": Vnet("v5", "zx", None, None, False, True, VF, 19),
            "vlongnam9": Vnet("vlongnam9", "zs", None, None, False, False, VF, 24),
            "va": Vnet("va", "zv", 20, None, False, True, VF, 41),
            "1c": Vnet("1c", "zs", None, None, False, False, VF, 50),
            "abcdefgh": Vnet("abcdefgh", "zs", None, None, False, False, VF, 53),
            "vc": Vnet("vc", "zq", 30, None, False, False, VF, 57),
        },
    )
    assert problems(diag.errors) == [
        (ZF, 5, "zq", "a qinq zone needs a bridge"),
        (ZF, 19, "zn", "a vlan zone needs a bridge"),
        (VF, 9, "v2.tag", "tag 4095 is not from 1 to 4094"),
        (VF, 13, "v3.tag", "tag 'x1' is not a VLAN id"),
        (VF, 17, "v4.tag", f"tag '16777216' {VXLAN_RULE}"),
        (VF, 24, "vlongnam9", VNET_ID_RULE),
        (VF, 26, "vlongnam9.vlanaware", "'yes' is not 0 or 1"),
        (VF, 29, "s0", "'subnet' is not a vnet section"),
        (VF, 31, "v7", "a vnet needs a zone"),
        (VF, 35, "v8.zone", "zone 'nozone' is not defined"),
        (VF, 37, "v9", "vnet v9 is in VLAN zone zv and needs a tag"),
        (VF, 48, "vb.tag", f"tag '' {VXLAN_RULE}"),
        (VF, 50, "1c", VNET_ID_RULE),
        (VF, 63, "vd.tag", "tag '' is not a VLAN id"),
        (SF, 4, "s2", "a subnet needs a vnet"),
        (SF, 11, "s4.vnet", "vnet 'nope' is not defined"),
    ]
    assert problems(diag.warnings) == [
        (ZF, 5, "zq", NOT_MODELLED.format("zq", "QinQ: a service VLAN around the vnet tags")),
        (ZF, 7, "zx", NOT_MODELLED.format("zx", "VXLAN tunnels between the nodes")),
        (ZF, 10, "ze", NOT_MODELLED.format("ze", "EVPN: VXLAN with BGP routing")),
        (ZF, 12, "zs", NOT_MODELLED.format("zs", "simple: routed, local to each node")),
        (ZF, 14, "zf", NOT_MODELLED.format("zf", "Faucet")),
        (ZF, 16, "zw", "zone type 'weird' is not known; its vnets are left out"),
        (VF, 44, "va.isolate-ports", ISOLATION),
    ]


def test_build_eight_character_vnet_id_and_flags_set_to_zero():
    diag = Diagnostics()
    vnets = "vnet: abcdefgh\n\tzone z\n\ttag 7\n\tvlanaware 0\n\tisolate-ports 0\n"
    sdn = read_sdn(snapshot(**{"zones.cfg": "vlan: z\n\tbridge vmbr0\n", "vnets.cfg": vnets}), True, diag)
    assert sdn.vnets == {"abcdefgh": Vnet("abcdefgh", "z", 7, None, False, False, VF, 1)}
    assert diag.errors == diag.warnings == []


# -- read_sdn: the running configuration against the edited one -----------------------

RUN_FILE = "<memory>/etc/pve/sdn/.running-config"
NOT_APPLIED = ("<memory>/etc/pve/sdn", None, "",
               "the SDN configuration has changes that were not applied; they are left out (import with --pending to use them)")
EDITED_ZONES = "vlan: z\n\tbridge vmbr0\n\tnodes pve1\n"
EDITED_VNETS = "vnet: vn\n\tzone z\n\ttag 10\n\tvlanaware 1\n\talias A\n"
RUN_ZONE = {"type": "vlan", "bridge": "vmbr0", "nodes": "pve1"}
RUN_VNET = {"type": "vnet", "zone": "z", "tag": "10", "vlanaware": "1", "alias": "A"}


def running(zone=None, vnet=None, **extra):
    doc = {"zones": {"ids": {"z": {**RUN_ZONE, **(zone or {})}}}, "vnets": {"ids": {"vn": {**RUN_VNET, **(vnet or {})}}}, **extra}
    return json.dumps(doc)


@pytest.mark.parametrize(("zone", "vnet", "warned"), [
    ({}, {}, False),
    ({}, {"alias": "B"}, False),
    ({"bridge": "vmbr1"}, {}, True),
    ({"nodes": "pve2"}, {}, True),
    ({}, {"zone": "y"}, True),
    ({}, {"tag": "11"}, True),
    ({}, {"vlanaware": "0"}, True),
])
def test_read_sdn_warns_of_changes_not_applied(zone, vnet, warned):
    files = {"zones.cfg": EDITED_ZONES, "vnets.cfg": EDITED_VNETS, ".running-config": running(zone, vnet)}
    diag = Diagnostics()
    sdn = read_sdn(snapshot(**files), False, diag)
    assert problems(diag.warnings) == ([NOT_APPLIED] if warned else [])
    assert sdn.zones["z"] == Zone("z", "vlan", zone.get("bridge", "vmbr0"), frozenset({zone.get("nodes", "pve1")}), RUN_FILE, None)


def test_read_sdn_running_zones_only_against_edited_zones_only():
    # a .running-config whose vnets are not an object, edited files without vnets.cfg
    files = {"zones.cfg": EDITED_ZONES, ".running-config": json.dumps({"zones": {"ids": {"z": RUN_ZONE}}, "vnets": {"ids": 5}})}
    diag = Diagnostics()
    sdn = read_sdn(snapshot(**files), False, diag)
    assert problems(diag.errors) == [(RUN_FILE, None, "vnets.ids", "must be an object")]
    assert diag.warnings == []
    assert sdn == Sdn(zones={"z": Zone("z", "vlan", "vmbr0", frozenset({"pve1"}), RUN_FILE, None)})


def test_read_sdn_edited_vnets_only_against_running():
    files = {"vnets.cfg": EDITED_VNETS, ".running-config": running()}
    diag = Diagnostics()
    read_sdn(snapshot(**files), False, diag)
    assert problems(diag.warnings) == [NOT_APPLIED]


def test_read_sdn_nothing_edited_uses_running_without_warning():
    diag = Diagnostics()
    sdn = read_sdn(snapshot(**{".running-config": running()}), False, diag)
    assert diag.warnings == diag.errors == []
    assert sdn.vnets == {"vn": Vnet("vn", "z", 10, "A", True, False, RUN_FILE, None)}


def test_read_sdn_pending_ignores_running():
    files = {"zones.cfg": EDITED_ZONES, "vnets.cfg": EDITED_VNETS, ".running-config": "{"}
    diag = Diagnostics()
    sdn = read_sdn(snapshot(**files), True, diag)
    assert diag.warnings == diag.errors == []
    assert sdn.vnets == {"vn": Vnet("vn", "z", 10, "A", True, False, VF, 1)}


def test_read_sdn_running_not_json():
    diag = Diagnostics()
    sdn = read_sdn(snapshot(**{"zones.cfg": EDITED_ZONES, ".running-config": "{"}), False, diag)
    assert problems(diag.errors) == [(RUN_FILE, 1, "", "not JSON: Expecting property name enclosed in double quotes")]
    assert problems(diag.warnings) == [NOT_APPLIED]
    assert sdn == Sdn()


@pytest.mark.parametrize("name", ["zones.cfg", ".running-config"])
def test_read_sdn_unreadable_files_are_errors(tmp_path, name):
    (tmp_path / "etc/pve/sdn" / name).mkdir(parents=True)
    diag = Diagnostics()
    assert read_sdn(DirSource(tmp_path, live=False), False, diag) == Sdn()
    assert problems(diag.errors) == [(f"{tmp_path}/etc/pve/sdn/{name}", None, "", "is a directory, not a file")]


def test_read_sdn_reads_subnets_when_pending():
    diag = Diagnostics()
    read_sdn(snapshot(**{"subnets.cfg": "subnet: s\n\tvnet nope\n"}), True, diag)
    assert problems(diag.errors) == [(SF, 2, "s.vnet", "vnet 'nope' is not defined")]
