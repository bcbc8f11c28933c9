"""Pause Python's cyclic garbage collector around allocation-heavy pure work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Loading or checking a large lab allocates about a million small objects
    and no cyclic garbage; the collector would rescan them again and again
    (measured: a third of the load time for 10,000 endpoints)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
