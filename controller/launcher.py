"""Start the controller for a topology with os-ken's AppManager and stop it
cleanly on SIGINT or SIGTERM.

os-ken 4.x has no `osken-manager`, and with its default native-thread hub
`AppManager.run_apps` ends in an AttributeError (threads cannot be killed),
so this module owns the lifecycle: instantiate the apps, wait for a signal,
close the apps, and end the process (the listening thread cannot be stopped).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading

from sdnlab.model import Topology

LOG = logging.getLogger("sdnlab.controller")


class ControllerError(Exception):
    """The controller cannot start; the message says why."""


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ControllerError(f"cannot listen on {host}:{port}: {exc.strerror} (is another controller running?)") from None


def run(topology: Topology, host: str | None = None, port: int | None = None, verbose: bool = False) -> int:
    """Serve OpenFlow for `topology` until SIGINT/SIGTERM; SIGHUP reloads its file."""
    from controller.app import SdnlabApp

    SdnlabApp.topology = topology

    def reload(manager) -> None:
        from sdnlab.loader import load
        from sdnlab.problems import TopologyError

        try:
            changed = load(topology.source)
        except TopologyError as exc:
            LOG.error("not reloading %s, it has problems (keeping the running topology):\n%s", topology.source, exc)
            return
        app = manager.applications.get("SdnlabApp")
        if app is not None:
            app.reload(changed)

    return serve(["controller.app"], host or topology.controller.host, port or topology.controller.port, verbose,
                 f"controller for {topology.name}", on_hangup=reload)


def serve(apps: list[str], host: str, port: int, verbose: bool = False, what: str = "os-ken", on_hangup=None) -> int:
    """Run os-ken apps (module names) listening on host:port until SIGINT/SIGTERM.
    SIGHUP calls `on_hangup(app_manager)` from the main thread."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("os_ken", "ovsdb", "ovs"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    check_port_free(host, port)

    from os_ken import cfg
    from os_ken.base import app_manager  # importing it registers the ofp-* options

    cfg.CONF(args=[], project="os_ken")
    cfg.CONF.set_override("ofp_listen_host", host)
    cfg.CONF.set_override("ofp_tcp_listen_port", port)

    stop = threading.Event()
    hangup = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: hangup.set())

    manager = app_manager.AppManager.get_instance()
    manager.load_apps(apps)
    manager.instantiate_apps(**manager.create_contexts())
    LOG.info("%s listening on %s:%d (OpenFlow 1.3)", what, host, port)
    while not stop.wait(0.05):
        if hangup.is_set():
            hangup.clear()
            if on_hangup is not None:
                on_hangup(manager)
    LOG.info("stopping")
    closer = threading.Thread(target=manager.close, daemon=True)
    closer.start()
    closer.join(timeout=0.5)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # os-ken's listening thread cannot be joined; nothing else is left to clean up
