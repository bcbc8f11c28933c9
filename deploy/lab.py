"""`sdnlab up | status | exec | down`: a lab built for real on this host.

Everything `up` creates is written to the lab's state file the moment it
exists, so `down`, a failed `up` and the recovery after a crash all remove
exactly what was made, newest first, and nothing else.

Names (15-byte interface names, unique on the host): each lab gets a base
number from its name, each endpoint an id from it, Proxmox style:
`veth<id>i<n>` (containers and namespaces), `tap<id>i<n>` (guests); links
between bridges are patch ports (OVS to OVS) or veths `sdl<base>l<i>a|b`.
OVS and Linux bridges keep the file's names; one that already exists and is
not this lab's is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from controller.launcher import free_port, wait_listening
from controller.simlab import port_plan
from sdnlab.check import analyse
from sdnlab.deploy import lxc, netlink, netns, ovs, qemu
from sdnlab.model import Endpoint, Topology

STATE_ROOT = Path("/var/lib/sdnlab/labs")


class DeployError(Exception):
    """`up` cannot go on; the message says why. What it created has been removed."""


def base_number(lab: str) -> int:
    return 100 + zlib.crc32(lab.encode()) % 900 * 10  # 100..9090: ids fit veth<id>i<n> in 15 bytes


@dataclass
class State:
    lab: str
    topology: str = ""
    objects: list[dict] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return STATE_ROOT / self.lab / "state.json"

    @property
    def directory(self) -> Path:
        return STATE_ROOT / self.lab

    def add(self, **obj) -> None:
        """Record an object the moment it exists (written through, for crash recovery)."""
        self.objects.append(obj)
        self.save()

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"lab": self.lab, "topology": self.topology, "objects": self.objects}, indent=1))
        tmp.replace(self.path)

    @staticmethod
    def load(lab: str) -> State:
        path = STATE_ROOT / lab / "state.json"
        if not path.exists():
            return State(lab)
        doc = json.loads(path.read_text())
        return State(doc["lab"], doc.get("topology", ""), doc.get("objects", []))


class Names:
    def __init__(self, topology: Topology):
        self.base = base_number(topology.name)
        self.ids = {name: self.base + i for i, name in enumerate(sorted(topology.endpoints))}
        self.lab = topology.name

    def nic(self, endpoint: Endpoint, index: int) -> str:
        return f"{'tap' if endpoint.type == 'kvm' else 'veth'}{self.ids[endpoint.name]}i{index}"

    def peer(self, endpoint: Endpoint, index: int) -> str:
        return f"vp{self.ids[endpoint.name]}i{index}"

    def container(self, endpoint: str) -> str:
        return f"sdnlab-{self.lab}-{endpoint}"

    def namespace(self, endpoint: str) -> str:
        return f"sdnlab-{self.lab}-{endpoint}"

    def link_end(self, index: int, side: str) -> str:
        return f"sdl{self.base}l{index}{side}"


def say(text: str) -> None:
    print(text, flush=True)


def preflight(topology: Topology, state: State) -> None:
    """Refuse, before creating anything, what cannot be built here."""
    if os.geteuid() != 0:
        raise DeployError("sdnlab up needs root (it creates bridges, containers and guests)")
    if state.objects:
        raise DeployError(f"lab {topology.name} is already up (or half up); run `sdnlab down {topology.source}` first")
    kinds = {e.type for e in topology.endpoints.values()}
    needs = {"lxc": ["lxc-create", "lxc-start", "lxc-attach"], "kvm": [qemu.qemu_binary(), "cpio", "busybox"]}
    for kind, tools in needs.items():
        missing = [t for t in tools if kind in kinds and shutil.which(t) is None]
        if missing:
            raise DeployError(f"{kind} endpoints need {', '.join(missing)}: install them (make setup does)")
    aware = [b.name for b in topology.bridges.values() if not b.is_ovs and b.vlan_aware]
    if aware and not netlink.vlan_filtering_supported():
        raise DeployError(f"bridge {aware[0]} is a VLAN-aware Linux bridge and this kernel has no bridge VLAN filtering")
    if aware:
        raise DeployError(f"bridge {aware[0]}: VLAN-aware Linux bridges are not deployed yet (use an OVS bridge)")
    with ovs.ovsdb() as api:
        for name, bridge in topology.bridges.items():
            owner = ovs.bridge_owner(api, name) if bridge.is_ovs else None
            if owner is not None and owner != topology.name:
                raise DeployError(f"an OVS bridge called {name} already exists and is not this lab's; it is left alone")
            if not bridge.is_ovs and netlink.exists(name):
                raise DeployError(f"an interface called {name} already exists; it is left alone")


def up(topology: Topology, path: Path) -> int:
    state = State.load(topology.name)
    preflight(topology, state)
    state.topology = str(Path(path).resolve())
    started = time.monotonic()

    def on_signal(*_):  # SIGTERM rolls back like Ctrl-C
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_signal)
    try:
        _build(topology, state)
    except BaseException as exc:
        say(f"sdnlab up failed: {exc}" if not isinstance(exc, KeyboardInterrupt) else "sdnlab up interrupted")
        say("rolling back what it created ...")
        down(topology.name, quiet=True)
        say("rolled back; nothing it created is left")
        if isinstance(exc, (DeployError, lxc.ContainerError, qemu.GuestError)):
            raise DeployError(str(exc)) from None
        raise
    finally:
        signal.signal(signal.SIGTERM, old)
    say(f"lab {topology.name} is up in {time.monotonic() - started:.1f} s")
    summary(topology, state)
    return 0


def _build(topology: Topology, state: State) -> None:
    names = Names(topology)
    plan = port_plan(topology)
    userspace = not Path("/sys/module/openvswitch").exists()
    if userspace:
        say("no openvswitch kernel module: OVS bridges use the userspace datapath")
    port = free_port()
    log = state.directory / "controller.log"
    state.directory.mkdir(parents=True, exist_ok=True)
    controller = subprocess.Popen([sys.executable, "-m", "sdnlab.cli", "controller", state.topology, "--port", str(port)],
                                  stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    state.add(kind="process", pid=controller.pid, what="controller", port=port, log=str(log))
    why = wait_listening(port, controller)
    if why:
        raise DeployError(f"{why}; its log: {log}")
    say(f"controller listening on 127.0.0.1:{port} (log: {log})")

    with ovs.ovsdb() as api:
        for name, bridge in sorted(topology.bridges.items()):
            if bridge.is_ovs:
                state.add(kind="ovs-bridge", name=name)
                ovs.add_bridge(api, name, topology.name, bridge.dpid, f"tcp:127.0.0.1:{port}", userspace, topology.controller.packet_in_rate)
            else:
                state.add(kind="link", name=name)
                netlink.add_bridge(name)
            say(f"bridge {name} ({bridge.type}) created")

        def attach(bridge: str, iface: str, binding_kind: str, binding_id: str, patch_peer: str = "") -> None:
            if topology.bridges[bridge].is_ovs:
                number = next(n for n, b in plan[bridge].items() if b.kind == binding_kind and b.id == binding_id)
                key = "sdnlab-nic" if binding_kind == "nic" else "sdnlab-link"
                ovs.add_port(api, bridge, iface, number, key, binding_id, "patch" if patch_peer else "", patch_peer)
            else:
                netlink.set_master(iface, bridge)

        for link in topology.links:
            a, b = link.between
            ea, eb = names.link_end(link.index, "a"), names.link_end(link.index, "b")
            if topology.bridges[a].is_ovs and topology.bridges[b].is_ovs:
                attach(a, ea, "link", link.id, patch_peer=eb)  # patch ports go with their bridges
                attach(b, eb, "link", link.id, patch_peer=ea)
            else:
                state.add(kind="link", name=ea)
                netlink.add_veth(ea, eb)  # the peer goes with it on delete
                netlink.set_up(eb)
                attach(a, ea, "link", link.id)
                attach(b, eb, "link", link.id)
            say(f"link {link.id} ({a}-{b}) created")

        guests = []
        for name, endpoint in sorted(topology.endpoints.items()):
            if endpoint.type == "kvm":
                for nic in endpoint.nics:
                    tap = names.nic(endpoint, nic.index)
                    state.add(kind="link", name=tap)
                    netlink.add_tap(tap)
                    attach(nic.bridge, tap, "nic", nic.id)
                directory = state.directory / "guests" / name
                guests.append((name, endpoint, directory))
                continue
            moved = []
            for nic in endpoint.nics:
                host_side, inside = names.nic(endpoint, nic.index), names.peer(endpoint, nic.index)
                state.add(kind="link", name=host_side)
                netlink.add_veth(host_side, inside, nic.mac)
                attach(nic.bridge, host_side, "nic", nic.id)
                moved.append((inside, nic))
            if endpoint.type == "lxc":
                container = names.container(name)
                state.add(kind="lxc", name=container)
                lxc.create(container, [(inside, nic.mac) for inside, nic in moved])
                lxc.start(container, [str(nic.ip) if nic.ip else None for _, nic in moved])
                say(f"container {container} running")
            else:
                namespace = names.namespace(name)
                state.add(kind="netns", name=namespace)
                netns.create(namespace)
                for inside, nic in moved:
                    netns.move_in(namespace, inside, f"eth{nic.index}", nic.mac, str(nic.ip) if nic.ip else None)
                say(f"namespace {namespace} ready")

    if guests:
        accel = qemu.accelerator(state.directory)
        for name, endpoint, directory in guests:
            nics = [qemu.GuestNic(names.nic(endpoint, n.index), n.mac, str(n.ip) if n.ip else None) for n in endpoint.nics]
            state.add(kind="guest", name=name, dir=str(directory))
            qemu.start(directory, name, nics, accel)
        _wait_for_guests(guests, accel)
    _wait_reachable(topology, state)


def _wait_for_guests(guests: list, accel: str, timeout: float = 120) -> None:
    """All guests boot in parallel; a live counter on a terminal, a line per guest as it comes up."""
    from sdnlab.progress import Progress

    progress = Progress(sys.stdout)
    started = time.monotonic()
    pending = {name: directory for name, _, directory in guests}
    while pending:
        for name, directory in list(pending.items()):
            if qemu.ready(directory, name):
                del pending[name]
                done = len(guests) - len(pending)
                progress.update("booting guests", done, len(guests))
                say(f"guest {name} booted ({accel}) [{done}/{len(guests)}] after {time.monotonic() - started:.1f} s; "
                    f"console log: {directory / 'console.log'}")
        if time.monotonic() - started > timeout:
            raise DeployError(f"guests {', '.join(pending)} did not come up within {timeout:.0f} s (console logs in {STATE_ROOT})")
        progress.update("booting guests", len(guests) - len(pending), len(guests))
        time.sleep(0.2)


def _wait_reachable(topology: Topology, state: State, timeout: float = 60) -> None:
    """Until every pair the check calls reachable (and that shares a subnet) answers ping from inside."""
    from sim.probe import probeable_pairs, shared_target

    analysis = analyse(topology)
    pairs = [p for p in probeable_pairs(topology) if analysis.is_reachable(*p)]
    deadline = time.monotonic() + timeout
    waiting = list(pairs)
    while waiting:
        still = []
        for a, b in waiting:
            target = shared_target(topology.endpoints[a].nics, topology.endpoints[b].nics)
            status, _ = run_in(topology, state, a, f"ping -c 1 -W 1 {target}")
            if status != 0:
                still.append((a, b))
        waiting = still
        if waiting and time.monotonic() > deadline:
            raise DeployError(f"endpoints that should reach each other do not: {', '.join(f'{a}-{b}' for a, b in waiting)}")
    if pairs:
        say(f"all {len(pairs)} reachable pairs answer ping from inside the endpoints")


def run_in(topology: Topology, state: State, endpoint: str, command: str, timeout: float = 60) -> tuple[int, str]:
    """Run a shell command inside an endpoint of a lab that is up."""
    names = Names(topology)
    kind = topology.endpoints[endpoint].type
    if kind == "lxc":
        return lxc.run(names.container(endpoint), command, timeout)
    if kind == "host":
        return netns.run(names.namespace(endpoint), command, timeout)
    return qemu.run(state.directory / "guests" / endpoint, command, timeout)


def summary(topology: Topology, state: State) -> None:
    names = Names(topology)
    say("")
    say(f"{'endpoint':<12} {'type':<5} {'addresses':<22} shell")
    for name, endpoint in sorted(topology.endpoints.items()):
        addresses = " ".join(str(n.ip) for n in endpoint.nics if n.ip) or "-"
        shell = {"lxc": f"lxc-attach -n {names.container(name)}", "host": f"ip netns exec {names.namespace(name)} sh",
                 "kvm": f"sdnlab exec {state.topology} {name} -- COMMAND"}[endpoint.type]
        say(f"{name:<12} {endpoint.type:<5} {addresses:<22} {shell}")
    say(f"\nstate: {state.path}; remove everything with: sdnlab down {state.topology}")


def down(lab: str, quiet: bool = False) -> int:
    """Remove everything the lab's state file records, newest first; safe to run again."""
    state = State.load(lab)
    removed = 0
    with ovs.ovsdb() as api:
        for obj in reversed(state.objects):
            kind, name = obj["kind"], obj.get("name", "")
            try:
                if kind == "process":
                    _stop_process(obj["pid"])
                elif kind == "guest":
                    qemu.stop(Path(obj["dir"]))
                elif kind == "lxc":
                    lxc.destroy(name)
                elif kind == "netns":
                    netns.remove(name)
                elif kind == "link":
                    netlink.delete(name)
                elif kind == "ovs-bridge":
                    ovs.del_bridge(api, name)
                removed += 1
            except Exception as exc:  # keep going: remove all that can be removed
                say(f"could not remove {kind} {name}: {exc}")
            state.objects.remove(obj)
            state.save()
        # A crash between creating a bridge and recording it cannot happen (recorded first),
        # but a lost state file can: sweep bridges marked as this lab's.
        for name in ovs.lab_bridges(api, lab):
            ovs.del_bridge(api, name)
            removed += 1
    if state.directory.exists():
        shutil.rmtree(state.directory)
    if not quiet:
        say(f"lab {lab}: removed {removed} objects" if removed else f"lab {lab}: nothing to remove")
    return 0


def _stop_process(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def status(topology: Topology) -> int:
    state = State.load(topology.name)
    if not state.objects:
        say(f"lab {topology.name} is not up")
        return 1
    say(f"lab {topology.name} ({state.topology})")
    for obj in state.objects:
        kind, name = obj["kind"], obj.get("name", "")
        if kind == "process":
            alive = Path(f"/proc/{obj['pid']}").exists()
            say(f"  controller pid {obj['pid']} on port {obj['port']}: {'running' if alive else 'NOT RUNNING'}")
        elif kind == "guest":
            pid = qemu._pid(Path(obj["dir"]))
            say(f"  guest {name}: {'running' if pid and Path(f'/proc/{pid}').exists() else 'NOT RUNNING'}")
        elif kind == "lxc":
            say(f"  container {name}: {'running' if lxc.running(name) else 'NOT RUNNING'}")
        elif kind == "netns":
            say(f"  namespace {name}: {'present' if netns.exists(name) else 'MISSING'}")
        elif kind == "ovs-bridge":
            say(f"  OVS bridge {name}")
    enforced = enforced_reachability(topology)
    analysis = analyse(topology)
    disagree = [p for p, r in enforced.items() if r != analysis.is_reachable(*p)]
    say(f"  the installed flows let {sum(enforced.values())} of {len(enforced)} endpoint pairs reach each other; "
        + ("the check agrees" if not disagree else f"the check DISAGREES on {', '.join('-'.join(p) for p in disagree)}"))
    return 0 if not disagree else 1


def enforced_reachability(topology: Topology) -> dict[tuple[str, str], bool]:
    """Which pairs the flows installed right now let through (dumped and traced in the table simulator)."""
    from controller.trees import flood_trees
    from sim.views import flow_reachability

    class Installed:  # what sim.views needs to know of a lab
        def __init__(self):
            self.topology = topology
            self.plan = port_plan(topology)
            self.down_links: set[str] = set()
            self.down_nics: set[str] = set()

        def dump(self, bridge: str) -> list:
            from controller.flows import parse_dump

            out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge], capture_output=True, text=True, check=True)
            return parse_dump(out.stdout)

    names = sorted(topology.endpoints)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    return flow_reachability(Installed(), pairs, flood_trees(list(topology.links)))
