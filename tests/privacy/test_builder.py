"""The envelope builder: what each purpose carries, sub-toggles, org grants, schemas, receipts."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from upsight.agent.events import EventKind
from upsight.agent.privacy import builder
from upsight.agent.privacy.builder import (
    APPLY,
    EVENT_KINDS,
    FIELD_SOURCES,
    UNSENT_EVENT_KINDS,
    Aggregate,
    ClientFacts,
    CrashFacts,
    DeviceFacts,
    EnvelopeInvalid,
    EventFact,
    Grant,
    Snapshot,
    build,
    consent_receipt,
    deletion_request,
)
from upsight.agent.privacy.consent import (
    ConsentState,
    ConsentStore,
    CurrentVersions,
    LocalUser,
    Notice,
    Surface,
)
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.inventory import (
    Inventory,
    InventoryError,
    Transform,
    field_id,
    load_inventory,
    parse_inventory,
)
from upsight.agent.privacy.purposes import PURPOSES, UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.schemas import payload_validator, validator
from upsight.drivers.nutdump import parse_dump
from upsight.drivers.variables import parse_value

DDL = Path(__file__).resolve().parents[1] / "fixtures" / "ddl"
APC = "APC__Back-UPS_CS_650__usbhid-ups__2.7.2__01.dev"
EATON = "Eaton__Ellipse_PRO_650__usbhid-ups__2.7.2__01.dev"
CYBERPOWER = "Cyber_Power_Systems__CP850PFCLCD__usbhid-ups__2.7.2__02.dev"
IPPON = "Ippon__Back_Basic_850_Euro__blazer_usb__2.7.4__01.dev"

INVENTORY_TEXT = (resources.files("upsight.resources") / "inventory.toml").read_text("utf-8")
SECRET = bytes(range(32))
INSTALL_ID = "2f1c6a0e-8b3f-4f7e-9a55-3f0c2d9e7b41"
ENVELOPE_ID = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
NOTICE = "2026-09-01"
NOW = 1_788_343_503.75  # 2026-09-02T10:05:03Z
USER = Grant(epoch=3, prompt_version=1, by_org=False)
ORG = Grant(epoch=0, prompt_version=1, by_org=True)
HOSTNAME = "use_hostname_as_label"
SERIAL_CLEAR = "send_serial_clear"
SSID_CLEAR = "send_ssid_clear"

CLIENT = ClientFacts(
    agent_version="1.4.2",
    os_family="linux",
    os_version="6.1.0-18-amd64",
    locale="de_DE.UTF-8",
    tz_offset_s=7200,
    install_id=INSTALL_ID,
    hostname="rack-7.example.internal",
)


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory()


def device(dump: str, *, label: str | None = "Server room", connection: str = "usb") -> DeviceFacts:
    """A reading as a driver would give it: numeric variables as numbers, the rest as text."""
    state = parse_dump((DDL / dump).read_text(encoding="ascii")).final_state()
    tokens = frozenset(state.pop("ups.status", "").split())
    values: dict[str, float | str] = {}
    for var, text in state.items():
        value = parse_value(var, text)
        if value is not None:
            values[var] = value
    return DeviceFacts(connection=connection, label=label, values=values, status=tokens)


def make(purpose: Purpose, snapshot: Snapshot, grant: Grant, inventory: Inventory) -> Envelope:
    return build(
        purpose,
        snapshot,
        grant,
        inventory=inventory,
        install_secret=SECRET,
        notice_version=NOTICE,
        now=NOW,
        envelope_id=ENVELOPE_ID,
    )


def hmac_hex(value: str, secret: bytes = SECRET) -> str:
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()


def everything() -> Snapshot:
    """A snapshot with a value for every field that has a source."""
    return Snapshot(
        client=CLIENT,
        device=device(APC),
        events=(EventFact("ONBATT", 1_788_340_000.9), EventFact("ONLINE", 1_788_340_120.2)),
        series={
            "battery.charge": (Aggregate(1_788_339_600, 97.4, 98.5, 100.0),),
            "battery.voltage": (Aggregate(1_788_339_600, 13.44, 13.55, 13.65),),
            "input.voltage": (Aggregate(1_788_339_600, 226.0, 228.125, 231.0),),
            "ups.realpower": (Aggregate(1_788_339_600, 95.0, 108.0, 120.0),),
        },
        energy_wh=((1_788_339_600, 27.0), (1_788_340_500, 26.5)),
        error_codes={"TransportTimeout": 2, "Disconnected": 1},
        shutdown_thresholds={"charge_pct": 20.0, "runtime_s": 300.0},
        usage={"app_opens": 4, "active_time_s": 312, "feature:self_test": 1},
        region="Bavaria",
        crash=CrashFacts("ZeroDivisionError", (("upsight.agent.poller", "run", 120),)),
        wifi_ssid="Home-5G",
        gps=(48.137154, 11.576124),
    )


def test_cloud_alerts_from_an_apc_back_ups_dump(inventory: Inventory) -> None:
    envelope = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, device(APC)), USER, inventory)
    assert envelope.client == {
        "client.agent_version": "1.4.2",
        "client.os_family": "linux",
        "client.os_version": "6.1",
        "client.locale": "de-DE",
        "client.tz_offset": 120,
        "client.install_id": INSTALL_ID,
    }
    assert envelope.data == {
        "ups.model": "Back-UPS CS 650",
        "ups.firmware": "817.v2.I",
        "ups.connection": "usb",
        "ups.status": "online",
        "ups.battery.charge_pct": 100,
        "ups.battery.runtime_s": 1320,
        "ups.battery.voltage": 13.6,
        "ups.battery.replace_flag": False,
        "ups.input.voltage": 228.0,
        "ups.output.voltage": 230.0,
        "ups.output.load_pct": 27.0,
        "ups.temperature_c": 29.2,  # battery.temperature, as the UPS reports no ups.temperature
        "device.label": "Server room",
    }


def test_the_header_comes_from_the_grant_the_inventory_and_the_clock(
    inventory: Inventory,
) -> None:
    envelope = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, device(APC)), USER, inventory)
    assert envelope.envelope_id == ENVELOPE_ID
    assert envelope.purpose is Purpose.CLOUD_ALERTS
    assert envelope.consent_epoch == 3
    assert envelope.prompt_version == 1
    assert envelope.inventory_version == inventory.version
    assert envelope.notice_version == NOTICE
    assert envelope.created_at == "2026-09-02T10:05:03Z"


def test_a_fresh_envelope_id_is_a_random_uuid4(inventory: Inventory) -> None:
    snapshot = Snapshot(CLIENT, device(APC))
    ids = {
        build(
            Purpose.CLOUD_ALERTS,
            snapshot,
            USER,
            inventory=inventory,
            install_secret=SECRET,
            notice_version=NOTICE,
            now=NOW,
        ).envelope_id
        for _ in range(2)
    }
    assert len(ids) == 2
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_preview_and_send_are_byte_identical(inventory: Inventory) -> None:
    snapshot = everything()
    for purpose in UPLOAD_PURPOSES:
        preview = make(purpose, snapshot, USER, inventory)
        sent = make(purpose, snapshot, USER, inventory)
        assert preview.encode() == sent.encode()


def test_builds_at_other_times_differ_only_in_id_and_creation_time(inventory: Inventory) -> None:
    snapshot = everything()
    first = make(Purpose.CLOUD_ALERTS, snapshot, USER, inventory).to_json()
    later = build(
        Purpose.CLOUD_ALERTS,
        snapshot,
        USER,
        inventory=inventory,
        install_secret=SECRET,
        notice_version=NOTICE,
        now=NOW + 3600,
    ).to_json()
    assert {k for k in first if first[k] != later[k]} == {"envelope_id", "created_at"}


@pytest.mark.parametrize("purpose", UPLOAD_PURPOSES)
def test_every_purpose_validates_against_its_schema_and_the_payload_schema(
    purpose: Purpose, inventory: Inventory
) -> None:
    for grant in (USER, ORG, Grant(1, 1, False, frozenset({HOSTNAME, SERIAL_CLEAR, SSID_CLEAR}))):
        document = make(purpose, everything(), grant, inventory).to_json()
        validator(purpose, inventory).validate(document)
        payload_validator(inventory).validate(document)


@pytest.mark.parametrize("purpose", UPLOAD_PURPOSES)
def test_envelopes_carry_only_fields_declared_for_their_purpose(
    purpose: Purpose, inventory: Inventory
) -> None:
    envelope = make(purpose, everything(), Grant(1, 1, False, frozenset({HOSTNAME})), inventory)
    declared = {str(name): f for name, f in inventory.fields.items()}
    for name in (*envelope.client, *envelope.data):
        assert purpose in declared[name].purposes


def test_device_registration_sends_the_serial_as_a_keyed_pseudonym(inventory: Inventory) -> None:
    envelope = make(Purpose.DEVICE_REGISTRATION, Snapshot(CLIENT, device(APC)), USER, inventory)
    assert envelope.data == {
        "ups.model": "Back-UPS CS 650",
        "ups.firmware": "817.v2.I",
        "ups.serial": hmac_hex("QB0540131574"),
    }
    assert "client.tz_offset" not in envelope.client


def test_the_serial_is_sent_in_clear_only_with_the_users_switch(inventory: Inventory) -> None:
    snapshot = Snapshot(CLIENT, device(APC))
    clear = Grant(1, 1, by_org=False, subtoggles=frozenset({SERIAL_CLEAR}))
    other = Grant(1, 1, by_org=False, subtoggles=frozenset({HOSTNAME}))
    assert make(Purpose.DEVICE_REGISTRATION, snapshot, clear, inventory).data["ups.serial"] == (
        "QB0540131574"
    )
    assert make(Purpose.DEVICE_REGISTRATION, snapshot, other, inventory).data["ups.serial"] == (
        hmac_hex("QB0540131574")
    )


def test_another_install_secret_gives_another_pseudonym(inventory: Inventory) -> None:
    snapshot = Snapshot(CLIENT, device(APC))
    rotated = build(
        Purpose.DEVICE_REGISTRATION,
        snapshot,
        USER,
        inventory=inventory,
        install_secret=b"r" * 32,
        notice_version=NOTICE,
        now=NOW,
    )
    assert rotated.data["ups.serial"] == hmac_hex("QB0540131574", b"r" * 32)
    assert rotated.data["ups.serial"] != hmac_hex("QB0540131574")


def test_a_short_install_secret_fails_the_build_at_the_pseudonym(inventory: Inventory) -> None:
    with pytest.raises(EnvelopeInvalid, match=r"\$\.data\['ups\.serial'\].*16 bytes"):
        build(
            Purpose.DEVICE_REGISTRATION,
            Snapshot(CLIENT, device(APC)),
            USER,
            inventory=inventory,
            install_secret=b"",
            notice_version=NOTICE,
            now=NOW,
        )


@pytest.mark.parametrize("dump", [EATON, CYBERPOWER])
def test_masked_and_placeholder_serials_are_not_sent(dump: str, inventory: Inventory) -> None:
    data = make(Purpose.DEVICE_REGISTRATION, Snapshot(CLIENT, device(dump)), USER, inventory).data
    assert "ups.serial" not in data
    assert data["ups.model"] == ("Ellipse PRO 650" if dump == EATON else "CP850PFCLCD")


def test_eaton_reports_power_and_frequency(inventory: Inventory) -> None:
    data = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, device(EATON)), USER, inventory).data
    assert data["ups.output.power_w"] == 40.0
    assert data["ups.input.frequency"] == 50.0
    assert data["ups.firmware"] == "01.10.0017"
    assert "ups.temperature_c" not in data
    assert "ups.battery.voltage" not in data


def test_a_megatec_ups_reports_its_own_temperature(inventory: Inventory) -> None:
    data = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, device(IPPON)), USER, inventory).data
    assert data["ups.temperature_c"] == 25.0
    assert data["ups.battery.voltage"] == 13.6
    assert "ups.model" not in data
    assert "ups.battery.runtime_s" not in data


def test_values_the_device_does_not_report_are_absent_not_zero(inventory: Inventory) -> None:
    bare = DeviceFacts("serial", None, {"battery.charge": "n/a"}, frozenset())
    envelope = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, bare), USER, inventory)
    assert envelope.data == {"ups.connection": "serial"}
    nothing = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT), USER, inventory)
    assert nothing.data == {}
    assert make(Purpose.USAGE_ANALYTICS, Snapshot(CLIENT), USER, inventory).data == {}
    assert make(Purpose.DIAGNOSTICS, Snapshot(CLIENT), USER, inventory).data == {}


def test_numeric_text_from_the_wire_counts_as_a_number(inventory: Inventory) -> None:
    wire = DeviceFacts("network", None, {"battery.charge": "87.4", "ups.load": "31"}, frozenset())
    data = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, wire), USER, inventory).data
    assert data["ups.battery.charge_pct"] == 87
    assert data["ups.output.load_pct"] == 31.0


def test_the_hostname_needs_the_users_sub_toggle(inventory: Inventory) -> None:
    snapshot = Snapshot(CLIENT, device(APC))
    with_toggle = Grant(1, 1, by_org=False, subtoggles=frozenset({HOSTNAME}))
    assert "host.hostname" not in make(Purpose.CLOUD_ALERTS, snapshot, USER, inventory).data
    data = make(Purpose.CLOUD_ALERTS, snapshot, with_toggle, inventory).data
    assert data["host.hostname"] == "rack-7.example.internal"


def test_an_org_grant_leaves_out_fields_that_are_not_org_grantable(inventory: Inventory) -> None:
    snapshot = Snapshot(CLIENT, device(APC))
    toggled = Grant(0, 1, by_org=True, subtoggles=frozenset({HOSTNAME, SERIAL_CLEAR}))
    alerts = make(Purpose.CLOUD_ALERTS, snapshot, toggled, inventory)
    assert "device.label" not in alerts.data
    assert "host.hostname" not in alerts.data
    assert "client.install_id" not in alerts.client
    assert alerts.data["ups.status"] == "online"
    registration = make(Purpose.DEVICE_REGISTRATION, snapshot, toggled, inventory)
    assert registration.data == {"ups.model": "Back-UPS CS 650", "ups.firmware": "817.v2.I"}


@pytest.mark.parametrize(
    ("tokens", "status"),
    [
        ({"OL"}, "online"),
        ({"OL", "CHRG"}, "online"),
        ({"OB", "DISCHRG"}, "on-battery"),
        ({"OB", "DISCHRG", "LB"}, "low-battery"),
        ({"OB", "LB", "OVER"}, "low-battery"),
        ({"OL", "OVER"}, "overload"),
        ({"OB", "OVER"}, "overload"),
        ({"OL", "BYPASS"}, "bypass"),
        ({"FSD", "OB", "LB"}, "low-battery"),
        ({"ALARM", "OL"}, "fault"),
        ({"OFF"}, "fault"),
        ({"ol"}, "online"),
        ({"CHRG"}, None),
        (set(), None),
    ],
)
def test_status_tokens_map_to_the_most_severe_state(
    tokens: set[str], status: str | None, inventory: Inventory
) -> None:
    facts = DeviceFacts("usb", None, {}, frozenset(tokens))
    data = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, facts), USER, inventory).data
    assert data.get("ups.status") == status


def test_the_replace_flag_follows_rb_when_a_status_is_known(inventory: Inventory) -> None:
    def flag(tokens: set[str]) -> object:
        facts = DeviceFacts("usb", None, {}, frozenset(tokens))
        data = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, facts), USER, inventory).data
        return data.get("ups.battery.replace_flag")

    assert flag({"OL", "RB"}) is True
    assert flag({"OL"}) is False
    assert flag(set()) is None


def test_events_are_mapped_timestamped_and_charging_is_left_out(inventory: Inventory) -> None:
    events = (
        EventFact("ONLINE", 1_788_340_120.2),
        EventFact("CHARGING", 1_788_340_121.0),
        EventFact("ONBATT", 1_788_340_000.9),
        EventFact("REPLBATT", 1_788_340_500.0),
    )
    data = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, events=events), USER, inventory).data
    assert data == {
        "ups.event": [
            {"kind": "power-fail", "at": 1_788_340_000},
            {"kind": "restore", "at": 1_788_340_120},
            {"kind": "battery-replace", "at": 1_788_340_500},
        ]
    }


def test_only_charging_events_leave_the_event_field_out(inventory: Inventory) -> None:
    events = (EventFact("CHARGED", 1.0),)
    data = make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, events=events), USER, inventory).data
    assert "ups.event" not in data


def test_an_event_kind_nobody_mapped_fails_the_schema(inventory: Inventory) -> None:
    events = (EventFact("ONBATT", 10.0), EventFact("EventKind.ONBATT", 20.0))
    with pytest.raises(EnvelopeInvalid, match=r"\$\.data\['ups\.event'\]\[1\]\.kind") as info:
        make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, events=events), USER, inventory)
    assert info.value.purpose is Purpose.CLOUD_ALERTS


def test_every_agent_event_kind_is_either_sent_or_deliberately_left_out() -> None:
    kinds = {kind.value for kind in EventKind}
    assert kinds - set(EVENT_KINDS) - UNSENT_EVENT_KINDS == set()
    assert not UNSENT_EVENT_KINDS & set(EVENT_KINDS)
    spec = {"power-fail", "restore", "overload", "battery-replace", "shutdown-initiated"}
    assert spec <= set(EVENT_KINDS.values())
    assert {"self-test-passed", "self-test-failed"} <= set(EVENT_KINDS.values())


def test_an_out_of_range_value_raises_naming_purpose_and_path(inventory: Inventory) -> None:
    facts = DeviceFacts("usb", None, {"battery.charge": 250.0}, frozenset({"OL"}))
    with pytest.raises(EnvelopeInvalid) as info:
        make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, facts), USER, inventory)
    assert info.value.path == "$.data['ups.battery.charge_pct']"
    assert "cloud_alerts" in str(info.value)
    assert "250 is greater than the maximum of 100" in str(info.value)


def test_an_unknown_connection_or_os_family_raises(inventory: Inventory) -> None:
    facts = DeviceFacts("unknown", None, {}, frozenset())
    with pytest.raises(EnvelopeInvalid, match=r"\$\.data\['ups\.connection'\]"):
        make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, facts), USER, inventory)
    beos = ClientFacts("1.4.2", "beos", "5.0", "C", 0, INSTALL_ID, None)
    with pytest.raises(EnvelopeInvalid, match=r"\$\.client\['client\.os_family'\]"):
        make(Purpose.DIAGNOSTICS, Snapshot(beos), USER, inventory)


def test_a_malformed_install_id_raises(inventory: Inventory) -> None:
    odd = ClientFacts("1.4.2", "linux", "6.1", "C", 0, "alice-laptop", None)
    with pytest.raises(EnvelopeInvalid, match=r"client\.install_id"):
        make(Purpose.USAGE_ANALYTICS, Snapshot(odd), USER, inventory)


def test_energy_history_sends_15_minute_series_rounded_by_the_field_step(
    inventory: Inventory,
) -> None:
    envelope = make(Purpose.ENERGY_HISTORY, everything(), USER, inventory)
    data = envelope.data
    start = 1_788_339_600
    assert data["ups.battery.charge_pct"] == [{"t": start, "min": 97, "avg": 99, "max": 100}]
    assert data["ups.battery.voltage"] == [{"t": start, "min": 13.4, "avg": 13.6, "max": 13.7}]
    assert data["ups.input.voltage"] == [{"t": start, "min": 226.0, "avg": 228.125, "max": 231.0}]
    assert data["ups.output.power_w"] == [{"t": start, "min": 95.0, "avg": 108.0, "max": 120.0}]
    assert data["energy.kwh"] == [{"t": start, "kwh": 0.027}, {"t": start + 900, "kwh": 0.027}]
    assert data["ups.status"] == "online"
    assert "ups.battery.runtime_s" not in data  # no series for it
    assert "ups.event" not in data
    assert "device.label" not in data
    assert envelope.client["client.tz_offset"] == 120


def test_series_fall_back_like_the_latest_value(inventory: Inventory) -> None:
    series = {"battery.temperature": (Aggregate(900, 28.0, 29.0, 30.0),)}
    data = make(Purpose.ENERGY_HISTORY, Snapshot(CLIENT, series=series), USER, inventory).data
    assert data == {"ups.temperature_c": [{"t": 900, "min": 28.0, "avg": 29.0, "max": 30.0}]}


def test_an_aggregate_off_the_15_minute_grid_raises(inventory: Inventory) -> None:
    series = {"ups.load": (Aggregate(1000, 1.0, 2.0, 3.0),)}
    with pytest.raises(EnvelopeInvalid, match=r"\['ups\.output\.load_pct'\]\[0\]\.t"):
        make(Purpose.ENERGY_HISTORY, Snapshot(CLIENT, series=series), USER, inventory)


def test_diagnostics_carries_a_scrubbed_crash_codes_and_thresholds(inventory: Inventory) -> None:
    envelope = make(Purpose.DIAGNOSTICS, everything(), USER, inventory)
    assert envelope.data == {
        "config.shutdown_thresholds": {"charge_pct": 20.0, "runtime_s": 300.0},
        "diag.crash": {
            "type": "ZeroDivisionError",
            "frames": [{"module": "upsight.agent.poller", "function": "run", "line": 120}],
            "frames_omitted": 0,
        },
        "diag.error_codes": {"TransportTimeout": 2, "Disconnected": 1},
    }
    assert "client.tz_offset" not in envelope.client


def test_an_error_code_that_is_not_a_code_raises(inventory: Inventory) -> None:
    snapshot = Snapshot(CLIENT, error_codes={"/home/alice/.config": 1})
    with pytest.raises(EnvelopeInvalid, match=r"diag\.error_codes"):
        make(Purpose.DIAGNOSTICS, snapshot, USER, inventory)


def test_usage_analytics_carries_daily_counters(inventory: Inventory) -> None:
    assert make(Purpose.USAGE_ANALYTICS, everything(), USER, inventory).data == {
        "config.shutdown_thresholds": {"charge_pct": 20.0, "runtime_s": 300.0},
        "usage.app_opens": 4,
        "usage.feature_counts": {"self_test": 1},
        "usage.active_time_s": 312,
    }


def test_location_rounds_gps_and_pseudonymises_the_ssid(inventory: Inventory) -> None:
    data = make(Purpose.LOCATION, everything(), USER, inventory).data
    assert data == {
        "loc.region": "Bavaria",
        "loc.wifi_ssid": hmac_hex("Home-5G"),
        "loc.gps": {"lat": 48.1, "lon": 11.6},
    }
    clear = Grant(1, 1, by_org=False, subtoggles=frozenset({SSID_CLEAR}))
    assert make(Purpose.LOCATION, everything(), clear, inventory).data["loc.wifi_ssid"] == (
        "Home-5G"
    )


def test_the_account_envelope_carries_client_fields_only(inventory: Inventory) -> None:
    envelope = make(Purpose.ACCOUNT, everything(), USER, inventory)
    assert envelope.data == {}
    assert envelope.client["client.install_id"] == INSTALL_ID


@pytest.mark.parametrize("purpose", [Purpose.LOCAL, Purpose.CONTROL])
def test_build_is_for_upload_purposes_only(purpose: Purpose, inventory: Inventory) -> None:
    with pytest.raises(ValueError, match="not an upload purpose"):
        make(purpose, everything(), USER, inventory)


def test_every_transform_an_envelope_can_carry_is_applied() -> None:
    connection_or_sign_in = {Transform.SIGN_IN_REQUEST_ONLY, Transform.SERVER_TRUNCATES}
    assert set(APPLY) == set(Transform) - connection_or_sign_in


def test_the_table_has_a_row_for_every_envelope_field_and_no_other(inventory: Inventory) -> None:
    carried = {
        f.id
        for purpose in (*UPLOAD_PURPOSES, Purpose.CONTROL)
        for f in builder.envelope_fields(purpose, inventory)
    }
    assert set(FIELD_SOURCES) == carried


def test_a_field_without_a_source_stops_the_build() -> None:
    grown = parse_inventory(INVENTORY_TEXT + _BEEPER, "grown.toml")
    with pytest.raises(InventoryError, match=r"'ups\.beeper' has no source"):
        make(Purpose.CLOUD_ALERTS, everything(), USER, grown)


_BEEPER = """
[fields."ups.beeper"]
description = "Whether the UPS beeper is on."
category = "technical"
purposes = ["cloud_alerts"]
upload_transform = "enum"
local_retention_days = 90
owner = "device-team@example.invalid"
data_review = "https://review.example.invalid/PRIV-99"
expires = 2028-01-01
org_grantable = true
free_text = false
"""


def test_a_transform_that_does_not_fit_the_source_raises_at_the_field() -> None:
    block = 'description = "UPS model name as the device reports it."'
    changed = parse_inventory(
        INVENTORY_TEXT.replace(
            block + '\ncategory = "technical"\n'
            'purposes = ["cloud_alerts", "device_registration", "energy_history"]\n'
            'upload_transform = "as_is"',
            block + '\ncategory = "technical"\n'
            'purposes = ["cloud_alerts", "device_registration", "energy_history"]\n'
            'upload_transform = "round"\nround_step = 1',
        ),
        "changed.toml",
    )
    assert changed.fields[field_id("ups.model")].round_step == 1
    with pytest.raises(EnvelopeInvalid, match=r"\$\.data\['ups\.model'\]: expected a number"):
        make(Purpose.CLOUD_ALERTS, Snapshot(CLIENT, device(APC)), USER, changed)


@pytest.fixture
def store(tmp_path: Path) -> ConsentStore:
    versions = CurrentVersions(Notice("privacy-notice", NOTICE, "ab" * 32, "en-US"), 1)
    return ConsentStore(tmp_path, id_key=SECRET, versions=versions, clock=lambda: NOW)


def test_a_consent_receipt_reports_one_change(store: ConsentStore, inventory: Inventory) -> None:
    entry = store.grant(Purpose.ENERGY_HISTORY, actor=LocalUser(1000), surface=Surface.CLI)
    assert entry is not None
    envelope = consent_receipt(
        entry,
        install_id=INSTALL_ID,
        notice_version=NOTICE,
        inventory=inventory,
        now=NOW,
        envelope_id=ENVELOPE_ID,
    )
    assert envelope.purpose is Purpose.CONTROL
    assert envelope.consent_epoch == 0
    assert envelope.prompt_version == PURPOSES[Purpose.CONTROL].prompt_version
    assert envelope.client == {"client.install_id": INSTALL_ID}
    assert envelope.data == {
        "consent.purpose": "energy_history",
        "consent.state": "granted",
        "consent.decided_at": "2026-09-02T10:05:03Z",
        "consent.notice_version": NOTICE,
        "consent.prompt_version": 1,
    }
    payload_validator(inventory).validate(envelope.to_json())
    withdrawn = store.withdraw(Purpose.ENERGY_HISTORY, actor=LocalUser(1000), surface=Surface.CLI)
    assert withdrawn is not None
    receipt = consent_receipt(
        withdrawn, install_id=INSTALL_ID, notice_version=NOTICE, inventory=inventory, now=NOW
    )
    assert receipt.data["consent.state"] == str(ConsentState.DENIED)


def test_a_deletion_request_lists_ids_purposes_and_pseudonyms(inventory: Inventory) -> None:
    previous = "0b6a4c1e-5d2f-4a3b-8c9d-0e1f2a3b4c5d"
    envelope = deletion_request(
        [Purpose.DEVICE_REGISTRATION, Purpose.LOCATION, Purpose.DEVICE_REGISTRATION],
        install_ids=[previous, INSTALL_ID, previous],
        pseudonyms=[hmac_hex("QB0540131574")],
        account_id="acct-42",
        notice_version=NOTICE,
        inventory=inventory,
        now=NOW,
        envelope_id=ENVELOPE_ID,
    )
    assert envelope.purpose is Purpose.CONTROL
    assert envelope.consent_epoch == 0
    assert envelope.client == {}
    assert envelope.data == {
        "deletion.purposes": ["device_registration", "location"],
        "deletion.install_ids": [previous, INSTALL_ID],
        "deletion.pseudonyms": [hmac_hex("QB0540131574")],
        "deletion.account_id": "acct-42",
    }
    payload_validator(inventory).validate(envelope.to_json())


def test_a_deletion_request_for_everything(inventory: Inventory) -> None:
    envelope = deletion_request(
        "all", install_ids=[INSTALL_ID], notice_version=NOTICE, inventory=inventory, now=NOW
    )
    assert envelope.data == {"deletion.purposes": "all", "deletion.install_ids": [INSTALL_ID]}
    assert json.loads(envelope.encode())["data"]["deletion.purposes"] == "all"


def test_a_deletion_request_needs_a_purpose_and_an_install_id(inventory: Inventory) -> None:
    common: dict[str, Any] = {"notice_version": NOTICE, "inventory": inventory, "now": NOW}
    with pytest.raises(ValueError, match="needs a purpose"):
        deletion_request([], install_ids=[INSTALL_ID], **common)
    with pytest.raises(ValueError, match="install id"):
        deletion_request("all", install_ids=[], **common)
    with pytest.raises(EnvelopeInvalid, match=r"deletion\.install_ids'\]\[0\]"):
        deletion_request("all", install_ids=["alice-laptop"], **common)
    with pytest.raises(EnvelopeInvalid, match=r"deletion\.pseudonyms'\]\[0\]"):
        deletion_request("all", install_ids=[INSTALL_ID], pseudonyms=["QB0540131574"], **common)
