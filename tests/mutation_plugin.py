"""A pytest plugin for mutation testing (`make mutation`; setup.cfg [mutmut] loads it).

The first test that fails while a mutant is active (mutmut runs a mutant's
tests fastest first and stops at the first failure) is recorded in
mutmut-killers.jsonl beside the mutated sources, for the report.

(Running tests/unit/test_mut_*.py after the others instead, to tell which
mutants only they kill, made the run several times slower: every mutant they
kill then waits for the whole rest of the suite.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

KILLERS = Path(__file__).resolve().parents[1] / "mutmut-killers.jsonl"
NOT_MUTANTS = {"", "stats", "fail", "list_all_tests", "mutant_generation"}  # mutmut's own phases


def pytest_runtest_logreport(report) -> None:
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if report.failed and mutant not in NOT_MUTANTS:
        with KILLERS.open("a") as out:
            out.write(json.dumps({"mutant": mutant, "test": report.nodeid}) + "\n")
