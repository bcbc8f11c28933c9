"""Open vSwitch through OVSDB with ovsdbapp (Open vSwitch's Python IDL
underneath): the one client that builds lab bridges and ports, for the
simulator and the real deployment alike.

Marks, so that what sdnlab made is found by mark and never by name:
- on a Bridge, `sdnlab-lab=<lab id>` (a deployed lab's name, or a simulation's
  run tag), `sdnlab-bridge=<the file's name for it>` and
  `sdnlab-builder=sim|up` (which command made it: `sim clean` sweeps only
  simulations, never a deployed lab);
- on an Interface, the controller's binding (`sdnlab-nic` or `sdnlab-link`,
  controller/state.py).
A bridge with `standin` set stands in for a VLAN-aware Linux bridge
(host/standin.py): standalone, no controller, its ports' VLANs in OVSDB.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.open_vswitch import impl_idl

from controller.state import LINK_KEY, NIC_KEY, Binding
from host.standin import STANDIN_KEY, STANDIN_OF, PortVlan

# The Open vSwitch this process works on: the host's, or (with OVS_RUNDIR, which ovs-vsctl and ovs-ofctl read
# too) the instance of a node rehearsed in a namespace of its own (deploy/rehearsal.py).
REMOTE = f"unix:{os.environ.get('OVS_RUNDIR', '/var/run/openvswitch')}/db.sock"
LAB_KEY = "sdnlab-lab"
BRIDGE_KEY = "sdnlab-bridge"
BUILDER_KEY = "sdnlab-builder"


@contextmanager
def ovsdb(remote: str = REMOTE, timeout: int = 10) -> Iterator[impl_idl.OvsdbIdl]:
    """An ovsdbapp API object for the local OVSDB; its connection thread ends on exit."""
    idl = connection.OvsdbIdl.from_server(remote, "Open_vSwitch")
    conn = connection.Connection(idl=idl, timeout=timeout)
    api = impl_idl.OvsdbIdl(conn)
    try:
        yield api
    finally:
        conn.stop()


@dataclass(frozen=True)
class LabBridge:
    """An OVS bridge of a lab, as the controller expects it."""

    name: str  # on the host
    label: str  # in the file
    lab: str
    builder: str  # "sim" | "up"
    dpid: int
    controller: str | tuple[str, ...]  # "ssl:127.0.0.1:6653", or every replica's target for a controller cluster
    netdev: bool  # the userspace datapath (no openvswitch kernel module)
    packet_in_rate: int
    standin: bool = False  # a VLAN-aware Linux bridge's stand-in: standalone, no controller (host/standin.py)


@dataclass(frozen=True)
class LabPort:
    """A port with its OpenFlow number and its binding; `peer` makes it a patch port."""

    name: str
    number: int
    binding: Binding
    peer: str = ""
    vlan: PortVlan | None = None  # a stand-in's port: its 802.1Q settings (a controlled bridge's VLANs are in its flows)


def bridge_owner(api, name: str) -> str | None:
    """The lab a bridge belongs to (None if it does not exist; '' if it is not a lab's)."""
    if not api.br_exists(name).execute(check_error=True):
        return None
    return api.db_get("Bridge", name, "external_ids").execute(check_error=True).get(LAB_KEY, "")


def add_bridge(api, bridge: LabBridge, ports: list[LabPort] = ()) -> None:
    """The bridge (secure fail mode, OpenFlow 1.3, in-band control off, marked), its controller with OVS's own
    packet-in meter (so a storm cannot reach the controller at all), and its ports, in one transaction: the
    controller never sees the bridge half set up. A stand-in gets no controller and forwards by NORMAL."""
    rate = bridge.packet_in_rate
    marks = {LAB_KEY: bridge.lab, BRIDGE_KEY: bridge.label, BUILDER_KEY: bridge.builder}
    with api.transaction(check_error=True) as txn:
        txn.add(api.add_br(bridge.name, may_exist=False, datapath_type="netdev" if bridge.netdev else "system"))
        if bridge.standin:
            txn.add(api.db_set("Bridge", bridge.name, ("fail_mode", "standalone"),
                               ("other_config", {"disable-in-band": "true"}),  # a Linux bridge has no dpid: OVS picks one
                               ("external_ids", {**marks, STANDIN_KEY: STANDIN_OF})))
        else:
            targets = (bridge.controller,) if isinstance(bridge.controller, str) else bridge.controller
            # A switch whose controller went away tries again within a second (OVS waits up to 8 by default): a restarted
            # controller, or a replica of a cluster that comes back, takes over sooner.
            controllers = [txn.add(api.db_create("Controller", target=target, controller_rate_limit=rate,
                                                 controller_burst_limit=max(25, rate // 4), max_backoff=1000)) for target in targets]
            txn.add(api.db_set("Bridge", bridge.name, ("fail_mode", "secure"), ("protocols", ["OpenFlow13"]),
                               ("other_config", {"datapath-id": f"{bridge.dpid:016x}", "disable-in-band": "true"}),
                               ("external_ids", marks), ("controller", controllers)))
        for port in ports:
            _add_port(api, txn, bridge.name, port)


def add_port(api, bridge: str, port: LabPort) -> None:
    with api.transaction(check_error=True) as txn:
        _add_port(api, txn, bridge, port)


def _add_port(api, txn, bridge: str, port: LabPort) -> None:
    txn.add(api.add_port(bridge, port.name, may_exist=False))
    columns = [("ofport_request", port.number), ("external_ids", {NIC_KEY if port.binding.kind == "nic" else LINK_KEY: port.binding.id})]
    if port.peer:
        columns += [("type", "patch"), ("options", {"peer": port.peer})]
    txn.add(api.db_set("Interface", port.name, *columns))
    if port.vlan is not None:
        txn.add(api.db_set("Port", port.name, *port.vlan.columns()))


def del_bridge(api, name: str) -> None:
    api.del_br(name, if_exists=True).execute(check_error=True)


def lab_bridges(api, lab: str | None, builder: str) -> list[str]:
    """Bridges marked as made by `builder` for `lab` (for any lab when None)."""
    found = []
    for row in api.db_list("Bridge", columns=["name", "external_ids"]).execute(check_error=True):
        ids = row["external_ids"]
        if ids.get(BUILDER_KEY) == builder and LAB_KEY in ids and (lab is None or ids[LAB_KEY] == lab):
            found.append(row["name"])
    return sorted(found)


# OVS has one SSL configuration for all its bridges: the switch's key and
# certificate, and the CA file it trusts for controllers. sdnlab marks the one
# it makes, and never replaces or removes one it did not make.
SSL_KEY = "sdnlab-ssl"


class ForeignSsl(Exception):
    """Open vSwitch already has an SSL configuration that is not sdnlab's."""


def ssl_config(api) -> dict | None:
    """The SSL row in use (None when there is none)."""
    ref = api.db_get("Open_vSwitch", ".", "ssl").execute(check_error=True)
    if not ref:
        return None
    uuid = ref[0] if isinstance(ref, list) else ref
    return next((row for row in api.db_list("SSL").execute(check_error=True) if row["_uuid"] == uuid), None)


def set_ssl(api, key: str, certificate: str, ca_cert: str) -> bool:
    """Point OVS at the switch key, certificate and the CA bundle it trusts; refuses to replace a foreign
    configuration. Whether anything changed."""
    current = ssl_config(api)
    if current is not None and SSL_KEY not in current["external_ids"]:
        raise ForeignSsl(f"Open vSwitch already has an SSL configuration that is not sdnlab's (key {current['private_key']}); "
                         "sdnlab leaves it alone")
    wanted = {"private_key": key, "certificate": certificate, "ca_cert": ca_cert}
    if current is not None and all(current[k] == v for k, v in wanted.items()):
        return False
    with api.transaction(check_error=True) as txn:
        row = txn.add(api.db_create("SSL", **wanted, bootstrap_ca_cert=False, external_ids={SSL_KEY: "true"}))
        txn.add(api.db_set("Open_vSwitch", ".", ("ssl", row)))
    return True


def clear_ssl(api) -> bool:
    """Remove sdnlab's SSL configuration (and nothing else); whether there was one."""
    current = ssl_config(api)
    if current is None or SSL_KEY not in current["external_ids"]:
        return False
    api.db_clear("Open_vSwitch", ".", "ssl").execute(check_error=True)
    return True


def controller_roles(api, bridge: str) -> list[tuple[str, str, bool]] | None:
    """A bridge's controllers as OVS reports them: (target, role, connected) each; None if there is no such bridge.
    OVS refreshes roles in OVSDB every few seconds, so this is for people (`sdnlab status`), not for timing."""
    if not api.br_exists(bridge).execute(check_error=True):
        return None
    refs = set(api.db_get("Bridge", bridge, "controller").execute(check_error=True) or [])
    rows = api.db_list("Controller", columns=["_uuid", "target", "role", "is_connected"]).execute(check_error=True)
    return sorted((row["target"], row["role"] or "", bool(row["is_connected"])) for row in rows if row["_uuid"] in refs)
