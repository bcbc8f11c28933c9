"""sdnlab: one YAML file describes a virtualisation lab; check it, draw it,
control it with OpenFlow, replay it in Mininet and deploy it for real."""

from sdnlab.check import Analysis, analyse
from sdnlab.loader import load, loads
from sdnlab.model import UNTAGGED, Bridge, Endpoint, Link, Nic, Topology
from sdnlab.problems import Problem, TopologyError

__all__ = [
    "UNTAGGED",
    "Analysis",
    "Bridge",
    "Endpoint",
    "Link",
    "Nic",
    "Problem",
    "Topology",
    "TopologyError",
    "analyse",
    "load",
    "loads",
]
