"""Kernel-verified identity of the process at the other end of a Unix-domain socket.

This is the local API's authentication: the kernel records the connecting
process's credentials at ``connect()`` time, so no password or token is
needed and none can be forged by the client.
"""

from __future__ import annotations

import socket
import struct
import sys
from dataclasses import dataclass
from typing import Final

from upsight.agent.api.errors import ApiUnavailable

# Linux: struct ucred { pid_t pid; uid_t uid; gid_t gid; } (socket(7)).
_UCRED: Final = struct.Struct("=iII")

# macOS / BSD: struct xucred { u_int cr_version; uid_t cr_uid; short cr_ngroups;
# gid_t cr_groups[16]; ... } (sys/ucred.h); native alignment pads after the short.
_XUCRED: Final = struct.Struct("@IIh16I")
_XUCRED_VERSION: Final = 0
# Fallbacks for constants that CPython does not export on every BSD build; the
# values are those of macOS and FreeBSD's sys/un.h.
_SOL_LOCAL: Final = 0
_LOCAL_PEERCRED: Final = 1
_LOCAL_PEERPID: Final = 2


@dataclass(frozen=True)
class Peer:
    """Credentials of a connected client process.

    Attributes:
        pid: Process id, or None where the OS does not report it (or the peer
            lives in another PID namespace).
        uid: Effective user id at connect time.
        gid: Effective group id, or None where unknown.
    """

    pid: int | None
    uid: int
    gid: int | None


def peer_of(sock: socket.socket) -> Peer:
    """Return the credentials of the process connected to ``sock``.

    Args:
        sock: A connected ``AF_UNIX`` stream socket.

    Returns:
        The peer's credentials as the kernel recorded them at connect time.

    Raises:
        OSError: The kernel refused the query (e.g. the peer already left).
        ApiUnavailable: This platform has no way to ask.
    """
    if sys.platform == "linux":
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
        pid, uid, gid = _UCRED.unpack(raw)
        # pid 0 means the peer is outside our PID namespace, i.e. unknown.
        peer = Peer(pid=pid or None, uid=uid, gid=gid)
    elif sys.platform == "darwin" or sys.platform.startswith(("freebsd", "openbsd", "netbsd")):
        peer = _peer_bsd(sock)
    else:
        raise ApiUnavailable(f"peer credentials are not supported on {sys.platform}")
    return peer


def _peer_bsd(sock: socket.socket) -> Peer:
    # getpeereid() semantics via LOCAL_PEERCRED. Untested here: CI runs Linux only.
    sol_local = getattr(socket, "SOL_LOCAL", _SOL_LOCAL)
    raw = sock.getsockopt(sol_local, getattr(socket, "LOCAL_PEERCRED", _LOCAL_PEERCRED), 256)
    version, uid, ngroups, *groups = _XUCRED.unpack_from(raw)
    if version != _XUCRED_VERSION:
        raise OSError(f"unexpected xucred version {version}")
    gid = groups[0] if ngroups > 0 else None
    pid: int | None = None
    if sys.platform == "darwin":
        raw_pid = sock.getsockopt(sol_local, getattr(socket, "LOCAL_PEERPID", _LOCAL_PEERPID), 4)
        pid = struct.unpack("=i", raw_pid)[0] or None
    return Peer(pid=pid, uid=uid, gid=gid)
