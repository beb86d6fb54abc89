"""JSON forms of the agent's values survive a round trip through the wire format."""

from __future__ import annotations

import json

import pytest

from upsight.agent import codec
from upsight.agent.events import EventKind, make_event
from upsight.agent.monitor import DeviceState, Link
from upsight.drivers.model import Reading, Status, UpsInfo

READING = Reading(
    1_700_000_000.5,
    Status.parse("OB DISCHRG LB ECO"),
    {"battery.charge": 12.0, "ups.productid": "0002", "ups.load": 31.5},
)


def wire(data: object) -> object:
    return json.loads(json.dumps(data))


def test_state_round_trip() -> None:
    state = DeviceState(
        "ups",
        "sim://outage",
        Link.STALE,
        None,
        READING,
        UpsInfo("APC", "Back-UPS", None, "817.v2.I", 0x051D, 2, "dummy"),
        "Disconnected: cable",
        frozenset({"beeper.mute", "test.battery.start"}),
    )
    back = codec.state_from_json(wire(codec.state_to_json(state)))  # type: ignore[arg-type]
    assert back == state


def test_event_round_trip_keeps_kind_message_and_data() -> None:
    event = make_event(5.0, "ups2", EventKind.LOWBATT, READING)
    data = wire(codec.event_to_json(event))
    assert data["severity"] == "critical"  # type: ignore[index]
    assert codec.event_from_json(data) == event  # type: ignore[arg-type]


def test_numbers_stay_numbers_and_text_stays_text() -> None:
    back = codec.reading_from_json(
        {"at": 1, "status": "OL", "values": {"ups.load": 20, "ups.serial": "000123"}}
    )
    assert back.values == {"ups.load": 20.0, "ups.serial": "000123"}


def test_booleans_are_refused() -> None:
    with pytest.raises(ValueError, match="booleans"):
        codec.values_from_json({"ups.load": True})
