"""The envelope: one purpose's upload as built, queued, sent and recorded in the ledger."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from upsight.agent.privacy.purposes import Purpose

ENVELOPE_SCHEMA: Final = "upsight.envelope/1"
"""The ``schema`` value of every envelope; bumped when the header changes shape."""


class EnvelopeFormatError(ValueError):
    """A stored or received envelope does not have the envelope's shape."""


@dataclass(frozen=True)
class Envelope:
    """What one upload carries: a header naming the consent it relies on, and the data.

    Attributes:
        envelope_id: A random UUID; also the ``Idempotency-Key`` the server dedupes on.
        purpose: The one purpose this envelope serves.
        consent_epoch: The purpose's consent epoch when it was built; a different epoch
            at send time means the consent it was built under is gone.
        notice_version: The privacy notice version the consent answered.
        prompt_version: The purpose's prompt version.
        inventory_version: The inventory version its fields come from.
        created_at: UTC build time, ``YYYY-MM-DDTHH:MM:SSZ``.
        client: The ``client.*`` fields (already transformed), keyed by field id.
        data: The purpose's other fields (already transformed), keyed by field id.
    """

    envelope_id: str
    purpose: Purpose
    consent_epoch: int
    notice_version: str
    prompt_version: int
    inventory_version: int
    created_at: str
    client: Mapping[str, Any]
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The document as sent, stored in the outbox and shown in the ledger."""
        return {
            "schema": ENVELOPE_SCHEMA,
            "envelope_id": self.envelope_id,
            "purpose": str(self.purpose),
            "consent_epoch": self.consent_epoch,
            "notice_version": self.notice_version,
            "prompt_version": self.prompt_version,
            "inventory_version": self.inventory_version,
            "created_at": self.created_at,
            "client": dict(self.client),
            "data": dict(self.data),
        }

    def encode(self) -> bytes:
        """Canonical UTF-8 JSON (sorted keys, no spaces): the exact bytes before gzip."""
        return json.dumps(
            self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    @classmethod
    def from_json(cls, document: object) -> Envelope:
        """Read back a document made by :meth:`to_json`.

        Raises:
            EnvelopeFormatError: A key is missing, unknown or of the wrong type.
        """
        if not isinstance(document, dict):
            raise EnvelopeFormatError("an envelope must be a JSON object")
        expected = {
            "schema": str,
            "envelope_id": str,
            "purpose": str,
            "consent_epoch": int,
            "notice_version": str,
            "prompt_version": int,
            "inventory_version": int,
            "created_at": str,
            "client": dict,
            "data": dict,
        }
        if set(document) != set(expected):
            missing = sorted(set(expected) - set(document))
            extra = sorted(set(document) - set(expected))
            raise EnvelopeFormatError(f"envelope keys wrong (missing {missing}, unknown {extra})")
        for key, kind in expected.items():
            value = document[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise EnvelopeFormatError(f"envelope {key!r} must be {kind.__name__}")
        if document["schema"] != ENVELOPE_SCHEMA:
            raise EnvelopeFormatError(f"envelope schema {document['schema']!r} is not supported")
        try:
            purpose = Purpose(document["purpose"])
        except ValueError:
            raise EnvelopeFormatError(f"unknown purpose {document['purpose']!r}") from None
        return cls(
            envelope_id=document["envelope_id"],
            purpose=purpose,
            consent_epoch=document["consent_epoch"],
            notice_version=document["notice_version"],
            prompt_version=document["prompt_version"],
            inventory_version=document["inventory_version"],
            created_at=document["created_at"],
            client=document["client"],
            data=document["data"],
        )

    @classmethod
    def decode(cls, raw: bytes) -> Envelope:
        """Parse bytes made by :meth:`encode`.

        Raises:
            EnvelopeFormatError: Not UTF-8 JSON, or not an envelope.
        """
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EnvelopeFormatError(f"not JSON ({exc})") from exc
        return cls.from_json(document)
