"""The local routing model: a deterministic, offline classifier for the first step of the crew.

It reads only text the project's authors wrote (`data/routing_examples.yaml`, `data/vocabulary.yaml`)
and builds, once per instance, a table of per-label log-likelihood ratios over word and bigram
features (a naive-Bayes style scorer whose counts are our examples plus a hand-weighted lexicon).
High-precision rules catch escalation signals that must never be missed (a request for a human,
legal threats, fraud, stolen or hacked accounts, safety).

Why this shape: a model trained on one data set's phrasing does not transfer to another's, so the
evidence comes from general support vocabulary rather than any corpus, and scores are normalised by
the amount of evidence so a long e-mail is judged by what it is mostly about, not by one stray word.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from crew.config import DEFAULT_COMPLEX_THRESHOLD
from crew.models import Category, Classification, Priority

DATA_DIR = Path(__file__).resolve().parent / "data"
LABELS: tuple[Category, ...] = (Category.BILLING, Category.TECHNICAL, Category.ESCALATION, Category.GENERAL)

# Smoothing for the per-label feature probabilities; small because our examples are short and clean.
_SMOOTHING = 2.0
# Converts summed evidence into logits. Evidence is divided by sqrt(feature count) first, so a long
# text does not become absurdly certain just because it has many words.
_TEMPERATURE = 1.6
# A feature whose log-likelihood ratio for a label is at least this much is a "strong indicator" of it.
_STRONG_INDICATOR = 0.9
# An e-mail's short first line is its subject: the customer's own summary, so a word in it counts this
# much more than a body word (a long body mentions many incidental things). Only strong indicators get
# the boost: generic subject words ("issue", "request", "inquiry", "support") say nothing about the desk,
# and boosting them let them outvote the body.
_SUBJECT_WEIGHT = 3.0
_SUBJECT_MAX_WORDS = 14
# A second label is "strongly present" when its strong-indicator evidence reaches this floor and
# this share of the winner's; below that, a mention is treated as incidental.
_SECONDARY_FLOOR = _STRONG_INDICATOR
_SECONDARY_SHARE = 0.3
# With no evidence at all the message goes to the catch-all desk; this only breaks ties.
_FALLBACK_BIAS = 0.05

# Words start with a letter: order numbers, amounts and dates carry no routing evidence...
_WORD_RE = re.compile(r"(?<![a-z0-9])[a-z][a-z0-9]*(?:'[a-z]+)?")
# ...except that an amount written with a currency sign ("$120") is money, so it reads as the word (currency
# codes written out, "20 eur", are synonyms of it in vocabulary.yaml).
_CURRENCY_SIGNS = "$\u20ac\u00a3\u00a5"
_CURRENCY_RE = re.compile(rf"[{re.escape(_CURRENCY_SIGNS)}]\s?\d")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
# A rule match preceded by one of these is about the absence of the thing ("no need to talk to a manager").
_NEGATION_BEFORE = re.compile(
    r"\b(no need to|(do not|don't|dont) (need|want|have) to|not (asking|trying|going) to|never|"
    r"(do not|don't|dont) think|not sure (if|whether)|no sign (of|that))\W*(\w+\W+){0,2}$"
)
# Every injection pattern in vocabulary.yaml contains ":" or "=" or one of these words.
_INSTRUCTION_WORDS = ("ignore", "disregard", "classif", "categori", "route", "label", "mark", "treat", "you are now")


@dataclass(frozen=True)
class _Rule:
    name: str
    label: Category
    weight: float
    force: bool
    pattern: re.Pattern[str]


def light_stem(word: str) -> str:
    """A deliberately crude suffix stripper: consistent, not linguistic ("charges"/"charged" -> "charg")."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, min_len in (("ation", 8), ("ing", 6), ("ed", 5)):
        if len(word) >= min_len and word.endswith(suffix):
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeious":
                word = word[:-1]
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


class _Normaliser:
    """Text -> canonical tokens -> features. One object so the examples and the input are treated alike."""

    def __init__(self, phrases: Mapping[str, str], synonyms: Mapping[str, str], stopwords: str) -> None:
        # Phrases are matched on word sequences (longest first), which is much cheaper than one big regex.
        self._phrases = {tuple(_WORD_RE.findall(key.lower())): value.lower() for key, value in phrases.items()}
        self._longest_phrase = max((len(key) for key in self._phrases), default=1)
        self._phrase_starts = frozenset(key[0] for key in self._phrases if len(key) > 1)
        self._synonyms = {key.lower(): value.lower() for key, value in synonyms.items()}
        self._stopwords = frozenset(stopwords.lower().split())
        # Word -> canonical form, filled at construction from our own data and the stop list; unseen words
        # are computed on the fly (cheap) rather than cached, so classify() never mutates the instance.
        self._known: dict[str, str] = {}

    def remember(self, text: str) -> None:
        for word in _WORD_RE.findall(self.clean(text)):
            if word not in self._known:
                self._known[word] = self._canonical(word)

    def clean(self, text: str) -> str:
        # Exported tickets often carry newlines as a literal backslash-n; without this "\\nthe" is one word.
        return text.translate(_QUOTES).replace("\\n", "\n").lower()

    def tokens(self, cleaned: str) -> list[str]:
        if any(sign in cleaned for sign in _CURRENCY_SIGNS):
            cleaned = _CURRENCY_RE.sub(" money ", cleaned)
        words = _WORD_RE.findall(cleaned)
        result: list[str] = []
        index = 0
        count = len(words)
        while index < count:
            word = words[index]
            if word in self._phrase_starts:
                for size in range(min(self._longest_phrase, count - index), 1, -1):
                    replacement = self._phrases.get(tuple(words[index : index + size]))
                    if replacement is not None:
                        result.append(self.canonical(replacement))
                        index += size
                        break
                else:
                    replacement = None
                if replacement is not None:
                    continue
            index += 1
            if word not in self._stopwords:
                result.append(self.canonical(self._phrases.get((word,), word)))
        return result

    def canonical(self, word: str) -> str:
        known = self._known.get(word)
        return known if known is not None else self._canonical(word)

    def _canonical(self, word: str) -> str:
        if word in self._synonyms:
            return self._synonyms[word]
        stem = light_stem(word)
        return self._synonyms.get(stem, stem)

    def feature_counts(self, cleaned: str) -> Counter[str]:
        words = self.tokens(cleaned)
        counts = Counter(words)
        counts.update(f"{first} {second}" for first, second in pairwise(words) if first != second)
        return counts

    def features(self, cleaned: str) -> set[str]:
        return set(self.feature_counts(cleaned))

    def weighted_features(self, cleaned: str) -> dict[str, float]:
        """Features with sublinear term-frequency weights: what a long text keeps returning to is its topic."""
        return {feature: 1.0 + math.log(count) for feature, count in self.feature_counts(cleaned).items()}


@dataclass(frozen=True)
class _Evidence:
    """What the scorer found in one text, before it is turned into a Classification."""

    logits: dict[Category, float]
    strength: dict[Category, float]
    top_features: dict[Category, list[str]]
    rule_hits: list[_Rule]


class LocalRouter:
    """Routes one customer message to a category with priority, confidence and the signals behind it.

    Build one per process: construction reads the data files and builds the scoring table (a few
    milliseconds); `classify` is pure and thread-safe.
    """

    def __init__(self, complex_threshold: float = DEFAULT_COMPLEX_THRESHOLD, *, data_dir: Path = DATA_DIR) -> None:
        if not 0.0 <= complex_threshold <= 1.0:
            raise ValueError(f"complex_threshold must be within 0..1, got {complex_threshold}")
        self.complex_threshold = complex_threshold
        vocabulary = _read_yaml(data_dir / "vocabulary.yaml")
        examples = _read_yaml(data_dir / "routing_examples.yaml")
        self._normaliser = _Normaliser(vocabulary["phrases"], vocabulary["synonyms"], vocabulary["stopwords"])
        for texts in examples.values():
            for text in texts:
                self._normaliser.remember(text)
        self._normaliser.remember(vocabulary["stopwords"])
        self._rules = tuple(_compile_rules(vocabulary["rules"]))
        self._injection = re.compile("|".join(f"(?:{p})" for p in vocabulary["injection"]))
        self._priority_rules = {
            Priority(level): re.compile("|".join(f"(?:{p})" for p in patterns))
            for level, patterns in vocabulary["priority"].items()
        }
        self._weights = self._build_weights(examples, vocabulary["lexicon"])

    # --- construction --------------------------------------------------------------------------------
    def _build_weights(
        self, examples: Mapping[str, Sequence[str]], lexicon: Mapping[str, Mapping[str, float]]
    ) -> dict[str, tuple[float, ...]]:
        counts: dict[Category, defaultdict[str, float]] = {label: defaultdict(float) for label in LABELS}
        for label_name, texts in examples.items():
            label = Category(label_name)
            for text in texts:
                for feature in self._normaliser.features(self._normaliser.clean(text)):
                    counts[label][feature] += 1.0
        for label_name, entries in lexicon.items():
            label = Category(label_name)
            for phrase, weight in entries.items():
                for feature in self._normaliser.features(self._normaliser.clean(phrase)):
                    counts[label][feature] += float(weight)
        vocabulary = set().union(*counts.values())
        weights: dict[str, tuple[float, ...]] = {}
        totals = {label: sum(counts[label].values()) + _SMOOTHING * len(vocabulary) for label in LABELS}
        for feature in vocabulary:
            probabilities = [(counts[label][feature] + _SMOOTHING) / totals[label] for label in LABELS]
            mean = sum(probabilities) / len(probabilities)
            weights[feature] = tuple(math.log(p / mean) for p in probabilities)
        return weights

    # --- classification ------------------------------------------------------------------------------
    def classify(self, text: str) -> Classification:
        cleaned = self._normaliser.clean(text)
        signals: list[str] = []
        scrubbed = self._injection.sub(" ", cleaned) if _may_hold_instructions(cleaned) else cleaned
        if scrubbed != cleaned:
            signals.append("ignored:instruction-in-text")
        evidence = self._evidence(scrubbed)
        probabilities = _softmax(evidence.logits)
        ranked = sorted(LABELS, key=lambda label: probabilities[label], reverse=True)
        forced = [rule for rule in evidence.rule_hits if rule.force]
        category = forced[0].label if forced else ranked[0]
        confidence = probabilities[category]

        top_strength = evidence.strength[category]
        secondary = [
            label
            for label in ranked
            if label != category and evidence.strength[label] >= max(_SECONDARY_FLOOR, _SECONDARY_SHARE * top_strength)
        ]
        is_complex = bool(secondary) or (confidence < self.complex_threshold and not forced)

        signals.extend(f"rule:{rule.name}" for rule in evidence.rule_hits)
        for label in (category, *secondary):
            signals.extend(f"{label.value}:{feature}" for feature in evidence.top_features[label])
        if not evidence.top_features[category] and not evidence.rule_hits:
            signals.append("no-strong-evidence")
        return Classification(
            category=category,
            priority=self._priority(scrubbed, category, evidence),
            confidence=round(min(max(confidence, 0.0), 1.0), 4),
            is_complex=is_complex,
            signals=signals,
            secondary_categories=secondary,
        )

    def _evidence(self, cleaned: str) -> _Evidence:
        scores = dict.fromkeys(LABELS, 0.0)
        strength = dict.fromkeys(LABELS, 0.0)
        contributions: dict[Category, list[tuple[float, str]]] = {label: [] for label in LABELS}
        known = 0.0
        subject = _subject_line(cleaned)
        subject_features = self._normaliser.features(subject) if subject else frozenset()
        for feature, multiplier in self._normaliser.weighted_features(cleaned).items():
            weights = self._weights.get(feature)
            if weights is None:
                continue
            if feature in subject_features and max(weights) >= _STRONG_INDICATOR:
                multiplier += _SUBJECT_WEIGHT - 1.0
            known += multiplier
            for label, weight in zip(LABELS, weights, strict=True):
                scores[label] += weight * multiplier
                if weight >= _STRONG_INDICATOR:
                    strength[label] += weight * multiplier
                    contributions[label].append((weight * multiplier, feature))
        scale = _TEMPERATURE / math.sqrt(max(known, 1.0))
        logits = {label: scores[label] * scale for label in LABELS}
        logits[Category.GENERAL] += _FALLBACK_BIAS
        rule_hits = self._rule_hits(cleaned)
        for rule in rule_hits:
            logits[rule.label] += rule.weight
            strength[rule.label] += rule.weight
        top_features = {
            label: [feature for _, feature in sorted(contributions[label], reverse=True)[:4]] for label in LABELS
        }
        return _Evidence(logits=logits, strength=strength, top_features=top_features, rule_hits=rule_hits)

    def _rule_hits(self, cleaned: str) -> list[_Rule]:
        return [
            rule
            for rule in self._rules
            if any(
                not _NEGATION_BEFORE.search(cleaned[max(0, match.start() - 40) : match.start()])
                for match in rule.pattern.finditer(cleaned)
            )
        ]

    def _priority(self, cleaned: str, category: Category, evidence: _Evidence) -> Priority:
        if self._priority_rules[Priority.URGENT].search(cleaned) and (
            category in (Category.ESCALATION, Category.TECHNICAL) or any(rule.force for rule in evidence.rule_hits)
        ):
            return Priority.URGENT
        if category is Category.ESCALATION or self._priority_rules[Priority.HIGH].search(cleaned):
            return Priority.HIGH
        if category is Category.GENERAL or self._priority_rules[Priority.LOW].search(cleaned):
            return Priority.LOW
        return Priority.MEDIUM


def _subject_line(cleaned: str) -> str:
    """The subject of an e-mail-like text: a short first line ("subject:" optional) followed by a body."""
    first, newline, body = cleaned.strip().partition("\n")
    if first.startswith("subject:"):
        first = first[len("subject:") :]
        if not newline:  # "Subject: Refund request. Hi, ..." written on one line
            first, newline, body = first.partition(". ")
    if not newline or not body.strip() or len(first.split()) > _SUBJECT_MAX_WORDS:
        return ""
    return first


def _may_hold_instructions(cleaned: str) -> bool:
    """Cheap pre-check so the injection patterns only run on texts that could match them."""
    return ":" in cleaned or "=" in cleaned or any(word in cleaned for word in _INSTRUCTION_WORDS)


def _softmax(logits: Mapping[Category, float]) -> dict[Category, float]:
    peak = max(logits.values())
    exps = {label: math.exp(value - peak) for label, value in logits.items()}
    total = sum(exps.values())
    return {label: value / total for label, value in exps.items()}


def _compile_rules(raw_rules: Sequence[Mapping[str, Any]]) -> Iterable[_Rule]:
    for raw in raw_rules:
        yield _Rule(
            name=str(raw["name"]),
            label=Category(raw["label"]),
            weight=float(raw["weight"]),
            force=bool(raw.get("force", False)),
            pattern=re.compile(str(raw["pattern"])),
        )


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} must hold a mapping")
    return loaded
