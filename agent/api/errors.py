"""Errors of the local API, a branch of the UpsError tree.

::

    UpsError
    └── ApiError                 "failed": a request or the channel failed
        ├── AccessDenied         "access-denied": the caller may not use that method
        ├── BadRequest           "bad-request": malformed line, message or parameters
        ├── UnknownMethod        "unknown-method": the agent has no such method
        ├── AgentNotRunning      (local) nothing listens at the socket path
        └── ApiUnavailable       (local) this platform has no Unix-domain sockets

The first four codes travel on the wire in ``{"error": {"code", "message"}}``;
the client turns them back into these classes. The two marked *local* are
raised by the client or server on this side of the socket and never sent.
"""

from __future__ import annotations

from typing import ClassVar

from upsight.drivers.errors import UpsError


class ApiError(UpsError):
    """A local-API request or the channel itself failed.

    Attributes:
        code: The wire error code for this class of failure.
    """

    code: ClassVar[str] = "failed"


class AccessDenied(ApiError):
    """The caller's user may not use the requested method."""

    code: ClassVar[str] = "access-denied"


class BadRequest(ApiError):
    """A line was not valid JSON, not a valid message, or had bad parameters."""

    code: ClassVar[str] = "bad-request"


class UnknownMethod(ApiError):
    """The agent offers no method of that name."""

    code: ClassVar[str] = "unknown-method"


class AgentNotRunning(ApiError):
    """No agent answers at the socket path (absent, refused or went away)."""

    code: ClassVar[str] = "agent-not-running"


class ApiUnavailable(ApiError):
    """The local API cannot work on this platform (no Unix-domain sockets)."""

    code: ClassVar[str] = "unavailable"
