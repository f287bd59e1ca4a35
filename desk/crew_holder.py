"""Holds the crew of this process: passed in (tests, benchmarks) or built once in a background thread at
startup, because importing crewai takes seconds and /healthz should answer meanwhile."""

from __future__ import annotations

import logging
import threading

from crew.models import SupportCrew
from desk.errors import ServiceUnavailable
from desk.settings import Settings

logger = logging.getLogger(__name__)


class CrewHolder:
    def __init__(self, crew: SupportCrew | None) -> None:
        self._crew = crew
        self._loaded = threading.Event()
        if crew is not None:
            self._loaded.set()

    @property
    def ready(self) -> bool:
        return self._crew is not None

    @property
    def loading(self) -> bool:
        return not self._loaded.is_set()

    def get(self) -> SupportCrew:
        if self._crew is None:
            raise ServiceUnavailable(code="crew_not_ready")
        return self._crew

    def wait(self, timeout: float) -> bool:
        return self._loaded.wait(timeout) and self.ready

    def start_loading(self, settings: Settings) -> None:
        if self._crew is None:
            threading.Thread(target=self._load, args=(settings,), name="crew-loader", daemon=True).start()

    def _load(self, settings: Settings) -> None:
        try:
            # Imported here, not at module level: crewai is heavy and tests pass a fake crew.
            from crew.service import SupportDesk
            from desk.injection_guard import hosted_policy  # guard: redaction and canary of hosted calls

            self._crew = SupportDesk.from_config(settings.crew_config(), hosted_policy=hosted_policy(settings))
            logger.info("crew loaded")
        except Exception:
            # /readyz reports the failure; the traceback goes to the log, never to a client.
            logger.exception("the crew could not be loaded")
        finally:
            self._loaded.set()
