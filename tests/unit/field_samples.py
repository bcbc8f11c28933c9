"""Sample values for every declared match field, shared by the codec tests.

A new field in controller/fields.py needs its samples here; it then
round-trips through every codec (test_ofwire.py, test_tables.py).
"""

from __future__ import annotations

from controller.fields import FIELDS
from controller.flows import PIPELINE, Flow, Output

# Plain values, and masked ones where the field may be masked (MACs).
SAMPLES: dict[str, list] = {
    "in_port": [1, 0xFFFFFF00],
    "eth_dst": ["02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", ("01:00:00:00:00:00", "01:00:00:00:00:00")],
    "eth_src": ["0a:1b:2c:3d:4e:5f", ("01:00:00:00:00:00", "01:00:00:00:00:00")],
    "eth_type": [0x88CC, 0x0800],
    "vlan_vid": [0, 0x1000 | 1, 0x1000 | 4094],
    "arp_spa": ["10.0.10.11", "0.0.0.0", "255.255.255.254"],
    "arp_sha": ["02:00:00:00:00:01", "52:54:00:ab:cd:ef"],
}


def field_flows() -> list[Flow]:
    """One flow per sample value, in a table that declares the field (unchecked if none does yet)."""
    assert set(SAMPLES) == set(FIELDS), "every declared field needs samples in tests/unit/field_samples.py"
    flows = []
    for name, values in SAMPLES.items():
        home = next((t for t in PIPELINE if name in t.match), None)
        for value in values:
            flows.append(Flow.make(home if home is not None else 0, 5, {name: value}, (Output(3),), check=home is not None))
    return flows
