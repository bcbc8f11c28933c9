"""Real deployment: `sdnlab up` builds a lab on this host (OVS and Linux
bridges, LXC containers, QEMU guests) and `sdnlab down` removes it."""

import warnings

# Open vSwitch's Python library probes for eventlet and eventlet warns on import.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
