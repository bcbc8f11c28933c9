"""pyroute2 0.9 drives netlink with asyncio and runs its own event loop; in a
thread that already runs one (a Jupyter kernel) that fails. Such calls go to
a worker thread instead."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")


def outside_event_loop(fn: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(fn)
    def call(*args, **kwargs) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return fn(*args, **kwargs)
        return _worker.submit(fn, *args, **kwargs).result()

    return call
