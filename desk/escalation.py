"""The seam for emergencies. After an emergency case is stored (and before the crew runs, so paging never
waits on a model), the support flow calls `EscalationHook.on_emergency`. On-call paging
(`desk/oncall/pager.py`) is the hook the app uses; tests pass their own through `create_app(escalation_hook=...)`."""

from __future__ import annotations

from typing import Protocol


class EscalationHook(Protocol):
    def on_emergency(self, case_id: str, *, customer_id: str, auto: bool) -> bool:
        """Queue the page; True when it is queued (the reply may then say on-call is being paged)."""
        ...
