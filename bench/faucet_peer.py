"""Faucet as a peer controller in the benchmarks: its install, its config from a lab, starting and stopping it.

    from bench.faucet_peer import ensure_faucet, write_config, check_config, start_faucet, wait_faucet, stop_faucet

Faucet (faucetsdn/faucet) pins its own os-ken, prometheus_client and ruamel.yaml,
which need not agree with ours, so it lives in a virtual environment of its own
(build/faucet-venv, made by `ensure_faucet`) and runs as a separate process.

The translation drives the very OVS bridges sdnlab builds: each OVS bridge is a
Faucet datapath with the bridge's dpid, and every port keeps the OpenFlow
number sdnlab's PortPlan gives it (controller/state.py), so either controller
can be pointed at the same switches. A NIC is an access port (`native_vlan`), a
trunk NIC adds its trunks as `tagged_vlans`; a link between two OVS bridges is
a Faucet stack port, which is how Faucet carries VLANs between switches and
keeps loops from storming (it floods along a tree towards one root datapath).

What Faucet cannot say, and what the translation does about it:
- A link through a Linux bridge: no OpenFlow switch there, refused (UnsupportedLab).
- Untagged NICs: Faucet has no untagged segment, only VLANs, so sdnlab's
  `untagged` becomes a VLAN of its own, with the highest vid the lab leaves free.
- A stack carries every VLAN on every stack port: a link's `trunks` and
  `untagged: false` cannot prune it. Where that would join NICs of one segment
  that the lab keeps apart, `faucet_config` refuses unless told to go on
  (`differences` lists them).
- One stack per Faucet: OVS bridges linked into two separate groups are refused.
- sdnlab limits learned MACs per (port, VLAN); Faucet per port (`max_hosts`,
  all its VLANs) and per VLAN: a NIC port gets the lab's `mac_limit` times its
  segments, so its total budget is the same; VLANs get no limit (sdnlab has none).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from controller.state import Binding, PortPlan  # noqa: E402
from sdnlab.model import UNTAGGED, Link, Nic, Segment, Topology, segment_key  # noqa: E402

# The newest release (March 2026); it supports Python 3.10-3.12 and brings its own os-ken (3.1.0).
FAUCET_VERSION = "1.10.12"
FAUCET_VENV = ROOT / "build" / "faucet-venv"
STACK_UP = 3  # faucet/port.py STACK_STATE_UP: the value of its port_stack_state metric for a stack port that is up
MARKER = "sdnlab-faucet-pin"  # in the venv; holds the pin it was installed with
SYSTEM_PYTHON = "/usr/bin/python3"

ETH_ARP = 0x0806
NO_ADDRESS = "0.0.0.0"  # an ARP probe's sender address (RFC 5227), let through as sdnlab's guard does
UNTAGGED_VLAN = "untagged"
MAX_VID = 4094
# Faucet refuses a MAC timeout under 15 s, and wants its ARP/ND neighbour timeouts under half of it.
MIN_TIMEOUT = 15
FAUCET_NEIGHBOR_TIMEOUT = 30  # Faucet's default for arp_neighbor_timeout and nd_neighbor_timeout
# Faucet's own LLDP defaults, written out so a benchmark's config says what it ran with.
LLDP_BEACON = {"send_interval": 5, "max_per_interval": 5}


class UnsupportedLab(ValueError):
    """A lab that Faucet cannot drive as sdnlab does."""


# --- the install -------------------------------------------------------------


def faucet_bin(venv: Path = FAUCET_VENV) -> Path:
    """Where the venv's executables are (faucet, check_faucet_config, osken-manager)."""
    return venv / "bin"


def ensure_faucet(venv: Path = FAUCET_VENV) -> Path:
    """Faucet FAUCET_VERSION installed in `venv` (made if missing); the path of its `faucet` executable.

    Quick when the venv already has it: a marker file holding the pin is written
    only after pip succeeded, so an interrupted install is simply done again.
    """
    venv = Path(venv)
    exe = faucet_bin(venv) / "faucet"
    marker = venv / MARKER
    if exe.exists() and marker.exists() and marker.read_text().strip() == FAUCET_VERSION:
        return exe
    python = faucet_bin(venv) / "python"
    if not python.exists():
        # The system's Python, not ours: a venv made from .venv's interpreter would still be a venv of it.
        _run([SYSTEM_PYTHON, "-m", "venv", str(venv)], "making the Faucet venv")
    marker.unlink(missing_ok=True)
    # Faucet's setup.py copies sample configs into /etc/faucet and makes /var/log/faucet when it can (as root it
    # can); DEBINSTALL=1 is its own switch to skip that: nothing of it is used here, and nothing outside the venv is touched.
    _run([str(python), "-m", "pip", "install", "--quiet", f"faucet=={FAUCET_VERSION}"], f"installing faucet=={FAUCET_VERSION}",
         {**os.environ, "DEBINSTALL": "1"})
    if not exe.exists():
        raise RuntimeError(f"pip installed faucet=={FAUCET_VERSION} into {venv}, but {exe} is not there")
    marker.write_text(FAUCET_VERSION + "\n")
    return exe


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (status {done.returncode}): {' '.join(argv)}\n{done.stdout}{done.stderr}")


def installed_version(venv: Path = FAUCET_VENV) -> str:
    """What `faucet --version` says, e.g. 'Faucet 1.10.12'."""
    done = subprocess.run([str(faucet_bin(venv) / "faucet"), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


# --- the translation ---------------------------------------------------------


def vlan_name(segment: Segment) -> str:
    """The key of a segment in faucet.yaml's `vlans`."""
    return UNTAGGED_VLAN if segment == UNTAGGED else f"vlan{int(segment)}"


def untagged_vid(topology: Topology) -> int:
    """The vid that carries sdnlab's untagged segment inside Faucet: the highest one the lab does not use."""
    used = set(topology.vlans)
    for nic in topology.nics():
        used |= {s for s in nic.segments if s != UNTAGGED}
    for link in topology.links:
        used |= link.trunks
    for vid in range(MAX_VID, 0, -1):
        if vid not in used:
            return vid
    raise UnsupportedLab("the lab uses every VLAN id, which leaves none for its untagged segment inside Faucet")


def _check_links(topology: Topology) -> None:
    for link in topology.links:
        for end in link.between:
            bridge = topology.bridges[end]
            if not bridge.is_ovs:
                raise UnsupportedLab(
                    f"link {link.id} ({' - '.join(link.between)}) goes through {end}, a Linux bridge: "
                    f"no OpenFlow controller drives it, so Faucet cannot carry the lab's traffic over it"
                )


def _components(bridges: Iterable[str], links: Iterable[Link]) -> list[set[str]]:
    """Groups of bridges joined by `links`, each group in no particular order."""
    group = {b: {b} for b in bridges}
    for link in links:
        a, b = (group[end] for end in link.between)
        if a is not b:
            a |= b
            for member in b:
                group[member] = a
    seen, out = set(), []
    for members in group.values():
        if id(members) not in seen:
            seen.add(id(members))
            out.append(members)
    return out


def _ordered(topology: Topology, bridges: Iterable[str]) -> list[str]:
    """Bridges in the lab's file order, so messages and choices do not depend on set order."""
    wanted = set(bridges)
    return [name for name in topology.bridges if name in wanted]


def differences(topology: Topology) -> list[str]:
    """Where Faucet's stack would join NICs of one segment that the lab keeps apart.

    A stack port carries every VLAN, so two bridges with NICs in a segment are
    joined under Faucet as soon as any chain of links joins them; in the lab
    only a chain of links that all carry that segment does.
    """
    _check_links(topology)
    out = []
    stacked = _components(topology.bridges, topology.links)
    segments = sorted({s for nic in topology.nics() for s in nic.segments}, key=segment_key)
    for segment in segments:
        where = {nic.bridge for nic in topology.nics() if segment in nic.segments}
        joined = _components(topology.bridges, [link for link in topology.links if link.carries(segment)])
        for stack in stacked:
            islands = [_ordered(topology, where & group) for group in joined if where & group & stack]
            if len(islands) > 1:
                out.append(
                    f"{'' if segment == UNTAGGED else 'VLAN '}{topology.vlan_label(segment)}: the lab keeps {' | '.join(', '.join(i) for i in islands)} apart "
                    f"(no chain of links that carries it), but Faucet's stack joins them"
                )
    return out


def _guard_acl(nic: Nic) -> list[dict]:
    """sdnlab's source guard (controller/pipeline.py `_guard`) as a Faucet port ACL.

    Only the NIC's MAC gets in; ARP only with that MAC as sender hardware
    address and, in its untagged side, its ip (or none, for probes) as sender;
    in a trunk NIC's tagged VLANs ARP is held to its MAC only. Faucet drops what
    no rule allows, as sdnlab's guard table does.
    """
    arp = {"eth_type": ETH_ARP, "eth_src": nic.mac, "arp_sha": nic.mac}
    senders = [{**arp, "arp_spa": str(nic.ip.ip)}, {**arp, "arp_spa": NO_ADDRESS}] if nic.ip is not None else [arp]
    senders += [{**arp, "vlan_vid": vid} for vid in sorted(nic.trunks)]
    rules = [{"rule": {**match, "actions": {"allow": 1}}} for match in senders]
    rules.append({"rule": {"eth_type": ETH_ARP, "actions": {"allow": 0}}})  # ARP claiming anybody else
    rules.append({"rule": {"eth_src": nic.mac, "actions": {"allow": 1}}})
    return rules


def guard_acl_name(nic: Nic) -> str:
    return f"guard-{nic.id}"


def stack_root(topology: Topology, bridges: Iterable[str]) -> str:
    """The stack's root: the bridge with the most links (floods go via the root), the first in the file on a tie."""
    degree = {name: 0 for name in bridges}
    for link in topology.links:
        for end in link.between:
            degree[end] += 1
    return max(_ordered(topology, degree), key=lambda name: degree[name])  # max keeps the first of equals


def faucet_config(topology: Topology, allow_differences: bool = False, port_security: bool = True) -> dict:
    """faucet.yaml for a lab, as a dict (see the module's docstring for the mapping).

    `allow_differences`: translate a lab even where Faucet's stack joins what the
    lab keeps apart (`differences`); `port_security=False` leaves out the guard
    ACLs of NICs with `port_security` (for a benchmark that turns sdnlab's off too).
    Raises UnsupportedLab for what Faucet cannot drive at all.
    """
    _check_links(topology)
    found = differences(topology)
    if found and not allow_differences:
        raise UnsupportedLab("Faucet's stack would not keep apart what the lab does:\n  " + "\n  ".join(found))
    linked = {end for link in topology.links for end in link.between}
    stacks = [group for group in _components(linked, topology.links) if len(group) > 1]
    if len(stacks) > 1:
        groups = "; ".join(sorted(", ".join(_ordered(topology, g)) for g in stacks))
        raise UnsupportedLab(f"the lab's OVS bridges form {len(stacks)} separately linked groups ({groups}); one Faucet runs one stack")
    root = stack_root(topology, stacks[0]) if stacks else None

    plan = PortPlan(topology)
    cfg = topology.controller
    if cfg.mac_idle_timeout < MIN_TIMEOUT:
        raise UnsupportedLab(f"controller.mac_idle_timeout is {cfg.mac_idle_timeout} s; Faucet's MAC timeout is at least {MIN_TIMEOUT} s")
    # Faucet wants its neighbour timeouts under half the MAC timeout (they only matter when it routes, which it does not here).
    neighbor_timeout = min(FAUCET_NEIGHBOR_TIMEOUT, (cfg.mac_idle_timeout - 1) // 2)
    nics = {nic.id: nic for nic in topology.nics()}
    used: set[Segment] = set()
    acls: dict[str, list[dict]] = {}
    dps: dict[str, dict] = {}
    for name, bridge in topology.bridges.items():
        if not bridge.is_ovs or not plan[name]:
            continue  # a Linux bridge is no datapath; Faucet refuses a datapath without interfaces
        interfaces: dict[int, dict] = {}
        for number, binding in sorted(plan[name].items()):
            if binding.kind == "nic":
                nic = nics[binding.id]
                used.update(nic.segments)
                port: dict = {"description": f"NIC {nic.id}", "native_vlan": vlan_name(nic.segment)}
                if nic.trunks:
                    port["tagged_vlans"] = [vlan_name(vid) for vid in sorted(nic.trunks)]
                port["max_hosts"] = cfg.mac_limit * len(nic.segments)
                if port_security and nic.port_security:
                    acls[guard_acl_name(nic)] = _guard_acl(nic)
                    port["acls_in"] = [guard_acl_name(nic)]
                interfaces[number] = port
            else:
                link = next(link for link in topology.links if link.id == binding.id)
                other = link.between[1] if link.between[0] == name else link.between[0]
                interfaces[number] = {
                    "description": f"link {link.id} to {other}",
                    "stack": {"dp": other, "port": plan.port(other, Binding("link", link.id))},
                }
        dp: dict = {
            "dp_id": bridge.dpid,
            "hardware": "Open vSwitch",
            "description": f"sdnlab bridge {name} on {bridge.node}",
            "timeout": cfg.mac_idle_timeout,
            # sdnlab's learned flows expire after that long idle; Faucet's default is a hard timeout refreshed by relearning.
            "use_idle_timeout": True,
            "arp_neighbor_timeout": neighbor_timeout,
            "nd_neighbor_timeout": neighbor_timeout,
            "packetin_pps": cfg.packet_in_rate,  # a meter on the switch, as sdnlab's packet_in_rate is
        }
        if name == root:
            dp["stack"] = {"priority": 1}
        if any("stack" in port for port in interfaces.values()):
            dp["lldp_beacon"] = dict(LLDP_BEACON)
        dp["interfaces"] = interfaces
        dps[name] = dp

    vlans = {}
    # max_hosts 0: no limit per VLAN, as sdnlab has none (Faucet's default is 256 per VLAN).
    for segment in sorted(used, key=segment_key):
        if segment == UNTAGGED:
            vid = untagged_vid(topology)
            vlans[UNTAGGED_VLAN] = {"vid": vid, "description": f"sdnlab's untagged segment, tagged {vid} inside Faucet", "max_hosts": 0}
        else:
            label = topology.vlans.get(int(segment))
            vlans[vlan_name(segment)] = {"vid": int(segment), **({"description": label} if label else {}), "max_hosts": 0}
    out: dict = {"vlans": vlans, "dps": dps}
    if acls:
        out["acls"] = acls
    return out


def write_config(topology: Topology, path: Path, **options) -> dict:
    """Write faucet.yaml for a lab to `path` (options as for `faucet_config`); returns the dict written."""
    config = faucet_config(topology, **options)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Faucet config for sdnlab lab '{topology.name}' ({topology.source}), written by bench/faucet_peer.py\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False))
    return config


# --- running it --------------------------------------------------------------


def check_config(path: Path, venv: Path = FAUCET_VENV) -> None:
    """Faucet's own checker on a config file; RuntimeError with its output if it rejects the file."""
    checker = faucet_bin(venv) / "check_faucet_config"
    if not checker.exists():
        raise FileNotFoundError(f"{checker} is missing: run ensure_faucet() first")
    # Its os-ken imports eventlet, which warns of its own deprecation on every run: noise around the verdict.
    done = subprocess.run([str(checker), str(path)], capture_output=True, text=True, env=_env(venv, {"PYTHONWARNINGS": "ignore"}))
    if done.returncode != 0:
        raise RuntimeError(f"check_faucet_config rejects {path} (status {done.returncode}):\n{done.stdout}{done.stderr}")


# Run by the venv's Python: Faucet's own parser says what it makes of a config (so nothing here guesses its table numbering).
_FACTS = """
import json, sys
from faucet.config_parser import dp_parser
_, _, dps, _ = dp_parser(sys.argv[1], "faucet")
out = {}
for dp in dps:
    out[str(dp.dp_id)] = {
        "name": dp.name,
        "cookie": dp.cookie,
        "tables": {name: table.table_id for name, table in dp.tables.items()},
        "native_vids": {str(port.number): port.native_vlan.vid for port in dp.ports.values() if port.native_vlan is not None},
        "stack_ports": sorted(port.number for port in dp.ports.values() if port.stack),
        "ports": sorted(dp.ports),
    }
print("FACTS " + json.dumps(out))
"""


def pipeline_facts(path: Path, venv: Path = FAUCET_VENV) -> dict[int, dict]:
    """What Faucet's own config parser makes of a config file, per dp_id: its `cookie` (the cookie of every flow it
    installs, and of the packet-ins it accepts), `tables` (name: table id, e.g. 'eth_src', whose flow sends unknown
    sources to it), `native_vids` (port: vid), `stack_ports` and `ports` (numbers). RuntimeError if it rejects the file."""
    python = faucet_bin(venv) / "python"
    done = subprocess.run([str(python), "-c", _FACTS, str(path)], capture_output=True, text=True,
                          env=_env(venv, {"PYTHONWARNINGS": "ignore"}), timeout=120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("FACTS ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"Faucet's parser failed on {path} (status {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    facts = json.loads(line[len("FACTS "):])
    return {int(dp_id): {**dp, "native_vids": {int(n): v for n, v in dp["native_vids"].items()}} for dp_id, dp in facts.items()}


def _env(venv: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment Faucet runs in: the venv's bin first on PATH, since `faucet` execs
    `osken-manager` from PATH (and ours, in .venv, is another os-ken)."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and not k.startswith(("FAUCET_", "GAUGE_", "PYTHON"))}
    env["PATH"] = f"{faucet_bin(venv)}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.update(extra or {})
    return env


# What Faucet ships as /etc/faucet/ryu.conf (etc/faucet/ryu.conf in its source): a dead OpenFlow channel is
# noticed within seconds. Written into the workdir and named on the command line, so a run does not depend
# on whether some install put a file in /etc.
OSKEN_CONF = """[DEFAULT]
echo_request_interval=3
maximum_unreplied_echo_requests=5
"""


def faucet_command(of_port: int, osken_conf: Path, venv: Path = FAUCET_VENV, host: str = "127.0.0.1") -> list[str]:
    """The command line that starts Faucet listening for switches on host:of_port.

    `faucet` execs os-ken's `osken-manager` (found on PATH) and hands each
    `--ryu-X` on as `--X` (faucet/__main__.py): these become os-ken's
    --config-file, --ofp-listen-host and --ofp-tcp-listen-port.
    """
    return [str(faucet_bin(venv) / "faucet"), f"--ryu-config-file={osken_conf}", f"--ryu-ofp-listen-host={host}",
            f"--ryu-ofp-tcp-listen-port={of_port}"]


def start_faucet(config: Path, of_port: int, prom_port: int, workdir: Path, venv: Path = FAUCET_VENV) -> subprocess.Popen:
    """Start Faucet on `config`, for switches on 127.0.0.1:`of_port`, metrics on 127.0.0.1:`prom_port`.

    In a process group of its own, so `stop_faucet` ends it and anything it
    started; its logs and stdout/stderr go into `workdir`. Returns at once: use
    `wait_faucet` to wait until it listens.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = _env(venv, {
        "FAUCET_CONFIG": str(Path(config).resolve()),
        "FAUCET_LOG": str(workdir / "faucet.log"),
        "FAUCET_EXCEPTION_LOG": str(workdir / "faucet_exception.log"),
        "FAUCET_PROMETHEUS_PORT": str(prom_port),
        "FAUCET_PROMETHEUS_ADDR": "127.0.0.1",
        "FAUCET_EVENT_SOCK": "0",  # none ("0" is Faucet's word for it); a socket would go under /var/run
    })
    osken_conf = workdir / "osken.conf"
    osken_conf.write_text(OSKEN_CONF)
    out = open(workdir / "faucet.out", "ab")  # noqa: SIM115 - the child keeps it; closed with our copy below
    try:
        return subprocess.Popen(faucet_command(of_port, osken_conf, venv), cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()


def _listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def wait_faucet(proc: subprocess.Popen, of_port: int, prom_port: int | None = None, timeout: float = 30) -> None:
    """Wait until Faucet accepts switches on `of_port` (and serves metrics on `prom_port`, if given).

    RuntimeError if it exits first or takes longer than `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"faucet exited at start (status {proc.returncode}); see its workdir's faucet.out and faucet.log")
        if _listening(of_port) and (prom_port is None or _listening(prom_port)):
            return
        time.sleep(0.2)
    raise RuntimeError(f"faucet did not listen on 127.0.0.1:{of_port} within {timeout} s")


def metrics(prom_port: int, timeout: float = 5) -> str:
    """Faucet's Prometheus metrics page, as text."""
    with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/metrics", timeout=timeout) as answer:
        return answer.read().decode()


def stop_faucet(proc: subprocess.Popen, timeout: float = 10) -> int:
    """End Faucet's process group (SIGTERM, then SIGKILL after `timeout` s) and wait for it; its exit status."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # its own group (start_new_session): only what start_faucet started
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # A child left behind in the group after the leader exited.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return proc.returncode
