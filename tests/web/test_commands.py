"""`support-desk ui` starts Streamlit headless, on loopback unless told, without telemetry or the external-IP lookup."""

from __future__ import annotations

import argparse
import subprocess

import pytest

from web_interface import commands
from web_interface.commands import APP_PATH, streamlit_command
from web_interface.settings import WebSettings


def _options(command: list[str]) -> dict[str, str]:
    return dict(zip(command[5::2], command[6::2], strict=True))


def test_ui_runs_the_packaged_app_headless_and_quiet() -> None:
    command = streamlit_command(8601, "localhost")
    options = _options(command)
    assert command[2:5] == ["streamlit", "run", str(APP_PATH)] and APP_PATH.is_file()
    assert options["--server.port"] == "8601"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--browser.serverAddress"] == "localhost"  # no checkip.amazonaws.com lookup
    assert options["--server.address"] == "127.0.0.1"  # Streamlit's own default is every interface


def test_ui_binds_to_web_host(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", lambda command: started.append(command) or 0)
    monkeypatch.setattr(commands, "get_settings", lambda: WebSettings(_env_file=None))  # type: ignore[call-arg]
    assert commands.ui(argparse.Namespace(port=None)) == 0
    assert _options(started[-1])["--server.address"] == "127.0.0.1"
    assert _options(started[-1])["--server.port"] == "8501"
    monkeypatch.setattr(commands, "get_settings", lambda: WebSettings(_env_file=None, web_host="0.0.0.0"))  # type: ignore[call-arg]
    commands.ui(argparse.Namespace(port=9000))
    assert _options(started[-1])["--server.address"] == "0.0.0.0"
    assert _options(started[-1])["--server.port"] == "9000"
