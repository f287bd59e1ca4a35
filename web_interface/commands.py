"""`support-desk ui`: start the Streamlit web interface.

Streamlit is started as its own process (`python -m streamlit run`), headless, with usage statistics off,
so the app never opens a browser on the server or talks to anything but the API. It listens on `WEB_HOST`
(127.0.0.1 unless set, like the API's `API_HOST`): set `WEB_HOST=0.0.0.0` to serve other machines.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from web_interface.settings import get_settings

APP_PATH = Path(__file__).resolve().parent / "app.py"
PRIMARY_COLOUR = "#1d4ed8"


def streamlit_command(port: int, public_host: str, address: str = "127.0.0.1") -> list[str]:
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
        # Always named: Streamlit's own default is every interface.
        "--server.address",
        address,
        # A calm blue for buttons and the selected case instead of Streamlit's red, which reads as an alarm.
        "--theme.primaryColor",
        PRIMARY_COLOUR,
    ]
    return command


def ui(args: argparse.Namespace) -> int:
    settings = get_settings()
    port = args.port or settings.web_port
    public_host = urlsplit(settings.public_base_url).hostname or "localhost"
    try:
        # Fixed argument list built above, no shell: nothing from a user reaches the command line.
        address = getattr(args, "address", None) or settings.web_host
        return subprocess.call(streamlit_command(port, public_host, address))  # noqa: S603
    except KeyboardInterrupt:
        return 0
