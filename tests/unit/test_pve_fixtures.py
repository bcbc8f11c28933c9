"""`sdnlab import pve` on the snapshots in tests/fixtures/pve/, each next to its hand-computed
reachability (expected.yaml: the reachable pairs; every other pair is isolated) and the
warnings it must give; the malformed ones next to every error they must give, and no other."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from sdnlab.check import analyse
from sdnlab.loader import loads
from sdnlab.problems import TopologyError
from sdnlab.pve import DirSource, import_snapshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pve"
GOOD = [("vlan-aware", False), ("ovs-bonds", False), ("trunks", False), ("pending", False), ("pending", True),
        ("snapshots", False), ("sdn", False), ("live", False)]
BAD = ["bad-guests", "bad-network", "bad-empty"]


def source(name: str) -> DirSource:
    return DirSource(FIXTURES / name, live=name == "live")


def expected(name: str, pending: bool) -> dict:
    return yaml.safe_load((FIXTURES / name / ("expected-pending.yaml" if pending else "expected.yaml")).read_text())


@pytest.mark.parametrize(("name", "pending"), GOOD, ids=[f"{n}{'-pending' if p else ''}" for n, p in GOOD])
def test_snapshot_imports_with_the_hand_computed_reachability(name, pending):
    want = expected(name, pending)
    result = import_snapshot(source(name), pending=pending, name=name)
    topology = loads(result.text, f"{name}.yaml")  # the written text passes the real loader
    analysis = analyse(topology)
    reachable = [list(p) for p in analysis.reachable()]
    assert reachable == sorted(sorted(p) for p in want["reachable"])
    names = sorted(topology.endpoints)
    everyone = {tuple(p) for p in itertools.combinations(names, 2)}
    assert {tuple(p) for p in analysis.isolated()} == everyone - {tuple(p) for p in reachable}
    if "vlans" in want:
        assert sorted(topology.vlans) == want["vlans"]
    if "endpoints" in want:
        assert names == want["endpoints"]
    messages = [str(w) for w in result.warnings]  # file:line: key: message
    for text in want.get("warnings") or []:
        assert any(text in m for m in messages), f"no warning contains {text!r}:\n" + "\n".join(messages)
    if want.get("warnings") == []:
        assert messages == []


@pytest.mark.parametrize(("name", "pending"), GOOD, ids=[f"{n}{'-pending' if p else ''}" for n, p in GOOD])
def test_every_endpoint_keeps_its_vmid_and_node(name, pending):
    result = import_snapshot(source(name), pending=pending, name=name)
    topology = loads(result.text)
    for endpoint in topology.endpoints.values():
        kind = "qemu-server" if endpoint.type == "kvm" else "lxc"
        assert (FIXTURES / name / "etc/pve/nodes" / endpoint.node / kind / f"{endpoint.vmid}.conf").is_file()


@pytest.mark.parametrize("name", BAD)
def test_malformed_snapshot_gives_every_error_and_writes_nothing(name):
    want = expected(name, False)["errors"]
    with pytest.raises(TopologyError) as caught:
        import_snapshot(source(name), name=name)
    got = caught.value.problems
    root = str(FIXTURES / name) + "/"
    assert len(got) == len(want), "\n".join(str(p) for p in got)
    for problem, (file, line, key, text) in zip(got, sorted(want, key=lambda e: (root + e[0], e[1] or 0, e[2])), strict=True):
        assert problem.file == root + file
        assert (problem.line, problem.path) == (line, key)
        assert text in problem.message, str(problem)


def test_errors_are_printed_like_the_loaders(capsys, tmp_path):
    from sdnlab.cli import main

    out = tmp_path / "lab.yaml"
    assert main(["import", "pve", str(FIXTURES / "bad-guests"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "12 problems found; nothing was changed."
    assert err[0].endswith("etc/pve/nodes/pve1/lxc/801.conf:2: net0: trunks: '20-30' is not a VLAN id (no ranges here)")
    assert not out.exists()
