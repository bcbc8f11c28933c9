"""Fixtures shared by the unit tests that drive the os-ken app without a switch."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from controller import app as app_module


class NoOvsdb:
    """Stands in for the OVSDB watcher: the app is made without a switch or a database."""

    def __init__(self, *args, **kwargs):
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


@pytest.fixture
def make_app(monkeypatch):
    monkeypatch.setattr(app_module, "OvsdbWatcher", NoOvsdb)
    # Every packet-in arrives at the same instant: the bucket gets no refill between them.
    monkeypatch.setattr(app_module, "time", SimpleNamespace(monotonic=lambda: 1000.0))
    made = []

    def make(topology):
        monkeypatch.setattr(app_module.SdnlabApp, "topology", topology)
        app = app_module.SdnlabApp()
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def session(app, bridge: str) -> SimpleNamespace:
    """The bridge's connected OpenFlow session, as os-ken's Datapath looks to the app (sends are kept)."""
    dp = app.datapaths.get(bridge)
    if dp is None:
        dp = SimpleNamespace(id=app.topology.bridges[bridge].dpid, is_active=True, xid=0, sent=[],
                             ofproto=SimpleNamespace(MAX_XID=0xFFFFFFFF))
        dp.send = dp.sent.append
        app.datapaths[bridge] = dp
    return dp
