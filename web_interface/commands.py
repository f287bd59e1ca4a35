"""`support-desk ui`: start the Streamlit web interface.

Streamlit is started as its own process (`python -m streamlit run`), headless, with usage statistics off,
so the form never opens a browser on the server or talks to anything but the API.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from crew.settings import get_settings

APP_PATH = Path(__file__).resolve().parent / "app.py"


def streamlit_command(port: int, address: str | None = None) -> list[str]:
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
    ]
    if address:
        command += ["--server.address", address]
    return command


def ui(args: argparse.Namespace) -> int:
    port = args.port or get_settings().web_port
    address = getattr(args, "address", None)
    try:
        # Fixed argument list built above, no shell: nothing from a user reaches the command line.
        return subprocess.call(streamlit_command(port, address))  # noqa: S603
    except KeyboardInterrupt:
        return 0
