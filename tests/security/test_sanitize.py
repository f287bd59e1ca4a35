from __future__ import annotations

import html
import math
import random
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from security import sanitize
from security.sanitize import ContextRejected, clean_context, clean_text, is_dropped, is_valid_customer_id

# What an HTML parser opens a tag, comment or declaration with ("< b" with a space is text).
TAG = re.compile(r"<[A-Za-z!/?]")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<script>alert(1)</script>hello", "hello"),  # script content is dropped, not kept as text
        ("<style>body{display:none}</style>hello", "hello"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", ""),
        ("<img src=x onerror=alert(1)>", ""),
        ("\uff1cscript\uff1ealert(1)", ""),  # fullwidth brackets fold to < > under NFKC: an unclosed script
        ("&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt;", "bold"),  # double-encoded
        ("a &amp;amp; b", "a & b"),
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


# --- F1: markup that NFKC or entity decoding would have turned into tags after the tag-stripping pass -----

# Ways to write `<` and `>`: ASCII, full-width (U+FF1C/U+FF1E), small form (U+FE64/U+FE65), entities of each,
# and double-encoded entities.
BRACKETS = {
    "ascii": ("<", ">"),
    "fullwidth": ("\uff1c", "\uff1e"),
    "small-form": ("\ufe64", "\ufe65"),
    "named-entity": ("&lt;", "&gt;"),
    "decimal-entity": ("&#60;", "&#62;"),
    "hex-entity": ("&#x3C;", "&#x3E;"),
    "fullwidth-entity": ("&#xFF1C;", "&#xFF1E;"),
    "small-form-entity": ("&#xFE64;", "&#xFE65;"),
    "double-encoded": ("&amp;lt;", "&amp;gt;"),
    "double-encoded-fullwidth": ("&amp;#xFF1C;", "&amp;#xFF1E;"),
    "mixed": ("\uff1c", "&#xFE65;"),
}
MARKUP = {
    "script": "{L}script{R}alert(1){L}/script{R} refund",
    "script-uppercase": "{L}SCRIPT{R}alert(1){L}/SCRIPT{R} refund",
    "img-onerror": "{L}img src=x onerror=alert(1){R} refund",
    "svg-onload": "{L}svg onload=alert(1){R} refund",
    "iframe": "{L}iframe src=javascript:alert(1){R}{L}/iframe{R} refund",
    "style": "{L}style{R}*{{background:url(javascript:alert(1))}}{L}/style{R} refund",
}


@pytest.mark.parametrize("brackets", list(BRACKETS))
@pytest.mark.parametrize("markup", list(MARKUP))
def test_encoded_and_lookalike_markup_never_comes_back_as_markup(markup: str, brackets: str) -> None:
    left, right = BRACKETS[brackets]
    raw = MARKUP[markup].format(L=left, R=right)
    cleaned = clean_text(raw)
    assert cleaned.text == "refund", raw
    assert cleaned.changed
    assert clean_text(cleaned.text).text == cleaned.text


def test_the_security_probes_payload_is_stored_without_its_script() -> None:
    raw = "&#xFF1C;script&#xFF1E;alert(1)&#xFF1C;/script&#xFF1E; refund"
    assert clean_text(raw).text == "refund"
    assert clean_text("<script>alert(1)</script>").text == ""  # nothing left: the API refuses it as empty


@pytest.mark.parametrize("markdown", ["[x](javascript:alert(1))", "![i](http://x/a.png)", "**bold**"])
def test_markdown_is_text_and_kept_as_typed(markdown: str) -> None:
    # Not markup to the desk: the web interface shows it as text (tests/web/test_rendering.py).
    assert clean_text(markdown) == sanitize.Cleaned(markdown, changed=False)


def test_passes_that_do_not_settle_fall_back_to_text_without_markup_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sanitize, "_MAX_PASSES", 1)
    cleaned = clean_text("&lt;b&gt;x&lt;/b&gt; & 1 < 2 \uff1c")
    assert cleaned.text == "x   1   2"  # the one pass stripped the tags; then `<`, `>` and `&` became spaces
    assert clean_text(cleaned.text).text == cleaned.text


def test_nfkc_never_produces_a_character_that_is_dropped() -> None:
    # `_one_pass` drops characters before normalising, relying on this.
    produced = {
        ch: unicodedata.normalize("NFKC", ch)
        for ch in map(chr, range(sys.maxunicode + 1))
        if not "\ud800" <= ch <= "\udfff" and unicodedata.decomposition(ch)
    }
    assert not [ch for ch, out in produced.items() if any(is_dropped(c) for c in out)]


def _payload_lines(folder: Path) -> list[str]:
    lines: list[str] = []
    for file in sorted(path for path in folder.rglob("*") if path.is_file()):
        lines += [line for line in file.read_text(errors="replace").splitlines() if line.strip()]
    return lines


def test_clean_text_is_a_fixed_point_on_every_shared_payload(shared_datasets: Path) -> None:
    payloads = _payload_lines(shared_datasets / "payloads")
    assert len(payloads) > 1000
    for raw in payloads:
        for variant in (raw, html.escape(raw), raw.replace("<", "\uff1c").replace(">", "\uff1e")):
            once = clean_text(variant).text
            assert clean_text(once).text == once, variant
            assert not TAG.search(once), (variant, once)  # "< script" (a space after `<`) is text to HTML


def test_customer_id_pattern() -> None:
    assert is_valid_customer_id("cust-42") and is_valid_customer_id("ACME:7.x_1")
    for bad in ("", " x", "a b", "x" * 65, "1;DROP", "é", "-lead"):
        assert not is_valid_customer_id(bad)


def test_context_limits_and_cleaning() -> None:
    cleaned, changed = clean_context({"<i>k</i>": ["<b>v</b>", 1, None]}, max_bytes=100, max_depth=3)
    assert cleaned == {"k": ["v", 1, None]} and changed
    assert clean_context({"a": {"b": {"c": 1}}}, max_bytes=1000, max_depth=3) == ({"a": {"b": {"c": 1}}}, False)
    assert clean_context({"a": [[1.5, True]]}, max_bytes=1000, max_depth=3) == ({"a": [[1.5, True]]}, False)
    with pytest.raises(ContextRejected):
        clean_context({"a": {"b": {"c": {"d": 1}}}}, max_bytes=1000, max_depth=3)
    with pytest.raises(ContextRejected):
        clean_context({"a": [[[1]]]}, max_bytes=1000, max_depth=3)
    with pytest.raises(ContextRejected):
        clean_context({"a": "x" * 200}, max_bytes=100, max_depth=3)


def _nested(depth: int) -> dict[str, Any]:
    context: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        context = {"a": context}
    return context


@pytest.mark.parametrize("depth", [400, 5_000, 100_000])
def test_a_deeply_nested_context_is_refused_without_recursion(depth: int) -> None:
    with pytest.raises(ContextRejected, match="nested too deeply"):
        clean_context(_nested(depth), max_bytes=10**9, max_depth=4)
    deep_list: list[Any] = []
    for _ in range(depth):
        deep_list = [deep_list]
    with pytest.raises(ContextRejected, match="nested too deeply"):
        clean_context({"a": deep_list}, max_bytes=10**9, max_depth=4)


@pytest.mark.parametrize(
    "context",
    [
        {"\ud800": 1},
        {"ok": "\udfff"},
        {"ok": ["x", {"k\udc00": True}]},
    ],
)
def test_a_lone_surrogate_in_a_context_is_refused(context: dict[str, Any]) -> None:
    with pytest.raises(ContextRejected, match="surrogate"):
        clean_context(context, max_bytes=8192, max_depth=4)


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf, float("1e400")])
def test_a_non_finite_number_in_a_context_is_refused(number: float) -> None:
    for context in ({"n": number}, {"a": [1, {"b": number}]}):
        with pytest.raises(ContextRejected, match="NaN or an infinite"):
            clean_context(context, max_bytes=8192, max_depth=4)


def _reference_clean_text(raw: str) -> str:
    """clean_text without shortcuts: every character through unicodedata, every text through bleach."""

    def drop(text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return "".join(ch for ch in text if not is_dropped(ch))

    def decode(text: str) -> str:
        while (decoded := html.unescape(text)) != text:
            text = decoded
        return text

    text = raw
    for _ in range(8):
        cleaned = unicodedata.normalize("NFKC", drop(decode(text)))
        cleaned = re.sub(r"<(?=[A-Za-z!/?])", "< ", sanitize.strip_markup(cleaned)).strip()
        if cleaned == text:
            return text
        text = cleaned
    raise AssertionError(f"no fixed point for {raw!r}")


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


@pytest.mark.parametrize(
    "markup", ["", "<", "&", "<b>", "&lt;", "&#60;", "&amp;", "<script>", "</script>", "&#xFF1C;", "\ufe64a"]
)
def test_fast_paths_give_the_same_text_as_the_reference(markup: str) -> None:
    rng = random.Random(1234 + len(markup))
    for _ in range(400):
        raw = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40)))
        if markup:
            cut = rng.randint(0, len(raw))
            raw = raw[:cut] + markup + raw[cut:]
        cleaned = clean_text(raw).text
        assert cleaned == _reference_clean_text(raw), repr(raw)
        assert clean_text(cleaned).text == cleaned, repr(raw)


def test_a_long_reply_without_markup_is_returned_unchanged() -> None:
    reply = "Refunds take 5-10 business days > see KB-012. " * 40
    assert clean_text(reply) == clean_text(reply.strip()) and clean_text(reply).text == reply.strip()
