"""What a valid file may ask for that the builders on this host do not build yet.

Format 1.1 added a clustered controller (`controller.replicas`). The check
and the simulator (host/cluster.py) handle it, but `sdnlab up` starts one
controller (on a real cluster, each node runs its replica: README, A
controller cluster). Building such a lab anyway would end in
probes that disagree with the check for reasons that have nothing to do with
the lab, so it is refused before anything is created, naming what and why.
"""

from __future__ import annotations

from host.errors import HostError
from sdnlab.model import Topology


def refuse_replicas(topology: Topology, what: str) -> None:
    """`controller.replicas` above 1 asks for a cluster of controllers; `what` runs one."""
    replicas = topology.controller.replicas
    if replicas > 1:
        raise HostError(f"controller.replicas is {replicas}: a cluster of controllers is not supported by this builder ({what}) yet; it runs one")
