"""Read YAML into plain values while keeping where each value came from.

We build the values ourselves from the parser's event stream: that lets us
report duplicate keys (which PyYAML silently accepts), point every error at
its line and column, and skip PyYAML's composer and resolver, which were five
times slower than parsing itself on large labs. Scalars are typed as YAML 1.1
(and so PyYAML's SafeLoader) would, except that values with a colon stay text.

Hostile input is bounded here, each bound a problem at its place: nesting
deeper than MAX_DEPTH, aliases that would repeat more than ALIAS_NODES values
(a "billion laughs" file), integers too long for Python to print, and tags
that make no plain value. Aliases are kept rather than refused because the
format promises them (`<<: *defaults` is handy for NICs); an alias shares the
anchored value, so the bound is on what walking the tree would cost.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

from sdnlab.problems import Index, Problem, render_path, show

try:  # libyaml parses a 10,000-endpoint file in a fraction of a second
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = yaml.SafeLoader

_constructor = yaml.constructor.SafeConstructor()
_resolver = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")
# First characters with which a plain scalar can be something other than text.
_MAYBE_TYPED = frozenset("0123456789-+.~<=nNyYtTfFoO")
# YAML 1.1 (PyYAML) types a plain scalar that starts with a letter only when it is one of these words.
_WORDS: dict[str, object] = {w: v for v, words in ((True, "yes Yes YES true True TRUE on On ON"), (False, "no No NO false False FALSE off Off OFF"),
                                                   (None, "null Null NULL")) for w in words.split()}
_BAD = object()  # a key that was reported (duplicate, or not a plain value): its value is dropped
_MERGE = object()  # the `<<` merge key

MAX_DEPTH = 64  # maps and lists inside each other; a lab file needs 6
# Values that aliases may repeat, counted as if expanded. Merge-key defaults on
# 10,000 NICs repeat about 30,000; a 300-byte "billion laughs" file, 10**9.
ALIAS_NODES = 200_000
# Python refuses to print (or read) longer integers (sys.get_int_max_str_digits); no lab value is near it.
MAX_INT_DIGITS = min(4300, sys.get_int_max_str_digits() or 4300) if hasattr(sys, "get_int_max_str_digits") else 4300
_INT_BOUND = 10**MAX_INT_DIGITS
# Tags that make a plain value; !!seq, !!map, !!set, !!omap and !!pairs would make a container of a scalar.
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "binary", "timestamp"))


class _Stop(Exception):
    """A bound was passed: reported, and the rest of the file is not read."""


class _BadScalar(Exception):
    """A scalar that makes no value (reported at its place; the file is then rejected)."""


@dataclass
class Located:
    """Plain values (dict, list, str, int, ...) plus the place of each one."""

    file: str
    value: Any = None
    marks: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    broken: bool = False  # some value could not be read (its problem is in `problems`)

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

    def problem(self, mark: yaml.Mark | None, path: tuple, message: str) -> None:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        self.problems.append(Problem(self.file, line, col, render_path(path), message))


class _Frame:
    """An open map or list while its events arrive."""

    __slots__ = ("value", "path", "is_map", "key", "has_key", "first_seen", "merges", "anchor", "is_key", "size")

    def __init__(self, value: Any, path: tuple, anchor: str | None, is_key: bool):
        self.value = value
        self.path = path
        self.is_map = isinstance(value, dict)
        self.key: Any = None
        self.has_key = False
        self.first_seen: dict = {}
        self.merges: list[tuple[Any, yaml.Mark]] = []
        self.anchor = anchor
        self.is_key = is_key
        self.size = 1  # values in it, counting what aliases repeat


def read_text(text: str, file: str) -> Located:
    """Parse `text` into located values; YAML problems go to `.problems`."""
    out = Located(file=file)
    try:
        root = _build(text, out)
    except yaml.MarkedYAMLError as exc:
        out.problem(exc.problem_mark or exc.context_mark, (), f"not valid YAML: {exc.problem or exc.context or 'unreadable'}")
        return out
    except yaml.YAMLError as exc:  # e.g. a control character in the stream
        out.problems.append(Problem(file, None, None, "", f"not valid YAML: {exc}"))
        return out
    except _Stop:
        return out
    if root is _BAD or out.broken:
        # A value that could not be read would only cause misleading problems further on.
        if not out.problems:
            out.problems.append(Problem(file, None, None, "", "the file is empty"))
        return out
    out.value = root
    return out


def _build(text: str, out: Located) -> Any:
    parser = _Parser(text)
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, its size counting aliases)
    repeated = 0  # values aliases have repeated so far
    root: Any = _BAD
    documents = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                if stack and stack[-1].is_map and not stack[-1].has_key:
                    _take_key(stack[-1], event, out)
                    continue
                try:
                    value = _scalar(event)
                except _BadScalar as exc:
                    out.problem(event.start_mark, _value_path(stack), str(exc))
                    out.broken, value = True, None
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
                root = _place(stack, value, event.start_mark, out, root, 1)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    # Refused before going on: each level's key path is as long as the depth, so
                    # 100,000 levels cost minutes and gigabytes, and printing them a RecursionError.
                    out.problem(event.start_mark, stack[-1].path, f"nested more than {MAX_DEPTH} levels deep (maps and lists inside each other)")
                    raise _Stop
                path, is_key = _child_path(stack, event.start_mark, out)
                out.marks[path] = _here(event.start_mark)
                stack.append(_Frame({} if kind is yaml.MappingStartEvent else [], path, event.anchor, is_key))
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                if frame.merges:
                    _merge(frame, out)
                if frame.anchor:
                    anchors[frame.anchor] = (frame.value, frame.size)
                if frame.is_key:  # a list or map used as a key: reported, value to be dropped
                    stack[-1].key, stack[-1].has_key = _BAD, True
                    continue
                root = _place(stack, frame.value, None, out, root, frame.size)
            elif kind is yaml.AliasEvent:
                if stack and stack[-1].is_map and not stack[-1].has_key:
                    out.problem(event.start_mark, stack[-1].path, "an alias cannot be a key here")
                    stack[-1].key, stack[-1].has_key = _BAD, True
                    continue
                if event.anchor not in anchors:
                    out.problem(event.start_mark, stack[-1].path if stack else (), f"unknown alias *{show(event.anchor)}")
                value, size = anchors.get(event.anchor, (None, 1))
                # The alias shares the anchored value, but whatever walks the tree (or prints a
                # value) pays for every repetition: count them as if expanded.
                repeated += size
                if repeated > ALIAS_NODES:
                    out.problem(event.start_mark, _value_path(stack),
                                f"aliases repeat more than {ALIAS_NODES} values in all (with this *{show(event.anchor)}); write the values out")
                    raise _Stop
                root = _place(stack, value, event.start_mark, out, root, size)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    out.problem(event.start_mark, (), "a topology file holds one YAML document, not several")
                    return _BAD
    finally:
        if hasattr(parser, "dispose"):
            parser.dispose()
    return root


def _value_path(stack: list[_Frame]) -> tuple:
    """Path of the value about to be placed in the open container."""
    if not stack:
        return ()
    top = stack[-1]
    if not top.is_map:
        return top.path + (Index(len(top.value)),)
    return top.path if top.key is _BAD or top.key is _MERGE else top.path + (top.key,)


def _here(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _child_path(stack: list[_Frame], mark: yaml.Mark, out: Located) -> tuple[tuple, bool]:
    """Path of a value about to start, and whether it sits where a key should be."""
    if not stack:
        return (), False
    top = stack[-1]
    if not top.is_map:
        return top.path + (Index(len(top.value)),), False
    if not top.has_key:
        out.problem(mark, top.path, "a key must be a plain value, not a list or map")
        return top.path + ("<key>",), True
    return (top.path if top.key is _BAD or top.key is _MERGE else top.path + (top.key,)), False


def _place(stack: list[_Frame], value: Any, mark: yaml.Mark | None, out: Located, root: Any, size: int) -> Any:
    """Attach a finished value (of `size` values, aliases counted) to the open container (or make it the root)."""
    if not stack:
        return value
    top = stack[-1]
    top.size += size
    if not top.is_map:
        if mark is not None:
            out.marks[top.path + (Index(len(top.value)),)] = _here(mark)
        top.value.append(value)
        return root
    key, top.has_key = top.key, False
    if key is _MERGE:
        top.merges.append((value, mark))
    elif key is not _BAD:
        if mark is not None:
            out.marks[top.path + (key,)] = _here(mark)
        top.value[key] = value
    return root


def _take_key(frame: _Frame, event: yaml.ScalarEvent, out: Located) -> None:
    frame.has_key = True
    if event.value == "<<" and not event.style and event.tag is None:
        frame.key = _MERGE
        return
    try:
        key = _scalar(event)
    except _BadScalar as exc:
        out.problem(event.start_mark, frame.path, str(exc))
        out.broken, frame.key = True, _BAD
        return
    # `no:` or `on:` as a map key is a name, not a boolean (YAML 1.1 quirk).
    if isinstance(key, bool) or key is None:
        key = event.value
    if isinstance(key, (list, dict)):
        key = _BAD
    elif key in frame.first_seen:
        out.problem(event.start_mark, frame.path + (key,), f"duplicate key '{show(key)}' (first given on line {frame.first_seen[key]})")
        key = _BAD
    else:
        frame.first_seen[key] = event.start_mark.line + 1
        out.key_marks[frame.path + (key,)] = _here(event.start_mark)
    frame.key = key


def _merge(frame: _Frame, out: Located) -> None:
    """`<<: *anchor` adds the keys the map does not set itself, as YAML 1.1 says."""
    for value, mark in frame.merges:
        for source in value if isinstance(value, list) else [value]:
            if not isinstance(source, dict):
                out.problem(mark, frame.path, "'<<' must merge a map")
                continue
            for key, item in source.items():
                if key not in frame.value:
                    frame.value[key] = item
                    if mark is not None:
                        out.marks.setdefault(frame.path + (key,), _here(mark))


def _scalar(event: yaml.ScalarEvent) -> Any:
    """The typed value of a scalar, or _BadScalar saying why it has none."""
    value = event.value
    if event.tag is not None and event.tag != "!":  # an explicit tag such as !!int
        if event.tag == _STR:
            return value
        constructor = _constructor.yaml_constructors.get(event.tag)
        if constructor is None:
            raise _BadScalar(f"not valid YAML: unknown tag {show(event.tag)}")
        if event.tag not in _SCALAR_TAGS:
            raise _BadScalar(f"tag {_short_tag(event.tag)} cannot be used on a plain value")
        return _checked(constructor, event.tag, value, event, f"'{show(value)}' is not a valid {_short_tag(event.tag)}")
    if event.style or not event.implicit[0]:  # quoted or block text (libyaml says "" for plain, Python None)
        return value
    if not value:
        return None
    if value[0] not in _MAYBE_TYPED:
        return value
    if value[0].isalpha():
        return _WORDS.get(value, value)
    if _DECIMAL.match(value):
        if len(value) > MAX_INT_DIGITS:
            raise _BadScalar(_too_long(value))
        return int(value)
    # YAML 1.1 reads 52:54:00:12:34:56 as a base-60 number; nobody means that
    # in a lab file, so anything with a colon stays text (MACs, times).
    if ":" in value:
        return value
    tag = _resolver.resolve(yaml.ScalarNode, value, (True, False))
    constructor = _constructor.yaml_constructors.get(tag)
    if constructor is None or tag == _STR:
        return value
    return _checked(constructor, tag, value, event, f"'{show(value)}' is not a number Python can read")


def _checked(constructor: Any, tag: str, value: str, event: yaml.ScalarEvent, message: str) -> Any:
    """Run a SafeConstructor function; what it raises on a bad value becomes a problem."""
    try:
        out = constructor(_constructor, yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, yaml.YAMLError) as exc:
        if "digits" in str(exc):  # Python's int limit, for a signed or underscored decimal
            raise _BadScalar(_too_long(value)) from None
        raise _BadScalar(message) from None
    if isinstance(out, int) and not isinstance(out, bool) and abs(out) >= _INT_BOUND:  # hex, octal or binary
        raise _BadScalar(_too_long(value))
    return out


def _too_long(value: str) -> str:
    return f"a number with more than {MAX_INT_DIGITS} digits (this one is {len(value)} characters long)"


def _short_tag(tag: str) -> str:
    return "!!" + tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else show(tag)
