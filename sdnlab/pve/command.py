"""`sdnlab import pve` and `sdnlab export pve`: arguments, writing files, printing warnings.

`sdnlab/cli.py` only registers these (`register`); a bad snapshot or topology
raises TopologyError, which the CLI prints like the loader's errors (exit 2,
nothing written).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from sdnlab.problems import escape

WARNING_LIMIT = 100  # warnings printed unless --all-warnings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `import` and `export` verbs, each with its `pve` format."""
    imp = sub.add_parser("import", help="build a topology file from another system's configuration (pve: a Proxmox VE cluster)")
    imp_sub = imp.add_subparsers(metavar="FORMAT")
    pve = imp_sub.add_parser("pve", help="a Proxmox VE cluster snapshot (scripts/pve-snapshot), or / on a Proxmox node")
    pve.add_argument("snapshot", type=Path, metavar="SNAPSHOT")
    pve.add_argument("-o", "--output", type=Path, metavar="FILE", help="topology file to write (atomically, only on success); default: stdout")
    pve.add_argument("--pending", action="store_true", help="apply [PENDING] guest changes and interfaces.new, as after a reboot/apply")
    pve.add_argument("--name", help="the topology's name (default: from SNAPSHOT's folder name)")
    pve.add_argument("--all-warnings", action="store_true", help=f"print every warning (default: the first {WARNING_LIMIT})")
    pve.set_defaults(run=run_import)
    imp.set_defaults(run=_usage(imp))

    exp = sub.add_parser("export", help="write a topology as another system's configuration (pve: Proxmox VE files)")
    exp_sub = exp.add_subparsers(metavar="FORMAT")
    pve = exp_sub.add_parser("pve", help="interfaces stanzas per node, a qemu-server/lxc config per endpoint, and commands.sh")
    pve.add_argument("file", type=Path, metavar="FILE")
    pve.add_argument("-o", "--output", type=Path, metavar="DIR", required=True, help="folder to write into (laid out as a snapshot)")
    pve.add_argument("--all-warnings", action="store_true", help=f"print every warning (default: the first {WARNING_LIMIT})")
    pve.set_defaults(run=run_export)
    exp.set_defaults(run=_usage(exp))


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 1

    return show


def _warnings(lines: list[str], all_of_them: bool) -> None:
    shown = lines if all_of_them else lines[:WARNING_LIMIT]
    for line in shown:
        print(f"warning: {escape(line)}", file=sys.stderr)
    if len(lines) > len(shown):
        print(f"... and {len(lines) - len(shown)} more warnings (--all-warnings prints them all)", file=sys.stderr)


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` through a temporary file in the same folder, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_import(args: argparse.Namespace) -> int:
    from sdnlab.pve.importer import import_snapshot
    from sdnlab.pve.source import DirSource

    if not args.snapshot.is_dir():
        print(f"sdnlab import pve: {args.snapshot} is not a folder (a snapshot, or / on a Proxmox node)", file=sys.stderr)
        return 2
    source = DirSource(args.snapshot, hostname=socket.gethostname())
    name = args.name or (f"pve-{source.local_node}" if source.live and source.local_node else args.snapshot.resolve().name)
    result = import_snapshot(source, pending=args.pending, name=name)
    _warnings([str(w) for w in result.warnings], args.all_warnings)
    if args.output is None:
        sys.stdout.write(result.text)
        print(f"imported: {result.summary()}", file=sys.stderr)
    else:
        write_atomically(args.output, result.text)
        print(f"wrote {args.output}: {result.summary()}", file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from sdnlab.loader import load
    from sdnlab.pve.export import export_topology

    topology = load(args.file)
    result = export_topology(topology, title=f"{topology.name} ({args.file.name})")
    for rel, text in sorted(result.files.items()):
        write_atomically(args.output / rel, text, 0o755 if rel.endswith(".sh") else 0o644)
    _warnings(result.warnings, args.all_warnings)
    print(f"wrote {len(result.files)} files under {args.output}: {result.summary()}", file=sys.stderr)
    return 0
