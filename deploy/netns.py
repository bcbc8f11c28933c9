"""`host` endpoints: a plain network namespace per endpoint, through pyroute2."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from pyroute2 import IPRoute, NetNS, netns

from deploy.endpoint import EndpointDriver
from host.loops import outside_event_loop
from sdnlab.model import Endpoint

if TYPE_CHECKING:
    from deploy.lab import Lab


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


class NamespaceDriver(EndpointDriver):
    """`type: host`: a network namespace, its NICs veths moved in and renamed ethN."""

    kind = "host"
    noun = "namespace"

    def record(self, lab: Lab, endpoint: Endpoint) -> dict:
        return {"name": lab.names.namespace(endpoint.name)}

    def start(self, lab: Lab, endpoint: Endpoint, record: dict) -> None:
        create(record["name"])
        for nic in endpoint.nics:
            for iface, name, address in lab.inside(endpoint, nic):
                move_in(record["name"], iface, name, nic.mac, address)

    def up_line(self, lab: Lab, record: dict) -> str:
        return f"namespace {record['name']} ready"

    def run(self, lab: Lab, endpoint: str, command: str, timeout: float = 60) -> tuple[int, str]:
        return run(lab.names.namespace(endpoint), command, timeout)

    def shell_hint(self, lab: Lab, endpoint: str) -> str:
        return f"ip netns exec {lab.names.namespace(endpoint)} sh"

    def remove(self, record: dict) -> None:
        remove(record["name"])

    def alive(self, record: dict) -> bool:
        return exists(record["name"])
