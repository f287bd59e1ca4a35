"""The Metrics page (web_interface/app_pages/metrics.py) through the app's navigation, with the metrics
fetch replaced: tiles, charts and the CSV download for staff; nothing for customers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.web.conftest import WEB
from tests.web.fakes import auth_session
from web_interface import metrics_view
from web_interface.api_client import ForbiddenError, Role
from web_interface.settings import WebSettings

pytestmark = pytest.mark.usefixtures("web_settings", "fake_api")
PAGE = "app_pages/metrics.py"


def row(dimension: str, key: str, **values: Any) -> dict[str, Any]:
    return {"dimension": dimension, "key": key, "cases": 2, **values}


METRICS = metrics_view.Metrics.model_validate(
    {
        "since": datetime(2026, 3, 1, tzinfo=UTC),
        "until": datetime(2026, 3, 4, 8, tzinfo=UTC),
        "overall": row(
            "all",
            "all",
            first_response_avg_seconds=1810.0,
            automation_rate=0.4,
            sla_met_rate=0.4444,
            handoff_rate=0.4,
            reopen_rate=0.5,
            resolution_avg_seconds=7200.0,
        ),
        "by_route": [row("route", "billing", automation_rate=1.0), row("route", "technical", handoff_rate=0.5)],
        "by_priority": [row("priority", "urgent", sla_met_rate=0.0)],
        "by_day": [row("day", "2026-03-02", automation_rate=0.6667), row("day", "2026-03-03", automation_rate=0.0)],
    }
)


def open_page(role: Role) -> AppTest:
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    at.session_state["auth"] = auth_session(role)
    at.run()
    return at.switch_page(PAGE).run()


def test_staff_see_tiles_charts_and_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    monkeypatch.setattr(metrics_view, "fetch_metrics", lambda settings, token, days: asked.append(days) or METRICS)
    monkeypatch.setattr(metrics_view, "fetch_csv", lambda settings, token, days: b"dimension,key\n")
    at = open_page(Role.STAFF)
    assert not at.exception
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["First response (avg)"] == "30 min" and tiles["Resolution (avg)"] == "2.0 h"
    assert tiles["Automated"] == "40%" and tiles["SLA met"] == "44%" and tiles["Reopened"] == "50%"
    assert asked == [30]
    assert [s.value for s in at.subheader] == ["Per day", "Per route", "Per priority"]


def test_customers_get_no_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_view, "fetch_metrics", lambda *a: pytest.fail("fetched for a customer"))
    at = AppTest.from_file(str(WEB / "app_pages" / "metrics.py"), default_timeout=20)
    at.session_state["auth"] = auth_session(Role.CUSTOMER)
    at.run()
    assert not at.exception and "sign in as staff" in at.info[0].value


def test_an_api_refusal_is_shown_as_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise ForbiddenError()

    monkeypatch.setattr(metrics_view, "fetch_metrics", refuse)
    at = open_page(Role.STAFF)
    assert not at.exception and at.error


def test_fetch_reads_the_status_metrics_and_maps_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer t" and request.url.params["days"] == "7"
        if request.url.path == "/support/metrics.csv":
            return httpx.Response(200, content=b"dimension,key\nall,all\n")
        return httpx.Response(200, json={"agents": [], "metrics": METRICS.model_dump(mode="json")})

    real_client = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real_client(transport=httpx.MockTransport(handler), **kw))
    settings = WebSettings(_env_file=None)  # type: ignore[call-arg]
    assert metrics_view.fetch_metrics(settings, "t", 7) == METRICS
    assert metrics_view.fetch_csv(settings, "t", 7).startswith(b"dimension")
    day = metrics_view.rates(METRICS.by_day).loc["2026-03-02"]
    assert day["Automated"] == pytest.approx(66.67) and math.isnan(day["Handed to a person"])
    assert metrics_view.times(METRICS.by_route).shape == (2, 2)
