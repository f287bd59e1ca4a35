"""Customer context: the sanitised crew profile, the rule that keeps it from hosted models, and the merge into
an integrator's context."""

from __future__ import annotations

from datetime import timedelta

from desk.customers import crew_context, crew_profile, may_share_profile, staff_profile
from desk.models import Customer
from tests.sla.conftest import T0, Desk, seed

H = timedelta(hours=1)


def seed_customer(desk: Desk) -> None:
    with desk.session_factory.begin() as session:
        session.add(
            Customer(
                id="cust-1",
                name="Ada Lovelace",
                tier="premium",
                plan="business",
                locale="en-GB",
                created_at=T0,
                updated_at=T0,
            )
        )
    subjects = [
        ("c1", "Old resolved question", "resolved"),
        ("c2", "Refund to ada@example.com please", "answered"),
        ("c3", "Card 4111 1111 1111 1111 was charged twice", "needs_human"),
        ("c4", "<b>Cannot</b> log in", "open"),
        ("c5", "The message being answered now", "open"),
    ]
    for index, (case_id, subject, status) in enumerate(subjects):
        at = T0 + index * H
        seed(desk, case_id, status=status, subject=subject, created=at, messages=[("customer", at)])
    seed(desk, "other", status="open", subject="someone else", customer_id="cust-2", messages=[("customer", T0)])


def test_the_crew_profile_is_short_and_sanitised(desk: Desk) -> None:
    seed_customer(desk)
    profile = crew_profile(desk.engine, "cust-1", exclude_case_id="c5")
    assert profile == {
        "tier": "premium",
        "plan": "business",
        "open_cases": 3,  # c2, c3, c4 (c1 is resolved, c5 is the one being answered)
        "in_progress_cases": 2,  # c3, c4 (c2 is answered: waiting on the customer)
        "recent_subjects": ["Cannot log in", "Card [card] was charged twice", "Refund to [email] please"],
    }
    assert "Ada" not in str(profile) and "en-GB" not in str(profile)
    with desk.session_factory() as session:
        assert crew_profile(session, "cust-1")["open_cases"] == 4  # type: ignore[index]
        assert crew_profile(session, "nobody") is None
        unknown = crew_profile(session, "cust-2")
    assert unknown == {
        "tier": None,
        "plan": None,
        "open_cases": 1,
        "in_progress_cases": 1,
        "recent_subjects": ["someone else"],
    }


def test_staff_see_the_record_and_the_other_cases(desk: Desk) -> None:
    seed_customer(desk)
    profile = staff_profile(desk.engine, "cust-1", exclude_case_id="c5", recent=2)
    assert (profile.known, profile.name, profile.tier, profile.locale, profile.open_cases) == (
        True,
        "Ada Lovelace",
        "premium",
        "en-GB",
        3,
    )
    assert [c.id for c in profile.recent_cases] == ["c4", "c3"]
    assert staff_profile(desk.engine, "nobody").known is False


def test_the_profile_reaches_a_hosted_model_only_when_allowed(desk: Desk) -> None:
    seed_customer(desk)
    local = desk.settings
    hosted = local.model_copy(update={"support_llm_model": "openai/gpt-4o-mini"})
    hosted_classifier = local.model_copy(update={"support_classifier_model": "openai/gpt-4o-mini"})
    allowed = hosted.model_copy(update={"share_customer_profile_with_hosted_model": True})
    assert may_share_profile(local) and may_share_profile(allowed)
    assert not may_share_profile(hosted) and not may_share_profile(hosted_classifier)

    context = {"order": "A-1", "customer_profile": "forged by the caller"}
    merged = crew_context(desk.engine, local, "cust-1", context, exclude_case_id="c5")
    assert merged is not None and merged["order"] == "A-1" and merged["customer_profile"]["tier"] == "premium"
    assert context["customer_profile"] == "forged by the caller"  # the caller's dict is not changed
    assert crew_context(desk.engine, hosted, "cust-1", context) is context
    assert crew_context(desk.engine, local, "nobody", None) is None
    assert crew_context(desk.engine, allowed, "cust-1", None) == {
        "customer_profile": crew_profile(desk.engine, "cust-1")
    }
