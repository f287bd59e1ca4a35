"""The seam for emergencies. After an emergency case is stored (and before the crew runs, so paging never
waits on a model), the support flow calls `EscalationHook.on_emergency`. The default does nothing beyond a
log line; on-call paging (`desk/oncall/`) provides a real hook through `create_app(escalation_hook=...)`."""

from __future__ import annotations

import logging
from typing import Protocol

logger = logging.getLogger(__name__)


class EscalationHook(Protocol):
    def on_emergency(self, case_id: str, *, customer_id: str, auto: bool) -> None: ...


class LogOnlyEscalation:
    def on_emergency(self, case_id: str, *, customer_id: str, auto: bool) -> None:
        logger.warning("emergency case %s stored (auto=%s); no on-call paging configured", case_id, auto)
