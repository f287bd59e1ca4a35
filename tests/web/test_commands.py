"""`support-desk ui` starts Streamlit headless, without telemetry or the external-IP lookup."""

from __future__ import annotations

from web_interface.commands import APP_PATH, streamlit_command


def test_ui_runs_the_packaged_app_headless_and_quiet() -> None:
    command = streamlit_command(8601, "localhost")
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert command[2:5] == ["streamlit", "run", str(APP_PATH)] and APP_PATH.is_file()
    assert options["--server.port"] == "8601"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--browser.serverAddress"] == "localhost"  # no checkip.amazonaws.com lookup
