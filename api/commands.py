"""Sub-commands of `support-desk` that run the API: serve, and run (API, web app and, with a broker, a worker).
Each takes the parsed arguments and returns an exit code. (Storage commands live in desk/commands.py.)"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import time
from types import FrameType

import httpx

from desk.console import err as _err
from desk.console import out as _out
from desk.settings import get_settings

logger = logging.getLogger(__name__)
READY_TIMEOUT_SECONDS = 180.0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from desk.db import upgrade_database

    settings = get_settings()
    if args.workers > 1 and settings.rate_limit_storage_uri.startswith("memory://"):
        # memory:// counts in each process: with N workers every customer would get N times its limit.
        _err(
            f"--workers {args.workers} needs limits shared between the processes: set "
            "RATE_LIMIT_STORAGE_URI=redis://HOST:6379/0 (memory:// limits are per process)"
        )
        return 2
    # Migrate once here, in the parent, so several workers never race on the schema.
    upgrade_database(settings.database_url)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        # uvicorn's access log prints every request line with its query string (an e-mail address in a
        # search, say) to the console; the desk writes its own, without query strings (api/middleware.py).
        access_log=False,
        # The client address comes from TRUSTED_PROXIES in our middleware, not from uvicorn's own
        # X-Forwarded-For handling (which trusts 127.0.0.1 by default).
        proxy_headers=False,
    )
    return 0


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                if client.get(url).status_code == 200:
                    return True
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.25)
    return False


def run_all(args: argparse.Namespace) -> int:
    """Start the API and the web app as child processes; forward SIGINT/SIGTERM; stop both together."""
    settings = get_settings()
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    ui_port = args.ui_port or settings.web_port
    cli = [sys.executable, "-m", "cli.main"]
    api = subprocess.Popen([*cli, "serve", "--host", host, "--port", str(port)])  # noqa: S603 - our own CLI
    ui = subprocess.Popen([*cli, "ui", "--port", str(ui_port)])  # noqa: S603
    children: tuple[subprocess.Popen[bytes], ...] = (api, ui)
    if settings.celery_broker_url:
        # A broker is configured: the crews run on a worker (README, "Workers and jobs"); start one beside.
        children = (*children, subprocess.Popen([*cli, "worker"]))  # noqa: S603

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if _wait_ready(f"http://{host}:{port}/readyz", api, READY_TIMEOUT_SECONDS):
            _out(f"API ready:      http://{host}:{port}  (docs: http://{host}:{port}/docs)")
            _out(f"Web app:        http://127.0.0.1:{ui_port}  (WEB_HOST sets its address)")
            if settings.celery_broker_url:
                _out("Crew jobs:      a Celery worker on CELERY_BROKER_URL")
        else:
            _err("the API did not become ready; see the log above")
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    codes = [child.returncode for child in children]
    return next((code for code in codes if code not in (0, -signal.SIGTERM, -signal.SIGINT)), 0)
