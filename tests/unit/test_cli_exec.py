"""`sdnlab exec FILE ENDPOINT -- COMMAND`, in-process with `deploy.lab.Lab` replaced:
no lab, no root. The drivers run the command string with `sh -c` (lxc-attach,
ip netns exec) or type it into a guest's shell, so the string must be the
command's argv quoted for a shell."""

from __future__ import annotations

import shlex
import subprocess
from types import SimpleNamespace

import pytest

import deploy.lab
from sdnlab import cli
from tests.conftest import TOPOLOGIES

TWO_NODES = str(TOPOLOGIES / "two-nodes.yaml")


class NoLab:
    def __init__(self, topology):
        raise AssertionError("exec built a Lab for an endpoint the file does not have")


class RecordingLab:
    """A lab that is up (its state has objects) and records what it is asked to run."""

    runs: list[tuple[str, str]] = []

    def __init__(self, topology):
        self.topology = topology
        self.state = SimpleNamespace(objects=[{"kind": "ovs-bridge", "name": "vmbr0"}])

    def run(self, endpoint: str, command: str, timeout: float = 60) -> tuple[int, str]:
        RecordingLab.runs.append((endpoint, command))
        return 3, "what the endpoint printed\n"


@pytest.fixture
def recording(monkeypatch):
    RecordingLab.runs = []
    monkeypatch.setattr(deploy.lab, "Lab", RecordingLab)
    return RecordingLab.runs


def test_exec_on_an_endpoint_not_in_the_file_exits_1_with_the_message_and_builds_no_lab(monkeypatch, capsys):
    monkeypatch.setattr(deploy.lab, "Lab", NoLab)
    assert cli.main(["exec", TWO_NODES, "nosuch", "--", "true"]) == 1
    out = capsys.readouterr()
    assert out.err == f"sdnlab exec: no endpoint nosuch in {TWO_NODES}\n"
    assert out.out == ""


def test_exec_when_the_lab_is_not_up_exits_1_and_runs_nothing(monkeypatch, capsys):
    class DownLab(RecordingLab):
        def __init__(self, topology, node=""):
            super().__init__(topology)
            self.state = SimpleNamespace(objects=[])
            DownLab.asked.append(node)

    DownLab.asked = []

    RecordingLab.runs = []
    monkeypatch.setattr(deploy.lab, "Lab", DownLab)
    assert cli.main(["exec", TWO_NODES, "web1", "--", "true"]) == 1
    assert capsys.readouterr().err == f"sdnlab exec: lab two-tenants is not up here (sdnlab up {TWO_NODES})\n"
    assert RecordingLab.runs == []
    assert DownLab.asked == ["", "pve1"]  # the whole lab, then the endpoint's node's part (up --node)


def test_exec_passes_the_command_so_that_sh_c_sees_the_same_argv(recording, capsys):
    argv = ["sh", "-c", 'echo "a  b"']
    status = cli.main(["exec", TWO_NODES, "web1", "--", *argv])
    assert status == 3  # the command's status is exec's
    assert capsys.readouterr().out == "what the endpoint printed\n"
    [(endpoint, command)] = recording
    assert endpoint == "web1"
    assert shlex.split(command) == argv
    # And what a driver does with it (sh -c COMMAND) prints the two spaces.
    assert subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=10).stdout == "a  b\n"


@pytest.mark.parametrize("argv", [["ping", "-c", "1", "10.0.10.12"], ["echo", "it's", "$HOME", "a;b", ""]])
def test_exec_quotes_every_argument(recording, argv):
    cli.main(["exec", TWO_NODES, "web2", "--", *argv])
    [(_, command)] = recording
    assert shlex.split(command) == argv
