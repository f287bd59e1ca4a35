"""The web interface is a plain HTTP client of the API: it imports nothing of `api/`, `desk/` or `crew/`."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from pydantic import SecretStr

from tests.web.conftest import WEB
from web_interface.settings import WebSettings

SERVER_PACKAGES = frozenset({"api", "desk", "crew", "bench", "cli"})


def _imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_no_module_of_the_web_interface_imports_the_server_packages() -> None:
    files = sorted(WEB.rglob("*.py"))
    assert len(files) > 5
    offending = [
        f"{path.relative_to(WEB.parent)}: {name}"
        for path in files
        for name in _imported_modules(ast.parse(path.read_text(), str(path)))
        if name.split(".")[0] in SERVER_PACKAGES
    ]
    assert offending == []


def test_importing_the_web_interface_loads_none_of_the_server_packages() -> None:
    # A fresh interpreter: this test process has the server packages loaded by other tests.
    code = (
        "import sys\n"
        "import web_interface.app, web_interface.commands, web_interface.components, web_interface.session\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(SERVER_PACKAGES)!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=WEB.parent, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_web_settings_read_the_desks_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "API_BASE_URL": "http://api.internal:9000",
        "API_TIMEOUT_SECONDS": "7.5",
        "WEB_PORT": "8601",
        "PUBLIC_BASE_URL": "https://help.example.com",
        "WEB_CLIENT_USERNAME": "web",
        "WEB_CLIENT_PASSWORD": "web-password",
        "MAX_MESSAGE_LENGTH": "900",
        "SECRET_KEY": "not-a-web-setting",  # the desk's settings are ignored, not an error
    }.items():
        monkeypatch.setenv(name, value)
    config = WebSettings(_env_file=None)  # type: ignore[call-arg]
    assert config.api_base_url == "http://api.internal:9000"
    assert config.api_timeout_seconds == 7.5
    assert config.web_port == 8601
    assert config.public_base_url == "https://help.example.com"
    assert config.web_client_username == "web"
    assert config.web_client_password == SecretStr("web-password")
    assert config.max_message_length == 900
    assert not hasattr(config, "secret_key")
