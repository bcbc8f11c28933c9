"""Open vSwitch through OVSDB with ovsdbapp (Open vSwitch's Python IDL underneath), not ovs-vsctl."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.open_vswitch import impl_idl

REMOTE = "unix:/var/run/openvswitch/db.sock"
LAB_KEY = "sdnlab-lab"


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


def bridge_owner(api, name: str) -> str | None:
    """The lab a bridge belongs to (None if it does not exist; '' if it is not a lab's)."""
    if not api.br_exists(name).execute(check_error=True):
        return None
    ids = api.db_get("Bridge", name, "external_ids").execute(check_error=True)
    return ids.get(LAB_KEY, "")


def add_bridge(api, name: str, lab: str, dpid: int, controller: str, userspace: bool, rate: int) -> None:
    with api.transaction(check_error=True) as txn:
        txn.add(api.add_br(name, may_exist=False, datapath_type="netdev" if userspace else "system"))
        txn.add(api.db_set("Bridge", name, ("fail_mode", "secure"), ("protocols", ["OpenFlow13"]),
                           ("other_config", {"datapath-id": f"{dpid:016x}", "disable-in-band": "true"}),
                           ("external_ids", {LAB_KEY: lab})))
        txn.add(api.set_controller(name, [controller]))
    # Let OVS meter packet-ins too, so a storm cannot reach the controller at all.
    for row in api.db_find("Controller", ("target", "=", controller), columns=["_uuid"]).execute(check_error=True):
        api.db_set("Controller", row["_uuid"], ("controller_rate_limit", rate), ("controller_burst_limit", max(25, rate // 4))).execute(check_error=True)


def add_port(api, bridge: str, port: str, number: int, key: str, value: str, kind: str = "", peer: str = "") -> None:
    """A port with its OpenFlow number and its sdnlab binding; kind 'patch' joins it to `peer`."""
    with api.transaction(check_error=True) as txn:
        txn.add(api.add_port(bridge, port, may_exist=False))
        columns = [("ofport_request", number), ("external_ids", {key: value})]
        if kind:
            columns.append(("type", kind))
        if peer:
            columns.append(("options", {"peer": peer}))
        txn.add(api.db_set("Interface", port, *columns))


def del_bridge(api, name: str) -> None:
    api.del_br(name, if_exists=True).execute(check_error=True)


def lab_bridges(api, lab: str) -> list[str]:
    return sorted(b for b in api.list_br().execute(check_error=True)
                  if api.db_get("Bridge", b, "external_ids").execute(check_error=True).get(LAB_KEY) == lab)
