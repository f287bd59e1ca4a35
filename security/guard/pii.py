"""Personal data in free text: find it, and redact it (before a hosted model call, in every log line).

What is found, and how a candidate is confirmed (a pattern alone would redact order numbers and case ids):

| kind    | candidates                                            | confirmed by                                   |
|---------|-------------------------------------------------------|------------------------------------------------|
| email   | `local@domain.tld`                                    | the pattern                                    |
| card    | 13-19 digits, grouped by spaces or dashes             | Luhn and an issuer prefix of that length       |
| iban    | 2 letters, 2 digits, 11-30 letters/digits (groups)    | country length and the ISO 7064 mod-97 check   |
| phone   | `+`/`00` international; national with a trunk 0,      | libphonenumber (`phonenumbers`): a valid       |
|         | parentheses or grouping; any run after "phone",       | number of the country it is written for, or    |
|         | "tel", "Handy", "téléphone", "móvil"... (7 languages) | of one of the desk's countries                  |
| id      | US SSN (dashed), UK NINO, ES DNI/NIE, IT codice       | python-stdnum checksums (SSN area rules, DNI   |
|         | fiscale, FR NIR; DE Steuer-ID, NL BSN, PT NIF only    | letter, CF check letter, NIR key, IdNr, BSN    |
|         | after their name (bare 9-11 digit runs are everyday)  | 11-proof, NIF) or NINO's published rules       |

Both libraries are pure Python and offline. Names are not detected: that needs an NER model, and none that
installs offline serves our seven languages (README, "Security").

The stored case keeps what the customer wrote; redaction is for copies that leave the desk's database (a
hosted model's prompt) and for logs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import phonenumbers
from stdnum import iban as _iban
from stdnum import luhn
from stdnum.de import idnr as _de_idnr
from stdnum.es import dni as _es_dni
from stdnum.es import nie as _es_nie
from stdnum.fr import nir as _fr_nir
from stdnum.it import codicefiscale as _it_cf
from stdnum.nl import bsn as _nl_bsn
from stdnum.pt import nif as _pt_nif
from stdnum.us import ssn as _us_ssn

MARKS = {"email": "[email]", "card": "[card]", "iban": "[iban]", "phone": "[phone]", "id": "[id]"}

# Nothing alphanumeric may touch a candidate: case ids are uuid4 hex, and some start with a long digit run.
_L = r"(?<![0-9A-Za-z])"
_R = r"(?![0-9A-Za-z])"
_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}")
_CARD = re.compile(_L + r"(?:\d[ -]?){12,18}\d" + _R)
_IBAN = re.compile(_L + r"[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}" + _R)
# Possessive quantifiers: a digit run touching a letter (a case id's hex) must fail at once, not after trying
# every way of cutting it into groups.
_PHONE = re.compile(r"(?<![0-9A-Za-z+])(?:\+|00)?\(?\d++\)?(?:(?:[ .\-/]{1,2}|(?<=\)))\(?\d++\)?){0,6}+(?![0-9A-Za-z])")
_SSN = re.compile(_L + r"\d{3}-\d{2}-\d{4}" + _R)
_NINO = re.compile(
    _L + r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]" + _R,
    re.IGNORECASE,
)
_DNI = re.compile(_L + r"\d{8}[ -]?[A-Za-z]" + _R)
_NIE = re.compile(_L + r"[XYZxyz][ -]?\d{7}[ -]?[A-Za-z]" + _R)
_CODICE_FISCALE = re.compile(_L + r"[A-Za-z]{6}\d{2}[A-Za-z]\d{2}[A-Za-z]\d{3}[A-Za-z]" + _R)
_NIR = re.compile(_L + r"[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}" + _R)
_NAMED_ID = re.compile(
    r"(?P<name>steuer-?id|steuer-?identifikationsnummer|identifikationsnummer|idnr|tax id|bsn|"
    r"burgerservicenummer|nif|contribuinte|ssn|social security(?: number)?)[^\d\n]{0,16}?"
    r"(?P<number>\d(?:[ .\-]?\d){8,10})" + _R,
    re.IGNORECASE,
)
_PHONE_WORDS = re.compile(
    # Words that say the next number is a phone number (generic "number", "Nummer", "numéro" are not: order
    # numbers follow them as often).
    r"(?:phone|tel|telephone|mobile|cell|call|sms|whatsapp|fax|reach me|"
    r"telefon|handy|mobil|rufnummer|anrufen|"
    r"t[eé]l[eé]phone|portable|appelez|"
    r"tel[eé]fono|m[oó]vil|celular|llamar|llame|"
    r"telefono|cellulare|chiamare|chiamatemi|"
    r"telefone|telem[oó]vel|ligar|liguem|"
    r"telefoon|mobiel|bellen|bel)\b\W{0,12}(?:at|on|unter|au|al|a|op)?\W{0,3}$",
    re.IGNORECASE,
)
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?!\d)")
_ENOUGH_DIGITS = re.compile(r"(?:\D*\d){6}")
# Every pattern but the e-mail's holds a digit, and no match reaches further than this from the digits it holds
# (the longest, a named id, about 65 characters), so only the text this close to a digit is scanned: a prompt of
# several thousand characters with a few numbers in it is scanned a few hundred characters at a time.
_REACH = 96
_DIGIT_RUN = re.compile(r"\d+")
_PHONE_MIN_DIGITS = 7
# A UK NINO holds 6 digits; cards, the other national ids and named ids hold more (IBANs can hold fewer).
_FEWEST_ID_DIGITS = 6
# Regions a number without a country code is tried in: the desk's languages' countries.
REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "PT", "NL", "BE", "AT", "CH", "IE")

# Issuer prefixes (IIN) and the lengths each issues, for cards: a Luhn-valid order number with no card prefix
# is not a card.
_CARD_PREFIXES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),
    ("300", "305", frozenset({14, 16})),  # Diners Club
    ("36", "36", frozenset({14, 16})),
    ("38", "39", frozenset({14, 16})),
    ("6011", "6011", frozenset({16, 19})),  # Discover
    ("644", "649", frozenset({16, 19})),
    ("65", "65", frozenset({16, 19})),
    ("3528", "3589", frozenset({16, 17, 18, 19})),  # JCB
    ("62", "62", frozenset({16, 17, 18, 19})),  # UnionPay
    ("50", "50", frozenset(range(12, 20))),  # Maestro
    ("56", "58", frozenset(range(12, 20))),
    ("67", "67", frozenset(range(12, 20))),
)


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of MARKS
    start: int
    end: int
    detail: str = ""  # e.g. "nino", "visa-like": never the value itself


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def is_card_number(candidate: str) -> bool:
    digits = _digits(candidate)
    if not 13 <= len(digits) <= 19 or not luhn.is_valid(digits):
        return False
    for low, high, lengths in _CARD_PREFIXES:
        prefix = digits[: len(low)]
        if low <= prefix <= high and len(digits) in lengths:
            return True
    return False


def _compact(text: str) -> str:
    return re.sub(r"[ \-]", "", text).upper()


def is_iban(candidate: str) -> bool:
    return bool(_iban.is_valid(_compact(candidate)))


def _valid_phone(candidate: str, context_says_phone: bool) -> bool:
    digits = _digits(candidate)
    stripped = candidate.strip()
    international = stripped.startswith(("+", "00"))
    if international:
        if len(digits) < 8:
            return False
        text = "+" + digits[2:] if stripped.startswith("00") else stripped
        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(text, None))
        except phonenumbers.NumberParseException:
            return False
    if not context_says_phone and _DATE.match(stripped):
        return False
    if _IPV4.fullmatch(stripped):
        return False
    groups = [len(g) for g in re.split(r"[ .\-]+", stripped)]
    # A trunk 0 or an area code in parentheses; or digits grouped by spaces or dots; dashes only in the US
    # 3-3-4 layout (product codes, references and serials are dashed: 2024-118-553, 400-1234-5678).
    grouped = groups == [3, 3, 4] if "-" in stripped else len(groups) >= 3 and "/" not in stripped
    national_shape = stripped.startswith(("0", "(")) or grouped
    if not context_says_phone and not (len(digits) >= 9 and national_shape):
        return False
    if len(digits) < _PHONE_MIN_DIGITS or len(digits) > 12:
        return False
    for region in REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(stripped, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def _nino_ok(candidate: str) -> bool:
    return len(_compact(candidate)) == 9


def _named_id_ok(name: str, number: str) -> bool:
    name = name.lower()
    digits = _digits(number)
    checks: list[Callable[[str], bool]]
    if "steuer" in name or "idnr" in name or "identifikation" in name or name == "tax id":
        checks = [_de_idnr.is_valid, _pt_nif.is_valid, _nl_bsn.is_valid]
    elif "bsn" in name or "burger" in name:
        checks = [_nl_bsn.is_valid]
    elif name in ("nif", "contribuinte"):
        checks = [_pt_nif.is_valid]
    else:  # ssn, social security
        checks = [_us_ssn.is_valid]
    return any(check(digits) for check in checks)


_ID_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[str], bool], str], ...] = (
    (_SSN, _us_ssn.is_valid, "us-ssn"),
    (_NINO, _nino_ok, "uk-nino"),
    (_DNI, _es_dni.is_valid, "es-dni"),
    (_NIE, _es_nie.is_valid, "es-nie"),
    (_CODICE_FISCALE, _it_cf.is_valid, "it-cf"),
    (_NIR, _fr_nir.is_valid, "fr-nir"),
)


def _iban_finding(match: re.Match[str]) -> Finding | None:
    """The longest valid IBAN at the start of the candidate: the pattern also takes the words after an IBAN
    written in groups ("DE89 3704 ... 00 please")."""
    candidate = match.group(0)
    groups = candidate.split(" ")
    for count in range(len(groups), 0, -1):
        head = " ".join(groups[:count])
        if is_iban(head):
            return Finding("iban", match.start(), match.start() + len(head))
    return None


def find_pii(text: str, memo: StretchMemo | None = None) -> list[Finding]:
    """Every piece of personal data in `text`, without overlaps (earlier and longer findings win). With a
    `memo`, the findings of a stretch near digits seen before (the same characters) are not searched again."""
    found: list[Finding] = []
    if "@" in text:
        found += [Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    if _ENOUGH_DIGITS.match(text):
        near = near_digits(text)
        if memo is not None and not any(e.start < s.end and s.start < e.end for e in found for s in near):
            # With no e-mail reaching into a stretch, each stretch's findings depend on its own characters and
            # the one before it (the patterns' look-behind) alone: the same as the scan below, stretch by stretch.
            for stretch in near:
                found += memo.findings(text, stretch)
            return _merge(found)
        for start, end, digits in near:
            found += _numbers_in(text, start, end, digits)
        taken = _merge(found)
        for start, end, _digits in near:
            found += _phones_in(text, start, end, taken)
    return _merge(found)


def _stretch_findings(text: str, stretch: Stretch) -> list[Finding]:
    numbers = _numbers_in(text, stretch.start, stretch.end, stretch.digits)
    return numbers + _phones_in(text, stretch.start, stretch.end, _merge(numbers))


class StretchMemo:
    """The findings of stretches near digits already scanned, keyed by a digest of their characters (so no text
    is kept), with offsets relative to the stretch. A hosted prompt repeats most of its digit-bearing text from
    one request to the next (knowledge-base articles, the task's own wording); only the customer's part is new.
    Bounded: when full it starts over. Safe to share between threads (a lost race costs one scan)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max = max_entries
        self._entries: dict[bytes, tuple[Finding, ...]] = {}

    def findings(self, text: str, stretch: Stretch) -> list[Finding]:
        # The character before the stretch is part of the key: the patterns look one character behind.
        before = text[stretch.start - 1] if stretch.start else "\x00"
        key = hashlib.blake2b((before + text[stretch.start : stretch.end]).encode(), digest_size=16).digest()
        known = self._entries.get(key)
        if known is None:
            found = _stretch_findings(text, stretch)
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = tuple(
                Finding(f.kind, f.start - stretch.start, f.end - stretch.start, f.detail) for f in found
            )
            return found
        return [Finding(f.kind, f.start + stretch.start, f.end + stretch.start, f.detail) for f in known]


class Stretch(NamedTuple):
    start: int
    end: int
    digits: int


def near_digits(text: str) -> list[Stretch]:
    """The stretches of `text` within _REACH of a digit, merged and in order, with the digits each holds."""
    spans: list[Stretch] = []
    for run in _DIGIT_RUN.finditer(text):
        start, end, digits = max(0, run.start() - _REACH), min(len(text), run.end() + _REACH), run.end() - run.start()
        if spans and start <= spans[-1].end:
            last = spans[-1]
            spans[-1] = Stretch(last.start, end, last.digits + digits)
        else:
            spans.append(Stretch(start, end, digits))
    return spans


def _numbers_in(text: str, start: int, end: int, digits: int) -> list[Finding]:
    """IBANs, cards and national ids in text[start:end] (the patterns' look-arounds still see the whole text)."""
    found = [f for m in _IBAN.finditer(text, start, end) if (f := _iban_finding(m)) is not None]
    if digits < _FEWEST_ID_DIGITS:
        return found  # a reference like "KB-004" or "step 2": too few digits for a card or any national id
    found += [
        Finding("card", m.start(), m.end()) for m in _CARD.finditer(text, start, end) if is_card_number(m.group(0))
    ]
    for pattern, check, detail in _ID_PATTERNS:
        found += [
            Finding("id", m.start(), m.end(), detail) for m in pattern.finditer(text, start, end) if check(m.group(0))
        ]
    found += [
        Finding("id", m.start("number"), m.end("number"), m.group("name").lower())
        for m in _NAMED_ID.finditer(text, start, end)
        if _named_id_ok(m.group("name"), m.group("number"))
    ]
    return found


def _phones_in(text: str, start: int, end: int, taken: list[Finding]) -> list[Finding]:
    """Phone numbers in text[start:end] that no other finding holds."""
    found = []
    for m in _PHONE.finditer(text, start, end):
        first, last = m.start(), m.end()
        # Trim what the loose pattern took around the number ("(", trailing separators).
        while last > first and not text[last - 1].isdigit():
            last -= 1
        if len(_digits(text[first:last])) < _PHONE_MIN_DIGITS:
            continue  # too short for any phone number `_valid_phone` accepts; most digit runs stop here
        if any(f.start < last and first < f.end for f in taken) or text[last : last + 1] == ":":
            continue  # taken, or a time of day ("10:14")
        context = bool(_PHONE_WORDS.search(text[max(0, first - 40) : first]))
        if _valid_phone(text[first:last], context):
            found.append(Finding("phone", first, last))
    return found


def _merge(found: list[Finding]) -> list[Finding]:
    out: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if out and finding.start < out[-1].end:
            continue
        out.append(finding)
    return out


def redact_pii(text: str, marks: dict[str, str] = MARKS, memo: StretchMemo | None = None) -> str:
    """`text` with every finding replaced by its kind's mark (`[card]`, `[phone]`, ...)."""
    findings = find_pii(text, memo)
    if not findings:
        return text
    parts: list[str] = []
    last = 0
    for finding in findings:
        parts.append(text[last : finding.start])
        parts.append(marks[finding.kind])
        last = finding.end
    parts.append(text[last:])
    return "".join(parts)
