"""Failover, packet by packet: the longest traffic gap each link cut causes, sdnlab next to Faucet on the same lab.

    .venv/bin/python bench/failover_bench.py [--cuts 21] [--interval-ms 1]   # root, Open vSwitch running

The lab is topologies/triangle.yaml (three OVS bridges in a loop, h1, h2, h3 in
VLAN 10, one on each). Each controller gets the very same lab: the simulator's
bridges, OpenFlow port numbers, hosts and addresses (`SimLab`); for Faucet the
bridges are pointed at a Faucet process (`SimLab(controller_target=...)`,
config from bench/faucet_peer.py: each bridge a datapath, each link a stack
port) instead of sdnlab's controller.

From h1, bench/probe_stream.py sends an ICMP echo request to h2 and to h3
every `--interval-ms` and records each one's fate. Each cut takes a link down
the way `SimLab.set_link` does (one end down, the other loses carrier), holds
it `--hold` s, restores it, waits `--settle` s and until the controller has
every link back in use (sdnlab: its `port_status` metric shows every port up;
Faucet: every stack port UP, which Faucet's LLDP confirms), then the next link
is cut: l12, l23, l31, l12, ... `--cuts` times.

A cut's gap is its longest run of consecutive lost probes, from the cut to the
next cut (so the restore is in it too), times the interval; the larger of the
two destinations. A reply later than `--late-ms` counts as lost. A gap that
lasts until the restore is marked: it is cut short by the hold (the traffic
did not come back while the link was down).

Writes bench/results/failover.md and bench/results/failover.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import faucet_peer  # noqa: E402
from bench.probe_stream import is_lost, longest_loss_run, send_intervals_ms, streaming, window  # noqa: E402
from host.control import free_port  # noqa: E402
from host.verify import parse_ping  # noqa: E402
from sdnlab import load  # noqa: E402
from sdnlab.model import Topology  # noqa: E402

TRIANGLE = ROOT / "topologies" / "triangle.yaml"
SOURCE, TARGETS = "h1", ("h2", "h3")
RESULTS = ROOT / "bench" / "results"
GOAL_MS = 20.0


# --- shared with bench/reload_bench.py ---------------------------------------------


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C does (every `finally` runs: probers killed, Faucet stopped, bridges removed)."""
    def handler(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


def command_line() -> str:
    return shlex.join([".venv/bin/python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def shown(path: Path) -> str:
    """A path as the report names it: from the repository's top when it is in it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def machine() -> dict:
    """Where and when it ran, for the report."""
    import platform

    from host.preflight import datapath

    def first_line(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "unknown"

    return {"node": platform.node(), "machine": platform.machine(), "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "kernel": platform.release(), "ovs": first_line(["ovs-vswitchd", "--version"]),
            "datapath": "kernel" if datapath().kernel else "userspace (netdev)",
            "time_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def machine_line(m: dict) -> str:
    return (f"{m['node']}, {m['machine']}, {m['cpus']} CPUs, Linux {m['kernel']}, Python {m['python']}, {m['ovs']}, "
            f"{m['datapath']} datapath, {m['time_utc']}")


def address(topology: Topology, endpoint: str) -> str:
    """The endpoint's first address."""
    return next(str(nic.ip.ip) for nic in topology.endpoints[endpoint].nics if nic.ip is not None)


def answers(host, target: str, timeout: float = 0.3) -> bool:
    return parse_ping(host.cmd(f"ping -n -c 1 -W {timeout:g} {target}"))[1] > 0


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> float | None:
    """Seconds until `condition()` held, or None if it did not within `timeout`."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            return None
        time.sleep(step)


def summary(values: list[float]) -> dict:
    """min, median, p90, max of a list of figures (None for an empty one)."""
    if not values:
        return {"min": None, "median": None, "p90": None, "max": None}
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) > 1 else ordered[0]
    return {"min": ordered[0], "median": statistics.median(ordered), "p90": p90, "max": ordered[-1]}


# --- is the ring whole again? ------------------------------------------------------------


def scrape(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read().decode()


SAMPLE = re.compile(r"^(\w+)\{([^}]*)\}\s+(\S+)", re.M)
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def port_samples(text: str, metric: str) -> dict[tuple[str, str], float]:
    """{(dp_name, port): value} of a per-port metric on a Prometheus page (Faucet's labels, which sdnlab's share)."""
    out = {}
    for name, labels, value in SAMPLE.findall(text):
        if name == metric:
            found = dict(LABEL.findall(labels))
            if "dp_name" in found and "port" in found:
                out[(found["dp_name"], found["port"])] = float(value)
    return out


def link_ports(topology: Topology) -> set[tuple[str, str]]:
    """(bridge, OpenFlow port) of both ends of every link, numbered as sdnlab's PortPlan numbers them (and Faucet's config)."""
    from controller.state import PortPlan

    plan = PortPlan(topology)
    return {(bridge, str(port)) for link in topology.links for bridge, port in plan.link_ends(link)}


def sdnlab_whole(lab) -> Callable[[], bool]:
    """Whether sdnlab's controller sees every link port up (it puts a port back in its trees when it does)."""
    wanted = link_ports(lab.topology)

    def whole() -> bool:
        try:
            found = port_samples(scrape(f"http://{lab.metrics_addresses()[0]}/metrics"), "port_status")
        except (OSError, IndexError):
            return False
        return all(found.get(port) == 1 for port in wanted)
    return whole


def faucet_whole(prom_port: int, topology: Topology) -> Callable[[], bool]:
    """Whether Faucet has every stack port UP (it confirms a stack link by LLDP both ways)."""
    from bench.faucet_peer import metrics

    wanted = link_ports(topology)

    def whole() -> bool:
        try:
            found = port_samples(metrics(prom_port), "port_stack_state")
        except OSError:
            return False
        return all(found.get(port) == faucet_peer.STACK_UP for port in wanted)
    return whole


# --- the measurement --------------------------------------------------------------------


def measure(lab, name: str, args, whole: Callable[[], bool], workdir: Path, alive: Callable[[], None]) -> dict:
    """Cut the lab's links in turn under a continuous probe from h1; the raw events and the prober's record, analysed."""
    from sim import names

    topology = lab.topology
    h1 = lab.hosts[SOURCE]
    targets = [address(topology, h) for h in TARGETS]
    print(f"{name}: waiting until h1 answers {', '.join(TARGETS)} and the controller has every link up ...", flush=True)

    def connected() -> bool:
        alive()
        return all(answers(h1, t) for t in targets) and whole()
    ready = wait_until(connected, args.ready_timeout, step=0.2)
    if ready is None:
        raise RuntimeError(f"{name}: h1 did not answer {', '.join(TARGETS)} with every link up within {args.ready_timeout:g} s")
    print(f"{name}: ready after {ready:.1f} s", flush=True)
    links = [link.id for link in topology.links]
    env = {**os.environ, names.TAG_ENV: lab.tag}  # `sdnlab sim clean` finds the prober after a kill -9
    events = []
    with streaming(h1, targets, args.interval_ms, workdir / f"{name}-probes.json", env=env) as stream:
        quiet_start = time.monotonic_ns()
        time.sleep(args.quiet)
        for i in range(args.cuts):
            alive()
            link = links[i % len(links)]
            before = whole()  # the ring as the controller sees it, right before the cut
            cut = time.monotonic_ns()
            lab.set_link(link, up=False)
            time.sleep(args.hold)
            restored = time.monotonic_ns()
            lab.set_link(link, up=True)
            time.sleep(args.settle)
            back = wait_until(whole, args.whole_timeout)
            whole_after = (time.monotonic_ns() - restored) / 1e9 if back is not None else None
            events.append({"link": link, "cut_ns": cut, "restored_ns": restored, "whole_before": before, "whole_after_s": whole_after})
            print(f"  {name} cut {i + 1}/{args.cuts}: {link} down {args.hold:g} s, up again; "
                  + (f"every link in use {whole_after:.2f} s after the restore" if whole_after is not None
                     else f"NOT every link in use {args.whole_timeout:g} s after the restore"), flush=True)
        time.sleep(args.settle)
        end = time.monotonic_ns()
        print(f"  {name}: stopping the prober and reading its record ...", flush=True)
        record = stream.stop()
    alive()
    return analyse(record, events, quiet_start, end, targets, args)


def analyse(record: dict, events: list[dict], quiet_start: int, end: int, targets: list[str], args) -> dict:
    """Per cut: the longest loss run over the cut's cycle, per destination, split into cut and restore phases."""
    late_ns = int(args.late_ms * 1e6)
    interval = record["interval_ns"] / 1e6
    cuts = []
    for i, event in enumerate(events):
        nxt = events[i + 1]["cut_ns"] if i + 1 < len(events) else end
        per = {}
        for d, target in enumerate(targets):
            cycle = longest_loss_run(record, d, event["cut_ns"], nxt, late_ns)
            down = longest_loss_run(record, d, event["cut_ns"], event["restored_ns"], late_ns)
            up = longest_loss_run(record, d, event["restored_ns"], nxt, late_ns)
            probes = window(record, d, event["cut_ns"], event["restored_ns"])
            last_down_lost = bool(probes) and is_lost(record["rtt_ns"][d][probes[-1]], late_ns)
            per[target] = {"gap_ms": cycle["run"] * interval, "gap_ms_by_clock": cycle["run_ms_by_clock"], "sent": cycle["sent"],
                           "lost": cycle["lost"], "cut_gap_ms": down["run"] * interval, "restore_gap_ms": up["run"] * interval,
                           "down_until_restore": last_down_lost and down["run"] > 0, "max_rtt_ms": cycle["max_rtt_ms"]}
        gap = max(p["gap_ms"] for p in per.values())
        cuts.append({"n": i + 1, "link": event["link"], "gap_ms": gap, "cut_gap_ms": max(p["cut_gap_ms"] for p in per.values()),
                     "restore_gap_ms": max(p["restore_gap_ms"] for p in per.values()),
                     "down_until_restore": any(p["down_until_restore"] for p in per.values()),
                     "whole_before": event["whole_before"], "whole_after_s": event["whole_after_s"], "destinations": per})
    first_cut = events[0]["cut_ns"] if events else end
    quiet = [longest_loss_run(record, d, quiet_start, first_cut, late_ns) for d in range(len(targets))]
    intervals = send_intervals_ms(record, quiet_start, end)
    gaps = [c["gap_ms"] for c in cuts]
    whole_after = [c["whole_after_s"] for c in cuts if c["whole_after_s"] is not None]
    return {
        "gaps_ms": gaps,
        "summary": {**summary(gaps), "cuts": len(cuts), "cuts_with_loss": sum(g > 0 for g in gaps),
                    "down_until_restore": sum(c["down_until_restore"] for c in cuts),
                    "cuts_on_a_broken_ring": sum(not c["whole_before"] for c in cuts),
                    "whole_after_restore_s_median": statistics.median(whole_after) if whole_after else None},
        "quiet": {"seconds": (first_cut - quiet_start) / 1e9, "sent": sum(q["sent"] for q in quiet), "lost": sum(q["lost"] for q in quiet)},
        "prober": {"interval_ms_median": statistics.median(intervals) if intervals else None,
                   "interval_ms_p99": statistics.quantiles(intervals, n=100)[98] if len(intervals) > 1 else None,
                   "interval_ms_max": max(intervals) if intervals else None,
                   **{k: record[k] for k in ("late_ticks", "resyncs", "overflow", "send_errors", "duplicates", "strays")}},
        "cuts": cuts,
    }


def sdnlab_run(args, workdir: Path) -> dict:
    from sim.lab import SimLab

    topology = load(TRIANGLE)
    with SimLab(topology, TRIANGLE, tls=not args.no_tls) as lab:
        def alive() -> None:
            proc = getattr(lab.controller, "proc", None)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"sdnlab's controller exited (status {proc.returncode}); its log: {lab.controller_log}")
        result = measure(lab, "sdnlab", args, sdnlab_whole(lab), workdir, alive)
    result["label"] = "sdnlab controller" + (" (plain TCP channel)" if args.no_tls else " (TLS channel)")
    return result


def faucet_run(args, workdir: Path) -> dict:
    from bench.faucet_peer import check_config, ensure_faucet, installed_version, start_faucet, stop_faucet, wait_faucet, write_config
    from sim.lab import SimLab

    topology = load(TRIANGLE)
    print("faucet: installing or checking its venv ...", flush=True)
    ensure_faucet()
    version = installed_version()
    home = workdir / "faucet"
    config = home / "faucet.yaml"
    write_config(topology, config)
    check_config(config)
    of_port = free_port()
    prom_port = free_port()
    while prom_port == of_port:
        prom_port = free_port()
    print(f"faucet: {version} on 127.0.0.1:{of_port} (metrics on {prom_port}) ...", flush=True)
    proc = start_faucet(config, of_port, prom_port, home)
    try:
        wait_faucet(proc, of_port, prom_port)

        def alive() -> None:
            if proc.poll() is not None:
                raise RuntimeError(f"faucet exited (status {proc.returncode}); its output, ending:\n{_tail(home / 'faucet.out')}")
        with SimLab(topology, TRIANGLE, controller_target=f"tcp:127.0.0.1:{of_port}") as lab:
            result = measure(lab, "faucet", args, faucet_whole(prom_port, topology), workdir, alive)
    except Exception as exc:
        raise RuntimeError(f"{exc}\nfaucet.log, ending:\n{_tail(home / 'faucet.log')}") from exc
    finally:
        stop_faucet(proc)
    result["label"] = f"{version} (stack ports, same bridges)"
    result["version"] = version
    return result


def _tail(path: Path, lines: int = 15) -> str:
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:]) if path.exists() else ""


# --- the report ------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b; None when either is missing or b is 0 (a 0 ms gap has no ratio)."""
    return a / b if a is not None and b else None


def compare(results: dict) -> dict:
    ours, theirs = results.get("sdnlab", {}).get("summary"), results.get("faucet", {}).get("summary")
    out: dict = {"goal_ms": GOAL_MS}
    if ours:
        out["under_goal"] = ours["max"] is not None and ours["max"] < GOAL_MS
    if ours and theirs:
        out["median_ratio"] = ratio(ours["median"], theirs["median"])
        out["max_ratio"] = ratio(ours["max"], theirs["max"])
        out["at_or_ahead_of_faucet"] = ours["median"] <= theirs["median"] and ours["max"] <= theirs["max"]
    return out


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    return "n/a (a 0 ms gap)" if value is None else f"{value:.3g}"


def ms(value: float | None) -> str:
    """A gap in ms: whole probes times the interval, so as many decimals as the interval has."""
    return "-" if value is None else f"{round(value, 3):g}"


def write_report(results: dict, args, info: dict) -> None:
    comparison = compare(results)
    document = {"command": command_line(), "machine": info,
                "settings": {"topology": "topologies/triangle.yaml", "source": SOURCE, "destinations": list(TARGETS),
                             **{k: getattr(args, k) for k in ("cuts", "interval_ms", "hold", "settle", "late_ms", "quiet")},
                             "sdnlab_channel": "tcp" if args.no_tls else "tls"},
                "controllers": results, "comparison": comparison}
    (RESULTS / "failover.json").write_text(json.dumps(document, indent=1) + "\n")
    ran = {k: r for k, r in results.items() if "summary" in r}
    lines = [
        "# Failover: the traffic gap of a link cut, sdnlab next to Faucet",
        "",
        f"Command: `{command_line()}`",
        f"Machine: {machine_line(info)}",
        "",
        "Lab: topologies/triangle.yaml in the simulator (three OVS bridges in a loop), the same bridges, port numbers and hosts for both",
        f"controllers. h1 sends an ICMP echo request to h2 and to h3 every {args.interval_ms:g} ms (bench/probe_stream.py, every probe's",
        f"fate recorded). Each cut: a link down (one end down, the other loses carrier) for {args.hold:g} s, up again, {args.settle:g} s, and",
        "until the controller has every link back (sdnlab: `port_status`; Faucet: every stack port UP, confirmed by its LLDP); links in",
        f"turn. Gap: the longest run of consecutive lost probes from the cut to the next cut, times {args.interval_ms:g} ms, the larger of",
        f"the two destinations; a reply later than {args.late_ms:g} ms counts as lost.",
        "",
        "| controller | cuts | cuts with loss | min ms | median ms | p90 ms | max ms | gap lasted until the restore | quiet loss |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        if "summary" not in r:
            lines.append(f"| {key} | not measured: {r.get('error', '?').splitlines()[0]} | | | | | | | |")
            continue
        s, q = r["summary"], r["quiet"]
        lines.append(f"| {r['label']} | {s['cuts']} | {s['cuts_with_loss']} | {ms(s['min'])} | {ms(s['median'])} | {ms(s['p90'])} | "
                     f"{ms(s['max'])} | {s['down_until_restore']} | {q['lost']} of {q['sent']} in {q['seconds']:.1f} s |")
    lines.append("")
    if "under_goal" in comparison:
        mx = results["sdnlab"]["summary"]["max"]
        lines.append(f"- Goal, sdnlab's longest gap under {GOAL_MS:g} ms: **{'met' if comparison['under_goal'] else 'NOT met'}** ({ms(mx)} ms).")
    if "at_or_ahead_of_faucet" in comparison:
        lines.append(f"- sdnlab / Faucet: median **{fmt_ratio(comparison['median_ratio'])}**, max **{fmt_ratio(comparison['max_ratio'])}**; "
                     f"goal, at or ahead of Faucet (median and max no longer): **{'met' if comparison['at_or_ahead_of_faucet'] else 'NOT met'}**.")
    for key, r in ran.items():
        s, p = r["summary"], r["prober"]
        notes = []
        if s["cuts_on_a_broken_ring"]:
            notes.append(f"{s['cuts_on_a_broken_ring']} cut(s) started before the controller had every link back")
        if p["overflow"] or p["send_errors"]:
            notes.append(f"the prober lost {p['overflow']} replies in its own socket buffer and had {p['send_errors']} send errors: "
                         f"those losses are the meter's")
        lines.append(f"- {key}: every link in use again a median {fmt(s['whole_after_restore_s_median'], 2)} s after a restore; prober interval "
                     f"median {fmt(p['interval_ms_median'], 3)} ms, p99 {fmt(p['interval_ms_p99'], 3)} ms, max {fmt(p['interval_ms_max'], 1)} ms "
                     f"({p['resyncs']} stalls over {5 * args.interval_ms:g} ms)" + ("; " + "; ".join(notes) if notes else "") + ".")
    if ran:
        keys = list(ran)
        lines += ["", "Per cut, gap ms (in the cut phase / after the restore); * = lasted until the restore (cut short by the hold):", "",
                  "| # | link | " + " | ".join(ran[k]["label"] for k in keys) + " |", "|---|---|" + "---|" * len(keys)]
        for i in range(max(len(ran[k]["cuts"]) for k in keys)):
            cells = []
            for k in keys:
                c = ran[k]["cuts"][i] if i < len(ran[k]["cuts"]) else None
                cells.append("-" if c is None else f"{ms(c['gap_ms'])}{'*' if c['down_until_restore'] else ''} "
                             f"({ms(c['cut_gap_ms'])} / {ms(c['restore_gap_ms'])})")
            link = next(ran[k]["cuts"][i]["link"] for k in keys if i < len(ran[k]["cuts"]))
            lines.append(f"| {i + 1} | {link} | " + " | ".join(cells) + " |")
    (RESULTS / "failover.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {shown(RESULTS / 'failover.md')} and {shown(RESULTS / 'failover.json')}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuts", type=int, default=21, help="links cut in turn, this many times in all (default 21)")
    parser.add_argument("--interval-ms", type=float, default=1.0, help="probe interval per destination (default 1 ms)")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds a link stays down")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after a restore before waiting for every link to be in use")
    parser.add_argument("--late-ms", type=float, default=100.0, help="a reply later than this counts as lost")
    parser.add_argument("--quiet", type=float, default=2.0, help="seconds probed before the first cut (their loss is reported apart)")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds for a controller to connect h1 to h2 and h3 with every link up")
    parser.add_argument("--whole-timeout", type=float, default=60.0, help="seconds after a restore for the controller to use every link again")
    parser.add_argument("--controllers", default="sdnlab,faucet", help="comma-separated: sdnlab, faucet (the report needs both)")
    parser.add_argument("--no-tls", action="store_true", help="sdnlab's channel over plain TCP, as Faucet's is (default: TLS, as shipped)")
    args = parser.parse_args()
    if args.cuts < 1 or args.interval_ms <= 0:
        parser.error("--cuts must be at least 1 and --interval-ms above 0")
    chosen = [c.strip() for c in args.controllers.split(",") if c.strip()]
    unknown = set(chosen) - {"sdnlab", "faucet"}
    if unknown:
        parser.error(f"unknown controller(s): {', '.join(sorted(unknown))}")
    exit_on_sigterm()
    info = machine()
    results: dict = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="failover-") as tmp:
        for key in chosen:
            try:
                results[key] = (sdnlab_run if key == "sdnlab" else faucet_run)(args, Path(tmp))
            except Exception as exc:  # the other controller's figures are still worth writing
                failed = True
                results[key] = {"error": str(exc)}
                print(f"{key}: FAILED: {exc}", file=sys.stderr, flush=True)
                continue
            s = results[key]["summary"]
            print(f"{key}: gaps over {s['cuts']} cuts: min {ms(s['min'])} / median {ms(s['median'])} / p90 {ms(s['p90'])} / "
                  f"max {ms(s['max'])} ms; {s['cuts_with_loss']} cuts with loss", flush=True)
    write_report(results, args, info)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
