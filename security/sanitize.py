"""Input and output sanitisation: every piece of free text the desk stores or returns passes through here.

The desk handles plain text, never HTML. One pass of `clean_text`:

1. decodes entities until none is left (`&lt;`, `&#xFF1C;`, `&amp;lt;`), drops control and invisible
   characters, then NFKC-normalises, so every character that could become markup is already the character
   it stands for (the full-width and small-form less-than signs U+FF1C and U+FE64 are `<` from here on);
2. strips markup with bleach (no tags allowed); the contents of script, style and the other elements a
   browser never shows as text (iframe, noscript, template, ...) are dropped with them, not kept as text;
3. puts a space after any `<` still followed by a letter, `!`, `/` or `?` (people write "a < b"), so no
   later HTML parser sees a tag, and trims.

Passes repeat until one changes nothing (at most `_MAX_PASSES`), so the result is a fixed point:
`clean_text(clean_text(x).text).text == clean_text(x).text`, and no order of encodings or normalisation
can turn what is stored into markup afterwards. Should the passes not settle (nothing known does), every
`<`, `>` and `&` is replaced by a space, which is stable by construction.

Markdown is not markup here: customers may type `**` or `[x](y)`. Whoever displays the text must show it
as text (the web interface uses `st.text`, never Markdown or HTML).

Cost: this runs on every message and on every reply and citation the crew returns. Text without `<` and `&`
holds no markup and no entity, so bleach's html5lib parse (~0.2 ms for a sentence, ~1 ms for a long reply)
is skipped for it: bleach would only escape `>`, which unescaping turns back, so the result is the same
(tests/security/test_sanitize.py checks both against the full path). Such text settles in one or two cheap passes.
Control characters are removed with one regular expression over the same categories (checked against
`unicodedata` for every code point).

`clean_context` checks a JSON context object before cleaning its strings: nesting depth (iteratively, so a
deep object cannot exhaust the stack), size, and that it holds nothing JSON cannot carry (lone surrogates,
NaN or infinite numbers).
"""

from __future__ import annotations

import html
import json
import math
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bleach.html5lib_shim import Filter
from bleach.sanitizer import Cleaner

# Customer ids come from other systems: letters, digits and a few separators, no spaces, bounded length.
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
_CUSTOMER_ID_RE = re.compile(CUSTOMER_ID_PATTERN)
# Bidirectional overrides and zero-width characters can hide text from a reviewer; format characters that
# emoji sequences need (ZWJ U+200D) stay.
_INVISIBLE = frozenset("\u200b\u200c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_TAG_START = re.compile(r"<(?=[A-Za-z!/?])")
_MAX_PASSES = 8
# Unicode categories Cc (C0 and C1 controls, except newline and tab), Cs (surrogates), Co (private use:
# the BMP block and planes 15-16 up to U+xFFFD; U+xFFFE/U+xFFFF are unassigned, Cn, and stay), plus _INVISIBLE.
_DROPPED = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
    + "".join(sorted(_INVISIBLE))
    + "]"
)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MARKUP_CHARS = ("<", "&")
# Elements whose content a browser never shows as text: dropped with everything in them.
HIDDEN_ELEMENTS = frozenset({"script", "style", "iframe", "noembed", "noframes", "noscript", "template"})
_LAST_RESORT = str.maketrans({"<": " ", ">": " ", "&": " "})


@dataclass(frozen=True)
class Cleaned:
    text: str
    changed: bool


class ContextRejected(ValueError):
    """The context object is too large, too deep, or holds what JSON cannot carry."""


class _DropHiddenElements(Filter):  # type: ignore[misc]
    """html5lib filter: drop the elements of HIDDEN_ELEMENTS together with their content.

    The cleaner lets exactly these tags through bleach's parser (so their content is parsed as the raw text
    a browser would see, not as markup) and this filter then removes them whole.
    """

    def __iter__(self) -> Iterator[dict[str, Any]]:
        depth = 0
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag", "EndTag") and token["name"] in HIDDEN_ELEMENTS:
                if token["type"] == "StartTag":
                    depth += 1
                elif token["type"] == "EndTag":
                    depth = max(0, depth - 1)
                continue
            if depth == 0:
                yield token


_CLEANER = Cleaner(tags=HIDDEN_ELEMENTS, attributes={}, strip=True, strip_comments=True, filters=[_DropHiddenElements])


def is_dropped(ch: str) -> bool:
    """The definition `_DROPPED` implements (kept as the reference the tests compare it with)."""
    return ch not in "\n\t" and (unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in _INVISIBLE)


def _drop_controls(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _DROPPED.sub("", text)


def _has_markup_chars(text: str) -> bool:
    return any(ch in text for ch in _MARKUP_CHARS)


def strip_markup(text: str) -> str:
    """Remove tags, comments and hidden elements with their content; return plain text (entities decoded)."""
    return html.unescape(_CLEANER.clean(text))


def _decode_entities(text: str) -> str:
    """Decode until no entity is left (`&amp;lt;` -> `<`); each round shortens the text, so it ends."""
    while "&" in text:
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def _one_pass(text: str) -> str:
    # Decode and normalise first: what the characters are is settled before anything looks for markup, and
    # with no entity left, unescaping bleach's output undoes exactly bleach's own escaping.
    # Dropping comes before NFKC (never the reverse): removing a character between a letter and a combining
    # mark can make text composable again, and NFKC never produces a dropped character (tested).
    text = unicodedata.normalize("NFKC", _drop_controls(_decode_entities(text)))
    if _has_markup_chars(text):
        # No `<` and no `&`: no tag can start and no entity can be decoded, so bleach would change nothing.
        text = _TAG_START.sub("< ", strip_markup(text))
    return text.strip()


def clean_text(raw: str) -> Cleaned:
    """Plain text: entities decoded, NFKC, no control characters, no markup, trimmed; a fixed point.

    `changed` ignores outer whitespace.
    """
    text = raw
    for _ in range(_MAX_PASSES):
        cleaned = _one_pass(text)
        if cleaned == text:
            break
        text = cleaned
    else:
        # Not settled: give up on keeping `<`, `>` and `&`. Spaces never compose under NFKC, so this is stable.
        text = unicodedata.normalize("NFKC", _drop_controls(_decode_entities(text))).translate(_LAST_RESORT).strip()
    return Cleaned(text=text, changed=text != raw.strip())


def is_valid_customer_id(value: str) -> bool:
    return bool(_CUSTOMER_ID_RE.fullmatch(value))


def _check_json_value(value: Any, *, max_depth: int) -> None:
    """Depth (containers nested deeper than `max_depth` count as too deep), lone surrogates and non-finite
    numbers. Iterative: a context nested thousands deep must be refused, not overflow the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list):
            if depth > max_depth:
                raise ContextRejected("context is nested too deeply")
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
            if isinstance(item, Mapping):
                stack.extend((key, depth) for key in item)
        elif isinstance(item, str):
            if _SURROGATE.search(item):
                raise ContextRejected("context holds a lone surrogate, which is not text")
        elif isinstance(item, float) and not math.isfinite(item):
            raise ContextRejected("context holds NaN or an infinite number, which JSON cannot carry")


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
    """Check shape, content and size of a JSON context object and clean every string (keys included) in it.

    Raises ContextRejected for anything too deep or too large, a lone surrogate, NaN or infinity.
    """
    _check_json_value(context, max_depth=max_depth)
    if len(json.dumps(context, ensure_ascii=False, allow_nan=False).encode()) > max_bytes:
        raise ContextRejected("context is too large")
    cleaned, changed = _clean_value(context)
    return dict(cleaned), changed
