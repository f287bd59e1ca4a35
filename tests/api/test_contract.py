"""The OpenAPI document is true: schemathesis (all checks, every phase, a bounded number of examples) runs
in-process against the app (ASGI) as an integrator with a valid token, on SQLite and on PostgreSQL where it
is reachable, and finds 0 server errors and 0 failed checks. Plus the document's promises one by one."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crew.models import Citation
from security.sanitize import clean_text
from tests.api.conftest import make_settings
from tests.api.fakes import FakeCrew

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency (pip install -e '.[dev]')")

MakeAccount = Callable[..., dict[str, str]]
# Per operation and phase. With ~25 operations and four phases this is a few thousand requests, ~30 s.
MAX_EXAMPLES = 15
SEED = 20261123


@dataclass
class RunReport:
    cases: int = 0
    responses: Counter[int] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    excused: int = 0  # messages empty once sanitised (see filter_failure)
    errors: list[str] = field(default_factory=list)
    stop_reason: str = ""

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.responses.items() if status >= 500)

    def summary(self) -> str:
        return (
            f"{self.cases} cases, {sum(self.responses.values())} responses, {self.server_errors} server errors, "
            f"{sum(self.checks.values())} checks run, {len(self.failures)} failed ({self.excused} empty-message 422s "
            f"excused); statuses {dict(sorted(self.responses.items()))}"
        )


def _describe(recorder: Any, case_id: str, node: Any) -> str:
    failure = node.failure_info.failure
    line = f"{recorder.label}: {node.name}: {failure.title}"
    interaction = recorder.interactions.get(case_id)
    if interaction is not None:
        request, response = interaction.request, interaction.response
        body = (request.body or b"")[:160]
        answer = response.content[:160] if response is not None else b""
        line += f"\n    {request.method} {request.uri} {body!r} -> {getattr(response, 'status_code', '-')} {answer!r}"
    return line


def _empty_once_cleaned(case: Any, response: Any) -> bool:
    body = case.body if isinstance(case.body, dict) else {}
    text = body.get("message", body.get("text"))
    try:
        errors = response.json().get("errors", [])
    except ValueError:
        return False
    named = [e.get("field") for e in errors] in (["message"], ["text"])
    return response.status_code == 422 and named and isinstance(text, str) and not clean_text(text).text


def integrator_view(document: dict[str, Any]) -> dict[str, Any]:
    """The document as it reads for an integrator: `customer_id` of a support request is required (its
    description says so; the role comes from the token, so the served document cannot say it per role)."""
    body = document["components"]["schemas"]["SupportRequestIn"]
    assert "Required for integrator accounts" in body["properties"]["customer_id"]["description"]
    pattern = body["properties"]["customer_id"]["anyOf"][0]["pattern"]
    body["properties"]["customer_id"] = {"type": "string", "pattern": pattern}
    body.setdefault("required", []).append("customer_id")
    return document


def run_schemathesis(client: TestClient, headers: dict[str, str]) -> RunReport:
    """The engine the `schemathesis run` command drives (every phase and check), on the ASGI app in this
    process: the document is read from the app, and each request goes to the app without a socket."""
    from schemathesis.engine import events, from_schema

    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "continue-on-failure": True,
            "workers": 1,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "cache": {"enabled": False},
            # The case event stream stays open `wait` seconds (up to 300) by design: keep each one short.
            "parameters": {"wait": 0.05},
        }
    )
    schema = schemathesis.openapi.from_dict(integrator_view(client.get("/openapi.json").json()), config=config)
    schema.app = client.app  # as `schemathesis.openapi.from_asgi` does: calls go to the app in-process

    @schema.hook
    def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
        # Keep every failure but one kind: a "valid" message the document's own words reject, namely text that
        # is empty once the desk's sanitiser is through (the pattern cannot express all of it). The desk's
        # real sanitiser decides, so a 422 for any other reason still fails the run.
        return not (type(failure).__name__ == "RejectedPositiveData" and _empty_once_cleaned(case, response))

    report = RunReport()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            recorder = event.recorder
            report.cases += len(recorder.cases)
            report.excused += sum(recorder.filtered_failures.values())
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    report.responses[interaction.response.status_code] += 1
            for case_id, nodes in recorder.checks.items():
                for node in nodes:
                    report.checks[node.name] += 1
                    if node.failure_info is not None:
                        report.failures.append(_describe(recorder, case_id, node))
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            report.stop_reason = str(event.stop_reason)
    return report


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_failed_check(
    database_url: str, tmp_path: Path, client_for: Callable[..., TestClient], make_account: MakeAccount
) -> None:
    # Limits high enough that the run measures the contract, not the per-customer limit (429s are documented).
    settings = make_settings(tmp_path, database_url=database_url, rate_limit_per_minute=100_000)
    # The real crew cites real articles (KB-nnn), which the stateful phase then reads from /kb/articles.
    crew = FakeCrew(citations=(Citation(article_id="KB-003", title="Refund policy and what can be refunded"),))
    client = client_for(settings, crew)
    headers = make_account(client, "shop", "integrator")
    started = time.perf_counter()
    report = run_schemathesis(client, headers)
    took = time.perf_counter() - started
    sys.stdout.write(f"schemathesis on {database_url.split(':')[0]}: {report.summary()} in {took:.1f}s\n")  # -s
    assert report.stop_reason == "completed"
    assert not report.errors, report.errors
    assert report.cases > 500 and sum(report.checks.values()) > 0
    assert report.server_errors == 0, report.summary()
    assert report.failures == [], "\n".join(sorted(set(report.failures)))


def test_every_error_response_has_the_desks_error_body(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["ErrorOut"]["required"]) == {"detail", "code", "request_id"}
    assert schemas["ErrorOut"]["properties"]["detail"]["type"] == "string"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and not (path == "/readyz" and status == "503"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorOut", (method, path, status)
            if operation.get("security"):
                assert "401" in operation["responses"], (method, path)


def test_the_422_body_matches_the_document(client: TestClient, make_account: MakeAccount) -> None:
    headers = make_account(client, "shop", "integrator")
    body = client.post("/support/request", json={"message": 5}, headers=headers).json()
    assert isinstance(body["detail"], str) and body["code"] == "validation_error"
    assert body["errors"] == [{"field": "message", "message": "Input should be a valid string"}]


def test_customer_id_is_documented_as_required_for_integrators(client: TestClient, make_account: MakeAccount) -> None:
    document = client.get("/openapi.json").json()
    field_doc = document["components"]["schemas"]["SupportRequestIn"]["properties"]["customer_id"]
    assert "Required for integrator accounts" in field_doc["description"]
    integrator = make_account(client, "shop", "integrator")
    customer = make_account(client, "alice", "customer", "cust-a")
    missing = client.post("/support/request", json={"message": "refund please"}, headers=integrator)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "customer_id"
    assert client.post("/support/request", json={"message": "refund please"}, headers=customer).status_code == 200


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PUT", "DELETE", "CONNECT"])
def test_unsupported_methods_are_405_with_allow(client: TestClient, method: str) -> None:
    response = client.request(method, "/support/cases")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET"}
    both = client.request(method, "/admin/accounts")  # two routes on one path: both methods
    assert set(both.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_documented_statuses_of_a_support_request(client: TestClient) -> None:
    operation: dict[str, Any] = client.get("/openapi.json").json()["paths"]["/support/request"]["post"]
    assert {"401", "403", "413", "422", "429", "502", "503"} <= set(operation["responses"])
    assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
