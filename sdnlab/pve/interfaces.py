"""/etc/network/interfaces as ifupdown2 reads it: stanzas and their options.

`iface NAME [family [method]]` starts a stanza (several stanzas of one name, e.g.
inet and inet6, merge); the lines after it are its options. `auto`,
`allow-hotplug`, `allow-ovs`, `allow-vmbr0` lines are tolerated; `source`,
`source-directory` and `include` are not followed (a warning); `mapping`
stanzas are skipped (a warning). Option names are compared with `_` as `-`
(`bridge_ports` is `bridge-ports`). Nothing here knows what a bridge is:
`bridges.py` reads the stanzas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sdnlab.pve.diag import Diagnostics


@dataclass(frozen=True)
class Option:
    key: str  # as written, for messages
    value: str
    line: int


@dataclass
class Iface:
    name: str
    line: int
    options: dict[str, Option] = field(default_factory=dict)  # normalised key ('-' for '_') -> option

    def get(self, key: str) -> str | None:
        option = self.options.get(key)
        return option.value if option is not None else None


def normal_key(key: str) -> str:
    return key.replace("_", "-").lower()


def _lines(text: str) -> list[tuple[int, str]]:
    """(first line number, logical line) with backslash continuations joined and comments dropped."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
            if raw.lstrip().startswith("#"):
                continue
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        line = " ".join(p.strip() for p in pending).strip()
        pending = []
        if line:
            out.append((start, line))
    if pending:
        out.append((start, " ".join(p.strip() for p in pending).strip()))
    return out


def parse_interfaces(text: str, file: str, diag: Diagnostics) -> dict[str, Iface]:
    """Every iface stanza by name; misplaced options are errors, unfollowed includes warnings."""
    ifaces: dict[str, Iface] = {}
    current: Iface | None = None
    skipping = False  # inside a mapping stanza
    for number, line in _lines(text):
        words = line.split()
        head = words[0]
        if head == "iface":
            skipping = False
            if len(words) < 2:
                diag.error(file, number, "iface", "an iface line needs an interface name")
                current = None
                continue
            name = words[1]
            if len(words) > 2 and words[2] not in ("inet", "inet6", "ipx", "can"):
                diag.error(file, number, name, f"'{words[2]}' is not an address family (inet or inet6)")
            current = ifaces.setdefault(name, Iface(name, number))
            continue
        if head == "auto" or head.startswith("allow-"):
            current, skipping = None, False
            continue
        if head in ("source", "source-directory", "include", "source-dir"):
            current, skipping = None, False
            target = " ".join(words[1:]) or "?"
            diag.warn(file, number, head, f"'{head} {target}' is not followed: interfaces defined there are not read")
            continue
        if head in ("mapping", "rename"):
            current, skipping = None, head == "mapping"
            diag.warn(file, number, head, f"'{head}' stanzas are not read")
            continue
        if skipping:
            continue
        if current is None:
            diag.error(file, number, head, f"option '{head}' is outside an iface stanza")
            continue
        key = normal_key(head)
        value = " ".join(words[1:])
        current.options[key] = Option(head, value, number)
    return ifaces
