"""Holds the crew of this process: passed in (tests, benchmarks) or built once in a background thread at
startup, because importing crewai takes seconds and /healthz should answer meanwhile.

A request that arrives while the crew is loading waits for it (CREW_LOAD_WAIT_SECONDS) rather than failing:
several processes behind one socket (`serve --workers N`) or a restarted process get requests before a
load balancer could know they are not ready."""

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

    def provide(self, crew: SupportCrew) -> None:
        """The crew is built: requests waiting for it go on."""
        self._crew = crew
        self._loaded.set()

    def start_loading(self, settings: Settings) -> None:
        if self._crew is None:
            threading.Thread(target=self._load, args=(settings,), name="crew-loader", daemon=True).start()

    def _load(self, settings: Settings) -> None:
        try:
            # Imported here, not at module level: crewai is heavy and tests pass a fake crew.
            from crew.service import SupportDesk
            from desk.injection_guard import hosted_policy  # guard: redaction and canary of hosted calls

            self.provide(SupportDesk.from_config(settings.crew_config(), hosted_policy=hosted_policy(settings)))
            logger.info("crew loaded")
        except Exception:
            # /readyz reports the failure; the traceback goes to the log, never to a client.
            logger.exception("the crew could not be loaded")
        finally:
            self._loaded.set()
