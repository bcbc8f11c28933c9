"""Golden outputs: for every bundled topology, exactly what `sdnlab check`,
`sdnlab graph --format mermaid` and `sdnlab graph --format dot` print.

The files are in tests/unit/golden/, named <topology>.check.txt, .mermaid and
.dot. The commands run in-process from the repository root with the file given
as `topologies/<name>.yaml`, as the README shows them. After an intended change
to the output, rewrite them and read the diff before committing:

    SDNLAB_UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/unit/test_golden.py -p no:cacheprovider
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sdnlab import cli
from tests.conftest import REPO, TOPOLOGIES

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("SDNLAB_UPDATE_GOLDEN", "") not in ("", "0")
BUNDLED = sorted(p.stem for p in TOPOLOGIES.glob("*.yaml"))
OUTPUTS = {
    "check.txt": ["check"],
    "mermaid": ["graph", "--format", "mermaid"],
    "dot": ["graph", "--format", "dot"],
}


def run_cli(args: list[str], capsys, monkeypatch) -> str:
    monkeypatch.chdir(REPO)
    capsys.readouterr()
    status = cli.main(args)
    out = capsys.readouterr()
    assert status == 0, out.err
    assert out.err == ""
    return out.out


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
@pytest.mark.parametrize("name", BUNDLED)
def test_cli_output_equals_its_golden_file(name, kind, capsys, monkeypatch):
    verb = OUTPUTS[kind]
    got = run_cli([verb[0], f"topologies/{name}.yaml", *verb[1:]], capsys, monkeypatch)
    path = GOLDEN / f"{name}.{kind}"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(got)
    assert path.exists(), f"no golden file {path.relative_to(REPO)}; make it with SDNLAB_UPDATE_GOLDEN=1 (see this module's docstring)"
    assert got == path.read_text(), f"`sdnlab {' '.join(verb)} topologies/{name}.yaml` differs from {path.relative_to(REPO)}"


def test_every_golden_file_belongs_to_a_bundled_topology():
    expected = {f"{name}.{kind}" for name in BUNDLED for kind in OUTPUTS}
    assert {p.name for p in GOLDEN.iterdir()} == expected


def test_readme_shows_the_golden_check_of_two_nodes():
    readme = (REPO / "README.md").read_text()
    golden = (GOLDEN / "two-nodes.check.txt").read_text()
    assert golden.startswith("topologies/two-nodes.yaml: topology 'two-tenants' is valid\n")
    assert "\n" + golden in readme
