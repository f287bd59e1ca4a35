from __future__ import annotations

import html
import random
import re
import sys
import unicodedata

import bleach
import pytest

from security import sanitize
from security.sanitize import ContextRejected, clean_context, clean_text, is_dropped, is_valid_customer_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<script>alert(1)</script>hello", "alert(1)hello"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "alert(1)"),
        ("<img src=x onerror=alert(1)>", ""),
        ("\uff1cscript\uff1ealert(1)", "alert(1)"),  # fullwidth brackets fold to < > under NFKC
        ("a\u0000b\u202ec\u200bd", "abcd"),
        ("x <b", "x < b"),
        ("5 < 6 & 7 > 3", "5 < 6 & 7 > 3"),
        ("' OR 1=1 --", "' OR 1=1 --"),
        ("line1\r\nline2\tx", "line1\nline2\tx"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw).text == expected


def test_clean_text_reports_changes_but_not_outer_whitespace() -> None:
    assert clean_text("  plain text \n").changed is False
    assert clean_text("<b>bold</b>").changed is True


def test_clean_text_is_idempotent() -> None:
    for raw in ("<<SCRIPT>alert('XSS');//<</SCRIPT>", "&amp;lt;b&amp;gt;", "<a href='javascript:x'>y</a>"):
        once = clean_text(raw).text
        assert clean_text(once).text == once
        assert "<s" not in once.lower() and "<a" not in once.lower()


def test_customer_id_pattern() -> None:
    assert is_valid_customer_id("cust-42") and is_valid_customer_id("ACME:7.x_1")
    for bad in ("", " x", "a b", "x" * 65, "1;DROP", "é", "-lead"):
        assert not is_valid_customer_id(bad)


def test_context_limits_and_cleaning() -> None:
    cleaned, changed = clean_context({"<i>k</i>": ["<b>v</b>", 1, None]}, max_bytes=100, max_depth=3)
    assert cleaned == {"k": ["v", 1, None]} and changed
    with pytest.raises(ContextRejected):
        clean_context({"a": {"b": {"c": {"d": 1}}}}, max_bytes=1000, max_depth=3)
    with pytest.raises(ContextRejected):
        clean_context({"a": "x" * 200}, max_bytes=100, max_depth=3)


def _reference_clean_text(raw: str) -> str:
    """clean_text as first written: every character through unicodedata, every text through bleach."""

    def drop(text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return "".join(ch for ch in text if not is_dropped(ch))

    text = drop(unicodedata.normalize("NFKC", raw))
    for _ in range(8):
        stripped = html.unescape(bleach.clean(text, tags=set(), attributes={}, strip=True, strip_comments=True))
        if stripped == text:
            break
        text = stripped
    text = re.sub(r"<(?=[A-Za-z!/?])", "< ", text)
    return drop(unicodedata.normalize("NFKC", text)).strip()


def test_dropped_characters_regex_matches_unicodedata_for_every_code_point() -> None:
    # The regular expression must drop exactly what the category definition drops, nothing more or less.
    text = "".join(chr(cp) for cp in range(sys.maxunicode + 1))
    kept = "".join(ch for ch in text if not is_dropped(ch))
    assert sanitize._drop_controls(text.replace("\r", "")) == kept.replace("\r", "")


# Plain text of every kind that reaches the no-markup fast path, and a few markup characters that must not.
_ALPHABET = (
    "abcXYZ019 .,;:!?'\"`=/\\-_()[]{}|~^%$#@*+>\n\t\r\x0c\x00\x7f\x85\u00a0\u00e9e\u0301\u2028\u2029"
    "\u200b\u200d\u202e\ufeff\ufdd0\ufffe\uffff\ufffd\ue000\U0001fffe\U0010fffe\U0001f600\uff1c\uff06\ufe64"
    "\u2460\ufb01\u00bd\u3000\u0130\u03a3ß"
)


@pytest.mark.parametrize("markup", ["", "<", "&", "<b>", "&lt;", "&#60;", "&amp;"])
def test_fast_paths_give_the_same_text_as_the_reference(markup: str) -> None:
    rng = random.Random(1234 + len(markup))
    for _ in range(400):
        raw = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40)))
        if markup:
            cut = rng.randint(0, len(raw))
            raw = raw[:cut] + markup + raw[cut:]
        assert clean_text(raw).text == _reference_clean_text(raw), repr(raw)


def test_a_long_reply_without_markup_is_returned_unchanged() -> None:
    reply = "Refunds take 5-10 business days > see KB-012. " * 40
    assert clean_text(reply) == clean_text(reply.strip()) and clean_text(reply).text == reply.strip()
