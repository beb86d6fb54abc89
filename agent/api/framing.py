"""Wire format of the local API: one UTF-8 JSON object per line, pure functions only.

Every message is a JSON object on one line ending in ``\\n``; a line (without
its newline) is at most ``MAX_LINE_BYTES`` long::

    # Send: {"id": 7, "method": "config.get", "params": {"key": "poll_s"}}
    # Recv: {"id": 7, "result": 5}
    # Recv: {"id": 8, "error": {"code": "access-denied", "message": "..."}}
    # Recv: {"push": "reading", "data": {...}}

Replies carry the request's ``id`` (``null`` when the line had no usable id).
Pushes carry no id; they follow a ``subscribe`` request on that connection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

from upsight.agent.api.errors import ApiError, BadRequest

MAX_LINE_BYTES: Final = 1 << 20  # 1 MiB, newline not included

# The method that turns a connection into a push stream; no route may use it.
SUBSCRIBE_METHOD: Final = "subscribe"

# Error codes that may appear on the wire, in ``{"error": {"code": ...}}``.
WIRE_CODES: Final = frozenset({"access-denied", "bad-request", "unknown-method", "failed"})


@dataclass(frozen=True)
class Request:
    """A parsed request line."""

    id: int
    method: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Reply:
    """A parsed reply line: exactly one of ``result`` or ``error`` is meaningful.

    ``error`` is ``(code, message)`` for a failed request, else None.
    """

    id: int | None
    result: Any = None
    error: tuple[str, str] | None = None


@dataclass(frozen=True)
class Push:
    """A parsed push line of a subscription."""

    kind: str
    data: Any


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, but they are not JSON and other
    # clients would choke on them, so they are refused on input as on output.
    raise ValueError(f"{name} is not valid JSON")


def encode(message: Mapping[str, Any]) -> bytes:
    """Serialise one message as a line.

    Args:
        message: A JSON-serialisable mapping.

    Returns:
        Compact UTF-8 JSON followed by ``\\n``.

    Raises:
        BadRequest: The message is not JSON-serialisable or the line would be
            longer than ``MAX_LINE_BYTES``.
    """
    try:
        text = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"message is not JSON-serialisable: {exc}") from exc
    line = text.encode("utf-8")
    if len(line) > MAX_LINE_BYTES:
        raise BadRequest(f"message of {len(line)} bytes exceeds {MAX_LINE_BYTES} bytes")
    return line + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line (without its newline) into a JSON object.

    Args:
        line: The raw bytes of the line.

    Returns:
        The decoded object.

    Raises:
        BadRequest: The line is not UTF-8, not JSON, or not a JSON object.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("line is not valid UTF-8") from exc
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise BadRequest("line is not valid JSON") from exc
    if not isinstance(obj, dict):
        raise BadRequest("line is not a JSON object")
    return obj


def _is_id(value: object) -> TypeGuard[int]:
    # bool is an int subclass, but ``true`` is not a request id.
    return isinstance(value, int) and not isinstance(value, bool)


def request_id(obj: Mapping[str, Any]) -> int | None:
    """Return the message's id if it is a valid one, so errors can echo it."""
    value = obj.get("id")
    return value if _is_id(value) else None


def parse_request(obj: Mapping[str, Any]) -> Request:
    """Validate a decoded object as a request.

    Args:
        obj: An object from ``decode``.

    Returns:
        The request; missing ``params`` means no parameters.

    Raises:
        BadRequest: ``id``, ``method`` or ``params`` is missing or mistyped.
    """
    req_id = obj.get("id")
    if not _is_id(req_id):
        raise BadRequest('request needs an integer "id"')
    method = obj.get("method")
    if not isinstance(method, str) or not method:
        raise BadRequest('request needs a string "method"')
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise BadRequest('"params" must be a JSON object')
    return Request(id=req_id, method=method, params=params)


def parse_incoming(obj: Mapping[str, Any]) -> Reply | Push:
    """Validate a decoded object received by a client as a reply or a push.

    Args:
        obj: An object from ``decode``.

    Returns:
        A ``Push`` if the object has a ``push`` key, else a ``Reply``.

    Raises:
        ApiError: The object is neither a well-formed reply nor a push.
    """
    if "push" in obj:
        kind = obj["push"]
        if not isinstance(kind, str):
            raise ApiError('agent sent a push without a string "push"')
        return Push(kind=kind, data=obj.get("data"))
    req_id = obj.get("id")
    if req_id is not None and not _is_id(req_id):
        raise ApiError("agent sent a reply with an invalid id")
    if "error" in obj:
        error = obj["error"]
        if not isinstance(error, dict):
            raise ApiError('agent sent a reply with a malformed "error"')
        code = error.get("code")
        message = error.get("message")
        return Reply(
            id=req_id,
            error=(
                code if isinstance(code, str) else "failed",
                message if isinstance(message, str) else "the agent reported an error",
            ),
        )
    if "result" not in obj:
        raise ApiError('agent sent a reply with neither "result" nor "error"')
    return Reply(id=req_id, result=obj["result"])


def request(req_id: int, method: str, params: Mapping[str, Any]) -> bytes:
    """Encode a request line; raises ``BadRequest`` like ``encode``."""
    return encode({"id": req_id, "method": method, "params": params})


def result(req_id: int, value: Any) -> bytes:
    """Encode a successful reply line; raises ``BadRequest`` like ``encode``."""
    return encode({"id": req_id, "result": value})


def error(req_id: int | None, code: str, message: str) -> bytes:
    """Encode an error reply line.

    The message is cut down if needed so that the line always fits.
    """
    # A message near 1 MiB is a bug elsewhere; clip it rather than fail to report.
    clipped = message[:4096]
    return encode({"id": req_id, "error": {"code": code, "message": clipped}})


def push(kind: str, data: Any) -> bytes:
    """Encode a push line; raises ``BadRequest`` like ``encode``."""
    return encode({"push": kind, "data": data})


class LineSplitter:
    """Cuts a byte stream into lines, enforcing ``MAX_LINE_BYTES``.

    Bytes of an unfinished line are kept until its newline arrives, so reads
    may split a line (or a UTF-8 character) anywhere. Once a line is found to
    be too long, ``overflowed`` turns True and all further input is ignored:
    the stream can no longer be trusted to be in step.
    """

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf already known to hold no newline
        self.overflowed = False

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held back."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes and return the complete lines, without newlines.

        Lines completed before an over-long one are still returned.
        """
        if self.overflowed:
            return []
        self._buf += data
        lines: list[bytes] = []
        start = 0
        while (end := self._buf.find(b"\n", max(start, self._scanned))) != -1:
            if end - start > self._max:
                self._overflow()
                return lines
            lines.append(bytes(self._buf[start:end]))
            start = end + 1
        del self._buf[:start]
        self._scanned = len(self._buf)
        if len(self._buf) > self._max:
            self._overflow()
        return lines

    def _overflow(self) -> None:
        self.overflowed = True
        self._buf.clear()
        self._scanned = 0
