"""`sdnlab up | status | exec | down`: a lab built for real on this host.

A deployed lab is a topology built on this host, named by the topology's
name. Everything `up` creates is written to the lab's state file the moment
it exists, so `down`, a failed `up` and the recovery after a crash all remove
exactly what was made, newest first, and nothing else.

Names (15-byte interface names, unique on the host): each lab gets a base
number from its name, each endpoint an id from it, Proxmox style:
`veth<id>i<n>` (containers and namespaces), `tap<id>i<n>` (guests); links
between bridges are patch ports (OVS to OVS) or veths `sdl<base>l<i>a|b`.
OVS and Linux bridges keep the file's names; one that already exists and is
not this lab's is never touched.

Endpoints are built by their kind's driver (deploy/drivers.py); bridges,
ports, the controller and verification are the host's (host/).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from controller.metrics import switch_facts
from controller.pvenames import base_number, endpoint_ids, up_port_name
from controller.state import Binding, PortPlan
from deploy.drivers import driver
from deploy.endpoint import EndpointDriver
from deploy.lxc import ContainerError
from deploy.qemu import GuestError
from host import netlink, preflight, standin, unbuilt
from host.cluster import cluster_report
from host.control import (
    ControllerProcess,
    process_start,
    release_channel,
    running_controller,
    secure_channel,
    stop_controller,
    trust_switches,
)
from host.ovsdb import LabBridge, LabPort, add_bridge, add_port, bridge_owner, clear_ssl, del_bridge, lab_bridges, ovsdb
from host.preflight import HostError
from host.signals import interrupts_raise
from host.verify import dump_all, flow_reachability, normal_settings, probeable_pairs, shared_target, vlan_warnings
from sdnlab import underlay
from sdnlab.check import analyse
from sdnlab.model import Endpoint, Link, Topology

STATE_ROOT = Path("/var/lib/sdnlab/labs")
LAB_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")  # the format's rule for a topology name
BUILDER = "up"  # the OVSDB mark of bridges `sdnlab up` made


class DeployError(HostError):
    """`up` cannot go on; the message says why. What it created has been removed."""


def state_key(lab: str, node: str = "") -> str:
    """The directory of a lab's state under the labs folder; a node built on its own (`up --node`) has its own,
    so that the nodes of one lab rehearsed on one machine never share one."""
    return f"{lab}@{node}" if node else lab


@dataclass
class State:
    lab: str
    topology: str = ""
    objects: list[dict] = field(default_factory=list)
    node: str = ""  # `up --node`: only this node's part of the lab

    @property
    def path(self) -> Path:
        return self.directory / "state.json"

    @property
    def directory(self) -> Path:
        return STATE_ROOT / state_key(self.lab, self.node)

    def add(self, **obj) -> None:
        """Record an object the moment it exists (written through, for crash recovery)."""
        self.objects.append(obj)
        self.save()

    def save(self) -> None:
        STATE_ROOT.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.mkdir(exist_ok=True, mode=0o700)  # the lab's logs, keys and guest sockets: root only
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps({"lab": self.lab, "node": self.node, "topology": self.topology, "objects": self.objects}, indent=1))
        tmp.replace(self.path)

    @staticmethod
    def load(lab: str, node: str = "") -> State:
        """The state of lab `lab` (a topology name, so a plain file name), or of its node `node`: its directory is
        the one under the labs folder named after them, whatever the file says; a file that names another lab
        (or node) is refused."""
        for name in (lab, node) if node else (lab,):
            if not LAB_NAME.fullmatch(name):
                raise DeployError(f"{name!r} is not a lab or node name")
        path = State(lab, node=node).path
        if not path.exists():
            return State(lab, node=node)
        doc = json.loads(path.read_text())
        if doc.get("lab") != lab or doc.get("node", "") != node:
            raise DeployError(f"{path} names lab {doc.get('lab')!r} (node {doc.get('node') or '-'}), not {lab!r} (node {node or '-'}): "
                              "not touching anything it lists")
        return State(lab, doc.get("topology", ""), doc.get("objects", []), node)


class Names:
    """What the lab's objects are called on the host."""

    def __init__(self, topology: Topology):
        self.base = base_number(topology.name)
        self.ids = endpoint_ids(topology, self.base)
        self.lab = topology.name

    def nic(self, endpoint: Endpoint, index: int) -> str:
        return up_port_name(endpoint.type, self.ids[endpoint.name], index)

    def peer(self, endpoint: Endpoint, index: int) -> str:
        return f"vp{self.ids[endpoint.name]}i{index}"

    def container(self, endpoint: str) -> str:
        return f"sdnlab-{self.lab}-{endpoint}"

    def namespace(self, endpoint: str) -> str:
        return f"sdnlab-{self.lab}-{endpoint}"

    def link_end(self, index: int, side: str) -> str:
        return f"sdl{self.base}l{index}{side}"

    def tagging(self, k: int) -> str:
        """The tagging bridge of the lab's k-th trunk NIC on a container or namespace (host/standin.py)."""
        return f"sdl{self.base}t{k}"

    def tagging_port(self, k: int, j: int, side: str) -> str:
        """Port j's veth of that bridge: side "o" on the bridge, "i" the end that goes inside the endpoint."""
        return f"sdl{self.base}t{k}{side}{j}"


@dataclass(frozen=True)
class Part:
    """What of the file `up` builds on this host: all of it, or one node's part (`up --node`), whose links to
    other nodes' bridges are tunnels."""

    bridges: list[str]
    endpoints: list[str]
    links: list[Link]
    tunnels: list[underlay.Tunnel]


def part_of(topology: Topology, node: str = "", rehearsed: bool = False) -> Part:
    """`rehearsed`: the nodes are a rehearsal's emulated hosts, whose addresses are generated when the file has none."""
    if not node:
        return Part(sorted(topology.bridges), sorted(topology.endpoints), list(topology.links), [])
    bridges, endpoints, links = underlay.node_parts(topology, node)
    return Part(bridges, endpoints, links, underlay.tunnels(topology, node, underlay.addresses(topology, generate=rehearsed)))


class Lab:
    """A deployed lab (or one node's part of it): its topology, the names of its objects on the host and its state file."""

    def __init__(self, topology: Topology, state: State | None = None, node: str = "", rehearsed: bool = False):
        self.topology = topology
        self.state = state if state is not None else State.load(topology.name, node)
        self.names = Names(topology)
        self.part = part_of(topology, self.state.node, rehearsed)
        # Tunnels add 50 bytes: everything of a node's part gets the underlay's MTU less that, as Proxmox's VXLAN zone.
        self.mtu = underlay.lab_mtu(topology) if self.part.tunnels else None

    @property
    def directory(self) -> Path:
        return self.state.directory

    def driver(self, endpoint: str) -> EndpointDriver:
        return driver(self.topology.endpoints[endpoint].type)

    @cached_property
    def tagged(self) -> dict[str, int]:
        """Trunk NICs that get a tagging bridge (their endpoint's kernel makes no VLAN interfaces), numbered
        (asked for every NIC while building; the topology of a Lab never changes)."""
        trunked = [nic.id for name in sorted(self.topology.endpoints) for nic in self.topology.endpoints[name].nics
                   if nic.trunks and not self.driver(name).vlan_interfaces]
        return {nic_id: k for k, nic_id in enumerate(trunked)}

    def inside(self, endpoint: Endpoint, nic) -> list[tuple[str, str, str | None]]:
        """What goes into the endpoint for a NIC: (interface on the host now, its name inside, its address)."""
        address = str(nic.ip) if nic.ip else None
        k = self.tagged.get(nic.id)
        if k is None:
            return [(self.names.peer(endpoint, nic.index), f"eth{nic.index}", address)]
        ports = standin.tagging_ports(self.topology, nic)[1:]
        return [(self.names.tagging_port(k, j, "i"), name, address if j == 2 else None) for j, (name, _) in enumerate(ports, start=2)]

    def fit(self, *interfaces: str) -> None:
        """Give interfaces the lab's MTU, when its tunnels ask for one (those that do not exist are skipped:
        a tap's other side is the guest's, which learns the MTU from its virtio NIC)."""
        if self.mtu:
            for name in interfaces:
                if netlink.exists(name):
                    netlink.set_mtu(name, self.mtu)

    def run(self, endpoint: str, command: str, timeout: float = 60) -> tuple[int, str]:
        """Run a shell command inside an endpoint of a lab that is up."""
        return self.driver(endpoint).run(self, endpoint, command, timeout)


def say(text: str) -> None:
    print(text, flush=True)


def check_host(lab: Lab) -> None:
    """Refuse, before creating anything, what cannot be built here."""
    topology, state = lab.topology, lab.state
    unbuilt.refuse_replicas(topology, "up")
    preflight.require_root("sdnlab up", "it creates bridges, containers and guests")
    if state.objects:
        node = f" --node {state.node}" if state.node else ""
        what = f"node {state.node} of lab {topology.name}" if state.node else f"lab {topology.name}"
        raise DeployError(f"{what} is already up (or half up); run `sdnlab down {topology.source}{node}` first")
    for kind in sorted({topology.endpoints[e].type for e in lab.part.endpoints}):
        missing = [t for t in driver(kind).needs() if shutil.which(t) is None]
        if missing:
            raise DeployError(f"{kind} endpoints need {', '.join(missing)}: install them (make setup does)")
    with ovsdb() as api:
        for name in lab.part.bridges:
            bridge = topology.bridges[name]
            owner = bridge_owner(api, name) if on_ovs(bridge) else None
            if owner is not None and owner != topology.name:
                raise DeployError(f"an OVS bridge called {name} already exists and is not this lab's; it is left alone")
            if not on_ovs(bridge) and netlink.exists(name):
                raise DeployError(f"an interface called {name} already exists; it is left alone")


def channel_id(lab: str) -> str:
    """The lab's name in the host's PKI bundle (simulations have theirs)."""
    return f"{BUILDER}-{lab}"


def up(topology: Topology, path: Path, tls: bool = True, node: str = "", controller: str | None = None, rehearsed: bool = False) -> int:
    """Build the lab, or with `node` that node's part of it; the OpenFlow channel is TLS with both ends authenticated
    unless `tls` is False. `controller` ("HOST:PORT"): a node's bridges go to that controller, none is started here.
    `rehearsed`: this host is a rehearsal's emulated node (deploy/rehearsal.py)."""
    if controller:
        controller_address(controller)  # a mistyped address is said before anything is looked at
    try:
        lab = Lab(topology, node=node, rehearsed=rehearsed)
    except underlay.UnderlayError as exc:
        raise DeployError(str(exc)) from None
    state = lab.state
    check_host(lab)
    if node and not tls:
        raise DeployError("a lab built across hosts needs TLS: anyone reaching the controller over the network could act as a switch")
    where = _controller_place(lab, controller)
    state.topology = str(Path(path).resolve())
    started = time.monotonic()
    what = f"node {node} of lab {topology.name}" if node else f"lab {topology.name}"

    try:
        with interrupts_raise():  # SIGTERM rolls back like Ctrl-C
            _build(lab, tls, where)
    except BaseException as exc:
        say(f"sdnlab up failed: {exc}" if not isinstance(exc, KeyboardInterrupt) else "sdnlab up interrupted")
        say("rolling back what it created ...")
        down(topology.name, quiet=True, node=node)
        say("rolled back; nothing it created is left")
        if isinstance(exc, (HostError, ContainerError, GuestError)):
            raise DeployError(str(exc)) from None
        raise
    say(f"{what} is up in {time.monotonic() - started:.1f} s")
    summary(Lab(topology, state, rehearsed=rehearsed))
    return 0


@dataclass(frozen=True)
class ControllerPlace:
    """Where a lab's bridges find their controller, and whether `up` runs it here."""

    here: bool
    host: str
    port: int  # 0: any free one (a lab on one host)

    def target(self, tls: bool, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'ssl' if tls else 'tcp'}:{host}:{port or self.port}"


def controller_address(text: str) -> tuple[str, int]:
    """`--controller`'s HOST:PORT: an IP address (IPv6 in brackets, [ADDR]:PORT) and a TCP port."""
    host, _, port = text.rpartition(":")
    six = host.startswith("[") and host.endswith("]")
    try:
        address = ipaddress.ip_address(host[1:-1] if six else host)
        number = int(port)
    except ValueError:
        address, number = None, 0
    if address is None or address.version != (6 if six else 4) or not 1 <= number <= 65535:
        raise DeployError(f"--controller takes ADDRESS:PORT, an IPv4 address or [IPv6]:PORT, and a port from 1 to 65535; not {text!r}")
    return str(address), number


def _controller_place(lab: Lab, controller: str | None) -> ControllerPlace:
    """A lab on one host runs its controller on loopback. A node's part goes to `controller` when given; else the
    node whose host holds the file's `controller.host` runs it there, on `controller.port`, and the others point
    at it."""
    topology = lab.topology
    if not lab.state.node:
        return ControllerPlace(True, "127.0.0.1", 0)
    if controller:
        return ControllerPlace(False, *controller_address(controller))
    host, port = topology.controller.host, topology.controller.port
    if ipaddress.ip_address(host).is_loopback:
        if len(topology.nodes) > 1:
            raise DeployError(f"{topology.source}: controller.host is {host}, which the other nodes cannot reach: set it to the address "
                              "of the host that runs the controller (every node's bridges connect to it over TLS)")
        return ControllerPlace(True, host, port)
    return ControllerPlace(_is_local(host), host, port)


def _is_local(address: str) -> bool:
    """Whether this host holds `address` (binding to it succeeds only then)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as s:
        try:
            s.bind((address, 0))
        except OSError:
            return False
    return True


def on_ovs(bridge) -> bool:
    """Built as an OVS bridge here: the file's OVS bridges, and the stand-ins of its VLAN-aware Linux bridges."""
    return bridge.is_ovs or standin.stood_in(bridge)


def _start_controller(lab: Lab, tls: bool, where: ControllerPlace) -> str:
    """Run the lab's controller here, or only trust the one elsewhere; the target the bridges get."""
    topology, state = lab.topology, lab.state
    with ovsdb() as api:
        channel = None
        if tls and where.here:
            state.add(kind="tls", name=channel_id(topology.name))  # before: down takes back a half-made trust too
            channel = secure_channel(api, channel_id(topology.name), state.directory / "tls")
        elif tls:
            # The controller runs on another host: this host's switches present the switch certificate and trust
            # the CAs of the bundle, which holds the lab's once its controller is up (one PKI for the cluster).
            state.add(kind="switch-ssl")
            trust_switches(api)
            say(f"bridges go to the controller at {where.target(tls)} (TLS)")
            return where.target(tls)
    controller = ControllerProcess(Path(state.topology), state.directory / "controller.log", port=where.port, tls=channel,
                                   metrics="127.0.0.1:0", host=where.host)
    pid = controller.spawn()
    state.add(kind="process", pid=pid, started=process_start(pid), what="controller", log=str(controller.log))
    controller.wait()
    state.objects[-1]["port"] = controller.port  # the port it reported holding: known only now
    state.objects[-1]["metrics"] = controller.metrics_address
    state.save()
    say(f"controller listening on {where.host}:{controller.port} ({'TLS, switch and controller certificates checked' if tls else 'plain TCP: NO TLS'}; "
        f"log: {controller.log}); metrics: http://{controller.metrics_address}/metrics")
    return controller.target


def _build(lab: Lab, tls: bool, where: ControllerPlace) -> None:
    topology, state, names, part = lab.topology, lab.state, lab.names, lab.part
    plan = PortPlan(topology)
    datapath = preflight.datapath()
    if not datapath.kernel:
        say("no openvswitch kernel module: OVS bridges use the userspace datapath")
    if standin.note(topology):
        say(standin.note(topology))
    target = _start_controller(lab, tls, where)

    with ovsdb() as api:
        for name in part.bridges:
            bridge = topology.bridges[name]
            if on_ovs(bridge):
                state.add(kind="ovs-bridge", name=name)
                add_bridge(api, LabBridge(name, name, topology.name, BUILDER, bridge.dpid, target, not datapath.kernel,
                                          topology.controller.packet_in_rate, standin=not bridge.is_ovs))
            else:
                state.add(kind="link", name=name)
                netlink.add_bridge(name, lab=topology.name)
                lab.fit(name)
            say(f"bridge {name} ({bridge.type}) created")

        vlans = {name: standin.port_vlans(topology, plan[name]) for name, b in topology.bridges.items() if standin.stood_in(b)}

        def attach(bridge: str, iface: str, binding: Binding, patch_peer: str = "") -> None:
            if on_ovs(topology.bridges[bridge]):
                number = plan.port(bridge, binding)
                add_port(api, bridge, LabPort(iface, number, binding, patch_peer, vlans.get(bridge, {}).get(number)))
            else:
                netlink.set_master(iface, bridge)

        for link in part.links:
            a, b = link.between
            ea, eb = names.link_end(link.index, "a"), names.link_end(link.index, "b")
            binding = Binding("link", link.id)
            if on_ovs(topology.bridges[a]) and on_ovs(topology.bridges[b]):
                attach(a, ea, binding, patch_peer=eb)  # patch ports go with their bridges
                attach(b, eb, binding, patch_peer=ea)
            else:
                state.add(kind="link", name=ea)
                netlink.add_veth(ea, eb, lab=topology.name)  # the peer goes with it on delete
                netlink.set_up(eb)
                lab.fit(ea, eb)
                attach(a, ea, binding)
                attach(b, eb, binding)
            say(f"link {link.id} ({a}-{b}) created")

        for tunnel in part.tunnels:
            state.add(kind="link", name=tunnel.device)
            netlink.add_vxlan(tunnel.device, tunnel.link.vni, tunnel.local, tunnel.remote, underlay.VXLAN_PORT, lab.mtu, lab=topology.name)
            attach(tunnel.bridge, tunnel.device, Binding("link", tunnel.link.id))
            say(f"link {tunnel.link.id} ({'-'.join(tunnel.link.between)}) created: VXLAN {tunnel.link.vni} to node {tunnel.remote_node} "
                f"at {tunnel.remote} (MTU {lab.mtu})")

        booting: list[tuple[EndpointDriver, Endpoint]] = []
        prepared: set[str] = set()
        for endpoint in (topology.endpoints[e] for e in part.endpoints):
            drv = driver(endpoint.type)
            for nic in endpoint.nics:
                state.add(kind="link", name=names.nic(endpoint, nic.index))
                iface = drv.make_nic(lab, endpoint, nic)
                lab.fit(iface, names.peer(endpoint, nic.index))
                attach(nic.bridge, iface, Binding("nic", nic.id))
                if nic.id in lab.tagged:
                    _tagging_bridge(lab, api, endpoint, nic, datapath)
            if drv.booting:
                booting.append((drv, endpoint))  # started together below, so that they boot in parallel
                continue
            if drv.kind not in prepared:
                drv.prepare(lab, [e for e in topology.endpoints.values() if e.type == drv.kind])
                prepared.add(drv.kind)
            say(drv.up_line(lab, _start(lab, drv, endpoint)))

    records = []
    for drv, endpoint in booting:
        if drv.kind not in prepared:
            drv.prepare(lab, [e for d, e in booting if d is drv])
            prepared.add(drv.kind)
        records.append((drv, _start(lab, drv, endpoint)))
    if records:
        _wait_booting(lab, records)
    wait_reachable(lab, set(part.endpoints))


def _tagging_bridge(lab: Lab, api, endpoint: Endpoint, nic, datapath) -> None:
    """A trunk NIC on a container or namespace: the NIC's veth ends on a small standalone OVS bridge that
    gives the endpoint `eth<i>` and one `eth<i>.<vlan>` per VLAN (this host's kernel has no 802.1Q)."""
    k, names = lab.tagged[nic.id], lab.names
    name = names.tagging(k)
    lab.state.add(kind="ovs-bridge", name=name)
    binding = Binding("nic", nic.id)
    ports = standin.tagging_ports(lab.topology, nic)
    members = [LabPort(names.peer(endpoint, nic.index), 1, binding, vlan=ports[0][1])]
    for j, (_, vlan) in enumerate(ports[1:], start=2):
        outer = names.tagging_port(k, j, "o")
        lab.state.add(kind="link", name=outer)
        netlink.add_veth(outer, names.tagging_port(k, j, "i"), nic.mac, lab=lab.topology.name)
        members.append(LabPort(outer, j, binding, vlan=vlan))
    for port in members:
        netlink.set_up(port.name)
    add_bridge(api, LabBridge(name, nic.id, lab.topology.name, BUILDER, 0, "", not datapath.kernel, 0, standin=True), members)
    say(f"tagging bridge {name} for trunk NIC {nic.id}: {', '.join(n for n, _ in ports[1:])} inside {endpoint.name}")


def _start(lab: Lab, drv: EndpointDriver, endpoint: Endpoint) -> dict:
    record = drv.record(lab, endpoint)
    lab.state.add(kind="endpoint", type=drv.kind, **record)  # before it exists: down removes a half-made one too
    drv.start(lab, endpoint, record)
    return record


def _wait_booting(lab: Lab, records: list[tuple[EndpointDriver, dict]], timeout: float = 120) -> None:
    """Endpoints that boot (guests) come up in parallel; a live counter on a terminal, a line for each as it comes up."""
    from sdnlab.progress import Progress

    progress = Progress(sys.stdout)
    started = time.monotonic()
    pending = list(records)
    while pending:
        for drv, record in list(pending):
            if drv.ready(lab, record):
                pending.remove((drv, record))
                done = len(records) - len(pending)
                progress.update("booting", done, len(records))
                log = drv.console_log(record)
                logs = f"; console log: {log}" if log else ""
                say(f"{drv.up_line(lab, record)} [{done}/{len(records)}] after {time.monotonic() - started:.1f} s{logs}")
        if time.monotonic() - started > timeout:
            names = ", ".join(record["name"] for _, record in pending)
            raise DeployError(f"{names} did not come up within {timeout:.0f} s (console logs in {STATE_ROOT})")
        progress.update("booting", len(records) - len(pending), len(records))
        time.sleep(0.2)


def wait_reachable(lab, among: set[str], timeout: float = 60) -> None:
    """Until every pair of `among` the check calls reachable (and that shares a subnet) answers ping from inside
    (a node's part waits for its own endpoints: the other nodes may not be up yet). `lab`: anything with a
    `topology` and a `run(endpoint, command)`."""
    topology = lab.topology
    analysis = analyse(topology)
    pairs = [p for p in probeable_pairs(topology) if analysis.is_reachable(*p) and set(p) <= among]
    deadline = time.monotonic() + timeout
    waiting = list(pairs)
    while waiting:
        still = []
        for a, b in waiting:
            target = shared_target(topology.endpoints[a].nics, topology.endpoints[b].nics)
            status, _ = lab.run(a, f"ping -c 1 -W 1 {target}")
            if status != 0:
                still.append((a, b))
        waiting = still
        if waiting and time.monotonic() > deadline:
            raise DeployError(f"endpoints that should reach each other do not: {', '.join(f'{a}-{b}' for a, b in waiting)}"
                              f" ({channel_states(topology)}; the controller's last words: {_log_tail(lab)})")
    if pairs:
        say(f"all {len(pairs)} reachable pairs answer ping from inside the endpoints")


def channel_states(topology: Topology) -> str:
    """How each OVS bridge of the lab stands with its controller, as OVS says it: for an `up` that fails."""
    said = []
    for name in sorted(n for n, b in topology.bridges.items() if b.is_ovs):
        out = subprocess.run(["ovs-vsctl", "--timeout=5", "--bare", "--columns=is_connected,status", "list", "Controller",
                              _controller_uuid(name)], capture_output=True, text=True).stdout.replace(",", " ").split()
        kept = [w for w in out if w in ("true", "false") or w.startswith(("state=", "last_error=", "sec_since_"))]
        said.append(f"bridge {name}: {' '.join(kept).replace('true', 'connected', 1).replace('false', 'NOT connected', 1) or 'no controller'}")
    return "; ".join(said)


def _controller_uuid(bridge: str) -> str:
    return subprocess.run(["ovs-vsctl", "--timeout=5", "get", "Bridge", bridge, "controller"], capture_output=True,
                          text=True).stdout.strip().strip("[]") or "none"


def _log_tail(lab: Lab, lines: int = 3) -> str:
    try:
        return " | ".join((lab.directory / "controller.log").read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "no log"


def summary(lab: Lab) -> None:
    say("")
    say(f"{'endpoint':<12} {'type':<5} {'addresses':<22} shell")
    for name in lab.part.endpoints:
        endpoint = lab.topology.endpoints[name]
        addresses = " ".join(str(n.ip) for n in endpoint.nics if n.ip) or "-"
        say(f"{name:<12} {endpoint.type:<5} {addresses:<22} {lab.driver(name).shell_hint(lab, name)}")
    node = f" --node {lab.state.node}" if lab.state.node else ""
    say(f"\nstate: {lab.state.path}; remove everything with: sdnlab down {lab.state.topology}{node}")


def down(lab: str, quiet: bool = False, node: str = "") -> int:
    """Remove everything the lab's (or its node's) state file records and that still carries the lab's mark,
    newest first; safe to run again."""
    state = State.load(lab, node)
    removed = 0
    with ovsdb() as api:
        for obj in reversed(state.objects):
            kind, name = obj["kind"], obj.get("name", "")
            try:
                removed += _remove(api, lab, state, obj)
            except Exception as exc:  # keep going: remove all that can be removed
                say(f"could not remove {kind} {name}: {exc}")
            state.objects.remove(obj)
            state.save()
        # A crash between creating a bridge and recording it cannot happen (recorded first),
        # but a lost state file can: sweep bridges marked as this lab's.
        for name in lab_bridges(api, lab, BUILDER):
            del_bridge(api, name)
            removed += 1
    if state.directory.exists():
        shutil.rmtree(state.directory)
    if not quiet:
        what = f"lab {lab}" + (f" node {node}" if node else "")
        say(f"{what}: removed {removed} objects" if removed else f"{what}: nothing to remove")
    return 0


def _remove(api, lab: str, state: State, obj: dict) -> bool:
    """Remove one recorded object if it is still the lab's (by its mark); whether it was removed."""
    kind, name = obj["kind"], obj.get("name", "")
    if kind == "process":
        stop_controller(obj["pid"], state.topology, obj.get("started"))
    elif kind == "endpoint":
        driver(obj["type"]).remove(obj)
    elif kind == "link":
        if not netlink.delete(name, lab=lab):
            if netlink.exists(name):
                say(f"interface {name} does not carry lab {lab}'s mark: left alone")
            return False
    elif kind == "ovs-bridge":
        if bridge_owner(api, name) not in (lab, None):
            say(f"OVS bridge {name} does not carry lab {lab}'s mark: left alone")
            return False
        del_bridge(api, name)
    elif kind == "tls":
        release_channel(api, name)
    elif kind == "switch-ssl" and not any(lab_bridges(api, None, builder) for builder in (BUILDER, "sim")):
        clear_ssl(api)  # the switches' TLS settings are shared: they go with the last lab's bridges
    return True


def status(topology: Topology, as_json: bool = False, node: str = "") -> int:
    """What of a lab (or of its node `node`) is running and whether its flows enforce the check; with `as_json`,
    the same as one JSON object."""
    facts = status_facts(topology, node)
    if as_json:
        print(json.dumps(facts, indent=2))
    elif "cluster" in facts:
        for line in facts["cluster"]:
            say(line)
    elif not facts["up"]:
        say(f"lab {topology.name}{f' node {node}' if node else ''} is not up")
    else:
        say(f"lab {topology.name}{f' node {node}' if node else ''} ({facts['topology']})")
        ctl = facts["controller"]
        if ctl is not None:
            metrics = f", metrics http://{ctl['metrics']}/metrics" if ctl["metrics"] else ""
            say(f"  controller pid {ctl['pid']} on port {ctl['port']}{metrics}: {'running' if ctl['running'] else 'NOT RUNNING'}")
        for name, (noun, alive) in facts["recorded_endpoints"].items():
            say(f"  {noun} {name}: {'running' if alive else 'NOT RUNNING'}")
        for name in facts["bridges"]:
            say(f"  OVS bridge {name}")
        disagree = facts["disagree"]
        if facts["pairs"] is None:
            say("  the flows of one node's part are not checked against the whole lab (`status` on one host of the whole lab does)")
            return 0 if facts["ok"] else 1
        say(f"  the installed flows let {facts['reachable']} of {facts['pairs']} endpoint pairs reach each other; "
            + ("the check agrees" if not disagree else f"the check DISAGREES on {', '.join('-'.join(p) for p in disagree)}"))
        for warning in facts["warnings"]:
            say(f"  {warning}")
    return 0 if facts["ok"] else 1


def status_facts(topology: Topology, node: str = "") -> dict:
    """`status` as data (the JSON of `status --json`)."""
    if topology.controller.replicas > 1:
        # A clustered controller runs on a real cluster's nodes (`up` builds one controller): report what this node sees.
        with ovsdb() as api:
            lines, healthy = cluster_report(topology, api)
        return {"lab": topology.name, "cluster": lines, "ok": healthy}
    lab = Lab(topology, node=node)
    state = lab.state
    if not state.objects:
        return {"lab": topology.name, **({"node": node} if node else {}), "up": False, "ok": False}
    controller, endpoints, bridges = None, {}, []
    for obj in state.objects:
        kind, name = obj["kind"], obj.get("name", "")
        if kind == "process":
            controller = {"pid": obj["pid"], "port": obj["port"], "metrics": obj.get("metrics"),
                          "running": running_controller(obj["pid"], state.topology, obj.get("started"))}
        elif kind == "endpoint":
            drv = driver(obj["type"])
            endpoints[name] = (drv.noun, drv.alive(obj))
        elif kind == "ovs-bridge":
            bridges.append(name)
    switches = {}
    if controller and controller["running"] and controller["metrics"]:
        try:
            with urllib.request.urlopen(f"http://{controller['metrics']}/metrics", timeout=5) as answer:
                switches = switch_facts(answer.read().decode())
        except OSError:
            switches = {}
    if node:  # a node's part: what runs here; the flows of the other nodes' bridges are on their hosts
        alive = all(a for _, a in endpoints.values()) and (controller is None or controller["running"])
        return {"lab": topology.name, "node": node, "up": True, "topology": state.topology, "controller": controller,
                "recorded_endpoints": endpoints, "bridges": bridges, "switches": switches, "reachable": None, "pairs": None,
                "agree": None, "disagree": [], "warnings": [], "ok": alive}
    enforced = enforced_reachability(topology)
    analysis = analyse(topology)
    disagree = [list(p) for p, r in enforced.items() if r != analysis.is_reachable(*p)]
    return {"lab": topology.name, "up": True, "topology": state.topology, "controller": controller,
            "endpoints": endpoint_states(topology, state), "recorded_endpoints": endpoints, "bridges": bridges, "switches": switches,
            "reachable": sum(enforced.values()), "pairs": len(enforced), "agree": not disagree, "disagree": disagree,
            "warnings": vlan_warnings(topology), "ok": not disagree}


def endpoint_states(topology: Topology, state: State | None = None) -> dict[str, str]:
    """Each endpoint's live state, as `status` sees it: 'running' (its driver finds it alive), 'stopped'
    (the state file records it, but it is not alive) or 'absent' (not recorded: the lab is down, or
    `up` did not get to it). The names are `sdnlab.draw.STATE_COLOURS`'s."""
    lab = Lab(topology, state)
    recorded = {(obj.get("type"), obj.get("name")): obj for obj in lab.state.objects if obj["kind"] == "endpoint"}
    states = {}
    for name, endpoint in sorted(topology.endpoints.items()):
        drv = lab.driver(name)
        obj = recorded.get((drv.kind, drv.record(lab, endpoint)["name"]))
        states[name] = "absent" if obj is None else ("running" if drv.alive(obj) else "stopped")
    return states


def enforced_reachability(topology: Topology) -> dict[tuple[str, str], bool]:
    """Which pairs the flows installed right now let through (dumped and traced in the table simulator)."""
    names = sorted(topology.endpoints)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    return flow_reachability(topology, PortPlan(topology), dump_all(topology), pairs, normal=normal_settings(topology))
