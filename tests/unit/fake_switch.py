"""A switch's session as the os-ken app sees a Datapath, for unit tests that drive the app without os-ken running:
every message and buffer it is sent is kept."""

from __future__ import annotations

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser


class Session:
    def __init__(self, dpid: int):
        self.id, self.is_active, self.xid = dpid, True, 0
        self.ofproto, self.ofproto_parser = ofp, parser
        self.msgs: list = []
        self.buffers: list[bytes] = []

    def set_xid(self, msg) -> int:
        self.xid += 1
        msg.set_xid(self.xid)
        return self.xid

    def send_msg(self, msg) -> None:
        if msg.xid is None:
            self.set_xid(msg)
        self.msgs.append(msg)

    def send(self, data: bytes) -> None:
        self.buffers.append(data)
