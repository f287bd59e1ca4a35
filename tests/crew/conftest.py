"""Crew test fixtures: one local-model `SupportDesk` per session (importing crewai costs ~5 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from desk.settings import Settings


def desk_settings(storage_dir: Path, **overrides: object) -> Settings:
    """Settings for a desk under test: CrewAI's storage in a temporary directory, local models by default."""
    return Settings(app_env="development", crewai_storage_dir=storage_dir, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def crew_storage_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crewai-storage")


@pytest.fixture(scope="session")
def local_desk(crew_storage_dir: Path):  # type: ignore[no-untyped-def]
    from crew.service import SupportDesk

    return SupportDesk.from_settings(desk_settings(crew_storage_dir))
