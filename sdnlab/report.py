"""What `sdnlab check` prints: a summary for people, or the contract JSON.

Text for people is escaped (`problems.escape`: a file's control characters
cannot reach the terminal raw) and stays about a screen long whatever the
lab's size: past the limits below it counts and gives examples instead of
listing. The JSON stays complete, and is written as it is generated
(`write_json`), so its cost follows its length.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from sdnlab.check import NO_ADDRESS, OTHER_SUBNET, Analysis, PingWarning
from sdnlab.model import Topology
from sdnlab.problems import TopologyError, escape
from sdnlab.steps import Step

MATRIX_LIMIT = 40  # past this many endpoints a matrix is unreadable; list groups instead
NAMES_SHOWN = 12  # endpoint names on one segment or group line of a large lab
GROUP_LIMIT = 40  # group lines of a large lab
WARNING_LIMIT = 20  # past this many warnings, counts by kind and examples
EXAMPLES = 3  # examples of each kind of warning
PROBLEM_LIMIT = 100  # problems printed for an invalid file (--json lists all)
_KINDS = {NO_ADDRESS: "an endpoint has no address in the shared segment", OTHER_SUBNET: "their addresses are in different subnets"}


def invalid_json(error: TopologyError) -> str:
    return json.dumps({"valid": False, "errors": [p.to_json() for p in error.problems]}, indent=2)


def invalid_text(error: TopologyError) -> str:
    n = len(error.problems)
    lines = [escape(str(p)) for p in error.problems[:PROBLEM_LIMIT]]
    if n > PROBLEM_LIMIT:
        lines.append(f"... and {n - PROBLEM_LIMIT} more (sdnlab check --json lists them all)")
    lines.append(f"{n} problem{'s' if n != 1 else ''} found; nothing was changed.")
    return "\n".join(lines)


def valid_json(analysis: Analysis) -> str:
    """The `check --json` text, exactly `json.dumps(analysis.to_json(), indent=2)`."""
    return "".join(json_chunks(analysis))


def write_json(analysis: Analysis, out: TextIO, chunk: int = 1 << 16, failed: dict | None = None) -> None:
    """Write the `check --json` text (and a newline) to `out` as it is generated, in pieces of about `chunk` characters.
    `failed`: the object of the `failed` key that `check --fail` adds (see `json_chunks`)."""
    buffer: list[str] = []
    size = 0
    for piece in json_chunks(analysis, failed):
        buffer.append(piece)
        size += len(piece)
        if size >= chunk:
            out.write("".join(buffer))
            buffer, size = [], 0
    buffer.append("\n")
    out.write("".join(buffer))


def json_chunks(analysis: Analysis, failed: dict | None = None) -> Iterator[str]:
    """`json.dumps(analysis.to_json(), indent=2)` in pieces, without building the object:
    for 3,000 endpoints in one VLAN that object held 4.5 million pairs and as many warnings.
    Each name is JSON-encoded once; a pair is then two string joins. With `failed` (`check --fail`),
    the same text with a last key `failed` holding that object; without, exactly as before."""
    topo = analysis.topology
    quoted = {name: json.dumps(name) for name in topo.endpoints}
    yield "{\n"
    yield f'  "topology": {json.dumps(topo.name)},\n  "valid": true,\n  "errors": [],\n  "warnings": '
    yield from _json_list(_warning_json(w, quoted) for w in analysis.iter_warnings())
    yield ',\n  "segments": '
    yield _indented(json.dumps({str(seg): names for seg, names in analysis.segments.items()}, indent=2), "  ")
    for key, pairs in (("reachable", analysis.iter_reachable()), ("isolated", analysis.isolated())):
        yield f',\n  "{key}": '
        yield from _json_list(f"    [\n      {quoted[a]},\n      {quoted[b]}\n    ]" for a, b in pairs)
    if failed is not None:
        yield ',\n  "failed": ' + _indented(json.dumps(failed, indent=2), "  ")
    yield "\n}"


def _json_list(items: Iterable[str]) -> Iterator[str]:
    """A JSON list at the second level of indentation, from items already indented."""
    first = True
    for item in items:
        yield ("[\n" if first else ",\n") + item
        first = False
    yield "[]" if first else "\n  ]"


def _warning_json(w: PingWarning, quoted: dict[str, str]) -> str:
    segments = ",\n".join(f"        {json.dumps(str(s))}" for s in w.segments)
    return (f'    {{\n      "pair": [\n        {quoted[w.pair[0]]},\n        {quoted[w.pair[1]]}\n      ],\n'
            f'      "segments": ' + (f"[\n{segments}\n      ]" if w.segments else "[]") + f',\n      "message": {json.dumps(w.message)}\n    }}')


def _indented(text: str, prefix: str) -> str:
    return text.replace("\n", "\n" + prefix)


def valid_text(analysis: Analysis) -> str:
    """The summary for people; every line escaped."""
    return "\n".join(escape(line) for line in _valid_lines(analysis))


def _valid_lines(analysis: Analysis) -> list[str]:
    topo = analysis.topology
    nlinks = len(topo.links)
    out = [
        f"{topo.source}: topology '{topo.name}' is valid",
        f"  {len(topo.nodes)} node{'s' * (len(topo.nodes) != 1)}, {len(topo.bridges)} bridge{'s' * (len(topo.bridges) != 1)}, "
        f"{len(topo.endpoints)} endpoint{'s' * (len(topo.endpoints) != 1)}, {nlinks} link{'s' * (nlinks != 1)}, "
        f"{len(topo.vlans)} VLAN{'s' * (len(topo.vlans) != 1)}",
        "",
        "Segments",
    ]
    names = sorted(topo.endpoints)
    small = len(names) <= MATRIX_LIMIT
    width = max((len(topo.vlan_label(s)) for s in analysis.segments), default=8)
    for segment, members in analysis.segments.items():
        # A large lab's segment gets its count and the first names, not a line of thousands.
        shown = " ".join(members) if small else f"{len(members)} endpoint{'s' * (len(members) != 1)}: {_some(members)}"
        out.append(f"  {topo.vlan_label(segment):<{width}}  {shown}")
    out.append("")
    if small:
        out += _matrix(analysis, names)
    else:
        out += _groups(analysis)
    reachable = analysis.reachable_count()
    total = len(names) * (len(names) - 1) // 2
    out.append(f"  {reachable} reachable pair{'s' * (reachable != 1)}, {total - reachable} isolated")
    out.append("")
    summary = analysis.warning_summary(EXAMPLES)
    if not summary.total:
        out.append("Warnings: none")
    elif summary.total <= WARNING_LIMIT:
        out.append(f"Warnings ({summary.total})")
        out += [f"  {w.message}" for w in analysis.iter_warnings()]
    else:
        out.append(f"Warnings ({summary.total}; sdnlab check --json lists every one)")
        for kind in (NO_ADDRESS, OTHER_SUBNET):
            if summary.counts[kind]:
                out.append(f"  {summary.counts[kind]} pairs: {_KINDS[kind]}, e.g.")
                out += [f"    {w.message}" for w in summary.examples[kind]]
    return out


def _some(names: list[str] | tuple[str, ...]) -> str:
    return " ".join(names[:NAMES_SHOWN]) + (f" ... (+{len(names) - NAMES_SHOWN})" if len(names) > NAMES_SHOWN else "")


def _matrix(analysis: Analysis, names: list[str]) -> list[str]:
    """Rows and columns are endpoints; 'o' reachable, '.' isolated."""
    if not names:
        return ["Reachability: no endpoints"]
    width = max(len(n) for n in names)
    out = ["Reachability (o reachable, . isolated)"]
    # Column headings written vertically keep a 30-endpoint matrix within 80 columns.
    for row in range(width):
        out.append(" " * (width + 4) + " ".join(n[row] if row < len(n) else " " for n in names).rstrip())
    for a in names:
        cells = ["-" if a == b else ("o" if analysis.is_reachable(a, b) else ".") for b in names]
        out.append(f"  {a:<{width}}  " + " ".join(cells))
    return out


def _groups(analysis: Analysis) -> list[str]:
    topo = analysis.topology
    out = ["Reachability (groups of endpoints that reach each other)"]
    groups = [cls for cls in analysis.classes if len(cls.endpoints) > 1]
    for cls in groups[:GROUP_LIMIT]:
        out.append(f"  {topo.vlan_label(cls.segment)}: {len(cls.endpoints)} endpoints: {_some(cls.endpoints)}")
    if len(groups) > GROUP_LIMIT:
        out.append(f"  ... and {len(groups) - GROUP_LIMIT} more groups (sdnlab check --json lists every pair)")
    return out


def describe_step(step: Step, topo: Topology) -> str:
    """One line for people: what a scenario step does (each step kind says it itself)."""
    return step.describe(topo)


PAIR_LIMIT = 12  # pairs listed on a scenario step's line; a big lab's steps say how many, and --json lists them all


def _pairs(pairs: list) -> str:
    if not pairs:
        return "none"
    shown = " ".join(f"{a}-{b}" for a, b in pairs[:PAIR_LIMIT])
    return shown if len(pairs) <= PAIR_LIMIT else f"{len(pairs)} pairs, {shown} ... (--json lists every pair)"


def scenario_text(scenario) -> str:
    """A valid scenario's steps, with what each `expect` will require."""
    expects = {step.index: (probe, good) for step, probe, good in scenario.intent_at()}
    out = [f"{scenario.source}: scenario is valid, on topology '{scenario.topology.name}' ({scenario.topology.source}), {len(scenario.steps)} steps"]
    for step in scenario.steps:
        out.append(f"  {step.index + 1:>2}. {describe_step(step, scenario.topology)}")
        if step.index in expects:
            probe, good = expects[step.index]
            out.append(f"      probes {len(probe)} pairs; reachable: {_pairs(sorted(good))}; isolated: {_pairs([p for p in probe if p not in good])}")
    return "\n".join(escape(line) for line in out)


def scenario_json(scenario) -> str:
    steps = []
    expects = {step.index: (probe, good) for step, probe, good in scenario.intent_at()}
    for step in scenario.steps:
        item = {"step": step.index, "line": step.line, "description": describe_step(step, scenario.topology)}
        if step.index in expects:
            probe, good = expects[step.index]
            item["reachable"] = [list(p) for p in sorted(good)]
            item["isolated"] = [list(p) for p in probe if p not in good]
        steps.append(item)
    return json.dumps({"scenario": scenario.source, "topology": scenario.topology.name, "valid": True, "errors": [], "steps": steps}, indent=2)
