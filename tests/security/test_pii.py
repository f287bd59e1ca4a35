"""Personal-data detection and redaction (security/guard/pii.py, security/redact.py) on the labelled set we
wrote (security/guard/data/pii_labelled.txt): recall >= 0.95, and nothing outside a labelled span touched."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from security.guard.pii import (
    _EMAIL,
    MARKS,
    Finding,
    StretchMemo,
    _merge,
    _numbers_in,
    _phones_in,
    find_pii,
    is_card_number,
    is_iban,
    redact_pii,
)
from security.redact import redact, redact_fields

LABELLED = Path(__file__).resolve().parents[2] / "security" / "guard" / "data" / "pii_labelled.txt"
_MARK = re.compile(r"\[\[(\w+):(.*?)\]\]")


@dataclass(frozen=True)
class Line:
    raw: str
    spans: tuple[tuple[str, int, int], ...]  # (kind, start, end) in `raw`


def labelled_lines() -> list[Line]:
    lines = []
    for text in LABELLED.read_text(encoding="utf-8").splitlines():
        if not text.strip() or text.startswith("#"):
            continue
        raw, spans, last = "", [], 0
        for match in _MARK.finditer(text):
            raw += text[last : match.start()]
            spans.append((match.group(1), len(raw), len(raw) + len(match.group(2))))
            raw += match.group(2)
            last = match.end()
        lines.append(Line(raw + text[last:], tuple(spans)))
    return lines


LINES = labelled_lines()


def test_the_labelled_set_is_large_and_mixed() -> None:
    assert len(LINES) >= 150
    kinds = {kind for line in LINES for kind, _s, _e in line.spans}
    assert kinds == set(MARKS)
    assert sum(1 for line in LINES if not line.spans) >= 30, "negatives: order numbers, case ids, dates..."


def test_recall_on_the_labelled_set_is_at_least_95_percent() -> None:
    total = found = 0
    missed = []
    for line in LINES:
        findings = find_pii(line.raw)
        for kind, start, end in line.spans:
            total += 1
            if any(f.kind == kind and f.start <= start and f.end >= end for f in findings):
                found += 1
            else:
                missed.append((kind, line.raw[start:end]))
    assert found / total >= 0.95, missed


def test_nothing_outside_a_labelled_span_is_redacted() -> None:
    wrong = []
    for line in LINES:
        for finding in find_pii(line.raw):
            if not any(finding.start < end and start < finding.end for _k, start, end in line.spans):
                wrong.append((line.raw, finding.kind, line.raw[finding.start : finding.end]))
    assert wrong == []


def test_negatives_come_out_exactly_as_written() -> None:
    for line in LINES:
        if not line.spans:
            assert redact_pii(line.raw) == line.raw


def test_redaction_replaces_each_kind_by_its_mark() -> None:
    text = (
        "mail anna@example.de, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, "
        "call +49 30 901820, SSN 536-22-1184, order 4471-2290"
    )
    assert redact(text) == "mail [email], card [card], IBAN [iban], call [phone], SSN [id], order 4471-2290"


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "1135426177359020",  # Luhn-valid but no card issuer starts with 1
        "113542617735902",  # a purchase number of the routing set's layout
    ],
)
def test_what_is_not_a_card_number(number: str) -> None:
    assert not is_card_number(number)


def test_iban_check_digits_matter() -> None:
    assert is_iban("DE89 3704 0044 0532 0130 00")
    assert not is_iban("DE88 3704 0044 0532 0130 00")


def test_an_iban_written_in_groups_stops_where_the_iban_ends() -> None:
    assert redact("refund to DE89 3704 0044 0532 0130 00 please") == "refund to [iban] please"


def test_case_ids_and_request_ids_survive_log_redaction() -> None:
    line = "crew failed on case 48834770217640b08590af50f182185e (request 7f3c2a10b9e44d1f8a6b5c4d3e2f1a09)"
    assert redact(line) == line


def test_audit_fields_are_redacted_recursively() -> None:
    out = redact_fields({"note": "write to x@y.org", "nested": {"phone": "call 030 12345678"}, "n": 3})
    assert out == {"note": "write to [email]", "nested": {"phone": "call [phone]"}, "n": 3}


def _whole_text_scan(text: str) -> list[Finding]:
    """The detector with every pattern run over the whole text, as before it scanned only near digits."""
    found = [Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    found += _numbers_in(text, 0, len(text), digits=len(text))
    return _merge(found + _phones_in(text, 0, len(text), _merge(found)))


PROSE = (
    "Thanks for writing in. Our records show the account was set up last spring and renewed since; "
    "please keep this message for reference, and reply in the same thread if anything is still unclear.\n"
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from([line.raw for line in LINES]), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=len(PROSE)), min_size=6, max_size=6),
)
def test_scanning_only_near_digits_finds_what_a_whole_text_scan_finds(picked: list[str], cuts: list[int]) -> None:
    # Long prompts (a task's instructions around a customer's message) are scanned only near their digits;
    # any mix of labelled lines and prose, cut anywhere, must give the same findings as scanning everything.
    text = "".join(PROSE[:cut] + line + " " for line, cut in zip(picked, cuts, strict=False)) + PROSE
    assert find_pii(text) == _whole_text_scan(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from([line.raw for line in LINES]), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=len(PROSE)), min_size=6, max_size=6),
)
def test_remembered_stretches_give_what_a_fresh_scan_gives(picked: list[str], cuts: list[int]) -> None:
    # The hosted-call guard remembers the findings of the digit-bearing stretches it scanned; the same stretches
    # in another prompt, or shifted in this one, must come out as a fresh scan finds them.
    memo = StretchMemo()
    text = "".join(PROSE[:cut] + line + " " for line, cut in zip(picked, cuts, strict=False)) + PROSE
    shifted = PROSE[: cuts[0]] + text
    for sample in (text, shifted, text, shifted[::-1], text):
        assert find_pii(sample, memo) == find_pii(sample)


def test_a_remembered_stretch_is_only_reused_for_the_same_characters() -> None:
    memo = StretchMemo()
    card = "Please refund the card 4111 1111 1111 1111 today."
    order = "Please refund the order 4111 1111 1111 1112 today."  # not Luhn-valid: an order number
    assert redact_pii(card, memo=memo) == "Please refund the card [card] today."
    assert redact_pii(order, memo=memo) == order
    assert redact_pii("x" + card, memo=memo) == "x" + "Please refund the card [card] today."


def test_personal_data_deep_inside_a_long_prompt_is_still_redacted() -> None:
    prompt = PROSE * 40 + "Customer: my card 4111 1111 1111 1111, call me on +49 30 901820.\n" + PROSE * 40
    assert "4111" not in redact_pii(prompt)
    assert redact_pii(prompt).count("[card]") == 1 and redact_pii(prompt).count("[phone]") == 1
    assert redact_pii(PROSE * 80) == PROSE * 80
