"""Benchmark `sdnlab import pve` on a generated cluster snapshot.

    .venv/bin/python bench/pve_import_bench.py                 # 50 nodes, 2,000 guests; prints the figures
    .venv/bin/python bench/pve_import_bench.py --write         # ... and writes bench/results/pve_import.md
    .venv/bin/python bench/pve_import_bench.py --nodes 2 --guests 20

The snapshot is written to a temporary folder laid out as scripts/pve-snapshot
makes it: every node has a VLAN-aware Linux vmbr0 on eno1 and every other node
an OVS vmbr1 on an active-backup bond with an internal port; guests are 60 %
VMs and 40 % containers, one or two NICs each, tagged in one of `--vlans`
VLANs (a tenth untagged, a few router VMs trunking 2-4094, some on vnets of an
SDN VLAN zone, some with firewall=1 and [PENDING] sections). Timed: writing the
snapshot, the import (reading and parsing every file, building the document
and its YAML), then loading that YAML with the real loader and `check`.
"""

from __future__ import annotations

import argparse
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sdnlab.check import analyse  # noqa: E402
from sdnlab.loader import loads  # noqa: E402
from sdnlab.pve import DirSource, import_snapshot  # noqa: E402

VNETS = 5


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _linux_node(k: int) -> str:
    return ("auto lo\niface lo inet loopback\n\niface eno1 inet manual\n\n"
            f"auto vmbr0\niface vmbr0 inet static\n\taddress 192.168.{k // 250}.{k % 250 + 1}/16\n\tgateway 192.168.0.254\n"
            "\tbridge-ports eno1\n\tbridge-stp off\n\tbridge-fd 0\n\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n")


def _ovs_part(trunks: list[int]) -> str:
    return ("\nauto eno2\niface eno2 inet manual\n\nauto eno3\niface eno3 inet manual\n\n"
            "auto bond0\niface bond0 inet manual\n\tovs_bonds eno2 eno3\n\tovs_type OVSBond\n\tovs_bridge vmbr1\n"
            f"\tovs_options bond_mode=active-backup trunks=0,{','.join(map(str, trunks))}\n\n"
            "auto mgmt\niface mgmt inet static\n\taddress 10.99.0.1/24\n\tovs_type OVSIntPort\n\tovs_bridge vmbr1\n\tovs_options tag=99\n\n"
            "auto vmbr1\niface vmbr1 inet manual\n\tovs_type OVSBridge\n\tovs_ports bond0 mgmt\n")


def generate(root: Path, nodes: int = 50, guests: int = 2000, vlans: int = 100, seed: int = 1) -> dict[str, int]:
    """Write a snapshot under `root`; returns counts of what was written."""
    rng = random.Random(seed)
    vids = list(range(10, 10 + vlans))
    names = [f"pve{k:02d}" for k in range(1, nodes + 1)]
    ovs_trunks = sorted(rng.sample(vids, max(1, vlans // 2)))
    for k, node in enumerate(names):
        text = _linux_node(k) + (_ovs_part(ovs_trunks) if k % 2 else "")
        _write(root / "nodes" / node / "etc/network/interfaces", text)
        (root / "etc/pve/nodes" / node).mkdir(parents=True, exist_ok=True)
    sdn = root / "etc/pve/sdn"
    _write(sdn / "zones.cfg", "vlan: tenants\n\tbridge vmbr0\n\tipam pve\n\n")
    _write(sdn / "vnets.cfg", "".join(f"vnet: tenant{i}\n\tzone tenants\n\ttag {3000 + i}\n\n" for i in range(VNETS)))
    files = 0
    for g in range(guests):
        vmid = 1000 + g
        k = rng.randrange(nodes)
        node = names[k]
        vm = rng.random() < 0.6
        lines = [f"name: g{g}" if vm else f"hostname: g{g}", "memory: 1024", "cores: 1"]
        for i in range(1 + (rng.random() < 0.3)):
            bridge = "vmbr1" if (k % 2 and rng.random() < 0.5) else "vmbr0"
            roll = rng.random()
            tag = trunks = None
            if roll < 0.05:
                bridge = f"tenant{rng.randrange(VNETS)}"
            elif roll < 0.15:
                pass  # untagged
            elif roll < 0.17 and vm and bridge == "vmbr0":
                trunks = "2-4094"
            else:
                tag = rng.choice(vids)
            mac = f"BC:24:11:{(vmid >> 8) & 0xff:02X}:{vmid & 0xff:02X}:{i:02X}"
            ip = f"10.{tag or 0}.{g // 250 + 10 * i}.{g % 250 + 1}/16"
            firewall = ",firewall=1" if rng.random() < 0.1 else ""
            opts = (f",tag={tag}" if tag else "") + (f",trunks={trunks}" if trunks else "") + firewall
            if vm:
                lines += [f"net{i}: virtio={mac},bridge={bridge}{opts}", f"ipconfig{i}: ip={ip},gw=10.{tag or 0}.0.254"]
            else:
                lines.append(f"net{i}: name=eth{i},bridge={bridge},hwaddr={mac},ip={ip}{opts},type=veth")
        if rng.random() < 0.05:
            lines += ["", "[PENDING]", "memory: 2048"]
        folder = "qemu-server" if vm else "lxc"
        _write(root / "etc/pve/nodes" / node / folder / f"{vmid}.conf", "\n".join(lines) + "\n")
        files += 1
    return {"nodes": nodes, "guests": guests, "files": files + nodes + 2}


def floor(root: Path) -> int:
    """The baseline: the least any importer does, read every file of the snapshot and split each line at its
    first colon or space (no validation, no model). The import is measured as a multiple of it."""
    fields = 0
    for path in root.rglob("*"):
        if path.is_file():
            for line in path.read_text().splitlines():
                key, _, _ = line.partition(":") if ":" in line else line.partition(" ")
                fields += bool(key)
    return fields


def run(nodes: int, guests: int, vlans: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="pve-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        counts = generate(root, nodes, guests, vlans)
        t1 = time.perf_counter()
        floor(root)
        baseline = time.perf_counter() - t1
        t1 = time.perf_counter()
        result = import_snapshot(DirSource(root), name="bench")
        t2 = time.perf_counter()
        topology = loads(result.text, "bench.yaml")
        t3 = time.perf_counter()
        analysis = analyse(topology)
        pairs = analysis.reachable_count()
        t4 = time.perf_counter()
    return {**counts, "generate_s": t1 - t0, "baseline_s": baseline, "import_s": t2 - t1, "load_s": t3 - t2, "check_s": t4 - t3,
            "yaml_kib": len(result.text) / 1024, "endpoints": len(topology.endpoints), "bridges": len(topology.bridges),
            "links": len(topology.links), "vlans": len(topology.vlans), "warnings": len(result.warnings), "pairs": pairs,
            "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--guests", type=int, default=2000)
    parser.add_argument("--vlans", type=int, default=100)
    parser.add_argument("--write", action="store_true", help="write bench/results/pve_import.md")
    args = parser.parse_args(argv)
    best = None
    for _ in range(3):
        figures = run(args.nodes, args.guests, args.vlans)
        if best is None or figures["import_s"] < best["import_s"]:
            best = figures
    f = best
    lines = [
        f"snapshot: {f['nodes']} nodes, {f['guests']} guests, {f['files']} files (written in {f['generate_s']:.2f} s)",
        f"import:   {f['import_s']:.3f} s (best of 3) -> {f['yaml_kib']:.0f} KiB of YAML: {f['bridges']} bridges, {f['endpoints']} endpoints, "
        f"{f['links']} links, {f['vlans']} VLANs, {f['warnings']} warnings",
        f"baseline: {f['baseline_s']:.3f} s to read and split every line of the same files; the import takes "
        f"{f['import_s'] / f['baseline_s']:.1f}x that",
        f"load:     {f['load_s']:.3f} s (the real loader on the written YAML)",
        f"check:    {f['check_s']:.3f} s ({f['pairs']} reachable pairs)",
        f"max RSS:  {f['max_rss_mib']:.0f} MiB (the whole process)",
    ]
    print("\n".join(lines))
    if args.write:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        text = ["# `sdnlab import pve` at scale", "",
                f"Command: `.venv/bin/python bench/pve_import_bench.py --nodes {args.nodes} --guests {args.guests} --vlans {args.vlans} --write`",
                f"Machine: {platform.node()} ({platform.machine()}), Python {platform.python_version()}, {stamp}", "", "```text", *lines, "```", ""]
        (ROOT / "bench/results/pve_import.md").write_text("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
