"""The support metrics for the web app's Metrics page: fetched from the API over HTTP (`GET /support/status`'s
`metrics`, and `GET /support/metrics.csv` for the download), shaped into tables for the charts.

Kept apart from api_client.py so the page stays one new file plus this helper; tests replace `fetch_metrics`
and `fetch_csv`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from web_interface.api_client import ServiceUnavailableError, UnexpectedResponseError, error_from_response
from web_interface.settings import WebSettings

RATES = {
    "automation_rate": "Automated",
    "handoff_rate": "Handed to a person",
    "reopen_rate": "Reopened",
    "sla_met_rate": "SLA met",
}
TIMES = {"first_response_avg_seconds": "First response", "resolution_avg_seconds": "Resolution"}


class MetricRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dimension: str
    key: str
    cases: int = 0
    responded: int = 0
    first_response_avg_seconds: float | None = None
    resolved: int = 0
    resolution_avg_seconds: float | None = None
    automated: int = 0
    automation_rate: float | None = None
    handed_off: int = 0
    handoff_rate: float | None = None
    ever_resolved: int = 0
    reopened: int = 0
    reopen_rate: float | None = None
    sla_decided: int = 0
    sla_met: int = 0
    sla_met_rate: float | None = None


class Metrics(BaseModel):
    model_config = ConfigDict(extra="ignore")

    since: datetime
    until: datetime
    overall: MetricRow
    by_route: list[MetricRow] = []
    by_priority: list[MetricRow] = []
    by_day: list[MetricRow] = []


def _get(settings: WebSettings, token: str, path: str, params: dict[str, Any]) -> httpx.Response:
    try:
        with httpx.Client(base_url=settings.api_base_url, timeout=settings.api_timeout_seconds) as client:
            response = client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise ServiceUnavailableError() from exc
    if response.is_error:
        raise error_from_response(response, optional_route=True)
    return response


def fetch_metrics(settings: WebSettings, token: str, days: int) -> Metrics | None:
    """The metrics of the last `days` days; None from an API without them."""
    data = _get(settings, token, "/support/status", {"days": days}).json()
    if not isinstance(data, dict) or not data.get("metrics"):
        return None
    try:
        return Metrics.model_validate(data["metrics"])
    except ValidationError as exc:
        raise UnexpectedResponseError("The support service sent metrics this page cannot read.") from exc


def fetch_csv(settings: WebSettings, token: str, days: int) -> bytes:
    return _get(settings, token, "/support/metrics.csv", {"days": days}).content


def rates(rows: list[MetricRow]) -> pd.DataFrame:
    """Percentages (0-100) by key, one column per rate; a rate with nothing to count is left empty."""
    table = pd.DataFrame(
        {
            label: [getattr(r, name) * 100 if getattr(r, name) is not None else None for r in rows]
            for name, label in RATES.items()
        },
        index=[r.key for r in rows],
    )
    return table.astype("float64")


def times(rows: list[MetricRow]) -> pd.DataFrame:
    """Average first-response and resolution times in minutes, by key."""
    table = pd.DataFrame(
        {
            label: [getattr(r, name) / 60 if getattr(r, name) is not None else None for r in rows]
            for name, label in TIMES.items()
        },
        index=[r.key for r in rows],
    )
    return table.astype("float64")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
