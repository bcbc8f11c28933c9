"""Who is master: decided from corosync's view of the cluster alone, the same way in every replica.

A clustered controller (`sdnlab controller FILE --cluster`) runs on every node
and every switch connects to every replica. Corosync's process groups (CPG)
give each replica the same ordered membership (virtual synchrony), and its
quorum service says whether this replica is in the majority. From those facts
alone each replica decides, with no messages of its own:

- the master is the lowest node id among the group's members, and only a
  quorate replica names one: a replica cut off from the majority names none and
  sends nothing at all (it steps down by itself, it does not wait to be told);
- the generation id of OpenFlow 1.3 role requests is the totem ring sequence
  number, which corosync raises with every new ring. A majority that forms
  after a partition has a higher ring than the one the cut-off master knew, so
  OVS refuses that master's requests as STALE. It never goes down: a replica
  keeps the highest it saw.

When a controller process dies but its node stays in the ring, the group
changes without a new ring; the next master then asks with the same
generation id, which OVS accepts (it refuses only lower ones), and the dead
process can send nothing.

Pure: no corosync, no sockets. `controller/corosync.py` feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass

MASTER, SLAVE, NONE = "master", "slave", "none"


@dataclass(frozen=True)
class Membership:
    """Corosync's view, as one replica sees it."""

    me: int  # this replica's corosync node id
    members: tuple[int, ...]  # node ids of the controllers in the process group, sorted
    quorate: bool  # this replica's partition holds the majority of votes
    ring_seq: int  # the totem ring sequence number: grows with every new ring
    joined: bool = True  # this replica has joined the group


@dataclass(frozen=True)
class Decision:
    """What a replica does: its role on every switch, with which generation id."""

    master: int | None  # node id of the master; None: this replica knows of no master it may follow
    role: str  # MASTER, SLAVE, or NONE (send nothing: no quorum, or not in the group)
    generation: int

    @property
    def active(self) -> bool:
        """Whether this replica may program switches."""
        return self.role == MASTER


def decide(view: Membership, last_generation: int = 0) -> Decision:
    """The role this replica takes in `view`; `last_generation` is the highest it used before."""
    generation = max(view.ring_seq, last_generation)
    if not view.joined or not view.quorate or view.me not in view.members:
        return Decision(None, NONE, generation)
    master = min(view.members)
    return Decision(master, MASTER if master == view.me else SLAVE, generation)


def changed(before: Decision | None, after: Decision) -> bool:
    """Whether the switches must hear of `after`: a new role, a new master, or a new generation."""
    return before is None or (before.role, before.master, before.generation) != (after.role, after.master, after.generation)
