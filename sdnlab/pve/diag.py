"""Errors and warnings of an import, each with its file, line and key, collected all at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sdnlab.problems import Problem, TopologyError


@dataclass
class Diagnostics:
    """What an import found wrong (errors: nothing is written) or could not model (warnings)."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def error(self, file: str, line: int | None, key: str, message: str) -> None:
        self.errors.append(Problem(file, line, None, key, message))

    def warn(self, file: str, line: int | None, key: str, message: str) -> None:
        self.warnings.append(Problem(file, line, None, key, message))

    def raise_errors(self) -> None:
        """Stop with every error found so far, in file and line order."""
        if self.errors:
            raise TopologyError(self.errors)

    def sorted_warnings(self) -> list[Problem]:
        """Warnings in file and line order, each once (a warning about a shared file may be found twice)."""
        return sorted(set(self.warnings), key=lambda p: (p.file, p.line or 0, p.path, p.message))
