"""The crew is built from a `CrewConfig` and imports nothing of the layers above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from crew.config import CrewConfig
from desk.settings import Settings

CREW_DIR = Path(__file__).resolve().parents[2] / "crew"
LAYERS_ABOVE = ("desk", "api", "bench", "cli", "web_interface")


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_crew_imports_nothing_of_the_layers_above_it() -> None:
    offenders = {
        str(path.relative_to(CREW_DIR.parent)): sorted(
            name for name in _imported_modules(path) if name.split(".")[0] in LAYERS_ABOVE
        )
        for path in CREW_DIR.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_desk_settings_map_onto_the_crew_config(tmp_path: Path) -> None:
    settings = Settings(
        support_llm_model="openai/gpt-4o-mini",
        support_classifier_model="hosted_vllm/tiny",
        support_llm_base_url="http://127.0.0.1:9/v1",
        support_llm_api_key=SecretStr("k-123"),
        support_llm_timeout_seconds=7.5,
        support_llm_max_retries=3,
        complex_confidence_threshold=0.3,
        local_crew_concurrency=5,
        crewai_storage_dir=tmp_path,
    )
    config = settings.crew_config()
    assert config == CrewConfig(
        specialist_model="openai/gpt-4o-mini",
        classifier_model="hosted_vllm/tiny",
        base_url="http://127.0.0.1:9/v1",
        api_key=SecretStr("k-123"),
        timeout_seconds=7.5,
        max_retries=3,
        complex_confidence_threshold=0.3,
        local_crew_concurrency=5,
        storage_dir=tmp_path,
    )
    assert not config.uses_local_classifier and not config.uses_local_specialists
    assert "k-123" not in repr(config)


def test_default_settings_give_the_default_crew_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # A crew built from `CrewConfig()` (benchmarks, tests) is the crew a default deployment runs.
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)  # e.g. CREWAI_STORAGE_DIR, which load_crewai sets
    assert Settings(_env_file=None).crew_config() == CrewConfig()  # type: ignore[call-arg]


def test_the_config_is_frozen_and_checked() -> None:
    config = CrewConfig()
    with pytest.raises(ValidationError):
        config.max_retries = 5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        CrewConfig(complex_confidence_threshold=1.5)
    with pytest.raises(ValidationError):
        CrewConfig(support_llm_model="openai/x")  # type: ignore[call-arg]
