"""Every notebook runs top to bottom, headless, without an error, and is committed without outputs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import REPO, unavailable

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_is_a_course():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs_and_with_goals_and_exercises(path: Path):
    import nbformat

    book = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in book.cells if c.cell_type == "code")
    assert "What you will learn" in book.cells[0].source
    assert "Exercises" in book.cells[-1].source


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
