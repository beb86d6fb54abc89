"""Property: whatever is collected and however consent stands, envelopes hold only declared fields.

privacy-design.md §13: for every combination of policy, stored choice and sub-toggles,
every envelope contains only inventory fields of its purpose and no never-collect field.
"""

from __future__ import annotations

import itertools
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upsight.agent.privacy.builder import (
    EVENT_KINDS,
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
)
from upsight.agent.privacy.effective import (
    PolicyDecision,
    Source,
    Stored,
    effective_state,
)
from upsight.agent.privacy.envelope import Envelope
from upsight.agent.privacy.inventory import (
    NEVER_COLLECT,
    Inventory,
    load_inventory,
    never_collect_match,
)
from upsight.agent.privacy.purposes import PURPOSES, UPLOAD_PURPOSES, Purpose
from upsight.agent.privacy.schemas import payload_validator

INVENTORY: Inventory = load_inventory()
SECRET = bytes(range(32))
MARKER = "zq-leak-marker"
PSEUDONYM = re.compile("[0-9a-f]{64}")
SUBTOGGLES = sorted({s.id for info in PURPOSES.values() for s in info.subtoggles})
SOURCE_VARIABLES = frozenset(
    {
        "battery.charge",
        "battery.runtime",
        "battery.voltage",
        "battery.temperature",
        "input.voltage",
        "input.frequency",
        "output.voltage",
        "ups.load",
        "ups.realpower",
        "ups.temperature",
        "ups.firmware",
        "device.model",
        "ups.model",
        "device.serial",
        "ups.serial",
    }
)
"""NUT variables the builder reads; extra variables are drawn from outside this set."""
LOOKALIKES = [
    "host.user_name",
    "env.path",
    "host.password",
    "snmp.community",
    "host.ip_address",
    "host.file_path",
    "shutdown.script",
    "host.process_list",
    "browser.cookies",
    "driver.parameter.port",
    "ups.serial.raw",
    *(str(item.id) for item in NEVER_COLLECT),
]
BLOCKING = {PolicyDecision.BLOCKED, PolicyDecision.DENIED_LOCKED, PolicyDecision.INVALID}

nut_names = st.one_of(
    st.sampled_from(LOOKALIKES),
    st.from_regex(r"[a-z]{1,8}(\.[a-z_]{1,10}){1,3}", fullmatch=True),
).filter(lambda name: name not in SOURCE_VARIABLES)
nut_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(f"/home/{MARKER}/.ssh"),
    st.text(max_size=12).map(lambda t: MARKER + t),
)
tokens = st.frozensets(
    st.sampled_from(["OL", "OB", "LB", "RB", "OVER", "BYPASS", "FSD", "ALARM", "OFF", "CHRG"])
)
events = st.lists(
    st.builds(
        EventFact,
        st.sampled_from(sorted(set(EVENT_KINDS) | UNSENT_EVENT_KINDS)),
        st.floats(min_value=0, max_value=4e9),
    ),
    max_size=4,
).map(tuple)
labels = st.one_of(st.none(), st.text(max_size=40))


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    extra = draw(st.dictionaries(nut_names, nut_values, max_size=6))
    values: dict[str, float | str] = {"battery.charge": 87.0, "device.serial": "QB0540131574"}
    values.update(extra)
    device = draw(
        st.one_of(
            st.none(),
            st.builds(
                DeviceFacts,
                st.sampled_from(["usb", "serial", "network", "simulated", "battery"]),
                labels,
                st.just(values),
                tokens,
            ),
        )
    )
    client = ClientFacts(
        agent_version="1.4.2",
        os_family=draw(st.sampled_from(["linux", "windows", "macos"])),
        os_version=draw(st.sampled_from(["6.1.0-18-amd64", "10.0.22631", "14.4.1", ""])),
        locale=draw(st.sampled_from(["en_US.UTF-8", "C", "zh_CN.UTF-8", "sr_RS@latin"])),
        tz_offset_s=draw(st.integers(min_value=-43_200, max_value=50_400)),
        install_id="2f1c6a0e-8b3f-4f7e-9a55-3f0c2d9e7b41",
        hostname=draw(labels),
    )
    return Snapshot(
        client=client,
        device=device,
        events=draw(events),
        series={"battery.charge": (Aggregate(900, 80.0, 85.5, 90.0),)},
        energy_wh=((900, 12.5),),
        error_codes={"TransportTimeout": draw(st.integers(min_value=0, max_value=9))},
        shutdown_thresholds={"charge_pct": 20.0},
        usage={"app_opens": 2, f"feature:{draw(st.sampled_from(['tray', 'self_test']))}": 1},
        region=draw(labels),
        crash=CrashFacts("ValueError", ((f"{MARKER}.mod", "run", 3), ("upsight.cli", "main", 9))),
        wifi_ssid=draw(labels),
        gps=(48.137154, 11.576124),
    )


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    purpose=st.sampled_from(UPLOAD_PURPOSES),
    user_toggles=st.frozensets(st.sampled_from(SUBTOGGLES)),
    snapshot=snapshots(),
)
def test_envelopes_hold_only_declared_fields_of_their_purpose(
    purpose: Purpose, user_toggles: frozenset[str], snapshot: Snapshot
) -> None:
    # Every policy decision with every stored choice, for each drawn purpose and snapshot.
    for decision, stored in itertools.product(PolicyDecision, Stored):
        state = effective_state(purpose, decision, stored)
        if decision in BLOCKING:
            assert not state.on
        if state.on:
            by_org = state.source is Source.ORG_POLICY
            grant = Grant(epoch=2, prompt_version=1, by_org=by_org, subtoggles=user_toggles)
            check_envelope(purpose, snapshot, grant)


def check_envelope(purpose: Purpose, snapshot: Snapshot, grant: Grant) -> None:
    envelope = build(
        purpose,
        snapshot,
        grant,
        inventory=INVENTORY,
        install_secret=SECRET,
        notice_version="2026-09-01",
        now=1_788_343_503.0,
    )
    allowed = {str(f.id): f for f in INVENTORY.fields_for(purpose)}
    assert all(name.startswith("client.") for name in envelope.client)
    assert not any(name.startswith("client.") for name in envelope.data)
    for name, value in {**envelope.client, **envelope.data}.items():
        declared = allowed.get(name)
        assert declared is not None, name
        assert never_collect_match(name) is None
        if grant.by_org:
            assert declared.org_grantable, name
        if declared.requires_subtoggle is not None:
            assert declared.requires_subtoggle in grant.subtoggles, name
        if declared.clear_text_subtoggle is not None and (
            declared.clear_text_subtoggle not in grant.subtoggles
        ):
            assert isinstance(value, str)
            assert PSEUDONYM.fullmatch(value), name
    assert MARKER not in envelope.encode().decode("utf-8")
    payload_validator(INVENTORY).validate(envelope.to_json())


@settings(max_examples=150, deadline=None, database=None)
@given(
    purpose=st.sampled_from([Purpose.CLOUD_ALERTS, Purpose.ENERGY_HISTORY]),
    values=st.dictionaries(
        st.sampled_from(sorted(SOURCE_VARIABLES)),
        st.one_of(st.floats(), st.text(max_size=200)),
        max_size=8,
    ),
)
def test_values_of_any_size_or_kind_give_a_valid_envelope_or_an_error(
    purpose: Purpose, values: dict[str, float | str]
) -> None:
    client = ClientFacts(
        "1.4.2", "linux", "6.1", "C", 0, "2f1c6a0e-8b3f-4f7e-9a55-3f0c2d9e7b41", None
    )
    snapshot = Snapshot(client, DeviceFacts("usb", None, values, frozenset({"OL"})))
    outcome = attempt(purpose, snapshot)
    if isinstance(outcome, EnvelopeInvalid):
        assert outcome.path.startswith("$.data['ups.")
        return
    payload_validator(INVENTORY).validate(outcome.to_json())
    # Strict JSON: the bare constants NaN and Infinity are not JSON; text that
    # merely reads "NaN" (a model name, say) is fine.
    json.loads(outcome.encode(), parse_constant=_refuse_constant)


def attempt(purpose: Purpose, snapshot: Snapshot) -> Envelope | EnvelopeInvalid:
    try:
        return build(
            purpose,
            snapshot,
            Grant(1, 1, by_org=False),
            inventory=INVENTORY,
            install_secret=SECRET,
            notice_version="2026-09-01",
            now=0.0,
        )
    except EnvelopeInvalid as exc:
        return exc


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"the envelope holds the non-JSON constant {name}")
