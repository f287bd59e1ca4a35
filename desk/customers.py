"""Customer context: the `customers` table (filled by `support-desk customers import FILE.csv` and
`PUT /admin/customers/{id}`), the profile staff see beside a case, and the short profile the crew may get.

The crew's profile (`crew_profile`) is deliberately small and sanitised: the tier, the plan, how many of the
customer's cases are open (not resolved) and the subjects of the last three, markup removed and e-mail
addresses and card numbers replaced by markers. No name, no locale, no ids. It goes into the crew's context
only when `may_share_profile(settings)`: every model is local, or SHARE_CUSTOMER_PROFILE_WITH_HOSTED_MODEL
is on. `crew_context` applies that rule and merges the profile into an integrator's context under the
reserved key `customer_profile` (the desk's record wins over a caller's key of that name).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from desk.errors import InputRejected, NotFound
from desk.models import Case, CaseStatus, Customer, utcnow
from desk.settings import Settings
from security.redact import redact
from security.sanitize import clean_text, is_valid_customer_id

TIER_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
LOCALE_PATTERN = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}$"
PLAN_PATTERN = r"^[\w][\w .+/-]{0,63}$"
_TIER = re.compile(TIER_PATTERN)
_LOCALE = re.compile(LOCALE_PATTERN)
_PLAN = re.compile(PLAN_PATTERN)
NAME_MAX = 200
PROFILE_SUBJECTS = 3
SUBJECT_MAX = 80
PROFILE_KEY = "customer_profile"
CSV_COLUMNS = ("id", "name", "tier", "plan", "locale", "created")
DEFAULT_TIER = "standard"


@dataclass(frozen=True)
class CustomerFields:
    """Validated values for a customer record; None = leave as is (or the default, for a new record)."""

    name: str | None = None
    tier: str | None = None
    plan: str | None = None
    locale: str | None = None
    created_at: datetime | None = None


def _text(value: str, *, field_name: str, pattern: re.Pattern[str] | None, limit: int) -> str:
    text = " ".join(clean_text(value).text.split())
    if len(text) > limit or (pattern is not None and not pattern.match(text)):
        raise InputRejected(f"The {field_name} has an invalid format.", field=field_name)
    return text


def validate(
    *,
    name: str | None = None,
    tier: str | None = None,
    plan: str | None = None,
    locale: str | None = None,
    created_at: datetime | None = None,
    known_tiers: Collection[str] | None = None,
) -> CustomerFields:
    """Check and clean the fields (InputRejected names the bad one). An empty plan or locale clears it."""
    if tier is not None:
        tier = _text(tier, field_name="tier", pattern=_TIER, limit=32)
        if known_tiers is not None and tier not in known_tiers:
            raise InputRejected(f"Unknown tier; the SLA policy knows {', '.join(sorted(known_tiers))}.", field="tier")
    return CustomerFields(
        name=_text(name, field_name="name", pattern=None, limit=NAME_MAX) if name is not None else None,
        tier=tier,
        plan=(_text(plan, field_name="plan", pattern=_PLAN, limit=64) if plan else "") if plan is not None else None,
        locale=(_text(locale, field_name="locale", pattern=_LOCALE, limit=16) if locale else "")
        if locale is not None
        else None,
        created_at=created_at,
    )


def _check_id(customer_id: str) -> None:
    if not is_valid_customer_id(customer_id):
        raise InputRejected("The customer id has an invalid format.", field="id")


def get_customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No customer with this id.", code="customer_not_found")
    return customer


def list_customers(session: Session, *, tier: str | None, limit: int, offset: int) -> tuple[list[Customer], int]:
    query = select(Customer)
    if tier is not None:
        query = query.where(Customer.tier == tier)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Customer.id).limit(limit).offset(offset))
    return list(rows), total


def _apply(customer: Customer, values: CustomerFields, now: datetime) -> None:
    if values.name is not None:
        customer.name = values.name
    if values.tier is not None:
        customer.tier = values.tier
    if values.plan is not None:
        customer.plan = values.plan or None
    if values.locale is not None:
        customer.locale = values.locale or None
    customer.updated_at = now


def upsert(session: Session, customer_id: str, values: CustomerFields, *, now: datetime) -> tuple[Customer, bool]:
    """Create or update one customer (in the session; the caller commits). True when created."""
    _check_id(customer_id)
    customer = session.get(Customer, customer_id)
    created = customer is None
    if customer is None:
        customer = Customer(
            id=customer_id,
            name="",
            tier=DEFAULT_TIER,
            created_at=values.created_at or now,
            updated_at=now,
        )
        session.add(customer)
    _apply(customer, values, now)
    return customer, created


# --- CSV import --------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    # (line number in the file, field, what is wrong); the row is skipped, the others are imported.
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


class ImportFileError(ValueError):
    """The file cannot be imported at all (unreadable, no header, no id column)."""


def _created(value: str) -> datetime:
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text) if "T" in text or " " in text else None
        if parsed is None:
            parsed = datetime.combine(date.fromisoformat(text), time(0, 0))
    except ValueError as exc:
        raise InputRejected(
            "Not an ISO date or date-time (2026-01-31 or 2026-01-31T09:00:00Z).", field="created"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def import_csv(
    session: Session, path: Path, *, known_tiers: Collection[str] | None, now: datetime | None = None
) -> ImportResult:
    """Create or update customers from a CSV file with a header row: `id` and any of name, tier, plan, locale,
    created. An empty cell (or a missing column) leaves that field as it is (a new customer: name empty, tier
    standard, created now). Rows that fail validation are reported and skipped; the rest are committed."""
    now = now or utcnow()
    result = ImportResult()
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        if "id" not in header:
            raise ImportFileError(f"{path}: the first row must be a header with an `id` column")
        reader.fieldnames = header
        result.ignored_columns = [h for h in header if h not in CSV_COLUMNS]
        try:
            for row in reader:
                _import_row(session, row, reader.line_num, known_tiers, now, result)
        except (csv.Error, UnicodeDecodeError) as exc:
            session.rollback()
            raise ImportFileError(f"{path}: not a readable UTF-8 CSV file ({exc})") from exc
    session.commit()
    return result


def _import_row(
    session: Session,
    row: dict[str, Any],
    line: int,
    known_tiers: Collection[str] | None,
    now: datetime,
    result: ImportResult,
) -> None:
    def cell(name: str) -> str | None:
        value = row.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    customer_id = cell("id") or ""
    try:
        _check_id(customer_id)
        created = cell("created")
        values = validate(
            name=cell("name"),
            tier=cell("tier"),
            plan=cell("plan"),
            locale=cell("locale"),
            created_at=_created(created) if created else None,
            known_tiers=known_tiers,
        )
    except InputRejected as exc:
        result.rejected.append((line, str(exc.details.get("field", "")), exc.message))
        return
    _customer, was_created = upsert(session, customer_id, values, now=now)
    session.flush()
    if was_created:
        result.created += 1
    else:
        result.updated += 1


# --- profiles ----------------------------------------------------------------------------------------------


@contextmanager
def _session(db: Session | Engine) -> Iterator[Session]:
    if isinstance(db, Session):
        yield db
        return
    with Session(db) as session:
        yield session


@dataclass(frozen=True)
class RecentCase:
    id: str
    subject: str | None
    status: str
    created_at: datetime


@dataclass(frozen=True)
class CustomerProfile:
    """What staff see beside a case: the record (if any) and the customer's other cases."""

    id: str
    known: bool
    name: str | None
    tier: str | None
    plan: str | None
    locale: str | None
    created_at: datetime | None
    open_cases: int
    recent_cases: list[RecentCase]


# Cases the desk or its people are still working on: not answered (waiting on the customer), resolved or failed.
IN_PROGRESS = tuple(
    s.value for s in CaseStatus if s not in (CaseStatus.ANSWERED, CaseStatus.RESOLVED, CaseStatus.FAILED)
)


def _open_cases(session: Session, customer_id: str, exclude_case_id: str | None) -> tuple[int, int]:
    """The customer's cases not resolved, and of those the ones still in progress, in one query."""
    in_progress = func.count(sql_case((Case.status.in_(IN_PROGRESS), 1)))
    query = select(func.count(), in_progress).where(
        Case.customer_id == customer_id, Case.status != CaseStatus.RESOLVED.value
    )
    if exclude_case_id is not None:
        query = query.where(Case.id != exclude_case_id)
    open_count, in_progress_count = session.execute(query).one()
    return int(open_count or 0), int(in_progress_count or 0)


def _recent(session: Session, customer_id: str, exclude_case_id: str | None, limit: int) -> list[RecentCase]:
    query = select(Case.id, Case.subject, Case.status, Case.created_at).where(Case.customer_id == customer_id)
    if exclude_case_id is not None:
        query = query.where(Case.id != exclude_case_id)
    rows = session.execute(query.order_by(Case.created_at.desc(), Case.id).limit(limit))
    return [RecentCase(r.id, r.subject, r.status, r.created_at) for r in rows]


def staff_profile(
    db: Session | Engine, customer_id: str, *, exclude_case_id: str | None = None, recent: int = 5
) -> CustomerProfile:
    with _session(db) as session:
        customer = session.get(Customer, customer_id)
        return CustomerProfile(
            id=customer_id,
            known=customer is not None,
            name=customer.name if customer else None,
            tier=customer.tier if customer else None,
            plan=customer.plan if customer else None,
            locale=customer.locale if customer else None,
            created_at=customer.created_at if customer else None,
            open_cases=_open_cases(session, customer_id, exclude_case_id)[0],
            recent_cases=_recent(session, customer_id, exclude_case_id, recent),
        )


def safe_subject(subject: str) -> str:
    """A subject as the crew may see it: plain text, one line, e-mail addresses and card numbers replaced."""
    text = " ".join(redact(clean_text(subject).text).split())
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1].rstrip() + "…"


def crew_profile(
    db: Session | Engine, customer_id: str, *, exclude_case_id: str | None = None
) -> dict[str, Any] | None:
    """The short, sanitised profile for the crew's context, or None when the desk knows nothing of the customer
    (no record and no case). `exclude_case_id`: the case being answered, left out of the counts and subjects.

        {"tier": "premium", "plan": "business", "open_cases": 2, "in_progress_cases": 1,
         "recent_subjects": ["Invoice for March is wrong", "Cannot log in"]}

    `in_progress_cases` counts the ones still being worked on (not answered and waiting on the customer).
    """
    with _session(db) as session:
        customer = session.get(Customer, customer_id)
        recent = _recent(session, customer_id, exclude_case_id, PROFILE_SUBJECTS)
        if customer is None and not recent:
            return None
        open_count, in_progress_count = _open_cases(session, customer_id, exclude_case_id)
        return {
            "tier": customer.tier if customer else None,
            "plan": customer.plan if customer else None,
            "open_cases": open_count,
            "in_progress_cases": in_progress_count,
            "recent_subjects": [safe_subject(c.subject) for c in recent if c.subject],
        }


def may_share_profile(settings: Settings) -> bool:
    """Customer data goes to a model only when no model is hosted, or when the setting allows it."""
    local = settings.uses_local_specialists and settings.uses_local_classifier
    return local or settings.share_customer_profile_with_hosted_model


def crew_context(
    db: Session | Engine,
    settings: Settings,
    customer_id: str,
    context: dict[str, Any] | None,
    *,
    exclude_case_id: str | None = None,
) -> dict[str, Any] | None:
    """The context to hand the crew: the integrator's `context` with the profile under `customer_profile`,
    when `may_share_profile(settings)` and the desk knows the customer; otherwise `context` unchanged."""
    if not may_share_profile(settings):
        return context
    profile = crew_profile(db, customer_id, exclude_case_id=exclude_case_id)
    if profile is None:
        return context
    return {**(context or {}), PROFILE_KEY: profile}
