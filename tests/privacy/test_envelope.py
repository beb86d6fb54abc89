"""The envelope value: canonical bytes, round trips and the errors of a malformed document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from upsight.agent.privacy.envelope import ENVELOPE_SCHEMA, Envelope, EnvelopeFormatError
from upsight.agent.privacy.purposes import Purpose

ENVELOPE = Envelope(
    envelope_id="6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
    purpose=Purpose.CLOUD_ALERTS,
    consent_epoch=3,
    notice_version="2026-09-01",
    prompt_version=1,
    inventory_version=1,
    created_at="2026-09-02T10:15:03Z",
    client={"client.os_family": "linux", "client.locale": "de-DE"},
    data={"ups.status": "on-battery", "device.label": "Küche", "ups.battery.charge_pct": 87},
)


def document() -> dict[str, Any]:
    return ENVELOPE.to_json()


def test_to_json_has_the_header_keys_and_both_sections() -> None:
    doc = document()
    assert list(doc) == [
        "schema",
        "envelope_id",
        "purpose",
        "consent_epoch",
        "notice_version",
        "prompt_version",
        "inventory_version",
        "created_at",
        "client",
        "data",
    ]
    assert doc["schema"] == ENVELOPE_SCHEMA
    assert doc["purpose"] == "cloud_alerts"
    assert doc["data"]["ups.battery.charge_pct"] == 87


def test_encode_is_canonical_utf8_json() -> None:
    raw = ENVELOPE.encode()
    text = raw.decode("utf-8")
    assert "Küche" in text  # not \u-escaped
    assert " " not in text.replace("Küche", "")
    canonical = json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert text == canonical
    assert text.index('"client"') < text.index('"data"') < text.index('"schema"')


def test_encoding_does_not_depend_on_key_order() -> None:
    shuffled = Envelope(
        **{
            **ENVELOPE.__dict__,
            "client": dict(reversed(list(ENVELOPE.client.items()))),
            "data": dict(reversed(list(ENVELOPE.data.items()))),
        }
    )
    assert shuffled.encode() == ENVELOPE.encode()


def test_decode_reverses_encode() -> None:
    again = Envelope.decode(ENVELOPE.encode())
    assert again == ENVELOPE
    assert again.purpose is Purpose.CLOUD_ALERTS
    assert again.encode() == ENVELOPE.encode()


def test_from_json_reverses_to_json() -> None:
    assert Envelope.from_json(document()) == ENVELOPE


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"{not json", b""])
def test_decode_refuses_bytes_that_are_not_utf8_json(raw: bytes) -> None:
    with pytest.raises(EnvelopeFormatError, match="not JSON"):
        Envelope.decode(raw)


@pytest.mark.parametrize("value", [[], "envelope", 3, None])
def test_from_json_refuses_anything_but_an_object(value: object) -> None:
    with pytest.raises(EnvelopeFormatError, match="must be a JSON object"):
        Envelope.from_json(value)


def test_a_missing_key_is_named() -> None:
    doc = document()
    del doc["consent_epoch"]
    with pytest.raises(EnvelopeFormatError, match=r"missing \['consent_epoch'\]"):
        Envelope.from_json(doc)


def test_an_unknown_key_is_named() -> None:
    doc = {**document(), "host.user_name": "alice"}
    with pytest.raises(EnvelopeFormatError, match=r"unknown \['host.user_name'\]"):
        Envelope.from_json(doc)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("consent_epoch", "3"),
        ("consent_epoch", True),
        ("prompt_version", 1.0),
        ("inventory_version", None),
        ("envelope_id", 7),
        ("client", []),
        ("data", "{}"),
    ],
)
def test_a_key_of_the_wrong_type_is_named(key: str, value: object) -> None:
    doc = {**document(), key: value}
    with pytest.raises(EnvelopeFormatError, match=f"'{key}' must be"):
        Envelope.from_json(doc)


def test_another_envelope_schema_is_refused() -> None:
    doc = {**document(), "schema": "upsight.envelope/2"}
    with pytest.raises(EnvelopeFormatError, match="not supported"):
        Envelope.from_json(doc)


def test_an_unknown_purpose_is_refused() -> None:
    doc = {**document(), "purpose": "marketing"}
    with pytest.raises(EnvelopeFormatError, match="unknown purpose 'marketing'"):
        Envelope.from_json(doc)
