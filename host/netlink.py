"""Linux bridges, veth pairs and taps through pyroute2 (netlink), not ip or brctl.

Every interface a lab makes carries its mark in the interface alias
(`sdnlab:<lab id>`), so removal can check it is the lab's before deleting.
A lab's Linux bridges are not hosts on the segment: no IPv6 link-local
address, no ARP answers from the host's own addresses.
"""

from __future__ import annotations

import ipaddress

from pyroute2 import IPRoute, NetlinkError

from host.loops import outside_event_loop


@outside_event_loop
def exists(name: str) -> bool:
    with IPRoute() as ip:
        return bool(ip.link_lookup(ifname=name))


MARK = "sdnlab:"


def _sysctl(path: str, value: str) -> None:
    with open(f"/proc/sys/net/{path}", "w") as knob:
        knob.write(value)


@outside_event_loop
def add_bridge(name: str, lab: str = "") -> None:
    """A Linux bridge that is not a host on its segment (set before it is up, so no address is ever made)."""
    with IPRoute() as ip:
        ip.link("add", ifname=name, kind="bridge", br_forward_delay=0)
        index = ip.link_lookup(ifname=name)[0]
        if lab:
            ip.link("set", index=index, ifalias=MARK + lab)
    _sysctl(f"ipv6/conf/{name}/disable_ipv6", "1")
    _sysctl(f"ipv4/conf/{name}/arp_ignore", "8")  # 8: answer no ARP request on it, for any address of the host
    set_up(name)


@outside_event_loop
def mark_of(name: str) -> str | None:
    """The lab id an interface is marked with (None: no such interface; '': not a lab's)."""
    with IPRoute() as ip:
        found = ip.link_lookup(ifname=name)
        if not found:
            return None
        alias = ip.get_links(found[0])[0].get_attr("IFLA_IFALIAS") or ""
        return alias.removeprefix(MARK) if alias.startswith(MARK) else ""


@outside_event_loop
def vlan_filtering_supported() -> bool:
    """Whether the kernel can make a VLAN-aware bridge (CONFIG_BRIDGE_VLAN_FILTERING)."""
    probe = "sdnlabvfprobe"
    with IPRoute() as ip:
        try:
            ip.link("add", ifname=probe, kind="bridge", br_vlan_filtering=1)
        except NetlinkError:
            return False
        ip.link("del", ifname=probe)
        return True


@outside_event_loop
def add_veth(name: str, peer: str, peer_mac: str | None = None, lab: str = "") -> None:
    with IPRoute() as ip:
        ip.link("add", ifname=name, kind="veth", peer=peer)
        if peer_mac:
            ip.link("set", index=ip.link_lookup(ifname=peer)[0], address=peer_mac)
        index = ip.link_lookup(ifname=name)[0]
        if lab:
            ip.link("set", index=index, ifalias=MARK + lab)
        ip.link("set", index=index, state="up")


@outside_event_loop
def add_vxlan(name: str, vni: int, local: str, remote: str, port: int, mtu: int, lab: str = "") -> None:
    """A VXLAN device with one remote and no learning, as Proxmox's SDN VXLAN zone makes one per vnet and host."""
    six = ipaddress.ip_address(remote).version == 6
    ends = {"vxlan_local6": local, "vxlan_group6": remote} if six else {"vxlan_local": local, "vxlan_group": remote}
    with IPRoute() as ip:
        ip.link("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_port=port, vxlan_learning=0, mtu=mtu, **ends)
        index = ip.link_lookup(ifname=name)[0]
        if lab:
            ip.link("set", index=index, ifalias=MARK + lab)
    # Not a host on the segment it carries: without this, the host's own IPv6 (router solicitations, MLD reports)
    # would go out through the tunnel, untagged, on a link that may carry no untagged frames (seen on the underlay).
    _sysctl(f"ipv6/conf/{name}/disable_ipv6", "1")
    _sysctl(f"ipv4/conf/{name}/arp_ignore", "8")
    set_up(name)


@outside_event_loop
def set_mtu(name: str, mtu: int) -> None:
    with IPRoute() as ip:
        ip.link("set", index=ip.link_lookup(ifname=name)[0], mtu=mtu)


@outside_event_loop
def add_tap(name: str, lab: str = "") -> None:
    with IPRoute() as ip:
        ip.link("add", ifname=name, kind="tuntap", mode="tap")
        index = ip.link_lookup(ifname=name)[0]
        if lab:
            ip.link("set", index=index, ifalias=MARK + lab)
        ip.link("set", index=index, state="up")


@outside_event_loop
def set_up(name: str, up: bool = True) -> None:
    """Bring an interface up (or down, with up=False)."""
    with IPRoute() as ip:
        ip.link("set", index=ip.link_lookup(ifname=name)[0], state="up" if up else "down")


@outside_event_loop
def set_master(name: str, bridge: str) -> None:
    with IPRoute() as ip:
        ip.link("set", index=ip.link_lookup(ifname=name)[0], master=ip.link_lookup(ifname=bridge)[0], state="up")


@outside_event_loop
def delete(name: str, lab: str | None = None) -> bool:
    """Remove an interface (a veth's peer goes with it); nothing if it is already gone. With `lab`, only if it
    carries that lab's mark (an interface of the same name that is not the lab's is left alone). Whether it went."""
    if lab is not None and mark_of(name) not in (lab, None):
        return False
    with IPRoute() as ip:
        found = ip.link_lookup(ifname=name)
        if found:
            try:
                ip.link("del", index=found[0])
            except NetlinkError as exc:
                if exc.code != 19:  # ENODEV: went away meanwhile
                    raise
            return True
    return False


@outside_event_loop
def names() -> list[str]:
    """Every interface name in this namespace."""
    with IPRoute() as ip:
        return [link.get_attr("IFLA_IFNAME") for link in ip.get_links()]
