"""SIGINT and SIGTERM as KeyboardInterrupt, in this process only.

`sdnlab up` rolls back on Ctrl-C and on SIGTERM by catching KeyboardInterrupt.
Libraries fork helper processes (pyroute2 forks one for every network
namespace operation, and SIGTERMs it when done); a forked child inherits the
handlers, and a KeyboardInterrupt raised in it unwinds the *parent's* stack
copy in the child: the child then ran `up`'s rollback while the real `up`
went on building, deleting bridges under it. That was the "interrupted" in
the middle of builds that made `up` flaky. In a child, these handlers end the
child as the signal's default action would.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise KeyboardInterrupt here; a forked child just ends."""
    owner = os.getpid()

    def handler(signum: int, frame) -> None:
        if os.getpid() != owner:
            os._exit(128 + signum)
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)
