"""The packages import one way: model < controller < host < sim | deploy < cli.

- `sdnlab/` without its CLI is the model: it imports none of the others;
- `controller/` decides flows from the model and imports no builder;
- `host/` is the plumbing both builders share (OVSDB, netlink, the controller
  process, verification);
- `sim/` and `deploy/` build labs and never import each other;
- `sdnlab/cli.py` is the roof.
No module reaches into another module's private names either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RANK = {"model": 0, "controller": 1, "host": 2, "sim": 3, "deploy": 3, "cli": 4}


def layer(module: str) -> str | None:
    top = module.split(".")[0]
    if module == "sdnlab.cli" or module.startswith("sdnlab.cli."):
        return "cli"
    if top == "sdnlab":
        return "model"
    return top if top in RANK else None


def sources() -> list[Path]:
    return sorted(p for pkg in ("sdnlab", "controller", "host", "sim", "deploy") for p in (ROOT / pkg).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)]
    return found


def allowed(src: str, dst: str) -> bool:
    if src == dst:
        return True
    if {src, dst} == {"sim", "deploy"}:
        return False  # siblings: neither builder knows the other
    return RANK[dst] < RANK[src]


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path: Path):
    src = layer(module_name(path))
    wrong = [f"{path.relative_to(ROOT)}:{line} ({src}) imports {mod} ({layer(mod)})"
             for line, mod in imports(ast.parse(path.read_text())) if layer(mod) and not allowed(src, layer(mod))]
    assert not wrong, "\n".join(wrong)


def test_the_checker_catches_an_upward_import():
    tree = ast.parse("from sim.lab import SimLab\nimport deploy.lab\n")
    mods = [mod for _, mod in imports(tree)]
    assert not allowed("controller", layer(mods[0])) and not allowed("sim", layer(mods[1]))
    assert allowed("deploy", "host") and allowed("cli", "deploy") and not allowed("model", "controller")


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_reaches_into_another_modules_private_names(path: Path):
    tree = ast.parse(path.read_text())
    modules = {}  # local name -> module, for names bound to our own modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and layer(node.module):
            for alias in node.names:
                if (ROOT / node.module.replace(".", "/") / f"{alias.name}.py").exists():
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if layer(alias.name) and alias.asname:
                    modules[alias.asname] = alias.name
    wrong = [f"{path.relative_to(ROOT)}:{n.lineno} uses {modules[n.value.id]}.{n.attr}" for n in ast.walk(tree)
             if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in modules
             and n.attr.startswith("_") and not n.attr.startswith("__")]
    assert not wrong, "\n".join(wrong)
