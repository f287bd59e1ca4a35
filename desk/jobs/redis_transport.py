"""Kombu's Redis transport, with one Redis client object per channel instead of one per broker command.

Kombu's Redis channel builds a new `redis.Redis` object for every command it runs outside its consumer
connection (`conn_or_acquire`): the unacked-message bookkeeping of each delivery and each ack, each publish.
Every command already borrows a connection from the channel's pool, so the client object adds nothing, but
building one costs as much as a pipelined round trip to Redis (redis-py builds its response-callback table in
the constructor), and a worker's consumer loop does it several times per task (docs/performance.md, "The
broker's per-message cost"). A `redis.Redis` client is thread-safe: it holds no connection of its own.

Selected by `make_celery` for `redis://` and `rediss://` broker URLs; Sentinel and other transports are
left as kombu ships them.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis

SCHEMES = ("redis", "rediss")
TRANSPORT = f"{__name__}:Transport"


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    # (pool, client) of this channel: rebuilt if the channel's pool is replaced (after a reconnect).
    _command_client: tuple[Any, Any] | None = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        cached = self._command_client
        if cached is None or cached[0] is not pool:
            cached = self._command_client = (pool, super()._create_client())
        return cached[1]


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
