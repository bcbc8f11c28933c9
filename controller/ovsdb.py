"""Watch OVSDB for which switch port is bound to which NIC or link.

OpenFlow tells the controller port numbers and names; the binding of a port
to the file lives in OVSDB (`external_ids` on the Interface, see state.py).
This keeps an IDL replica of the Bridge, Port, Interface and Controller
tables in a thread of its own and hands the app a fresh snapshot whenever it
changes, and the settings of each bridge that decide whether the pipeline is
the only way through it (`BridgeSettings`, `setting_warnings`).

The snapshot also carries each port's 802.1Q columns (`tag`, `trunks`,
`vlan_mode`), which Proxmox writes itself when it plugs a guest into an OVS
bridge. They are compared with the file (`vlan_disagreement`) and reported,
never obeyed: the file wins. On a bridge of the file they change nothing
anyway: it runs `fail_mode=secure` under the controller, and OVS applies these
columns only in "normal switching" (the NORMAL action, or standalone mode when
no controller answers), while the pipeline (pipeline.py, learning.py) forwards
with explicit output, push/set/pop VLAN and to-controller actions and never
NORMAL; with `fail_mode=secure` OVS does not fall back to standalone either.
The VLANs a port really carries are the pipeline's, from the file.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import ovs.db.idl

with warnings.catch_warnings():
    # ovs.poller probes for eventlet (installed for os-ken) and eventlet warns on import.
    warnings.simplefilter("ignore")
    import ovs.poller

from controller.normal import VlanSettings
from controller.state import Binding, proxmox_names
from sdnlab.model import Nic, Topology

LOG = logging.getLogger("sdnlab.ovsdb")
DEFAULT_REMOTE = "unix:/var/run/openvswitch/db.sock"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


class SeenPort(NamedTuple):
    """One interface as OVSDB has it: its name, its binding mark, and its Port's 802.1Q columns."""

    name: str
    binding: Binding | None
    vlan: VlanSettings = VlanSettings()


# dpid -> ofport -> what OVSDB says of the interface there
Snapshot = dict[int, dict[int, SeenPort]]


def vlan_columns(port) -> VlanSettings:
    """A Port row's `tag`, `trunks` and `vlan_mode` (optional columns come from the IDL as lists)."""
    return VlanSettings(port.tag[0] if port.tag else None, frozenset(port.trunks), port.vlan_mode[0] if port.vlan_mode else None)


def snapshot(idl: ovs.db.idl.Idl) -> Snapshot:
    """The bindings and 802.1Q columns of every port of every bridge in the replica."""
    out: Snapshot = {}
    for bridge in idl.tables["Bridge"].rows.values():
        if not bridge.datapath_id:
            continue
        dpid = int(bridge.datapath_id[0], 16)
        ports = out.setdefault(dpid, {})
        for port in bridge.ports:
            vlan = vlan_columns(port)  # a Port's, shared by its interfaces (a bond's members)
            for iface in port.interfaces:
                if iface.ofport and iface.ofport[0] > 0:
                    ports[iface.ofport[0]] = SeenPort(iface.name, Binding.from_external_ids(dict(iface.external_ids)), vlan)
    return out


def vlan_disagreement(port: str, nic: Nic, seen: VlanSettings, by_proxmox: bool = True) -> str | None:
    """How a port's 802.1Q columns disagree with its NIC in the file, or None when they agree.

    They agree when they forward as what Proxmox writes for that NIC would
    (`tag=<tag>`, `trunks=<trunks>`, and `vlan_mode=native-untagged` with
    both). A port sdnlab built (`by_proxmox=False`: bound by its mark) with
    no columns at all agrees too: the builders leave VLANs to the pipeline.
    """
    want = VlanSettings.proxmox(nic.tag, nic.trunks)
    if seen.forwards_like(want) or (not by_proxmox and seen == VlanSettings()):
        return None
    says = "untagged" if nic.tag is None else f"tag {nic.tag}"
    if nic.trunks:
        says += f", trunks {','.join(map(str, sorted(nic.trunks)))} (in OVSDB: {want})"
    return f"port {port}: OVSDB {seen}, the file says {says}; the file wins"


def vlan_disagreements(topology: Topology, bridge: str, ports: Mapping[int, SeenPort]) -> list[str]:
    """Every port of `bridge` (its snapshot) bound to a NIC of the file whose 802.1Q columns disagree with it."""
    nics = {nic.id: nic for nic in topology.nics() if nic.bridge == bridge}
    by_name = proxmox_names(topology)
    out = []
    for _, seen in sorted(ports.items()):
        binding = seen.binding or by_name.get(seen.name)  # as state.resolve binds: a mark wins over the name
        nic = nics.get(binding.id) if binding is not None and binding.kind == "nic" else None
        found = nic and vlan_disagreement(seen.name, nic, seen.vlan, by_proxmox=seen.binding is None)
        if found:
            out.append(found)
    return out


@dataclass(frozen=True)
class BridgeSettings:
    """What OVSDB says of a bridge that can let frames past the controller's pipeline."""

    name: str
    in_band: bool  # OVS's in-band control: hidden NORMAL rules that carry some ARP and TCP past every table
    metered: bool  # packet-ins limited by OVS itself (controller_rate_limit on every controller)


def settings(idl: ovs.db.idl.Idl) -> dict[int, BridgeSettings]:
    out = {}
    for bridge in idl.tables["Bridge"].rows.values():
        if not bridge.datapath_id:
            continue
        controllers = list(bridge.controller)
        out_of_band = bool(controllers) and all(c.connection_mode == ["out-of-band"] for c in controllers)
        in_band = dict(bridge.other_config).get("disable-in-band") != "true" and not out_of_band
        metered = bool(controllers) and all(c.controller_rate_limit for c in controllers)
        out[int(bridge.datapath_id[0], 16)] = BridgeSettings(bridge.name, in_band, metered)
    return out


def setting_warnings(s: BridgeSettings, rate: int) -> list[str]:
    """Warnings, each with the command that fixes it, for a bridge of the file."""
    out = []
    if s.in_band:
        out.append(f"bridge {s.name} has OVS in-band control on: its hidden rules carry some ARP and TCP past the pipeline, "
                   f"across VLANs; fix: ovs-vsctl set Bridge {s.name} other_config:disable-in-band=true")
    if not s.metered:
        out.append(f"bridge {s.name} does not meter packet-ins in OVS, so a storm reaches the controller; fix: "
                   f"ovs-vsctl set Controller {s.name} controller_rate_limit={rate} controller_burst_limit={max(25, rate // 4)}")
    return out


class OvsdbWatcher:
    """Calls `on_change(snapshot)` from its own thread after every change in OVSDB."""

    def __init__(self, on_change: Callable[[Snapshot], None], remote: str = DEFAULT_REMOTE,
                 on_settings: Callable[[dict[int, BridgeSettings]], None] | None = None):
        helper = ovs.db.idl.SchemaHelper(location=SCHEMA)
        helper.register_columns("Bridge", ["name", "datapath_id", "ports", "other_config", "controller"])
        helper.register_columns("Controller", ["connection_mode", "controller_rate_limit"])
        helper.register_columns("Port", ["name", "interfaces", "tag", "trunks", "vlan_mode"])
        helper.register_columns("Interface", ["name", "ofport", "external_ids"])
        self.idl = ovs.db.idl.Idl(remote, helper)
        self.on_change = on_change
        self.on_settings = on_settings
        self._stop = threading.Event()
        self._wake_read, self._wake_write = os.pipe()  # stop() wakes the poll at once, so the controller stops promptly
        self._thread = threading.Thread(target=self._run, name="ovsdb-watcher", daemon=True)
        self._seen = -1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=2)
        self.idl.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.idl.run()
            if self.idl.change_seqno != self._seen:
                self._seen = self.idl.change_seqno
                try:
                    self.on_change(snapshot(self.idl))
                    if self.on_settings is not None:
                        self.on_settings(settings(self.idl))
                except Exception:  # never let one bad update end the watcher
                    LOG.exception("handling an OVSDB update failed")
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            poller.fd_wait(self._wake_read, ovs.poller.POLLIN)
            poller.block()
