"""Benchmark the controller, in one invocation, against its peers.

    .venv/bin/python bench/controller_bench.py            # writes bench/results/controller.md
    .venv/bin/python bench/controller_bench.py --quick    # shorter runs

1. Packet-in handling (bench/ofload.py, cbench-style), throughput and latency,
   for: sdnlab's controller (its own OpenFlow channel and os-ken's stock one),
   the textbook os-ken L2 switch (bench/textbook_switch.py), ovs-testcontroller
   (C), Faucet (bench/faucet_peer.py: its own venv, the same switches, dpids
   and port numbers), and the generator's own ceiling (a no-logic sink). Also
   the MACs each controller says it learned per second (Prometheus
   `vlan_hosts_learned`, sdnlab's and Faucet's) and each controller process's
   peak RSS.
2. Programming a 50-bridge ring from cold: real OVS bridges (userspace
   datapath) connect to sdnlab's controller, timed until every static flow is
   installed, next to `ovs-ofctl add-flows` loading the same flows from files,
   and to Faucet driving the same ring as a stack.

Needs root and a running Open vSwitch for sdnlab's rows (its ports are bound in
OVSDB) and the cold programming; `--only sink,textbook,ovs,faucet` needs neither.
Everything it creates is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import faucet_peer  # noqa: E402
from bench.ofload import metric_sum  # noqa: E402
from controller.flows import COOKIE_STATIC  # noqa: E402
from controller.state import PortPlan  # noqa: E402
from host.control import free_port, wait_listening  # noqa: E402
from host.verify import dump_flows, expected_static  # noqa: E402
from sdnlab import load  # noqa: E402

PY = sys.executable
PREFIX = "bq"  # names of everything this benchmark creates in OVS
FAUCET_NAME = f"Faucet {faucet_peer.FAUCET_VERSION}"
LATENCY_SEQ_BASE = 1 << 18  # the latency run's fresh MACs start here: none of them was sent in the throughput run


def wait_until_listening(port: int, proc: subprocess.Popen) -> None:
    why = wait_listening(port, proc)
    if why:
        raise RuntimeError(why)


def vsctl(*args: str) -> None:
    subprocess.run(["ovs-vsctl", "--timeout=10", *args], check=True, capture_output=True)


def cleanup() -> None:
    out = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split()
    for bridge in out:
        if bridge.startswith(PREFIX):
            subprocess.run(["ovs-vsctl", "--if-exists", "del-br", bridge], capture_output=True)


def load_topology(switches: int, ports: int, tmp: Path) -> tuple[Path, object]:
    lines = ["name: bench", "controller: {packet_in_rate: 1000000, mac_limit: 65535, mac_idle_timeout: 600}", "bridges:"]
    lines += [f"  br{s}: {{type: ovs, dpid: {s + 1}}}" for s in range(switches)]
    lines.append("endpoints:")
    lines += [f"  h{s}x{p}: {{type: host, nics: [{{bridge: br{s}}}]}}" for s in range(switches) for p in range(ports)]
    path = tmp / "bench.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, load(path)


def plan_switches(topology) -> list:
    """The emulated switches: [dpid, [[port number, port name], ...]] per bridge, numbers from sdnlab's PortPlan
    (Faucet's config uses the same), names those `bind_in_ovsdb` gives the OVS ports."""
    plan = PortPlan(topology)
    return [[bridge.dpid, [[number, f"{PREFIX}{i}p{number}"] for number in plan[name]]]
            for i, (name, bridge) in enumerate(sorted(topology.bridges.items()))]


def bind_in_ovsdb(topology) -> list:
    """Real bridges (never connected) whose ports carry the bindings the emulated switches report."""
    plan = PortPlan(topology)
    for i, (name, bridge) in enumerate(sorted(topology.bridges.items())):
        ovs_name = f"{PREFIX}{i}"
        cmd = ["add-br", ovs_name, "--", "set", "bridge", ovs_name, "datapath_type=netdev", "fail_mode=secure",
               f"other_config:datapath-id={bridge.dpid:016x}"]
        for number, binding in plan[name].items():
            port = f"{PREFIX}{i}p{number}"
            cmd += ["--", "add-port", ovs_name, port, "--", "set", "Interface", port, "type=internal", f"ofport_request={number}",
                    f"external_ids:sdnlab-nic={binding.id}"]
        vsctl(*cmd)
    return plan_switches(topology)


def run_generator(port: int, switches: list, mode: str, duration: float, metrics_port: int | None = None,
                  faucet: dict | None = None, seq_base: int = 0) -> dict:
    argv = [PY, str(ROOT / "bench" / "ofload.py"), "generate", "--port", str(port), "--mode", mode,
            "--switches", json.dumps(switches), "--duration", str(duration), "--seq-base", str(seq_base)]
    if metrics_port is not None:
        argv += ["--metrics-url", f"http://127.0.0.1:{metrics_port}/metrics"]
    if faucet is not None:
        argv += ["--faucet", json.dumps(faucet)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout)


# --- memory ------------------------------------------------------------------


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on TCP `port` (any address)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                found.add(cols[9])
    return found


def _session_pids(sid: int) -> list[int]:
    """Processes in session `sid` (a controller started with start_new_session leads its own)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:  # after the name: state, ppid, pgrp, session
                pids.append(int(entry.name))
    return sorted(pids)


def listening_pid(port: int, proc: subprocess.Popen) -> int:
    """The process of `proc`'s session that holds the listening socket on `port` (Faucet's `faucet` execs
    osken-manager; others may fork); `proc` itself if none is found."""
    inodes = {f"socket:[{i}]" for i in _listening_inodes(port)}
    for pid in _session_pids(proc.pid):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if fd.readlink().as_posix() in inodes:
                    return pid
            except OSError:
                continue
    return proc.pid


def peak_rss_mib(pid: int, field: str = "VmHWM") -> float | None:
    """VmHWM (the peak resident set size over the process's life so far), or another /proc status field, in MiB;
    None if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# --- packet-in handling ------------------------------------------------------


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Contender:
    name: str
    # (OpenFlow port, metrics port or None) -> the started process
    start: Callable[[int, int | None], subprocess.Popen]
    metrics: bool = False  # serves vlan_hosts_learned on the metrics port
    faucet: dict | None = None  # ofload's --faucet: packet-ins shaped as Faucet's pipeline sends them
    wait: Callable[[subprocess.Popen, int, int | None], None] | None = None
    stop: Callable[[subprocess.Popen], object] = _stop
    notes: dict = field(default_factory=dict)  # goes into the results as it is


def command(argv: Callable[[int, int | None], list[str]]) -> Callable[[int, int | None], subprocess.Popen]:
    return lambda port, mport: subprocess.Popen(argv(port, mport), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                start_new_session=True)


def _wait(proc: subprocess.Popen, port: int, mport: int | None) -> None:
    wait_until_listening(port, proc)
    if mport is not None:
        wait_until_listening(mport, proc)


def measure(name: str, command: list[str], port: int, switches: list, duration: float) -> dict:
    """Start `command` (a controller that will listen on `port`), run both modes against it, stop it.
    (The interface the notebooks use; `measure_contender` is the general one.)"""
    def start(_port: int, _mport: int | None) -> subprocess.Popen:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    return measure_contender(Contender(name, start), switches, duration, port)


def connected_switches(mport: int) -> float:
    """The sum of `dp_status` (1 per connected datapath; Faucet's metric, which sdnlab serves too) on the metrics page."""
    return metric_sum(f"http://127.0.0.1:{mport}/metrics", "dp_status")


def let_go(mport: int, patience: float = 60.0) -> float:
    """Wait until the controller has seen the last mode's switches go (seconds waited). A controller that has not yet
    would take the next mode's switches, which connect with the same dpids, for second sessions: sdnlab refuses those
    (one session per bridge), and on os-ken's stock channel the disconnections queue behind the packet-ins."""
    started = time.monotonic()
    while connected_switches(mport) > 0:
        if time.monotonic() - started > patience:
            raise RuntimeError(f"the controller still counted the last mode's switches as connected after {patience:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


def measure_contender(contender: Contender, switches: list, duration: float, port: int | None = None) -> dict:
    """Start a contender, run both modes against it (each with fresh MACs), note its peak RSS, stop it."""
    port = free_port() if port is None else port
    mport = free_port() if contender.metrics else None
    proc = contender.start(port, mport)
    try:
        (contender.wait or _wait)(proc, port, mport)
        result = {"name": contender.name, **contender.notes}
        time.sleep(0.5)  # started: what it holds before any switch connects, once it has settled
        result["start_rss_mib"] = peak_rss_mib(listening_pid(port, proc), "VmRSS")
        for mode in ("throughput", "latency"):
            if mode != "throughput" and mport is not None:
                result[f"let_go_s_before_{mode}"] = let_go(mport)
            seq_base = 0 if mode == "throughput" else LATENCY_SEQ_BASE
            r = result[mode] = run_generator(port, switches, mode, duration, mport, contender.faucet, seq_base)
            learned = f", {r['macs_learned_per_s']:.0f} MACs learned/s (its metrics)" if r.get("macs_learned_per_s") is not None else ""
            print(f"  {contender.name:<28} {mode:<10} {r['answered_per_s']:>9.0f} packet-ins answered/s, "
                  f"{r['responses_per_s']:>9.0f} responses/s, median latency {r['latency_ms_median'] or 0:.2f} ms{learned}", flush=True)
        if proc.poll() is not None:
            raise RuntimeError(f"{contender.name} exited during the run (status {proc.returncode})")
        holder = listening_pid(port, proc)
        result["peak_rss_mib"] = peak_rss_mib(holder)
        result["rss_pid_is_leader"] = holder == proc.pid
        print(f"  {contender.name:<28} peak RSS {result['peak_rss_mib'] or 0:.1f} MiB", flush=True)
        return result
    finally:
        contender.stop(proc)


# --- Faucet as a peer --------------------------------------------------------

# What the packet-in benchmark changes in the Faucet config of the bench lab (faucet_peer.faucet_config), and why.
FAUCET_BENCH_SETTINGS = {
    "ignore_learn_ins": (0, "Faucet's default (10) may skip every 10th packet-in for learning; 0: learn from every one, as sdnlab does"),
    "packetin_pps": (None, "a meter on the switch, which the emulated switches do not have; left out so nothing even asks to "
                           "limit packet-ins (sdnlab's bench file sets packet_in_rate 1000000: no limit either)"),
}
FAUCET_KEPT = [
    "ports' max_hosts: the lab's mac_limit (65535) per port; VLANs' max_hosts: 0 (no limit) - as sdnlab's limits (faucet_peer)",
    "timeout 600 s with use_idle_timeout (the lab's mac_idle_timeout); learn_jitter and cache_update_guard_time: Faucet's "
    "defaults (they follow from timeout and only matter when a known MAC comes back; every MAC here is new)",
    "no port ACLs (faucet_config port_security=False): a switch running Faucet's guard ACLs would drop these frames "
    "before its eth_src table, so they could not be its packet-ins (sdnlab's guard table would drop them too on a real "
    "switch; neither controller looks at the guard when it learns, so both do the same work per packet-in)",
    "metrics_rate_limit_sec: 0 (Faucet's default): it exports vlan_hosts_learned (and learned_macs, every MAC of the "
    "port again) after every learn; a limit would let it answer faster but leave vlan_hosts_learned stale, which this "
    "benchmark reads",
    "logging: Faucet's default (INFO, one line per learned host, to a file)",
]


def faucet_contender(topology, tmp: Path) -> Contender:
    """Faucet on the bench lab's translation, or an exception saying why it cannot run."""
    faucet_peer.ensure_faucet()
    config = faucet_peer.faucet_config(topology, port_security=False)
    for dp in config["dps"].values():
        for key, (value, _why) in FAUCET_BENCH_SETTINGS.items():
            if value is None:
                dp.pop(key, None)
            else:
                dp[key] = value
    workdir = tmp / "faucet"
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "faucet.yaml"
    path.write_text(f"# Faucet config for the controller benchmark's lab, written by {Path(__file__).name}\n"
                    + faucet_peer.yaml.safe_dump(config, sort_keys=False, default_flow_style=False))
    faucet_peer.check_config(path)
    facts = faucet_peer.pipeline_facts(path)
    shape = {str(dpid): {"cookie": dp["cookie"], "table_id": dp["tables"]["eth_src"], "vids": {str(n): v for n, v in dp["native_vids"].items()}}
             for dpid, dp in facts.items()}
    one = next(iter(facts.values()))
    notes = {"faucet": {"version": faucet_peer.installed_version(), "settings": {k: v for k, (v, _w) in FAUCET_BENCH_SETTINGS.items()},
                        "cookie": one["cookie"], "eth_src_table": one["tables"]["eth_src"], "tables": one["tables"],
                        "native_vids": sorted({v for dp in facts.values() for v in dp["native_vids"].values()})}}
    return Contender(
        FAUCET_NAME,
        lambda port, mport: faucet_peer.start_faucet(path, port, mport, workdir),
        metrics=True,
        faucet=shape,
        wait=lambda proc, port, mport: faucet_peer.wait_faucet(proc, port, mport, timeout=60),
        stop=faucet_peer.stop_faucet,
        notes=notes,
    )


def ring_topology(bridges: int, tmp: Path) -> tuple[Path, object]:
    """The ring's lab file (4 VLANs, links trunking all, 2 access NICs per bridge) and its topology; nothing built."""
    lines = ["name: ring", "vlans: {10: {}, 20: {}, 30: {}, 40: {}}", "bridges:"]
    lines += [f"  r{b}: {{type: ovs, dpid: {1000 + b}}}" for b in range(bridges)]
    lines.append("endpoints:")
    lines += [f"  e{b}x{k}: {{type: host, nics: [{{bridge: r{b}, tag: {10 * (k + 1)}}}]}}" for b in range(bridges) for k in range(2)]
    lines.append("links:")
    lines += [f"  - {{name: l{b}, between: [r{b}, r{(b + 1) % bridges}]}}" for b in range(bridges)]
    path = tmp / "ring.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, load(path)


def build_ring(bridges: int, tmp: Path) -> tuple[Path, object, dict[str, str], dict[str, set]]:
    """Real OVS bridges in a ring (4 VLANs trunked, patch ports), 2 NICs each, no controller yet.

    Returns the topology file, the topology, OVS names and the static flows each bridge should get."""
    path, topology = ring_topology(bridges, tmp)
    plan = PortPlan(topology)
    names = {name: f"{PREFIX}r{i}" for i, name in enumerate(sorted(topology.bridges))}
    for name, bridge in sorted(topology.bridges.items()):
        cmd = ["add-br", names[name], "--", "set", "bridge", names[name], "datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow13",
               f"other_config:datapath-id={bridge.dpid:016x}"]
        for number, binding in plan[name].items():
            port = f"{names[name]}p{number}"
            key = "sdnlab-nic" if binding.kind == "nic" else "sdnlab-link"
            cmd += ["--", "add-port", names[name], port, "--", "set", "Interface", port, f"ofport_request={number}", f"external_ids:{key}={binding.id}"]
            if binding.kind == "link":
                link = next(x for x in topology.links if x.id == binding.id)
                peer = link.between[1] if link.between[0] == name else link.between[0]
                peer_port = next(n for n, x in plan[peer].items() if x == binding)
                cmd += ["type=patch", f"options:peer={names[peer]}p{peer_port}"]
            else:
                cmd += ["type=internal"]
        vsctl(*cmd)
        for number, binding in plan[name].items():
            if binding.kind == "nic":  # internal ports start down; down ports carry nothing
                subprocess.run(["ip", "link", "set", f"{names[name]}p{number}", "up"], check=True)
    return path, topology, names, expected_static(topology, plan)


def installed_static(names: dict[str, str], bridge: str) -> set:
    return {f for f in dump_flows(names[bridge]) if f.cookie == COOKIE_STATIC}


def cold_program(bridges: int, tmp: Path) -> dict:
    """Time to program the ring from cold: by the controller, and by ovs-ofctl add-flows."""
    path, topology, names, wanted = build_ring(bridges, tmp)
    total = sum(len(w) for w in wanted.values())

    def installed() -> int:
        return sum(len(want & installed_static(names, b)) for b, want in wanted.items())

    port = free_port()
    proc = subprocess.Popen([PY, "-m", "sdnlab.cli", "controller", str(path), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_listening(port, proc)
        started = time.monotonic()
        target = f"tcp:127.0.0.1:{port}"
        vsctl(*[arg for b in sorted(names.values()) for arg in ("--", "set-controller", b, target)])
        while installed() < total:
            if time.monotonic() - started > 120:
                raise RuntimeError("controller did not program the ring within 120 s")
            time.sleep(0.05)
        controller_s = time.monotonic() - started
        controller_rss = peak_rss_mib(listening_pid(port, proc))
    finally:
        proc.terminate()
        proc.wait(5)
    for b in names.values():
        vsctl("del-controller", b)
        subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "del-flows", b], check=True)
    files = {}
    for b, want in wanted.items():
        f = tmp / f"{names[b]}.flows"
        f.write_text("\n".join(x.to_ofctl() for x in want) + "\n")
        files[b] = f
    started = time.monotonic()
    for b in sorted(names):
        subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "add-flows", names[b], str(files[b])], check=True)
    ofctl_s = time.monotonic() - started
    assert installed() == total
    return {"bridges": bridges, "flows": total, "controller_s": controller_s, "ofctl_s": ofctl_s, "controller_peak_rss_mib": controller_rss}


# --- Faucet programming the ring (needs OVS) ----------------------------------

FAUCET_COLD_TIMEOUT = 180.0
STABLE_FOR = 1.0  # seconds a bridge's flow count must stay the same


def faucet_static_flows(ovs_bridge: str, cookie: int) -> int:
    """Faucet's flows in a bridge that are there for good: its cookie, and no idle or hard timeout (learned hosts
    and temporary learning bans carry one; the NICs' own IPv6 chatter gets hosts learned at any time)."""
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", ovs_bridge, f"cookie={cookie:#x}/-1"],
                         capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if "cookie=" in line and "idle_timeout=" not in line and "hard_timeout=" not in line)


def faucet_state(prom_port: int) -> dict:
    """From Faucet's metrics: dp_ids it runs (dp_status 1), stack ports up, the stack root's dpid (0: none yet)."""
    from prometheus_client.parser import text_string_to_metric_families

    running, stack_up, root = set(), 0, 0
    try:
        page = faucet_peer.metrics(prom_port, timeout=30)
    except OSError:  # TimeoutError too: Faucet busy bringing 50 datapaths up answers its metrics late; nothing is up yet
        return {"running": running, "stack_up": stack_up, "root": root}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "dp_status" and sample.value == 1:
                running.add(int(sample.labels["dp_id"], 16))
            elif sample.name == "port_stack_state" and sample.value == faucet_peer.STACK_UP:
                stack_up += 1
            elif sample.name == "faucet_stack_root_dpid":
                root = int(sample.value)
    return {"running": running, "stack_up": stack_up, "root": root}


def faucet_ring_config(topology, workdir: Path) -> tuple[Path, dict[int, dict]]:
    """faucet.yaml for the ring (checked by Faucet's own checker) and what Faucet's parser makes of it; no OVS needed."""
    config = workdir / "faucet.yaml"
    faucet_peer.write_config(topology, config)
    faucet_peer.check_config(config)
    return config, faucet_peer.pipeline_facts(config)


def cold_program_faucet(bridges: int, tmp: Path) -> dict:
    """Time for Faucet to program the same ring from cold (fresh bridges, no flows).

    The ring becomes one Faucet stack (faucet_peer.faucet_config: a link is a stack port, the root the first bridge
    of most links), guard ACLs included as sdnlab's guard is in its static flows. Faucet has no list of the flows it
    will install, so done means: every bridge connected (dp_status 1), every stack port up (LLDP seen both ways), the
    stack root elected, and every bridge's count of Faucet's permanent flows (faucet_static_flows) at least its
    tables plus its ports and unchanged for STABLE_FOR s. The time reported is when the final counts were first
    seen (the end of that poll), as sdnlab's time is when its last flow was first seen.
    """
    faucet_peer.ensure_faucet()
    cleanup()
    workdir = tmp / "faucet-ring"
    proc = None
    _, topology, names, _ = build_ring(bridges, tmp)
    try:
        config, facts = faucet_ring_config(topology, workdir)
        dpid_of = {b: br.dpid for b, br in topology.bridges.items()}
        minimum = {b: len(facts[dpid_of[b]]["tables"]) + len(facts[dpid_of[b]]["ports"]) for b in names}
        cookie = {b: facts[dpid_of[b]]["cookie"] for b in names}
        stack_ports = sum(len(dp["stack_ports"]) for dp in facts.values())
        of_port, prom_port = free_port(), free_port()
        proc = faucet_peer.start_faucet(config, of_port, prom_port, workdir)
        faucet_peer.wait_faucet(proc, of_port, prom_port, timeout=60)
        started = time.monotonic()
        target = f"tcp:127.0.0.1:{of_port}"
        vsctl(*[arg for b in sorted(names.values()) for arg in ("--", "set-controller", b, target)])
        def up(state: dict) -> bool:
            return state["running"] >= set(dpid_of.values()) and state["stack_up"] >= stack_ports and state["root"] != 0

        last, first_seen, stack_at, polls, state = None, None, None, 0, None
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Faucet exited while programming the ring (status {proc.returncode}); see {workdir}")
            if state is None or not up(state):  # a scrape costs Faucet time too: once all is up, only to confirm at the end
                state = faucet_state(prom_port)
            counts = {b: faucet_static_flows(names[b], cookie[b]) for b in sorted(names)}
            now = time.monotonic()
            polls += 1
            ready = up(state) and all(counts[b] >= minimum[b] for b in names)
            if stack_at is None and state["stack_up"] >= stack_ports:
                stack_at = now - started
            if not ready or counts != last or first_seen is None:
                last, first_seen = counts, (now if ready else None)
            elif now - first_seen >= STABLE_FOR:
                state = faucet_state(prom_port)
                if up(state):
                    break
                last, first_seen = None, None  # something went down again: not settled
            if now - started > FAUCET_COLD_TIMEOUT:
                short = {b: f"{counts[b]}/{minimum[b]}+" for b in sorted(names) if counts[b] < minimum[b]}
                raise RuntimeError(f"Faucet did not settle the ring within {FAUCET_COLD_TIMEOUT:.0f} s: {len(state['running'])}/{len(names)} "
                                   f"datapaths running, {state['stack_up']}/{stack_ports} stack ports up, root {state['root']:#x}, "
                                   f"bridges short of flows: {short or 'none (still changing)'}")
            time.sleep(0.05)
        rss = peak_rss_mib(listening_pid(of_port, proc))
        return {"bridges": bridges, "faucet_s": first_seen - started, "confirmed_s": now - started, "stack_up_s": stack_at,
                "flows": sum(last.values()), "stack_ports": stack_ports, "polls": polls, "faucet_peak_rss_mib": rss,
                "root": next(b for b in names if dpid_of[b] == state["root"]) if state["root"] in dpid_of.values() else hex(state["root"])}
    finally:
        for b in names.values():
            subprocess.run(["ovs-vsctl", "--timeout=10", "del-controller", b], capture_output=True)
        if proc is not None:
            faucet_peer.stop_faucet(proc)
        cleanup()


KEYS = ("sink", "sdnlab", "sdnlab-stock", "textbook", "ovs", "faucet", "cold", "faucet-cold")
NEEDS_OVS = {"sdnlab", "sdnlab-stock", "cold", "faucet-cold"}  # sdnlab binds its ports in OVSDB; the cold runs build bridges


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--switches", type=int, default=8)
    parser.add_argument("--ports", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="measure every contender this many times, in turn (default 3)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(KEYS)} (for investigating; the report needs all)")
    args = parser.parse_args()
    duration = 2.0 if args.quick else 5.0
    chosen = args.only.split(",") if args.only else list(KEYS)
    unknown = set(chosen) - set(KEYS)
    if unknown:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}; choose from {', '.join(KEYS)}")
    ovs = bool(NEEDS_OVS & set(chosen))
    if ovs:
        cleanup()
    results: dict = {"runs": [], "rounds": []}
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            path, topology = load_topology(args.switches, args.ports, tmp)
            switches = bind_in_ovsdb(topology) if {"sdnlab", "sdnlab-stock"} & set(chosen) else plan_switches(topology)
            print(f"packet-in handling: {args.switches} emulated switches x {args.ports} ports, {duration:g} s per mode")

            def sdnlab(*extra: str) -> Callable[[int, int | None], subprocess.Popen]:
                return command(lambda p, m: [PY, "-m", "sdnlab.cli", "controller", str(path), "--port", str(p), "--metrics", f"127.0.0.1:{m}", *extra])

            contenders: dict[str, Callable[[], Contender]] = {
                "sink": lambda: Contender("generator ceiling (sink)", command(lambda p, m: [PY, str(ROOT / "bench" / "ofload.py"), "sink", "--port", str(p)])),
                "sdnlab": lambda: Contender("sdnlab controller", sdnlab(), metrics=True),
                "sdnlab-stock": lambda: Contender("sdnlab, stock os-ken channel", sdnlab("--stock-channel"), metrics=True),
                "textbook": lambda: Contender("textbook os-ken L2 switch", command(lambda p, m: [PY, str(ROOT / "bench" / "textbook_switch.py"), str(p)])),
                "ovs": lambda: Contender("ovs-testcontroller (C)", command(lambda p, m: ["ovs-testcontroller", "-O", "OpenFlow13", f"ptcp:{p}:127.0.0.1"])),
                "faucet": lambda: faucet_contender(topology, tmp),
            }
            # Rounds, each contender in turn: this machine's speed drifts by a third from minute to minute, so
            # one run of each, minutes apart, can make a ratio of anything; the report gives each contender's median
            # round and each round's sdnlab/contender ratios (runs next to each other share the drift).
            for round_no in range(1, args.rounds + 1):
                if args.rounds > 1:
                    print(f"round {round_no} of {args.rounds}", flush=True)
                for key, make in contenders.items():
                    if key not in chosen:
                        continue
                    # A contender that cannot be installed or run, or loses its switches (os-ken's stock channel once did
                    # in latency mode), gets a "not measured" row with the reason; the others are still measured.
                    name = FAUCET_NAME if key == "faucet" else key
                    try:
                        contender = make()
                        name = contender.name
                        run = measure_contender(contender, switches, duration)
                    except Exception as e:  # noqa: BLE001
                        why = f"{type(e).__name__}: {e}".strip()
                        print(f"  {name}: not measured: {why}", flush=True)
                        run = {"name": name, "error": why[-1500:]}
                    results["rounds"].append({**run, "round": round_no})
            results["runs"] = median_runs(results["rounds"])
            if ovs:
                cleanup()
            if "cold" in chosen:
                print("programming a 50-bridge ring from cold ...", flush=True)
                results["cold"] = cold_program(50, tmp)
                print(f"  sdnlab controller {results['cold']['controller_s']:.2f} s; ovs-ofctl add-flows {results['cold']['ofctl_s']:.2f} s "
                      f"({results['cold']['flows']} flows)")
            if "faucet-cold" in chosen:
                print(f"programming the 50-bridge ring from cold with {FAUCET_NAME} ...", flush=True)
                try:
                    results["cold_faucet"] = cold_program_faucet(50, tmp)
                    c = results["cold_faucet"]
                    print(f"  {FAUCET_NAME} {c['faucet_s']:.2f} s ({c['flows']} flows, stack up at {c['stack_up_s'] or 0:.2f} s)", flush=True)
                except Exception as e:  # noqa: BLE001
                    why = f"{type(e).__name__}: {e}".strip()
                    print(f"  {FAUCET_NAME}: not measured: {why}", flush=True)
                    results["cold_faucet"] = {"bridges": 50, "error": why[-1500:]}
    finally:
        if ovs:
            cleanup()
    if not args.only:
        report(results, args)
    return 0


def median_runs(rounds: list[dict]) -> list[dict]:
    """One result per contender (in the order they ran): in each mode, the round with its median answered/s; peak RSS:
    the highest of its rounds. A contender with no measured round keeps its first error."""
    names = list(dict.fromkeys(r["name"] for r in rounds))
    merged = []
    for name in names:
        mine = [r for r in rounds if r["name"] == name]
        good = [r for r in mine if "error" not in r]
        if not good:
            merged.append(mine[0])
            continue
        result = {k: v for k, v in good[0].items() if k not in ("throughput", "latency", "round")}
        for mode in ("throughput", "latency"):
            ranked = sorted(good, key=lambda r, m=mode: r[m]["answered_per_s"])
            result[mode] = ranked[(len(ranked) - 1) // 2][mode]  # the lower middle of an even count: never flattering
        for key in ("peak_rss_mib", "start_rss_mib"):
            rss = [r[key] for r in good if r.get(key) is not None]
            result[key] = max(rss) if rss else None
        result["rounds"] = len(good)
        result["failed_rounds"] = [r["error"] for r in mine if "error" in r]
        merged.append(result)
    return merged


def round_ratios(rounds: list[dict], theirs: str, mode: str) -> list[float]:
    """sdnlab's answered/s over `theirs`' in each round where both were measured."""
    ratios = []
    for n in sorted({r["round"] for r in rounds}):
        pair = {r["name"]: r for r in rounds if r["round"] == n and "error" not in r}
        if "sdnlab controller" in pair and theirs in pair and pair[theirs][mode]["answered_per_s"] > 0:
            ratios.append(pair["sdnlab controller"][mode]["answered_per_s"] / pair[theirs][mode]["answered_per_s"])
    return ratios


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _macs(r: dict, mode: str) -> str:
    """MACs learned per second: the controller's own metrics where it has them; else, in parentheses, the distinct
    fresh MACs the generator found in its flow-mods; '-' when it sent none (the sink answers with packet-outs only)."""
    m = r[mode]
    if m.get("macs_learned_per_s") is not None:
        return f"{m['macs_learned_per_s']:.0f}"
    if m.get("macs_in_flow_mods"):
        return f"({m['macs_in_flow_mods_per_s']:.0f})"
    return "-"


def _ratio(ours: dict | None, theirs: dict | None, mode: str) -> str:
    if ours is None or theirs is None or "error" in ours or "error" in theirs:
        return "n/a"
    mine, other = ours[mode]["answered_per_s"], theirs[mode]["answered_per_s"]
    return f"**{mine / other:.2f}x**" if other > 0 else f"n/a ({theirs['name']} answered none)"


def render(results: dict, args: argparse.Namespace) -> str:
    runs = {r["name"]: r for r in results["runs"]}
    measured = [r for r in results["runs"] if "error" not in r]
    ours = runs.get("sdnlab controller")
    textbook, testcontroller, faucet = runs.get("textbook os-ken L2 switch"), runs.get("ovs-testcontroller (C)"), runs.get(FAUCET_NAME)
    lines = [
        "# Controller benchmark",
        "",
        f"Command: `.venv/bin/python bench/controller_bench.py{' --quick' if args.quick else ''}"
        f"{f' --rounds {args.rounds}' if args.rounds != 3 else ''}` ({args.switches} emulated switches x {args.ports} ports)",
        f"Machine: {platform.node()}, {platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "Packet-ins carry fresh source MACs towards known destinations; one counts as answered when any",
        "flow-mod or packet-out for it comes back (sdnlab and Faucet answer with two flow-mods, the others with a",
        "flow-mod and a packet-out). Throughput: 64 outstanding per switch; latency: one outstanding.",
        "MACs learned/s: the controller's own Prometheus `vlan_hosts_learned`, read as the measured window opens",
        "and as it closes (sdnlab's `--metrics`, Faucet's exporter); in parentheses, for controllers without",
        "metrics: distinct fresh MACs found in the flow-mods they sent. RSS at start: VmRSS of the process holding",
        "the OpenFlow socket, listening, before any switch connects. Peak RSS: its VmHWM, read after both modes,",
        "so it grows with what it learned (the highest of the rounds).",
        f"Each contender was measured {args.rounds} time(s), in turn; each row gives, per mode, its median round. The",
        "ratios below are of those medians, then of each round's neighbouring runs (this machine's speed drifts).",
        "",
        "| controller | answered/s (throughput) | responses/s | median latency ms | p99 latency ms | answered/s (latency mode) "
        "| MACs learned/s (throughput) | MACs learned/s (latency mode) | RSS at start MiB | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        if "error" in r:
            lines.append(f"| {r['name']} | not measured: {r['error'].splitlines()[0][:300]} | | | | | | | | |")
            continue
        t, lat = r["throughput"], r["latency"]
        lines.append(f"| {r['name']} | {t['answered_per_s']:.0f} | {t['responses_per_s']:.0f} | {lat['latency_ms_median'] or 0:.2f} | "
                     f"{lat['latency_ms_p99'] or 0:.2f} | {lat['answered_per_s']:.0f} | {_macs(r, 'throughput')} | {_macs(r, 'latency')} | "
                     f"{_fmt(r.get('start_rss_mib'), 1)} | {_fmt(r.get('peak_rss_mib'), 1)} |")
    lines.append("")
    rounds = results.get("rounds", [])
    for other, label in ((faucet, "Faucet"), (textbook, "textbook os-ken switch"), (testcontroller, "ovs-testcontroller")):
        line = f"- sdnlab / {label}: throughput {_ratio(ours, other, 'throughput')}, latency mode {_ratio(ours, other, 'latency')}"
        if other is not None and len({r["round"] for r in rounds}) > 1:
            per = {mode: round_ratios(rounds, other["name"], mode) for mode in ("throughput", "latency")}
            line += "; round by round: " + ", ".join(f"{mode} {' / '.join(f'{x:.2f}' for x in per[mode]) or 'n/a'}" for mode in per)
        lines.append(line)
    if ours is not None and textbook is not None and "error" not in ours and "error" not in textbook:
        verdicts = []
        for mode in ("throughput", "latency"):
            per = round_ratios(rounds, textbook["name"], mode) if rounds else []
            ratio = statistics.median(per) if per else ours[mode]["answered_per_s"] / textbook[mode]["answered_per_s"]
            verdicts.append(f"{'met' if ratio >= 3 else 'NOT met'} ({mode}{' mode' if mode == 'latency' else ''}: median round {ratio:.2f}x)")
        lines.append("- goals: 3x the textbook switch in both modes: " + ", ".join(verdicts) + "; "
                     + (f"1x ovs-testcontroller: {'met' if ours['throughput']['answered_per_s'] >= testcontroller['throughput']['answered_per_s'] else 'NOT met'}"
                        if testcontroller is not None and "error" not in testcontroller else ""))
    if measured:
        sink = runs.get("generator ceiling (sink)")
        sink = sink if sink is not None and "error" not in sink else None
        lines.append(f"- generator ceiling: at least {max(r['throughput']['answered_per_s'] for r in measured):.0f} answered/s "
                     "(the most it counted from any controller" + (f"; the Python sink alone reached {sink['throughput']['answered_per_s']:.0f})"
                                                                  if sink is not None else ")"))
    if faucet is not None:
        lines += ["", f"Faucet ({faucet_peer.FAUCET_VERSION}, in build/faucet-venv) runs the bench lab as bench/faucet_peer.py translates it (one datapath per "
                  "bridge, same dpids and port numbers, each NIC an access port of the lab's untagged segment, which Faucet carries as "
                  "a VLAN of its own). Its packet-ins are shaped as a switch running Faucet's pipeline sends them for an unknown "
                  "source: from its eth_src table's flow (reason ACTION, that table's id, Faucet's cookie), tagged with the port's "
                  "native VLAN, and only after Faucet turned packet-ins on (SET_ASYNC). Settings changed for the benchmark:"]
        lines += [f"- `{key}: {'(left out)' if value is None else value}`: {why}" for key, (value, why) in FAUCET_BENCH_SETTINGS.items()]
        lines += [f"- kept: {text}" for text in FAUCET_KEPT]
        if "faucet" in faucet:
            f = faucet["faucet"]
            lines.append(f"- as run: {f['version']}, cookie {f['cookie']:#x}, eth_src table {f['eth_src_table']}, native VLAN(s) {f['native_vids']}")
    lines += ["", f"Programming {results.get('cold', results.get('cold_faucet', {})).get('bridges', 50)} bridges (a ring) from cold:", "",
              "| how | time s | flows | done when | peak RSS MiB |", "|---|---|---|---|---|"]
    cold = results.get("cold")
    if cold is not None:
        lines.append(f"| sdnlab controller | {cold['controller_s']:.2f} | {cold['flows']} static | every expected static flow is in the dumps | "
                     f"{_fmt(cold.get('controller_peak_rss_mib'), 1)} |")
        lines.append(f"| `ovs-ofctl add-flows` from files | {cold['ofctl_s']:.2f} | {cold['flows']} | all files loaded | - |")
    else:
        lines.append("| sdnlab controller | not measured | | | |")
    fc = results.get("cold_faucet")
    if fc is None:
        lines.append(f"| {FAUCET_NAME} | not measured | | | |")
    elif "error" in fc:
        lines.append(f"| {FAUCET_NAME} | not measured: {fc['error'].splitlines()[0][:300]} | | | |")
    else:
        lines.append(f"| {FAUCET_NAME} (one stack, root {fc['root']}) | {fc['faucet_s']:.2f} | {fc['flows']} permanent | "
                     f"all datapaths up, {fc['stack_ports']} stack ports up (at {_fmt(fc['stack_up_s'], 2)} s), every bridge's "
                     f"flow count at least its tables + ports and unchanged for {STABLE_FOR:g} s (confirmed at {fc['confirmed_s']:.2f} s) | "
                     f"{_fmt(fc.get('faucet_peak_rss_mib'), 1)} |")
    if cold is not None and fc is not None and "error" not in fc:
        lines += ["", f"sdnlab / Faucet programming time: **{cold['controller_s'] / fc['faucet_s']:.2f}x** (lower is faster for sdnlab); "
                  f"sdnlab / `ovs-ofctl add-flows`: {cold['controller_s'] / cold['ofctl_s']:.2f}x."]
    elif cold is not None:
        lines += ["", f"sdnlab / `ovs-ofctl add-flows`: {cold['controller_s'] / cold['ofctl_s']:.2f}x."]
    return "\n".join(lines) + "\n"


def report(results: dict, args: argparse.Namespace) -> None:
    out = ROOT / "bench" / "results" / ("controller_quick.md" if args.quick else "controller.md")
    out.write_text(render(results, args))
    (out.with_suffix(".json")).write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
