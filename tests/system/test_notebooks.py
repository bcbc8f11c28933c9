"""Every notebook runs top to bottom, headless, without an error, checks the
results it shows (a cell that shows a wrong answer fails), and is committed
without outputs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import REPO, unavailable

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_is_a_course():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs_and_with_goals_and_exercises(path: Path):
    import nbformat

    book = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in book.cells if c.cell_type == "code")
    assert "What you will learn" in book.cells[0].source
    assert "Exercises" in book.cells[-1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_result_shown_is_checked(path: Path):
    """Each code cell that computes a result someone reads asserts it, so a notebook that runs but shows a wrong answer fails."""
    import nbformat

    book = nbformat.read(path, as_version=4)
    code = [c.source for c in book.cells if c.cell_type == "code"]
    unchecked = [src.splitlines()[0] for src in code if "assert" not in src and not _only_teardown_or_picture(src)]
    assert not unchecked, f"cells that show a result without checking it: {unchecked}"


@pytest.mark.usefixtures("real_ovs")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, capsys):
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError:
        unavailable("nbclient is not installed (make setup installs it)")
    book = nbformat.read(path, as_version=4)
    started = time.monotonic()
    NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    with capsys.disabled():
        print(f"\n  {path.name} ran in {time.monotonic() - started:.0f} s")
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "".join(o.get("text", "") for o in outputs)
    assert EXPECTED[path.stem] in shown, f"{path.stem} did not show {EXPECTED[path.stem]!r}"


def test_a_notebook_that_shows_a_wrong_answer_fails(tmp_path: Path):
    """The checks in the cells are what catches a wrong answer: run a copy of notebook 01 on a file where db1 joins VLAN 10."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    wrong = tmp_path / "two-nodes.yaml"
    wrong.write_text((REPO / "topologies" / "two-nodes.yaml").read_text().replace("tag: 20", "tag: 10"))
    book = nbformat.read(NOTEBOOKS[0], as_version=4)
    book.cells[1].source = book.cells[1].source.replace('"../topologies/two-nodes.yaml"', repr(str(wrong)))
    with pytest.raises(CellExecutionError, match="AssertionError"):
        NotebookClient(book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS[0].parent)}}).execute()


# A line each notebook prints when it works (its cells' assertions check the rest).
EXPECTED = {
    "01-topologies-and-vlans": "reachable pairs: [('web1', 'web2')]",
    "02-the-openflow-pipeline": "up; web1 -> web2: True",
    "03-learning-and-flooding-on-loops": "after cutting l12, VLAN 10 floods on: ['l23', 'l31']",
    "04-real-endpoints": "ct1 -> 10.7.0.4: answers",
    "05-how-fast-is-it": "",
    "06-before-you-press-apply": "the pending change cuts: [('alpha', 'beta'), ('beta', 'delta')]",
    "07-a-controller-cluster": "after cutting l12, h1 -> h2: answers",
}


def _only_teardown_or_picture(source: str) -> bool:
    """Cells that only tear a lab down or only draw (what they draw is checked in the cell that computed it)."""
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return all(line.startswith(("lab.stop()", "deploy.down(", "figure(", "matrix(", "%matplotlib")) for line in lines)
