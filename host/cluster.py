"""A controller cluster on one machine: N corosync members and N controller replicas, for the simulator.

Each replica is what one Proxmox node would run: a corosync member and
`sdnlab controller FILE --cluster` beside it. Here each lives in a network
namespace of its own (`<tag>c<k>`, address 10.213.<n>.<k>), joined to the
host by a veth on a Linux bridge (`<tag>cl`, 10.213.<n>.254) through which
the members talk to each other (knet over UDP) and the host's OVS reaches
every replica (OpenFlow over TLS). Cutting a replica's veth partitions it from
its peers and its switches at once, without stopping anything.

Corosync also wants a `/run` (its pid file is /run/corosync.pid, which a
real corosync on a Proxmox host holds), a `/var/lib/corosync` and a
`/dev/shm` of its own, so each member runs in a private mount namespace with
tmpfs there; `/run/openvswitch` and `/run/sdnlab` are bound back in, because
the controller, which must share the member's mount and network namespace to
reach it (libqb's IPC uses /dev/shm and abstract sockets), needs OVSDB and its
keys. Everything carries the lab's tag (process environment, interface
alias), so `sdnlab sim clean` finds what a killed run left.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute, NetlinkError, NetNS, netns

from host.control import ChannelTls, ControllerProcess
from host.errors import HostError
from host.loops import outside_event_loop
from host.netlink import MARK
from host.ovsdb import controller_roles
from sdnlab.model import Topology

PORT = 6653
# Corosync's token: how long a silent member has before the others form a ring without it. Its default (3 s,
# plus 650 ms per node beyond two) alone exceeds the 3 s a failover may take; 500 ms detects a dead member in
# about a second (token, then consensus = 1.2 x token) and held steady on this 2-core machine under load.
TOKEN_MS = 500


def subnet_of(tag: str) -> str:
    """The replicas' /24 (first three octets): per lab, so two labs at once do not collide."""
    return f"10.213.{int(tag[1:]) % 250}"


def netns_name(tag: str, number: int) -> str:
    return f"{tag}c{number}"


def bridge_name(tag: str) -> str:
    return f"{tag}cl"


def corosync_conf(cluster: str, addresses: list[str], token_ms: int = TOKEN_MS) -> str:
    """A corosync.conf for members 1..N at `addresses`: knet, no crypto (the segment is a private bridge on one host)."""
    nodes = "".join(f"  node {{\n    ring0_addr: {a}\n    nodeid: {i}\n    name: replica{i}\n  }}\n" for i, a in enumerate(addresses, 1))
    return (f"totem {{\n  version: 2\n  cluster_name: {cluster}\n  transport: knet\n  token: {token_ms}\n"
            "  token_coefficient: 0\n  crypto_cipher: none\n  crypto_hash: none\n}\n"
            f"nodelist {{\n{nodes}}}\n"
            "quorum {\n  provider: corosync_votequorum\n}\n"
            "logging {\n  to_stderr: yes\n  to_syslog: no\n  timestamp: on\n}\n")


# Run as `unshare -m sh -c MOUNTS`: a private /run (with OVS's and sdnlab's directories bound back),
# /var/lib/corosync and /dev/shm, then corosync itself in the foreground (so its pid is ours to signal).
MOUNTS = """set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0700 tmpfs /var/lib/corosync
mkdir /var/lib/corosync/host-run
mount --rbind /run /var/lib/corosync/host-run
mount -t tmpfs -o mode=0755 tmpfs /run
for d in openvswitch sdnlab; do mkdir -p /run/$d; mount --rbind /var/lib/corosync/host-run/$d /run/$d; done
umount -l /var/lib/corosync/host-run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
exec corosync -f -c "$1"
"""


class ReplicaController(ControllerProcess):
    """`sdnlab controller FILE --cluster` inside its corosync member's network and mount namespaces."""

    def __init__(self, replica: Replica, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.replica = replica
        self.host = replica.address

    def command(self, report_fd: int) -> list[str]:
        return ["nsenter", "-t", str(self.replica.corosync.pid), "-m", "-n", "--", *super().command(report_fd), "--cluster"]


@dataclass
class Replica:
    number: int  # from 1, as scenario steps count; also its corosync node id
    netns: str
    address: str
    host_end: str  # its veth on the host's bridge: down is a partition
    directory: Path
    corosync: subprocess.Popen | None = None
    controller: ReplicaController | None = None
    partitioned: bool = False

    @property
    def running(self) -> bool:
        return self.corosync is not None and self.corosync.poll() is None


@dataclass
class ReplicaSet:
    """The replicas of one simulated lab: `start`, the steps' four operations, `close` (removes everything)."""

    tag: str
    directory: Path
    topology_file: Path
    count: int
    tls: ChannelTls | None = None
    env: dict[str, str] = field(default_factory=dict)  # for every process it starts: the lab's mark, so a clean finds them
    replicas: list[Replica] = field(default_factory=list)

    def __post_init__(self) -> None:
        net = subnet_of(self.tag)
        for k in range(1, self.count + 1):
            self.replicas.append(Replica(k, netns_name(self.tag, k), f"{net}.{k}", netns_name(self.tag, k), self.directory / f"replica{k}"))
        self.bridge = bridge_name(self.tag)
        self.gateway = f"{net}.254"

    # -- what the bridges and the steps see ------------------------------------
    port = PORT

    @property
    def target(self) -> tuple[str, ...]:
        """What every OVS bridge is pointed at: every replica."""
        return self.targets

    @property
    def targets(self) -> tuple[str, ...]:
        scheme = "ssl" if self.tls else "tcp"
        return tuple(f"{scheme}:{r.address}:{PORT}" for r in self.replicas)

    def replica_of(self, target: str) -> int | None:
        for r, t in zip(self.replicas, self.targets, strict=True):
            if t == target:
                return r.number
        return None

    @property
    def log(self) -> Path:
        """One replica's log, for error messages: the first running one."""
        live = [r for r in self.replicas if r.running] or self.replicas
        return live[0].directory / "controller.log"

    def __getitem__(self, number: int) -> Replica:
        return self.replicas[number - 1]

    # -- life cycle --------------------------------------------------------------
    def start(self, timeout: float = 20) -> None:
        self._network()
        conf = corosync_conf(f"sdnlab-{self.tag}", [r.address for r in self.replicas])
        for r in self.replicas:
            r.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            (r.directory / "corosync.conf").write_text(conf)
        self._start_all(timeout)

    def _start_all(self, timeout: float) -> None:
        """Every member first, so the controllers find a ring to join; then every controller."""
        for r in self.replicas:
            self._start_corosync(r)
        for r in self.replicas:
            self._start_controller(r, timeout)

    def start_replica(self, number: int, timeout: float = 20) -> None:
        r = self[number]
        if r.running:
            return
        self._start_corosync(r)
        self._start_controller(r, timeout)

    def stop_replica(self, number: int) -> None:
        """SIGKILL, as when a node fails: its corosync member first, so the others learn of it only when its token
        times out (had its controller died first, its corosync would have told them at once), then its controller."""
        r = self[number]
        for proc in (r.corosync, r.controller.proc if r.controller else None):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        if r.controller is not None:
            r.controller.proc = None
        r.corosync = None

    def partition(self, number: int) -> None:
        """Cut a replica off from its peers and its switches; it keeps running."""
        _set_link(self[number].host_end, up=False)
        self[number].partitioned = True

    def heal(self, number: int) -> None:
        _set_link(self[number].host_end, up=True)
        self[number].partitioned = False

    def reload(self) -> None:
        """SIGHUP every running replica: each reads the file again."""
        for r in self.replicas:
            if r.running and r.controller is not None:
                r.controller.reload()

    def restart(self, timeout: float = 20) -> None:
        """Every replica stopped, then started again (`restart: controller`)."""
        self.stop()
        self._start_all(timeout)

    def stop(self) -> None:
        for r in self.replicas:
            if r.controller is not None:
                r.controller.stop()  # SIGTERM first: a clean stop closes its corosync connection too
            self.stop_replica(r.number)

    def close(self) -> None:
        """Stop every replica and remove the namespaces, veths and bridge (each checked as this lab's)."""
        self.stop()
        remove_network(self.tag)

    # -- the pieces ------------------------------------------------------------------
    def _network(self) -> None:
        _add_bridge(self.bridge, self.gateway, self.tag)
        for r in self.replicas:
            _add_member_netns(r.netns, r.host_end, self.bridge, r.address, self.tag)

    def _start_corosync(self, r: Replica) -> None:
        log = open(r.directory / "corosync.log", "ab")  # noqa: SIM115 - the child keeps it; closed below
        try:
            r.corosync = subprocess.Popen(
                ["ip", "netns", "exec", r.netns, "unshare", "-m", "sh", "-c", MOUNTS, "corosync-member", str(r.directory / "corosync.conf")],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **self.env})
        finally:
            log.close()
        # The member is up when its IPC answers (the controller connects to it at start).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if r.corosync.poll() is not None:
                raise HostError(f"corosync of replica {r.number} exited (status {r.corosync.returncode}); its log: {r.directory / 'corosync.log'}")
            probe = subprocess.run(["nsenter", "-t", str(r.corosync.pid), "-m", "-n", "corosync-cmapctl", "-g", "runtime.votequorum.this_node_id"],
                                   capture_output=True, text=True)
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise HostError(f"corosync of replica {r.number} did not answer within 10 s; its log: {r.directory / 'corosync.log'}")

    def _start_controller(self, r: Replica, timeout: float) -> None:
        if r.controller is None:
            # Absolute: nsenter -m starts it in the root directory of the member's mount namespace.
            r.controller = ReplicaController(r, self.topology_file.resolve(), r.directory / "controller.log", PORT,
                                             env=self.env, tls=self.tls, metrics=f"{r.address}:0")
        r.controller.start(timeout)

    # -- who is master ---------------------------------------------------------------------
    def masters(self, bridges: list[str]) -> dict[str, int | None]:
        """Each bridge's master replica, as the switches last confirmed it to the running replicas.

        OVS writes controller roles to OVSDB only every few seconds, too late to time a failover by; a
        replica logs each role reply its switches send. A new master's reply comes after the old one's, and
        OVS demotes the old master when it accepts a new one, so the latest confirmed master is the master."""
        latest: dict[str, tuple[float, int]] = {}
        for r in self.replicas:
            if not r.running or r.controller is None or not r.controller.log.exists():
                continue
            for bridge, (when, role) in confirmed_roles(r.controller.log.read_text(errors="replace")).items():
                if role == "master" and when >= latest.get(bridge, (0.0, 0))[0]:
                    latest[bridge] = (when, r.number)
        return {b: latest[b][1] if b in latest else None for b in bridges}

    # -- what corosync says -------------------------------------------------------------
    def quorum(self, number: int) -> tuple[bool, tuple[int, ...]] | None:
        """(quorate, member node ids) as replica `number`'s corosync sees them; None if it does not answer."""
        r = self[number]
        if not r.running:
            return None
        out = subprocess.run(["nsenter", "-t", str(r.corosync.pid), "-m", "-n", "corosync-quorumtool", "-s"],
                             capture_output=True, text=True, timeout=5)
        return parse_quorumtool(out.stdout)


_ROLE_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \S+ INFO (\S+): role (master|slave|equal) \(generation \d+\)$", re.M)


def confirmed_roles(log: str) -> dict[str, tuple[float, str]]:
    """The last role each bridge's switch confirmed, with when (seconds since the epoch), from a controller's log."""
    found = {}
    for stamp, millis, bridge, role in _ROLE_LINE.findall(log):
        found[bridge] = (time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000, role)
    return found


def parse_quorumtool(text: str) -> tuple[bool, tuple[int, ...]] | None:
    """(quorate, node ids in the membership) from `corosync-quorumtool -s`; None if it did not say."""
    quorate = re.search(r"^Quorate:\s+(Yes|No)", text, re.M)
    if quorate is None:
        return None
    members = re.findall(r"^\s*(0x[0-9a-fA-F]+|\d+)\s+\d+\s", text.split("Membership information", 1)[-1], re.M)
    return quorate.group(1) == "Yes", tuple(sorted(int(m, 0) for m in members))


@outside_event_loop
def _add_bridge(name: str, address: str, tag: str) -> None:
    with IPRoute() as ip:
        ip.link("add", ifname=name, kind="bridge", br_forward_delay=0)
        index = ip.link_lookup(ifname=name)[0]
        ip.link("set", index=index, ifalias=MARK + tag, state="up")
        ip.addr("add", index=index, address=address, prefixlen=24)


@outside_event_loop
def _add_member_netns(name: str, host_end: str, bridge: str, address: str, tag: str) -> None:
    netns.create(name)
    with IPRoute() as ip:
        ip.link("add", ifname=host_end, kind="veth", peer="cl" + host_end)
        index = ip.link_lookup(ifname=host_end)[0]
        ip.link("set", index=index, ifalias=MARK + tag, master=ip.link_lookup(ifname=bridge)[0], state="up")
        ip.link("set", index=ip.link_lookup(ifname="cl" + host_end)[0], net_ns_fd=name)
    with NetNS(name) as ns:
        index = ns.link_lookup(ifname="cl" + host_end)[0]
        ns.link("set", index=index, ifname="eth0", state="up")
        ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        ns.addr("add", index=index, address=address, prefixlen=24)


@outside_event_loop
def _set_link(name: str, up: bool) -> None:
    with IPRoute() as ip:
        ip.link("set", index=ip.link_lookup(ifname=name)[0], state="up" if up else "down")


_MEMBER_NETNS = re.compile(r"^s\d{4}c\d+$")


@outside_event_loop
def remove_network(tag: str | None) -> list[str]:
    """A lab's replica namespaces, veths and bridge (every lab's with None); only what carries a lab's mark
    or name. What went."""
    removed = []
    for name in netns.listnetns():
        if _MEMBER_NETNS.match(name) and (tag is None or name.startswith(f"{tag}c")):
            netns.remove(name)
            removed.append(f"namespace {name}")
    with IPRoute() as ip:
        for link in ip.get_links():
            name = link.get_attr("IFLA_IFNAME")
            alias = link.get_attr("IFLA_IFALIAS") or ""
            if re.match(r"^s\d{4}c(l|\d+)$", name) and alias.startswith(MARK) and (tag is None or alias == MARK + tag):
                try:
                    ip.link("del", index=link["index"])
                    removed.append(name)
                except NetlinkError as exc:
                    if exc.code != 19:  # ENODEV: a veth went with its peer's namespace meanwhile
                        raise
    return removed


def cluster_report(topology: Topology, api, host_name: Callable[[str], str] = str) -> tuple[list[str], bool]:
    """`sdnlab status` of a clustered controller on this node (a Proxmox node running `sdnlab controller FILE
    --cluster`): corosync's quorum, the replicas in the lab's process group, and each of the file's OVS bridges
    on this host with its controllers' roles (`host_name`: a bridge's name on the host, the file's on a real node).
    (lines, whether all is well: quorate, and every bridge here has a master)."""
    from controller.corosync import CorosyncError, group_members, quorum_state
    from controller.launcher import cluster_group

    group = cluster_group(topology)
    lines, healthy = [], True
    try:
        quorate, ring = quorum_state()
        members = group_members(group)
        healthy = quorate
        lines.append(f"controller cluster: corosync {'quorate' if quorate else 'NOT QUORATE'} (ring {ring}); replicas in group {group}: "
                     f"{', '.join(f'node {m}' for m in members) or 'none'} ({len(members)} of the {topology.controller.replicas} the file asks for)")
    except CorosyncError as exc:
        healthy = False
        lines.append(f"controller cluster: this node's corosync does not answer ({exc})")
    for name, bridge in sorted(topology.bridges.items()):
        if not bridge.is_ovs:
            continue
        rows = controller_roles(api, host_name(name))
        if rows is None:
            lines.append(f"  {name}: not on this host")
            continue
        masters = [target for target, role, connected in rows if role == "master" and connected]
        healthy = healthy and bool(masters)
        roles = ", ".join(f"{target} {role or 'no role'}{'' if connected else ' (not connected)'}" for target, role, connected in rows)
        lines.append(f"  {name}: master {masters[0] if masters else 'NONE'}; controllers: {roles or 'none'}")
    return lines, healthy
