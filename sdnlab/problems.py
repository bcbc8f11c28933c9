"""Problems found in a file, reported all at once with file, place and key path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a file: where it is and what is wrong, in plain words."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f"{self.path}: " if self.path else ""
        return f"{where}: {key}{self.message}"

    def to_json(self) -> dict:
        """The object `sdnlab check --json` prints for an error."""
        out: dict = {"file": self.file, "path": self.path, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        if self.column is not None:
            out["column"] = self.column
        return out


class TopologyError(Exception):
    """A file was rejected; `problems` lists everything wrong with it."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=_sort_key)
        super().__init__("\n".join(str(p) for p in self.problems))


def _sort_key(p: Problem) -> tuple:
    return (p.file, p.line or 0, p.column or 0, p.path, p.message)


class Index(int):
    """A position in a YAML list; rendered as `[n]` in key paths."""


def render_path(parts: tuple) -> str:
    """('endpoints', 'web1', 'nics', Index(0), 'tag') -> 'endpoints.web1.nics[0].tag'."""
    out = ""
    for part in parts:
        if isinstance(part, Index):
            out += f"[{int(part)}]"
        else:
            out += f".{part}" if out else str(part)
    return out
