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
