"""Linux bridges, veth pairs and taps through pyroute2 (netlink), not ip or brctl."""

from __future__ import annotations

from pyroute2 import IPRoute, NetlinkError

from host.loops import outside_event_loop


@outside_event_loop
def exists(name: str) -> bool:
    with IPRoute() as ip:
        return bool(ip.link_lookup(ifname=name))


@outside_event_loop
def add_bridge(name: str) -> None:
    with IPRoute() as ip:
        ip.link("add", ifname=name, kind="bridge", br_forward_delay=0)
        ip.link("set", index=ip.link_lookup(ifname=name)[0], state="up")


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
def add_veth(name: str, peer: str, peer_mac: str | None = None) -> None:
    with IPRoute() as ip:
        ip.link("add", ifname=name, kind="veth", peer=peer)
        if peer_mac:
            ip.link("set", index=ip.link_lookup(ifname=peer)[0], address=peer_mac)
        ip.link("set", index=ip.link_lookup(ifname=name)[0], state="up")


@outside_event_loop
def add_tap(name: str) -> None:
    with IPRoute() as ip:
        ip.link("add", ifname=name, kind="tuntap", mode="tap")
        ip.link("set", index=ip.link_lookup(ifname=name)[0], state="up")


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
def delete(name: str) -> None:
    """Remove an interface (a veth's peer goes with it); nothing if it is already gone."""
    with IPRoute() as ip:
        found = ip.link_lookup(ifname=name)
        if found:
            try:
                ip.link("del", index=found[0])
            except NetlinkError as exc:
                if exc.code != 19:  # ENODEV: went away meanwhile
                    raise


@outside_event_loop
def names() -> list[str]:
    """Every interface name in this namespace."""
    with IPRoute() as ip:
        return [link.get_attr("IFLA_IFNAME") for link in ip.get_links()]
