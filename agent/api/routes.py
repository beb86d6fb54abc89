"""The agent's local API: which methods exist, who may call them, and what they return."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from upsight.agent import config as config_file
from upsight.agent.api.errors import ApiError
from upsight.agent.api.server import Access, ApiServer, Route
from upsight.agent.codec import event_to_json, state_to_json
from upsight.agent.events import Event, EventKind
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.protection.engine import ProtectionRefused

if TYPE_CHECKING:
    from upsight.agent.bus import Message
    from upsight.agent.service import Agent


def _optional_float(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    return None if value is None else float(value)


def routes(agent: Agent) -> dict[str, Route]:
    """The route table of one agent."""

    def status(_: Mapping[str, Any]) -> Any:
        return {"devices": [state_to_json(s) for s in agent.states()]}

    def devices(_: Mapping[str, Any]) -> Any:
        return [{"name": s.device, "spec": s.spec} for s in agent.states()]

    def events(params: Mapping[str, Any]) -> Any:
        kinds = params.get("kinds")
        limit = params.get("limit")
        found = agent.history.events(
            params.get("device"),
            _optional_float(params, "since"),
            _optional_float(params, "until"),
            [EventKind(k) for k in kinds] if kinds else None,
            None if limit is None else int(limit),
        )
        return [event_to_json(e) for e in found]

    def history(params: Mapping[str, Any]) -> Any:
        points = agent.history.series(
            str(params["device"]),
            str(params["var"]),
            float(params["since"]),
            float(params["until"]),
            int(params.get("max_points", 1500)),
        )
        return [vars(p) for p in points]

    def energy(params: Mapping[str, Any]) -> Any:
        days = agent.history.energy(
            str(params["device"]), float(params["since"]), float(params["until"])
        )
        return [vars(d) for d in days]

    def config_get(_: Mapping[str, Any]) -> Any:
        return config_file.as_table(agent.config)

    def config_set(params: Mapping[str, Any]) -> Any:
        return config_file.as_table(agent.set_setting(str(params["key"]), params["value"]))

    def privacy_status(_: Mapping[str, Any]) -> Any:
        return agent.uploads.status() if agent.uploads else None

    def privacy_preview(params: Mapping[str, Any]) -> Any:
        if agent.uploads is None:
            raise ValueError("this agent runs without uploads")
        envelope, allowed = agent.uploads.preview(Purpose(str(params["purpose"])))
        return {"envelope": envelope.to_json(), "allowed": allowed}

    def privacy_changed(_: Mapping[str, Any]) -> Any:
        # Anyone may report a change: it only makes the agent re-read consent and policy,
        # and withdrawing must be as easy for every local user as granting (§6.3).
        if agent.uploads is not None:
            agent.uploads.changed()
        return None

    def config_locks(_: Mapping[str, Any]) -> Any:
        return dict(agent.locks.sources)

    def command(params: Mapping[str, Any]) -> Any:
        value = params.get("value")
        agent.run_command(
            str(params["device"]), str(params["name"]), None if value is None else str(value)
        )
        return None

    def refused(exc: ProtectionRefused) -> ApiError:
        source = agent.locks.source("protection.allow_postpone")
        if source is not None and not agent.config.protection_allow_postpone:
            return ApiError(f"Managed by your organization ({source}): {exc}")
        return ApiError(str(exc))

    def protection_status(_: Mapping[str, Any]) -> Any:
        return agent.protection.status_json()

    def protection_postpone(params: Mapping[str, Any]) -> Any:
        seconds = _optional_float(params, "seconds")
        try:
            agent.protection.postpone(seconds)
        except ProtectionRefused as exc:
            raise refused(exc) from None
        return agent.protection.status_json()

    def protection_cancel(_: Mapping[str, Any]) -> Any:
        try:
            agent.protection.cancel()
        except ProtectionRefused as exc:
            raise refused(exc) from None
        return agent.protection.status_json()

    return {
        "privacy.status": Route(Access.READ, privacy_status),
        "privacy.preview": Route(Access.READ, privacy_preview),
        "privacy.changed": Route(Access.READ, privacy_changed),
        "status": Route(Access.READ, status),
        "devices": Route(Access.READ, devices),
        "events": Route(Access.READ, events),
        "history": Route(Access.READ, history),
        "energy": Route(Access.READ, energy),
        "config.get": Route(Access.READ, config_get),
        "config.set": Route(Access.WRITE, config_set),
        "config.locks": Route(Access.READ, config_locks),
        # Instant commands act on the hardware (self-test, turning the output off):
        # for the agent's owner or root, like changing settings.
        "command": Route(Access.WRITE, command),
        "protection.status": Route(Access.READ, protection_status),
        # Whoever sits at the computer may buy time to save work (within the policy's
        # limits); calling protection off for the whole outage is for its owner or root.
        "protection.postpone": Route(Access.READ, protection_postpone),
        "protection.cancel": Route(Access.WRITE, protection_cancel),
    }


def start_api(agent: Agent) -> ApiServer:
    """Serve the agent's API on its socket; pushes every device state and event."""

    def subscribe(sink: Callable[[str, Any], None]) -> Callable[[], None]:
        def forward(message: Message) -> None:
            if isinstance(message, Event):
                sink("event", event_to_json(message))
            else:
                sink("state", state_to_json(message))

        return agent.subscribe(forward)

    server = ApiServer(agent.paths.api_socket, routes(agent), subscribe)
    server.start()
    return server
