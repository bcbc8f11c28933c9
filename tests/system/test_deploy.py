"""`sdnlab up` for real: OVS bridges, LXC containers and QEMU guests on this host."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host.verify import parse_ping
from sdnlab import analyse, load
from tests.conftest import TOPOLOGIES, unavailable
from tests.system.leftovers import machine

SDNLAB = str(Path(sys.executable).parent / "sdnlab")
LAB = TOPOLOGIES / "real-lab.yaml"


@pytest.fixture(scope="module")
def tools(real_ovs) -> None:
    for tool in ("lxc-create", "qemu-system-x86_64", "busybox", "cpio"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (make setup installs it)")
    if not list(Path("/boot").glob("vmlinuz-*")):
        unavailable("no kernel in /boot for guests (make setup installs linux-image-amd64)")


def sdnlab(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([SDNLAB, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_up_pings_from_inside_every_endpoint_then_down_leaves_nothing(tools, capsys):
    topology = load(LAB)
    analysis = analyse(topology)
    before = machine()
    started = time.monotonic()
    up = sdnlab("up", str(LAB))
    up_s = time.monotonic() - started
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "lab real-lab is up" in up.stdout and "booted" in up.stdout
        for a, b in itertools.permutations(sorted(topology.endpoints), 2):
            target = topology.endpoints[b].nics[0].ip.ip
            out = sdnlab("exec", str(LAB), a, "--", "ping", "-c", "2", "-W", "1", str(target))
            answered = " 0 packets received" not in out.stdout and " 0 received" not in out.stdout
            assert answered == analysis.is_reachable(a, b), (a, b, out.stdout)
        status = sdnlab("status", str(LAB))
        assert status.returncode == 0 and "the check agrees" in status.stdout, status.stdout
        assert "guest vm1: running" in status.stdout and "container sdnlab-real-lab-ct1: running" in status.stdout
        assert_confined()
    finally:
        started = time.monotonic()
        down = sdnlab("down", str(LAB))
        down_s = time.monotonic() - started
    with capsys.disabled():
        print(f"\n  sdnlab up took {up_s:.1f} s, sdnlab down {down_s:.1f} s (2 LXC containers, 2 QEMU guests, 2 OVS bridges)")
    assert down.returncode == 0
    assert machine() == before
    again = sdnlab("down", str(LAB))
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def assert_confined() -> None:
    """Root in a container is not root on the host; QEMU runs sandboxed as nobody; a guest cannot fill the disk."""
    ids = sdnlab("exec", str(LAB), "ct1", "--", "cat", "/proc/self/uid_map")
    assert ids.stdout.split() == ["0", "100000", "65536"], ids.stdout
    mknod = sdnlab("exec", str(LAB), "ct1", "--", "mknod", "/tmp/disk", "b", "8", "0")
    assert mknod.returncode != 0 and "not permitted" in mknod.stdout + mknod.stderr
    seccomp = sdnlab("exec", str(LAB), "ct1", "--", "grep", "^Seccomp:", "/proc/self/status")
    assert seccomp.stdout.split() == ["Seccomp:", "2"], seccomp.stdout

    guest = Path("/var/lib/sdnlab/labs/real-lab/guests/vm1")
    assert guest.stat().st_mode & 0o077 == 0
    for sock in guest.glob("*.sock"):
        assert sock.stat().st_mode & 0o777 == 0o600, sock
    status = Path(f"/proc/{(guest / 'qemu.pid').read_text().strip()}/status").read_text()
    assert "\nUid:\t65534\t65534\t65534\t65534" in status and "\nSeccomp:\t2" in status, status
    # 3 MB to the console, whose log is capped at 1 MiB: the log stops growing and the guest runs on.
    flood = sdnlab("exec", str(LAB), "vm1", "--", "sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x > /dev/ttyS0; echo flooded")
    assert "flooded" in flood.stdout, flood.stdout + flood.stderr
    assert (guest / "console.log").stat().st_size <= 1 << 20
    again = sdnlab("exec", str(LAB), "vm1", "--", "echo", "still-here")
    assert again.stdout.strip() == "still-here"


def test_a_guest_that_cannot_start_rolls_everything_back(tools):
    before = machine()
    env = {**os.environ, "SDNLAB_QEMU": "/bin/false"}
    out = sdnlab("up", str(LAB), env=env)
    assert out.returncode == 1
    assert "QEMU did not start guest" in out.stderr + out.stdout and "rolled back" in out.stdout
    assert "Traceback" not in out.stderr
    assert machine() == before


def test_a_bridge_that_is_not_ours_is_never_touched(tools):
    subprocess.run(["ovs-vsctl", "add-br", "vmbr0", "--", "set", "bridge", "vmbr0", "datapath_type=netdev"], check=True)
    try:
        before = machine()
        out = sdnlab("up", str(LAB))
        assert out.returncode == 1 and "already exists and is not this lab's" in out.stderr
        assert machine() == before
    finally:
        subprocess.run(["ovs-vsctl", "--if-exists", "del-br", "vmbr0"], check=True)


NAMESPACES_ONLY = """name: nslab
vlans: {10: {}}
bridges: {vmbr0: {type: ovs}}
endpoints:
  n1: {type: host, nics: [{bridge: vmbr0, tag: 10, ip: 10.9.0.1/24}]}
  n2: {type: host, nics: [{bridge: vmbr0, tag: 10, ip: 10.9.0.2/24}]}
"""


def test_status_exec_and_down_say_what_is_wrong(tools, tmp_path):
    lab = tmp_path / "nslab.yaml"
    lab.write_text(NAMESPACES_ONLY)
    before = machine()
    # Nothing is up yet: each verb says so, and changes nothing.
    status = sdnlab("status", str(lab))
    assert status.returncode == 1 and "lab nslab is not up" in status.stdout
    run = sdnlab("exec", str(lab), "n1", "--", "true")
    assert run.returncode == 1 and "lab nslab is not up" in run.stderr
    gone = sdnlab("down", str(lab))
    assert gone.returncode == 0 and "nothing to remove" in gone.stdout
    assert machine() == before
    up = sdnlab("up", str(lab))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        # A command's own exit status and output come back; an unknown endpoint is refused.
        failed = sdnlab("exec", str(lab), "n1", "--", "sh", "-c", "echo 'a  b'; exit 3")
        assert failed.returncode == 3 and "a  b" in failed.stdout
        unknown = sdnlab("exec", str(lab), "n9", "--", "true")
        assert unknown.returncode == 1 and "no endpoint n9" in unknown.stderr
        # A second `up` of a lab that is up is refused, and leaves the running lab alone.
        again = sdnlab("up", str(lab))
        assert again.returncode == 1 and "already up" in again.stderr
        assert sdnlab("exec", str(lab), "n1", "--", "ping", "-c", "1", "-W", "1", "10.9.0.2").returncode == 0
        # The same facts for scripts, each switch's from the controller's metrics (which saw the ping's packet-ins).
        facts = json.loads(sdnlab("status", str(lab), "--json").stdout)
        assert facts["up"] and facts["agree"] and facts["controller"]["running"] and facts["endpoints"] == {"n1": "running", "n2": "running"}
        assert facts["controller"]["metrics"].startswith("127.0.0.1:")
        assert all(switch["connected"] for switch in facts["switches"].values()) and facts["switches"], facts
        assert sum(switch["packet_ins"] for switch in facts["switches"].values()) > 0
        # A port's OVSDB VLAN retagged by hand: status names it; the file still wins.
        port = subprocess.run(["ovs-vsctl", "--bare", "--columns=name", "find", "Interface", "external_ids:sdnlab-nic=n1.0"],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert "OVSDB" not in sdnlab("status", str(lab)).stdout
        subprocess.run(["ovs-vsctl", "set", "Port", port, "tag=20"], check=True)
        said = sdnlab("status", str(lab)).stdout
        assert f"port {port}: OVSDB tag=20, the file says tag 10; the file wins" in said and "the check agrees" in said, said
        assert sdnlab("exec", str(lab), "n1", "--", "ping", "-c", "1", "-W", "1", "10.9.0.2").returncode == 0
        # The controller dies: status says so.
        pid = int(next(line.split()[2] for line in sdnlab("status", str(lab)).stdout.splitlines() if "controller pid" in line))
        os.kill(pid, signal.SIGKILL)
        dead = sdnlab("status", str(lab))
        assert "NOT RUNNING" in dead.stdout and f"controller pid {pid}" in dead.stdout
    finally:
        down = sdnlab("down", str(lab))
    assert down.returncode == 0 and machine() == before


def test_ctrl_c_during_up_rolls_back_everything(tools):
    before = machine()
    proc = subprocess.Popen([SDNLAB, "up", str(LAB)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:  # interrupt in the middle: containers up, guests still to boot
        seen.append(line)
        if line.startswith("container ") and "running" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    said = "".join(seen) + out
    assert proc.returncode != 0 and "interrupted" in said and "rolled back" in said, said + err
    assert "Traceback" not in err
    assert machine() == before


LINUX_BRIDGE = """name: lblab
bridges: {lab0: {type: linux}}
endpoints:
  n1: {type: host, nics: [{bridge: lab0, ip: 10.8.0.1/24}]}
  n2: {type: host, nics: [{bridge: lab0, ip: 10.8.0.2/24}]}
"""


def test_a_labs_linux_bridge_is_no_host_and_down_removes_only_what_carries_the_mark(tools, tmp_path):
    lab = tmp_path / "lblab.yaml"
    lab.write_text(LINUX_BRIDGE)
    before = machine()
    up = sdnlab("up", str(lab))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        # Not a host on the segment: no IPv6 link-local address, no ARP answers for the host's addresses.
        assert "inet6" not in subprocess.run(["ip", "-6", "addr", "show", "dev", "lab0"], capture_output=True, text=True).stdout
        assert Path("/proc/sys/net/ipv4/conf/lab0/arp_ignore").read_text().strip() == "8"
        host_address = "169.254.77.1"  # an address of the host, on another interface
        subprocess.run(["ip", "addr", "add", f"{host_address}/32", "dev", "lo"], check=True)
        try:
            said = sdnlab("exec", str(lab), "n1", "--", "sh", "-c",
                          f"ip route add {host_address} dev eth0; ping -c 2 -W 1 {host_address}; ip neigh show {host_address}")
            assert "lladdr" not in said.stdout, said.stdout  # the host did not answer its ARP
        finally:
            subprocess.run(["ip", "addr", "del", f"{host_address}/32", "dev", "lo"], check=True)
        # An interface the state lists but that is not the lab's (same name, no mark) is left alone.
        victim = next(o["name"] for o in json.loads(Path("/var/lib/sdnlab/labs/lblab/state.json").read_text())["objects"]
                      if o["kind"] == "link" and o["name"].startswith("veth"))
        subprocess.run(["ip", "link", "del", victim], check=True)
        subprocess.run(["ip", "link", "add", victim, "type", "bridge"], check=True)  # someone else's, by that name
    finally:
        down = sdnlab("down", str(lab))
    try:
        assert down.returncode == 0 and f"interface {victim} does not carry lab lblab's mark: left alone" in down.stdout, down.stdout
        assert subprocess.run(["ip", "link", "show", victim], capture_output=True).returncode == 0
    finally:
        subprocess.run(["ip", "link", "del", victim], capture_output=True)
    assert machine() == before


MIXED = Path(__file__).resolve().parents[2] / "bench" / "labs" / "soak-mixed.yaml"


def test_a_mixed_lab_of_every_endpoint_kind_and_both_bridge_kinds_answers_as_the_check_says(tools):
    """The lab `up` once failed on under load (bench/soak.py runs it 20 times); here once, every pair both ways."""
    topology = load(MIXED)
    analysis = analyse(topology)
    before = machine()
    up = sdnlab("up", str(MIXED))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "container sdnlab-soak-mixed-ct1 running (unprivileged)" in up.stdout
        seen = {}
        for a, b in itertools.permutations(sorted(topology.endpoints), 2):
            out = sdnlab("exec", str(MIXED), a, "--", "ping", "-c", "2", "-i", "0.3", "-W", "1", str(topology.endpoints[b].nics[0].ip.ip))
            seen[a, b] = parse_ping(out.stdout)[1] > 0
        assert {pair for pair, ok in seen.items() if ok} == {("ct1", "vm1"), ("vm1", "ct1"), ("ns1", "ns2"), ("ns2", "ns1")}
        assert all(ok == analysis.is_reachable(*pair) for pair, ok in seen.items())
    finally:
        down = sdnlab("down", str(MIXED))
    assert down.returncode == 0 and machine() == before


TRUNKS = """name: trlab
vlans: {10: {name: web}, 20: {name: db}}
bridges: {vmbr0: {type: ovs}}
endpoints:
  fwct: {type: lxc, vmid: 300, nics: [{bridge: vmbr0, trunks: [10, 20], ip: 10.2.0.1/24}]}
  fwvm: {type: kvm, vmid: 301, nics: [{bridge: vmbr0, trunks: [10, 20], ip: 10.2.0.2/24}]}
  web: {type: host, nics: [{bridge: vmbr0, tag: 10, ip: 10.2.10.3/24}]}
  db: {type: host, nics: [{bridge: vmbr0, tag: 20, ip: 10.2.20.3/24}]}
"""


def test_trunk_nics_reach_each_vlan_from_a_container_and_a_guest(tools, tmp_path):
    """A router container and a router guest on trunk NICs: eth0 untagged, eth0.10 and eth0.20 in their VLANs
    (the guest's own 802.1Q; the container's through a tagging bridge), and no VLAN reaches another."""
    lab = tmp_path / "trlab.yaml"
    lab.write_text(TRUNKS)
    before = machine()
    up = sdnlab("up", str(lab))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "tagging bridge" in up.stdout and "eth0.10, eth0.20 inside fwct" in up.stdout

        def ping(src: str, address: str) -> bool:
            return parse_ping(sdnlab("exec", str(lab), src, "--", "ping", "-c", "2", "-i", "0.3", "-W", "1", address).stdout)[1] > 0

        for router, host_part in (("fwct", 1), ("fwvm", 2)):
            added = sdnlab("exec", str(lab), router, "--", "sh", "-c",
                           f"ip addr add 10.2.10.{host_part}/24 dev eth0.10 && ip addr add 10.2.20.{host_part}/24 dev eth0.20")
            assert added.returncode == 0, added.stdout + added.stderr
            assert ping(router, "10.2.10.3") and ping(router, "10.2.20.3"), router
        assert ping("fwct", "10.2.0.2") and ping("fwct", "10.2.10.2")  # untagged, and VLAN 10, between the routers
        sdnlab("exec", str(lab), "web", "--", "ip", "addr", "add", "10.2.20.9/24", "dev", "eth0")
        assert not ping("web", "10.2.20.3")  # VLAN 10 never reaches VLAN 20
    finally:
        down = sdnlab("down", str(lab))
    assert down.returncode == 0 and machine() == before
