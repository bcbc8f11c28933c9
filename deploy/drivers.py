"""The endpoint drivers, by the file's endpoint `type`: the one place that lists them."""

from __future__ import annotations

from deploy.endpoint import EndpointDriver
from deploy.lxc import LxcDriver
from deploy.netns import NamespaceDriver
from deploy.qemu import QemuDriver

DRIVERS: dict[str, EndpointDriver] = {d.kind: d for d in (LxcDriver(), QemuDriver(), NamespaceDriver())}


def driver(kind: str) -> EndpointDriver:
    return DRIVERS[kind]
