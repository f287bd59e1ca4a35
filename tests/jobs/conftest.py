"""Workers in their own processes against the real brokers on this machine (skipped with the reason where a
broker is not running): Redis on 127.0.0.1:6379, RabbitMQ on 127.0.0.1:5672 (guest/guest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import SECRET, client_for, make_account, password_hash

__all__ = ["client_for", "make_account", "password_hash"]  # the API tests' fixtures, used here too

REDIS_URL = "redis://127.0.0.1:6379/12"
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672//"


def broker_down(url: str) -> str | None:
    """Why `url` cannot be used, or None when the broker answers."""
    if url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1.0)
        try:
            client.ping()
            client.flushdb()  # a test database of our own: start from empty queues
        except redis.RedisError as exc:
            return f"Redis is not reachable at {url} ({type(exc).__name__})"
        finally:
            client.close()
        return None
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
            for name in ("crew", "paging"):
                try:
                    conn.default_channel.queue_purge(name)
                except Exception:  # noqa: BLE001 - a queue not declared yet has nothing to purge
                    conn.release()
                    conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any connection failure is a reason to skip
        return f"RabbitMQ is not reachable at {url} ({type(exc).__name__})"
    return None


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest) -> str:
    url = REDIS_URL if request.param == "redis" else RABBIT_URL
    reason = broker_down(url)
    if reason is not None:
        pytest.skip(reason)
    return url


@pytest.fixture
def redis_broker() -> str:
    reason = broker_down(REDIS_URL)
    if reason is not None:
        pytest.skip(reason)
    return REDIS_URL


def job_env(tmp_path: Path, broker: str, **extra: Any) -> dict[str, str]:
    """What the API (in this process, as Settings values) and the workers (as environment) share."""
    values = {
        "APP_ENV": "test",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}",
        "AUDIT_LOG_FILE": str(tmp_path / "audit.log"),
        "LOG_FILE": str(tmp_path / "app.log"),
        "CELERY_BROKER_URL": broker,
        "JOB_LEASE_SECONDS": "2",
        "JOB_SWEEP_SECONDS": "0.5",
        "LOG_LEVEL": "INFO",
    }
    values.update({k.upper(): str(v) for k, v in extra.items()})
    return values


class Worker:
    """`support-desk worker` as a child process in its own process group."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        command = [sys.executable, "-m", "cli.main", "worker", "--crew-factory", "tests.jobs.crews:slow_crew", *args]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def children(self) -> list[int]:
        from bench.procstat import children_of

        return children_of(self.process.pid)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
            except ProcessLookupError:
                pass


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(env: dict[str, str], log: Path, *args: str) -> Worker:
        worker = Worker(env, log, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, log: Callable[[], str] = lambda: "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s\n{log()}")
