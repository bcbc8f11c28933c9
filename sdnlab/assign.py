"""Deterministic values for what a file leaves to be assigned (dpids, MACs, VNIs).

Each value is a hash of the topology name and the object's name, so the same
file gives the same values on every machine, and adding an object does not
renumber the others. A clash with another value moves on to the next number.
"""

from __future__ import annotations

import dataclasses
import hashlib

from sdnlab.model import Bridge, Endpoint, Link, Nic


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


def assign_dpids(topology: str, bridges: dict[str, Bridge]) -> dict[str, Bridge]:
    """Give every OVS bridge without a dpid a stable 48-bit one."""
    used = {b.dpid for b in bridges.values() if b.dpid is not None}
    out = dict(bridges)
    for name in sorted(bridges):
        bridge = bridges[name]
        if not bridge.is_ovs or bridge.dpid is not None:
            continue
        dpid = int.from_bytes(_digest(topology, "bridge", name)[:6], "big") or 1
        while dpid in used:
            dpid = dpid % (2**48 - 1) + 1
        used.add(dpid)
        out[name] = dataclasses.replace(bridge, dpid=dpid)
    return out


def assign_macs(topology: str, endpoints: dict[str, Endpoint]) -> dict[str, Endpoint]:
    """Give every NIC without a MAC a stable locally administered unicast one (02:...)."""
    used = {nic.mac for e in endpoints.values() for nic in e.nics if nic.mac}
    out = dict(endpoints)
    for name in sorted(endpoints):
        endpoint = endpoints[name]
        if all(nic.mac for nic in endpoint.nics):
            continue
        nics = []
        for nic in endpoint.nics:
            if not nic.mac:
                value = int.from_bytes(_digest(topology, "nic", name, str(nic.index))[:5], "big")
                mac = _mac(value)
                while mac in used:
                    value = (value + 1) % 2**40
                    mac = _mac(value)
                used.add(mac)
                # Direct construction: dataclasses.replace costs ~9 us a call, 10,000 NICs add up.
                nic = Nic(nic.endpoint, nic.index, nic.bridge, mac, nic.tag, nic.ip, nic.port_security, nic.trunks)
            nics.append(nic)
        out[name] = Endpoint(endpoint.name, endpoint.type, endpoint.node, tuple(nics), endpoint.vmid)
    return out


MAX_VNI = 2**24 - 1  # VXLAN network identifiers are 24 bits; 0 is left out (some stacks treat it as "none")


def assign_vnis(topology: str, links: list[Link]) -> list[Link]:
    """Give every link without a `vni` a stable one from 1 to 2^24-1, keyed by its id
    (its name, or its position), avoiding the file's own and each other's."""
    used = {link.vni for link in links if link.vni is not None}
    out = []
    for link in links:
        if link.vni is None:
            vni = int.from_bytes(_digest(topology, "link", link.id)[:3], "big") or 1
            while vni in used:
                vni = vni % MAX_VNI + 1
            used.add(vni)
            link = dataclasses.replace(link, vni=vni)
        out.append(link)
    return out


def _mac(value: int) -> str:
    octets = [0x02] + list(value.to_bytes(5, "big"))
    return ":".join(f"{o:02x}" for o in octets)
