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
