"""The effective-state truth table of privacy-design.md §6.4, written out cell by cell."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from upsight.agent.privacy.effective import (
    EffectiveState,
    PolicyDecision,
    Source,
    Stored,
    effective_state,
)
from upsight.agent.privacy.purposes import ORG_GRANTABLE, USER_ONLY, Purpose

ORG = "org-grantable"
USER_ONLY_KIND = "user-only"
PURPOSES = {ORG: sorted(ORG_GRANTABLE), USER_ONLY_KIND: sorted(USER_ONLY)}

NO_POLICY = PolicyDecision.NONE
CLOUD_BLOCKED = PolicyDecision.BLOCKED
DENIED_LOCKED = PolicyDecision.DENIED_LOCKED
DENIED_DEFAULT = PolicyDecision.DENIED_DEFAULT
GRANTED_LOCKED = PolicyDecision.GRANTED_LOCKED
GRANTED_DEFAULT = PolicyDecision.GRANTED_DEFAULT
INVALID = PolicyDecision.INVALID

GRANTED, DENIED, UNDECIDED = Stored.GRANTED, Stored.DENIED, Stored.UNDETERMINED
ON, OFF = True, False
LOCKED, FREE = True, False
SHOWN, HIDDEN = True, False

USER, ORG_POLICY, BLOCK = Source.USER, Source.ORG_POLICY, Source.POLICY_BLOCK
DEFAULT, FAIL_CLOSED = Source.DEFAULT, Source.FAIL_CLOSED

# policy, stored choice, purpose kind -> on, source, locked, first-run prompt, pre-filled answer
TRUTH_TABLE = [
    # No policy: the stored choice decides; undecided is off and asked with nothing pre-ticked.
    (NO_POLICY, GRANTED, ORG, ON, USER, FREE, HIDDEN, None),
    (NO_POLICY, DENIED, ORG, OFF, USER, FREE, HIDDEN, None),
    (NO_POLICY, UNDECIDED, ORG, OFF, DEFAULT, FREE, SHOWN, None),
    (NO_POLICY, GRANTED, USER_ONLY_KIND, ON, USER, FREE, HIDDEN, None),
    (NO_POLICY, DENIED, USER_ONLY_KIND, OFF, USER, FREE, HIDDEN, None),
    (NO_POLICY, UNDECIDED, USER_ONLY_KIND, OFF, DEFAULT, FREE, SHOWN, None),
    # CloudConnection blocked: off whatever is stored, not asked.
    (CLOUD_BLOCKED, GRANTED, ORG, OFF, BLOCK, LOCKED, HIDDEN, None),
    (CLOUD_BLOCKED, DENIED, ORG, OFF, BLOCK, LOCKED, HIDDEN, None),
    (CLOUD_BLOCKED, UNDECIDED, ORG, OFF, BLOCK, LOCKED, HIDDEN, None),
    (CLOUD_BLOCKED, GRANTED, USER_ONLY_KIND, OFF, BLOCK, LOCKED, HIDDEN, None),
    (CLOUD_BLOCKED, DENIED, USER_ONLY_KIND, OFF, BLOCK, LOCKED, HIDDEN, None),
    (CLOUD_BLOCKED, UNDECIDED, USER_ONLY_KIND, OFF, BLOCK, LOCKED, HIDDEN, None),
    # Purpose denied + locked: the same as a block.
    (DENIED_LOCKED, GRANTED, ORG, OFF, BLOCK, LOCKED, HIDDEN, None),
    (DENIED_LOCKED, DENIED, ORG, OFF, BLOCK, LOCKED, HIDDEN, None),
    (DENIED_LOCKED, UNDECIDED, ORG, OFF, BLOCK, LOCKED, HIDDEN, None),
    (DENIED_LOCKED, GRANTED, USER_ONLY_KIND, OFF, BLOCK, LOCKED, HIDDEN, None),
    (DENIED_LOCKED, DENIED, USER_ONLY_KIND, OFF, BLOCK, LOCKED, HIDDEN, None),
    (DENIED_LOCKED, UNDECIDED, USER_ONLY_KIND, OFF, BLOCK, LOCKED, HIDDEN, None),
    # Purpose denied + default: a decided user keeps the choice; undecided is off, asked
    # with "Don't allow" pre-filled, for both kinds (§9.3 allows pre-filling a deny).
    (DENIED_DEFAULT, GRANTED, ORG, ON, USER, FREE, HIDDEN, None),
    (DENIED_DEFAULT, DENIED, ORG, OFF, USER, FREE, HIDDEN, None),
    (DENIED_DEFAULT, UNDECIDED, ORG, OFF, ORG_POLICY, FREE, SHOWN, DENIED),
    (DENIED_DEFAULT, GRANTED, USER_ONLY_KIND, ON, USER, FREE, HIDDEN, None),
    (DENIED_DEFAULT, DENIED, USER_ONLY_KIND, OFF, USER, FREE, HIDDEN, None),
    (DENIED_DEFAULT, UNDECIDED, USER_ONLY_KIND, OFF, ORG_POLICY, FREE, SHOWN, DENIED),
    # Purpose granted + locked: on for org-grantable purposes whatever is stored; a grant
    # of a user-only purpose is rejected and fails closed.
    (GRANTED_LOCKED, GRANTED, ORG, ON, ORG_POLICY, LOCKED, HIDDEN, None),
    (GRANTED_LOCKED, DENIED, ORG, ON, ORG_POLICY, LOCKED, HIDDEN, None),
    (GRANTED_LOCKED, UNDECIDED, ORG, ON, ORG_POLICY, LOCKED, HIDDEN, None),
    (GRANTED_LOCKED, GRANTED, USER_ONLY_KIND, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    (GRANTED_LOCKED, DENIED, USER_ONLY_KIND, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    (GRANTED_LOCKED, UNDECIDED, USER_ONLY_KIND, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    # Purpose granted + default: undecided is on by the organisation and asked with its
    # choice pre-filled; a decided user keeps the choice. User-only: rejected, fails closed.
    (GRANTED_DEFAULT, GRANTED, ORG, ON, USER, FREE, HIDDEN, None),
    (GRANTED_DEFAULT, DENIED, ORG, OFF, USER, FREE, HIDDEN, None),
    (GRANTED_DEFAULT, UNDECIDED, ORG, ON, ORG_POLICY, FREE, SHOWN, GRANTED),
    (GRANTED_DEFAULT, GRANTED, USER_ONLY_KIND, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    (GRANTED_DEFAULT, DENIED, USER_ONLY_KIND, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    (GRANTED_DEFAULT, UNDECIDED, USER_ONLY_KIND, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    # Invalid, wrong type or unreadable policy: off, not asked.
    (INVALID, GRANTED, ORG, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    (INVALID, DENIED, ORG, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    (INVALID, UNDECIDED, ORG, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    (INVALID, GRANTED, USER_ONLY_KIND, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    (INVALID, DENIED, USER_ONLY_KIND, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
    (INVALID, UNDECIDED, USER_ONLY_KIND, OFF, FAIL_CLOSED, LOCKED, HIDDEN, None),
]


def test_the_table_has_every_combination_exactly_once() -> None:
    cells = [(policy, stored, kind) for policy, stored, kind, *_ in TRUTH_TABLE]
    everything = list(itertools.product(PolicyDecision, Stored, PURPOSES))
    assert len(cells) == len(set(cells)) == len(everything) == 42
    assert set(cells) == set(everything)


@pytest.mark.parametrize(
    "row", TRUTH_TABLE, ids=[f"{row[0].value}-{row[1].value}-{row[2]}" for row in TRUTH_TABLE]
)
def test_truth_table(row: tuple[Any, ...]) -> None:
    policy, stored, kind, on, source, locked, prompt, prefill = row
    expected = EffectiveState(on=on, source=source, locked=locked, prompt=prompt, prefill=prefill)
    for purpose in PURPOSES[kind]:
        assert effective_state(purpose, policy, stored) == expected, purpose


@pytest.mark.parametrize("stored", list(Stored))
@pytest.mark.parametrize("policy", list(PolicyDecision))
@pytest.mark.parametrize("purpose", sorted(ORG_GRANTABLE | USER_ONLY))
def test_a_hard_limit_outranks_every_policy_and_choice(
    purpose: str, policy: PolicyDecision, stored: Stored
) -> None:
    state = effective_state(purpose, policy, stored, hard_limit="this build has no cloud")
    assert state == EffectiveState(on=False, source=Source.HARD_LIMIT, locked=True, prompt=False)


@pytest.mark.parametrize("stored", list(Stored))
@pytest.mark.parametrize("policy", list(PolicyDecision))
def test_control_is_always_on(policy: PolicyDecision, stored: Stored) -> None:
    state = effective_state(Purpose.CONTROL, policy, stored)
    assert state.on
    assert not state.prompt


def test_a_lifted_block_restores_the_stored_choice_without_asking_again() -> None:
    blocked = effective_state("energy_history", PolicyDecision.BLOCKED, Stored.GRANTED)
    lifted = effective_state("energy_history", PolicyDecision.NONE, Stored.GRANTED)
    assert (blocked.on, lifted.on) == (False, True)
    assert lifted.source is Source.USER
    assert not lifted.prompt


@pytest.mark.parametrize("purpose", ["local", "telemetry", ""])
def test_an_unknown_purpose_is_an_error(purpose: str) -> None:
    with pytest.raises(ValueError, match="unknown purpose"):
        effective_state(purpose, PolicyDecision.NONE, Stored.GRANTED)
