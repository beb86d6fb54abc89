"""The effective state of a purpose: hard limits, admin policy and stored choice combined."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from upsight.agent.privacy.purposes import ORG_GRANTABLE, UPLOAD_PURPOSES, Purpose


class PolicyDecision(StrEnum):
    """What the merged admin policy says about one purpose (the rows of §6.4)."""

    NONE = "none"
    """No policy, or ``Value: unset``: the user decides."""
    BLOCKED = "blocked"
    """``CloudConnection: blocked``."""
    DENIED_LOCKED = "denied_locked"
    DENIED_DEFAULT = "denied_default"
    GRANTED_LOCKED = "granted_locked"
    GRANTED_DEFAULT = "granted_default"
    INVALID = "invalid"
    """A wrong type, a rejected value or an unreadable source: fail closed."""


class Stored(StrEnum):
    """The user's stored choice for a purpose, as ``consent.json`` keeps it (§6.1)."""

    GRANTED = "granted"
    DENIED = "denied"
    UNDETERMINED = "undetermined"


class Source(StrEnum):
    """Why a purpose is on or off."""

    USER = "user"
    ORG_POLICY = "org_policy"
    POLICY_BLOCK = "policy_block"
    DEFAULT = "default"
    FAIL_CLOSED = "fail_closed"
    HARD_LIMIT = "hard_limit"


@dataclass(frozen=True)
class EffectiveState:
    """The state a purpose is in right now, and how the first-run prompt treats it.

    Attributes:
        on: uploads for the purpose may happen.
        source: what decided ``on``.
        locked: the user cannot change ``on`` from here (policy, hard limit or fail
            closed); withdrawing the stored choice stays possible all the same.
        prompt: the first-run dialog shows a row for the purpose.
        prefill: the answer the row starts with; ``None`` means neither is selected.
    """

    on: bool
    source: Source
    locked: bool
    prompt: bool
    prefill: Stored | None = None


_FAIL_CLOSED: Final = EffectiveState(on=False, source=Source.FAIL_CLOSED, locked=True, prompt=False)
_POLICY_BLOCK: Final = EffectiveState(
    on=False, source=Source.POLICY_BLOCK, locked=True, prompt=False
)


def _as_stored(stored: Stored) -> EffectiveState:
    return EffectiveState(
        on=stored is Stored.GRANTED, source=Source.USER, locked=False, prompt=False
    )


def effective_state(
    purpose: str, decision: PolicyDecision, stored: Stored, hard_limit: str | None = None
) -> EffectiveState:
    """Combine the inputs of §6.4 into the purpose's effective state.

    Args:
        purpose: a purpose id of §3 (``control`` is always on).
        decision: the merged admin policy for the purpose.
        stored: the user's stored choice (already ``undetermined`` when a prompt or
            inventory version change asks again).
        hard_limit: why the product itself rules the purpose out (for instance a
            build without cloud support), or ``None``. It outranks every policy.

    Returns:
        The effective state and first-run prompt behaviour.

    Raises:
        ValueError: ``purpose`` is not a purpose id.
    """
    if purpose == Purpose.CONTROL:
        # Consent receipts and deletion requests must always be possible (§3).
        return EffectiveState(on=True, source=Source.DEFAULT, locked=True, prompt=False)
    if purpose not in UPLOAD_PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    if hard_limit is not None:
        return EffectiveState(on=False, source=Source.HARD_LIMIT, locked=True, prompt=False)
    org_grantable = purpose in ORG_GRANTABLE
    match decision:
        case PolicyDecision.INVALID:
            return _FAIL_CLOSED
        case PolicyDecision.BLOCKED | PolicyDecision.DENIED_LOCKED:
            return _POLICY_BLOCK
        case PolicyDecision.GRANTED_LOCKED | PolicyDecision.GRANTED_DEFAULT if not org_grantable:
            # The loader rejects such a grant already (§9.3); should one arrive anyway,
            # it is still an invalid policy value, so the purpose fails closed.
            return _FAIL_CLOSED
        case PolicyDecision.GRANTED_LOCKED:
            return EffectiveState(on=True, source=Source.ORG_POLICY, locked=True, prompt=False)
        case PolicyDecision.GRANTED_DEFAULT if stored is Stored.UNDETERMINED:
            return EffectiveState(
                on=True, source=Source.ORG_POLICY, locked=False, prompt=True, prefill=Stored.GRANTED
            )
        case PolicyDecision.DENIED_DEFAULT if stored is Stored.UNDETERMINED:
            return EffectiveState(
                on=False, source=Source.ORG_POLICY, locked=False, prompt=True, prefill=Stored.DENIED
            )
        case _ if stored is Stored.UNDETERMINED:
            return EffectiveState(on=False, source=Source.DEFAULT, locked=False, prompt=True)
        case _:
            # Recommended values yield to any decision the user has made (§6.4).
            return _as_stored(stored)
