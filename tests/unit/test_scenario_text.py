"""A scenario's text stays readable for a big lab: counts and a few pairs per step, every pair in --json."""

from __future__ import annotations

import json

from sdnlab import report
from sdnlab.scenario import load_any


def big_scenario(tmp_path, endpoints: int = 60):
    eps = "".join(f"  e{i}: {{type: host, node: n{i % 2}, nics: [{{bridge: b{i % 2}, tag: 10, ip: 10.0.0.{i + 1}/24}}]}}\n"
                  for i in range(endpoints))
    (tmp_path / "big.yaml").write_text(
        "name: big\nnodes: {n0: {}, n1: {}}\nvlans: {10: {}}\n"
        "bridges: {b0: {type: ovs, node: n0}, b1: {type: ovs, node: n1}}\n"
        f"endpoints:\n{eps}links:\n  - {{between: [b0, b1], trunks: [10]}}\n")
    scenario = tmp_path / "cut.yaml"
    scenario.write_text("topology: big.yaml\nsteps:\n  - expect: intent\n  - link_down: [b0, b1]\n  - expect: intent\n")
    return load_any(scenario)


def test_a_big_labs_steps_say_how_many_pairs_and_show_a_few(tmp_path):
    text = report.scenario_text(big_scenario(tmp_path)).splitlines()
    # 60 endpoints: 1770 pairs, all reachable; after the cut, the 30 on each side (2 x 435) and 900 across isolated.
    assert text[2].startswith("      probes 1770 pairs; reachable: 1770 pairs, e0-e1 e0-e10 ")
    assert text[2].endswith("... (--json lists every pair); isolated: none")
    assert text[5].startswith("      probes 1770 pairs; reachable: 870 pairs, ")
    assert "; isolated: 900 pairs, e0-e1 " in text[5]
    assert len(text[2]) < 300 and len(text[5]) < 600


def test_a_small_labs_steps_list_every_pair(tmp_path):
    text = report.scenario_text(big_scenario(tmp_path, endpoints=4)).splitlines()
    assert text[2] == "      probes 6 pairs; reachable: e0-e1 e0-e2 e0-e3 e1-e2 e1-e3 e2-e3; isolated: none"
    assert text[5] == "      probes 6 pairs; reachable: e0-e2 e1-e3; isolated: e0-e1 e0-e3 e1-e2 e2-e3"


def test_json_still_lists_every_pair(tmp_path):
    steps = json.loads(report.scenario_json(big_scenario(tmp_path)))["steps"]
    assert [(len(st["reachable"]), len(st["isolated"])) for st in steps if "reachable" in st] == [(1770, 0), (870, 900)]
