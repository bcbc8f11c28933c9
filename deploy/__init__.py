"""Real deployment: `sdnlab up` builds a lab on this host (OVS and Linux
bridges, endpoints through their drivers in `endpoints.py`) and `sdnlab down`
removes it."""
