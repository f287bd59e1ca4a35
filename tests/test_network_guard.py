import socket

import pytest

from tests.network_guard import NetworkBlocked, is_loopback


def test_connections_beyond_loopback_are_refused() -> None:
    with pytest.raises(NetworkBlocked), socket.create_connection(("192.0.2.1", 443), timeout=1):
        pass


def test_loopback_is_allowed() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
    finally:
        server.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.5.5.5"])
def test_loopback_names(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "8.8.8.8", "api.openai.com", "::ffff:8.8.8.8"])
def test_non_loopback_names(host: str) -> None:
    assert not is_loopback(host)
