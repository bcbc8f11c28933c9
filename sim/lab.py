"""Replay a topology in Mininet with the real controller.

    with SimLab(topology) as lab:      # builds, starts the controller, waits for flows
        lab.ping("web1", "web2")

OVS bridges become OVS switches (userspace datapath when the kernel has no
openvswitch module), Linux bridges kernel bridges, endpoints Mininet hosts
with the file's MACs and addresses. Ports are numbered as
controller.simlab.port_plan says and bound through OVSDB, so the controller
needs no simulator-specific code. Everything is removed on exit, on error and
on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from controller.flows import COOKIE_STATIC, parse_dump
from controller.launcher import free_port, wait_listening
from controller.pipeline import static_flows
from controller.simlab import port_plan
from controller.state import Port, SwitchView, resolve
from controller.trees import flood_trees
from sdnlab.model import Topology
from sim import names
from sim.probe import parse_ping


class SimError(Exception):
    """The lab cannot be built here; the message says why (nothing was left behind)."""


def kernel_has_ovs_module() -> bool:
    return Path("/sys/module/openvswitch").exists()


def preflight(topology: Topology) -> None:
    """Refuse, before creating anything, what this machine cannot replay."""
    if os.geteuid() != 0:
        raise SimError("the simulator needs root (it creates namespaces, veths and OVS bridges)")
    aware = [b.name for b in topology.bridges.values() if not b.is_ovs and b.vlan_aware]
    if aware and not _kernel_vlan_filtering():
        raise SimError(
            f"bridge {aware[0]} is a VLAN-aware Linux bridge, and this kernel has no bridge VLAN filtering "
            "(CONFIG_BRIDGE_VLAN_FILTERING); replay it as an OVS bridge or on another machine"
        )
    if aware:  # a plain kernel bridge would not keep its VLANs apart: refuse rather than mislead
        raise SimError(f"bridge {aware[0]}: VLAN-aware Linux bridges are not replayed yet; replay it as an OVS bridge")
    if subprocess.run(["ovs-vsctl", "--timeout=3", "show"], capture_output=True).returncode != 0:
        raise SimError("Open vSwitch is not running (make setup starts it)")


def _kernel_vlan_filtering() -> bool:
    probe = "sdnlabvfprobe"
    made = subprocess.run(["ip", "link", "add", probe, "type", "bridge", "vlan_filtering", "1"], capture_output=True).returncode == 0
    if made:
        subprocess.run(["ip", "link", "del", probe], capture_output=True)
    return made


class SimLab:
    def __init__(self, topology: Topology, topology_file: str | Path | None = None, controller_port: int | None = None):
        self.topology = topology
        self.file = Path(topology_file or topology.source)
        self.port = controller_port or free_port()
        self.tag = names.run_tag()
        self.plan = port_plan(topology)
        self.index = {b: i for i, b in enumerate(sorted(topology.bridges))}
        self.net = None
        self.controller: subprocess.Popen | None = None
        self.controller_log = Path(f"/tmp/sdnlab-controller-{self.tag}.log")
        self.hosts: dict[str, object] = {}
        self.datapath = ""
        self.down_links: set[str] = set()
        self.down_nics: set[str] = set()

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
        preflight(self.topology)
        from mininet.log import setLogLevel
        from mininet.net import Mininet
        from mininet.node import RemoteController

        from sim.mininet_nodes import BoundOVSSwitch, KernelBridge

        setLogLevel("error")
        # Found out at run time: a kernel without the openvswitch module needs the userspace datapath.
        self.datapath = "kernel" if kernel_has_ovs_module() else "userspace (no openvswitch kernel module)"
        self.start_controller()
        net = Mininet(build=False, controller=None, autoSetMacs=False, autoStaticArp=False)
        self.net = net
        net.addController(RemoteController("c0", ip="127.0.0.1", port=self.port))
        switches = {}
        for name, bridge in sorted(self.topology.bridges.items()):
            bindings = {self.port_intf(name, n): b for n, b in self.plan[name].items()}
            if bridge.is_ovs:
                switches[name] = net.addSwitch(
                    self.bridge(name), cls=BoundOVSSwitch, dpid=f"{bridge.dpid:016x}", datapath="user" if not kernel_has_ovs_module() else "kernel",
                    failMode="secure", protocols="OpenFlow13", bindings=bindings, label=name, lab=self.tag,
                )
            else:
                switches[name] = net.addSwitch(self.bridge(name), cls=KernelBridge, label=name, lab=self.tag)
        for name, endpoint in sorted(self.topology.endpoints.items()):
            host = net.addHost(name, ip=None)
            self.hosts[name] = host
            for nic in endpoint.nics:
                number = next(n for n, b in self.plan[nic.bridge].items() if b.kind == "nic" and b.id == nic.id)
                net.addLink(host, switches[nic.bridge], port1=nic.index, port2=number, intfName1=f"eth{nic.index}",
                            intfName2=self.port_intf(nic.bridge, number), addr1=nic.mac)
        for link in self.topology.links:
            a, b = link.between
            pa = next(n for n, x in self.plan[a].items() if x.kind == "link" and x.id == link.id)
            pb = next(n for n, x in self.plan[b].items() if x.kind == "link" and x.id == link.id)
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
        self.limit_packet_ins()
        self.wait_for_flows(wait)

    def limit_packet_ins(self) -> None:
        """Let OVS itself meter packet-ins too, so a storm cannot reach the controller at all."""
        rate = self.topology.controller.packet_in_rate
        for name, bridge in self.topology.bridges.items():
            if not bridge.is_ovs:
                continue
            got = subprocess.run(["ovs-vsctl", "--timeout=5", "get", "Bridge", self.bridge(name), "controller"], capture_output=True, text=True)
            for uuid in got.stdout.strip().strip("[]").split(","):
                if uuid.strip():
                    subprocess.run(["ovs-vsctl", "--timeout=5", "set", "Controller", uuid.strip(), f"controller_rate_limit={rate}",
                                    f"controller_burst_limit={max(25, rate // 4)}"], check=True)

    def start_controller(self) -> None:
        log = self.controller_log.open("w")
        self.controller = subprocess.Popen(
            [sys.executable, "-m", "sdnlab.cli", "controller", str(self.file), "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, names.TAG_ENV: self.tag},
        )
        why = wait_listening(self.port, self.controller, timeout=15)
        if why:
            raise SimError(f"{why}; its log: {self.controller_log}")

    def stop_controller(self) -> None:
        if self.controller is not None and self.controller.poll() is None:
            self.controller.terminate()
            try:
                self.controller.wait(5)
            except subprocess.TimeoutExpired:
                self.controller.kill()
                self.controller.wait()
        self.controller = None

    def restart_controller(self) -> None:
        self.stop_controller()
        self.start_controller()

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
            clean(self.tag)
            if not keep_log:
                self.controller_log.unlink(missing_ok=True)

    # -- events --------------------------------------------------------------
    def link_ends(self, link_id: str) -> list[str]:
        """The host interface names of both ends of a link."""
        link = next(x for x in self.topology.links if x.id == link_id)
        return [self.port_intf(b, next(n for n, x in self.plan[b].items() if x.kind == "link" and x.id == link.id)) for b in link.between]

    def set_link(self, link_id: str, up: bool) -> None:
        """Cut or restore a link the way a cable does: one end goes down, the other loses carrier."""
        subprocess.run(["ip", "link", "set", self.link_ends(link_id)[0], "up" if up else "down"], check=True)
        (self.down_links.discard if up else self.down_links.add)(link_id)

    def set_nic(self, endpoint: str, up: bool) -> None:
        for nic in self.topology.endpoints[endpoint].nics:
            self.hosts[endpoint].cmd(f"ip link set eth{nic.index} {'up' if up else 'down'}")
            (self.down_nics.discard if up else self.down_nics.add)(nic.id)

    # -- looking at it -------------------------------------------------------
    def expected_static(self) -> dict[str, set]:
        """The static flows the core computes for the lab with every port up."""
        views = {
            b: SwitchView(b, br.dpid, {n: Port(n, self.port_intf(b, n), True, x) for n, x in self.plan[b].items()})
            for b, br in self.topology.bridges.items() if br.is_ovs
        }
        resolved = {b: resolve(self.topology, v) for b, v in views.items()}
        trees = flood_trees(list(self.topology.links))
        return {b: set(static_flows(r, trees)) for b, r in resolved.items()}

    def dump(self, bridge: str) -> list:
        out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", self.bridge(bridge)], capture_output=True, text=True, check=True)
        return parse_dump(out.stdout)

    def wait_for_flows(self, timeout: float) -> None:
        expected = self.expected_static()
        deadline = time.monotonic() + timeout
        while True:
            missing = {b: len(want - {f for f in self.dump(b) if f.cookie == COOKIE_STATIC}) for b, want in expected.items()}
            if not any(missing.values()):
                return
            if time.monotonic() > deadline:
                raise SimError(f"the controller did not install its flows within {timeout:.0f} s (missing: {missing}); its log: {self.controller_log}")
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


def clean(tag: str | None = None) -> list[str]:
    """Remove a lab's processes, OVS bridges (marked in OVSDB) and interfaces; all labs when tag is None."""
    removed = []
    for pid in lab_processes(tag):
        try:
            os.kill(pid, signal.SIGKILL)
            removed.append(f"process {pid}")
        except ProcessLookupError:
            pass
    out = subprocess.run(["ovs-vsctl", "--timeout=5", "--format=csv", "--no-headings", "--columns=name,external_ids", "list", "Bridge"],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        name, _, ids = line.partition(",")
        if f"{names.LAB_KEY}=" in ids and (tag is None or f"{names.LAB_KEY}={tag}" in ids or f'{names.LAB_KEY}="{tag}"' in ids):
            subprocess.run(["ovs-vsctl", "--timeout=5", "--if-exists", "del-br", name], capture_output=True)
            removed.append(name)
    if tag is None:  # `sdnlab sim clean`: the logs of labs killed with -9 go too
        for log in Path("/tmp").glob("sdnlab-controller-*.log"):
            log.unlink(missing_ok=True)
            removed.append(str(log))
    prefix = tag or "s"
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    for line in links.splitlines():
        ifname = line.split(":")[1].strip().split("@")[0]
        if ifname.startswith(prefix) and len(ifname) >= 7 and ifname[1:5].isdigit() and ifname[5] == "b":
            subprocess.run(["ip", "link", "del", ifname], capture_output=True)
            removed.append(ifname)
    return removed
