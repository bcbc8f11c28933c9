"""The flow-deciding core: events in, flow-mods per bridge out. No sockets.

The os-ken app (app.py) turns OpenFlow and OVSDB events into calls here and
sends what comes back; tests drive the same calls against simulated tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from controller.flows import COOKIE_LEARNED, COOKIE_STATIC, Flow, FlowMod, segment_vid
from controller.learning import MacTable
from controller.pipeline import diff, port_vids, static_flows
from controller.state import Resolved, SwitchView, resolve
from controller.trees import flood_trees, live_links
from sdnlab.model import Segment, Topology

LOG = logging.getLogger("sdnlab.controller")


@dataclass
class Core:
    topology: Topology
    views: dict[str, SwitchView] = field(default_factory=dict)
    resolved: dict[str, Resolved] = field(default_factory=dict)
    installed: dict[str, list[Flow]] = field(default_factory=dict)  # static flows as last sent
    macs: dict[str, MacTable] = field(default_factory=dict)
    trees: dict[Segment, frozenset[int]] | None = None  # None: not computed yet (not the same as no trees)
    tree_computations: int = 0  # for metrics: every reconciliation computes the trees
    tree_moves: int = 0  # ... and how many of those changed a tree once there were trees

    def bridge_of(self, dpid: int) -> str | None:
        """The topology's OVS bridge with this datapath id."""
        for bridge in self.topology.bridges.values():
            if bridge.dpid == dpid:
                return bridge.name
        return None

    def connect(self, view: SwitchView, installed: list[Flow], now: float) -> dict[str, list[FlowMod]]:
        """A switch connected; `installed` is what its tables already hold (ours only).

        Nothing is flushed: static flows are diffed, learned flows adopted,
        so a controller restart does not disturb traffic.
        """
        cfg = self.topology.controller
        table = MacTable(limit=cfg.mac_limit, idle_timeout=cfg.mac_idle_timeout)
        unkept = table.adopt(installed, now)
        self.macs[view.bridge] = table
        self.installed[view.bridge] = [f for f in installed if f.cookie == COOKIE_STATIC]
        self.views[view.bridge] = view
        out = self._reconcile({view.bridge})
        if unkept:
            out[view.bridge] = unkept + out.get(view.bridge, [])
        return out

    def update_ports(self, view: SwitchView) -> dict[str, list[FlowMod]]:
        """A switch's ports or their bindings changed (added, removed, up, down)."""
        if view.bridge not in self.views:
            return {}
        self.views[view.bridge] = view
        return self._reconcile({view.bridge})

    def disconnect(self, bridge: str) -> dict[str, list[FlowMod]]:
        """A switch went away: the others' trees may change."""
        for table in (self.views, self.resolved, self.installed, self.macs):
            table.pop(bridge, None)
        return self._reconcile(set())

    def reload(self, topology: Topology) -> dict[str, list[FlowMod]]:
        """The file changed (a retag, a new trunk list, ...): recompute everything, and
        forget what was learned on ports whose NIC or link is not what it was."""
        old = self.resolved
        self.topology = topology
        forget: dict[str, list[FlowMod]] = {}
        for bridge, view in self.views.items():
            new = resolve(topology, view)
            before = old.get(bridge)
            if before is None:
                continue
            changed = {p for p in set(before.nics) | set(new.nics) if before.nics.get(p) != new.nics.get(p)}
            changed |= {p for p in set(before.links) | set(new.links) if before.links.get(p) != new.links.get(p)}
            table = self.macs[bridge]
            table.limit, table.idle_timeout = topology.controller.mac_limit, topology.controller.mac_idle_timeout
            if changed:
                forget[bridge] = table.forget_ports(changed)
        out = self._reconcile(set(self.views))
        return {b: forget.get(b, []) + out.get(b, []) for b in set(forget) | set(out)}

    def packet_in(self, bridge: str, in_port: int, vid: int | None, src: str, now: float) -> list[FlowMod]:
        """A frame from `src` in segment `vid` missed the learn table on `in_port`.

        Refused before learning (and counted) unless the port carries that
        segment (an access port its tag, an untagged NIC untagged, a link the
        segments classify accepts on it): a packet-in that raced a port change,
        or one forged on the way, must never teach a port a VLAN it does not
        carry. `vid` None (a non-802.1Q outer tag, learning.frame_fields) is
        never learned.
        """
        resolved = self.resolved.get(bridge)
        if resolved is None:
            return []
        table = self.macs[bridge]
        if vid is None or vid not in port_vids(resolved, self.trees, in_port):
            table.refused += 1
            return []
        return table.packet_in(in_port, vid, src, now)

    def counters(self) -> dict[str, tuple[int, int]]:
        """Per connected bridge, packet-ins counted and not learned since it connected:
        (over their (port, VLAN)'s MAC limit, refused: a VLAN their port does not carry)."""
        return {bridge: (t.over_limit, t.refused) for bridge, t in self.macs.items()}

    def flow_removed(self, bridge: str, flow: Flow) -> list[FlowMod]:
        """The switch reports a removed flow; a learned source that expired takes its destination flow along."""
        if flow.cookie != COOKIE_LEARNED or bridge not in self.macs:
            return []
        fields = flow.fields
        if "eth_src" not in fields:
            return []
        return self.macs[bridge].expired(fields["vlan_vid"], fields["eth_src"], fields["in_port"])

    def _reconcile(self, changed: set[str]) -> dict[str, list[FlowMod]]:
        """Bring every bridge's flows in line; only `changed` bridges need a look unless the trees moved."""
        for bridge in changed:
            self.resolved[bridge] = resolve(self.topology, self.views[bridge])
        # An end we cannot see counts as present: a Linux bridge speaks no
        # OpenFlow, and a switch not connected to us (yet, or any more) still
        # forwards with fail_mode=secure. Treating it as gone would tear down
        # trunk flows while switches reconnect after a controller restart.
        passive = frozenset(b.name for b in self.topology.bridges.values() if not b.is_ovs or b.name not in self.views)
        trees = flood_trees(live_links(self.topology.links, {b: r.links for b, r in self.resolved.items()}, passive))
        trees_changed = trees != self.trees
        # The first trees a (re)started core computes are not a move: what it
        # adopted from the switches was learned on the same links.
        moved = self.trees is not None and trees_changed
        self.tree_computations += 1
        self.tree_moves += moved
        if moved:
            LOG.info("flood trees: %s", {str(s): sorted(self.topology.links[i].id for i in t) for s, t in sorted(trees.items(), key=lambda x: str(x[0]))})
        self.trees = trees
        out: dict[str, list[FlowMod]] = {}
        for bridge, resolved in self.resolved.items():
            if bridge not in changed and not trees_changed:
                continue  # same ports, same trees: same flows (computing them again for every connect was quadratic)
            table = self.macs[bridge]
            table.access_ports = {p for p, nic in resolved.nics.items() if nic.tag is not None and not nic.trunks}
            # A trunk NIC's native VLAN leaves it untagged, its trunks tagged: learned flows pop per VLAN there.
            table.native = {p: segment_vid(nic.tag) for p, nic in resolved.nics.items() if nic.tag is not None and nic.trunks}
            wanted = static_flows(resolved, trees)
            mods = diff(self.installed.get(bridge, []), wanted)
            self.installed[bridge] = wanted
            # Learned entries on ports that are gone are stale; after the trees
            # move, entries behind links may point the wrong way: relearn them.
            usable = set(resolved.nics) | set(resolved.links)
            stale = {e.port for e in table.entries.values() if e.port not in usable}
            if moved:
                stale |= set(resolved.links)
            mods += table.forget_ports(stale)
            if mods:
                out[bridge] = mods
        return out
