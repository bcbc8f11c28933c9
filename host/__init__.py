"""Host plumbing shared by the simulator (`sim/`) and the real deployment
(`deploy/`): what both do to this machine, written once.

    preflight   root, Open vSwitch running, the datapath, bridge VLAN filtering
    ovsdb       the one OVSDB client that builds bridges and ports, and their marks
    netlink     Linux bridges, veths and taps through pyroute2
    control     the controller process: a port, spawn, await, stop
    verify      what a built lab is checked with: probeable pairs, flow dumps
                replayed in the table simulator, ofproto/trace samples

Layers: sdnlab (model) < controller < host < sim | deploy < sdnlab.cli.
"""

import warnings

# Open vSwitch's Python library probes for eventlet and eventlet warns on import.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
