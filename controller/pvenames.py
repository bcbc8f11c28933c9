"""The host-side interface names Proxmox VE gives a guest's NIC, and which of them
plays the NIC on an Open vSwitch bridge.

From pve-common's `PVE::Network` (`tap_plug`, `$compute_fwbr_names`):

- without the firewall, the guest's own device is the bridge port:
  `tap<vmid>i<n>` (a QEMU guest) or `veth<vmid>i<n>` (a container);
- with `firewall=1` the device goes into a Linux bridge of its own,
  `fwbr<vmid>i<n>`, where iptables can see it. On an OVS bridge, Proxmox then
  adds an internal port `fwln<vmid>o<n>` to the OVS bridge (with the NIC's
  `tag=`/`trunks=`) and plugs that into the fwbr; on a Linux bridge, a veth
  pair `fwln<vmid>i<n>` (in the fwbr) / `fwpr<vmid>p<n>` (on the bridge).

So on an OVS bridge, every frame of NIC n of guest vmid enters through one of
two ports: `tap`/`veth` without the firewall, `fwln<vmid>o<n>` with it. Both
are the NIC to the controller. The firewall's names are the same for a
container as for a VM: `tap_plug` takes the vmid and NIC number from either
device name.
"""

from __future__ import annotations

import zlib

from sdnlab.model import Topology

PROXMOX_PREFIX = {"kvm": "tap", "lxc": "veth"}  # the guest's own device: tap<vmid>i<n>, veth<vmid>i<n>
OVS_FIREWALL = "fwln{vmid}o{n}"  # the internal port Proxmox adds to an OVS bridge for a NIC with firewall=1


def ovs_port_names(endpoint_type: str, vmid: int, index: int) -> tuple[str, ...]:
    """The names the OVS bridge port of NIC `index` of guest `vmid` may have: its own device, or the firewall's port.

    A `host` endpoint is no Proxmox guest: none.
    """
    prefix = PROXMOX_PREFIX.get(endpoint_type)
    if prefix is None:
        return ()
    return f"{prefix}{vmid}i{index}", OVS_FIREWALL.format(vmid=vmid, n=index)


def base_number(lab: str) -> int:
    """The first of a lab's own endpoint numbers (for endpoints without a `vmid`)."""
    return 100 + zlib.crc32(lab.encode()) % 900 * 10  # 100..9090: ids fit veth<id>i<n> in 15 bytes


def endpoint_ids(topology: Topology, base: int | None = None) -> dict[str, int]:
    """Each endpoint's number in the host-side names `sdnlab up` gives its NICs: its `vmid`, as Proxmox names
    them (tap<vmid>i<n>, veth<vmid>i<n>), or else the next number from the lab's base that no vmid takes."""
    taken = {e.vmid for e in topology.endpoints.values() if e.vmid is not None}
    ids, number = {}, base_number(topology.name) if base is None else base
    for name in sorted(topology.endpoints):
        vmid = topology.endpoints[name].vmid
        if vmid is None:
            while number in taken:
                number += 1
            vmid, number = number, number + 1
        ids[name] = vmid
    return ids


def up_port_name(endpoint_type: str, endpoint_id: int, index: int) -> str:
    """The host-side name `sdnlab up` gives NIC `index` of an endpoint: Proxmox's, for every kind."""
    return f"{PROXMOX_PREFIX.get(endpoint_type, 'veth')}{endpoint_id}i{index}"
