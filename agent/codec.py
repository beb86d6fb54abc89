"""JSON forms of the agent's frozen values, for the local API and ``--json`` output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from upsight.agent.events import Event, EventKind
from upsight.agent.monitor import DeviceState, Link
from upsight.drivers.model import Reading, Status, UpsInfo, Value

JsonDict = dict[str, Any]


def values_to_json(values: Mapping[str, Value]) -> JsonDict:
    return dict(sorted(values.items()))


def values_from_json(data: Mapping[str, Any]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for name, value in data.items():
        if isinstance(value, bool):
            raise ValueError(f"{name}: booleans are not UPS values")
        out[name] = float(value) if isinstance(value, int | float) else str(value)
    return out


def reading_to_json(reading: Reading) -> JsonDict:
    return {
        "at": reading.at,
        "status": str(reading.status),
        "values": values_to_json(reading.values),
    }


def reading_from_json(data: Mapping[str, Any]) -> Reading:
    return Reading(
        float(data["at"]), Status.parse(str(data["status"])), values_from_json(data["values"])
    )


def info_to_json(info: UpsInfo) -> JsonDict:
    return {
        "mfr": info.mfr,
        "model": info.model,
        "serial": info.serial,
        "firmware": info.firmware,
        "vid": info.vid,
        "pid": info.pid,
        "driver": info.driver,
        "simulated": info.simulated,
        "label": info.label(),
    }


def info_from_json(data: Mapping[str, Any]) -> UpsInfo:
    return UpsInfo(
        data.get("mfr"),
        data.get("model"),
        data.get("serial"),
        data.get("firmware"),
        data.get("vid"),
        data.get("pid"),
        str(data.get("driver", "")),
        bool(data.get("simulated", False)),
    )


def event_to_json(event: Event) -> JsonDict:
    return {
        "at": event.at,
        "device": event.device,
        "kind": event.kind.value,
        "severity": event.severity.value,
        "message": event.message,
        "data": values_to_json(event.data),
    }


def event_from_json(data: Mapping[str, Any]) -> Event:
    return Event(
        float(data["at"]),
        str(data["device"]),
        EventKind(data["kind"]),
        str(data["message"]),
        values_from_json(data.get("data", {})),
    )


def state_to_json(state: DeviceState) -> JsonDict:
    return {
        "device": state.device,
        "spec": state.spec,
        "link": state.link.value,
        "reading": reading_to_json(state.reading) if state.reading else None,
        "last_reading": reading_to_json(state.last_reading) if state.last_reading else None,
        "info": info_to_json(state.info) if state.info else None,
        "error": state.error,
        "commands": sorted(state.commands),
    }


def state_from_json(data: Mapping[str, Any]) -> DeviceState:
    reading = data.get("reading")
    last = data.get("last_reading")
    info = data.get("info")
    return DeviceState(
        device=str(data["device"]),
        spec=str(data["spec"]),
        link=Link(data["link"]),
        reading=reading_from_json(reading) if reading else None,
        last_reading=reading_from_json(last) if last else None,
        info=info_from_json(info) if info else None,
        error=data.get("error"),
        commands=frozenset(data.get("commands", ())),
    )
