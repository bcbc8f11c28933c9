"""The actions our flows apply, as small typed values.

Each action is a frozen dataclass, so it hashes and compares by value and
flows stay set members and dict keys. Each class is the one place that knows
the action in every form: `ovs-ofctl` text (`ofctl`, and `from_ofctl` for
dump-flows), the OpenFlow 1.3 wire (`wire`, byte-for-byte os-ken's, used by
ofwire.py; `from_os_ken` for stats replies), and what it does to a frame in
the table simulator (`apply`). `str()` is how oftable.explain shows it.

Adding an action is one class here and its entry in ACTIONS.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from controller.fields import FIELDS

if TYPE_CHECKING:
    from controller.oftable import Frame, Result

OFPAT_OUTPUT, OFPAT_PUSH_VLAN, OFPAT_POP_VLAN, OFPAT_SET_FIELD = 0, 17, 18, 25
OFPP_CONTROLLER, OFPCML_NO_BUFFER, OFPCML_MAX = 0xFFFFFFFD, 0xFFFF, 0xFFE5
ETH_VLAN = 0x8100

_OUTPUT = struct.Struct("!HHIH6x")
# The constant actions' bytes, packed once: they are on the flow-mod hot path.
_TO_CONTROLLER = _OUTPUT.pack(OFPAT_OUTPUT, 16, OFPP_CONTROLLER, OFPCML_NO_BUFFER)
_PUSH_VLAN = struct.pack("!HHH2x", OFPAT_PUSH_VLAN, 8, ETH_VLAN)
_POP_VLAN = struct.pack("!HH4x", OFPAT_POP_VLAN, 8)
_SET_FIELD = struct.pack("!HH", OFPAT_SET_FIELD, 16)  # vlan_vid's OXM (6 bytes) padded to 16 in all
_VLAN_VID = FIELDS["vlan_vid"]


class Action:
    """Base of the actions. Subclasses are frozen dataclasses."""

    def ofctl(self) -> str:
        """The action in `ovs-ofctl add-flow` syntax."""
        raise NotImplementedError

    def wire(self) -> bytes:
        """The OpenFlow 1.3 action structure."""
        raise NotImplementedError

    def apply(self, frame: Frame, in_port: int, result: Result) -> Frame:
        """The simulator: the frame after this action; outputs go to `result`."""
        raise NotImplementedError

    @classmethod
    def from_ofctl(cls, text: str) -> Action | None:
        """This action if dump-flows `text` is one, else None."""
        return None

    @classmethod
    def from_os_ken(cls, action: Any) -> Action | None:
        """This action if os-ken's parsed `action` is one, else None."""
        return None


@dataclass(frozen=True)
class Output(Action):
    port: int

    def __str__(self) -> str:
        return f"output {self.port}"

    def ofctl(self) -> str:
        return f"output:{self.port}"

    def wire(self) -> bytes:
        return _OUTPUT.pack(OFPAT_OUTPUT, 16, self.port, OFPCML_MAX)

    def apply(self, frame: Frame, in_port: int, result: Result) -> Frame:
        if self.port != in_port:  # like OVS: never back out of the port it came in on
            result.outputs.append((self.port, frame))
        return frame

    @classmethod
    def from_ofctl(cls, text: str) -> Output | None:
        if text.startswith("output:"):
            return cls(int(text.split(":", 1)[1]))
        return cls(int(text)) if text.isdigit() else None  # ovs-ofctl writes a bare port number too

    @classmethod
    def from_os_ken(cls, action: Any) -> Output | None:
        if type(action).__name__ == "OFPActionOutput" and action.port != OFPP_CONTROLLER:
            return cls(action.port)
        return None


@dataclass(frozen=True)
class ToController(Action):
    """Send the whole frame to the controller (a packet-in)."""

    def __str__(self) -> str:
        return "controller"

    def ofctl(self) -> str:
        return "CONTROLLER:65535"

    def wire(self) -> bytes:
        return _TO_CONTROLLER

    def apply(self, frame: Frame, in_port: int, result: Result) -> Frame:
        result.to_controller.append(frame)
        return frame

    @classmethod
    def from_ofctl(cls, text: str) -> ToController | None:
        return cls() if text.startswith(("CONTROLLER", "controller")) else None

    @classmethod
    def from_os_ken(cls, action: Any) -> ToController | None:
        return cls() if type(action).__name__ == "OFPActionOutput" and action.port == OFPP_CONTROLLER else None


@dataclass(frozen=True)
class PushVlan(Action):
    """Push an 802.1Q header (VLAN id 0 until a SetVlan)."""

    def __str__(self) -> str:
        return "push_vlan"

    def ofctl(self) -> str:
        return f"push_vlan:{ETH_VLAN:#x}"

    def wire(self) -> bytes:
        return _PUSH_VLAN

    def apply(self, frame: Frame, in_port: int, result: Result) -> Frame:
        return replace(frame, vlans=(0, *frame.vlans), tpid=ETH_VLAN)

    @classmethod
    def from_ofctl(cls, text: str) -> PushVlan | None:
        return cls() if text.startswith("push_vlan") else None

    @classmethod
    def from_os_ken(cls, action: Any) -> PushVlan | None:
        return cls() if type(action).__name__ == "OFPActionPushVlan" else None


@dataclass(frozen=True)
class SetVlan(Action):
    """Set the outer tag's VLAN id; `vid` in OXM form (0x1000|VLAN)."""

    vid: int

    def __str__(self) -> str:
        return f"set_vlan {self.vid}"

    def ofctl(self) -> str:
        return f"set_field:{self.vid}->vlan_vid"

    def wire(self) -> bytes:
        oxm = _VLAN_VID.oxm(self.vid)
        return _SET_FIELD + oxm + bytes(12 - len(oxm))

    def apply(self, frame: Frame, in_port: int, result: Result) -> Frame:
        return replace(frame, vlans=(self.vid & 0xFFF, *frame.vlans[1:]))

    @classmethod
    def from_ofctl(cls, text: str) -> SetVlan | None:
        if text.startswith("set_field:") and text.endswith("->vlan_vid"):
            return cls(int(text[len("set_field:") : -len("->vlan_vid")], 0))
        return None

    @classmethod
    def from_os_ken(cls, action: Any) -> SetVlan | None:
        if type(action).__name__ == "OFPActionSetField" and action.key == "vlan_vid":
            return cls(action.value)
        return None


@dataclass(frozen=True)
class PopVlan(Action):
    """Pop the outer 802.1Q header."""

    def __str__(self) -> str:
        return "pop_vlan"

    def ofctl(self) -> str:
        return "pop_vlan"

    def wire(self) -> bytes:
        return _POP_VLAN

    def apply(self, frame: Frame, in_port: int, result: Result) -> Frame:
        return replace(frame, vlans=frame.vlans[1:], tpid=ETH_VLAN)  # inner tags are 802.1Q (oftable.Frame)

    @classmethod
    def from_ofctl(cls, text: str) -> PopVlan | None:
        return cls() if text in ("pop_vlan", "strip_vlan") else None

    @classmethod
    def from_os_ken(cls, action: Any) -> PopVlan | None:
        return cls() if type(action).__name__ == "OFPActionPopVlan" else None


@dataclass(frozen=True)
class Unknown(Action):
    """An action a switch reported that we never write (os-ken's class name).

    It equals none of ours, so a flow holding it differs from every flow we
    want and the diff replaces it; it cannot be written, and the simulator
    ignores it. Flow.make refuses it unless unchecked.
    """

    name: str

    def __str__(self) -> str:
        return f"unknown {self.name}"

    def ofctl(self) -> str:
        raise ValueError(f"unknown action {self.name}")

    def wire(self) -> bytes:
        raise ValueError(f"cannot encode action {self.name}")

    def apply(self, frame: Frame, in_port: int, result: Result) -> Frame:
        return frame


# The actions our flows may carry.
ACTIONS: tuple[type[Action], ...] = (Output, ToController, PushVlan, SetVlan, PopVlan)


def parse_ofctl(text: str) -> Action:
    """One action of a dump-flows line (goto_table and drop are the caller's)."""
    for kind in ACTIONS:
        action = kind.from_ofctl(text)
        if action is not None:
            return action
    raise ValueError(f"unsupported action {text!r}")


def from_os_ken(action: Any) -> Action:
    """One action of os-ken's flow-stats entry; any we do not write becomes Unknown."""
    for kind in ACTIONS:
        ours = kind.from_os_ken(action)
        if ours is not None:
            return ours
    return Unknown(type(action).__name__)
