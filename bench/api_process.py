"""`support-desk serve` as a child process on a free loopback port, with its own temporary database.

    accounts = AccountTemplate.create(workdir, [Account(...)])   # once per bench run (argon2 is slow)
    with ApiProcess(workdir / "local", accounts, env={...}) as api:
        api.ready_seconds, api.base_url, api.token("integrator"), api.sample()

The child gets its settings through environment variables only (desk/settings.py reads them). It runs in
its own process group, so stopping it also stops anything it started, on success and on failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from bench.procstat import ProcSample, sample, tree

READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0


class ApiStartFailed(RuntimeError):
    """The API child exited or did not answer /readyz in time (its log is in the error message)."""


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    customer_id: str | None = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Readiness:
    listening_seconds: float  # first HTTP answer of any status (the crew may still be loading)
    ready_seconds: float  # first /readyz 200


def wait_ready(
    base_url: str,
    process: subprocess.Popen[bytes] | None,
    timeout: float = READY_TIMEOUT_SECONDS,
    *,
    started: float | None = None,
    interval: float = 0.05,
    log: Callable[[], str] = lambda: "",
) -> Readiness:
    """Poll `base_url`/readyz until it answers 200. Times count from `started` (a `time.perf_counter()`,
    default now). Raises `ApiStartFailed`, with `log()` in the message, when `process` exits first or
    `timeout` seconds pass."""
    started = time.perf_counter() if started is None else started
    deadline = started + timeout
    listening = 0.0
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while time.perf_counter() < deadline:
            if process is not None and process.poll() is not None:
                raise ApiStartFailed(f"the API exited with {process.returncode}: {log()}")
            try:
                status = client.get("/readyz").status_code
            except httpx.TransportError:
                status = 0  # not listening yet: keep polling
            if status and not listening:
                listening = time.perf_counter() - started
            if status == 200:
                return Readiness(listening, time.perf_counter() - started)
            time.sleep(interval)
    raise ApiStartFailed(f"/readyz did not answer 200 within {timeout:.0f} s: {log()}")


def start_uvicorn(target: str, port: int, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Serve an app factory (`module:function`) with uvicorn on 127.0.0.1:`port`, logging warnings only."""
    command = [sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(  # noqa: S603 - our own server on loopback
        [*command, "--log-level", "warning", "--no-access-log"], env=dict(env)
    )


def cli() -> list[str]:
    return [sys.executable, "-m", "cli.main"]


def base_env(workdir: Path, overrides: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: ours, plus a fresh database, logs and CrewAI storage under `workdir`."""
    env = dict(os.environ)
    env.update(
        {
            "APP_ENV": "test",
            "SECRET_KEY": env.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(48),
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "AUDIT_LOG_FILE": str(workdir / "audit.log"),
            "LOG_FILE": str(workdir / "app.log"),
            "CREWAI_STORAGE_DIR": str(workdir / "crewai"),
            # uvicorn's per-request access log would go to a file we never read; keep warnings and errors.
            "LOG_LEVEL": "WARNING",
            # The load comes from a few customer ids; only the ratelimit scenario measures the limit itself.
            "RATE_LIMIT_PER_MINUTE": "1000000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


class AccountTemplate:
    """A database with the bench accounts, created once through `support-desk users create`; each scenario
    starts from a copy of it (a fresh database, without paying argon2 and the migration again)."""

    def __init__(self, path: Path, password: str) -> None:
        self.path = path
        self.password = password  # one random password per bench run; only ever sent to 127.0.0.1

    @classmethod
    def create(
        cls, workdir: Path, accounts: Sequence[Account], env_overrides: Mapping[str, str] | None = None
    ) -> AccountTemplate:
        """With `env_overrides` naming another DATABASE_URL, the accounts live in that database instead
        (and there is no SQLite file to copy)."""
        workdir.mkdir(parents=True, exist_ok=True)
        env = base_env(workdir, env_overrides or {})
        password = secrets.token_urlsafe(18)
        for account in accounts:
            command = [
                *cli(),
                "users",
                "create",
                "--username",
                account.username,
                "--role",
                account.role,
                "--password-stdin",
            ]
            if account.customer_id:
                command += ["--customer-id", account.customer_id]
            done = subprocess.run(  # noqa: S603
                command,
                input=password + "\n",
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if done.returncode != 0:
                raise ApiStartFailed(f"users create {account.username} failed: {done.stderr.strip()[-500:]}")
        return cls(workdir / "bench.db", password)


def stop_group(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process group a benchmark started (its server and any children), SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except ProcessLookupError:
        return  # already gone


class ApiProcess:
    def __init__(
        self, workdir: Path, accounts: AccountTemplate, env: Mapping[str, str] | None = None, workers: int = 1
    ) -> None:
        self.workdir = workdir
        self.workers = workers
        self.accounts = accounts
        self.env_overrides = dict(env or {})
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0
        self.listening_seconds = 0.0  # first HTTP answer of any status (the crew may still be loading)
        self._tokens: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "start() first"
        return self.process.pid

    def start(self) -> ApiProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.accounts.path.exists():  # a SQLite template; a PostgreSQL one is named in the env instead
            shutil.copyfile(self.accounts.path, self.workdir / "bench.db")
        env = base_env(self.workdir, self.env_overrides)
        log = (self.workdir / "serve.log").open("wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            [*cli(), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, started: float) -> None:
        readiness = wait_ready(self.base_url, self.process, READY_TIMEOUT_SECONDS, started=started, log=self.log_tail)
        self.listening_seconds, self.ready_seconds = readiness.listening_seconds, readiness.ready_seconds

    def log_tail(self, chars: int = 1500) -> str:
        path = self.workdir / "serve.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def token(self, username: str) -> str:
        if username not in self._tokens:
            response = httpx.post(
                f"{self.base_url}/auth/token",
                timeout=30.0,
                data={"username": username, "password": self.accounts.password},
            )
            response.raise_for_status()
            self._tokens[username] = str(response.json()["access_token"])
        return self._tokens[username]

    def sample(self) -> ProcSample:
        return sample(self.pid)

    def tree(self) -> list[int]:
        return tree(self.pid)

    def stop(self) -> None:
        stop_group(self.process)

    def __enter__(self) -> ApiProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def minted_integrator_token(db_url: str, secret: str, algorithm: str = "HS256") -> str:
    """Migrate `db_url`, add an integrator account `bench` that no password opens, and sign its token
    directly with `secret` (the in-process benchmarks skip /auth/token: argon2 is a per-login cost)."""
    from desk.db import make_engine, make_session_factory, upgrade_database
    from desk.models import Account
    from security.tokens import create_access_token

    upgrade_database(db_url)
    engine = make_engine(db_url)
    with make_session_factory(engine).begin() as session:
        session.add(Account(username="bench", password_hash="!", role="integrator"))  # noqa: S106
    engine.dispose()
    token, _ = create_access_token(
        subject="bench", role="integrator", customer_id=None, secret=secret, algorithm=algorithm, expires_minutes=60
    )
    return token
