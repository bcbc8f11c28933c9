"""Hitless reload, proven: the pairs a retag does not touch lose no packet while the controller reloads.

    .venv/bin/python bench/reload_bench.py [--reloads 10] [--interval-ms 1]   # root, Open vSwitch running

On a work copy of topologies/triangle.yaml in the simulator, one endpoint's NIC
(x3, `--endpoint`) is retagged back and forth between its VLAN in the file (20)
and another (`--vlan`, 10) `--reloads` times. Each retag is what the scenario
step `set_tag` does (sim/runner.py): the work copy is rewritten and the
controller reloads it (SIGHUP). After each one the bench waits until the
endpoint reaches every peer of its new VLAN (so the reload did happen), checks
that it no longer reaches its old ones, and waits `--wait` s more.

All the while, every reachable pair that does not involve the endpoint (here
h1-h2, h1-h3 and h2-h3, all in VLAN 10, the VLAN the endpoint keeps joining and
leaving, across all three bridges and their links) is probed by one ICMP echo
request per `--interval-ms` from the first of the pair (bench/probe_stream.py:
every probe's fate recorded). A probe is lost when no reply ever comes (within
the prober's 2 s drain); replies later than `--late-ms` are counted apart. The
same probes run for `--quiet` s before the first reload, as a baseline.

Writes bench/results/reload.md and bench/results/reload.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.failover_bench import answers, command_line, exit_on_sigterm, fmt, machine, machine_line, shown, wait_until  # noqa: E402
from bench.probe_stream import is_lost, longest_loss_run, streaming, window  # noqa: E402
from host.verify import Pair, shared_target  # noqa: E402
from sdnlab import analyse, load, loads  # noqa: E402
from sdnlab.model import Topology  # noqa: E402
from sim.runner import _retag  # noqa: E402

TRIANGLE = ROOT / "topologies" / "triangle.yaml"
RESULTS = ROOT / "bench" / "results"
DRAIN = 2.0  # seconds the probers wait for late replies after the last reload


def retagged(work: Path, endpoint: str, nic: int, tag: int) -> Topology:
    """Write the work copy with the NIC's new tag (the simulator's own retag step) and load it."""
    _retag(work, endpoint, nic, tag, None)
    return loads(work.read_text(), str(work))


def target(topology: Topology, a: str, b: str) -> str:
    """The address `a` pings to reach `b`."""
    found = shared_target(topology.endpoints[a].nics, topology.endpoints[b].nics)
    if found is None:
        raise ValueError(f"{a} and {b} have no addresses in one subnet: a ping cannot judge them")
    return found


def untouched_pairs(before: Topology, after: Topology, endpoint: str) -> list[Pair]:
    """Pairs reachable in both versions of the lab, without `endpoint`, that a ping can judge."""
    was, will = analyse(before), analyse(after)
    return [p for p in was.reachable() if endpoint not in p and will.is_reachable(*p)
            and shared_target(before.endpoints[p[0]].nics, before.endpoints[p[1]].nics)]


def peers(topology: Topology, endpoint: str) -> list[str]:
    """The endpoints `endpoint` reaches in this version of the lab (and can ping)."""
    analysis = analyse(topology)
    return [b for b in sorted(topology.endpoints) if analysis.is_reachable(endpoint, b)
            and shared_target(topology.endpoints[endpoint].nics, topology.endpoints[b].nics)]


def counts(record: dict, index: int, start: int, end: int, late_ns: int) -> dict:
    """Probes to destination `index` sent in [start, end): sent, lost (never answered), late, longest run, max RTT."""
    found = longest_loss_run(record, index, start, end, None)
    rtt = record["rtt_ns"][index]
    late = sum(1 for i in window(record, index, start, end) if not is_lost(rtt[i], None) and rtt[i] > late_ns)
    return {"sent": found["sent"], "lost": found["lost"], "late": late, "longest_run": found["run"], "max_rtt_ms": found["max_rtt_ms"]}


def run(args, tmp: Path) -> dict:
    from sim import names
    from sim.lab import SimLab

    work = tmp / Path(args.topology).name
    shutil.copy(args.topology, work)
    topology = load(work)
    if args.endpoint not in topology.endpoints:
        raise SystemExit(f"{args.endpoint} is not an endpoint of {args.topology}")
    nic = topology.endpoints[args.endpoint].nics[0]
    home = nic.tag
    if home is None or home == args.vlan:
        raise SystemExit(f"{args.endpoint}'s first NIC must be tagged with a VLAN other than {args.vlan} (it has {home})")
    tags = [args.vlan if i % 2 == 0 else home for i in range(args.reloads)]
    doc = yaml.safe_load(work.read_text())
    doc["endpoints"][args.endpoint]["nics"][0]["tag"] = args.vlan
    other = loads(yaml.safe_dump(doc, sort_keys=False), str(work))  # the other version, in memory only
    pairs = untouched_pairs(topology, other, args.endpoint)
    if not pairs:
        raise SystemExit(f"no reachable pair without {args.endpoint} in {args.topology}: nothing to prove hitless")
    sources: dict[str, list[str]] = {}
    for a, b in pairs:
        sources.setdefault(a, []).append(b)
    late_ns = int(args.late_ms * 1e6)
    reloads = []
    with SimLab(topology, work) as lab:
        hosts = lab.hosts
        env = {**os.environ, names.TAG_ENV: lab.tag}  # `sdnlab sim clean` finds the probers after a kill -9

        def alive() -> None:
            proc = getattr(lab.controller, "proc", None)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"the controller exited (status {proc.returncode}); its log: {lab.controller_log}")

        print(f"pairs probed: {', '.join(f'{a}-{b}' for a, b in pairs)}; {args.endpoint} retagged {home} <-> {args.vlan}, {args.reloads} times",
              flush=True)
        ready = wait_until(lambda: all(answers(hosts[a], target(topology, a, b)) for a, b in pairs)
                           and all(answers(hosts[args.endpoint], target(topology, args.endpoint, p)) for p in peers(topology, args.endpoint)),
                           args.ready_timeout, step=0.2)
        if ready is None:
            raise RuntimeError(f"the pairs did not all answer within {args.ready_timeout:g} s")
        with ExitStack() as probers:  # every prober killed on the way out, whatever happens
            streams = {a: probers.enter_context(streaming(hosts[a], [target(topology, a, b) for b in dests], args.interval_ms,
                                                          tmp / f"{a}-probes.json", drain=DRAIN, env=env))
                       for a, dests in sources.items()}
            quiet_start = time.monotonic_ns()
            time.sleep(args.quiet)
            current = topology
            for i, tag in enumerate(tags):
                alive()
                at = time.monotonic_ns()
                new = retagged(work, args.endpoint, 0, tag)
                lab.topology = new
                lab.controller.reload()
                gained = peers(new, args.endpoint)
                lost_peers = [p for p in peers(current, args.endpoint) if p not in gained]
                reached = {}
                for p in gained:
                    address = target(new, args.endpoint, p)
                    took = wait_until(lambda a=address: answers(hosts[args.endpoint], a), args.reach_timeout, step=0)
                    reached[p] = None if took is None else (time.monotonic_ns() - at) / 1e9
                isolated = {p: not answers(hosts[args.endpoint], target(current, args.endpoint, p), timeout=0.5) for p in lost_peers}
                time.sleep(args.wait)
                reloads.append({"n": i + 1, "tag": tag, "at_ns": at, "reached_s": reached, "isolated": isolated})
                missing = [p for p, took in reached.items() if took is None]
                joined = [p for p, ok in isolated.items() if not ok]
                worst = max((took for took in reached.values() if took is not None), default=None)
                line = f"  reload {i + 1}/{len(tags)}: {args.endpoint} to VLAN {tag}; reaches {', '.join(p for p in gained if p not in missing) or 'nobody'}"
                if worst is not None:
                    line += f" (within {worst:.2f} s of the SIGHUP)"
                if missing:
                    line += f"; NOT {', '.join(missing)} within {args.reach_timeout:g} s"
                if isolated:
                    line += f"; isolated from {', '.join(p for p, ok in isolated.items() if ok) or 'none'} of its old peers"
                if joined:
                    line += f"; STILL reaches {', '.join(joined)}"
                print(line, flush=True)
                current = new
            end = time.monotonic_ns()
            print("  stopping the probers and reading their records ...", flush=True)
            records = {a: s.stop() for a, s in streams.items()}
        alive()
    first = reloads[0]["at_ns"] if reloads else end
    out_pairs = []
    for a, dests in sources.items():
        for d, b in enumerate(dests):
            out_pairs.append({"pair": f"{a}-{b}", "during_reloads": counts(records[a], d, first, end, late_ns),
                              "quiet": counts(records[a], d, quiet_start, first, late_ns)})
    for i, r in enumerate(reloads):
        nxt = reloads[i + 1]["at_ns"] if i + 1 < len(reloads) else end
        r["lost_by_untouched_pairs"] = sum(counts(records[a], d, r["at_ns"], nxt, late_ns)["lost"]
                                           for a, dests in sources.items() for d in range(len(dests)))
    total = {k: sum(p["during_reloads"][k] for p in out_pairs) for k in ("sent", "lost", "late")}
    quiet = {k: sum(p["quiet"][k] for p in out_pairs) for k in ("sent", "lost", "late")}
    probers = {a: {k: rec[k] for k in ("late_ticks", "resyncs", "overflow", "send_errors", "duplicates", "strays")} for a, rec in records.items()}
    return {"endpoint": args.endpoint, "vlans": [home, args.vlan], "pairs": out_pairs, "total": total,
            "quiet": {**quiet, "seconds": (first - quiet_start) / 1e9}, "reload_seconds": (end - first) / 1e9,
            "reloads": [{k: v for k, v in r.items() if k != "at_ns"} for r in reloads], "probers": probers,
            "all_reloads_took_effect": all(s is not None for r in reloads for s in r["reached_s"].values())
            and all(ok for r in reloads for ok in r["isolated"].values())}


def write_report(result: dict, args, info: dict) -> None:
    document = {"command": command_line(), "machine": info,
                "settings": {"topology": shown(args.topology), **{k: getattr(args, k) for k in ("reloads", "interval_ms", "wait", "late_ms", "quiet")}},
                **result}
    (RESULTS / "reload.json").write_text(json.dumps(document, indent=1) + "\n")
    t, q = result["total"], result["quiet"]
    n = len(result["reloads"])
    home, vlan = result["vlans"]
    lines = [
        "# Hitless reload: the pairs a retag does not touch",
        "",
        f"Command: `{command_line()}`",
        f"Machine: {machine_line(info)}",
        "",
        f"Lab: {document['settings']['topology']} in the simulator. {result['endpoint']} is retagged {home} → {vlan} → {home} ... {n} times, each",
        "written to the lab's work copy and followed by the controller's reload (SIGHUP), as the scenario step `set_tag` does; after each,",
        f"{result['endpoint']} must reach every peer of its new VLAN and no longer its old ones, then {args.wait:g} s. Meanwhile every reachable",
        f"pair without {result['endpoint']} is probed with one ICMP echo every {args.interval_ms:g} ms (bench/probe_stream.py). Lost: never answered;",
        f"late: answered after more than {args.late_ms:g} ms.",
        "",
        f"**Sent {t['sent']}, lost {t['lost']} across {n} reloads** ({result['reload_seconds']:.1f} s); goal, 0 lost: "
        f"**{'met' if t['lost'] == 0 else 'NOT met'}**. Every reload took effect: **{'yes' if result['all_reloads_took_effect'] else 'NO'}**.",
        "",
        *(f"- {p['pair']}: sent {p['during_reloads']['sent']}, lost {p['during_reloads']['lost']} across {n} reloads" for p in result["pairs"]),
        "",
        "| pair | sent | lost | late | longest loss run | max RTT ms | quiet stretch: sent / lost |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in result["pairs"]:
        d, quiet = p["during_reloads"], p["quiet"]
        lines.append(f"| {p['pair']} | {d['sent']} | {d['lost']} | {d['late']} | {d['longest_run']} | {fmt(d['max_rtt_ms'], 2)} | "
                     f"{quiet['sent']} / {quiet['lost']} |")
    lines += [f"| total | {t['sent']} | {t['lost']} | {t['late']} | | | {q['sent']} / {q['lost']} |", "",
              f"Quiet stretch: the same probes for {q['seconds']:.1f} s before the first reload (no reload), as a baseline.", "",
              f"| reload | {result['endpoint']} to VLAN | reached its new peers (s after the SIGHUP) | isolated from its old peers | lost by the pairs above |",
              "|---|---|---|---|---|"]
    for r in result["reloads"]:
        reached = ", ".join(f"{p} {fmt(s, 2)}" if s is not None else f"{p} NOT" for p, s in r["reached_s"].items()) or "-"
        isolated = ", ".join(f"{p} {'yes' if ok else 'NO'}" for p, ok in r["isolated"].items()) or "-"
        lines.append(f"| {r['n']} | {r['tag']} | {reached} | {isolated} | {r['lost_by_untouched_pairs']} |")
    bad = {a: p for a, p in result["probers"].items() if p["overflow"] or p["send_errors"]}
    if bad:
        lines += ["", "The probers' own losses (socket buffer overflow, send errors), which count as lost above: "
                  + "; ".join(f"{a}: {p['overflow']} / {p['send_errors']}" for a, p in bad.items())]
    (RESULTS / "reload.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {shown(RESULTS / 'reload.md')} and {shown(RESULTS / 'reload.json')}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reloads", type=int, default=10)
    parser.add_argument("--interval-ms", type=float, default=1.0, help="probe interval per pair (default 1 ms)")
    parser.add_argument("--wait", type=float, default=1.0, help="seconds after a reload took effect before the next")
    parser.add_argument("--late-ms", type=float, default=100.0, help="a reply later than this is counted as late")
    parser.add_argument("--quiet", type=float, default=5.0, help="seconds probed before the first reload (the baseline)")
    parser.add_argument("--topology", default=str(TRIANGLE))
    parser.add_argument("--endpoint", default="x3", help="the endpoint whose first NIC is retagged")
    parser.add_argument("--vlan", type=int, default=10, help="the VLAN it is retagged to (and back from)")
    parser.add_argument("--reach-timeout", type=float, default=15.0, help="seconds for the endpoint to reach its new peers")
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    args = parser.parse_args()
    if args.reloads < 1 or args.interval_ms <= 0:
        parser.error("--reloads must be at least 1 and --interval-ms above 0")
    exit_on_sigterm()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="reload-") as tmp:
        result = run(args, Path(tmp))
    t = result["total"]
    print(f"sent {t['sent']}, lost {t['lost']} ({t['late']} late) across {len(result['reloads'])} reloads; "
          f"every reload took effect: {result['all_reloads_took_effect']}", flush=True)
    write_report(result, args, info)
    return 0  # a loss or a reload without effect is a finding, in the report; not a failure of the benchmark


if __name__ == "__main__":
    sys.exit(main())
