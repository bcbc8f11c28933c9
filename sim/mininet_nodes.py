"""Mininet node classes for replaying a topology.

`BoundOVSSwitch` is Mininet's OVSSwitch with sdnlab's OVSDB marks added to
the same single `ovs-vsctl` transaction that creates the bridge: the port
bindings the controller reads (state.py) and the lab marks (names.py).
`KernelBridge` is a plain Linux bridge, as on a Proxmox node without OVS.
"""

from __future__ import annotations

from mininet.node import OVSSwitch, Switch

from controller.state import LINK_KEY, NIC_KEY, Binding
from sim.names import BRIDGE_KEY, LAB_KEY


class BoundOVSSwitch(OVSSwitch):
    def __init__(self, name: str, bindings: dict[str, Binding] | None = None, label: str = "", lab: str = "", **params):
        self.bindings = bindings or {}
        self.label = label
        self.lab = lab
        super().__init__(name, **params)

    def intfOpts(self, intf) -> str:  # noqa: N802 - Mininet's name
        opts = super().intfOpts(intf)
        binding = self.bindings.get(intf.name)
        if binding is None:
            return opts
        key = NIC_KEY if binding.kind == "nic" else LINK_KEY
        return (opts or f" -- set Interface {intf}") + f" external_ids:{key}={binding.id}"

    def bridgeOpts(self) -> str:  # noqa: N802 - Mininet's name
        return super().bridgeOpts() + f" external_ids:{LAB_KEY}={self.lab} external_ids:{BRIDGE_KEY}={self.label}"


class KernelBridge(Switch):
    """A Linux bridge (not VLAN-aware) in the root namespace."""

    def __init__(self, name: str, label: str = "", lab: str = "", **params):
        self.label = label
        params["inNamespace"] = False  # a host bridge, like the node's own vmbr
        super().__init__(name, **params)

    def start(self, controllers) -> None:
        self.cmd(f"ip link add name {self} type bridge forward_delay 0 && ip link set {self} up")
        for intf in self.intfList():
            if intf.name != "lo" and self.ports.get(intf):
                self.cmd(f"ip link set {intf} master {self} && ip link set {intf} up")

    def stop(self, deleteIntfs: bool = True) -> None:  # noqa: N803 - Mininet's name
        self.cmd(f"ip link del {self}")
        super().stop(deleteIntfs)

    def connected(self) -> bool:
        return True
