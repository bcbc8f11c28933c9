"""`sdnlab diff A B` and `sdnlab check FILE --fail PART`, through the CLI's entry point.

Expected answers, by hand:
- two-nodes.yaml: web1-web2 reach each other in VLAN 10 over link0; nothing else.
  Moving web2 to VLAN 20 loses web1-web2 (10) and gains db1-web2 (20).
- triangle.yaml: h1 h2 h3 in VLAN 10, x1 x3 in VLAN 20, three links in a ring.
  One link failed loses nothing; l12 and l31 cut br1 off.
"""

from __future__ import annotations

import json

import pytest

from sdnlab import cli, load
from sdnlab.failures import Part, parse_part
from tests.conftest import REPO, TOPOLOGIES
from tests.unit.test_golden import GOLDEN

TWO = "topologies/two-nodes.yaml"
TRI = "topologies/triangle.yaml"


def run(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(REPO)
    capsys.readouterr()
    status = cli.main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture
def moved(tmp_path):
    """two-nodes.yaml with web2 moved from VLAN 10 to VLAN 20."""
    path = tmp_path / "moved.yaml"
    text = (TOPOLOGIES / "two-nodes.yaml").read_text()
    path.write_text(text.replace("{bridge: vmbr1, tag: 10, ip: 10.0.10.12/24}", "{bridge: vmbr1, tag: 20, ip: 10.0.10.12/24}"))
    return path


def test_diff_lists_pairs_gained_and_lost_per_segment_and_exits_1(capsys, monkeypatch, moved):
    status, out, err = run(capsys, monkeypatch, "diff", TWO, str(moved))
    assert (status, err) == (1, "")
    assert out == (
        f"{TWO} -> {moved}: reachability differs: 1 pair gained, 1 pair lost\n"
        f"Gained (reachable in {moved}, not in {TWO})\n"
        "  20 (db)  db1-web2\n"
        f"Lost (reachable in {TWO}, not in {moved})\n"
        "  10 (web)  web1-web2\n"
    )
    status, out, _ = run(capsys, monkeypatch, "diff", TWO, str(moved), "--json")
    assert status == 1 and json.loads(out) == {"gained": [["db1", "web2"]], "lost": [["web1", "web2"]]}
    status, out, _ = run(capsys, monkeypatch, "diff", str(moved), TWO, "--json")  # the other way round
    assert status == 1 and json.loads(out) == {"gained": [["web1", "web2"]], "lost": [["db1", "web2"]]}


def test_diff_of_the_same_reachability_exits_0(capsys, monkeypatch, tmp_path):
    copy = tmp_path / "copy.yaml"
    # Another file, other names for the link and a new isolated endpoint: the same reachable pairs.
    copy.write_text((TOPOLOGIES / "two-nodes.yaml").read_text().replace("trunks: [10, 20]}", "trunks: [10, 20], name: up}").replace(
        "links:", "  lone: {type: host, node: pve1, nics: [{bridge: vmbr0}]}\n\nlinks:"))
    assert len(load(copy).endpoints) == 5 and load(copy).links[0].name == "up"
    status, out, err = run(capsys, monkeypatch, "diff", TWO, str(copy))
    assert (status, out, err) == (0, f"{TWO} -> {copy}: same reachability (1 reachable pair)\n", "")
    status, out, _ = run(capsys, monkeypatch, "diff", TWO, str(copy), "--json")
    assert status == 0 and json.loads(out) == {"gained": [], "lost": []}


def test_diff_counts_pairs_with_an_endpoint_only_in_one_file(capsys, monkeypatch, tmp_path):
    more = tmp_path / "more.yaml"
    more.write_text((TOPOLOGIES / "two-nodes.yaml").read_text().replace(
        "links:", "  web3: {type: lxc, node: pve2, nics: [{bridge: vmbr1, tag: 10}]}\n\nlinks:"))
    status, out, _ = run(capsys, monkeypatch, "diff", TWO, str(more), "--json")
    assert status == 1 and json.loads(out) == {"gained": [["web1", "web3"], ["web2", "web3"]], "lost": []}
    status, out, _ = run(capsys, monkeypatch, "diff", TWO, str(more))
    assert out.splitlines()[1:] == [f"Gained (reachable in {more}, not in {TWO})", "  10 (web)  web1-web3 web2-web3", "Lost: none"]


def test_diff_of_an_invalid_file_exits_2_with_every_problem_of_both(capsys, monkeypatch, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbridges: {br: {type: ovs}}\nendpoints:\n  h: {type: host, nics: [{bridge: br, tag: 9}]}\n")
    worse = tmp_path / "worse.yaml"
    worse.write_text("name: x\nbridges: {br: {type: vm}}\n")
    status, out, err = run(capsys, monkeypatch, "diff", str(bad), str(worse))
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        f"{bad}:4:44: endpoints.h.nics[0].tag: VLAN 9 is not declared under 'vlans' (declared: none)",
        f"{worse}:2:22: bridges.br.type: type must be 'ovs' or 'linux', not 'vm'",
        "2 problems found; nothing was changed.",
    ]
    status, out, _ = run(capsys, monkeypatch, "diff", TWO, str(bad), "--json")
    doc = json.loads(out)
    assert status == 2 and doc["valid"] is False and [(e["path"], e["line"], e["column"]) for e in doc["errors"]] == [("endpoints.h.nics[0].tag", 4, 44)]


def test_check_fail_json_adds_the_documented_failed_key_and_nothing_else(capsys, monkeypatch):
    _, plain, _ = run(capsys, monkeypatch, "check", TWO, "--json")
    status, out, err = run(capsys, monkeypatch, "check", TWO, "--json", "--fail", "link:link0")
    assert (status, err) == (0, "")
    doc = json.loads(out)
    # The example of docs/topology-format.md, JSON output.
    assert doc.pop("failed") == {"parts": ["link:link0"], "reachable": [], "lost": [["web1", "web2"]]}
    assert doc == json.loads(plain)
    assert out == json.dumps({**json.loads(plain), "failed": {"parts": ["link:link0"], "reachable": [], "lost": [["web1", "web2"]]}}, indent=2) + "\n"


@pytest.mark.parametrize(("parts", "reachable", "lost"), [
    (["link:l12"], [["h1", "h2"], ["h1", "h3"], ["h2", "h3"], ["x1", "x3"]], []),  # a ring survives one cut
    (["link:[br3, br1]"], [["h1", "h2"], ["h1", "h3"], ["h2", "h3"], ["x1", "x3"]], []),
    (["link:l12", "link:l31"], [["h2", "h3"]], [["h1", "h2"], ["h1", "h3"], ["x1", "x3"]]),
    (["bridge:br2"], [["h1", "h3"], ["x1", "x3"]], [["h1", "h2"], ["h2", "h3"]]),
    (["node:pve3"], [["h1", "h2"]], [["h1", "h3"], ["h2", "h3"], ["x1", "x3"]]),
    (["node:pve1", "bridge:br1"], [["h2", "h3"]], [["h1", "h2"], ["h1", "h3"], ["x1", "x3"]]),
])
def test_check_fail_parts(capsys, monkeypatch, parts, reachable, lost):
    args = [a for part in parts for a in ("--fail", part)]
    status, out, _ = run(capsys, monkeypatch, "check", TRI, "--json", *args)
    failed = json.loads(out)["failed"]
    assert status == 0
    assert failed == {"parts": [p.replace(" ", "") for p in parts], "reachable": reachable, "lost": lost}


def test_check_fail_text_follows_the_intact_result(capsys, monkeypatch):
    status, out, _ = run(capsys, monkeypatch, "check", TRI, "--fail", "link:l12", "--fail", "link:l31")
    assert status == 0
    assert out == (GOLDEN / "triangle.check.txt").read_text() + (
        "\n"
        "With link:l12, link:l31 failed\n"
        "  1 reachable pair, 9 isolated; 3 pairs lost:\n"
        "    10 (app)   h1-h2 h1-h3\n"
        "    20 (mgmt)  x1-x3\n"
    )
    _, out, _ = run(capsys, monkeypatch, "check", TRI, "--fail", "link:l23")
    assert out.endswith("\nWith link:l23 failed\n  4 reachable pairs, 6 isolated; 0 pairs lost\n")


@pytest.mark.parametrize(("part", "message"), [
    ("link:l99", f"no link 'l99' in {TRI} (links: l12, l23, l31)"),
    ("link:[br1,br9]", f"no bridge 'br9' in {TRI}"),
    ("link:[br1,br1]", "no link joins br1 and br1"),
    ("bridge:zz", f"no bridge 'zz' in {TRI} (bridges: br1, br2, br3)"),
    ("node:pve9", f"no node 'pve9' in {TRI} (nodes: pve1, pve2, pve3)"),
])
def test_a_failed_part_that_names_nothing_exits_2_naming_it(capsys, monkeypatch, part, message):
    status, out, err = run(capsys, monkeypatch, "check", TRI, "--fail", "link:l12", "--fail", part)
    assert (status, out) == (2, "")
    assert err == f"sdnlab check: --fail {parse_part(part)}: {message}\n"


@pytest.mark.parametrize("text", ["switch:br1", "link", "link:", "bridge:[br1,br2]", "link:[br1]", "link:[a,b,c]"])
def test_a_malformed_part_is_a_usage_error(capsys, monkeypatch, text):
    with pytest.raises(SystemExit) as info:
        run(capsys, monkeypatch, "check", TRI, "--fail", text)
    assert info.value.code == 2
    assert "argument --fail" in capsys.readouterr().err


def test_parts_parse_and_print_canonically():
    assert parse_part("link:uplink") == Part("link", "uplink")
    assert parse_part("link:[ vmbr0 , vmbr1 ]") == Part("link", between=("vmbr0", "vmbr1"))
    assert str(parse_part("link:[ vmbr0 , vmbr1 ]")) == "link:[vmbr0,vmbr1]"
    assert str(parse_part("node:pve2")) == "node:pve2" and str(parse_part("bridge:b")) == "bridge:b"


def test_fail_needs_a_topology_not_a_scenario(capsys, monkeypatch):
    status, out, err = run(capsys, monkeypatch, "check", "topologies/scenarios/retag.yaml", "--fail", "link:link0")
    assert (status, out) == (2, "")
    assert err == "sdnlab check: --fail needs a topology file; topologies/scenarios/retag.yaml is a scenario\n"
