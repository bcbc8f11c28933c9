"""Replay a topology in Mininet with the real controller.

    with SimLab(topology) as lab:      # builds, starts the controller, waits for flows
        lab.ping("web1", "web2")

OVS bridges become OVS bridges built as `sdnlab up` builds them (userspace
datapath when the kernel has no openvswitch module), Linux bridges kernel
bridges, endpoints Mininet hosts with the file's MACs and addresses. Ports are
numbered by the controller's `PortPlan` and bound through OVSDB, so the
controller needs no simulator-specific code. Everything is removed on exit, on
error and on Ctrl-C.

`controller_target` ("tcp:127.0.0.1:PORT") builds the very same lab (bridges,
port numbers, hosts, marks, cleanup) but starts no controller of sdnlab's and
points the OVS bridges at that target: another controller, run by the caller
(bench/failover_bench.py drives Faucet on it). The lab then does not wait for
sdnlab's flows either; the caller knows when its controller is ready.

A simulated lab's id is its run tag (`s<pid>`): it names the host's bridges
and interfaces, marks its OVS bridges and is in the environment of every
process it starts, so `sdnlab sim clean` finds the leftovers of a killed run.
Its private directory, /run/sdnlab/sim/<tag> (root only), holds the
controller's log and the keys of its OpenFlow channel, which is TLS with both
ends authenticated unless the lab is built with `tls=False`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

from controller.flows import Flow
from controller.state import Binding, PortPlan
from host import cluster, netlink, pki, preflight, standin
from host.cluster import ReplicaSet
from host.control import ControllerProcess, release_channel, secure_channel
from host.ovsdb import REMOTE, LabBridge, lab_bridges, ovsdb
from host.preflight import HostError
from host.verify import dump_all, dump_flows, expected_static, missing_static, parse_ping
from sdnlab.model import Nic, Topology
from sim import names

BUILDER = "sim"  # the OVSDB mark of bridges the simulator made
SIM_ROOT = Path("/run/sdnlab/sim")  # one private directory per simulated lab


def channel_id(tag: str) -> str:
    """The lab's name in the host's PKI bundle (deployed labs have theirs)."""
    return f"{BUILDER}-{tag}"


class SimError(HostError):
    """The lab cannot be built here; the message says why (nothing was left behind)."""


def check_host(topology: Topology) -> None:
    """Refuse, before creating anything, what this machine cannot replay."""
    preflight.require_root("the simulator", "it creates namespaces, veths and OVS bridges")
    preflight.require_ovs()


class SimLab:
    def __init__(self, topology: Topology, topology_file: str | Path | None = None, controller_port: int | None = None,
                 tls: bool = True, cluster: bool | None = None, controller_target: str | None = None):
        self.topology = topology
        self.file = Path(topology_file or topology.source)
        self.tag = names.run_tag()
        self.plan = PortPlan(topology)
        self.index = {b: i for i, b in enumerate(sorted(topology.bridges))}
        self.net = None
        self.api = None  # the lab's OVSDB connection while it runs
        self.controller_target = controller_target  # another controller the bridges are pointed at; sdnlab's is not started
        self.tls = tls and controller_target is None  # the lab's channel keys are for sdnlab's controller
        self.directory = SIM_ROOT / self.tag
        env = {names.TAG_ENV: self.tag}
        # One controller, or (controller.replicas > 1) a cluster of replicas on corosync, each in a namespace of its own.
        # `cluster` runs even one replica that way (a scenario that stops or partitions it needs the same machinery).
        clustered = topology.controller.replicas > 1 if cluster is None else cluster
        if controller_target is not None and (clustered or controller_port is not None):
            raise ValueError("controller_target replaces sdnlab's controller: it takes no controller_port and no cluster")
        self.controller: ControllerProcess | ReplicaSet | None = (
            None if controller_target is not None
            else ReplicaSet(self.tag, self.directory, self.file, topology.controller.replicas, env=env)
            if clustered else ControllerProcess(self.file, self.directory / "controller.log", controller_port, env=env, metrics="127.0.0.1:0"))
        self.hosts: dict[str, object] = {}
        self.datapath = preflight.datapath()
        self.down_links: set[str] = set()
        self.down_nics: set[str] = set()
        self.trunk_bridges: list[str] = []
        self._resources = ExitStack()

    @property
    def port(self) -> int | None:
        return self.controller.port if self.controller is not None else None

    @property
    def replicas(self) -> ReplicaSet | None:
        return self.controller if isinstance(self.controller, ReplicaSet) else None

    def metrics_addresses(self) -> list[str]:
        """Where the controller (each running replica) serves its Prometheus metrics, HOST:PORT."""
        processes = [r.controller for r in self.replicas.replicas if r.running] if self.replicas else [self.controller]
        return [p.metrics_address for p in processes if p is not None and p.metrics_address]

    def masters(self) -> dict[str, int | None]:
        """Each OVS bridge's master replica (by file name), as its switch last confirmed it; {} without a cluster."""
        if self.replicas is None:
            return {}
        return self.replicas.masters(sorted(name for name, bridge in self.topology.bridges.items() if bridge.is_ovs))

    @property
    def controller_log(self) -> Path:
        return self.controller.log

    # -- names -------------------------------------------------------------
    def bridge(self, name: str) -> str:
        """The OVS/kernel bridge name of a topology bridge."""
        return names.bridge_name(self.tag, self.index[name])

    def port_intf(self, bridge: str, port: int) -> str:
        return names.port_name(self.tag, self.index[bridge], port)

    # -- life cycle ----------------------------------------------------------
    def __enter__(self) -> SimLab:
        try:
            self.start()
        except BaseException:
            self.stop(keep_log=True)  # the error message points at it
            raise
        return self

    def __exit__(self, exc_type, *exc) -> None:
        # A failure keeps the controller's log for reading; a clean end or Ctrl-C does not.
        self.stop(keep_log=exc_type is not None and issubclass(exc_type, Exception))

    def start(self, wait: float = 30.0) -> None:
        check_host(self.topology)
        if self.replicas is not None:
            preflight.require_corosync(f"a cluster of {self.replicas.count} controller replica(s)")
        from mininet.log import setLogLevel
        from mininet.net import Mininet
        from mininet.node import RemoteController

        from sim.mininet_nodes import KernelBridge, LabOVSBridge

        setLogLevel("error")
        api = self.api = self._resources.enter_context(ovsdb())
        SIM_ROOT.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.mkdir(mode=0o700, exist_ok=True)
        if self.tls:
            self.controller.tls = secure_channel(api, channel_id(self.tag), self.directory / "tls")
        self.start_controller()
        net = Mininet(build=False, controller=None, autoSetMacs=False, autoStaticArp=False)
        self.net = net
        if self.replicas is None and self.controller is not None:  # Mininet only records it: the bridges get theirs from LabBridge
            net.addController(RemoteController("c0", ip="127.0.0.1", port=self.port))
        switches = {}
        for name, bridge in sorted(self.topology.bridges.items()):
            if bridge.is_ovs or standin.stood_in(bridge):
                target = self.controller_target if self.controller is None else self.controller.target
                spec = LabBridge(self.bridge(name), name, self.tag, BUILDER, bridge.dpid, target,
                                 not self.datapath.kernel, self.topology.controller.packet_in_rate, standin=not bridge.is_ovs)
                bindings = {self.port_intf(name, n): b for n, b in self.plan[name].items()}
                vlans = {self.port_intf(name, n): v for n, v in standin.port_vlans(self.topology, self.plan[name]).items()} \
                    if spec.standin else {}
                switches[name] = net.addSwitch(self.bridge(name), cls=LabOVSBridge, spec=spec, bindings=bindings, api=api, vlans=vlans)
            else:
                switches[name] = net.addSwitch(self.bridge(name), cls=KernelBridge, lab=self.tag)
        for name, endpoint in sorted(self.topology.endpoints.items()):
            host = net.addHost(name, ip=None)
            self.hosts[name] = host
            for nic in endpoint.nics:
                _, number = self.plan.nic_port(nic.id)
                if nic.trunks:
                    self.add_trunk_nic(net, api, host, nic, switches[nic.bridge], number)
                    continue
                net.addLink(host, switches[nic.bridge], port1=nic.index, port2=number, intfName1=f"eth{nic.index}",
                            intfName2=self.port_intf(nic.bridge, number), addr1=nic.mac)
        for link in self.topology.links:
            (a, pa), (b, pb) = self.plan.link_ends(link)
            net.addLink(switches[a], switches[b], port1=pa, port2=pb, intfName1=self.port_intf(a, pa), intfName2=self.port_intf(b, pb))
        # Mininet's host shells inherit the environment: with the tag in it,
        # `sdnlab sim clean` can find them after a kill -9. Only while they start.
        os.environ[names.TAG_ENV] = self.tag
        try:
            net.build()
        finally:
            os.environ.pop(names.TAG_ENV, None)
        for name, endpoint in self.topology.endpoints.items():
            host = self.hosts[name]
            host.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
            for nic in endpoint.nics:
                if nic.ip is not None:
                    host.cmd(f"ip addr add {nic.ip} dev eth{nic.index}")
        net.start()
        if self.controller is not None:  # another controller's flows are its caller's to wait for
            self.wait_for_flows(wait)

    def start_controller(self) -> None:
        if self.controller is None:
            return
        try:
            self.controller.start(timeout=15)
        except HostError as exc:
            raise SimError(str(exc)) from None

    def stop_controller(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def restart_controller(self) -> None:
        try:
            self.controller.restart(timeout=15)
        except HostError as exc:
            raise SimError(str(exc)) from None

    def stop(self, keep_log: bool = False) -> None:
        """Tear everything down; the controller's log goes too unless `keep_log`."""
        nodes = [*self.net.hosts, *self.net.switches, *self.net.controllers] if self.net is not None else []
        shells = [n.shell for n in nodes if getattr(n, "shell", None)]
        try:
            if self.net is not None:
                self.net.stop()
        finally:
            self.net = None
            self.stop_controller()
            # Mininet signals its nodes' shells but never waits for them, and leaves
            # a RemoteController's shell running: end and reap them all, so not
            # even a zombie outlives the lab.
            for shell in shells:
                if shell.poll() is None:
                    shell.terminate()
                try:
                    shell.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    shell.kill()
                    shell.wait()
            self._resources.close()
            clean(self.tag, keep_log=keep_log)

    def add_trunk_nic(self, net, api, host, nic: Nic, bridge, number: int) -> None:
        """A trunk NIC: `eth<i>` for its untagged side and `eth<i>.<vlan>` for each VLAN it trunks, all with its MAC.

        These kernels have no 802.1Q module, so a namespace cannot have VLAN
        sub-interfaces. A small standalone OVS bridge stands in for the NIC's
        tagging: its uplink to the lab bridge's port is the trunk (native VLAN
        untagged, as Proxmox's `tag=` with `trunks=`), and one access port per
        VLAN leads to the endpoint. The file gives a NIC's address on its
        untagged side only, so only `eth<i>` gets one."""
        from sim.mininet_nodes import LabOVSBridge

        index = len(self.trunk_bridges)
        name = names.trunk_bridge_name(self.tag, index)
        self.trunk_bridges.append(name)
        ports = standin.tagging_ports(self.topology, nic)
        vlans = {names.trunk_port_name(self.tag, index, j): vlan for j, (_, vlan) in enumerate(ports, start=1)}
        spec = LabBridge(name, nic.id, self.tag, BUILDER, 0, "", not self.datapath.kernel, 0, standin=True)
        tagging = net.addSwitch(name, cls=LabOVSBridge, spec=spec, bindings={port: Binding("nic", nic.id) for port in vlans}, api=api, vlans=vlans)
        net.addLink(tagging, bridge, port1=1, port2=number, intfName1=names.trunk_port_name(self.tag, index, 1),
                    intfName2=self.port_intf(nic.bridge, number))
        for j, (ifname, _) in enumerate(ports[1:], start=2):
            net.addLink(host, tagging, port1=100 * (nic.index + 1) + j, port2=j, intfName1=ifname,
                        intfName2=names.trunk_port_name(self.tag, index, j), addr1=nic.mac)

    def nic_interfaces(self, nic: Nic) -> list[str]:
        """The endpoint's interfaces of a NIC: `eth<i>`, and `eth<i>.<vlan>` for each VLAN a trunk NIC carries."""
        return [f"eth{nic.index}"] + [f"eth{nic.index}.{vlan}" for vlan in sorted(nic.trunks)]

    # -- events --------------------------------------------------------------
    def link_ends(self, link_id: str) -> list[str]:
        """The host interface names of both ends of a link."""
        link = next(x for x in self.topology.links if x.id == link_id)
        return [self.port_intf(b, n) for b, n in self.plan.link_ends(link)]

    def set_link(self, link_id: str, up: bool) -> None:
        """Cut or restore a link the way a cable does: one end goes down, the other loses carrier."""
        netlink.set_up(self.link_ends(link_id)[0], up)
        (self.down_links.discard if up else self.down_links.add)(link_id)

    def set_nic(self, endpoint: str, up: bool) -> None:
        for nic in self.topology.endpoints[endpoint].nics:
            for ifname in self.nic_interfaces(nic):
                self.hosts[endpoint].cmd(f"ip link set {ifname} {'up' if up else 'down'}")
            (self.down_nics.discard if up else self.down_nics.add)(nic.id)

    # -- looking at it -------------------------------------------------------
    def dump(self, bridge: str) -> list[Flow]:
        """The flows installed in one of the file's OVS bridges."""
        return dump_flows(self.bridge(bridge))

    def dumps(self) -> dict[str, list[Flow]]:
        """Every OVS bridge's installed flows, by the file's bridge name."""
        return dump_all(self.topology, self.bridge)

    def wait_for_flows(self, timeout: float) -> None:
        """Until every OVS bridge has all the static flows the controller computes for it."""
        expected = expected_static(self.topology, self.plan)
        deadline = time.monotonic() + timeout
        while any((missing := missing_static(expected, self.dumps())).values()):
            if time.monotonic() > deadline:
                tail = "".join(self.controller.log.read_text(errors="replace").splitlines(keepends=True)[-15:])
                raise SimError(f"the controller did not install its flows within {timeout:.0f} s (missing: {missing}); "
                               f"its log: {self.controller.log}, ending:\n{tail}")
            time.sleep(0.2)

    def ping(self, a: str, b: str, count: int = 1, timeout: float = 1.0) -> bool:
        """Whether `a` gets an answer from any address of `b`."""
        for nic in self.topology.endpoints[b].nics:
            if nic.ip is None:
                continue
            out = self.hosts[a].cmd(f"ping -c {count} -W {timeout:g} -i 0.2 {nic.ip.ip}")
            if parse_ping(out)[1] > 0:
                return True
        return False


def lab_processes(tag: str | None = None) -> list[int]:
    """Processes started for a lab (all labs when tag is None), found by the tag in their environment."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(names.TAG_ENV.encode() + b"=") and (tag is None or item == f"{names.TAG_ENV}={tag}".encode()):
                found.append(int(entry.name))
    return found


def clean(tag: str | None = None, keep_log: bool = False) -> list[str]:
    """Remove a simulated lab's processes, OVS bridges (found by their marks), interfaces, keys and (unless
    `keep_log`) its directory with the controller's log; every simulation's when tag is None."""
    removed = []
    for pid in lab_processes(tag):
        try:
            os.kill(pid, signal.SIGKILL)
            removed.append(f"process {pid}")
        except ProcessLookupError:
            pass
    tags = [tag] if tag else sorted(p.name for p in SIM_ROOT.iterdir()) if SIM_ROOT.exists() else []
    if tag is None and pki.DEFAULT_ROOT.exists():  # a lab killed before it made its directory may still be trusted
        tags += [lab.removeprefix(f"{BUILDER}-") for lab in pki.trusted_labs() if lab.startswith(f"{BUILDER}-")]
    if Path(REMOTE.removeprefix("unix:")).exists():  # no OVS, no bridges to sweep
        with ovsdb() as api:
            for name in lab_bridges(api, tag, BUILDER):
                api.del_br(name, if_exists=True).execute(check_error=True)
                netlink.delete(name)
                removed.append(name)
            for t in sorted(set(tags)):
                release_channel(api, channel_id(t))
    for t in sorted(set(tags)):
        directory = SIM_ROOT / t
        if keep_log:
            shutil.rmtree(directory / "tls", ignore_errors=True)
        elif directory.exists():
            shutil.rmtree(directory)
            removed.append(str(directory))
    removed += cluster.remove_network(tag)  # a controller cluster's namespaces, veths and bridge (marked)
    for ifname in netlink.names():
        if names.is_lab_interface(ifname, tag):
            netlink.delete(ifname)
            removed.append(ifname)
    return removed
