"""`/admin/customers`: the customer records behind the SLA tiers and the profile beside each case (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import AdminUser, AuditDep, ContextDep, SessionDep, SettingsDep
from api.openapi import error_responses
from api.sla_schemas import CustomerIn, CustomerOut, CustomerPage
from api.validation import Offset
from desk import customers
from desk.models import Customer, utcnow
from desk.sla.policy import policies_of
from security.sanitize import CUSTOMER_ID_PATTERN

router = APIRouter(prefix="/admin/customers", tags=["admin"])
CustomerIdPath = Annotated[str, Path(pattern=CUSTOMER_ID_PATTERN)]


def customer_out(customer: Customer) -> CustomerOut:
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        tier=customer.tier,
        plan=customer.plan,
        locale=customer.locale,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


@router.get("", response_model=CustomerPage, responses=error_responses(403))
def list_customers(
    user: AdminUser,
    session: SessionDep,
    tier: Annotated[str | None, Query(pattern=customers.TIER_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> CustomerPage:
    """Customer records by id, optionally of one tier."""
    rows, total = customers.list_customers(session, tier=tier, limit=limit, offset=offset)
    return CustomerPage(items=[customer_out(c) for c in rows], total=total, limit=limit, offset=offset)


@router.get("/{customer_id}", response_model=CustomerOut, responses=error_responses(403, 404))
def read_customer(customer_id: CustomerIdPath, user: AdminUser, session: SessionDep, ctx: ContextDep) -> CustomerOut:
    """One customer record (404 `customer_not_found` when the desk has none)."""
    ctx.customer_id = customer_id
    return customer_out(customers.get_customer(session, customer_id))


@router.put(
    "/{customer_id}",
    response_model=CustomerOut,
    responses={201: {"model": CustomerOut, "description": "Created"}, **error_responses(403)},
)
def put_customer(
    customer_id: CustomerIdPath,
    body: CustomerIn,
    user: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    audit: AuditDep,
    ctx: ContextDep,
    response: Response,
) -> CustomerOut:
    """Create (201) or update (200) a customer record. Fields left out keep their value (a new record: name
    empty, tier `standard`); an empty plan or locale clears it. The tier must be one of the SLA policy's."""
    ctx.customer_id = customer_id
    values = customers.validate(
        name=body.name, tier=body.tier, plan=body.plan, locale=body.locale, known_tiers=policies_of(settings).tiers
    )
    customer, created = customers.upsert(session, customer_id, values, now=utcnow())
    session.commit()
    audit.record(
        "customer_created" if created else "customer_updated",
        actor=user.username,
        role=user.role.value,
        customer_id=customer_id,
        tier=customer.tier,
        fields=sorted(k for k, v in body.model_dump().items() if v is not None),
        request_id=ctx.request_id,
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return customer_out(customer)
