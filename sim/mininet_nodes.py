"""Mininet node classes for replaying a topology.

Mininet makes the hosts and the veths between nodes; the bridges are built
the way `sdnlab up` builds them, through host/ (one OVSDB client, one netlink
path), so the simulator replays what a real deployment gets.
`LabOVSBridge` is an OVS bridge whose ports carry the controller's bindings
and the lab's marks (or, standing in for a VLAN-aware Linux bridge, its
ports' VLANs: host/standin.py); `KernelBridge` a plain Linux bridge, as on a
Proxmox node without OVS.
"""

from __future__ import annotations

from mininet.node import Switch

from controller.state import Binding
from host import netlink
from host.ovsdb import LabBridge, LabPort, add_bridge, del_bridge
from host.standin import PortVlan


class LabOVSBridge(Switch):
    """An OVS bridge in the root namespace, made in one OVSDB transaction with its ports."""

    def __init__(self, name: str, spec: LabBridge | None = None, bindings: dict[str, Binding] | None = None, api=None,
                 vlans: dict[str, PortVlan] | None = None, **params):
        self.spec = spec
        self.bindings = bindings or {}
        self.vlans = vlans or {}
        self.api = api  # the lab's OVSDB connection, open while it lives
        params["inNamespace"] = False  # a host bridge, like the node's own vmbr
        super().__init__(name, **params)

    def start(self, controllers) -> None:
        ports = [LabPort(intf.name, self.ports[intf], self.bindings[intf.name], vlan=self.vlans.get(intf.name))
                 for intf in self.intfList() if intf.name in self.bindings]
        for port in ports:
            netlink.set_up(port.name)
        add_bridge(self.api, self.spec, ports)

    def stop(self, deleteIntfs: bool = True) -> None:  # noqa: N803 - Mininet's name
        del_bridge(self.api, self.name)
        netlink.delete(self.name)  # a netdev bridge leaves its tap behind
        super().stop(deleteIntfs)


class KernelBridge(Switch):
    """A Linux bridge (not VLAN-aware) in the root namespace."""

    def __init__(self, name: str, lab: str = "", **params):
        self.lab = lab
        params["inNamespace"] = False  # a host bridge, like the node's own vmbr
        super().__init__(name, **params)

    def start(self, controllers) -> None:
        netlink.add_bridge(self.name, lab=self.lab)
        for intf in self.intfList():
            if intf.name != "lo" and self.ports.get(intf):
                netlink.set_master(intf.name, self.name)

    def stop(self, deleteIntfs: bool = True) -> None:  # noqa: N803 - Mininet's name
        netlink.delete(self.name)
        super().stop(deleteIntfs)

    def connected(self) -> bool:
        return True
