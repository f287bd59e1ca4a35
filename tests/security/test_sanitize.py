from __future__ import annotations

import pytest

from security.sanitize import ContextRejected, clean_context, clean_text, is_valid_customer_id


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
