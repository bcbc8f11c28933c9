"""The `sdnlab` command as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TOPOLOGIES, unavailable


@pytest.fixture(scope="module")
def sdnlab() -> str:
    script = Path(sys.executable).parent / "sdnlab"
    if not script.exists():
        found = shutil.which("sdnlab")
        if not found:
            unavailable("the sdnlab console script is not installed (run make setup)")
        return found
    return str(script)


def run(sdnlab: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sdnlab, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_check_human(sdnlab):
    out = run(sdnlab, "check", str(TOPOLOGIES / "two-nodes.yaml"))
    assert out.returncode == 0, out.stderr
    assert "topology 'two-tenants' is valid" in out.stdout
    assert "10 (web)  web1 web2" in out.stdout
    assert "1 reachable pair, 5 isolated" in out.stdout


def test_check_json_is_the_documented_object(sdnlab):
    out = run(sdnlab, "check", str(TOPOLOGIES / "two-nodes.yaml"), "--json")
    assert out.returncode == 0
    assert json.loads(out.stdout) == {
        "topology": "two-tenants",
        "valid": True,
        "errors": [],
        "warnings": [],
        "segments": {"10": ["web1", "web2"], "20": ["db1"], "untagged": ["probe"]},
        "reachable": [["web1", "web2"]],
        "isolated": [["db1", "probe"], ["db1", "web1"], ["db1", "web2"], ["probe", "web1"], ["probe", "web2"]],
    }


def test_check_invalid_exits_2_with_every_error(sdnlab, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbridges: {br: {type: ovs}}\nendpoints:\n  h: {type: host, nics: [{bridge: br, tag: 9}]}\n  g: {type: vm, nics: [{bridge: br}]}\n")
    out = run(sdnlab, "check", str(bad), "--json")
    assert out.returncode == 2
    doc = json.loads(out.stdout)
    assert set(doc) == {"valid", "errors"} and doc["valid"] is False
    assert {(e["path"], e["line"], e["column"]) for e in doc["errors"]} == {("endpoints.h.nics[0].tag", 4, 44), ("endpoints.g.type", 5, 13)}
    assert all(e["message"] for e in doc["errors"])
    human = run(sdnlab, "check", str(bad))
    assert human.returncode == 2
    assert f"{bad}:4:44: endpoints.h.nics[0].tag: VLAN 9 is not declared" in human.stderr
    assert "2 problems found; nothing was changed." in human.stderr
    assert "Traceback" not in human.stderr


@pytest.mark.parametrize("content", ["", ": : :\n\t- [", "name: x\nname: y\nbridges: {b: {type: ovs}}\n", "\x00\x01"])
def test_no_traceback_for_any_bad_file(sdnlab, tmp_path, content):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    out = run(sdnlab, "check", str(bad))
    assert out.returncode == 2 and "Traceback" not in out.stderr and str(bad) in out.stderr


def test_missing_file_and_directory(sdnlab, tmp_path):
    for target, words in [(tmp_path / "missing.yaml", "no such file"), (tmp_path, "is a directory")]:
        out = run(sdnlab, "check", str(target))
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr


def test_graph_png_svg_and_text(sdnlab, tmp_path):
    for ext in ("png", "svg"):
        out = run(sdnlab, "graph", str(TOPOLOGIES / "leaf-spine.yaml"), "-o", str(tmp_path / f"g.{ext}"))
        assert out.returncode == 0, out.stderr
        assert (tmp_path / f"g.{ext}").stat().st_size > 10_000
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mermaid = run(sdnlab, "graph", str(TOPOLOGIES / "two-nodes.yaml"), "--format", "mermaid")
    assert mermaid.stdout.startswith("flowchart LR") and "vmbr0 ===|10,20 +U| vmbr1" in mermaid.stdout
    dot = run(sdnlab, "graph", str(TOPOLOGIES / "two-nodes.yaml"), "--format", "dot")
    assert dot.stdout.startswith("graph topology {") and "cluster_pve1" in dot.stdout


def test_graph_needs_a_picture_name(sdnlab, tmp_path):
    out = run(sdnlab, "graph", str(TOPOLOGIES / "two-nodes.yaml"), "-o", str(tmp_path / "g.gif"))
    assert out.returncode == 1 and ".png" in out.stderr


def test_check_needs_no_root_and_writes_nothing(sdnlab, tmp_path):
    copy = tmp_path / "lab.yaml"
    copy.write_text((TOPOLOGIES / "classroom.yaml").read_text())
    out = run(sdnlab, "check", str(copy), cwd=tmp_path)
    assert out.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.yaml"]


def test_a_reader_that_goes_away_ends_the_output_without_a_traceback(tmp_path):
    """`sdnlab check big.yaml | head`: the pipe closes early; before, a BrokenPipeError traceback followed."""
    import subprocess
    import sys

    endpoints = "".join(f"  e{i}: {{type: host, nics: [{{bridge: br, ip: 10.0.{i // 250}.{i % 250 + 1}/16}}]}}\n" for i in range(400))
    big = tmp_path / "big.yaml"
    big.write_text(f"name: big\nbridges: {{br: {{type: ovs}}}}\nendpoints:\n{endpoints}")
    proc = subprocess.Popen([sys.executable, "-m", "sdnlab.cli", "check", "--json", str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"{"
    proc.stdout.close()  # as `head -1` does, with most of the answer still to come
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 1 and err == ""
