"""Read YAML into plain values while keeping where each value came from.

PyYAML's composer gives every node a line and column; we build the values
ourselves from its node tree so that we can report duplicate keys (which
PyYAML silently accepts) and point every error at its place in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from sdnlab.problems import Index, Problem

try:  # libyaml makes a 10,000-endpoint file load in a fraction of a second
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_constructor = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass
class Located:
    """Plain values (dict, list, str, int, ...) plus the place of each one."""

    file: str
    value: Any = None
    marks: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: tuple, at_key: bool = False) -> tuple[int | None, int | None]:
        """Line and column (1-based) of the value at `path`, or of its key,
        falling back to the nearest enclosing value that has a place."""
        if at_key and path in self.key_marks:
            return self.key_marks[path]
        while True:
            if path in self.marks:
                return self.marks[path]
            if not path:
                return None, None
            path = path[:-1]


def read_text(text: str, file: str) -> Located:
    """Compose `text` and build located values; YAML problems go to `.problems`."""
    out = Located(file=file)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = exc.problem or exc.context or "unreadable"
        out.problems.append(Problem(file, line, col, "", f"not valid YAML: {what}"))
        return out
    except yaml.YAMLError as exc:  # e.g. a control character in a stream
        out.problems.append(Problem(file, None, None, "", f"not valid YAML: {exc}"))
        return out
    if root is None:
        out.problems.append(Problem(file, None, None, "", "the file is empty"))
        return out
    out.value = _build(root, (), out)
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(node: yaml.Node, path: tuple, out: Located) -> Any:
    out.marks[path] = _mark(node)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (Index(i),), out) for i, item in enumerate(node.value)]
    return _mapping(node, path, out)


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.tag == _STR:
        return node.value
    # YAML 1.1 reads 52:54:00:12:34:56 as a base-60 number; nobody means that
    # in a lab file, so anything with a colon stays text (MACs, times).
    if ":" in node.value and node.tag != _STR:
        return node.value
    return _constructor.yaml_constructors[node.tag](_constructor, node)


def _mapping(node: yaml.MappingNode, path: tuple, out: Located) -> dict:
    result: dict = {}
    first_seen: dict = {}
    merges: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merges.append(value_node)
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            line, col = _mark(key_node)
            out.problems.append(Problem(out.file, line, col, _render(path), "a key must be a plain value, not a list or map"))
            continue
        key = _key(key_node)
        if key in first_seen:
            line, col = _mark(key_node)
            out.problems.append(
                Problem(out.file, line, col, _render(path + (key,)),
                        f"duplicate key '{key}' (first given on line {first_seen[key]})")
            )
            continue
        first_seen[key] = key_node.start_mark.line + 1
        out.key_marks[path + (key,)] = _mark(key_node)
        result[key] = _build(value_node, path + (key,), out)
    # `<<: *anchor` merges keys the map does not set itself, as YAML 1.1 says.
    for merge in merges:
        sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                line, col = _mark(source)
                out.problems.append(Problem(out.file, line, col, _render(path), "'<<' must merge a map"))
                continue
            for key, value in _mapping(source, path, Located(out.file)).items():
                if key not in result:
                    result[key] = value
                    out.marks.setdefault(path + (key,), _mark(source))
    return result


def _key(node: yaml.ScalarNode) -> Any:
    value = _scalar(node)
    # `no:` or `on:` as a map key is a name, not a boolean (YAML 1.1 quirk).
    if isinstance(value, bool) or value is None:
        return node.value
    return value


def _render(path: tuple) -> str:
    from sdnlab.problems import render_path

    return render_path(path)
