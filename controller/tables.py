"""The pipeline's shape, declared once: each table's id, name, the match
fields its flows may use, and the tables they may go to next.

Modelled on Faucet's faucet_pipeline.py / valve_table.py: a small `Table`
declaration per table and the PIPELINE tuple. Every flow is checked against
its table when it is made (Flow.make): a match field the table does not
declare, or a goto anywhere but one of its declared next tables (always later
ones), raises ValueError where the flow is built, not on a switch.

Adding a table (a port ACL, say, between guard and learn) touches this
declaration and the code that fills the table, nothing else:

1. declare it here: `ACL = Table(2, "acl", {"in_port", "eth_type"}, next=("learn",))`,
   put it in PIPELINE in table order, renumber the tables after it, and
   name it in the `next` of the tables that go to it (guard's);
2. fill it: its flows come from `Flow.make(ACL, ...)` in pipeline.py (static)
   or learning.py (learned), and the flows that lead to it say `goto=ACL`.

The source guard was added just so, between classify and learn.

Nothing else changes: the wire encoder, `ovs-ofctl` text, dump parsing, stats
replies and the table simulator take table ids and match fields from the
flows, and handle every field of fields.FIELDS (a new match field is one
entry there; a new action, one class in actions.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from controller.fields import FIELDS


@dataclass(frozen=True, eq=False)
class Table:
    """One flow table of the pipeline.

    A Table compares and hashes as its id, and is an index (`__index__`), so
    it stands wherever a table id does: `flow.table == LEARN` reads as it
    should, `flow.table` being the id a switch reports and dumps show.
    """

    id: int
    name: str
    match: frozenset[str]  # the match fields its flows may use (names in fields.FIELDS)
    next: tuple[str, ...] = ()  # the tables its flows may goto, by name (later tables only)

    def __post_init__(self) -> None:
        # Declarations read better as set literals; a frozenset keeps the Table hashable.
        object.__setattr__(self, "match", frozenset(self.match))
        object.__setattr__(self, "next", tuple(self.next))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Table | int):
            return self.id == int(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __index__(self) -> int:
        return self.id

    def check(self, match: Iterable[str], goto: int | None) -> None:
        """Raise ValueError unless a flow of this table may match on `match` and go to `goto`."""
        if not self.match.issuperset(match):
            undeclared = set(match) - self.match
            raise ValueError(
                f"table {self.id} ({self.name}) does not match on {', '.join(sorted(undeclared))}; "
                f"it declares {', '.join(sorted(self.match)) or 'nothing'}"
            )
        if goto is not None and goto not in _NEXT[self.id]:
            targets = ", ".join(f"{BY_NAME[n].id} ({n})" for n in self.next) or "none"
            raise ValueError(f"table {self.id} ({self.name}) cannot goto table {goto}: its next tables are {targets}")


CLASSIFY = Table(0, "classify", {"in_port", "vlan_vid", "eth_type", "eth_src", "eth_dst"}, next=("guard",))
GUARD = Table(1, "guard", {"in_port", "vlan_vid", "eth_src", "eth_type", "arp_spa", "arp_sha"}, next=("learn",))
LEARN = Table(2, "learn", {"in_port", "vlan_vid", "eth_src"}, next=("forward",))
FORWARD = Table(3, "forward", {"vlan_vid", "eth_dst"})

PIPELINE: tuple[Table, ...] = (CLASSIFY, GUARD, LEARN, FORWARD)

BY_ID: dict[int, Table] = {t.id: t for t in PIPELINE}
BY_NAME: dict[str, Table] = {t.name: t for t in PIPELINE}


def table(number: int) -> Table:
    """The declared table with this id."""
    found = BY_ID.get(number)
    if found is None:
        raise ValueError(f"no table {number} in the pipeline (tables: {', '.join(f'{t.id} ({t.name})' for t in PIPELINE)})")
    return found


def consistency_errors(pipeline: tuple[Table, ...]) -> list[str]:
    """What is wrong with a pipeline declaration: ids 0, 1, 2... in order, unique
    names, known match fields, and gotos only to existing later tables."""
    errors = []
    names = {t.name: t for t in pipeline}
    if [t.id for t in pipeline] != list(range(len(pipeline))):
        errors.append(f"table ids must be 0, 1, 2... in pipeline order, not {[t.id for t in pipeline]}")
    if len(names) != len(pipeline):
        errors.append("table names must be unique")
    for t in pipeline:
        errors += [f"table {t.name} matches on {f}, which is no field of fields.FIELDS" for f in sorted(t.match - set(FIELDS))]
        for n in t.next:
            if n not in names:
                errors.append(f"table {t.name} goes to {n}, which is not in the pipeline")
            elif names[n].id <= t.id:
                errors.append(f"table {t.name} goes to {n}: gotos must go forward")
    return errors


# Checked once at import: a wrong declaration fails every use of the controller, loudly.
if consistency_errors(PIPELINE):
    raise ValueError("bad pipeline declaration: " + "; ".join(consistency_errors(PIPELINE)))

# Table id -> the ids it may goto, resolved once for Table.check.
_NEXT: dict[int, frozenset[int]] = {t.id: frozenset(BY_NAME[n].id for n in t.next) for t in PIPELINE}
