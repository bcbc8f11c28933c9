"""Benchmark the controller, in one invocation, against two baselines.

    .venv/bin/python bench/controller_bench.py            # writes bench/results/controller.md
    .venv/bin/python bench/controller_bench.py --quick    # shorter runs

1. Packet-in handling (bench/ofload.py, cbench-style), throughput and latency,
   for: sdnlab's controller, the textbook os-ken L2 switch (bench/textbook_switch.py),
   ovs-testcontroller (C), and the generator's own ceiling (a no-logic sink).
2. Programming a 50-bridge topology from cold: real OVS bridges (userspace
   datapath) connect to sdnlab's controller, timed until every static flow is
   installed, next to `ovs-ofctl add-flows` loading the same flows from files.

Needs root and a running Open vSwitch. Everything it creates is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.flows import COOKIE_STATIC  # noqa: E402
from controller.state import PortPlan  # noqa: E402
from host.control import free_port, wait_listening  # noqa: E402
from host.verify import dump_flows, expected_static  # noqa: E402
from sdnlab import load  # noqa: E402

PY = sys.executable
PREFIX = "bq"  # names of everything this benchmark creates in OVS


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


def bind_in_ovsdb(topology) -> list:
    """Real bridges (never connected) whose ports carry the bindings the emulated switches report."""
    plan = PortPlan(topology)
    switches = []
    for i, (name, bridge) in enumerate(sorted(topology.bridges.items())):
        ovs_name = f"{PREFIX}{i}"
        cmd = ["add-br", ovs_name, "--", "set", "bridge", ovs_name, "datapath_type=netdev", "fail_mode=secure",
               f"other_config:datapath-id={bridge.dpid:016x}"]
        ports = []
        for number, binding in plan[name].items():
            port = f"{PREFIX}{i}p{number}"
            cmd += ["--", "add-port", ovs_name, port, "--", "set", "Interface", port, "type=internal", f"ofport_request={number}",
                    f"external_ids:sdnlab-nic={binding.id}"]
            ports.append([number, port])
        vsctl(*cmd)
        switches.append([bridge.dpid, ports])
    return switches


def run_generator(port: int, switches: list, mode: str, duration: float) -> dict:
    out = subprocess.run([PY, str(ROOT / "bench" / "ofload.py"), "generate", "--port", str(port), "--mode", mode,
                          "--switches", json.dumps(switches), "--duration", str(duration)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout)


def measure(name: str, command: list[str], port: int, switches: list, duration: float) -> dict:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_listening(port, proc)
        result = {"name": name}
        for mode in ("throughput", "latency"):
            result[mode] = run_generator(port, switches, mode, duration)
            print(f"  {name:<28} {mode:<10} {result[mode]['answered_per_s']:>9.0f} packet-ins answered/s, "
                  f"{result[mode]['responses_per_s']:>9.0f} responses/s, median latency {result[mode]['latency_ms_median'] or 0:.2f} ms", flush=True)
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def build_ring(bridges: int, tmp: Path) -> tuple[Path, object, dict[str, str], dict[str, set]]:
    """Real OVS bridges in a ring (4 VLANs trunked, patch ports), 2 NICs each, no controller yet.

    Returns the topology file, the topology, OVS names and the static flows each bridge should get."""
    lines = ["name: ring", "vlans: {10: {}, 20: {}, 30: {}, 40: {}}", "bridges:"]
    lines += [f"  r{b}: {{type: ovs, dpid: {1000 + b}}}" for b in range(bridges)]
    lines.append("endpoints:")
    lines += [f"  e{b}x{k}: {{type: host, nics: [{{bridge: r{b}, tag: {10 * (k + 1)}}}]}}" for b in range(bridges) for k in range(2)]
    lines.append("links:")
    lines += [f"  - {{name: l{b}, between: [r{b}, r{(b + 1) % bridges}]}}" for b in range(bridges)]
    path = tmp / "ring.yaml"
    path.write_text("\n".join(lines) + "\n")
    topology = load(path)
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
    return {"bridges": bridges, "flows": total, "controller_s": controller_s, "ofctl_s": ofctl_s}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--switches", type=int, default=8)
    parser.add_argument("--ports", type=int, default=8)
    parser.add_argument("--only", help="comma-separated subset: sink,sdnlab,sdnlab-stock,textbook,ovs,cold (for investigating; the report needs all)")
    args = parser.parse_args()
    duration = 2.0 if args.quick else 5.0
    cleanup()
    results: dict = {"runs": []}
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            path, topology = load_topology(args.switches, args.ports, tmp)
            switches = bind_in_ovsdb(topology)
            print(f"packet-in handling: {args.switches} emulated switches x {args.ports} ports, {duration:g} s per mode")
            contenders = {
                "sink": ("generator ceiling (sink)", lambda p: [PY, str(ROOT / "bench" / "ofload.py"), "sink", "--port", str(p)]),
                "sdnlab": ("sdnlab controller", lambda p: [PY, "-m", "sdnlab.cli", "controller", str(path), "--port", str(p)]),
                "sdnlab-stock": ("sdnlab, stock os-ken channel",
                                 lambda p: [PY, "-m", "sdnlab.cli", "controller", str(path), "--port", str(p), "--stock-channel"]),
                "textbook": ("textbook os-ken L2 switch", lambda p: [PY, str(ROOT / "bench" / "textbook_switch.py"), str(p)]),
                "ovs": ("ovs-testcontroller (C)", lambda p: ["ovs-testcontroller", "-O", "OpenFlow13", f"ptcp:{p}:127.0.0.1"]),
            }
            chosen = args.only.split(",") if args.only else [*contenders, "cold"]
            for key, (name, command) in contenders.items():
                if key in chosen:
                    port = free_port()
                    results["runs"].append(measure(name, command(port), port, switches, duration))
            cleanup()
            if "cold" in chosen:
                print("programming a 50-bridge ring from cold ...", flush=True)
                results["cold"] = cold_program(50, tmp)
                print(f"  sdnlab controller {results['cold']['controller_s']:.2f} s; ovs-ofctl add-flows {results['cold']['ofctl_s']:.2f} s "
                      f"({results['cold']['flows']} flows)")
    finally:
        cleanup()
    if not args.only:
        report(results, args)
    return 0


def report(results: dict, args: argparse.Namespace) -> None:
    runs = {r["name"]: r for r in results["runs"]}
    ours = runs["sdnlab controller"]
    lines = [
        "# Controller benchmark",
        "",
        f"Command: `.venv/bin/python bench/controller_bench.py{' --quick' if args.quick else ''}` "
        f"({args.switches} emulated switches x {args.ports} ports)",
        f"Machine: {platform.node()}, {platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "Packet-ins carry fresh source MACs towards known destinations; one counts as answered when any",
        "flow-mod or packet-out for it comes back (sdnlab answers with two flow-mods, the others with a",
        "flow-mod and a packet-out). Throughput: 64 outstanding per switch; latency: one outstanding.",
        "",
        "| controller | answered/s (throughput) | responses/s | median latency ms | p99 latency ms | answered/s (latency mode) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        t, lat = r["throughput"], r["latency"]
        lines.append(f"| {r['name']} | {t['answered_per_s']:.0f} | {t['responses_per_s']:.0f} | {lat['latency_ms_median'] or 0:.2f} | "
                     f"{lat['latency_ms_p99'] or 0:.2f} | {lat['answered_per_s']:.0f} |")
    ratio_text = runs["textbook os-ken L2 switch"]["throughput"]["answered_per_s"]
    ratio_c = runs["ovs-testcontroller (C)"]["throughput"]["answered_per_s"]
    mine = ours["throughput"]["answered_per_s"]
    goal_text = mine >= 3 * ratio_text
    text_latency = runs["textbook os-ken L2 switch"]["latency"]["answered_per_s"]
    mine_latency = ours["latency"]["answered_per_s"]
    goal_c = mine >= ratio_c
    cold = results["cold"]
    lines += [
        "",
        f"- sdnlab / textbook os-ken switch: **{mine / max(ratio_text, 1e-9):.2f}x** (goal 3x: {'met' if goal_text else 'NOT met'}); "
        f"latency mode **{mine_latency / max(text_latency, 1e-9):.2f}x** (goal 3x: {'met' if mine_latency >= 3 * text_latency else 'NOT met'})",
        f"- sdnlab / ovs-testcontroller: **{mine / max(ratio_c, 1e-9):.2f}x** (goal 1x: {'met' if goal_c else 'NOT met'})",
        f"- generator ceiling: at least {max(r['throughput']['answered_per_s'] for r in results['runs']):.0f} answered/s "
        f"(the most it counted from any controller; the Python sink alone reached "
        f"{runs['generator ceiling (sink)']['throughput']['answered_per_s']:.0f})",
        "",
        f"Programming {cold['bridges']} bridges from cold ({cold['flows']} static flows, all confirmed in the dumps): "
        f"sdnlab controller {cold['controller_s']:.2f} s; `ovs-ofctl add-flows` from files {cold['ofctl_s']:.2f} s "
        f"({cold['controller_s'] / cold['ofctl_s']:.2f}x).",
    ]
    out = ROOT / "bench" / "results" / ("controller_quick.md" if args.quick else "controller.md")
    out.write_text("\n".join(lines) + "\n")
    (out.with_suffix(".json")).write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
