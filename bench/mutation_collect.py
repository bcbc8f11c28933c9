"""Save what a mutmut run found, for bench/mutation_report.py.

Run inside the directory mutmut ran in (`make mutation` runs it in a copy of
the tree, build/mutation/), with the venv's Python, which has mutmut:

    cd build/mutation && ../../.venv/bin/python ../../bench/mutation_collect.py OUT.json --seconds N --command "..."

It writes every mutant's status, the first test that failed with it when that
is one of tests/unit/test_mut_*.py (recorded by tests/mutation_plugin.py), and
the diff mutmut shows for each mutant that was not killed, to OUT.json. The report is made from that file
alone, so it can be written again (say, after editing
bench/mutation_equivalent.txt) without running mutmut again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from mutmut.configuration import config
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def killers() -> dict[str, str]:
    """Mutant -> the first test that failed with it (tests/mutation_plugin.py)."""
    found: dict[str, str] = {}
    path = Path("mutants") / "mutmut-killers.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        record = json.loads(line)
        found.setdefault(record["mutant"], record["test"])
    return found


def collect(seconds: float | None, command: str) -> dict:
    mutants: dict[str, dict] = {}
    killed_by = killers()
    for pattern in config().only_mutate:
        source = Path(pattern)
        meta = json.loads((Path("mutants") / f"{source}.meta").read_text())
        for name, exit_code in meta["exit_code_by_key"].items():
            status = status_by_exit_code[exit_code]
            entry = {"file": str(source), "status": status}
            if "/test_mut_" in killed_by.get(name, ""):  # the report names these tests (the others would only make the file big)
                entry["killed_by"] = killed_by[name]
            if status != "killed":
                entry["diff"] = get_diff_for_mutant(name, path=source)
            mutants[name] = entry
    return {
        "tool": f"mutmut {version('mutmut')}",
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()}: {os.cpu_count()} CPUs ({_cpu()}), Python {platform.python_version()}",
        "seconds": seconds,
        "files": list(config().only_mutate),
        "mutants": mutants,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=float, default=None, help="how long the mutmut run took")
    parser.add_argument("--command", default="make mutation")
    args = parser.parse_args()
    data = collect(args.seconds, args.command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # One mutant a line, so that two runs' files compare line by line.
    mutants = data.pop("mutants")
    head = json.dumps(data, indent=1, sort_keys=True)[:-2]
    lines = [f"  {json.dumps(name, ensure_ascii=False)}: {json.dumps(m, sort_keys=True, ensure_ascii=False)}" for name, m in sorted(mutants.items())]
    args.out.write_text(head + ',\n "mutants": {\n' + ",\n".join(lines) + "\n }\n}\n")
    print(f"wrote {args.out}: {len(mutants)} mutants")


if __name__ == "__main__":
    main()
