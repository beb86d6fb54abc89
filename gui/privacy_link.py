"""How the privacy screens reach this install's privacy center and the agent that uploads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication

from upsight.agent.api.errors import ApiError
from upsight.agent.privacy.center import PrivacyCenter
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.snapshot import client_facts, snapshot

if TYPE_CHECKING:
    from upsight.agent.privacy.subject import ExportedFile, LocalDeletion
    from upsight.gui.bridge import Bridge


@dataclass(frozen=True)
class Preview:
    """The next envelope of one purpose, exactly as the uploader would send it.

    Attributes:
        purpose: The purpose previewed.
        document: The envelope as JSON, as the uploader sends it.
        allowed: Whether it would be sent now; False shows what allowing would send.
        from_agent: Built by the agent from its current readings; False when built here
            without readings because no uploading agent answered.
    """

    purpose: Purpose
    document: dict[str, Any]
    allowed: bool
    from_agent: bool

    @property
    def text(self) -> str:
        """The document pretty-printed, keys sorted, as ``upsight privacy preview`` prints it."""
        return json.dumps(self.document, indent=2, sort_keys=True, ensure_ascii=False)


class PrivacyLink:
    """The privacy center the screens read and change, and the agent they tell about it.

    In personal mode with uploads on, the agent's own center is shared, so the preview
    uses the same keychain and the ledger is the one the sender writes. Otherwise the
    center is opened from this user's files, as ``upsight privacy`` does.

    Args:
        bridge: The app's bridge to the agent.
        center: Use this center instead (the caller keeps ownership).

    Raises:
        OSError, ValueError, UpsError: The privacy center could not be opened.
    """

    def __init__(self, bridge: Bridge, center: PrivacyCenter | None = None) -> None:
        self.bridge = bridge
        agent = bridge.agent
        self._owned = False
        if center is not None:
            self.center = center
        elif agent is not None and agent.uploads is not None:
            self.center = agent.uploads.center
        else:
            self.center = PrivacyCenter(bridge.paths().data_dir / "privacy")
            self._owned = True

    def close(self) -> None:
        """Close the center if this link opened it."""
        if self._owned:
            self.center.close()
            self._owned = False

    def changed(self) -> str | None:
        """Tell the agent that consent changed; returns why it could not be told, or None."""
        # The agent re-reads consent before every send anyway; telling it makes it cancel
        # a request in flight and purge the queue now rather than at its next attempt.
        try:
            self.bridge.call("privacy.changed")
        except ApiError as exc:
            return QCoreApplication.translate(
                "PrivacyLink",
                "The Upsight service could not be told ({error}); it checks your choices "
                "again before every upload.",
            ).format(error=exc)
        return None

    def uploads_status(self) -> dict[str, Any] | None:
        """The agent's upload status (endpoint, queue, sender), or None without uploads."""
        try:
            status = self.bridge.call("privacy.status")
        except ApiError:
            return None
        return status if isinstance(status, dict) else None

    def preview(self, purpose: Purpose) -> Preview:
        """The next envelope of ``purpose``: from the agent when it uploads, else built here.

        Raises:
            SecureStorageUnavailable: No keychain holds the pseudonym key.
            ConsentStoreError: The consent store is broken.
        """
        try:
            reply = self.bridge.call("privacy.preview", purpose=str(purpose))
        except ApiError:
            reply = None
        if isinstance(reply, dict):
            return Preview(purpose, dict(reply["envelope"]), bool(reply["allowed"]), True)
        facts = client_facts(self.center.store.install_id)
        envelope, allowed = self.center.preview(purpose, snapshot(facts, None))
        return Preview(purpose, envelope.to_json(), allowed, False)

    def delete_refusal(self) -> str | None:
        """Why local data cannot be deleted now, or None when it can."""
        if self.bridge.personal:
            return QCoreApplication.translate(
                "PrivacyLink",
                "Upsight is monitoring your UPS from this window and keeps its history open. "
                "Quit Upsight, then run \u201cupsight privacy delete-local\u201d.",
            )
        if self.bridge.connected:
            return QCoreApplication.translate(
                "PrivacyLink",
                "The Upsight service is running and keeps the history open. Stop the "
                "service, then try again.",
            )
        return None

    def delete_local(self) -> LocalDeletion:
        """Delete everything kept locally (see ``subject.delete_local``).

        Raises:
            RuntimeError: The agent is running (``delete_refusal()`` says why).
        """
        from upsight.agent.privacy import subject

        refusal = self.delete_refusal()
        if refusal is not None:
            raise RuntimeError(refusal)
        return subject.delete_local(self.center, self.bridge.paths().history_db)

    def export(self, out: Path) -> list[ExportedFile]:
        """Write the data export zip to ``out``; returns the files it lists."""
        from upsight.agent.history.store import HistoryStore
        from upsight.agent.privacy import subject

        agent = self.bridge.agent
        if agent is not None:
            return subject.export(self.center, agent.history, out)
        db = self.bridge.paths().history_db
        history = HistoryStore(db) if db.exists() else None
        try:
            return subject.export(self.center, history, out)
        finally:
            if history is not None:
                history.close()
