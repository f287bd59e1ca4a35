"""SLA and customer context over HTTP: the customers admin API, what staff (and only staff) see beside a case,
the queue sorted by time to breach, `sla` events on the case stream, metrics in /support/status and as CSV,
and `support-desk customers import`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from desk.models import Customer, utcnow
from tests.api.conftest import make_settings
from tests.api.fakes import FakeCrew
from tests.cli_runner import run_cli
from tests.sla.conftest import policy_file, seed

MakeAccount = Callable[..., dict[str, str]]
M, H = timedelta(minutes=1), timedelta(hours=1)


def quiet_client(client_for: Callable[..., TestClient], tmp_path: Path, **overrides: Any) -> TestClient:
    """An app whose SLA sweeper thread does not run: the tests sweep by hand when they want to."""
    return client_for(make_settings(tmp_path, sla_sweeper_enabled=False, **overrides), FakeCrew())


def sessions(client: TestClient) -> Any:
    return SimpleNamespace(session_factory=client.app.state.session_factory)  # type: ignore[attr-defined]


def test_customers_admin_api(client_for: Callable[..., TestClient], make_account: MakeAccount, tmp_path: Path) -> None:
    client = quiet_client(client_for, tmp_path)
    admin, staff = make_account(client, "root", "admin"), make_account(client, "sam", "staff")
    created = client.put("/admin/customers/cust-1", json={"name": "Ada <b>L</b>", "tier": "premium"}, headers=admin)
    assert created.status_code == 201
    assert created.json() | {"created_at": None, "updated_at": None} == {
        "id": "cust-1",
        "name": "Ada L",
        "tier": "premium",
        "plan": None,
        "locale": None,
        "created_at": None,
        "updated_at": None,
    }
    updated = client.put("/admin/customers/cust-1", json={"plan": "business", "locale": "en-GB"}, headers=admin)
    assert updated.status_code == 200 and (updated.json()["tier"], updated.json()["plan"]) == ("premium", "business")
    client.put("/admin/customers/cust-2", json={"name": "Bo"}, headers=admin)
    assert client.get("/admin/customers/cust-1", headers=admin).json()["locale"] == "en-GB"
    listed = client.get("/admin/customers", params={"tier": "standard"}, headers=admin).json()
    assert [c["id"] for c in listed["items"]] == ["cust-2"] and listed["total"] == 1
    assert client.get("/admin/customers", headers=admin).json()["total"] == 2

    missing = client.get("/admin/customers/nobody", headers=admin)
    assert missing.status_code == 404 and missing.json()["code"] == "customer_not_found"
    unknown_tier = client.put("/admin/customers/cust-1", json={"tier": "gold"}, headers=admin)
    assert unknown_tier.status_code == 422 and unknown_tier.json()["errors"][0]["field"] == "tier"
    bad_locale = client.put("/admin/customers/cust-1", json={"locale": "english please"}, headers=admin)
    assert bad_locale.status_code == 422
    assert client.put("/admin/customers/cust-1", json={"tier": "standard", "x": 1}, headers=admin).status_code == 422
    assert client.get("/admin/customers", headers=staff).status_code == 403
    assert client.put("/admin/customers/cust-9", json={}, headers=staff).status_code == 403
    audit = [line for line in client.app.state.settings.audit_log_file.read_text().splitlines() if "customer_" in line]  # type: ignore[attr-defined]
    assert len(audit) == 3 and "Ada" not in "".join(audit)


def test_staff_see_the_customer_clocks_and_notes_beside_the_thread_customers_do_not(
    client_for: Callable[..., TestClient], make_account: MakeAccount, tmp_path: Path
) -> None:
    client = quiet_client(client_for, tmp_path)
    alice = make_account(client, "alice", "customer", "cust-a")
    staff, admin = make_account(client, "sam", "staff"), make_account(client, "root", "admin")
    client.put("/admin/customers/cust-a", json={"name": "Alice A", "tier": "premium", "plan": "team"}, headers=admin)
    earlier = client.post("/support/request", json={"message": "Invoice for March is wrong"}, headers=alice).json()
    case_id = client.post("/support/request", json={"message": "Cannot log in"}, headers=alice).json()["case_id"]

    seen = client.get(f"/support/cases/{case_id}", headers=staff).json()
    customer = seen["customer"]
    assert (customer["known"], customer["name"], customer["tier"], customer["plan"]) == (
        True,
        "Alice A",
        "premium",
        "team",
    )
    assert customer["open_cases"] == 1 and [c["id"] for c in customer["recent_cases"]] == [earlier["case_id"]]
    assert customer["recent_cases"][0]["subject"] == "Invoice for March is wrong"
    sla = seen["sla"]
    assert (sla["tier"], sla["priority"], sla["waiting_on_customer"]) == ("premium", "medium", True)
    first, resolution = sla["clocks"]
    assert (first["clock"], first["state"], first["target_seconds"]) == ("first_response", "stopped", 8 * 3600)
    assert (resolution["clock"], resolution["state"], resolution["business_hours"]) == ("resolution", "paused", True)
    assert [(n["kind"], n["data"]["to"]) for n in seen["notes"]] == [("status", "answered")]

    mine = client.get(f"/support/cases/{case_id}", headers=alice).json()
    assert mine["customer"] is None and mine["sla"] is None and mine["notes"] is None


def test_the_queue_puts_emergencies_first_then_the_nearest_deadline(
    client_for: Callable[..., TestClient], make_account: MakeAccount, tmp_path: Path
) -> None:
    client = quiet_client(client_for, tmp_path)
    staff = make_account(client, "sam", "staff")
    now = utcnow()
    db = sessions(client)

    def needs_human(case_id: str, created: Any, priority: str, **kw: Any) -> None:
        seed(
            db,
            case_id,
            status="needs_human",
            priority=priority,
            created=created,
            messages=[("customer", created), ("agent", created + timedelta(seconds=1))],
            marks=[("needs_human", created + timedelta(seconds=1))],
            **kw,
        )

    # Standard tier, KB-031 times: urgent 1 h, low 2 days.
    needs_human("fresh-urgent", now - M, "urgent")  # due in ~59 min
    needs_human("old-low", now - 47 * H - 30 * M, "low")  # due in ~30 min: first, by the SLA
    needs_human("replied", now - 2 * H, "high")  # a person replied: no clock runs (waits on the customer)
    seed(db, "replied-msg", status="answered", messages=[], created=now)  # unrelated, not in the queue
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        from desk.models import CaseMessage

        session.add(CaseMessage(case_id="replied", author="staff", text="on it", citations=[], created_at=now - H))
    seed(
        db,
        "emergency",
        status="escalated",
        priority="urgent",
        emergency=True,
        created=now - M,
        messages=[("customer", now - M)],
    )
    queue = client.get("/support/oncall/queue", headers=staff).json()
    order = [item["case_id"] for item in queue["items"]]
    assert order == ["emergency", "old-low", "fresh-urgent", "replied"]
    by_id = {item["case_id"]: item for item in queue["items"]}
    old = by_id["old-low"]["sla"]
    assert old["clock"] == "first_response" and old["state"] == "running" and old["near_breach"] is True
    assert 29 * 60 < old["remaining_seconds"] <= 30 * 60
    assert by_id["replied"]["sla"] is None and by_id["fresh-urgent"]["tier"] == "standard"
    page = client.get("/support/oncall/queue", params={"limit": 1, "offset": 1}, headers=staff).json()
    assert [i["case_id"] for i in page["items"]] == ["old-low"] and page["total"] == 4


def test_sla_events_reach_the_staff_stream_only(
    client_for: Callable[..., TestClient], make_account: MakeAccount, tmp_path: Path
) -> None:
    client = quiet_client(client_for, tmp_path)
    alice, staff = make_account(client, "alice", "customer", "cust-a"), make_account(client, "sam", "staff")
    created = utcnow() - 50 * M  # urgent: near breach after 48 min
    seed(
        sessions(client),
        "late",
        status="needs_human",
        priority="urgent",
        customer_id="cust-a",
        created=created,
        messages=[("customer", created), ("agent", created + M)],
        marks=[("needs_human", created + M)],
    )
    report = client.app.state.oncall.sla.sweep()  # type: ignore[attr-defined]
    assert (report.events, report.pages) == (1, 1)
    staff_stream = client.get("/support/cases/late/events", params={"wait": 0.1}, headers=staff).text
    assert "event: sla" in staff_stream and '"kind": "sla_near_breach"' in staff_stream
    assert '"clock": "first_response"' in staff_stream
    customer_stream = client.get("/support/cases/late/events", params={"wait": 0.1}, headers=alice).text
    assert "event: message" in customer_stream and "event: sla" not in customer_stream
    notes = client.get("/support/cases/late", headers=staff).json()["notes"]
    assert [n["kind"] for n in notes] == ["status", "sla_near_breach"]
    pages = client.get("/support/oncall/pages", params={"case_id": "late"}, headers=staff).json()["items"]
    assert [(p["reason"], p["series"]) for p in pages] == [("sla_near_breach", 101)]


def test_status_metrics_and_csv_export(
    client_for: Callable[..., TestClient], make_account: MakeAccount, tmp_path: Path
) -> None:
    client = quiet_client(client_for, tmp_path)
    alice, staff = make_account(client, "alice", "customer", "cust-a"), make_account(client, "sam", "staff")
    for message in ("invoice copy", "refund please"):
        client.post("/support/request", json={"message": message}, headers=alice)
    metrics = client.get("/support/status", headers=staff).json()["metrics"]
    overall = metrics["overall"]
    assert (overall["cases"], overall["responded"], overall["automated"], overall["automation_rate"]) == (2, 2, 2, 1.0)
    assert (overall["handoff_rate"], overall["sla_decided"], overall["sla_met_rate"]) == (0.0, 2, 1.0)
    assert [r["key"] for r in metrics["by_route"]] == ["billing"] and len(metrics["by_day"]) == 1

    exported = client.get("/support/metrics.csv", params={"days": 7}, headers=staff)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert (rows[0]["dimension"], rows[0]["cases"], rows[0]["automation_rate"]) == ("all", "2", "1.0")
    assert client.get("/support/metrics.csv", headers=alice).status_code == 403
    assert client.get("/support/metrics.csv", params={"days": 0}, headers=staff).status_code == 422


def test_customers_import_command(tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_text(
        "id,name,tier,plan,locale,created,extra\n"
        "cust-1,Ada Lovelace,premium,business,en-GB,2024-05-01,x\n"
        "cust-2,Grace Hopper,,,en-US,,\n"
        "bad id!,Nobody,standard,,,,\n"
        "cust-3,Gold Member,gold,,,,\n"
        "cust-1,Ada L.,,,,,\n",
        encoding="utf-8",
    )
    run = run_cli(tmp_path, "customers", "import", str(source), extra_env={"SLA_POLICY_FILE": ""})
    assert run.returncode == 1, run.stderr
    assert "2 created, 1 updated, 2 rejected" in run.stdout
    assert "line 4: id:" in run.stderr and "line 5: tier:" in run.stderr and "ignored columns: extra" in run.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with Session(engine) as session:
        rows = {c.id: c for c in session.scalars(select(Customer))}
    engine.dispose()
    assert set(rows) == {"cust-1", "cust-2"}
    assert (rows["cust-1"].name, rows["cust-1"].tier, rows["cust-1"].plan) == ("Ada L.", "premium", "business")
    assert rows["cust-1"].created_at.isoformat() == "2024-05-01T00:00:00+00:00"
    assert (rows["cust-2"].tier, rows["cust-2"].locale) == ("standard", "en-US")
    missing = run_cli(tmp_path, "customers", "import", str(tmp_path / "nope.csv"), extra_env={"SLA_POLICY_FILE": ""})
    assert missing.returncode == 2 and "nope.csv" in missing.stderr


def test_a_bad_policy_file_stops_the_app(tmp_path: Path) -> None:
    import pytest

    from api.app import create_app
    from desk.sla.policy import PolicyError

    broken = tmp_path / "broken.yaml"
    broken.write_text("default_tier: x\ntiers: {}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="invalid"):
        create_app(make_settings(tmp_path, sla_policy_file=str(broken)), FakeCrew())
    assert policy_file(tmp_path).exists()
