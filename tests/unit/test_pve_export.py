"""`sdnlab export pve`, and import and export together: every bundled topology comes back
from its Proxmox files with the same reachability, and so does every fixture snapshot."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sdnlab.check import analyse
from sdnlab.cli import main
from sdnlab.loader import load, loads
from sdnlab.pve import DirSource, MemorySource, import_snapshot
from sdnlab.pve.export import assign_vmids, export_topology

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = sorted((ROOT / "topologies").glob("*.yaml"))
FIXTURES = ROOT / "tests" / "fixtures" / "pve"


def back(files: dict[str, str]):
    """The topology `sdnlab import pve` makes of exported files."""
    return loads(import_snapshot(MemorySource(files), name="back").text)


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.stem)
def test_import_of_the_export_has_the_same_reachability(path):
    topology = load(path)
    result = export_topology(topology)
    again = back(result.files)
    assert sorted(again.endpoints) == sorted(topology.endpoints)
    assert analyse(again).reachable() == analyse(topology).reachable()
    assert list(analyse(again).isolated()) == list(analyse(topology).isolated())
    assert not [w for w in result.warnings if "pair" in w or "do not" in w]
    for name, endpoint in again.endpoints.items():
        assert endpoint.vmid == result.vmids[name] and endpoint.node == topology.endpoints[name].node
        assert [n.mac for n in endpoint.nics] == [n.mac for n in topology.endpoints[name].nics]


@pytest.mark.parametrize("name", ["vlan-aware", "ovs-bonds", "trunks", "pending", "snapshots", "sdn", "live"])
def test_export_of_an_import_has_the_same_reachability(name):
    topology = loads(import_snapshot(DirSource(FIXTURES / name, live=name == "live"), name=name).text)
    result = export_topology(topology)
    assert result.warnings == []
    again = back(result.files)
    assert analyse(again).reachable() == analyse(topology).reachable()
    assert {e.vmid for e in again.endpoints.values()} == {e.vmid for e in topology.endpoints.values()}


def test_vmids_are_kept_or_assigned_from_100_in_file_order():
    topology = loads("""
name: ids
bridges: {br: {type: ovs}}
endpoints:
  zed: {type: kvm, nics: [{bridge: br}]}
  alpha: {type: lxc, vmid: 101, nics: [{bridge: br}]}
  mid: {type: host, nics: [{bridge: br}]}
  last: {type: kvm, nics: [{bridge: br}]}
""")
    assert assign_vmids(topology) == {"zed": 100, "alpha": 101, "mid": 102, "last": 103}


def test_two_nodes_files():
    result = export_topology(load(ROOT / "topologies" / "two-nodes.yaml"))
    files = result.files
    assert sorted(files) == ["commands.sh", "etc/pve/nodes/pve1/qemu-server/100.conf", "etc/pve/nodes/pve2/lxc/101.conf",
                             "etc/pve/nodes/pve2/lxc/102.conf", "etc/pve/nodes/pve2/lxc/103.conf",
                             "nodes/pve1/etc/network/interfaces", "nodes/pve2/etc/network/interfaces"]
    vm = files["etc/pve/nodes/pve1/qemu-server/100.conf"].splitlines()
    assert vm[1:3] == ["name: web1", vm[2]] and vm[2].startswith("net0: virtio=") and vm[2].endswith(",bridge=vmbr0,tag=10")
    assert vm[3] == "ipconfig0: ip=10.0.10.11/24"
    ct = files["etc/pve/nodes/pve2/lxc/103.conf"].splitlines()
    assert ct[1] == "hostname: probe" and ct[2].startswith("net0: bridge=lab0,hwaddr=") and ct[2].endswith(",ip=192.168.50.2/24,name=eth0,type=veth")
    pve2 = files["nodes/pve2/etc/network/interfaces"]
    assert "iface eno1 inet manual\n\tovs_type OVSPort\n\tovs_bridge vmbr0\n\tovs_options trunks=0,10,20\n" in pve2
    assert "iface lab0 inet manual\n\tbridge-ports none\n" in pve2
    script = files["commands.sh"]
    assert 'if [ "$node" = pve1 ]; then\n    qm set 100 --name web1 --net0 virtio=' in script
    assert "    pct set 103 --hostname probe --net0 bridge=lab0," in script
    assert result.bridges == {"vmbr0": "vmbr0", "vmbr1": "vmbr0", "lab0": "lab0"}
    assert result.warnings == ["1 host endpoint (probe) becomes a container: Proxmox has no plain network namespaces"]


def test_vlan_aware_linux_and_trunk_nics_export():
    topology = loads("""
name: lin
nodes: {a: {}, b: {}}
vlans: {10: {}, 11: {}, 12: {}, 30: {}}
bridges:
  a-vmbr0: {type: linux, node: a, vlan_aware: true}
  b-vmbr0: {type: linux, node: b, vlan_aware: true}
endpoints:
  r: {type: kvm, node: a, nics: [{bridge: a-vmbr0, tag: 30, trunks: [10, 11, 12]}]}
  c: {type: lxc, node: b, nics: [{bridge: b-vmbr0, trunks: [10, 12]}]}
links:
  - {between: [a-vmbr0, b-vmbr0], trunks: [10, 11, 12]}
""")
    result = export_topology(topology)
    assert "\tbridge-ports eno1\n\tbridge-stp off\n\tbridge-fd 0\n\tbridge-vlan-aware yes\n\tbridge-vids 10-12\n" in result.files["nodes/a/etc/network/interfaces"]
    assert ",tag=30,trunks=10-12\n" in result.files["etc/pve/nodes/a/qemu-server/100.conf"]
    assert ",trunks=10;12,type=veth\n" in result.files["etc/pve/nodes/b/lxc/101.conf"]
    assert result.warnings == [] and analyse(back(result.files)).reachable() == [("c", "r")]


def test_what_proxmox_cannot_say_is_a_warning_pair_by_pair():
    # Untagged frames always cross a VLAN-aware Linux bridge's port: `untagged: false` cannot be kept.
    topology = loads("""
name: cannot
nodes: {a: {}, b: {}}
vlans: {10: {}}
bridges:
  x: {type: linux, node: a, vlan_aware: true}
  y: {type: linux, node: b, vlan_aware: true}
endpoints:
  p: {type: lxc, node: a, nics: [{bridge: x}]}
  q: {type: lxc, node: b, nics: [{bridge: y}]}
links:
  - {between: [x, y], trunks: [10], untagged: false}
""")
    assert export_topology(topology).warnings == ["1 pair reachable in Proxmox but not in the topology: p-q"]


def test_cli_export_then_import(tmp_path, capsys):
    out = tmp_path / "pve"
    assert main(["export", "pve", str(ROOT / "topologies" / "real-lab.yaml"), "-o", str(out)]) == 0
    assert "wrote 7 files under" in capsys.readouterr().err
    assert stat.S_IMODE((out / "commands.sh").stat().st_mode) == 0o755
    lab = tmp_path / "lab.yaml"
    assert main(["import", "pve", str(out), "-o", str(lab), "--name", "again"]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "assumed physical link pve1-vmbr0 -- pve2-vmbr0 carrying VLANs 10, 20" in err
    assert err.rstrip().endswith("2 nodes, 2 bridges, 4 endpoints, 1 link, 2 VLANs, 1 warning")
    assert analyse(load(lab)).reachable() == [("ct1", "vm2"), ("ct2", "vm1")]
    assert main(["import", "pve", str(out)]) == 0
    assert capsys.readouterr().out.startswith("# Imported from a Proxmox VE snapshot")


def test_cli_refuses_what_is_not_a_folder(tmp_path, capsys):
    assert main(["import", "pve", str(tmp_path / "nothing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["export", "pve", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs tar")
def test_snapshot_script_with_a_stand_in_for_ssh(tmp_path):
    """scripts/pve-snapshot over a fake ssh that runs each command in a folder per host gives the fixture's layout back."""
    fixture = FIXTURES / "vlan-aware"
    for node in ("pve1", "pve2"):
        root = tmp_path / "roots" / node
        shutil.copytree(fixture / "etc", root / "etc")
        shutil.copytree(fixture / "nodes" / node / "etc" / "network", root / "etc" / "network", dirs_exist_ok=True)
    fake = tmp_path / "ssh"
    fake.write_text('#!/bin/sh\nhost=${1#root@}\ncd "$FAKE_ROOTS/$host" || exit 255\nexec sh -c "$(printf \'%s\' "$2" | sed \'s|^cd / |cd . |\')"\n')
    fake.chmod(0o755)
    dest = tmp_path / "snap"
    env = dict(os.environ, SSH=str(fake), FAKE_ROOTS=str(tmp_path / "roots"))
    run = subprocess.run(["sh", str(ROOT / "scripts" / "pve-snapshot"), str(dest), "root@pve1"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == sorted(
        str(p.relative_to(fixture)) for p in fixture.rglob("*") if p.is_file() and p.name != "expected.yaml")
    assert import_snapshot(DirSource(dest), name="x").text == import_snapshot(DirSource(fixture), name="x").text.replace(str(fixture), str(dest))
    again = subprocess.run(["sh", str(ROOT / "scripts" / "pve-snapshot"), str(dest), "root@pve1"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "exists and is not empty" in again.stderr


def test_a_generated_two_node_snapshot_imports(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from pve_import_bench import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    generate(tmp_path, nodes=2, guests=20, vlans=4)
    topology = loads(import_snapshot(DirSource(tmp_path), name="small").text)
    assert len(topology.endpoints) == 20 and set(topology.nodes) == {"pve01", "pve02"}
    assert {b for b in topology.bridges} == {"pve01-vmbr0", "pve02-vmbr0", "pve02-vmbr1"}
    assert analyse(topology).reachable_count() > 0


# -- random snapshots ------------------------------------------------------------------

_OVS_PORTS = ["", "\tovs_options tag=5 trunks=0,7\n", "\tovs_options vlan_mode=native-untagged tag=3 trunks=4,5\n", "\tovs_options trunks=4,5,30\n"]
_BRIDGES = [
    "auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eno1\n\tbridge-vlan-aware yes\n\tbridge-vids 2-10 20\n",
    "auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eno1\n\tbridge-vlan-aware yes\n",
    "auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eno1\n",
    "auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports none\n",
    "OVS",
    "auto vmbr2\niface vmbr2 inet manual\n\tbridge-ports eno5.7\n",
    "auto vmbr2\niface vmbr2 inet manual\n\tbridge-ports bond0\n\tbridge-vlan-aware yes\niface bond0 inet manual\n\tbond-slaves eno3 eno4\n",
]


def _random_snapshot(rng) -> dict[str, str]:
    files = {}
    for node in ("pve1", "pve2", "pve3"):
        parts = []
        for block in rng.sample(_BRIDGES, rng.randrange(1, 4)):
            if block == "OVS":
                block = ("auto vmbr1\niface vmbr1 inet manual\n\tovs_type OVSBridge\n\tovs_ports eno2\n\n"
                         f"iface eno2 inet manual\n\tovs_type OVSPort\n\tovs_bridge vmbr1\n{rng.choice(_OVS_PORTS)}")
            parts.append(block)
        files[f"nodes/{node}/etc/network/interfaces"] = "\n".join(parts)
    for vmid in range(100, 100 + rng.randrange(1, 9)):
        folder = rng.choice(["qemu-server", "lxc"])
        vm = folder == "qemu-server"
        lines = [("name: " if vm else "hostname: ") + rng.choice(["a", "b", "c", "Bad_Name", "ct101", "pve1-vmbr0", "d"])]
        for i in sorted(rng.sample(range(5), rng.randrange(1, 4))):
            opts = [f"bridge={b}" for b in [rng.choice(["vmbr0", "vmbr1", "vmbr2", "vnet1", "vmbr9", None])] if b]
            if rng.random() < 0.4:
                opts.append(f"tag={rng.choice([1, 3, 4, 5, 7, 10, 20, 30])}")
            if rng.random() < 0.3:
                opts.append("trunks=" + rng.choice(["2-4094", "4-6;20", "5", "10-20", "25-40"] if vm else ["4;5", "20", "7;30"]))
            mac = f"BC:24:11:00:{rng.randrange(4):02X}:{rng.randrange(4):02X}"
            ip = f"10.0.0.{rng.randrange(1, 5)}/24" if rng.random() < 0.5 else None
            tail = "".join("," + o for o in opts)
            if vm:
                lines.append(f"net{i}: virtio={mac}{tail}" + (f"\nipconfig{i}: ip={ip}" if ip else ""))
            else:
                lines.append(f"net{i}: name=eth{i},hwaddr={mac}{tail}" + (f",ip={ip}" if ip else ""))
        if rng.random() < 0.3:
            lines += ["[PENDING]", f"net{rng.randrange(5)}: {'virtio=BC:24:11:00:09:09,' if vm else 'name=eth9,'}bridge=vmbr0,tag=30", "delete: net0"]
        files[f"etc/pve/nodes/{rng.choice(['pve1', 'pve2', 'pve3'])}/{folder}/{vmid}.conf"] = "\n".join(lines) + "\n"
    if rng.random() < 0.5:
        files["etc/pve/sdn/zones.cfg"] = "vlan: z\n\tbridge vmbr0\n"
        files["etc/pve/sdn/vnets.cfg"] = "vnet: vnet1\n\tzone z\n\ttag 30\n"
    return files


def test_random_snapshots_import_to_valid_files_and_export_back_to_the_same_reachability():
    import random

    rng = random.Random(7)
    for case in range(150):
        files = _random_snapshot(rng)
        topology = loads(import_snapshot(MemorySource(files), pending=rng.random() < 0.5, name="r").text)
        result = export_topology(topology)
        assert not [w for w in result.warnings if "pair" in w or "do not" in w], (case, result.warnings, files)
