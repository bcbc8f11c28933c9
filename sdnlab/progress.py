"""A progress line for long steps: live on a terminal, silent in a log."""

from __future__ import annotations

import sys


class Progress:
    """One line per step; a live counter on a terminal, nothing extra in a log."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()

    def update(self, label: str, done: int, total: int) -> None:
        if self.tty:
            width = 24
            filled = int(width * done / max(total, 1))
            self.stream.write(f"\r  {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if done == total:
                self.stream.write("\r" + " " * (width + len(label) + 20) + "\r")
            self.stream.flush()
