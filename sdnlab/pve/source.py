"""Where a snapshot's files are: a directory laid out as `scripts/pve-snapshot` makes it,
the root of a live node, or (for tests and the export's self-check) a dict of texts.

    SNAPSHOT/etc/pve/nodes/<node>/qemu-server/<vmid>.conf
    SNAPSHOT/etc/pve/nodes/<node>/lxc/<vmid>.conf
    SNAPSHOT/etc/pve/sdn/{zones,vnets,subnets}.cfg, .running-config
    SNAPSHOT/nodes/<node>/etc/network/interfaces{,.new}

On a live node (`/`) only the local node's /etc/network/interfaces exists; the
local node is the one of /etc/pve/nodes named by /etc/hostname (or the host name
the caller passes).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from sdnlab.pve.diag import Diagnostics

MAX_FILE_BYTES = 4 * 2**20  # a guest config or an interfaces file is a few KiB


class Source:
    """Read-only access to a snapshot by relative POSIX paths."""

    live = False
    local_node: str | None = None

    def read(self, rel: str, diag: Diagnostics) -> str | None:
        """The file's text, None when it does not exist; an unreadable file is an error."""
        raise NotImplementedError

    def listdir(self, rel: str) -> list[str]:
        """Sorted names in a directory; empty when it does not exist."""
        raise NotImplementedError

    def is_dir(self, rel: str) -> bool:
        raise NotImplementedError

    def display(self, rel: str) -> str:
        """The path shown in messages."""
        raise NotImplementedError

    # -- the layout ----------------------------------------------------------
    def nodes(self) -> list[str]:
        names = set(self.listdir("etc/pve/nodes"))
        if not self.live:
            names |= set(self.listdir("nodes"))
        return sorted(n for n in names if self.is_dir(f"etc/pve/nodes/{n}") or self.is_dir(f"nodes/{n}"))

    def interfaces(self, node: str, new: bool = False) -> str | None:
        """Relative path of a node's interfaces file (or interfaces.new), None when the snapshot has none."""
        suffix = ".new" if new else ""
        if self.live:
            return f"etc/network/interfaces{suffix}" if node == self.local_node else None
        return f"nodes/{node}/etc/network/interfaces{suffix}"

    def guest_files(self, node: str) -> list[tuple[str, str]]:
        """(kind, relative path) of each guest config of a node: kind is 'qemu' or 'lxc'."""
        out = []
        for kind, folder in (("qemu", "qemu-server"), ("lxc", "lxc")):
            base = f"etc/pve/nodes/{node}/{folder}"
            out += [(kind, f"{base}/{name}") for name in self.listdir(base) if name.endswith(".conf")]
        return out


class DirSource(Source):
    """A snapshot directory, or `/` on a live Proxmox node."""

    def __init__(self, root: str | Path, hostname: str | None = None, live: bool | None = None):
        self.root = Path(root)
        self.live = self.root.resolve() == Path("/") if live is None else live
        if self.live:
            self.local_node = self._local_node(hostname)

    def _path(self, rel: str) -> Path:
        return self.root / PurePosixPath(rel)

    def display(self, rel: str) -> str:
        return os.path.join(str(self.root), rel) if str(self.root) != "/" else f"/{rel}"

    def read(self, rel: str, diag: Diagnostics) -> str | None:
        path = self._path(rel)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            diag.error(self.display(rel), None, "", "is a directory, not a file")
            return None
        except OSError as exc:
            diag.error(self.display(rel), None, "", f"cannot be read: {exc.strerror}")
            return None
        if len(data) > MAX_FILE_BYTES:
            diag.error(self.display(rel), None, "", f"is larger than {MAX_FILE_BYTES} bytes; not a configuration file")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            diag.error(self.display(rel), None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            return None

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self._path(rel)))
        except OSError:
            return []

    def is_dir(self, rel: str) -> bool:
        return self._path(rel).is_dir()

    def _local_node(self, hostname: str | None) -> str | None:
        text = None
        try:
            text = self._path("etc/hostname").read_text().strip()
        except (OSError, UnicodeDecodeError):
            pass
        nodes = set(self.listdir("etc/pve/nodes"))
        for name in (text, hostname):
            short = (name or "").split(".")[0]
            if short in nodes:
                return short
        return None


class MemorySource(Source):
    """A snapshot given as {relative path: text} (tests, and the export checking itself)."""

    def __init__(self, files: dict[str, str], label: str = "<memory>"):
        self.files = dict(files)
        self.label = label

    def display(self, rel: str) -> str:
        return f"{self.label}/{rel}"

    def read(self, rel: str, diag: Diagnostics) -> str | None:
        return self.files.get(rel)

    def listdir(self, rel: str) -> list[str]:
        prefix = rel.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)})

    def is_dir(self, rel: str) -> bool:
        prefix = rel.rstrip("/") + "/"
        return any(p.startswith(prefix) for p in self.files)
