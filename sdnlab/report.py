"""What `sdnlab check` prints: a summary for people, or the contract JSON."""

from __future__ import annotations

import json

from sdnlab.check import Analysis
from sdnlab.model import Topology
from sdnlab.problems import TopologyError
from sdnlab.steps import Step

MATRIX_LIMIT = 40  # past this many endpoints a matrix is unreadable; list groups instead


def invalid_json(error: TopologyError) -> str:
    return json.dumps({"valid": False, "errors": [p.to_json() for p in error.problems]}, indent=2)


def invalid_text(error: TopologyError) -> str:
    n = len(error.problems)
    lines = [str(p) for p in error.problems]
    lines.append(f"{n} problem{'s' if n != 1 else ''} found; nothing was changed.")
    return "\n".join(lines)


def valid_json(analysis: Analysis) -> str:
    return json.dumps(analysis.to_json(), indent=2)


def valid_text(analysis: Analysis) -> str:
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
    width = max((len(topo.vlan_label(s)) for s in analysis.segments), default=8)
    for segment, names in analysis.segments.items():
        out.append(f"  {topo.vlan_label(segment):<{width}}  {' '.join(names)}")
    out.append("")
    names = sorted(topo.endpoints)
    if len(names) <= MATRIX_LIMIT:
        out += _matrix(analysis, names)
    else:
        out += _groups(analysis)
    reachable = len(analysis.reachable())
    total = len(names) * (len(names) - 1) // 2
    out.append(f"  {reachable} reachable pair{'s' * (reachable != 1)}, {total - reachable} isolated")
    out.append("")
    if analysis.warnings:
        out.append(f"Warnings ({len(analysis.warnings)})")
        out += [f"  {w.message}" for w in analysis.warnings]
    else:
        out.append("Warnings: none")
    return "\n".join(out)


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
    for cls in analysis.classes:
        if len(cls.endpoints) > 1:
            shown = " ".join(cls.endpoints[:12]) + (f" ... (+{len(cls.endpoints) - 12})" if len(cls.endpoints) > 12 else "")
            out.append(f"  {topo.vlan_label(cls.segment)}: {len(cls.endpoints)} endpoints: {shown}")
    return out


def describe_step(step: Step, topo: Topology) -> str:
    """One line for people: what a scenario step does (each step kind says it itself)."""
    return step.describe(topo)


def scenario_text(scenario) -> str:
    """A valid scenario's steps, with what each `expect` will require."""
    expects = {step.index: (probe, good) for step, probe, good in scenario.intent_at()}
    out = [f"{scenario.source}: scenario is valid, on topology '{scenario.topology.name}' ({scenario.topology.source}), {len(scenario.steps)} steps"]
    for step in scenario.steps:
        out.append(f"  {step.index + 1:>2}. {describe_step(step, scenario.topology)}")
        if step.index in expects:
            probe, good = expects[step.index]
            fmt = lambda pairs: " ".join(f"{a}-{b}" for a, b in pairs) or "none"  # noqa: E731
            out.append(f"      probes {len(probe)} pairs; reachable: {fmt(sorted(good))}; isolated: {fmt([p for p in probe if p not in good])}")
    return "\n".join(out)


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
