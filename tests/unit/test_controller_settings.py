"""The file's `controller:` settings reach what they set: `mac_idle_timeout` the
learned flows, `packet_in_rate` the controller's own packet-in meter, and both
follow a reload."""

from __future__ import annotations

from types import SimpleNamespace

from controller.flows import COOKIE_LEARNED, FORWARD, LEARN
from controller.oftable import Frame
from controller.simlab import SimulatedLab
from controller.state import PortPlan
from sdnlab import load
from tests.conftest import TOPOLOGIES
from tests.unit.conftest import session

BROADCAST = "ff:ff:ff:ff:ff:ff"


def one_bridge(tmp_path, settings: str):
    """one-bridge.yaml with a `controller:` map, written to a file and loaded from it."""
    path = tmp_path / "lab.yaml"
    path.write_text((TOPOLOGIES / "one-bridge.yaml").read_text() + f"controller: {{{settings}}}\n")
    return load(path)


def learned(lab: SimulatedLab, bridge: str):
    return [f for f in lab.flows(bridge) if f.cookie == COOKIE_LEARNED]


def test_learned_flows_carry_the_files_mac_idle_timeout(tmp_path):
    topology = one_bridge(tmp_path, "mac_idle_timeout: 123")
    assert topology.controller.mac_idle_timeout == 123
    lab = SimulatedLab(topology)
    a1, a2 = (topology.endpoints[n].nics[0].mac for n in ("a1", "a2"))
    assert lab.send("a1.0", Frame(a1, BROADCAST)) == {"a2.0"}
    assert lab.send("a2.0", Frame(a2, a1)) == {"a1.0"}
    flows = learned(lab, "vmbr0")
    assert {(f.table, f.fields.get("eth_src") or f.fields.get("eth_dst")) for f in flows} == {
        (LEARN, a1), (FORWARD, a1), (LEARN, a2), (FORWARD, a2)}
    assert {f.idle_timeout for f in flows} == {123}


def test_a_reload_gives_newly_learned_flows_the_new_mac_idle_timeout(tmp_path):
    lab = SimulatedLab(one_bridge(tmp_path, "mac_idle_timeout: 123"))
    changed = one_bridge(tmp_path, "mac_idle_timeout: 45")
    lab.apply(lab.core.reload(changed))
    lab.topology = changed
    b1 = changed.endpoints["b1"].nics[0].mac
    assert lab.send("b1.0", Frame(b1, BROADCAST)) == {"b2.0"}
    assert {f.idle_timeout for f in learned(lab, "vmbr0")} == {45}


def packet_in(dp, in_port: int, src: str, vlan: int | None = None) -> SimpleNamespace:
    """An EventOFPPacketIn as the app reads it: its session, in_port, and a frame from `src`, tagged
    with `vlan` (an access port's frames reach the learn table with their tag pushed)."""
    tag = "" if vlan is None else f"8100{vlan:04x}"
    data = bytes.fromhex("ffffffffffff" + src.replace(":", "") + tag + "0800") + bytes(46)
    msg = SimpleNamespace(datapath=dp, match={"in_port": in_port}, data=data)
    return SimpleNamespace(msg=msg)


def handled(app, topology, count: int) -> int:
    """Send `count` packet-ins with fresh sources on a1's port; how many reached the core's MAC table
    (learned, or counted over the port's MAC limit)?"""
    dp = session(app, "vmbr0")
    _, port = PortPlan(topology).nic_port("a1.0")
    table = app.core.macs["vmbr0"]
    before = len(table.entries) + table.over_limit
    for i in range(count):
        app._packet_in(packet_in(dp, port, f"02:00:00:00:{i // 256:02x}:{i % 256:02x}", vlan=100))
    return len(table.entries) + table.over_limit - before


def test_the_apps_packet_in_meter_allows_the_files_packet_in_rate_per_switch(tmp_path, make_app):
    topology = one_bridge(tmp_path, "packet_in_rate: 3")
    app = make_app(topology)
    assert app.limiter.rate == 3
    app.core.connect(PortPlan(topology).view("vmbr0"), [], 0.0)
    assert handled(app, topology, 10) == 3
    assert app.limiter.dropped == 7


def test_the_apps_packet_in_meter_follows_a_reload(tmp_path, make_app):
    app = make_app(one_bridge(tmp_path, "packet_in_rate: 3"))
    changed = one_bridge(tmp_path, "packet_in_rate: 50")
    app.reload(changed)
    app.core.connect(PortPlan(changed).view("vmbr0"), [], 0.0)
    assert handled(app, changed, 60) == 50


def test_the_default_packet_in_rate_meters_at_1000(tmp_path, make_app):
    topology = load(TOPOLOGIES / "one-bridge.yaml")
    app = make_app(topology)
    app.core.connect(PortPlan(topology).view("vmbr0"), [], 0.0)
    assert handled(app, topology, 1005) == 1000  # past the port's MAC limit sources are counted, not entered
    assert app.limiter.dropped == 5


class RecordingOvsdb:
    """Enough of ovsdbapp's API for host.ovsdb.add_bridge: every command is recorded, none is run."""

    def __init__(self):
        self.commands: list[tuple] = []

    def _command(self, *what, **columns):
        self.commands.append(what + ((columns,) if columns else ()))
        return SimpleNamespace(execute=lambda check_error=False: [{"_uuid": "ctl-uuid"}] if what[0] == "db_find" else None)

    def __getattr__(self, name):
        return lambda *args, **kwargs: self._command(name, *args, **kwargs)

    def transaction(self, check_error=False):
        class Txn:
            def __enter__(self):
                return SimpleNamespace(add=lambda command: None)

            def __exit__(self, *exc):
                return False

        return Txn()


def test_ovs_meters_packet_ins_at_the_lab_bridges_packet_in_rate():
    # sim/lab.py and deploy/lab.py build each LabBridge inline from topology.controller.packet_in_rate
    # (no pure function to call); what a LabBridge's rate becomes in OVSDB is host.ovsdb.add_bridge's.
    from host.ovsdb import LabBridge, add_bridge

    api = RecordingOvsdb()
    add_bridge(api, LabBridge("br0", "vmbr0", "lab", "sim", 0x1234, "tcp:127.0.0.1:6653", True, packet_in_rate=123))
    controllers = [c for c in api.commands if c[:2] == ("db_create", "Controller")]
    assert controllers == [("db_create", "Controller", {"target": "tcp:127.0.0.1:6653", "controller_rate_limit": 123,
                                                         "controller_burst_limit": 30, "max_backoff": 1000})]


def test_a_bridge_of_a_controller_cluster_gets_one_controller_per_replica():
    from host.ovsdb import LabBridge, add_bridge

    api = RecordingOvsdb()
    targets = ("ssl:10.213.1.1:6653", "ssl:10.213.1.2:6653", "ssl:10.213.1.3:6653")
    add_bridge(api, LabBridge("br0", "vmbr0", "lab", "sim", 0x1234, targets, True, packet_in_rate=100))
    created = [c[2]["target"] for c in api.commands if c[:2] == ("db_create", "Controller")]
    assert created == list(targets)
    bridge_sets = [c for c in api.commands if c[0] == "db_set" and c[1] == "Bridge"]
    assert any(dict(c[3:]).get("controller") is not None and len(dict(c[3:])["controller"]) == 3 for c in bridge_sets)
