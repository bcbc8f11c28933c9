"""Work inside another named network namespace: a rehearsed node's host, or its controller's.

Only the network namespace is entered, never the mount namespace (`ip netns
exec` makes a private one): namespaces and containers a node makes must stay
visible to the whole machine (their `/run/netns` mounts), and pyroute2 talks
netlink, so nothing here reads `/sys/class/net`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyroute2 import netns


def prefix(name: str | None) -> list[str]:
    """A command line's start that runs the rest inside namespace `name` (nothing for None)."""
    return ["nsenter", f"--net=/run/netns/{name}"] if name else []


@contextmanager
def inside(name: str | None) -> Iterator[None]:
    """This thread (and what it starts) in namespace `name` for the block; None: where it is. Not in a thread
    that runs an event loop: host.loops would hand netlink calls to a worker thread still outside."""
    if not name:
        yield
        return
    netns.pushns(name)  # setns(2) acts on the calling thread: never through host.loops' worker thread
    try:
        yield
    finally:
        netns.popns()
