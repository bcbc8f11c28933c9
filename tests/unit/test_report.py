"""The human `sdnlab check` text (sdnlab/report.py), against expectations written by hand.

tests/unit/test_golden.py pins the whole text of every bundled lab; these
tests say what the text must mean, so a golden file regenerated from broken
code cannot slip through.
"""

from __future__ import annotations

from sdnlab import analyse, load
from sdnlab.report import MATRIX_LIMIT, valid_text
from tests.conftest import TOPOLOGIES


def matrix_cell(text: str, names: list[str], row: str, column: str) -> str:
    """The cell of the reachability matrix at (row, column), read as a person reads it:
    find the row that starts with `row`, count along to `column` (columns are `names`, sorted)."""
    lines = text.splitlines()
    start = lines.index("Reachability (o reachable, . isolated)")
    columns = sorted(names)
    for line in lines[start + 1 :]:
        name, *cells = line.split()
        if name == row and len(cells) == len(columns):
            return cells[columns.index(column)]
    raise AssertionError(f"no matrix row for {row}")


def test_two_nodes_matrix_says_web1_web2_reachable_and_web1_db1_isolated():
    text = valid_text(analyse(load(TOPOLOGIES / "two-nodes.yaml")))
    names = ["web1", "db1", "web2", "probe"]
    assert matrix_cell(text, names, "web1", "web2") == "o"
    assert matrix_cell(text, names, "web2", "web1") == "o"
    assert matrix_cell(text, names, "web1", "db1") == "."
    assert matrix_cell(text, names, "db1", "web1") == "."
    assert matrix_cell(text, names, "web1", "web1") == "-"
    assert "  web1   . . - o" in text.splitlines()


def big_lab(tmp_path, reds: int, blues: int, plain: int) -> str:
    """Bridge br: `reds` endpoints in VLAN 10, `blues` in VLAN 20, `plain` untagged;
    and a loner in VLAN 10 alone on bridge br2 (no link)."""
    lines = ["name: big", "vlans:", "  10: {name: red}", "  20: {name: blue}", "bridges:", "  br: {type: ovs}", "  br2: {type: ovs}", "endpoints:"]
    for prefix, count, tag, net in (("r", reds, ", tag: 10", 10), ("b", blues, ", tag: 20", 20), ("u", plain, "", 30)):
        for i in range(1, count + 1):
            lines.append(f"  {prefix}{i:02d}: {{type: host, nics: [{{bridge: br{tag}, ip: 10.0.{net}.{i}/24}}]}}")
    lines.append("  loner: {type: host, nics: [{bridge: br2, tag: 10, ip: 10.0.10.200/24}]}")
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_more_than_matrix_limit_endpoints_lists_groups_instead_of_a_matrix(tmp_path):
    topology = load(big_lab(tmp_path, reds=13, blues=12, plain=16))
    assert len(topology.endpoints) == 42 > MATRIX_LIMIT
    lines = valid_text(analyse(topology)).splitlines()
    assert "Reachability (o reachable, . isolated)" not in lines
    start = lines.index("Reachability (groups of endpoints that reach each other)")
    # One line per group, segments in order; 12 names at most, then how many more; the loner is no group.
    assert lines[start:] == [
        "Reachability (groups of endpoints that reach each other)",
        "  10 (red): 13 endpoints: r01 r02 r03 r04 r05 r06 r07 r08 r09 r10 r11 r12 ... (+1)",
        "  20 (blue): 12 endpoints: b01 b02 b03 b04 b05 b06 b07 b08 b09 b10 b11 b12",
        "  untagged: 16 endpoints: u01 u02 u03 u04 u05 u06 u07 u08 u09 u10 u11 u12 ... (+4)",
        "  264 reachable pairs, 597 isolated",  # 13*12/2 + 12*11/2 + 16*15/2 of 42*41/2
        "",
        "Warnings: none",
    ]


def test_exactly_matrix_limit_endpoints_still_get_a_matrix(tmp_path):
    topology = load(big_lab(tmp_path, reds=MATRIX_LIMIT - 1, blues=0, plain=0))
    assert len(topology.endpoints) == MATRIX_LIMIT
    names = list(topology.endpoints)
    text = valid_text(analyse(topology))
    assert "Reachability (groups of endpoints that reach each other)" not in text
    assert matrix_cell(text, names, "r01", "r39") == "o" and matrix_cell(text, names, "r01", "loner") == "."
