"""The `sdnlab` command: one tool, obvious verbs."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from host.errors import HostError
from sdnlab import report
from sdnlab.check import analyse
from sdnlab.loader import load
from sdnlab.problems import TopologyError

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
NO_TLS = "OpenFlow over plain TCP instead of TLS (any local process could then act as a switch); for a host whose OVS has its own SSL settings"


def main(argv: list[str] | None = None) -> int:
    # The CLI only writes pictures to files: never look for a screen. Through the environment, so that a command
    # that draws nothing (the controller above all) does not load matplotlib and numpy: 40 MiB of its memory.
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    else:
        os.environ["MPLBACKEND"] = "Agg"
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_FAILED
    try:
        return args.run(args)
    except TopologyError as exc:
        # Every verb that reads a file reports a bad one the same way, before doing anything.
        if getattr(args, "json", False):
            print(report.invalid_json(exc))
        else:
            print(report.invalid_text(exc), file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        # The reader went away (`sdnlab check big.yaml | head`): stop quietly, as cat does. Python would
        # complain again flushing stdout at exit, so it is pointed at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except HostError as exc:  # what this host cannot do, or will not touch: said, never a traceback
        print(f"sdnlab: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdnlab", description="Check, draw, control, simulate and deploy a lab described in one YAML file.")
    sub = parser.add_subparsers(metavar="COMMAND")

    check = sub.add_parser("check", help="validate a topology (or a scenario) and compute segments, reachability and isolation")
    check.add_argument("file", type=Path)
    check.add_argument("--json", action="store_true", help="print the JSON object of the topology format")
    check.add_argument("--fail", action="append", type=_part, default=[], metavar="PART",
                       help="also compute reachability with this part failed: link:NAME, 'link:[A,B]', bridge:NAME or node:NAME (repeatable)")
    check.set_defaults(run=_check)

    dif = sub.add_parser("diff", help="compare the reachability of two topology files: pairs gained and lost, per segment")
    dif.add_argument("before", type=Path)
    dif.add_argument("after", type=Path)
    dif.add_argument("--json", action="store_true", help='print {"gained": [[a, b], ...], "lost": [...]}')
    dif.set_defaults(run=_diff)

    graph = sub.add_parser("graph", help="draw a topology (PNG/SVG picture, or Mermaid/DOT text)")
    graph.add_argument("file", type=Path)
    graph.add_argument("-o", "--output", type=Path, help="picture to write; .png or .svg")
    graph.add_argument("--format", choices=("picture", "mermaid", "dot"), default="picture", help="picture (default) or text to stdout")
    graph.set_defaults(run=_graph)

    sim = sub.add_parser("sim", help="replay a topology or scenario in Mininet with the real controller")
    simsub = sim.add_subparsers(metavar="ACTION")
    run = simsub.add_parser("run", help="build it, probe every pair, compare intent, flows and probes, tear down")
    run.add_argument("file", type=Path, help="a topology or a scenario file")
    run.add_argument("--json", action="store_true", help="print the probe result and the comparison as JSON")
    run.add_argument("--plot", type=Path, metavar="PICTURE.png", help="write the topology with the probe result overlaid")
    run.add_argument("--no-tls", action="store_true", help=NO_TLS)
    run.add_argument("--separate-nodes", action="store_true", help="replay it on a rehearsal instead of Mininet: each node on a "
                     "host of its own, links between nodes over VXLAN (as `up --separate-nodes`), torn down at the end")
    run.set_defaults(run=_sim_run)
    up = simsub.add_parser("up", help="build it and leave you at Mininet's CLI; leaving the CLI tears everything down")
    up.add_argument("file", type=Path)
    up.add_argument("--no-tls", action="store_true", help=NO_TLS)
    up.set_defaults(run=_sim_up)
    clean = simsub.add_parser("clean", help="remove what a killed simulation left behind")
    clean.set_defaults(run=_sim_clean)
    sim.set_defaults(run=lambda args: (sim.print_help(), EXIT_FAILED)[1])

    upp = sub.add_parser("up", help="build the lab for real on this host: bridges, containers, guests, the controller")
    upp.add_argument("file", type=Path)
    upp.add_argument("--no-tls", action="store_true", help=NO_TLS)
    where = upp.add_mutually_exclusive_group()
    where.add_argument("--node", metavar="N", help="build only node N's bridges and endpoints, on this host; links to other nodes "
                       "become VXLAN tunnels to their addresses (nodes.N.address)")
    where.add_argument("--separate-nodes", action="store_true", help="rehearse a lab across hosts here: each node on an emulated "
                       "host of its own (a namespace with its own Open vSwitch), built with --node")
    upp.add_argument("--controller", metavar="HOST:PORT", help="with --node: the controller the bridges go to (default: the file's "
                     "controller.host and port; the node whose host holds that address runs it)")
    upp.add_argument("--rehearsed", action="store_true", help=argparse.SUPPRESS)  # a rehearsal's node: generated addresses
    upp.set_defaults(run=_up)
    st = sub.add_parser("status", help="what of a lab is running, and the reachability its flows enforce")
    st.add_argument("file", type=Path)
    st.add_argument("--node", metavar="N", help="the part of node N, built here with up --node")
    st.add_argument("--json", action="store_true", help="the same facts as one JSON object, with each switch's from the controller's metrics")
    st.set_defaults(run=_status)
    ex = sub.add_parser("exec", help="run a command inside an endpoint of a lab that is up")
    ex.add_argument("file", type=Path)
    ex.add_argument("endpoint")
    ex.add_argument("command", nargs=argparse.REMAINDER, help="after --")
    ex.set_defaults(run=_exec)
    dn = sub.add_parser("down", help="remove everything `up` created, and nothing else (safe to run twice)")
    dn.add_argument("file", type=Path)
    dn.add_argument("--node", metavar="N", help="only node N's part, built here with up --node")
    dn.set_defaults(run=_down)

    ctl = sub.add_parser("controller", help="run the OpenFlow 1.3 controller for a topology's OVS bridges")
    ctl.add_argument("file", type=Path)
    ctl.add_argument("--host", help="address to listen on (default: the file's controller.host, else 127.0.0.1)")
    ctl.add_argument("--port", type=int, help="TCP port, 0 for any free one (default: the file's controller.port, else 6653)")
    ctl.add_argument("-v", "--verbose", action="store_true", help="log every flow-mod batch and learned MAC")
    ctl.add_argument("--tls-dir", type=Path, metavar="DIR",
                     help="OpenFlow over TLS: DIR holds controller.key, controller.crt and switch-ca.crt (switches must present a certificate from it)")
    ctl.add_argument("--ready-fd", type=int, metavar="FD",
                     help="when listening, write the port held to this inherited file descriptor and close it (for the process that started it)")
    ctl.add_argument("--insecure", action="store_true", help="allow plain TCP on an address other than loopback (anyone reaching it can act as a switch)")
    ctl.add_argument("--metrics", metavar="[HOST:]PORT",
                     help="serve Prometheus metrics there (Faucet's names where the meaning is the same; host default 127.0.0.1, port 0: any)")
    ctl.add_argument("--cluster", action="store_true",
                     help="run as one replica of a controller cluster on this node's corosync: the replicas elect one master per "
                          "quorate membership, and only it programs the switches (README, Controller cluster)")
    ctl.add_argument("--stock-channel", action="store_true",
                     help="serve switches with os-ken's own OpenFlow channel instead of sdnlab's faster one (controller/channel.py), e.g. to compare")
    ctl.set_defaults(run=_controller)

    from sdnlab.pve import command as pve_command  # `import pve` and `export pve` (Proxmox VE): docs/proxmox.md

    pve_command.register(sub)
    return parser


def _check(args: argparse.Namespace) -> int:
    from sdnlab.scenario import Scenario, load_any

    loaded = load_any(args.file)
    if isinstance(loaded, Scenario):
        if args.fail:
            print(f"sdnlab check: --fail needs a topology file; {args.file} is a scenario", file=sys.stderr)
            return EXIT_INVALID
        print(report.scenario_json(loaded) if args.json else report.scenario_text(loaded))
        return EXIT_OK
    from sdnlab import failures

    unknown = [(part, why) for part in args.fail if (why := failures.problem(loaded, part)) is not None]
    for part, why in unknown:
        print(f"sdnlab check: --fail {part}: {why}", file=sys.stderr)
    if unknown:
        return EXIT_INVALID
    analysis = analyse(loaded)
    failure = failures.fail(analysis, args.fail) if args.fail else None
    if args.json:
        # Streamed: millions of pairs are never one string.
        report.write_json(analysis, sys.stdout, failed=failure.to_json() if failure else None)
    else:
        print(report.valid_text(analysis))
        if failure:
            print("\n" + failures.failure_text(failure))
    return EXIT_OK


def _part(text: str):
    """argparse type of --fail: a malformed part is a usage error (exit 2), as argparse makes it."""
    from sdnlab.failures import parse_part

    try:
        return parse_part(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _diff(args: argparse.Namespace) -> int:
    from sdnlab.diff import diff, diff_text

    loaded, problems = [], []
    for path in (args.before, args.after):
        try:
            loaded.append(load(path))
        except TopologyError as exc:  # both files' problems at once, as check lists all of one file's
            problems += exc.problems
    if problems:
        raise TopologyError(problems)
    result = diff(analyse(loaded[0]), analyse(loaded[1]))
    print(json.dumps(result.to_json(), indent=2) if args.json else diff_text(result))
    return EXIT_OK if result.same else EXIT_FAILED


def _graph(args: argparse.Namespace) -> int:
    from sdnlab import diagram

    if args.format != "picture":
        topology = load(args.file)
        print(diagram.mermaid(topology) if args.format == "mermaid" else diagram.dot(topology))
        return EXIT_OK
    if args.output is None or args.output.suffix.lower() not in (".png", ".svg"):
        print("sdnlab graph: give -o PICTURE.png or -o PICTURE.svg (or --format mermaid|dot)", file=sys.stderr)
        return EXIT_FAILED
    topology = load(args.file)
    from sdnlab import draw

    draw.draw(analyse(topology), args.output)
    print(f"wrote {args.output}")
    return EXIT_OK


def _sim_run(args: argparse.Namespace) -> int:
    from host.preflight import HostError
    from sdnlab.scenario import Scenario, load_any
    from sim.runner import run_scenario, run_topology

    loaded = load_any(args.file)
    try:
        if args.separate_nodes:
            from deploy import rehearse_run

            if args.plot or args.no_tls:
                raise HostError("--separate-nodes builds the lab as a real one is built (TLS) and draws no picture")
            return rehearse_run.run(args.file, loaded, args.json)
        if isinstance(loaded, Scenario):
            return run_scenario(loaded, args.json, args.plot, tls=not args.no_tls)
        return run_topology(args.file, loaded, args.json, args.plot, tls=not args.no_tls)
    except HostError as exc:
        print(f"sdnlab sim: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _sim_up(args: argparse.Namespace) -> int:
    from mininet.cli import CLI

    from host.preflight import HostError
    from sim.lab import SimLab

    topology = load(args.file)
    try:
        with SimLab(topology, args.file, tls=not args.no_tls) as lab:
            from mininet.log import setLogLevel

            setLogLevel("output")  # the CLI prints what commands write at this level
            names = sorted(topology.endpoints)
            hint = f" (try: {names[0]} ping {names[1]})" if len(names) > 1 else ""
            print(f"{topology.name} is up; hosts are named after the endpoints{hint}. Leave with exit or Ctrl-D.", flush=True)
            CLI(lab.net)
    except HostError as exc:
        print(f"sdnlab sim: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _sim_clean(args: argparse.Namespace) -> int:
    from sim.lab import clean

    removed = clean()
    print(f"removed {len(removed)} leftovers" + (f": {' '.join(removed)}" if removed else ""))
    return EXIT_OK


def _up(args: argparse.Namespace) -> int:
    from deploy import rehearsal
    from deploy.lab import up
    from host.preflight import HostError

    topology = load(args.file)
    try:
        if args.controller and not args.node:
            raise HostError("--controller goes with --node")
        if args.separate_nodes:
            return rehearsal.up(topology, args.file, tls=not args.no_tls)
        return up(topology, args.file, tls=not args.no_tls, node=args.node or "", controller=args.controller, rehearsed=args.rehearsed)
    except HostError as exc:
        print(f"sdnlab up: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _status(args: argparse.Namespace) -> int:
    from deploy import rehearsal
    from deploy.lab import status

    topology = load(args.file)
    if not args.node and rehearsal.rehearsal_of(topology):
        return rehearsal.print_status(topology, args.json)
    return status(topology, args.json, node=args.node or "")


def _exec(args: argparse.Namespace) -> int:
    from deploy import rehearsal
    from deploy.lab import Lab

    topology = load(args.file)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.endpoint not in topology.endpoints:
        print(f"sdnlab exec: no endpoint {args.endpoint} in {args.file}", file=sys.stderr)
        return EXIT_FAILED
    if rehearsal.rehearsal_of(topology):
        lab = rehearsal.Rehearsal(topology)
    else:  # the whole lab on this host, or the endpoint's node's part (up --node)
        lab = Lab(topology)
        if not lab.state.objects:
            lab = Lab(topology, node=topology.endpoints[args.endpoint].node)
        if not lab.state.objects:
            print(f"sdnlab exec: lab {topology.name} is not up here (sdnlab up {args.file})", file=sys.stderr)
            return EXIT_FAILED
    status, output = lab.run(args.endpoint, shlex.join(command))
    sys.stdout.write(output)
    return status


def _down(args: argparse.Namespace) -> int:
    from deploy import rehearsal
    from deploy.lab import down

    topology = load(args.file)
    if not args.node and rehearsal.rehearsal_of(topology):
        return rehearsal.down_rehearsal(topology)
    return down(topology.name, node=args.node or "")


def _controller(args: argparse.Namespace) -> int:
    from controller.launcher import ControllerError, run

    topology = load(args.file)
    try:
        return run(topology, args.host, args.port, args.verbose, args.tls_dir, args.insecure, args.ready_fd, args.cluster,
                   args.metrics, args.stock_channel)
    except ControllerError as exc:
        print(f"sdnlab controller: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
