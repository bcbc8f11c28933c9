"""Write a topology document as YAML in the style of the bundled labs: one line per
bridge and per NIC, block style for the rest, values quoted only where YAML
would read them as something other than text (MACs, `no`, `on`, numbers)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import yaml

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*\Z")
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"


@lru_cache(maxsize=65536)
def _text(text: str) -> str:
    """Plain when YAML 1.1 reads it back as this text (`no`, `1e3`, `12:30` are not), else JSON-quoted."""
    if _PLAIN.match(text) and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR:
        return text
    return json.dumps(text)


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    return _text(str(value))


def flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def dump(doc: dict, comments: list[str] = ()) -> str:
    """The document as YAML text, `comments` as `#` lines on top."""
    lines = [f"# {c}" if c else "#" for c in comments]
    for key in ("name", "description"):
        if key in doc:
            lines.append(f"{key}: {scalar(doc[key])}")
    for key in ("nodes", "vlans", "bridges"):
        if key in doc:
            lines += ["", f"{key}:" if doc[key] else f"{key}: {{}}"]
            lines += [f"  {scalar(k)}: {flow(v)}" for k, v in doc[key].items()]
    if doc.get("endpoints"):
        lines += ["", "endpoints:"]
        for name, body in doc["endpoints"].items():
            lines.append(f"  {scalar(name)}:")
            for k, v in body.items():
                if k == "nics":
                    lines.append("    nics:")
                    lines += [f"      - {flow(nic)}" for nic in v]
                else:
                    lines.append(f"    {k}: {flow(v)}")
    if doc.get("links"):
        lines += ["", "links:"]
        lines += [f"  - {flow(link)}" for link in doc["links"]]
    for key, value in doc.items():
        if key not in ("name", "description", "nodes", "vlans", "bridges", "endpoints", "links"):
            lines += ["", f"{key}: {flow(value)}"]
    return "\n".join(lines) + "\n"
