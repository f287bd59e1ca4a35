"""Input and output sanitisation: every piece of free text the desk stores or returns passes through here.

The desk handles plain text, never HTML. So markup is removed (bleach with no allowed tags), entities are
decoded back to the characters they stand for, and the two steps repeat until nothing changes, so an
entity-encoded tag (`&lt;script&gt;`) cannot survive as a tag after decoding. A lone `<` stays (people
write "a < b") unless a letter follows it, where a space is inserted so no later HTML parser sees a tag.

Cost: this runs on every message and on every reply and citation the crew returns. Text without `<` and `&`
holds no markup and no entity, so bleach's html5lib parse (~0.2 ms for a sentence, ~1 ms for a long reply)
is skipped for it: bleach would only escape `>`, which unescaping turns back, so the result is the same
(tests/security/test_sanitize.py checks both against the full path). Control characters are removed with
one regular expression over the same categories (checked against `unicodedata` for every code point).
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import bleach

# Customer ids come from other systems: letters, digits and a few separators, no spaces, bounded length.
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
_CUSTOMER_ID_RE = re.compile(CUSTOMER_ID_PATTERN)
# Bidirectional overrides and zero-width characters can hide text from a reviewer; format characters that
# emoji sequences need (ZWJ U+200D) stay.
_INVISIBLE = frozenset("\u200b\u200c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_TAG_START = re.compile(r"<(?=[A-Za-z!/?])")
_MAX_MARKUP_PASSES = 8
# Unicode categories Cc (C0 and C1 controls, except newline and tab), Cs (surrogates), Co (private use:
# the BMP block and planes 15-16 up to U+xFFFD; U+xFFFE/U+xFFFF are unassigned, Cn, and stay), plus _INVISIBLE.
_DROPPED = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
    + "".join(sorted(_INVISIBLE))
    + "]"
)
_MARKUP_CHARS = ("<", "&")


@dataclass(frozen=True)
class Cleaned:
    text: str
    changed: bool


class ContextRejected(ValueError):
    """The context object is too large or too deep."""


def is_dropped(ch: str) -> bool:
    """The definition `_DROPPED` implements (kept as the reference the tests compare it with)."""
    return ch not in "\n\t" and (unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in _INVISIBLE)


def _drop_controls(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _DROPPED.sub("", text)


def _has_markup_chars(text: str) -> bool:
    return any(ch in text for ch in _MARKUP_CHARS)


def _strip_markup(text: str) -> str:
    if not _has_markup_chars(text):
        # No tag can start and no entity can be decoded: bleach + unescape would give the text back unchanged.
        return text
    for _ in range(_MAX_MARKUP_PASSES):
        stripped = html.unescape(bleach.clean(text, tags=set(), attributes={}, strip=True, strip_comments=True))
        if stripped == text:
            break
        text = stripped
    return _TAG_START.sub("< ", text)


def clean_text(raw: str) -> Cleaned:
    """NFKC-normalise, drop control characters, strip markup, trim. `changed` ignores outer whitespace."""
    text = unicodedata.normalize("NFKC", raw)
    text = _drop_controls(text)
    text = _strip_markup(text)
    # Markup removal can expose characters that NFKC would fold (e.g. from decoded entities), and so can
    # dropping a character between a letter and a combining mark. Cheap on normalised text (a quick check).
    text = _drop_controls(unicodedata.normalize("NFKC", text)).strip()
    return Cleaned(text=text, changed=text != raw.strip())


def is_valid_customer_id(value: str) -> bool:
    return bool(_CUSTOMER_ID_RE.fullmatch(value))


def _depth(value: Any) -> int:
    if isinstance(value, Mapping):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _clean_value(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        cleaned = clean_text(value)
        return cleaned.text, cleaned.changed
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            clean_key = clean_text(str(key))
            clean_item, item_changed = _clean_value(item)
            out[clean_key.text] = clean_item
            changed = changed or clean_key.changed or item_changed
        return out, changed
    if isinstance(value, list):
        items = [_clean_value(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def clean_context(context: Mapping[str, Any], *, max_bytes: int, max_depth: int) -> tuple[dict[str, Any], bool]:
    """Check size and nesting of a JSON context object and clean every string (keys included) in it."""
    if _depth(context) > max_depth:
        raise ContextRejected("context is nested too deeply")
    if len(json.dumps(context, ensure_ascii=False).encode()) > max_bytes:
        raise ContextRejected("context is too large")
    cleaned, changed = _clean_value(context)
    return dict(cleaned), changed
