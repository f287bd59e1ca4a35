"""Crew test fixtures: one local-model `SupportDesk` per session (importing crewai costs ~5 s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crew.config import CrewConfig


def crew_config(storage_dir: Path, **overrides: Any) -> CrewConfig:
    """The config of a desk under test: CrewAI's storage in a temporary directory, local models by default."""
    return CrewConfig(storage_dir=storage_dir, **overrides)


@pytest.fixture(scope="session")
def crew_storage_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crewai-storage")


@pytest.fixture(scope="session")
def local_desk(crew_storage_dir: Path):  # type: ignore[no-untyped-def]
    from crew.service import SupportDesk

    return SupportDesk.from_config(crew_config(crew_storage_dir))
