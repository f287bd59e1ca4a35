"""The local routing model: a deterministic, offline classifier for the first step of the crew.

It reads only text the project's authors wrote (`data/routing_examples.yaml`, `data/vocabulary.yaml`)
and builds, once per instance, a table of per-label log-likelihood ratios over word and bigram
features (a naive-Bayes style scorer whose counts are our examples plus a hand-weighted lexicon).
High-precision rules catch escalation signals that must never be missed (a request for a human,
legal threats, fraud, stolen or hacked accounts, safety).

Why this shape: a model trained on one data set's phrasing does not transfer to another's, so the
evidence comes from general support vocabulary rather than any corpus, and scores are normalised by
the amount of evidence so a long e-mail is judged by what it is mostly about, not by one stray word.

With the embedding half (`crew.local_model.semantic`, built by `LocalRouter.from_config`) the router is
an ensemble: the lexical probabilities are averaged with a logistic regression's over MiniLM embeddings of
the same examples, the forcing rules still decide on their own, a message far from every example is out of
scope (general, `out_of_scope=True`, never an emergency), and the confidence is calibrated on our own
examples by cross-validation. Without it (setting off, model missing) the lexical scorer works alone.
docs/routing.md has the protocol and the numbers.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from crew.config import DEFAULT_COMPLEX_THRESHOLD, CrewConfig
from crew.local_model.semantic import Embedder, LexicalScorer, LexicalScores, SemanticClassifier, combine
from crew.models import Category, Classification, Priority

logger = logging.getLogger(__name__)

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
# A text with at least this many features the scorer knows (words and bigrams of our examples and lexicon)
# speaks the desk's language: the ensemble does not call it out of scope for being far from every example
# (chosen by cross-validation on our own examples, docs/routing.md).
_SUPPORT_VOCABULARY_MIN = 2

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
    # How many distinct features of the text the scorer knows (from our examples or the lexicon).
    known_features: int = 0


class LocalRouter:
    """Routes one customer message to a category with priority, confidence and the signals behind it.

    Build one per process: construction reads the data files and builds the scoring table (a few
    milliseconds); `classify` is pure and thread-safe.
    """

    def __init__(
        self,
        complex_threshold: float = DEFAULT_COMPLEX_THRESHOLD,
        *,
        data_dir: Path = DATA_DIR,
        examples: Mapping[str, Sequence[str]] | None = None,
        semantic: SemanticClassifier | None = None,
    ) -> None:
        """`examples` replaces `data_dir/routing_examples.yaml` (cross-validation refits on each fold);
        `semantic` is the fitted embedding half (see `from_config`), None for the lexical scorer alone."""
        if not 0.0 <= complex_threshold <= 1.0:
            raise ValueError(f"complex_threshold must be within 0..1, got {complex_threshold}")
        self.complex_threshold = complex_threshold
        self.data_dir = data_dir
        self.semantic = semantic
        vocabulary = _read_yaml(data_dir / "vocabulary.yaml")
        if examples is None:
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

    @classmethod
    def from_config(cls, config: CrewConfig, *, data_dir: Path = DATA_DIR) -> LocalRouter:
        """The desk's router: the ensemble when the config asks for it and the model loads, else the lexical
        scorer alone (logged once, with the reason)."""
        lexical = cls(config.complex_confidence_threshold, data_dir=data_dir)
        if not config.routing_embeddings:
            logger.info("routing: lexical router only (ROUTING_EMBEDDINGS is off)")
            return lexical
        from crew.local_model.embedding import EmbeddingUnavailable, OnnxEmbedder, locate_model

        try:
            embedder = OnnxEmbedder(locate_model(config.routing_model_dir))
        except EmbeddingUnavailable as exc:
            logger.warning("routing: embedding model unavailable (%s); using the lexical router alone", exc)
            return lexical
        return lexical.with_embeddings(embedder, cache_dir=config.routing_cache_dir)

    def with_embeddings(self, embedder: Embedder, *, cache_dir: Path | None) -> LocalRouter:
        """This router plus an embedding half fitted on the same examples (read from `cache_dir` when it
        holds a fit for these examples, this model and this scorer)."""
        from crew.local_model.embedding import release_freed_memory
        from crew.local_model.semantic import ExampleSet, load_or_fit

        examples = ExampleSet.load(self.data_dir)
        threshold, data_dir = self.complex_threshold, self.data_dir

        def lexical_factory(by_category: Mapping[str, Sequence[str]]) -> LexicalScorer:
            return LocalRouter(threshold, data_dir=data_dir, examples=by_category).lexical_scores

        model = load_or_fit(
            examples,
            embedder,
            lexical_factory,
            lexical_key=self._lexical_key(),
            cache_dir=cache_dir,
            prepare=self._normaliser.clean,
            shipped_dir=data_dir,
        )
        embedder.embed_one("warm up")  # onnxruntime's first run is several times slower than the next ones
        release_freed_memory()
        return LocalRouter(threshold, data_dir=data_dir, semantic=SemanticClassifier(embedder, model))

    def describe(self) -> str:
        """One line for reports and logs: which router this is and the numbers it was fitted to."""
        if self.semantic is None:
            return "lexical router only"
        model = self.semantic.model
        report = model.report
        return (
            f"lexical router + MiniLM embeddings (out-of-scope cut-off {model.threshold:.3f}; "
            f"cross-validated on our {report.get('in_scope', '?')} in-scope + {report.get('out_of_scope', '?')} "
            f"out-of-scope examples: accuracy {report.get('accuracy_ensemble', 0):.3f}, "
            f"out-of-scope recall {report.get('out_of_scope_recall', 0):.3f})"
        )

    def _lexical_key(self) -> str:
        """What the lexical scorer's probabilities depend on besides the examples (for the fit cache)."""
        vocabulary = (self.data_dir / "vocabulary.yaml").read_bytes()
        constants = ":".join(
            str(value)
            for value in (
                _SMOOTHING,
                _TEMPERATURE,
                _STRONG_INDICATOR,
                _SUBJECT_WEIGHT,
                _FALLBACK_BIAS,
                _SUPPORT_VOCABULARY_MIN,
            )
        )
        return hashlib.sha256(vocabulary + constants.encode()).hexdigest()

    # --- classification ------------------------------------------------------------------------------
    def lexical_scores(self, text: str) -> LexicalScores:
        """The lexical scorer alone (what cross-validation of the ensemble refits on each fold)."""
        cleaned = self._normaliser.clean(text)
        scrubbed = self._injection.sub(" ", cleaned) if _may_hold_instructions(cleaned) else cleaned
        return _lexical_view(self._evidence(scrubbed))

    def classify(self, text: str) -> Classification:
        cleaned = self._normaliser.clean(text)
        signals: list[str] = []
        scrubbed = self._injection.sub(" ", cleaned) if _may_hold_instructions(cleaned) else cleaned
        if scrubbed != cleaned:
            signals.append("ignored:instruction-in-text")
        evidence = self._evidence(scrubbed)
        probabilities = _softmax(evidence.logits)
        forced = [rule for rule in evidence.rule_hits if rule.force]
        out_of_scope = False
        if self.semantic is None:
            ranked = sorted(LABELS, key=lambda label: probabilities[label], reverse=True)
            category = forced[0].label if forced else ranked[0]
            confidence = probabilities[category]
        else:
            scores = self.semantic.score(scrubbed)
            outcome = combine(
                _lexical_view(evidence), scores.probabilities, scores.nearest_similarity, self.semantic.threshold
            )
            probabilities = dict(zip(LABELS, (float(p) for p in outcome.probabilities), strict=True))
            ranked = sorted(LABELS, key=lambda label: probabilities[label], reverse=True)
            category = Category(outcome.category)
            out_of_scope = outcome.out_of_scope
            confidence = (
                self.semantic.model.oos_confidence if out_of_scope else self.semantic.calibrate(probabilities[category])
            )
            signals.append(f"nearest-example:{scores.nearest_similarity:.2f}")
            if out_of_scope:
                signals.append("out-of-scope")

        top_strength = evidence.strength[category]
        secondary = [
            label
            for label in ranked
            if label != category and evidence.strength[label] >= max(_SECONDARY_FLOOR, _SECONDARY_SHARE * top_strength)
        ]
        if out_of_scope:
            secondary = []
        is_complex = not out_of_scope and (bool(secondary) or (confidence < self.complex_threshold and not forced))

        signals.extend(f"rule:{rule.name}" for rule in evidence.rule_hits)
        for label in (category, *secondary):
            signals.extend(f"{label.value}:{feature}" for feature in evidence.top_features[label])
        if not evidence.top_features[category] and not evidence.rule_hits:
            signals.append("no-strong-evidence")
        return Classification(
            category=category,
            priority=Priority.LOW if out_of_scope else self._priority(scrubbed, category, evidence),
            confidence=round(min(max(confidence, 0.0), 1.0), 4),
            is_complex=is_complex,
            signals=signals,
            secondary_categories=secondary,
            out_of_scope=out_of_scope,
        )

    def _evidence(self, cleaned: str) -> _Evidence:
        scores = dict.fromkeys(LABELS, 0.0)
        strength = dict.fromkeys(LABELS, 0.0)
        contributions: dict[Category, list[tuple[float, str]]] = {label: [] for label in LABELS}
        known = 0.0
        known_features = 0
        subject = _subject_line(cleaned)
        subject_features = self._normaliser.features(subject) if subject else frozenset()
        for feature, multiplier in self._normaliser.weighted_features(cleaned).items():
            weights = self._weights.get(feature)
            if weights is None:
                continue
            if feature in subject_features and max(weights) >= _STRONG_INDICATOR:
                multiplier += _SUBJECT_WEIGHT - 1.0
            known += multiplier
            known_features += 1
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
        return _Evidence(
            logits=logits,
            strength=strength,
            top_features=top_features,
            rule_hits=rule_hits,
            known_features=known_features,
        )

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


def _lexical_view(evidence: _Evidence) -> LexicalScores:
    probabilities = _softmax(evidence.logits)
    forced = [rule for rule in evidence.rule_hits if rule.force]
    return LexicalScores(
        probabilities=np.array([probabilities[label] for label in LABELS]),
        forced=forced[0].label.value if forced else None,
        support_vocabulary=evidence.known_features >= _SUPPORT_VOCABULARY_MIN,
    )


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
