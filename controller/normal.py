"""What a bridge that forwards by itself does with VLANs: Open vSwitch's NORMAL
action, by each port's 802.1Q columns (`vlan_mode`, `tag`, `trunks`).

This models the bridges the controller does not program: a standalone OVS
bridge, such as the stand-in built for a VLAN-aware Linux bridge on kernels
without bridge VLAN filtering, its ports set as Proxmox sets OVS ports
(`tag=`, `trunks=`, `vlan_mode=native-untagged`). A Proxmox VLAN-aware Linux
bridge port (PVID p untagged, VIDs V tagged) forwards as the OVS port
`vlan_mode=native-untagged tag=p trunks=V`.

The rules, from ovs-vswitchd.conf.db(5), Port table, "VLAN Configuration", and
OVS's ofproto-dpif-xlate (xvlan_input_translate, xvlan_output_translate,
xbundle_includes_vlan):

- every frame inside the bridge is in one VLAN; VLAN 0 is "no VLAN": an
  untagged frame on a trunk port;
- vlan_mode empty: `access` when `tag` is set (then `trunks` is ignored),
  `trunk` otherwise;
- `access` (tag t): carries VLAN t only; an untagged frame enters in t, one
  tagged with a VLAN id other than 0 is dropped; it leaves untagged;
- `trunk`: carries the VLANs in `trunks`, every VLAN when empty; a frame
  enters in the VLAN of its tag (0 when untagged) and is dropped when the
  port does not carry that VLAN; it leaves tagged, untagged in VLAN 0;
- `native-tagged` / `native-untagged` (native VLAN `tag`): as trunk, but an
  untagged frame enters in the native VLAN, the native VLAN is always carried
  and VLAN 0 never is; native-untagged sends the native VLAN untagged,
  native-tagged tagged;
- a frame never leaves by the port it came in on; frames to an IEEE reserved
  group address (01:80:c2:00:00:0x) are dropped unless the bridge forwards BPDUs;
- OVS parses one VLAN header (other_config:vlan-limit=1, the default): a second
  tag is payload, carried as it is (which is why double tagging hops VLANs
  through a NORMAL bridge; the controller's pipeline drops such frames).

The model floods: it learns no MACs, so a frame reaches every port that carries
its VLAN. For reachability that is what matters: a learning bridge sends a
known destination only where the flood would have reached it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from controller.oftable import Frame, Result

MODES = ("access", "trunk", "native-tagged", "native-untagged")
EVERY_VLAN = range(4095)  # VLAN ids OVS can put a frame in: 0 (no VLAN) to 4094
RESERVED_PREFIX = "01:80:c2:00:00:0"  # 01:80:c2:00:00:00-0f: STP, PAUSE, LACP, 802.1X, LLDP...
Tags = tuple[int, ...]  # a frame's VLAN ids on the wire, outermost first; () untagged


@dataclass(frozen=True)
class VlanSettings:
    """A port's 802.1Q columns as OVSDB's Port table holds them (`mode` None: the column is empty).

    Any mode OVSDB may hold is kept (the watcher must not fail on one); only
    MODES are modelled, and asking how another one forwards is a ValueError.
    """

    tag: int | None = None
    trunks: frozenset[int] = frozenset()
    mode: str | None = None

    @classmethod
    def like(cls, settings: object) -> VlanSettings:
        """The same columns from anything that has `tag`, `trunks` and `mode` (host.standin's PortVlan, say)."""
        return cls(settings.tag, frozenset(settings.trunks), settings.mode)  # type: ignore[attr-defined]

    @classmethod
    def proxmox(cls, tag: int | None, trunks: Iterable[int] = ()) -> VlanSettings:
        """What Proxmox's `ovs-vsctl add-port` writes for a NIC (pve-common `$ovs_bridge_add_port`)."""
        trunks = frozenset(trunks)
        return cls(tag, trunks, "native-untagged" if tag is not None and trunks else None)

    @property
    def effective_mode(self) -> str:
        """The mode OVS applies: the column, or its default when the column is empty."""
        mode = self.mode or ("access" if self.tag is not None else "trunk")
        if mode not in MODES:
            raise ValueError(f"vlan_mode {mode} is not modelled (only {', '.join(MODES)})")
        return mode

    @property
    def native(self) -> int:
        """The access or native VLAN: OVS takes a missing tag as VLAN 0 (ofproto-dpif bundle_set)."""
        return self.tag if self.tag is not None else 0

    def carries(self, vlan: int) -> bool:
        """Whether frames of `vlan` may enter and leave by this port."""
        mode = self.effective_mode
        if mode == "access":
            return vlan == self.native
        if mode == "trunk":
            return not self.trunks or vlan in self.trunks
        return vlan == self.native or (vlan != 0 and (not self.trunks or vlan in self.trunks))

    def ingress(self, outer: int | None) -> int | None:
        """The VLAN a frame enters in, given its outer tag (None or 0: untagged); None when the port drops it."""
        mode = self.effective_mode
        if not outer:  # a priority tag (VLAN id 0) counts as untagged
            vlan = 0 if mode == "trunk" else self.native
        elif mode == "access":
            return None
        else:
            vlan = outer
        return vlan if self.carries(vlan) else None

    def egress(self, vlan: int) -> Tags | None:
        """The tag a frame of `vlan` leaves with: `(vlan,)`, `()` untagged, or None when the port does not carry it."""
        if not self.carries(vlan):
            return None
        mode = self.effective_mode
        if mode == "access" or vlan == 0 or (mode == "native-untagged" and vlan == self.native):
            return ()
        return (vlan,)

    def forwards_like(self, other: VlanSettings) -> bool:
        """Whether both settings forward every frame the same way (`vlan_mode=access tag=10` does as `tag=10`).

        VLANs neither names behave alike on each port, so those named and one other decide.
        """
        if self == other:
            return True
        try:
            named = {0, self.native, other.native} | self.trunks | other.trunks
            among = sorted(named | {next(v for v in EVERY_VLAN if v not in named)})
            # VLAN 0 stands for untagged frames too: ingress(0) is an untagged frame's VLAN.
            return all(self.egress(v) == other.egress(v) and self.ingress(v) == other.ingress(v) for v in among)
        except ValueError:  # a mode not modelled: only the very same columns are known to forward alike
            return False

    def __str__(self) -> str:
        """ovs-vsctl's spelling of the columns that are set; `no VLAN settings` when none is."""
        parts = ([f"tag={self.tag}"] if self.tag is not None else []) + (
            [f"trunks={','.join(map(str, sorted(self.trunks)))}"] if self.trunks else []) + (
            [f"vlan_mode={self.mode}"] if self.mode else [])
        return " ".join(parts) or "no VLAN settings"


def carried(settings: VlanSettings, among: Iterable[int] = EVERY_VLAN) -> dict[int, Tags]:
    """The VLANs a port carries (among `among`), each with the tags its frames have on the wire there."""
    return {v: tags for v in among if (tags := settings.egress(v)) is not None}


def forward(ports: Mapping[int, VlanSettings], in_port: int, tags: Tags) -> dict[int, Tags]:
    """Where a frame entering `in_port` with `tags` leaves (flooded), each port with the frame's tags there."""
    vlan = ports[in_port].ingress(tags[0] if tags else None)
    if vlan is None:
        return {}
    payload = tags[1:]  # OVS parses one VLAN header; any further tag is carried as it is
    out = {}
    for port, settings in sorted(ports.items()):
        wire = settings.egress(vlan) if port != in_port else None
        if wire is not None:
            out[port] = wire + payload
    return out


class NormalBridge:
    """A bridge forwarding by NORMAL with these port settings, for `oftable.Fabric` (it answers `process` as FlowTables do)."""

    def __init__(self, ports: Mapping[int, VlanSettings], forward_bpdu: bool = False):
        self.ports = dict(ports)
        self.forward_bpdu = forward_bpdu
        for settings in self.ports.values():
            settings.effective_mode  # noqa: B018 - refuse a mode the model does not know now, not at the first frame

    def process(self, in_port: int, frame: Frame) -> Result:
        result = Result()
        if in_port not in self.ports or (not self.forward_bpdu and frame.dst.lower().startswith(RESERVED_PREFIX)):
            return result
        vlan = self.ports[in_port].ingress(frame.vlans[0] if frame.vlans else None)
        kept = bool(frame.vlans and frame.vlans[0])  # the frame came with its own VLAN header
        for port, tags in forward(self.ports, in_port, frame.vlans).items():
            # A header OVS keeps keeps its TPID; one it pushes, and any tag behind the first, is 802.1Q.
            tpid = frame.tpid if kept and self.ports[port].egress(vlan) else 0x8100
            result.outputs.append((port, replace(frame, vlans=tags, tpid=tpid)))
        return result
