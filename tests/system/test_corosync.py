"""controller/corosync.py against a real three-node corosync cluster on this machine.

Each node is a corosync in its own network namespace and its own mount namespace
(private tmpfs on /run, /var/lib/corosync and /dev/shm, so that the three share
no pid file, ring id file or libqb ring buffer); veths join them to a bridge in
a fourth namespace, on 10.250.0.0/24. A client must be in the same network
namespace (libqb's IPC uses abstract unix sockets) and mount namespace (/dev/shm)
as its corosync, so each one runs as `nsenter -t <corosync pid> -n -m python`.
Nothing is left behind: the fixture kills every process it started and deletes
every namespace, whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, unavailable

GROUP = "sdnlab-test"
TOKEN_MS = int(os.environ.get("SDNLAB_COROSYNC_TOKEN", "1000"))  # a knob for measuring: the test does not assert timing
TIMEOUT = 60  # seconds for anything to happen: the machine may be busy

CHILD = """
import dataclasses, json, sys, time
sys.path.insert(0, {repo!r})
from controller import corosync

def say(**what):
    print(json.dumps({{"t": time.time(), **what}}), flush=True)

say(kind="oneshot", quorum=corosync.quorum_state(), members=corosync.group_members({group!r}))
cluster = corosync.Cluster({group!r}, lambda m: say(kind="view", **dataclasses.asdict(m)))
cluster.start()
cluster.join()
cluster.join()
for line in sys.stdin:
    if line.strip() == "oneshot":
        say(kind="oneshot", quorum=corosync.quorum_state(), members=corosync.group_members({group!r}))
    if line.strip() == "leave":
        cluster.leave()
        cluster.leave()
cluster.stop()
cluster.stop()
say(kind="stopped", alive=cluster.alive)
"""

CONF = """totem {{
    version: 2
    cluster_name: sdlcs
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: {token}
}}
logging {{
    to_stderr: no
    to_syslog: no
    to_logfile: yes
    logfile: {log}
    timestamp: hires
}}
quorum {{
    provider: corosync_votequorum
}}
nodelist {{
{nodes}
}}
"""

NODE = """    node {{
        nodeid: {i}
        name: n{i}
        ring0_addr: 10.250.0.{i}
    }}"""

MOUNTS = "mount -t tmpfs sdlcs /run && mount -t tmpfs sdlcs /var/lib/corosync && mount -t tmpfs sdlcs /dev/shm"


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)


class Client:
    """A binding user inside one node's namespaces; what it prints is collected as it comes."""

    def __init__(self, corosync_pid: int, script: Path) -> None:
        self.proc = subprocess.Popen(["nsenter", "-t", str(corosync_pid), "-n", "-m", sys.executable, str(script)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[dict] = []
        self.stderr = ""
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(json.loads(line))
                self._cond.notify_all()

    def _read_err(self) -> None:
        self.stderr = self.proc.stderr.read()

    def wait(self, what: str, test, timeout: float = TIMEOUT) -> dict:
        """The first line that passes `test` (waiting for it), else fail saying what was seen."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if test(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._cond.wait(0.5)):
                    pytest.fail(f"no {what} within {timeout} s; saw {self.lines}; stderr {self.stderr[-2000:]}")
                self._cond.wait(min(left, 1.0))

    def views(self) -> list[dict]:
        with self._cond:
            return [x for x in self.lines if x["kind"] == "view"]


class Lab:
    """Three corosync nodes and their namespaces; `kill(i)` kills node i's corosync and client."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.tag = tmp, f"{os.getpid() % 100000}"
        self.hub = f"sdlcs-{self.tag}-hub"
        self.ns = {i: f"sdlcs-{self.tag}-n{i}" for i in (1, 2, 3)}
        self.corosync: dict[int, subprocess.Popen] = {}
        self.clients: dict[int, Client] = {}
        self.script = tmp / "client.py"
        self.script.write_text(CHILD.format(repo=str(REPO), group=GROUP))

    def start(self) -> None:
        run("ip", "netns", "add", self.hub)
        run("ip", "-n", self.hub, "link", "add", f"sdlcs{self.tag}br", "type", "bridge")
        run("ip", "-n", self.hub, "link", "set", f"sdlcs{self.tag}br", "up")
        nodes = "\n".join(NODE.format(i=i) for i in self.ns)
        for i, ns in self.ns.items():
            run("ip", "netns", "add", ns)
            run("ip", "-n", self.hub, "link", "add", f"sdlcs{self.tag}h{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            run("ip", "-n", self.hub, "link", "set", f"sdlcs{self.tag}h{i}", "master", f"sdlcs{self.tag}br", "up")
            run("ip", "-n", ns, "addr", "add", f"10.250.0.{i}/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            conf = self.tmp / f"n{i}.conf"
            conf.write_text(CONF.format(token=TOKEN_MS, log=self.tmp / f"n{i}.log", nodes=nodes))
            with open(self.tmp / f"n{i}.out", "w") as out:  # ip netns exec, unshare and sh all exec: the pid becomes corosync's
                self.corosync[i] = subprocess.Popen(
                    ["ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private", "sh", "-c", f"{MOUNTS} && exec corosync -f -c {conf}"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        for i, proc in self.corosync.items():  # up, then all three in one quorate ring
            deadline = time.monotonic() + TIMEOUT
            while not self._ready(proc.pid):
                assert proc.poll() is None and time.monotonic() < deadline, f"corosync n{i} not quorate with 3 nodes: {self.log(i)}{self.log(i, 'out')}"
                time.sleep(0.2)

    @staticmethod
    def _ready(pid: int) -> bool:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "corosync":
            return False
        out = subprocess.run(["nsenter", "-t", str(pid), "-n", "-m", "corosync-quorumtool", "-s"], capture_output=True, text=True, timeout=30).stdout
        return re.search(r"^Quorate:\s+Yes$", out, re.M) is not None and re.search(r"^Nodes:\s+3$", out, re.M) is not None

    def client(self, i: int) -> Client:
        self.clients[i] = Client(self.corosync[i].pid, self.script)
        return self.clients[i]

    def kill(self, i: int) -> float:
        """SIGKILL node i's corosync and its client; returns when, by time.time()."""
        when = time.time()
        for proc in (self.corosync[i], *([self.clients[i].proc] if i in self.clients else [])):
            proc.kill()
            proc.wait(timeout=30)
        return when

    def log(self, i: int, kind: str = "log") -> str:
        path = self.tmp / f"n{i}.{kind}"
        return path.read_text()[-3000:] if path.exists() else ""

    def close(self) -> None:
        for proc in [*self.corosync.values(), *(c.proc for c in self.clients.values())]:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        for ns in [*self.ns.values(), self.hub]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def lab(tmp_path):
    if os.geteuid() != 0:
        unavailable("the corosync system test needs root (network and mount namespaces)")
    for tool in ("corosync", "ip", "unshare", "nsenter"):
        if not shutil.which(tool):
            unavailable(f"{tool} is not installed (make setup installs corosync)")
    lab = Lab(tmp_path)
    try:
        lab.start()
        yield lab
    finally:
        lab.close()
        leaked = [ns for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split() if lab.tag in ns]
        assert not leaked, f"namespaces left behind: {leaked}"
        assert all(p.poll() is not None for p in lab.corosync.values())


def quorate_with(members: tuple[int, ...], after: float = 0.0):
    return lambda x: x["kind"] == "view" and x["t"] > after and x["quorate"] and x["joined"] and tuple(x["members"]) == members


def test_membership_follows_kills(lab):
    """Three members see each other with quorum; two survivors see the third go on a new ring; one alone has no quorum."""
    clients = {i: lab.client(i) for i in (1, 2, 3)}
    full = {i: c.wait("view of members (1, 2, 3) with quorum", quorate_with((1, 2, 3))) for i, c in clients.items()}
    assert {v["me"] for v in full.values()} == {1, 2, 3}

    killed = lab.kill(3)
    two = {i: clients[i].wait("view of members (1, 2) with quorum", quorate_with((1, 2), killed)) for i in (1, 2)}
    for i in (1, 2):
        assert two[i]["ring_seq"] > full[i]["ring_seq"], (full[i], two[i])
        print(f"token {TOKEN_MS} ms: n{i} saw n3 gone {two[i]['t'] - killed:.2f} s after kill -9")
        seqs = [v["ring_seq"] for v in clients[i].views()]
        assert seqs == sorted(seqs), "ring_seq went down"
        assert not any(v["quorate"] and 3 in v["members"] for v in clients[i].views() if v["t"] > two[i]["t"])

    killed = lab.kill(2)
    alone = clients[1].wait("view without quorum", lambda x: x["kind"] == "view" and not x["quorate"] and x["t"] > killed)
    print(f"token {TOKEN_MS} ms: n1 lost quorum {alone['t'] - killed:.2f} s after kill -9 of n2")
    assert alone["ring_seq"] > two[1]["ring_seq"] and alone["members"] == [1] and alone["joined"]
    # No view claimed quorum with n2 gone: the new ring's members wait for the quorum service's word on that ring.
    assert not any(v["quorate"] and v["members"] == [1] for v in clients[1].views() if v["t"] > killed)

    killed = time.time()
    lab.corosync[1].kill()
    gone = clients[1].wait("view once corosync died", lambda x: x["kind"] == "view" and x["t"] > killed and not x["joined"])
    assert gone["members"] == [] and not gone["quorate"]
    clients[1].proc.stdin.close()
    stopped = clients[1].wait("clean stop after corosync died", lambda x: x["kind"] == "stopped")
    assert stopped["alive"] is False
    assert clients[1].proc.wait(timeout=TIMEOUT) == 0, clients[1].stderr


def test_one_shot_status(lab):
    """quorum_state and group_members answer without joining, before and after a member joined."""
    first = lab.client(1)
    before = first.wait("one-shot status", lambda x: x["kind"] == "oneshot")
    first.wait("own view with quorum", lambda x: x["kind"] == "view" and x["quorate"] and x["joined"])
    second = lab.client(2)
    second.wait("view of members (1, 2) with quorum", quorate_with((1, 2)))
    oneshot = second.lines[0]
    assert oneshot["kind"] == "oneshot" and oneshot["members"] == [1], oneshot  # n1's client was in, n2's not yet
    quorate, ring_seq = oneshot["quorum"]
    assert quorate and ring_seq > 0
    first.proc.stdin.write("oneshot\n")
    first.proc.stdin.flush()
    again = first.wait("second one-shot status", lambda x: x["kind"] == "oneshot" and x is not before)
    assert again["members"] == [1, 2] and again["quorum"] == [True, ring_seq]
    assert before["quorum"][0] in (True, False) and before["members"] in ([], [1])

    second.proc.stdin.write("leave\n")
    second.proc.stdin.flush()
    assert second.wait("view after leaving", lambda x: x["kind"] == "view" and not x["joined"])["members"] == []
    first.wait("view of members (1,) with quorum", lambda x: quorate_with((1,))(x) and x["t"] > again["t"])
    for c in (first, second):
        c.proc.stdin.close()
        assert c.wait("clean stop", lambda x: x["kind"] == "stopped")["alive"] is False
        assert c.proc.wait(timeout=TIMEOUT) == 0, c.stderr
