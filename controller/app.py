"""The os-ken application: unpacks OpenFlow and OVSDB events, asks the core,
sends what it returns. It decides nothing itself.

The handlers of OpenFlow messages are marked `@direct`: on sdnlab's channel
(controller/channel.py) each runs in the channel's reactor thread, which
serves every switch; on os-ken's stock channel, in the app's event thread. The
OVSDB watcher, the LLDP timer and corosync's dispatcher call in from their own
threads too, so every use of the core, and of anything the app keeps, holds
`self.lock`. Marking all of them keeps a switch's messages handled in the order
it sent them (a multipart reply never overtakes the features reply before it).

Clustered (`--cluster`), the app is one replica of several that every switch
connects to: controller/election.py decides from corosync's membership which
one is master, the app asks each switch for that role (OpenFlow 1.3 role
requests with a generation id), and only the master sends anything that
changes a switch. The others keep their view current from port-status and
adopt the installed flows, as a restarted controller does, when they become
master.
"""

from __future__ import annotations

import logging
import threading
import time
from time import perf_counter

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3

from controller import channel, election, lldp, ofwire
from controller.actions import Action
from controller.actions import from_os_ken as action_from_os_ken
from controller.channel import direct
from controller.core import Core
from controller.fields import from_os_ken as match_from_os_ken
from controller.flows import COOKIE_BASE, COOKIE_MASK, ETH_LLDP, Flow, FlowMod
from controller.learning import frame_fields
from controller.metrics import Counts
from controller.ovsdb import BridgeSettings, OvsdbWatcher, Snapshot, setting_warnings, vlan_disagreements
from controller.state import Port, SwitchView, port_names
from sdnlab.model import Link, Topology
from sdnlab.underlay import crossing, tunnel_name

LOG = logging.getLogger("sdnlab.controller")
LLDP_INTERVAL = 1.0
LINK_SILENT_AFTER = 3.5  # seconds without LLDP across a tunnel (a link between nodes) before it counts as down


class TokenBucket:
    """Packet-ins allowed per second per switch; the excess is counted, not handled."""

    def __init__(self, rate: int):
        self.rate = float(rate)
        self.tokens: dict[str, float] = {}
        self.stamp: dict[str, float] = {}
        self.dropped = 0

    def allow(self, key: str, now: float) -> bool:
        tokens = min(self.rate, self.tokens.get(key, self.rate) + (now - self.stamp.get(key, now)) * self.rate)
        self.stamp[key] = now
        if tokens < 1:
            self.tokens[key] = tokens
            self.dropped += 1
            return False
        self.tokens[key] = tokens - 1
        return True


class SdnlabApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    topology: Topology | None = None  # set by the launcher before os-ken instantiates the app
    ovsdb_remote: str = "unix:/var/run/openvswitch/db.sock"
    cluster_group: str | None = None  # set by the launcher with --cluster: the corosync process group of the replicas
    join_patience: float = 5.0  # seconds a replica waits for its switches before it joins the group (and may be elected)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assert self.topology is not None, "the launcher sets SdnlabApp.topology"
        self.core = Core(self.topology)
        self.names = port_names(self.topology)  # ports bound by name where OVSDB has no mark (state.resolve binds the same)
        self.lock = threading.RLock()
        channel.hold_during_reads(self)  # the fast channel takes self.lock once per read, not once per message
        self.datapaths: dict[str, object] = {}
        self.ports: dict[str, dict[int, tuple[str, bool]]] = {}
        self.connecting: dict[str, dict] = {}
        self.bindings: Snapshot = {}
        self.limiter = TokenBucket(self.topology.controller.packet_in_rate)
        self.links = lldp.LinkCheck({link.id: link.between for link in self.topology.links})
        # Links between nodes are tunnels, whose ports stay up when the underlay is cut: LLDP's silence takes them down.
        self.connected_at: dict[str, float] = {}  # bridge -> when it connected
        self.lldp_since: float | None = None  # since when this controller sends LLDP (promoted, started, reloaded)
        self.silent: dict[str, dict[int, str]] = {}  # bridge -> its tunnel ports taken down for silence -> their link
        self.silenced_at: dict[str, float] = {}  # link -> when it was last taken down for silence
        self.probes: dict[str, tuple[object, float]] = {}  # bridge -> (its session, when an echo was sent to it)
        self.full_ports: set[tuple[str, int, int]] = set()  # (bridge, port, vid) that reached their MAC limit, warned once
        self.stopping = threading.Event()
        self.counts = Counts()  # for metrics (controller/metrics.py), under self.lock
        self.warned: set[str] = set()
        self.vlan_disagreements: list[str] = []  # ports whose OVSDB tag/trunks/vlan_mode disagree with the file, now (for a status view)
        self.watcher = OvsdbWatcher(self._ovsdb_changed, self.ovsdb_remote, on_settings=self._ovsdb_settings)
        self.watcher.start()
        self.ticker = threading.Thread(target=self._tick, name="lldp", daemon=True)
        self.ticker.start()
        # Alone, the app acts on every switch (no role requests: OVS's default, "equal").
        self.decision: election.Decision | None = None
        self.roles: dict[str, str] = {}  # bridge -> the role its switch last confirmed to us
        self.reasserted: dict[str, float] = {}  # bridge -> when we last asked again for a master role it had refused
        self.cluster = None
        if self.cluster_group:
            self._join_cluster()

    def close(self) -> None:
        channel.release_during_reads(self)
        self.stopping.set()
        self.watcher.stop()
        if self.cluster is not None:
            self.cluster.stop()

    # -- the cluster -------------------------------------------------------
    def _join_cluster(self) -> None:
        from controller.corosync import Cluster

        self.decision = election.Decision(None, election.NONE, 0)
        self.cluster = Cluster(self.cluster_group, self._membership)
        self.cluster.start()
        LOG.info("cluster: corosync node %d, group %s; joining once the switches are connected (at most %.0f s)",
                 self.cluster.membership().me, self.cluster_group, self.join_patience)
        threading.Thread(target=self._join_when_ready, name="cluster-join", daemon=True).start()

    def _join_when_ready(self) -> None:
        """Join the group when every bridge of the file is connected, or after `join_patience`: a replica that
        (re)starts could otherwise be elected before its switches reach it, and they would have no master meanwhile."""
        wanted = {name for name, bridge in self.topology.bridges.items() if bridge.is_ovs}
        deadline = time.monotonic() + self.join_patience
        while not self.stopping.wait(0.05):
            with self.lock:
                ready = wanted <= set(self.ports)
            if ready or time.monotonic() > deadline:
                break
        if not self.stopping.is_set():
            self.cluster.join()

    def _membership(self, view: election.Membership) -> None:
        """Corosync's view changed (from its dispatcher thread): take the role it decides, and tell every switch."""
        with self.lock:
            before = self.decision
            after = election.decide(view, before.generation if before else 0)
            if not election.changed(before, after):
                return
            self.decision = after
            members = ",".join(map(str, view.members)) or "none"
            if not view.joined:
                LOG.info("cluster: not in the group (yet): sending nothing")
                return
            if after.role == election.NONE:
                LOG.warning("cluster: members %s, %s, ring %d: no master here; this replica steps down and sends nothing",
                            members, "quorate" if view.quorate else "NO QUORUM", view.ring_seq)
                return
            LOG.info("cluster: members %s, quorate, ring %d: master is node %d%s (generation %d)", members, view.ring_seq,
                     after.master, " (this replica)" if after.active else "", after.generation)
            for bridge, dp in self.datapaths.items():
                self._request_role(dp)
                if after.active and (before is None or not before.active):
                    # Adopt what the switch holds now (the old master's flows and what it learned), then send the difference.
                    self._request_state(bridge, dp)

    def _refused_as_slave(self, dp) -> None:
        """The switch refused a change because it takes us for a slave while we decided we are master: two replicas
        asked for master moments apart while corosync's view settled, and the other's request reached the switch
        last (OpenFlow 1.3 does not tell a demoted master). Ask again, at most once a second, and adopt what it holds."""
        with self.lock:
            bridge = self._session(dp)
            now = time.monotonic()
            if bridge is None or self.decision is None or not self.decision.active or now - self.reasserted.get(bridge, -1.0) < 1.0:
                return
            self.reasserted[bridge] = now
            LOG.warning("%s: the switch refused a change from us as a slave; asking for the master role again", bridge)
            self._request_role(dp)
            self._request_state(bridge, dp)

    def _may_send(self) -> bool:
        """Whether this replica may change switches: alone always; clustered only as master."""
        return self.decision is None or self.decision.active

    def _request_role(self, dp) -> None:
        ofp = dp.ofproto
        role = ofp.OFPCR_ROLE_MASTER if self.decision.active else ofp.OFPCR_ROLE_SLAVE
        dp.send_msg(dp.ofproto_parser.OFPRoleRequest(dp, role, self.decision.generation))

    @set_ev_cls(ofp_event.EventOFPRoleReply, MAIN_DISPATCHER)
    @direct
    def _role_reply(self, ev) -> None:
        msg = ev.msg
        with self.lock:
            bridge = self._session(msg.datapath)
            if bridge is None:
                return
            role = _ROLE_NAMES.get(msg.role, str(msg.role))
            if self.roles.get(bridge) != role:
                LOG.info("%s: role %s (generation %d)", bridge, role, msg.generation_id)
            self.roles[bridge] = role
        if role == "slave" and self.decision is not None and self.decision.active:
            self._refused_as_slave(msg.datapath)  # demoted since we asked (the once-a-second check found it)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [MAIN_DISPATCHER, CONFIG_DISPATCHER])
    @direct
    def _error(self, ev) -> None:
        msg = ev.msg
        ofp = msg.datapath.ofproto
        with self.lock:
            bridge = self._session(msg.datapath)
            if bridge is not None:
                self.counts.errors[bridge] += 1
        if msg.type == ofp.OFPET_BAD_REQUEST and msg.code == ofp.OFPBRC_IS_SLAVE:
            self._refused_as_slave(msg.datapath)
            return
        if msg.type != ofp.OFPET_ROLE_REQUEST_FAILED:
            return
        with self.lock:
            bridge = self._session(msg.datapath)
            if bridge is None or self.decision is None:
                return
            why = "stale: a newer master exists" if msg.code == ofp.OFPRRFC_STALE else f"code {msg.code}"
            LOG.warning("%s: role request refused (%s); this replica steps down until corosync's view changes", bridge, why)
            self.decision = election.Decision(None, election.NONE, self.decision.generation)

    def reload(self, topology: Topology) -> None:
        """Take a changed topology file into use without dropping what still holds."""
        with self.lock:
            self.topology = topology
            self.links = lldp.LinkCheck({link.id: link.between for link in topology.links})
            self.names = port_names(topology)
            self.lldp_since = None if self.lldp_since is None else time.monotonic()  # links of the new file are heard anew
            self.limiter.rate = float(topology.controller.packet_in_rate)
            mods = self._reconciled(self.core.reload, topology)
            LOG.info("topology reloaded: %d flow-mods for %d bridges", sum(map(len, mods.values())), len(mods))
            self._send(mods)
            self._check_vlans()

    def _reconciled(self, call, *args) -> dict[str, list[FlowMod]]:
        """A reconciling call of the core, timed for metrics (trees are computed in there)."""
        started = perf_counter()
        mods = call(*args)
        self.counts.reconcile_seconds += perf_counter() - started
        self.counts.reconciles += 1
        return mods

    # -- sending -----------------------------------------------------------
    def _send(self, mods: dict[str, list[FlowMod]], barrier: bool = True, reconcile: bool = True) -> None:
        """Send each bridge's flow-mods as one buffer (one write, or one hand-off to os-ken's send thread); nothing unless master.
        `reconcile`: they bring a switch in line with the file and its ports (not learning), for metrics."""
        if not self._may_send():
            return
        for bridge, items in mods.items():
            dp = self.datapaths.get(bridge)
            if dp is None or not items:
                continue
            self.counts.flowmsgs[bridge] += len(items)
            if reconcile:
                self.counts.reconcile_flowmods[bridge] += len(items)
            buf = b"".join(ofwire.flow_mod(mod, self._xid(dp)) for mod in items)
            if barrier:
                buf += ofwire.barrier(self._xid(dp))
            dp.send(buf)

    @staticmethod
    def _xid(dp) -> int:
        # os-ken's own counter, so our xids never collide with the messages it sends itself.
        dp.xid = (dp.xid + 1) & dp.ofproto.MAX_XID
        return dp.xid

    # -- switches ----------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    @direct
    def _features(self, ev) -> None:
        dp = ev.msg.datapath
        bridge = self.core.bridge_of(dp.id)
        if bridge is None:
            LOG.warning("switch with dpid %#x is not a bridge of %s; ignoring it", dp.id, self.topology.name)
            return
        with self.lock:
            live = self.datapaths.get(bridge)
            if live is not None and live is not dp and live.is_active:
                # One session per bridge: a second one claiming a connected dpid is an impostor
                # or a stale copy; it never replaces the live session (the real switch would be orphaned).
                LOG.warning("%s: refused a second OpenFlow session for dpid %#x from %s; the connected one (%s) stays",
                            bridge, dp.id, _peer(dp), _peer(live))
                dp.close()
                # The switch itself reconnects only when its own session died, which os-ken may not have
                # noticed yet: ask the live session for an echo; if it stays silent, _tick closes it, so
                # the switch's next attempt gets in, while an impostor never displaces a session that answers.
                if bridge not in self.probes:
                    self.probes[bridge] = (live, time.monotonic())
                    live.send_msg(live.ofproto_parser.OFPEchoRequest(live, data=b"sdnlab-liveness"))
                return
            LOG.info("switch %s (dpid %#x) connected from %s", bridge, dp.id, _peer(dp))
            self.counts.connections[bridge] += 1
            self.datapaths[bridge] = dp
            self.roles.pop(bridge, None)
            if self.decision is not None and self.decision.role != election.NONE:
                self._request_role(dp)  # before anything else: the switch handles messages in order
            self._request_state(bridge, dp)

    def _request_state(self, bridge: str, dp) -> None:
        """Ask a switch for its ports and our flows; `_finish_connect` takes both in when they are complete."""
        parser, ofp = dp.ofproto_parser, dp.ofproto
        requests = [parser.OFPPortDescStatsRequest(dp, 0),
                    parser.OFPFlowStatsRequest(dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY, COOKIE_BASE, COOKIE_MASK)]
        for request in requests:
            dp.set_xid(request)
        # Replies are matched by xid: a replica that becomes master while a switch's first exchange is still
        # answering asks again, and must not take the older, stale answers for the new ones.
        self.connecting[bridge] = {"ports": [], "flows": [], "done": set(), "xids": {r.xid for r in requests}}
        for request in requests:
            dp.send_msg(request)

    @set_ev_cls(ofp_event.EventOFPEchoReply, [MAIN_DISPATCHER, CONFIG_DISPATCHER])
    @direct
    def _echo_reply(self, ev) -> None:
        with self.lock:
            bridge = self._session(ev.msg.datapath)
            if bridge is not None:
                self.probes.pop(bridge, None)  # alive: it keeps its place

    def _close_silent_sessions(self, now: float, patience: float = 2.0) -> None:
        """Close a live session that did not answer the echo sent when another session claimed its bridge."""
        for bridge, (dp, sent) in list(self.probes.items()):
            if self.datapaths.get(bridge) is not dp:
                del self.probes[bridge]
            elif now - sent > patience:
                del self.probes[bridge]
                LOG.warning("%s: the session from %s did not answer an echo in %.0f s: closed, so the switch can reconnect",
                            bridge, _peer(dp), patience)
                dp.close()

    def _session(self, dp) -> str | None:
        """The bridge `dp` is the current session of, or None: a message on any other session is not acted on."""
        bridge = self.core.bridge_of(dp.id) if dp.id is not None else None
        return bridge if bridge is not None and self.datapaths.get(bridge) is dp else None

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    @direct
    def _port_desc(self, ev) -> None:
        ofp = ev.msg.datapath.ofproto
        self._collect(ev, "ports", [(p.port_no, (_port_name(p), _is_up(ev.msg.datapath, p))) for p in ev.msg.body if p.port_no <= ofp.OFPP_MAX])

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    @direct
    def _flow_stats(self, ev) -> None:
        self._collect(ev, "flows", [from_stats(s) for s in ev.msg.body])

    def _collect(self, ev, part: str, items: list) -> None:
        """One multipart reply while a switch connects; when ports and flows are both complete, connect it."""
        dp = ev.msg.datapath
        with self.lock:
            bridge = self._session(dp)
            state = self.connecting.get(bridge)
            if state is None or ev.msg.xid not in state["xids"]:
                return
            state[part] += items
            if not ev.msg.flags & dp.ofproto.OFPMPF_REPLY_MORE:
                state["done"].add(part)
                self._finish_connect(bridge)

    def _finish_connect(self, bridge: str) -> None:
        state = self.connecting[bridge]
        if state["done"] != {"ports", "flows"}:
            return
        del self.connecting[bridge]
        self.ports[bridge] = dict(state["ports"])
        self.connected_at[bridge] = time.monotonic()
        view = self._view(bridge)
        self._log_bindings(bridge, view)
        LOG.info("%s: %d of our flows already installed; sending only the difference", bridge, len(state["flows"]))
        self._send(self._reconciled(self.core.connect, view, state["flows"], time.monotonic()))
        self._send_lldp(bridge)

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def _dead(self, ev) -> None:
        dp = ev.datapath
        if dp is None or dp.id is None:
            return
        bridge = self.core.bridge_of(dp.id)
        with self.lock:
            if bridge is None or self.datapaths.get(bridge) is not dp:
                return
            LOG.info("switch %s disconnected", bridge)
            self.counts.disconnections[bridge] += 1
            del self.datapaths[bridge]
            self.ports.pop(bridge, None)
            self.connected_at.pop(bridge, None)
            self.silent.pop(bridge, None)
            self._send(self._reconciled(self.core.disconnect, bridge))

    # -- ports -------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    @direct
    def _port_status(self, ev) -> None:
        msg, dp = ev.msg, ev.msg.datapath
        with self.lock:
            bridge = self._session(dp)
            if bridge not in self.ports:
                return
            p, ofp = msg.desc, dp.ofproto
            name = _port_name(p)
            if msg.reason == ofp.OFPPR_DELETE:
                self.ports[bridge].pop(p.port_no, None)
                self.silent.get(bridge, {}).pop(p.port_no, None)  # a port that comes back under that number is another
                LOG.info("%s: port %d (%s) removed", bridge, p.port_no, name)
            else:
                up = _is_up(dp, p)
                new = p.port_no not in self.ports[bridge]
                self.ports[bridge][p.port_no] = (name, up)
                LOG.info("%s: port %d (%s) %s%s", bridge, p.port_no, name, "added, " if new else "", "up" if up else "down")
                if new:  # OVSDB may have told us its binding before OpenFlow told us the port
                    self._log_bindings(bridge, self._view(bridge), only={p.port_no})
            self._send(self._reconciled(self.core.update_ports, self._view(bridge)))

    def _ovsdb_changed(self, snap: Snapshot) -> None:
        with self.lock:
            # Only a change of name or binding moves a port; a change of its 802.1Q columns is only reported.
            changed = [b for b in self.ports if _bound(self.bindings.get(self._dpid(b))) != _bound(snap.get(self._dpid(b)))]
            self.bindings = snap
            for bridge in changed:
                view = self._view(bridge)
                self._log_bindings(bridge, view)
                self._send(self._reconciled(self.core.update_ports, view))
            self._check_vlans()

    def _check_vlans(self) -> None:
        """Keep the list of ports whose OVSDB VLAN columns disagree with the file, and warn of each once."""
        found = [text for name, bridge in sorted(self.topology.bridges.items()) if bridge.is_ovs
                 for text in vlan_disagreements(self.topology, name, self.bindings.get(bridge.dpid, {}))]
        for text in found:
            if text not in self.warned:  # the text names the port, its columns and the file's VLANs: once per (port, settings)
                self.warned.add(text)
                LOG.warning("%s", text)
        self.vlan_disagreements = found

    def _ovsdb_settings(self, found: dict[int, BridgeSettings]) -> None:
        """Warn, once each, when OVS would let frames of a bridge of the file past the pipeline, with the command that fixes it."""
        with self.lock:
            for dpid, bridge_settings in sorted(found.items()):
                if self.core.bridge_of(dpid) is None:
                    continue  # not ours to judge
                for warning in setting_warnings(bridge_settings, self.topology.controller.packet_in_rate):
                    if warning not in self.warned:
                        self.warned.add(warning)
                        LOG.warning("%s", warning)

    def _dpid(self, bridge: str) -> int:
        return self.topology.bridges[bridge].dpid

    def _view(self, bridge: str) -> SwitchView:
        bound = self.bindings.get(self._dpid(bridge), {})
        ports = {}
        silent = self.silent.get(bridge, {})
        for number, (name, up) in self.ports.get(bridge, {}).items():
            seen = bound.get(number)
            binding = seen.binding if seen is not None and seen.name == name else None
            ports[number] = Port(number, name, up and number not in silent, binding or self.names.get(name))
        return SwitchView(bridge, self._dpid(bridge), ports)

    def _log_bindings(self, bridge: str, view: SwitchView, only: set[int] | None = None) -> None:
        from controller.state import resolve

        resolved = resolve(self.topology, view)
        if only is not None:
            resolved = type(resolved)(*({n: x for n, x in part.items() if n in only} for part in (resolved.nics, resolved.links, resolved.ignored)))
        for number, nic in sorted(resolved.nics.items()):
            LOG.info("%s: port %d (%s) is NIC %s, %s", bridge, number, view.ports[number].name, nic.id,
                     ("untagged" if nic.tag is None else f"VLAN {nic.tag}") + (f", trunks {sorted(nic.trunks)}" if nic.trunks else ""))
        for number, link in sorted(resolved.links.items()):
            LOG.info("%s: port %d (%s) is link %s (%s)", bridge, number, view.ports[number].name, link.id, "-".join(link.between))
        for number, why in sorted(resolved.ignored.items()):
            LOG.info("%s: port %d (%s) carries nothing: %s", bridge, number, view.ports[number].name, why)

    # -- packets -----------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    @direct
    def _packet_in(self, ev) -> None:
        msg = ev.msg
        frame = frame_fields(msg.data)  # needs no lock (on os-ken's stock channel it is not held here)
        in_port = msg.match["in_port"]
        now = time.monotonic()
        lldp_in = False
        with self.lock:  # once per packet-in (sdnlab's channel holds it already, for the whole read: this is a re-entry)
            bridge = self._session(msg.datapath)
            if bridge is None:
                return
            self.counts.packet_ins[bridge] += 1
            if not self._may_send() or frame is None:
                return  # a replica that is not master learns nothing: it adopts what the switch holds when it becomes master
            src, ethertype, vid = frame
            # LLDP too: anybody on a port can send it, and parsing it costs more than learning. LLDP on a link's port
            # has a bucket of its own: a flood from a NIC must not silence a tunnel (and take it down).
            key = f"{bridge}/{in_port}" if ethertype == ETH_LLDP and self._is_link_port(bridge, in_port) else bridge
            if not self.limiter.allow(key, now):
                self.counts.rate_limited[bridge] += 1
                return
            if ethertype == ETH_LLDP:
                lldp_in = True
            else:
                table = self.core.macs.get(bridge)
                over = table.over_limit if table else 0
                mods = self.core.packet_in(bridge, in_port, vid, src, now)
                if table and table.over_limit > over and (bridge, in_port, vid) not in self.full_ports:
                    self.full_ports.add((bridge, in_port, vid))
                    LOG.warning("%s: port %d reached its limit of %d learned MACs in VLAN %s; further sources there are flooded, "
                                "not learned, and their packet-ins counted", bridge, in_port, table.limit, vid & 0xFFF if vid else "untagged")
                if mods:
                    self._send({bridge: mods}, barrier=False, reconcile=False)
        if lldp_in:
            self._lldp_in(bridge, in_port, msg.data, now)  # parses outside the lock, takes it to record

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    @direct
    def _flow_removed(self, ev) -> None:
        msg = ev.msg
        with self.lock:
            bridge = self._session(msg.datapath)
        if bridge is None:
            return
        # Unchecked, as in from_stats: a removal notice for a flow of no declared table must not stop the handler.
        flow = Flow.make(msg.table_id, msg.priority, match_from_os_ken(msg.match.items()), cookie=msg.cookie, check=False)
        with self.lock:
            self._send({bridge: self.core.flow_removed(bridge, flow)}, reconcile=False)

    # -- LLDP --------------------------------------------------------------
    def _tick(self) -> None:
        last_report = 0.0
        last_counted: dict[str, tuple[int, int]] = {}
        rounds = 0
        warned: set[str] = set()
        while not self.stopping.wait(LLDP_INTERVAL):
            now = time.monotonic()
            with self.lock:
                self._close_silent_sessions(now)
                for bridge in list(self.ports):
                    self._send_lldp(bridge)
                self._check_tunnels(now)
                if self.decision is not None and self.decision.active:
                    # OpenFlow 1.3 never tells a master it was demoted: ask each switch which role we have.
                    for dp in self.datapaths.values():
                        dp.send_msg(dp.ofproto_parser.OFPRoleRequest(dp, dp.ofproto.OFPCR_ROLE_NOCHANGE, 0))
                # Only a replica that sends LLDP can miss it: a slave counts no rounds, a new master from 0.
                rounds = rounds + 1 if self._may_send() else 0
                # After three rounds every live link has had three chances to show itself.
                if rounds >= 3:
                    live = {i for t in (self.core.trees or {}).values() for i in t} | {
                        link.index for r in self.core.resolved.values() for link in r.links.values()}
                    for link_id in self.links.missing():
                        link = next(x for x in self.topology.links if x.id == link_id)
                        both = all(b in self.ports for b in link.between)
                        if both and link.index in live and link_id not in warned:
                            warned.add(link_id)
                            LOG.warning("declared link %s (%s) not seen by LLDP", link_id, "-".join(link.between))
                if now - last_report > 10:
                    if self.limiter.dropped:
                        LOG.warning("packet-in rate limit (%d/s per switch): %d packet-ins not handled",
                                    self.topology.controller.packet_in_rate, self.limiter.dropped)
                        self.limiter.dropped = 0
                    counted = self.core.counters()
                    for bridge, counts in counted.items():
                        # A switch that reconnected counts from 0 again.
                        over, refused = (n - was if n >= was else n for n, was in zip(counts, last_counted.get(bridge, (0, 0)), strict=True))
                        if over or refused:
                            LOG.warning("%s: %d packet-ins from sources over their MAC limit and %d refused (a VLAN their port "
                                        "does not carry, or an 802.1ad tag), not learned", bridge, over, refused)
                    last_counted = counted
                    if self.links.unreported:
                        LOG.warning("%d more reports of undeclared links left out", self.links.unreported)
                        self.links.unreported = 0
                    last_report = now

    def _send_lldp(self, bridge: str) -> None:
        dp = self.datapaths.get(bridge)
        resolved = self.core.resolved.get(bridge)
        if dp is None or resolved is None or not self._may_send():
            return
        parser, ofp = dp.ofproto_parser, dp.ofproto
        for port in sorted(set(resolved.links) | set(self.silent.get(bridge, {}))):  # a silent tunnel is asked whether it is back
            data = lldp.build(dp.id, port)
            actions = [parser.OFPActionOutput(port)]
            dp.send_msg(parser.OFPPacketOut(dp, ofp.OFP_NO_BUFFER, ofp.OFPP_CONTROLLER, actions, data))

    def _check_tunnels(self, now: float) -> None:
        """Take a tunnel's link down while LLDP has not crossed it for LINK_SILENT_AFTER, and back up once it has."""
        if not self._may_send():
            self.lldp_since = None
            return
        self.lldp_since = self.lldp_since or now
        watched = {}
        for link in self._tunnels():
            if all(b in self.connected_at for b in link.between):
                watched[link.id] = max(self.lldp_since, *(self.connected_at[b] for b in link.between))
        silent = self.links.silent(watched, now, LINK_SILENT_AFTER)
        changed = set()
        for bridge, resolved in self.core.resolved.items():
            for number, link in resolved.links.items():
                if link.id in silent:
                    self.silent.setdefault(bridge, {})[number] = link.id
                    self.silenced_at[link.id] = now
                    changed.add(bridge)
                    LOG.warning("%s: link %s (port %d) silent for %.1f s: down until LLDP crosses it again", bridge, link.id, number,
                                LINK_SILENT_AFTER)
        for bridge, ports in self.silent.items():
            for number, link_id in list(ports.items()):
                # Back only once LLDP has crossed it since it went silent: not because its peer disconnected (and it is
                # watched no more), nor in the moments after the peer reconnects.
                if self.links.heard.get(link_id, -1.0) > self.silenced_at.get(link_id, now):
                    del ports[number]
                    changed.add(bridge)
                    LOG.info("%s: link %s (port %d) heard again: up", bridge, link_id, number)
        for bridge in sorted(changed):
            self._send(self._reconciled(self.core.update_ports, self._view(bridge)))

    def _tunnels(self) -> list[Link]:
        """The links that are VXLAN tunnels here: between nodes, with a port of the tunnel's name (sdnlab/underlay.py);
        a link between nodes built on one host is a veth or patch port, whose state OVS reports."""
        names = {name for ports in self.ports.values() for name, _ in ports.values()}
        return [link for link in self.topology.links if crossing(self.topology, link) and tunnel_name(link) in names]

    def _is_link_port(self, bridge: str, number: int) -> bool:
        resolved = self.core.resolved.get(bridge)
        return number in self.silent.get(bridge, {}) or (resolved is not None and number in resolved.links)

    def _lldp_in(self, bridge: str, in_port: int, data: bytes, now: float) -> None:
        seen = lldp.parse(data)
        if seen is None:
            return
        peer = self.core.bridge_of(seen[0])
        if peer is None:
            return
        with self.lock:
            here = self._view(bridge).ports.get(in_port)
            there = self._view(peer).ports.get(seen[1])
            message = self.links.observe((bridge, in_port), here and here.binding, (peer, seen[1]), there and there.binding, now)
        if message:
            (LOG.info if "confirmed" in message else LOG.warning)(message)


_ROLE_NAMES = {0: "nochange", 1: "equal", 2: "master", 3: "slave"}  # OFPCR_ROLE_* of OpenFlow 1.3


def _bound(ports: dict | None) -> dict | None:
    """A bridge's snapshot as (name, binding) per port: what decides which port is which."""
    return None if ports is None else {n: (seen.name, seen.binding) for n, seen in ports.items()}


def _peer(dp) -> str:
    address = getattr(dp, "address", None)
    return f"{address[0]}:{address[1]}" if address else "?"


def _port_name(port) -> str:
    return port.name.decode(errors="replace") if isinstance(port.name, bytes) else port.name


def _is_up(dp, port) -> bool:
    ofp = dp.ofproto
    return not (port.state & ofp.OFPPS_LINK_DOWN) and not (port.config & ofp.OFPPC_PORT_DOWN)


def from_stats(stats) -> Flow:
    """A flow-stats entry from the switch as our Flow."""
    found: list[Action] = []
    goto = None
    for inst in stats.instructions:
        if hasattr(inst, "table_id") and inst.__class__.__name__ == "OFPInstructionGotoTable":
            goto = inst.table_id
            continue
        # An action we never write becomes an actions.Unknown: never equal to what we want, so the diff replaces it.
        found += [action_from_os_ken(a) for a in getattr(inst, "actions", [])]
    # Not checked against the declared tables: the switch may hold flows with our
    # cookie that the pipeline no longer declares (an older version's tables or
    # fields). They must load, so the diff deletes them; refusing them would
    # stop the switch from ever connecting.
    return Flow.make(stats.table_id, stats.priority, match_from_os_ken(stats.match.items()), found, goto,
                     cookie=stats.cookie, idle_timeout=stats.idle_timeout, check=False)
