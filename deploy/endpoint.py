"""What every kind of endpoint driver does, and nothing more.

An endpoint kind of the file (`type: lxc | kvm | host`) is built by one
driver, the way Mininet extends nodes by class. `deploy/lab.py` never asks
which kind it has: it makes each NIC's host-side interface through the
driver, binds it to its bridge, starts the endpoint, waits while it boots,
and later runs commands in it, shows how to reach it and removes it, all
through this interface. A new kind (Docker, another hypervisor) is one new
file with a subclass, and one line in `deploy/drivers.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from host import netlink
from sdnlab.model import Endpoint, Nic

if TYPE_CHECKING:
    from deploy.lab import Lab


class EndpointDriver:
    kind: ClassVar[str]  # the file's endpoint `type`
    noun: ClassVar[str]  # what a person calls one: "container", "guest", "namespace"
    booting: ClassVar[bool] = False  # whether `start` returns before the endpoint is up (see `ready`)
    # Whether the endpoint's own kernel makes a trunk NIC's VLAN interfaces (a guest's does); if not
    # (containers and namespaces share this host's kernel, which has no 802.1Q module), `up` puts a small
    # tagging bridge between the NIC and the endpoint and hands it one interface per VLAN (host/standin.py).
    vlan_interfaces: ClassVar[bool] = False

    def needs(self) -> list[str]:
        """Commands that must be on PATH for this kind."""
        return []

    def make_nic(self, lab: Lab, endpoint: Endpoint, nic: Nic) -> str:
        """Make the NIC's host-side interface (the caller records and binds it) and return its name.

        By default a veth pair whose other end, carrying the NIC's MAC, goes into the endpoint."""
        host_side = lab.names.nic(endpoint, nic.index)
        netlink.add_veth(host_side, lab.names.peer(endpoint, nic.index), nic.mac, lab=lab.topology.name)
        return host_side

    def prepare(self, lab: Lab, endpoints: list[Endpoint]) -> None:
        """Once, before the first endpoint of this kind starts."""

    def record(self, lab: Lab, endpoint: Endpoint) -> dict:
        """What `remove` and `alive` need to find the endpoint again; recorded before it is made, so
        that `down` also removes a half-made one. Has at least its `name` on the host."""
        raise NotImplementedError

    def start(self, lab: Lab, endpoint: Endpoint, record: dict) -> None:
        """Create and start the endpoint with its NICs (their host sides exist and are bound)."""
        raise NotImplementedError

    def ready(self, lab: Lab, record: dict) -> bool:
        """Whether a booting endpoint is up yet; raises if it died."""
        return True

    def up_line(self, lab: Lab, record: dict) -> str:
        """What to say once it is up."""
        return f"{self.noun} {record['name']} running"

    def console_log(self, record: dict) -> Path | None:
        """Where a person reads what it printed while booting, if anywhere."""
        return None

    def run(self, lab: Lab, endpoint: str, command: str, timeout: float = 60) -> tuple[int, str]:
        """Run a shell command inside; (exit status, output)."""
        raise NotImplementedError

    def shell_hint(self, lab: Lab, endpoint: str) -> str:
        """How a person gets a shell (or runs a command) inside."""
        return f"sdnlab exec {lab.state.topology} {endpoint} -- COMMAND"

    def remove(self, record: dict) -> None:
        """Stop and delete it; nothing if it is already gone."""
        raise NotImplementedError

    def alive(self, record: dict) -> bool:
        raise NotImplementedError
