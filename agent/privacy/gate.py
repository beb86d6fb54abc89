"""The consent gate: whether a purpose is on now, and whether a queued envelope may still go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from upsight.agent.privacy.admin_policy import EffectivePolicy, PurposePolicy
from upsight.agent.privacy.builder import Grant
from upsight.agent.privacy.consent import ConsentStore, PurposeConsent
from upsight.agent.privacy.effective import EffectiveState, Source, Stored, effective_state
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.inventory import Inventory
from upsight.agent.privacy.purposes import PURPOSES, UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.sender import GateDecision, Verdict


@dataclass(frozen=True)
class PurposeView:
    """One purpose as the privacy panel and ``upsight privacy show`` present it.

    Attributes:
        purpose: The purpose.
        effective: Whether it is on, and what decided it.
        consent: The stored choice, and why it does not count if it does not.
        policy: The admin policy's decision and its source.
        hard_limit: Why the product itself keeps it off, or None.
    """

    purpose: Purpose
    effective: EffectiveState
    consent: PurposeConsent
    policy: PurposePolicy
    hard_limit: str | None

    @property
    def decided_by(self) -> str:
        """What decided the effective state, in a few words."""
        source = self.effective.source
        if source is Source.HARD_LIMIT:
            return self.hard_limit or "hard limit"
        if source in (Source.POLICY_BLOCK, Source.FAIL_CLOSED, Source.ORG_POLICY):
            return f"{source}: {self.policy.source or 'admin policy'}"
        if source is Source.USER:
            return f"your choice ({self.consent.record.surface}, {self.consent.record.decided_at})"
        if self.consent.reason:
            return f"asked again: {self.consent.reason}"
        return "not decided yet: off"


class ConsentGate:
    """Combines hard limits, admin policy and the consent store, re-read on every question.

    Nothing is cached: a withdrawal made by another process (the CLI while the agent is
    uploading) counts at the very next check.
    """

    def __init__(
        self,
        store: ConsentStore,
        policy: Callable[[], EffectivePolicy],
        inventory: Inventory,
        hard_limit: Callable[[], str | None],
    ) -> None:
        self._store = store
        self._policy = policy
        self._inventory = inventory
        self._hard_limit = hard_limit

    def view(self, purpose: Purpose, policy: EffectivePolicy | None = None) -> PurposeView:
        """The purpose's state right now."""
        policy = policy or self._policy()
        consent = self._store.consent(purpose)
        decision = policy.decision(purpose)
        limit = self._hard_limit()
        state = effective_state(purpose, decision.decision, Stored(consent.state), limit)
        return PurposeView(purpose, state, consent, decision, limit)

    def views(self) -> list[PurposeView]:
        """Every upload purpose, in the order the consent screens list them."""
        policy = self._policy()
        return [self.view(p, policy) for p in UPLOAD_PURPOSES]

    def grant_for(self, purpose: Purpose) -> Grant | None:
        """What the envelope builder needs when ``purpose`` is on; None when it is off."""
        view = self.view(purpose)
        if not view.effective.on:
            return None
        by_org = view.effective.source is Source.ORG_POLICY
        toggles = view.consent.record.subtoggles if not by_org else {}
        return Grant(
            epoch=view.consent.epoch,
            prompt_version=PURPOSES[purpose].prompt_version,
            by_org=by_org,
            subtoggles=frozenset(name for name, on in toggles.items() if on),
        )

    def decide(self, envelope: Envelope) -> GateDecision:
        """May this queued envelope be sent now? Asked right before every attempt."""
        policy = self._policy()
        if envelope.purpose is Purpose.CONTROL:
            # Receipts and deletion requests need no consent, but a blocked network
            # holds them until the block lifts (or the user exports them).
            if policy.network_blocked:
                return GateDecision(
                    Verdict.HOLD,
                    f"cloud connection blocked by your organization ({policy.network_blocked})",
                )
            limit = self._hard_limit()
            if limit:
                return GateDecision(Verdict.HOLD, limit)
            # A store that cannot be read cannot vouch for the receipts it queued.
            if self._store.error is not None:
                return GateDecision(Verdict.HOLD, str(self._store.error))
            return GateDecision(Verdict.SEND)
        view = self.view(envelope.purpose, policy)
        if not view.effective.on:
            return GateDecision(Verdict.DROP, f"{envelope.purpose} is off: {view.decided_by}")
        if envelope.consent_epoch != view.consent.epoch:
            return GateDecision(
                Verdict.DROP,
                f"built under consent epoch {envelope.consent_epoch}; "
                f"consent was withdrawn since (epoch {view.consent.epoch})",
            )
        if envelope.inventory_version != self._inventory.version:
            return GateDecision(
                Verdict.DROP,
                f"built under inventory version {envelope.inventory_version}; "
                f"this build uses {self._inventory.version}",
            )
        if envelope.prompt_version != PURPOSES[envelope.purpose].prompt_version:
            return GateDecision(Verdict.DROP, "built under an older consent prompt")
        return GateDecision(Verdict.SEND)
