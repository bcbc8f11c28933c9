"""Settings around the controller that an attacker would use: where it listens,
and OVS bridge settings that let frames past the pipeline."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from controller.ovsdb import BridgeSettings, setting_warnings, settings
from sdnlab import TopologyError, loads

BASE = "name: x\nbridges: {b: {type: ovs}}\ncontroller: {host: %s}\n"


@pytest.mark.parametrize("host, want", [("127.0.0.1", "127.0.0.1"), ('"::1"', "::1"), ("0.0.0.0", "0.0.0.0")])
def test_controller_host_is_an_address_to_listen_on(host, want):
    assert loads(BASE % host, "f.yaml").controller.host == want


@pytest.mark.parametrize("host", ["localhost", "10.0.0.300", "127.0.0.1:6653", "''"])
def test_a_controller_host_that_is_not_an_address_is_refused_at_its_place(host):
    with pytest.raises(TopologyError) as caught:
        loads(BASE % host, "f.yaml")
    (problem,) = caught.value.problems
    assert problem.path == "controller.host" and problem.line == 3 and "address" in problem.message


def _idl(**bridges) -> SimpleNamespace:
    rows = {}
    for i, (name, (other_config, controllers)) in enumerate(bridges.items()):
        ctls = [SimpleNamespace(connection_mode=mode, controller_rate_limit=rate) for mode, rate in controllers]
        rows[i] = SimpleNamespace(name=name, datapath_id=[f"{i + 1:016x}"], other_config=other_config, controller=ctls)
    rows["unconfigured"] = SimpleNamespace(name="new", datapath_id=[], other_config={}, controller=[])
    return SimpleNamespace(tables={"Bridge": SimpleNamespace(rows=rows)})


def test_settings_tell_in_band_control_and_missing_meters_from_the_replica():
    found = settings(_idl(
        safe=({"disable-in-band": "true"}, [([], [1000])]),
        inband=({}, [([], [1000])]),
        oob=({}, [(["out-of-band"], [])]),
        bare=({}, []),
    ))
    assert found == {
        1: BridgeSettings("safe", in_band=False, metered=True),
        2: BridgeSettings("inband", in_band=True, metered=True),
        3: BridgeSettings("oob", in_band=False, metered=False),
        4: BridgeSettings("bare", in_band=True, metered=False),
    }


def test_each_warning_carries_the_command_that_fixes_it():
    assert setting_warnings(BridgeSettings("vmbr0", False, True), 1000) == []
    in_band, meter = setting_warnings(BridgeSettings("vmbr0", True, False), 1000)
    assert in_band.endswith("fix: ovs-vsctl set Bridge vmbr0 other_config:disable-in-band=true")
    assert meter.endswith("fix: ovs-vsctl set Controller vmbr0 controller_rate_limit=1000 controller_burst_limit=250")
    assert setting_warnings(BridgeSettings("b", False, False), 40)[0].endswith("controller_rate_limit=40 controller_burst_limit=25")


def test_plain_tcp_beyond_loopback_is_refused_unless_forced(tmp_path, capsys):
    from controller.launcher import ControllerError, Tls, check_listen
    from sdnlab.cli import main

    check_listen("127.0.0.1", None, insecure=False)
    check_listen("::1", None, insecure=False)
    check_listen("0.0.0.0", None, insecure=True)
    with pytest.raises(ControllerError, match="without TLS"):
        check_listen("0.0.0.0", None, insecure=False)
    with pytest.raises(ControllerError, match="without TLS"):
        check_listen("10.0.0.1", None, insecure=False)
    tls = Tls(tmp_path / "k", tmp_path / "c", tmp_path / "ca")
    check_listen("0.0.0.0", tls, insecure=False)
    # Through the command, before anything listens:
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: x\nbridges: {b: {type: ovs}}\n")
    assert main(["controller", str(lab), "--host", "0.0.0.0"]) == 1
    assert "refusing to listen on 0.0.0.0 without TLS" in capsys.readouterr().err


def test_a_tls_directory_must_hold_all_three_files(tmp_path):
    from controller.launcher import TLS_CA, TLS_CERT, TLS_KEY, ControllerError, Tls

    (tmp_path / TLS_KEY).write_text("key")
    with pytest.raises(ControllerError, match=f"lacks {TLS_CERT}, {TLS_CA}"):
        Tls.from_dir(tmp_path)
    (tmp_path / TLS_CERT).write_text("cert")
    (tmp_path / TLS_CA).write_text("ca")
    assert Tls.from_dir(tmp_path).ca == tmp_path / TLS_CA


def test_a_live_session_that_does_not_answer_an_echo_is_closed_one_that_answers_stays(tmp_path, make_app):
    """A second session for a connected bridge is refused, and the live one is asked for an echo: a session the
    switch itself already dropped (os-ken has not noticed) must not keep the switch out forever."""
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: x\nbridges: {b: {type: ovs}, c: {type: ovs}}\n")
    app = make_app(loads(lab.read_text(), str(lab)))
    closed = []
    silent = SimpleNamespace(id=app.topology.bridges["b"].dpid, close=lambda: closed.append("b"))
    answering = SimpleNamespace(id=app.topology.bridges["c"].dpid, close=lambda: closed.append("c"))
    app.datapaths.update(b=silent, c=answering)
    app.probes.update(b=(silent, 100.0), c=(answering, 100.0))
    app._echo_reply(SimpleNamespace(msg=SimpleNamespace(datapath=answering)))
    app._close_silent_sessions(now=101.0)
    assert closed == []  # within its patience
    app._close_silent_sessions(now=103.0)
    assert closed == ["b"] and app.probes == {}
