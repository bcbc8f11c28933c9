"""Start the controller for a topology with os-ken's AppManager and stop it
cleanly on SIGINT or SIGTERM.

os-ken 4.x has no `osken-manager`, and with its default native-thread hub
`AppManager.run_apps` ends in an AttributeError (threads cannot be killed),
so this module owns the lifecycle: instantiate the apps, wait for a signal,
close the apps, and end the process (the listening thread cannot be stopped).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from sdnlab.model import Topology

LOG = logging.getLogger("sdnlab.controller")


class ControllerError(Exception):
    """The controller cannot start; the message says why."""


# The files of a TLS directory (`sdnlab controller --tls-dir DIR`), as host/pki.py writes them for a lab.
TLS_KEY, TLS_CERT, TLS_CA = "controller.key", "controller.crt", "switch-ca.crt"


@dataclass(frozen=True)
class Tls:
    """The controller's key and certificate, and the CA whose certificates switches must present."""

    key: Path
    cert: Path
    ca: Path

    @staticmethod
    def from_dir(directory: str | Path) -> Tls:
        tls = Tls(*(Path(directory) / name for name in (TLS_KEY, TLS_CERT, TLS_CA)))
        missing = [p.name for p in (tls.key, tls.cert, tls.ca) if not p.is_file()]
        if missing:
            raise ControllerError(f"TLS directory {directory} lacks {', '.join(missing)} (it needs {TLS_KEY}, {TLS_CERT} and {TLS_CA})")
        return tls


def check_listen(host: str, tls: Tls | None, insecure: bool) -> None:
    """Plain TCP only on loopback, unless forced: beyond it, anyone who reaches the port can act as a switch."""
    if tls is None and not ipaddress.ip_address(host).is_loopback and not insecure:
        raise ControllerError(f"refusing to listen on {host} without TLS: anyone who reaches it could act as a switch; "
                              "give --tls-dir DIR, or --insecure to force plain TCP")


def listen_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on host:port (0: any free port) before os-ken starts: the socket is ours from the
    first instant, so no other process can hold the port we then report to whoever started us."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # A restarted controller must rebind past TIME_WAIT; without SO_REUSEPORT two listeners still cannot share it.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ControllerError(f"cannot listen on {host}:{port}: {exc.strerror} (is another controller running?)") from None
    return sock


def _serve_on(sock: socket.socket, fast_channel: bool = False) -> None:
    """Make os-ken's OpenFlow listener accept on `sock` instead of binding a socket of its own, and with
    `fast_channel` serve each connection with controller/channel.py instead of os-ken's own Datapath.

    os-ken has no option for an inherited socket; its OpenFlowController builds a
    `hub.StreamServer`, which calls `hub.listen`: our subclass hands it `sock`. The
    connection handler it is given (os-ken's datapath_connection_factory) is swapped
    here too, so TLS still wraps each socket before the handler gets it."""
    from os_ken.controller import controller as ofp_controller
    from os_ken.lib import hub

    if fast_channel:
        from controller.channel import connection_factory

    class BoundStreamServer(hub.StreamServer):
        def __init__(self, listen_info, handle=None, backlog=None, spawn="default", **ssl_args):
            if fast_channel:  # os-ken's controller builds no other StreamServer than its OpenFlow listener
                handle = connection_factory
            original = hub.listen
            hub.listen = lambda *_args, **_kwargs: sock
            try:
                super().__init__(listen_info, handle, backlog, spawn, **ssl_args)
            finally:
                hub.listen = original

    ofp_controller.StreamServer = BoundStreamServer


def cluster_group(topology: Topology) -> str:
    """The corosync process group of a lab's replicas (CPG names hold at most 128 bytes)."""
    return f"sdnlab-{topology.name}"[:128]


def report_port(fd: int, port: int, extra: str | None = None) -> None:
    """Tell the process that started us which port we hold (and, after a space, what else it asked for: the metrics
    address), on the pipe it gave us, and close it."""
    with os.fdopen(fd, "w") as out:
        out.write(f"{port}{' ' + extra if extra else ''}\n")


def run(topology: Topology, host: str | None = None, port: int | None = None, verbose: bool = False,
        tls_dir: str | Path | None = None, insecure: bool = False, ready_fd: int | None = None, cluster: bool = False,
        metrics: str | None = None, stock_channel: bool = False) -> int:
    """Serve OpenFlow for `topology` until SIGINT/SIGTERM; SIGHUP reloads its file.

    With `tls_dir`, only switches with a certificate from its CA are served
    (mutual TLS); without it, plain TCP, said loudly, and only on loopback
    unless `insecure`. Port 0 takes any free port; with `ready_fd`, the port
    held is written there once the controller accepts connections. With
    `cluster`, it is one replica of a controller cluster on this node's
    corosync (controller/election.py). With `metrics` ([HOST:]PORT), Prometheus
    metrics are served there (controller/metrics.py). Switches are served on the
    fast channel (controller/channel.py) unless `stock_channel`: os-ken's own."""
    from controller.app import SdnlabApp

    host = host or topology.controller.host
    port = topology.controller.port if port is None else port
    tls = Tls.from_dir(tls_dir) if tls_dir else None
    check_listen(host, tls, insecure)

    if cluster:
        from controller.corosync import CorosyncError, quorum_state

        try:
            quorum_state()
        except CorosyncError as exc:
            raise ControllerError(f"--cluster needs this node's corosync, with a quorum provider: {exc}") from None
    SdnlabApp.topology = topology
    SdnlabApp.cluster_group = cluster_group(topology) if cluster else None

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

    if metrics is not None:
        from controller.metrics import parse_address

        try:
            parse_address(metrics)
        except ValueError as exc:
            raise ControllerError(str(exc)) from None

    def serve_metrics(manager) -> str | None:
        if metrics is None:
            return None
        from controller.metrics import serve as serve_metrics_of

        try:
            bound = serve_metrics_of(manager.applications["SdnlabApp"], metrics)
        except OSError as exc:
            raise ControllerError(f"cannot serve metrics on {metrics}: {exc.strerror}") from None
        LOG.info("metrics on http://%s:%d/metrics", *bound)
        return f"{bound[0]}:{bound[1]}"

    return serve(["controller.app"], host, port, verbose, f"controller for {topology.name}", on_hangup=reload, tls=tls,
                 warn_plain=True, ready_fd=ready_fd, on_started=serve_metrics, fast_channel=not stock_channel)


def serve(apps: list[str], host: str, port: int, verbose: bool = False, what: str = "os-ken", on_hangup=None,
          tls: Tls | None = None, warn_plain: bool = False, ready_fd: int | None = None, on_started=None,
          fast_channel: bool = False) -> int:
    """Run os-ken apps (module names) listening on host:port until SIGINT/SIGTERM.
    SIGHUP calls `on_hangup(app_manager)` from the main thread. With `tls`,
    OpenFlow over TLS with client certificates required (os-ken's own SSL
    listener); `warn_plain` says loudly when there is none. With `fast_channel`,
    switches are served by controller/channel.py; without, by os-ken's own
    Datapath (the textbook switch's baseline)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("os_ken", "ovsdb", "ovs"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Before the socket exists: whoever sees it accept may signal us, and must get a clean stop.
    stop = threading.Event()
    hangup = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: hangup.set())
    sock = listen_socket(host, port)
    port = sock.getsockname()[1]
    _serve_on(sock, fast_channel)

    from os_ken import cfg
    from os_ken.base import app_manager  # importing it registers the ofp-* options

    cfg.CONF(args=[], project="os_ken")
    cfg.CONF.set_override("ofp_listen_host", host)
    cfg.CONF.set_override("ofp_tcp_listen_port", port)
    if tls is not None:  # os-ken serves only SSL when a key and certificate are set, and requires client certs with ca_certs
        cfg.CONF.set_override("ofp_ssl_listen_port", port)
        cfg.CONF.set_override("ctl_privkey", str(tls.key))
        cfg.CONF.set_override("ctl_cert", str(tls.cert))
        cfg.CONF.set_override("ca_certs", str(tls.ca))
    elif warn_plain:
        LOG.warning("NO TLS: OpenFlow on %s:%d is plain TCP, and any local process can connect claiming to be a switch; "
                    "run with --tls-dir (sdnlab sim and sdnlab up do)", host, port)

    manager = app_manager.AppManager.get_instance()
    manager.load_apps(apps)
    manager.instantiate_apps(**manager.create_contexts())
    LOG.info("%s listening on %s:%d (OpenFlow 1.3%s, %s channel)", what, host, port, " over TLS, switch certificates required" if tls else "",
             "sdnlab's fast" if fast_channel else "os-ken's stock")
    extra = on_started(manager) if on_started is not None else None  # e.g. the metrics address, reported with the port
    if ready_fd is not None:
        report_port(ready_fd, port, extra)
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
