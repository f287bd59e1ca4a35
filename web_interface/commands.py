"""`support-desk ui`: start the Streamlit web interface.

Streamlit is started as its own process (`python -m streamlit run`), headless, with usage statistics off,
so the form never opens a browser on the server or talks to anything but the API.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from web_interface.settings import get_settings

APP_PATH = Path(__file__).resolve().parent / "app.py"


def streamlit_command(port: int, public_host: str, address: str | None = None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # The app is plain pages; watching the source tree only costs inotify handles in production.
        "--server.fileWatcherType",
        "none",
        "--global.developmentMode",
        "false",
        # Customers and staff get no developer menu (deploy, rerun, clear cache).
        "--client.toolbarMode",
        "viewer",
        # Naming the address people browse to stops Streamlit from asking a public service
        # (checkip.amazonaws.com) for this machine's external IP when it prints its URL.
        "--browser.serverAddress",
        public_host,
    ]
    if address:
        command += ["--server.address", address]
    return command


def ui(args: argparse.Namespace) -> int:
    settings = get_settings()
    port = args.port or settings.web_port
    public_host = urlsplit(settings.public_base_url).hostname or "localhost"
    try:
        # Fixed argument list built above, no shell: nothing from a user reaches the command line.
        return subprocess.call(streamlit_command(port, public_host, getattr(args, "address", None)))  # noqa: S603
    except KeyboardInterrupt:
        return 0
