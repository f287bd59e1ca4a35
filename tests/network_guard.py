"""Refuses every outgoing connection that does not stay on this machine.

Installed for the whole test session by `tests/conftest.py`: a test that would reach a hosted model, a
package index or a telemetry endpoint fails loudly instead of silently depending on the network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkBlocked(RuntimeError):
    """A test tried to connect beyond loopback."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(sock: socket.socket, address: Any, *args: Any, **kwargs: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0])
            if not is_loopback(host):
                raise NetworkBlocked(f"tests may only connect to loopback, not {host!r}")
        return original(sock, address, *args, **kwargs)

    return connect


def install() -> None:
    if getattr(socket.socket, "_support_desk_guarded", False):
        return
    socket.socket.connect = _guarded(socket.socket.connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded(socket.socket.connect_ex)  # type: ignore[method-assign]
    socket.socket._support_desk_guarded = True  # type: ignore[attr-defined]
