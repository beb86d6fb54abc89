"""The purpose table: the consent units of privacy-design.md section 3."""

from __future__ import annotations

import pytest

from upsight.agent.privacy import purposes
from upsight.agent.privacy.purposes import (
    ORG_GRANTABLE,
    PURPOSES,
    UPLOAD_PURPOSES,
    Purpose,
    PurposeKind,
)


def test_every_purpose_has_exactly_one_row_keyed_by_its_own_id() -> None:
    assert list(PURPOSES) == list(Purpose)
    assert all(info.id is purpose for purpose, info in PURPOSES.items())


def test_ids_are_the_spec_ids() -> None:
    assert [str(p) for p in Purpose] == [
        "local",
        "cloud_alerts",
        "device_registration",
        "energy_history",
        "diagnostics",
        "usage_analytics",
        "location",
        "account",
        "control",
    ]


def test_local_and_control_are_not_consent_choices() -> None:
    assert PURPOSES[Purpose.LOCAL].kind is PurposeKind.LOCAL
    assert PURPOSES[Purpose.CONTROL].kind is PurposeKind.CONTROL
    assert UPLOAD_PURPOSES == (
        Purpose.CLOUD_ALERTS,
        Purpose.DEVICE_REGISTRATION,
        Purpose.ENERGY_HISTORY,
        Purpose.DIAGNOSTICS,
        Purpose.USAGE_ANALYTICS,
        Purpose.LOCATION,
        Purpose.ACCOUNT,
    )


def test_only_organisation_device_telemetry_is_org_grantable() -> None:
    expected = {Purpose.CLOUD_ALERTS, Purpose.DEVICE_REGISTRATION, Purpose.ENERGY_HISTORY}
    assert expected == ORG_GRANTABLE
    assert set(UPLOAD_PURPOSES) >= ORG_GRANTABLE


def test_account_bound_purposes() -> None:
    needing = {p for p, info in PURPOSES.items() if info.needs_account}
    assert needing == {Purpose.CLOUD_ALERTS, Purpose.DEVICE_REGISTRATION, Purpose.ENERGY_HISTORY}


def test_rows_have_distinct_plain_language_text() -> None:
    for info in PURPOSES.values():
        assert info.name.strip()
        assert info.why.strip()
        assert info.why.endswith("."), info.id
        assert info.prompt_version >= 1
    assert len({i.name for i in PURPOSES.values()}) == len(PURPOSES)
    assert len({i.why for i in PURPOSES.values()}) == len(PURPOSES)


def test_subtoggles_are_unique_and_only_on_upload_purposes() -> None:
    ids = [s.id for info in PURPOSES.values() for s in info.subtoggles]
    assert len(ids) == len(set(ids))
    for info in PURPOSES.values():
        if info.subtoggles:
            assert info.kind is PurposeKind.UPLOAD
        for sub in info.subtoggles:
            assert sub.label.strip()
            assert sub.explanation.strip()
    registration = PURPOSES[Purpose.DEVICE_REGISTRATION]
    assert registration.subtoggle("send_serial_clear").label == "Send serial for warranty"
    with pytest.raises(KeyError):
        registration.subtoggle("send_everything")


def test_prompt_versions_cover_every_upload_purpose() -> None:
    assert set(purposes.prompt_versions()) == set(UPLOAD_PURPOSES)
    assert purposes.info(Purpose.LOCATION) is PURPOSES[Purpose.LOCATION]


def test_the_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        PURPOSES[Purpose.DIAGNOSTICS] = PURPOSES[Purpose.CLOUD_ALERTS]  # type: ignore[index]
