from pathlib import Path

import pytest

from desk.settings import Settings
from web_interface.settings import WebSettings

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_setting_of_the_desk_and_the_web_app() -> None:
    listed = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / "env_example.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    names = {*Settings.model_fields, *WebSettings.model_fields}
    assert {name.upper() for name in names} == listed


def test_placeholder_secret_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(app_env="production", secret_key="change-me")


def test_placeholder_secret_allowed_in_development() -> None:
    assert Settings(app_env="development", secret_key="change-me").algorithm == "HS256"


def test_env_example_values_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in (ROOT / "env_example.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    assert Settings(_env_file=None).rate_limit_per_minute == 60


def test_database_pool_is_sized_for_the_process_unless_the_operator_sets_it() -> None:
    assert Settings(_env_file=None).database_pool(2) == (2, 2)
    assert Settings(_env_file=None, database_pool_size=5).database_pool(2) == (5, 5)
    fixed = Settings(_env_file=None, database_pool_size=5, database_max_overflow=0)
    assert fixed.database_pool(20) == (5, 0)
