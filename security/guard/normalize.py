"""Undo the cheap disguises of a prompt injection before it is scored, and measure the disguise itself.

`model_text(raw)` is what the classifier reads: NFKC, casefolded, without accents and invisible characters,
with look-alike letters of other scripts folded to Latin, leetspeak words spelt out (`1gn0r3` -> `ignore`),
letter-by-letter words joined (`i g n o r e` -> `ignore`), and the decoded text of every long base64 run
appended. `structure(raw)` counts what a support message almost never holds: chat-template role markers,
the agent's own `Thought:` / `Final Answer:` format, the crew's output schema, fence-breaking markers,
invisible characters, mixed-script words, long base64 runs. The classifier weighs both.

Pure Python, no model: it runs on every customer message (well under a millisecond for a typical one).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from urllib.parse import unquote

# Invisible characters people use to split trigger words (the sanitiser removes most of them, but
# `support-desk eval-guard` reads raw text, and the guard must not depend on what ran before it).
_INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)

# Cyrillic and Greek letters that look like Latin ones (lower case; the text is casefolded first).
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
        "һ": "h", "ӏ": "l", "ɡ": "g", "ɩ": "i", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k",
        "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "γ": "y", "ѵ": "v", "ԍ": "g",
    }
)  # fmt: skip
_CONFUSABLE_CHARS = frozenset(k for k in "авеёкмнорстухѕіїјԁԛԝһӏɡɩαβεηικνορτυχωγѵԍ")

# Digits and symbols standing for letters, applied only inside words that also hold letters (so order
# numbers, prices and dates are left alone).
# (`@` and `!` are left out: e-mail addresses and "help!" are everywhere in support messages.)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "$": "s"})
_LEET_WORD = re.compile(r"(?<![\w$])(?=[\w$]*[a-z])(?=[\w$]*[013457$])[a-z013457$]{3,}(?![\w$])")
# Single letters separated by one space, dot, dash, underscore or asterisk: "i g n o r e", "s.y.s.t.e.m".
_LEET_INSIDE = re.compile(r"[a-z][013457$]+[a-z]")
_SPACED = re.compile(r"(?<!\w)(?:[a-z][ .\-_*]){3,}[a-z](?!\w)")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{20,}={0,2}|[A-Za-z0-9_\-]{24,}={0,2}")
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}[ ]?){12,}")
_URL_ESCAPES = re.compile(r"(?:%[0-9a-fA-F]{2}){4,}")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

# --- structural signals ---------------------------------------------------------------------------------
_ROLE_MARKER = re.compile(
    r"<\s*\|\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\s*\|\s*>"
    r"|\[/?\s*(?:inst|sys)\s*\]|<<\s*/?\s*sys\s*>>"
    r"|^\s*#{2,}\s*(?:system|instruction|instructions|new instructions|response|assistant|user)\b"
    r"|^\s*(?:system|assistant|developer)\s*(?:prompt|message)?\s*:",
    re.IGNORECASE | re.MULTILINE,
)
_AGENT_FORMAT = re.compile(
    r"^\s*(?:final answer|thought|action|action input|observation)\s*:", re.IGNORECASE | re.MULTILINE
)
_SCHEMA = re.compile(
    r"[\"'](?:category|priority|confidence|is_complex|secondary_categories|signals|route|emergency)[\"']\s*:",
    re.IGNORECASE,
)
_FENCE = re.compile(
    r"<\s*/?\s*(?:customer_message|history|knowledge_base_articles|system|instructions?|context|prompt|admin)\s*>",
    re.IGNORECASE,
)
_DELIMITER = re.compile(r"^\s*(?:[-=#*_~]{5,}|end of (?:text|prompt|input|message|context))\s*$", re.I | re.M)
_PLACEHOLDER = re.compile(r"\{\{?\s*[a-z_]{3,}\s*\}?\}")

STRUCTURE_NAMES = (
    "role_marker",
    "agent_format",
    "schema_marker",
    "fence_marker",
    "delimiter_line",
    "placeholder",
    "invisible_chars",
    "mixed_script_word",
    "base64_run",
    "decoded_text",
    "leet_words",
    "spaced_letters",
    "many_lines",
    "long_text",
)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _is_printable_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(ch.isalpha() or ch.isspace() for ch in text)
    if len(text) < 8 or letters / len(text) < 0.75 or not any(ch == " " for ch in text):
        return None
    return text


def decoded_segments(text: str) -> list[str]:
    """Readable text hidden in base64, hex or percent-encoded runs (each at most once)."""
    found: list[str] = []
    for match in _BASE64_RUN.finditer(text):
        run = match.group(0)
        for decoder in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                padded = run + "=" * (-len(run) % 4)
                decoded = _is_printable_text(decoder(padded))
            except (binascii.Error, ValueError):
                decoded = None
            if decoded:
                found.append(decoded)
                break
    for match in _HEX_RUN.finditer(text):
        try:
            decoded = _is_printable_text(bytes.fromhex(match.group(0).replace(" ", "")))
        except ValueError:
            decoded = None
        if decoded:
            found.append(decoded)
    for match in _URL_ESCAPES.finditer(text):
        decoded = unquote(match.group(0))
        if decoded != match.group(0) and _is_printable_text(decoded.encode()):
            found.append(decoded)
    return found


def _fold(text: str) -> tuple[str, int, int]:
    """Casefolded text with disguises undone; also how many leet and spaced-out words there were."""
    text = _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    text = _strip_accents(text.translate(_CONFUSABLES))
    leet = 0

    def unleet(match: re.Match[str]) -> str:
        nonlocal leet
        word = match.group(0)
        # Counted only with a substitute between two letters ("pr3v10us", "s3cr3t"): product names and
        # versions ("win10", "mp3", "3rd", "x86") have their digits at one end.
        leet += bool(_LEET_INSIDE.search(word))
        return word.translate(_LEET)

    text = _LEET_WORD.sub(unleet, text)
    spaced = 0

    def join(match: re.Match[str]) -> str:
        nonlocal spaced
        spaced += 1
        return " " + re.sub(r"[ .\-_*]", "", match.group(0)) + " "

    text = _SPACED.sub(join, text)
    return text, leet, spaced


def model_text(raw: str) -> str:
    """The text the classifier reads (see the module docstring)."""
    text, _leet, _spaced = _fold(raw)
    decoded = [_fold(segment)[0] for segment in decoded_segments(raw)]
    return " \n ".join([text, *decoded]) if decoded else text


def _mixed_script_words(text: str) -> int:
    count = 0
    for word in _WORD.findall(text.casefold()):
        if len(word) < 3:
            continue
        has_confusable = any(ch in _CONFUSABLE_CHARS for ch in word)
        has_latin = any("a" <= ch <= "z" for ch in word)
        if has_confusable and has_latin:
            count += 1
    return count


def structure(raw: str) -> dict[str, float]:
    """Counts of structural signals (see STRUCTURE_NAMES), squashed to [0, 1]."""
    nfkc = unicodedata.normalize("NFKC", raw)
    _text, leet, spaced = _fold(raw)
    signals = {
        "role_marker": len(_ROLE_MARKER.findall(nfkc)),
        "agent_format": len(_AGENT_FORMAT.findall(nfkc)),
        "schema_marker": len(_SCHEMA.findall(nfkc)),
        "fence_marker": len(_FENCE.findall(nfkc)),
        "delimiter_line": len(_DELIMITER.findall(nfkc)),
        "placeholder": len(_PLACEHOLDER.findall(nfkc)),
        "invisible_chars": len(_INVISIBLE_RE.findall(raw)),
        "mixed_script_word": _mixed_script_words(nfkc),
        "base64_run": len(_BASE64_RUN.findall(nfkc)),
        "decoded_text": len(decoded_segments(nfkc)),
        "leet_words": max(0, leet - 1),  # one odd word ("c0de", "m4ster") happens in benign text
        "spaced_letters": spaced,
        "many_lines": max(0, nfkc.count("\n") - 8),
        "long_text": max(0, len(nfkc) - 1500) / 1500,
    }
    return {name: min(1.0, value / 2) if name != "long_text" else min(1.0, value) for name, value in signals.items()}
