"""controller/election.py: who is master, decided the same way by every replica from corosync's view."""

from __future__ import annotations

import itertools

import pytest

from controller.election import MASTER, NONE, SLAVE, Decision, Membership, changed, decide


def view(me: int, members: tuple[int, ...], quorate: bool = True, ring: int = 8, joined: bool = True) -> Membership:
    return Membership(me=me, members=members, quorate=quorate, ring_seq=ring, joined=joined)


def test_the_lowest_member_is_master_and_the_others_slaves():
    assert decide(view(1, (1, 2, 3))) == Decision(1, MASTER, 8)
    assert decide(view(2, (1, 2, 3))) == Decision(1, SLAVE, 8)
    assert decide(view(3, (2, 3))) == Decision(2, SLAVE, 8)
    assert decide(view(2, (2, 3))) == Decision(2, MASTER, 8)


def test_every_replica_of_a_membership_names_the_same_single_master():
    for members in itertools.chain.from_iterable(itertools.combinations(range(1, 6), k) for k in range(1, 6)):
        decisions = [decide(view(me, members)) for me in members]
        assert len({d.master for d in decisions}) == 1
        assert [d.role for d in decisions].count(MASTER) == 1
        assert decisions[0].master == min(members)


@pytest.mark.parametrize("cut", [view(1, (1,), quorate=False), view(1, (1, 2, 3), joined=False), view(4, (1, 2, 3))])
def test_without_quorum_or_outside_the_group_a_replica_names_no_master_and_sends_nothing(cut):
    decision = decide(cut)
    assert decision == Decision(None, NONE, 8)
    assert not decision.active


def test_the_generation_is_the_ring_and_never_goes_down():
    assert decide(view(1, (1, 2), ring=12)).generation == 12
    assert decide(view(1, (1,), ring=0)).generation == 0  # nothing used before: the ring alone
    assert decide(view(1, (1, 2), ring=12), last_generation=20).generation == 20
    assert decide(view(1, (1,), quorate=False, ring=4), last_generation=20).generation == 20
    assert decide(view(1, (1, 2), ring=24), last_generation=20).generation == 24


def test_a_majority_after_a_partition_outranks_the_old_master():
    # The old master (1) decided at ring 8; the majority (2, 3) forms ring 12 without it: OVS then refuses 1's requests.
    old = decide(view(1, (1, 2, 3), ring=8))
    new = decide(view(2, (2, 3), ring=12))
    assert (old.role, new.role) == (MASTER, MASTER)
    assert new.generation > old.generation
    assert decide(view(1, (1,), quorate=False, ring=12), old.generation).role == NONE


def test_only_active_is_master():
    assert Decision(1, MASTER, 0).active
    assert not Decision(1, SLAVE, 0).active


def test_changed_when_role_master_or_generation_differ():
    base = Decision(1, SLAVE, 8)
    assert changed(None, base)
    assert not changed(base, Decision(1, SLAVE, 8))
    assert changed(base, Decision(1, MASTER, 8))
    assert changed(base, Decision(2, SLAVE, 8))
    assert changed(base, Decision(1, SLAVE, 12))
