"""Proxmox VE import and export: a cluster's configuration files to a topology file and back.

Pure: reads and returns files (through `source.Source`), never touches a host.
`import_snapshot` builds a topology document from a snapshot (see
`scripts/pve-snapshot` and docs/proxmox.md); `export_topology` writes a
topology's bridges and guests as Proxmox configuration files.
"""

from sdnlab.pve.importer import ImportResult, import_snapshot
from sdnlab.pve.source import DirSource, MemorySource, Source

__all__ = ["DirSource", "ImportResult", "MemorySource", "Source", "import_snapshot"]
