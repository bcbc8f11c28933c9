"""Problems found in a file, reported all at once with file, place and key path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SHOW_CHARS = 60  # longest value quoted in a message; no valid value is longer than a description line


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
            out += f".{show(part)}" if out else show(part)
    return out


def show(value: Any) -> str:
    """A value from the file as a message quotes it: containers by kind, never
    printed (an alias can make a 300-byte file a gigabyte of text), long values cut."""
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**SHOW_CHARS:
        # Shown by its size: str() of a 5,000-digit number is itself an error.
        return f"a number of {len(format(abs(value), 'x')) * 4} bits"
    text = str(value)
    if len(text) > SHOW_CHARS:
        return f"{text[:SHOW_CHARS - 20]}... ({len(text)} characters)"
    return text


# C0 controls (newline and tab too: a value must not start a line of its own), DEL, C1,
# and the Unicode line separators and bidirectional overrides that make text read other than it is.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def escape(text: str) -> str:
    """`text` safe for a terminal: control characters from a file become visible escapes
    (ESC as \\x1b), so a file cannot recolour, retitle or rewrite the user's terminal."""
    return _CONTROL.sub(_escape_one, text)


def _escape_one(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
