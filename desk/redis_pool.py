"""The one way the desk opens a Redis connection pool (rate limits, job events).

redis-py's default pool is not blocking: past `max_connections` (100 in redis-py 8) a command fails at once
with MaxConnectionsError. An API or worker process runs far more threads than that under load (one per
request in flight, CREW_MAX_WORKERS), so at 128 concurrent clients a few percent of requests were refused
with 503 `rate_limit_storage_unavailable` although Redis was fine. A blocking pool makes a thread wait for a
free connection instead; `POOL_TIMEOUT_SECONDS` bounds the wait, past which the caller sees a real outage.
"""

from __future__ import annotations

import redis

# A Redis command from the desk takes well under a millisecond, so this many connections serve hundreds of
# threads with short waits; Redis itself handles thousands of connections.
POOL_CONNECTIONS = 64
POOL_TIMEOUT_SECONDS = 5.0


def uses_pool(url: str) -> bool:
    """Whether `url` names a single Redis server (the URLs this pool is for; not Sentinel or Cluster)."""
    return url.startswith(("redis://", "rediss://", "unix://"))


def blocking_pool(url: str, **options: float) -> redis.BlockingConnectionPool:
    """A blocking pool for `url` (`options`: redis-py connection options such as socket timeouts)."""
    return redis.BlockingConnectionPool.from_url(
        url, max_connections=POOL_CONNECTIONS, timeout=POOL_TIMEOUT_SECONDS, **options
    )
