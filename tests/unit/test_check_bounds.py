"""Resource bounds of `sdnlab check` (issue 12, item 7): hostile or huge files
get a reported problem with file, line and column, never a traceback, a flood
of text or time and memory out of proportion with the answer."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from sdnlab import TopologyError, analyse, cli, load, loader, loads, report, yamlsrc
from sdnlab.check import _can_ping
from sdnlab.loader import parse_tree
from sdnlab.scenario import load_any
from tests.conftest import TOPOLOGIES

LAB = "name: lab\nvlans: {10: {}}\nbridges: {br: {type: ovs}}\nendpoints:\n  a: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.1/24}]}\n  b: {type: host, nics: [{bridge: br, tag: 10, ip: 10.0.0.2/24}]}\n"


def problems_of(text: str, file: str = "lab.yaml") -> list:
    with pytest.raises(TopologyError) as info:
        loads(text, file)
    return info.value.problems


def run_check(path: Path, capsys, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = cli.main(["check", str(path), *extra])
    out = capsys.readouterr()
    return status, out.out, out.err


def one_vlan(n: int, ip: bool = False) -> str:
    """The tester's file: n endpoints on one bridge, all in VLAN 10, with or without addresses."""
    lines = ["name: big", "vlans: {10: {}}", "bridges: {br: {type: ovs}}", "endpoints:"]
    for i in range(n):
        addr = f", ip: 10.0.{i // 250}.{i % 250 + 1}/16" if ip else ""
        lines.append(f"  e{i}: {{type: host, nics: [{{bridge: br, tag: 10{addr}}}]}}")
    return "\n".join(lines) + "\n"


# -- aliases ---------------------------------------------------------------

def laughs(levels: int) -> str:
    lines = ["name: lab", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    lines.append(f"bridges: {{br: {{type: *a{levels}}}}}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_the_alias_that_passes_the_bound():
    # 312 bytes printed 523 KB before; two more levels would print gigabytes.
    found = problems_of(laughs(6))
    assert len(found) == 1, found
    p = found[0]
    assert (p.file, p.line) == ("lab.yaml", 7) and p.column is not None
    assert "aliases repeat more than" in p.message
    assert len(str(found[0])) < 300


def test_an_alias_quoted_in_an_error_is_never_expanded():
    found = problems_of(laughs(3))  # within the bound: loaded, then rejected for the type
    text = "\n".join(map(str, found))
    assert "type must be 'ovs' or 'linux', not a list" in text
    assert len(text) < 1000


def test_small_aliases_and_merge_keys_still_work():
    text = LAB.replace("[{bridge: br, tag: 10, ip: 10.0.0.1/24}]", "[&n {bridge: br, tag: 10, ip: 10.0.0.1/24}]")
    text = text.replace("[{bridge: br, tag: 10, ip: 10.0.0.2/24}]", "[{<<: *n, ip: 10.0.0.2/24}]")
    assert loads(text).endpoints["b"].nics[0].tag == 10


# -- size and depth ----------------------------------------------------------

def test_a_file_over_the_size_limit_is_a_problem_and_is_not_read_whole(tmp_path, monkeypatch):
    assert loader.MAX_FILE_BYTES == 16 * 2**20
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text(LAB + "#" * 2000 + "\n")
    with pytest.raises(TopologyError) as info:
        load(path)
    (p,) = info.value.problems
    assert p.file == str(path) and "larger than" in p.message and "1000 bytes" in p.message


def test_nesting_deeper_than_the_limit_is_a_problem_at_its_place():
    assert yamlsrc.MAX_DEPTH == 64
    text = "name: lab\nbridges: {br: {type: " + "[" * 100 + "]" * 100 + "}}\n"
    (p,) = problems_of(text)
    # The map at the top, bridges, br and 61 lists make 64; the 62nd list starts at column 22 + 61.
    assert (p.line, p.column) == (2, 22 + 61) and "nested more than 64 levels" in p.message


def test_very_deep_nesting_is_refused_quickly():
    # 100,000 levels ran for minutes (key paths as long as the depth); 3,000 ended in a RecursionError.
    text = "name: " + "[" * 100_000 + "]" * 100_000 + "\n"
    start = time.perf_counter()
    (p,) = problems_of(text)
    assert time.perf_counter() - start < 2
    assert p.line == 1 and "nested more than" in p.message


# -- malformed values ----------------------------------------------------------

@pytest.mark.parametrize("value, words", [
    ("9" * 5000, "more than 4300 digits"),
    ("-" + "9" * 5000, "more than 4300 digits"),
    ("0x" + "f" * 5000, "more than 4300 digits"),
    ("!!int abc", "not a valid !!int"),
    ("!!float abc", "not a valid !!float"),
    ("!!bool maybe", "not a valid !!bool"),
    ("!!timestamp never", "not a valid !!timestamp"),
    ("!!seq x", "cannot be used on a plain value"),
    ("!!map x", "cannot be used on a plain value"),
])
def test_a_malformed_scalar_is_a_problem_at_its_place(value, words):
    text = f"name: lab\nbridges:\n  br: {{type: ovs, dpid: {value}}}\n"
    found = problems_of(text)
    assert len(found) == 1, found
    p = found[0]
    assert (p.file, p.line, p.column) == ("lab.yaml", 3, 25) and words in p.message
    assert len(str(p)) < 300


def test_a_malformed_scalar_as_a_key_is_a_problem_too():
    (p,) = problems_of("name: lab\nbridges: {br: {type: ovs}}\nvlans:\n  ? " + "1" * 5000 + "\n  : {}\n")
    assert (p.line, p.column) == (4, 5) and p.path == "vlans" and "digits" in p.message


@pytest.mark.parametrize("value, words", [
    ("{a: b}", "node must be text, not a map"),
    ("[a, b]", "node must be text, not a list"),
])
def test_a_map_or_list_where_a_name_is_expected_is_named_not_printed(value, words):
    (p,) = problems_of(f"name: lab\nnodes: {{n1: {{}}}}\nbridges: {{br: {{type: ovs, node: {value}}}}}\n")
    assert p.path == "bridges.br.node" and words in p.message


def test_long_values_are_shortened_in_messages():
    (p,) = problems_of("name: lab\nbridges: {br: {type: " + "x" * 100_000 + "}}\n")
    assert "type must be 'ovs' or 'linux'" in p.message and len(p.message) < 200


def scenario_at(tmp_path: Path, steps: str) -> Path:
    (tmp_path / "lab.yaml").write_text(LAB)
    path = tmp_path / "s.yaml"
    path.write_text(f"topology: lab.yaml\nsteps:\n{steps}")
    return path


@pytest.mark.parametrize("step, words", [
    ("  - nic_down: [a]\n", "unknown endpoint"),
    ("  - nic_up: {a: b}\n", "unknown endpoint"),
    ("  - set_tag: {endpoint: [a], tag: 10}\n", "unknown endpoint"),
    ("  - set_tag: {endpoint: a, nic: [0], tag: 10}\n", "has NICs 0 to 0, not a list"),
    ("  - expect: {reachable: [[[a], b]]}\n", "a pair is two different endpoint names"),
    ("  - expect: {reachable: [[{a: 1}, b]]}\n", "a pair is two different endpoint names"),
    ("  - expect: {isolated: [[a, [b]]]}\n", "a pair is two different endpoint names"),
    ("  - expect: {reachable: 5}\n", "reachable must be a list of pairs [[A, B], ...], not '5'"),
    ("  - expect: {isolated: {a: b}}\n", "isolated must be a list of pairs [[A, B], ...], not a map"),
])
def test_unhashable_scenario_values_are_problems(tmp_path, step, words):
    with pytest.raises(TopologyError) as info:
        load_any(scenario_at(tmp_path, step))
    (p,) = info.value.problems
    assert p.line == 3 and words in p.message


# -- control characters ----------------------------------------------------------

def test_control_characters_from_the_file_are_escaped_in_text_output(tmp_path, capsys):
    path = tmp_path / "esc.yaml"
    path.write_text('name: lab\nbridges: {br: {type: "\\e[31mred\\e[0m\\x9b2J\\x7f\\u202e"}}\n', encoding="utf-8")
    status, out, err = run_check(path, capsys)
    assert status == 2
    assert "\x1b" not in err and "\x9b" not in err and "\x7f" not in err and "\u202e" not in err
    assert "\\x1b[31mred\\x1b[0m\\x9b2J\\x7f\\u202e" in err
    status, out, err = run_check(path, capsys, "--json")
    assert status == 2 and "\x1b" not in out and "\x9b" not in out
    assert "\x1b[31mred" in json.loads(out)["errors"][0]["message"]  # JSON escapes, and keeps the value


def test_control_characters_in_a_valid_lab_are_escaped(tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text(LAB.replace("10: {}", '10: {name: "a\\e]0;pwned\\x07\\nb"}'))
    status, out, err = run_check(path, capsys)
    assert status == 0 and "\x1b" not in out and "\x07" not in out
    assert "10 (a\\x1b]0;pwned\\x07\\nb)" in out


# -- large valid labs ----------------------------------------------------------

def test_text_of_one_vlan_with_600_endpoints_is_a_summary(tmp_path, capsys):
    # Printed 16.7 MB (179,700 warnings) in 13 s before.
    path = tmp_path / "big.yaml"
    path.write_text(one_vlan(600))
    start = time.perf_counter()
    status, out, err = run_check(path, capsys)
    assert time.perf_counter() - start < 5
    assert status == 0 and len(out) < 5000, len(out)
    assert "  179700 reachable pairs, 0 isolated" in out
    assert "Warnings (179700; sdnlab check --json lists every one)" in out
    assert "  179700 pairs: an endpoint has no address in the shared segment, e.g." in out
    assert "  10  600 endpoints: e0 e1 e10 e100" in out


def test_json_of_one_vlan_with_600_endpoints_stays_complete(tmp_path, capsys):
    path = tmp_path / "big.yaml"
    path.write_text(one_vlan(600))
    status, out, err = run_check(path, capsys, "--json")
    doc = json.loads(out)
    assert len(doc["reachable"]) == len(doc["warnings"]) == 600 * 599 // 2
    assert doc["reachable"][:2] == [["e0", "e1"], ["e0", "e10"]]
    assert doc["warnings"][0]["pair"] == ["e0", "e1"]


def test_one_vlan_with_3000_endpoints_is_checked_in_seconds():
    # Ran past two minutes before (every warning compared every NIC of the VLAN: cubic).
    analysis = analyse(loads(one_vlan(3000)))
    start = time.perf_counter()
    text = report.valid_text(analysis)
    assert time.perf_counter() - start < 10
    assert "4498500 reachable pairs" in text and "Warnings (4498500;" in text


def test_many_problems_are_listed_up_to_a_limit_in_text(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: lab\nbridges: {br: {type: ovs}}\nlinks: [" + ", ".join(["1"] * 500) + "]\n")
    status, out, err = run_check(path, capsys)
    lines = err.splitlines()
    assert status == 2 and len(lines) == report.PROBLEM_LIMIT + 2
    assert lines[-2] == f"... and {500 - report.PROBLEM_LIMIT} more (sdnlab check --json lists them all)"
    assert lines[-1] == "500 problems found; nothing was changed."
    status, out, err = run_check(path, capsys, "--json")
    assert len(json.loads(out)["errors"]) == 500


@pytest.mark.parametrize("name", sorted(p.stem for p in TOPOLOGIES.glob("*.yaml")))
def test_streamed_json_is_exactly_the_contract_object(name):
    analysis = analyse(load(TOPOLOGIES / f"{name}.yaml"))
    assert report.valid_json(analysis) == json.dumps(analysis.to_json(), indent=2)


# -- warnings: the streamed list and the summary against brute force ----------------

def random_lab(rng: random.Random) -> dict:
    nets = ["10.0.0.{}/24", "10.0.{}.1/16", "10.1.0.{}/24", None]
    bridges = {f"b{i}": {"type": "ovs"} for i in range(rng.randint(1, 4))}
    endpoints = {}
    for e in range(rng.randint(0, 12)):
        nics = []
        for _ in range(rng.randint(1, 3)):
            nic = {"bridge": rng.choice(list(bridges))}
            tag = rng.choice([None, 10, 20])
            if tag:
                nic["tag"] = tag
            if rng.random() < 0.2:  # a trunk NIC (v1.1): its address counts in its own segment only
                nic["trunks"] = [v for v in (10, 20) if v != tag]
            net = rng.choice(nets)
            if net:
                nic["ip"] = net.format(len(endpoints) * 4 + len(nics) + 1)
            nics.append(nic)
        endpoints[f"e{e}"] = {"type": "host", "nics": nics}
    names = list(bridges)
    links = [{"between": rng.sample(names, 2), "trunks": rng.sample([10, 20], rng.randint(0, 2))} for _ in range(rng.randint(0, 3))] if len(names) > 1 else []
    return {"name": "random", "vlans": {10: {}, 20: {}}, "bridges": bridges, "endpoints": endpoints, "links": links}


def brute_force_warnings(analysis) -> dict:
    out = {}
    for a, b in analysis.reachable():
        shared = [c for c in analysis.classes if a in c.endpoints and b in c.endpoints]
        if any(c.pings_everywhere for c in shared):
            continue
        nic_pairs = [(x, y, c.segment) for c in shared for x in c.nics if x.endpoint == a for y in c.nics if y.endpoint == b]
        if not any(_can_ping(x, y, seg) for x, y, seg in nic_pairs):
            x, y, seg = nic_pairs[0]
            out[(a, b)] = "no-address" if own_address(x, seg) is None or own_address(y, seg) is None else "other-subnet"
    return out


def own_address(nic, segment):
    """A NIC's address in a segment, written out: its ip counts in its tag's segment (untagged without one), not in its trunks."""
    return nic.ip if segment == (nic.tag if nic.tag is not None else "untagged") else None


def test_warnings_and_their_summary_agree_with_brute_force():
    rng = random.Random(7)
    for _ in range(300):
        analysis = analyse(parse_tree(random_lab(rng)))
        expected = brute_force_warnings(analysis)
        assert [(w.pair, w.kind) for w in analysis.warnings] == sorted(expected.items())
        summary = analysis.warning_summary()
        assert summary.total == len(expected)
        assert summary.counts == Counter(w.kind for w in analysis.warnings)
        for kind, examples in summary.examples.items():
            assert 0 < len(examples) <= 3 and all(w in analysis.warnings and w.kind == kind for w in examples)
        assert analysis.reachable_count() == len(analysis.reachable())
        assert report.valid_json(analysis) == json.dumps(analysis.to_json(), indent=2)
