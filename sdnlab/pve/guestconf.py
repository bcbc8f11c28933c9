"""Proxmox guest configs: qemu-server and lxc `<vmid>.conf` files, and their NIC property strings.

Only the main section counts; `[PENDING]` (with its `delete:` key) is applied on
request; `[special:cloudinit]` and snapshot sections (`[name]`) are read for
syntax only. Syntax follows pve-formats.md (from qemu-server and pve-container):
lines `key: value`, NICs `net0`..`net31` as comma-separated `k=v`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import AddressValueError, IPv4Interface, IPv6Interface, NetmaskValueError

from sdnlab.pve.diag import Diagnostics
from sdnlab.pve.vlans import NONE, VlanSet, parse_list, parse_tag

KEY_LINE = re.compile(r"([a-z][a-z_\-]*\d*):\s*(.+?)\s*\Z")
RAW_LXC_LINE = re.compile(r"(lxc\.[a-z0-9_\-.]+)(?::|\s*=)\s*(.*?)\s*\Z")
SECTION = re.compile(r"\[([A-Za-z][A-Za-z0-9_\-]*(?::[A-Za-z0-9_\-]+)?)\]\s*\Z")
NET_KEY = re.compile(r"net(\d+)\Z")
MAX_NICS = 32  # net0 to net31
MIN_VMID, MAX_VMID = 100, 999_999_999
VM_MODELS = frozenset(
    "e1000 e1000-82540em e1000-82544gc e1000-82545em e1000e i82551 i82557b i82559er ne2k_isa ne2k_pci pcnet rtl8139 virtio vmxnet3".split()
)
VM_NIC_KEYS = frozenset({"model", "macaddr", "bridge", "tag", "trunks", "firewall", "link_down", "rate", "queues", "mtu"})
CT_NIC_KEYS = frozenset({"name", "bridge", "hwaddr", "ip", "gw", "ip6", "gw6", "tag", "trunks", "firewall", "link_down", "mtu", "rate", "type"})
IPCONFIG_KEYS = frozenset({"ip", "gw", "ip6", "gw6"})
MAC = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\Z")
BRIDGE_ID = re.compile(r"[-_.\w]+\Z", re.ASCII)
BOOLEANS = {"1": True, "on": True, "yes": True, "true": True, "0": False, "off": False, "no": False, "false": False}
NETWORK_KEYS = re.compile(r"(net\d+|ipconfig\d+|name|hostname)\Z")


@dataclass(frozen=True)
class Entry:
    value: str
    line: int


@dataclass
class ConfFile:
    """One guest config file, split into its sections."""

    file: str
    kind: str  # 'qemu' or 'lxc'
    vmid: int
    node: str
    main: dict[str, Entry] = field(default_factory=dict)
    pending: dict[str, Entry] = field(default_factory=dict)
    pending_delete: dict[str, int] = field(default_factory=dict)  # key -> line of the delete: entry

    def effective(self, pending: bool) -> dict[str, Entry]:
        """The main section, or with `pending` the main section as [PENDING] changes it."""
        if not pending:
            return self.main
        out = {k: v for k, v in self.main.items() if k not in self.pending_delete}
        out.update(self.pending)
        return out


@dataclass(frozen=True)
class GuestNic:
    """One `netN` of a guest, as Proxmox would plug it."""

    index: int
    line: int
    bridge: str | None
    tag: int | None = None
    trunk_ids: frozenset[int] = frozenset()  # VLAN ids written one by one
    trunk_ranges: VlanSet = NONE  # VLANs written as ranges (VMs only), less the ids above
    trunks_text: str | None = None
    mac: str | None = None
    ip: IPv4Interface | None = None
    firewall: bool = False
    link_down: bool = False
    rate: str | None = None

    @property
    def key(self) -> str:
        return f"net{self.index}"

    @property
    def has_trunks(self) -> bool:
        return bool(self.trunk_ids) or bool(self.trunk_ranges)


@dataclass
class Guest:
    """A VM or container with its NICs in index order."""

    vmid: int
    kind: str
    node: str
    file: str
    name: str | None
    nics: list[GuestNic]


def parse_conf(text: str, file: str, kind: str, vmid: int, node: str, diag: Diagnostics) -> ConfFile:
    """Split a guest config into its sections; every line that is not `key: value` is an error."""
    conf = ConfFile(file=file, kind=kind, vmid=vmid, node=node)
    section: dict[str, Entry] | None = conf.main  # None: a snapshot or special section, read for syntax only
    name = "main"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        m = SECTION.match(line)
        if m:
            name = m.group(1)
            section = conf.pending if name.upper() == "PENDING" else None
            if section is conf.pending and conf.pending:
                diag.error(file, number, name, "a second [PENDING] section")
            continue
        if line.startswith("#"):
            continue  # the description
        m = KEY_LINE.match(raw.rstrip()) or (RAW_LXC_LINE.match(raw.rstrip()) if kind == "lxc" else None)
        if not m:
            diag.error(file, number, "", f"'{_cut(line)}' is not a 'key: value' line")
            continue
        key, value = m.group(1), m.group(2)
        if section is None:
            continue
        if key == "delete" and section is conf.pending:
            for item in value.split(","):
                item = item.strip().lstrip("!")
                if item:
                    conf.pending_delete[item] = number
            continue
        if key in section:
            where = "[PENDING]" if section is conf.pending else "the main section"
            diag.warn(file, number, key, f"{key} is set twice in {where} (line {section[key].line} and here); the last one counts, as in Proxmox")
        section[key] = Entry(value, number)
    return conf


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def property_string(value: str) -> list[tuple[str, str | None]]:
    """'virtio=AA:..,bridge=vmbr0' -> [('virtio', 'AA:..'), ('bridge', 'vmbr0')]; a bare word has value None."""
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            raise ValueError("an empty item between commas")
        if "=" in part:
            k, v = part.split("=", 1)
            out.append((k.strip(), v.strip()))
        else:
            out.append((part, None))
    return out


def _props(value: str, allowed: frozenset[str], what: str, aliases: dict[str, str] | None = None) -> dict[str, str | None]:
    seen: dict[str, str | None] = {}
    for k, v in property_string(value):
        if aliases and k in aliases:
            if "model" in seen:
                raise ValueError(f"{what}: model given twice ('{k}')")
            seen["model"] = k
            if v is None:
                continue
            k = "macaddr"
        elif k not in allowed:
            raise ValueError(f"{what}: unknown key '{_cut(k, 30)}'")
        if k in seen:
            raise ValueError(f"{what}: '{k}' is given twice")
        if v is None:
            raise ValueError(f"{what}: '{k}' needs a value ({k}=...)")
        seen[k] = v
    return seen


def _bool(props: dict, key: str, what: str) -> bool:
    value = props.get(key)
    if value is None:
        return False
    if value.lower() not in BOOLEANS:
        raise ValueError(f"{what}: {key}={value} is not a boolean (0 or 1)")
    return BOOLEANS[value.lower()]


def _mac(value: str | None, key: str, what: str) -> str | None:
    if value is None:
        return None
    if not MAC.match(value):
        raise ValueError(f"{what}: {key}={value} is not a MAC address like BC:24:11:2C:69:EC")
    mac = value.lower()
    if int(mac[:2], 16) & 1:
        raise ValueError(f"{what}: {key}={value} is a multicast address; a NIC needs a unicast MAC")
    return mac


def _trunks(value: str | None, ranges: bool, what: str) -> tuple[frozenset[int], VlanSet]:
    if value is None:
        return frozenset(), NONE
    spans = parse_list(value, ";", ranges, f"{what}: trunks")  # validates the whole text
    ids = frozenset(int(p) for p in value.split(";") if p.strip().isdigit())
    return ids, spans - VlanSet.ids(ids)


def _ipv4(value: str, key: str, what: str, words: tuple[str, ...]) -> IPv4Interface | None:
    if value in words:
        return None
    try:
        if "/" not in value:
            raise ValueError
        return IPv4Interface(value)
    except (AddressValueError, NetmaskValueError, ValueError):
        choices = " or ".join(repr(w) for w in words)
        raise ValueError(f"{what}: {key}={value} is not an IPv4 address with a prefix (like 10.0.0.2/24), {choices}") from None


def _check_ipv6(value: str | None, key: str, what: str) -> None:
    if value is None or value in ("dhcp", "auto", "manual"):
        return
    try:
        IPv6Interface(value)
    except ValueError:
        raise ValueError(f"{what}: {key}={value} is not an IPv6 address with a prefix, dhcp or auto") from None


def _check_gateway(value: str | None, key: str, what: str) -> None:
    from ipaddress import ip_address

    if value is None:
        return
    try:
        ip_address(value)
    except ValueError:
        raise ValueError(f"{what}: {key}={value} is not an IP address") from None


def _common(props: dict, what: str, ranges: bool) -> dict:
    bridge = props.get("bridge")
    if bridge is not None and not BRIDGE_ID.match(bridge):
        raise ValueError(f"{what}: bridge={bridge} is not a bridge name")
    tag = parse_tag(props["tag"], f"{what}: tag") if props.get("tag") is not None else None
    ids, spans = _trunks(props.get("trunks"), ranges, what)
    rate = props.get("rate")
    if rate is not None and not re.fullmatch(r"\d+(?:\.\d+)?", rate):
        raise ValueError(f"{what}: rate={rate} is not a number of MB/s")
    for key in ("mtu", "queues"):
        if props.get(key) is not None and not props[key].isdigit():
            raise ValueError(f"{what}: {key}={props[key]} is not a whole number")
    return {
        "bridge": bridge, "tag": tag, "trunk_ids": ids, "trunk_ranges": spans, "trunks_text": props.get("trunks"),
        "firewall": _bool(props, "firewall", what), "link_down": _bool(props, "link_down", what), "rate": rate,
    }


def vm_nic(index: int, entry: Entry, ipconfig: Entry | None) -> GuestNic:
    """A VM's `netN` (and its cloud-init `ipconfigN`); ValueError says what is malformed."""
    what = f"net{index}"
    props = _props(entry.value, VM_NIC_KEYS, what, aliases={m: m for m in VM_MODELS})
    if props.get("model") is not None and props["model"] not in VM_MODELS:
        raise ValueError(f"{what}: model={props['model']} is not a NIC model Proxmox knows")
    common = _common(props, what, ranges=True)
    ip = None
    if ipconfig is not None:
        cfg = _props(ipconfig.value, IPCONFIG_KEYS, f"ipconfig{index}")
        if cfg.get("ip") is not None:
            ip = _ipv4(cfg["ip"], "ip", f"ipconfig{index}", ("dhcp",))
        _check_ipv6(cfg.get("ip6"), "ip6", f"ipconfig{index}")
        _check_gateway(cfg.get("gw"), "gw", f"ipconfig{index}")
        _check_gateway(cfg.get("gw6"), "gw6", f"ipconfig{index}")
    return GuestNic(index=index, line=entry.line, mac=_mac(props.get("macaddr"), "macaddr", what), ip=ip, **common)


def ct_nic(index: int, entry: Entry) -> GuestNic:
    """A container's `netN`; ValueError says what is malformed."""
    what = f"net{index}"
    props = _props(entry.value, CT_NIC_KEYS, what)
    if props.get("name") is None:
        raise ValueError(f"{what}: 'name' (the interface name in the container, like eth0) is required")
    if not BRIDGE_ID.match(props["name"]):
        raise ValueError(f"{what}: name={props['name']} is not an interface name")
    if props.get("type") not in (None, "veth"):
        raise ValueError(f"{what}: type={props['type']} is not 'veth'")
    common = _common(props, what, ranges=False)
    ip = _ipv4(props["ip"], "ip", what, ("dhcp", "manual")) if props.get("ip") is not None else None
    _check_ipv6(props.get("ip6"), "ip6", what)
    _check_gateway(props.get("gw"), "gw", what)
    _check_gateway(props.get("gw6"), "gw6", what)
    return GuestNic(index=index, line=entry.line, mac=_mac(props.get("hwaddr"), "hwaddr", what), ip=ip, **common)


def read_guest(conf: ConfFile, pending: bool, diag: Diagnostics) -> Guest:
    """The guest a config describes: its name and NICs (with `pending`, as [PENDING] leaves them)."""
    values = conf.effective(pending)
    if not pending:
        changed = sorted({k for k in conf.pending if NETWORK_KEYS.match(k)} | {k for k in conf.pending_delete if NETWORK_KEYS.match(k)})
        if changed:
            line = min([conf.pending[k].line for k in changed if k in conf.pending] + [conf.pending_delete[k] for k in changed if k in conf.pending_delete])
            diag.warn(conf.file, line, "[PENDING]", f"pending changes to {', '.join(changed)} are not applied (import with --pending to apply them)")
    name_key = "name" if conf.kind == "qemu" else "hostname"
    name = values[name_key].value if name_key in values else None
    nics = []
    for key in sorted(values, key=lambda k: (len(k), k)):
        m = NET_KEY.match(key)
        if not m:
            continue
        index = int(m.group(1))
        entry = values[key]
        if index >= MAX_NICS:
            diag.error(conf.file, entry.line, key, f"NICs are net0 to net{MAX_NICS - 1}")
            continue
        try:
            nic = vm_nic(index, entry, values.get(f"ipconfig{index}")) if conf.kind == "qemu" else ct_nic(index, entry)
        except ValueError as exc:
            line, message = entry.line, str(exc)
            if message.startswith("ipconfig"):
                line = values[f"ipconfig{index}"].line
                key = f"ipconfig{index}"
            diag.error(conf.file, line, key, message.removeprefix(f"{key}: "))
            continue
        nics.append(nic)
    if conf.kind == "qemu":
        for key, entry in values.items():
            m = re.fullmatch(r"ipconfig(\d+)", key)
            if m and f"net{m.group(1)}" not in values:
                diag.warn(conf.file, entry.line, key, f"{key} has no net{m.group(1)}; it is not used")
    else:
        for key, entry in values.items():
            if key.startswith("lxc.net."):
                diag.warn(conf.file, entry.line, key, "raw LXC network keys are not modelled")
    nics.sort(key=lambda n: n.index)
    return Guest(vmid=conf.vmid, kind=conf.kind, node=conf.node, file=conf.file, name=name, nics=nics)
