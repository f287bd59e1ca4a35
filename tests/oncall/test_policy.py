"""The pure rules: signature scheme, backoff with jitter, response times, the auto-emergency rule."""

from __future__ import annotations

import random
from pathlib import Path

from crew.models import Category, Classification, Priority
from desk.oncall.policy import response_time, retry_delay
from desk.oncall.signing import signature_header, verify
from tests.oncall.conftest import fast_settings


def test_signature_verifies_and_rejects_tampering_wrong_secret_and_replays() -> None:
    body = b'{"case_id":"abc"}'
    header = signature_header("s3cret", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify("s3cret", header, body, now=1_700_000_010)
    assert not verify("s3cret", header, body + b" ", now=1_700_000_010)
    assert not verify("other", header, body, now=1_700_000_010)
    assert not verify("s3cret", header, body, now=1_700_000_000 + 301)  # too old: a replay
    assert not verify("s3cret", "garbage", body, now=1_700_000_000)


def test_backoff_grows_exponentially_with_jitter_and_stays_under_the_cap() -> None:
    rng = random.Random(7)
    for attempts, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)]:
        delays = [retry_delay(attempts, base=1.0, cap=60.0, rng=rng) for _ in range(200)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert max(delays) - min(delays) > nominal / 4  # jittered, not a fixed schedule


def test_response_times_match_kb_031() -> None:
    hours = {p: response_time(p.value).total_seconds() / 3600 for p in Priority}
    assert hours == {Priority.URGENT: 1, Priority.HIGH: 4, Priority.MEDIUM: 24, Priority.LOW: 48}
    kb = (
        Path(__file__).resolve().parents[2] / "crew" / "knowledge" / "kb-031-escalation-policy-response-times.md"
    ).read_text()
    assert "Urgent: within 1 hour" in kb and "High: within 4 business hours" in kb


def test_auto_emergency_rule(tmp_path: Path) -> None:
    def rated(category: Category, priority: Priority) -> Classification:
        return Classification(category=category, priority=priority, confidence=0.9, is_complex=False)

    settings = fast_settings(tmp_path)
    assert settings.auto_emergency_rule().matches(rated(Category.ESCALATION, Priority.URGENT))
    assert not settings.auto_emergency_rule().matches(rated(Category.ESCALATION, Priority.HIGH))
    assert settings.auto_emergency_rule().matches(rated(Category.TECHNICAL, Priority.URGENT))  # an outage for many
    assert not settings.auto_emergency_rule().matches(rated(Category.TECHNICAL, Priority.HIGH))
    assert not settings.auto_emergency_rule().matches(rated(Category.BILLING, Priority.URGENT))
    narrow = fast_settings(tmp_path, auto_emergency_categories=["escalation"])
    assert not narrow.auto_emergency_rule().matches(rated(Category.TECHNICAL, Priority.URGENT))
    wider = fast_settings(tmp_path, auto_emergency_min_priority="high", auto_emergency_categories=["technical"])
    assert wider.auto_emergency_rule().matches(rated(Category.TECHNICAL, Priority.HIGH))
    off = fast_settings(tmp_path, auto_emergency_enabled=False)
    assert not off.auto_emergency_rule().matches(rated(Category.TECHNICAL, Priority.HIGH))
