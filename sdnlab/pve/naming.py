"""Names in the topology file for what the snapshot calls otherwise.

- A node keeps its name when it is a valid topology name; otherwise it is
  lowercased, other characters become `-`, and `n` goes in front of a leading digit.
- A bridge is `<node>-<bridge>` (`pve1-vmbr0`): bridge names are unique in the
  file, and every node has its own `vmbr0`. When that is not a valid name of
  at most 12 characters: `n<k>-<bridge>` (k: the node's position, from 1, in
  name order), then `n<k>-b<j>` (j: the bridge's position on its node).
- A guest is called by its `name:` (VM) or `hostname:` (container) when that
  is a valid endpoint name used by no other guest, bridge or fallback name;
  otherwise `vm<vmid>` or `ct<vmid>`.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

TOPOLOGY_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}\Z")
OBJECT_NAME = re.compile(r"[a-z][a-z0-9-]{0,11}\Z")


def _clean(text: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", text.lower())


def node_names(nodes: list[str]) -> dict[str, str]:
    """Snapshot node name -> topology node name, unique."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for node in sorted(nodes):
        name = node if TOPOLOGY_NAME.match(node) else _clean(node)
        if not name[:1].isalpha():
            name = "n" + name
        name = name[:32]
        base, k = name, 2
        while name in used or not TOPOLOGY_NAME.match(name):
            suffix = f"-{k}"
            name = base[: 32 - len(suffix)] + suffix
            k += 1
        used.add(name)
        out[node] = name
    return out


def bridge_names(bridges: dict[str, list[str]], nodes: dict[str, str]) -> dict[tuple[str, str], str]:
    """{snapshot node: [its bridges]} -> {(node, bridge): topology bridge name}."""
    out: dict[tuple[str, str], str] = {}
    used: set[str] = set()
    order = sorted(bridges)
    for k, node in enumerate(order, 1):
        for j, bridge in enumerate(sorted(bridges[node]), 1):
            # n<k>-b<j> can be taken too: by node n<k>'s own bridge b<j> under its real name. Then a number follows.
            tries = itertools.chain((f"{nodes[node]}-{_clean(bridge)}", f"n{k}-{_clean(bridge)}", f"n{k}-b{j}"),
                                    (f"n{k}-b{j}-{i}" for i in itertools.count(2)))
            name = next(n for n in tries if OBJECT_NAME.match(n) and n not in used)
            used.add(name)
            out[(node, bridge)] = name
    return out


def fallback_name(kind: str, vmid: int) -> str:
    return f"{'vm' if kind == 'qemu' else 'ct'}{vmid}"


def endpoint_names(guests: list[tuple[str, int, str | None]], taken: set[str]) -> dict[int, tuple[str, str | None]]:
    """[(kind, vmid, name from the config)] -> {vmid: (endpoint name, why the config's name was not used or None)}."""
    fallbacks = {vmid: fallback_name(kind, vmid) for kind, vmid, _ in guests}
    counts = Counter(name for _, _, name in guests if name)
    reserved = set(fallbacks.values())
    out: dict[int, tuple[str, str | None]] = {}
    for _kind, vmid, name in guests:
        why = None
        if name is None:
            pass
        elif not OBJECT_NAME.match(name):
            why = f"'{name[:40]}' is not a valid endpoint name (1-12 characters of a-z, 0-9 and '-', starting with a letter)"
        elif counts[name] > 1:
            why = f"{counts[name]} guests are called '{name}'"
        elif name in taken:
            why = f"'{name}' is the name of a bridge"
        elif name in reserved and name != fallbacks[vmid]:
            why = f"'{name}' is the name another guest gets from its id"
        out[vmid] = (name if name and why is None else fallbacks[vmid], why)
    return out
