"""`host` endpoints: a plain network namespace per endpoint, through pyroute2."""

from __future__ import annotations

import subprocess

from pyroute2 import IPRoute, NetNS, netns

from sdnlab.deploy.loops import outside_event_loop


@outside_event_loop
def create(name: str) -> None:
    netns.create(name)


@outside_event_loop
def move_in(name: str, iface: str, new_name: str, mac: str, address: str | None) -> None:
    with IPRoute() as ip:
        ip.link("set", index=ip.link_lookup(ifname=iface)[0], net_ns_fd=name)
    with NetNS(name) as ns:
        index = ns.link_lookup(ifname=iface)[0]
        ns.link("set", index=index, ifname=new_name, address=mac)
        ns.link("set", index=index, state="up")
        ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        if address:
            ip_address, prefix = address.split("/")
            ns.addr("add", index=index, address=ip_address, prefixlen=int(prefix))


@outside_event_loop
def run(name: str, command: str, timeout: float = 60) -> tuple[int, str]:
    out = subprocess.run(["ip", "netns", "exec", name, "sh", "-c", command], capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout + out.stderr


@outside_event_loop
def exists(name: str) -> bool:
    return name in netns.listnetns()


@outside_event_loop
def remove(name: str) -> None:
    if exists(name):
        netns.remove(name)
