"""`sdnlab up FILE --separate-nodes`: a lab across hosts, rehearsed on one machine.

Every node of the file becomes an emulated host: a network namespace with its
own Open vSwitch (ovsdb-server and ovs-vswitchd with a database, run directory
and logs of their own, as OVS's sandbox runs them), and the lab's controller
gets one more. They are joined by an underlay bridge, each with its node's
address (the file's, or generated). Each node's part is then built by
`sdnlab up FILE --node N` run inside its namespace with `OVS_RUNDIR` naming its
OVS: the very command a real host runs, so links between nodes become VXLAN
tunnels across the underlay and the bridges reach the controller over TLS.

Everything is recorded in the lab's state file as it is made; `down` takes
each node's part down with that node's own `down --node N`, then the
controller, the OVS instances, the underlay and the namespaces, each only
while it carries the lab's mark (a namespace's `lo` carries it in its alias).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pyroute2 import IPRoute, NetNS, netns

from controller.pvenames import base_number
from deploy.drivers import driver
from deploy.lab import STATE_ROOT, DeployError, Lab, State, channel_id, down, say, state_key, wait_reachable
from host import netlink, nsenter, preflight, unbuilt
from host.control import ControllerProcess, lab_channel, process_start, release_channel, running_controller, stop_controller
from host.loops import outside_event_loop
from host.ovsdb import ovsdb
from host.signals import interrupts_raise
from sdnlab import underlay
from sdnlab.model import Topology

RUN_ROOT = Path("/run/sdnlab/nodes")  # each node's OVS: RUN_ROOT/<lab>/<node>/ (database, sockets, pid files, logs)
OVS_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
UNDERLAY_IF = "ul0"  # a host's underlay interface, inside its namespace
OVS_TOOLS = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-appctl", "nsenter")


class Names:
    """The rehearsal's objects on this machine, from the lab's base number (as `up` names its own)."""

    def __init__(self, topology: Topology):
        self.base = base_number(topology.name)
        self.nodes = {node: k for k, node in enumerate(sorted(topology.nodes))}

    def netns(self, node: str | None) -> str:
        """The namespace of a node's host, or (None) of the controller's."""
        return f"sdl{self.base}c" if node is None else f"sdl{self.base}n{self.nodes[node]}"

    def underlay(self) -> str:
        return f"sdl{self.base}u"

    def port(self, node: str | None) -> str:
        """A host's veth on the underlay bridge."""
        return f"sdl{self.base}u{'c' if node is None else self.nodes[node]}"


def rundir(lab: str, node: str) -> Path:
    return RUN_ROOT / lab / node


def rehearsal_of(topology: Topology) -> dict | None:
    """The record of the rehearsal of this lab that is up, if it is one."""
    state = State.load(topology.name)
    return next((obj for obj in state.objects if obj["kind"] == "rehearsal"), None)


# -- the emulated hosts -------------------------------------------------------------------------------------------

@outside_event_loop
def _host(ns: str, lab: str, port: str, address: str, others: list[str]) -> None:
    """Namespace `ns` as a host on the underlay: its veth `port` (outside) becomes ul0 inside, with `address`
    and an on-link route to each of `others` (so any addresses work, whatever their networks)."""
    netns.create(ns)
    inner = port + "x"
    netlink.add_veth(port, inner, lab=lab)
    with IPRoute() as ip:
        ip.link("set", index=ip.link_lookup(ifname=inner)[0], net_ns_fd=ns)
    bits = 128 if ipaddress.ip_address(address).version == 6 else 32
    with NetNS(ns) as inside:
        lo = inside.link_lookup(ifname="lo")[0]
        inside.link("set", index=lo, ifalias=netlink.MARK + lab, state="up")  # the namespace's mark
        index = inside.link_lookup(ifname=inner)[0]
        inside.link("set", index=index, ifname=UNDERLAY_IF, state="up")
        inside.addr("add", index=index, address=address, prefixlen=bits)
        for other in others:
            inside.route("add", dst=f"{other}/{bits}", oif=index, scope="link")


@outside_event_loop
def _namespace_mark(ns: str) -> str | None:
    """The lab a namespace is marked for (None: no such namespace; '': not a lab's)."""
    if ns not in netns.listnetns():
        return None
    with NetNS(ns) as inside:
        alias = inside.get_links(inside.link_lookup(ifname="lo")[0])[0].get_attr("IFLA_IFALIAS") or ""
    return alias.removeprefix(netlink.MARK) if alias.startswith(netlink.MARK) else ""


@outside_event_loop
def set_underlay(ns: str, peer: str, up: bool) -> None:
    """Cut (a blackhole route) or restore (on-link again) the way from namespace `ns`'s host to address `peer`."""
    bits = 128 if ipaddress.ip_address(peer).version == 6 else 32
    with NetNS(ns) as inside:
        if up:
            inside.route("replace", dst=f"{peer}/{bits}", oif=inside.link_lookup(ifname=UNDERLAY_IF)[0], scope="link")
        else:
            inside.route("replace", dst=f"{peer}/{bits}", type="blackhole")


def _ovs(directory: Path, ns: str) -> list[int]:
    """Start a node's own ovsdb-server and ovs-vswitchd inside its namespace; their pids."""
    directory.mkdir(parents=True, mode=0o700)
    env = {**os.environ, "OVS_RUNDIR": str(directory), "OVS_LOGDIR": str(directory), "OVS_DBDIR": str(directory)}
    common = ["--detach", "--no-chdir", "--log-file"]
    for command in (
        ["ovsdb-tool", "create", str(directory / "conf.db"), str(OVS_SCHEMA)],
        [*nsenter.prefix(ns), "ovsdb-server", str(directory / "conf.db"), f"--remote=punix:{directory}/db.sock",
         f"--pidfile={directory}/ovsdb-server.pid", f"--unixctl={directory}/ovsdb-server.ctl", *common],
        ["ovs-vsctl", f"--db=unix:{directory}/db.sock", "--no-wait", "init"],
        [*nsenter.prefix(ns), "ovs-vswitchd", f"unix:{directory}/db.sock", f"--pidfile={directory}/ovs-vswitchd.pid",
         f"--unixctl={directory}/ovs-vswitchd.ctl", *common],
    ):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)
        if done.returncode != 0:
            raise DeployError(f"{' '.join(command[:3])} failed: {(done.stderr or done.stdout).strip()[-300:]} (logs in {directory})")
    return [int((directory / f"{daemon}.pid").read_text()) for daemon in ("ovsdb-server", "ovs-vswitchd")]


def _stop_ovs(directory: Path, pids: list[int]) -> None:
    """Stop a node's OVS (ovs-vswitchd first, taking its datapath along), then remove its run directory. The pid
    files count too: a start that failed half-way recorded no pids."""
    for daemon in ("ovs-vswitchd", "ovsdb-server"):
        pidfile = directory / f"{daemon}.pid"
        recorded = pids[("ovsdb-server", "ovs-vswitchd").index(daemon)] if len(pids) == 2 else None
        found = {recorded} if recorded else set()
        if pidfile.is_file() and pidfile.read_text().strip().isdigit():
            found.add(int(pidfile.read_text()))
        for pid in found:
            _stop_daemon(directory, daemon, pid)
    if directory.is_relative_to(RUN_ROOT) and directory.exists():
        shutil.rmtree(directory)
        if not any(directory.parent.iterdir()):
            directory.parent.rmdir()  # the lab's, made with its first node's


def _stop_daemon(directory: Path, daemon: str, pid: int) -> None:
    if not _is_daemon(pid, directory):
        return
    cleanup = ["--cleanup"] if daemon == "ovs-vswitchd" else []
    subprocess.run(["ovs-appctl", "-t", str(directory / f"{daemon}.ctl"), "exit", *cleanup], capture_output=True, timeout=10)
    deadline = time.monotonic() + 5
    while _is_daemon(pid, directory) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _is_daemon(pid, directory):
        os.kill(pid, signal.SIGKILL)


def _is_daemon(pid: int, directory: Path) -> bool:
    """Whether `pid` is still an OVS daemon of that run directory (a reused pid is never signalled)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X") and str(directory).encode() in argv


# -- up and down ---------------------------------------------------------------------------------------------------

def up(topology: Topology, path: Path, tls: bool = True) -> int:
    """Rehearse the lab with each node on an emulated host of its own."""
    unbuilt.refuse_replicas(topology, "up --separate-nodes")
    preflight.require_root("sdnlab up --separate-nodes", "it creates namespaces, Open vSwitch instances, bridges and endpoints")
    if not tls:
        raise DeployError("a lab across hosts needs TLS: the rehearsal builds it as a real one is built")
    missing = [t for t in OVS_TOOLS if shutil.which(t) is None]
    if missing:
        raise DeployError(f"the rehearsal needs {', '.join(missing)}: install them (make setup does)")
    state = State.load(topology.name)
    busy = [node for node in topology.nodes if (STATE_ROOT / state_key(topology.name, node)).exists()]
    if state.objects or busy:
        raise DeployError(f"lab {topology.name} is already up (or half up); run `sdnlab down {topology.source}` first")
    try:
        addresses = underlay.addresses(topology, generate=True)
    except underlay.UnderlayError as exc:
        raise DeployError(str(exc)) from None
    controller = underlay.controller_address(topology, addresses)
    state.topology = str(Path(path).resolve())
    started = time.monotonic()
    try:
        with interrupts_raise():
            state.add(kind="rehearsal", nodes=addresses, controller=controller)
            _build(topology, state, addresses, controller)
    except BaseException as exc:
        say(f"sdnlab up failed: {exc}" if not isinstance(exc, KeyboardInterrupt) else "sdnlab up interrupted")
        say("rolling back what it created ...")
        down_rehearsal(topology, quiet=True)
        say("rolled back; nothing it created is left")
        raise
    say(f"lab {topology.name} is up in {time.monotonic() - started:.1f} s, {len(topology.nodes)} nodes on hosts of their own")
    say(f"exec into an endpoint with: sdnlab exec {state.topology} ENDPOINT -- COMMAND; remove it all with: sdnlab down {state.topology}")
    return 0


def _build(topology: Topology, state: State, addresses: dict[str, str], controller: str) -> None:
    lab, names = topology.name, Names(topology)
    state.add(kind="link", name=names.underlay())
    netlink.add_bridge(names.underlay(), lab=lab)
    hosts: dict[str | None, str] = {**addresses, None: controller}
    for node, address in hosts.items():
        ns = names.netns(node)
        state.add(kind="netns", name=ns)
        state.add(kind="link", name=names.port(node))
        _host(ns, lab, names.port(node), address, [a for n, a in hosts.items() if n != node])
        netlink.set_master(names.port(node), names.underlay())
        say(f"{'node ' + node if node else 'controller'}: host {ns} at {address} on the underlay {names.underlay()}")
    for node in sorted(addresses):
        directory = rundir(lab, node)
        state.add(kind="ovs", node=node, dir=str(directory), pids=[])
        state.objects[-1]["pids"] = _ovs(directory, names.netns(node))
        state.save()
        say(f"node {node}: its own Open vSwitch (run directory {directory})")

    state.add(kind="tls", name=channel_id(lab))
    channel = lab_channel(channel_id(lab), state.directory / "tls")
    process = ControllerProcess(Path(state.topology), state.directory / "controller.log", port=topology.controller.port, tls=channel,
                                metrics="127.0.0.1:0", host=controller, netns=names.netns(None))
    pid = process.spawn()
    state.add(kind="process", pid=pid, started=process_start(pid), what="controller", log=str(process.log))
    process.wait()
    state.objects[-1].update(port=process.port, metrics=process.metrics_address)
    state.save()
    say(f"controller listening on {controller}:{process.port} in {names.netns(None)} (TLS; log: {process.log})")

    for node in sorted(addresses):
        state.add(kind="node", node=node, netns=names.netns(node), dir=str(rundir(lab, node)))
    _each_node(topology, state, ["up", "--controller", f"{controller}:{process.port}", "--rehearsed"])
    rehearsal = Rehearsal(topology)
    wait_reachable(rehearsal, set(topology.endpoints))


def _each_node(topology: Topology, state: State, args: list[str], nodes: list[str] | None = None) -> None:
    """Run `sdnlab <command> FILE --node N ARGS` for each node at once, inside its host, its output prefixed with the
    node; an error naming the nodes where it failed."""
    names = Names(topology)
    procs = {}
    for node in nodes or sorted(topology.nodes):
        command, *rest = args
        procs[node] = subprocess.Popen(
            [*nsenter.prefix(names.netns(node)), sys.executable, "-m", "sdnlab.cli", command, state.topology, "--node", node, *rest],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "OVS_RUNDIR": str(rundir(topology.name, node))})
    relays = [threading.Thread(target=_relay, args=(node, proc), daemon=True) for node, proc in procs.items()]
    for relay in relays:
        relay.start()
    failed = []
    try:
        for node, proc in procs.items():
            if proc.wait() != 0:
                failed.append(node)
    except BaseException:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)  # each rolls its own node back
        for proc in procs.values():
            proc.wait()
        raise
    finally:
        for relay in relays:
            relay.join(5)
    if failed:
        raise DeployError(f"`sdnlab {args[0]} --node` failed on {', '.join(failed)} (its output is above)")


def _relay(node: str, proc: subprocess.Popen) -> None:
    for line in proc.stdout:
        say(f"  [{node}] {line.rstrip()}")


def down_rehearsal(topology: Topology, quiet: bool = False) -> int:
    """Remove the rehearsal: each node's part by its own `down --node`, then what the rehearsal made, newest first."""
    state = State.load(topology.name)
    nodes = [obj["node"] for obj in state.objects if obj["kind"] == "node"]
    if nodes:
        try:
            _each_node(topology, state, ["down"], nodes)
        except DeployError as exc:
            say(f"{exc}; going on")
        state.objects = [obj for obj in state.objects if obj["kind"] != "node"]
        state.save()
    removed = len(nodes)
    for obj in reversed(list(state.objects)):
        try:
            removed += _remove(topology.name, state, obj)
        except Exception as exc:  # keep going: remove all that can be removed
            say(f"could not remove {obj['kind']} {obj.get('name', obj.get('node', ''))}: {exc}")
        state.objects.remove(obj)
        state.save()
    down(topology.name, quiet=True)  # the state directory (and a sweep for bridges marked as this lab's)
    for node in topology.nodes:  # a node whose own down failed leaves its state: never trusted again
        node_state = STATE_ROOT / state_key(topology.name, node)
        if node_state.exists():
            shutil.rmtree(node_state)
    if not quiet:
        say(f"lab {topology.name}: removed {removed} objects" if removed else f"lab {topology.name}: nothing to remove")
    return 0


def _remove(lab: str, state: State, obj: dict) -> bool:
    kind, name = obj["kind"], obj.get("name", "")
    if kind == "process":
        stop_controller(obj["pid"], state.topology, obj.get("started"))
    elif kind == "tls":
        with ovsdb() as api:
            release_channel(api, name)
    elif kind == "ovs":
        _stop_ovs(Path(obj["dir"]), obj["pids"])
    elif kind == "link":
        if not netlink.delete(name, lab=lab):
            return False
    elif kind == "netns":
        mark = _namespace_mark(name)
        if mark is None:
            return False
        if mark != lab:
            say(f"namespace {name} does not carry lab {lab}'s mark: left alone")
            return False
        outside_event_loop(netns.remove)(name)
    return kind != "rehearsal"


# -- the rehearsal while it is up -----------------------------------------------------------------------------------

class Rehearsal:
    """A rehearsal that is up, as `exec`, `status` and scenario steps use it: each endpoint is reached in its node's host."""

    def __init__(self, topology: Topology):
        self.topology = topology
        self.state = State.load(topology.name)
        self.record = next((obj for obj in self.state.objects if obj["kind"] == "rehearsal"), None)
        self.names = Names(topology)
        self._node_labs: dict[str, Lab] = {}

    @property
    def directory(self) -> Path:
        return self.state.directory

    def node_lab(self, node: str) -> Lab:
        """Node `node`'s part, read once per Rehearsal: a probe of every pair asks for it at each ping."""
        if node not in self._node_labs:
            self._node_labs[node] = Lab(self.topology, State.load(self.topology.name, node), rehearsed=True)
        return self._node_labs[node]

    def run(self, endpoint: str, command: str, timeout: float = 60) -> tuple[int, str]:
        node = self.topology.endpoints[endpoint].node
        with nsenter.inside(self.names.netns(node)):
            return self.node_lab(node).run(endpoint, command, timeout)

    def set_underlay(self, a: str, b: str, up: bool) -> None:
        """Cut or restore the underlay between two nodes, both ways (their links' tunnels go with it)."""
        nodes = self.record["nodes"]
        set_underlay(self.names.netns(a), nodes[b], up)
        set_underlay(self.names.netns(b), nodes[a], up)

    def status(self) -> dict:
        """Which nodes are up: their host, their OVS and what their own state records, each endpoint alive or not."""
        controller = next((obj for obj in self.state.objects if obj["kind"] == "process"), None)
        facts = {"lab": self.topology.name, "rehearsal": True, "up": self.record is not None, "nodes": {},
                 "controller": controller and {"pid": controller["pid"], "address": self.record["controller"], "port": controller.get("port"),
                                               "running": running_controller(controller["pid"], self.state.topology, controller.get("started"))}}
        ovs = {obj["node"]: obj for obj in self.state.objects if obj["kind"] == "ovs"}
        for node in sorted(self.topology.nodes):
            ns = self.names.netns(node)
            lab = self.node_lab(node)
            # A node whose host is gone: its endpoints are looked for where we are (and found dead).
            with nsenter.inside(ns) if _namespace_mark(ns) == self.topology.name else contextlib.nullcontext():
                endpoints = {obj["name"]: driver(obj["type"]).alive(obj) for obj in lab.state.objects if obj["kind"] == "endpoint"}
            alive = node in ovs and all(_is_daemon(pid, Path(ovs[node]["dir"])) for pid in ovs[node]["pids"])
            facts["nodes"][node] = {"address": (self.record or {}).get("nodes", {}).get(node), "host": ns, "ovs": alive,
                                    "objects": len(lab.state.objects), "endpoints": endpoints,
                                    "up": alive and bool(lab.state.objects) and all(endpoints.values())}
        facts["ok"] = bool(facts["up"] and facts["controller"] and facts["controller"]["running"]
                           and all(n["up"] for n in facts["nodes"].values()))
        return facts


def print_status(topology: Topology, as_json: bool = False) -> int:
    """`sdnlab status` of a rehearsal: the controller, and which nodes are up."""
    facts = Rehearsal(topology).status()
    if as_json:
        print(json.dumps(facts, indent=2))
        return 0 if facts["ok"] else 1
    ctl = facts["controller"]
    say(f"lab {topology.name}: rehearsed, {len(topology.nodes)} nodes on hosts of their own")
    if ctl:
        say(f"  controller pid {ctl['pid']} at {ctl['address']}:{ctl['port']}: {'running' if ctl['running'] else 'NOT RUNNING'}")
    for node, fact in facts["nodes"].items():
        dead = [name for name, alive in fact["endpoints"].items() if not alive]
        say(f"  node {node} ({fact['address']}, host {fact['host']}): {'up' if fact['up'] else 'NOT UP'}; Open vSwitch "
            f"{'running' if fact['ovs'] else 'NOT RUNNING'}; {len(fact['endpoints'])} endpoints" + (f", not running: {', '.join(dead)}" if dead else ""))
    return 0 if facts["ok"] else 1
