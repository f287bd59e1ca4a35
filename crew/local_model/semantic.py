"""The embedding half of the router: a logistic regression and a nearest-example check over our own examples.

    message ─> MiniLM vector ─┬─> logistic regression (4 categories + out of scope) ─> probabilities
                              └─> cosine to the nearest in-scope example ────────────> similarity

`crew.local_model.router.LocalRouter` averages these probabilities with its lexical scorer's, keeps its
high-precision escalation rules on top, calls a message out of scope when it is far from every example we
wrote (or closest to the out-of-scope ones), and reports a confidence calibrated on our own examples.

Everything here is fitted only on text the project's authors wrote (`data/routing_examples.yaml`,
`data/extra_examples.yaml`, `data/out_of_scope_examples.yaml`); the rules that turn those examples into
numbers are fixed in code and described in docs/routing.md:

- out-of-scope cut-off: the 5th percentile, over our in-scope examples, of each one's cosine to its nearest
  other in-scope example (leave-one-out), so 95% of what we wrote ourselves counts as in scope;
- regression: class-balanced, C = `REGRESSION_C`;
- confidence: an isotonic map from the ensemble's top probability to how often that top label was right,
  measured by 5-fold cross-validation on our examples (out-of-fold predictions only).

Fitting embeds every example (~900 texts, a few seconds), so the result is cached on disk: one `.npz` per
(examples, model) hash, holding the example vectors and the fitted numbers (the latter also keyed by the
lexical scorer's data and this module's `FIT_VERSION`, and refitted without re-embedding when those change).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import yaml

from crew.local_model.linear import (
    IsotonicMap,
    SoftmaxRegression,
    expected_calibration_error,
    fit_isotonic,
    fit_softmax_regression,
    stratified_folds,
)

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
CATEGORIES: tuple[str, ...] = ("billing", "technical", "escalation", "general")
OUT_OF_SCOPE = "out_of_scope"
CLASSES: tuple[str, ...] = (*CATEGORIES, OUT_OF_SCOPE)
OOS_INDEX = len(CATEGORIES)

# Bump when the fitting procedure changes: cached fits made by another procedure are then refitted.
FIT_VERSION = 3
REGRESSION_C = 30.0
# The lexical scorer's and the regression's probabilities are averaged with this weight on the regression.
EMBEDDING_WEIGHT = 0.5
# An escalation call that no forcing rule made must lead the runner-up by this much of the averaged
# probability, else the runner-up wins: a false escalation costs a person's attention, a missed one still
# reaches a specialist who can hand the case to a person. Chosen by a rule on our examples (docs/routing.md).
ESCALATION_MARGIN = 0.10
# Share of our in-scope examples allowed below the out-of-scope cut-off (the 5th percentile).
OOS_PERCENTILE = 5.0
CV_FOLDS = 5
CV_SEED = 0


class LexicalScores(NamedTuple):
    """What the ensemble needs from the lexical scorer for one message."""

    probabilities: np.ndarray  # over CATEGORIES
    forced: str | None  # the label a high-precision rule picked
    support_vocabulary: bool  # at least one strong indicator of some desk (a support word or rule)


LexicalScorer = Callable[[str], LexicalScores]
# Builds a lexical scorer from {category: example texts}: cross-validation refits it on each fold.
LexicalFactory = Callable[[Mapping[str, Sequence[str]]], LexicalScorer]


class Embedder(Protocol):
    """What the classifier needs from an embedding model (`embedding.OnnxEmbedder`; tests use fakes)."""

    fingerprint: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_one(self, text: str) -> np.ndarray: ...


# --- our examples -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExampleSet:
    """Our examples: `routing_examples.yaml` (both halves learn from it), `extra_examples.yaml` and
    `out_of_scope_examples.yaml` (the embedding half only; `lexical` is False for those)."""

    texts: tuple[str, ...]
    labels: np.ndarray  # index into CLASSES
    lexical: np.ndarray  # bool: the lexical scorer learns from this example too

    @classmethod
    def load(cls, data_dir: Path = DATA_DIR) -> ExampleSet:
        shared = cls.from_mapping(_read_mapping(data_dir / "routing_examples.yaml"), lexical=True)
        extra = cls.from_mapping(_read_mapping(data_dir / "extra_examples.yaml"), lexical=False)
        outside = cls.from_mapping(_read_mapping(data_dir / "out_of_scope_examples.yaml"), lexical=False)
        return cls(
            texts=shared.texts + extra.texts + outside.texts,
            labels=np.concatenate([shared.labels, extra.labels, outside.labels]),
            lexical=np.concatenate([shared.lexical, extra.lexical, outside.lexical]),
        )

    @classmethod
    def from_mapping(cls, by_label: Mapping[str, Sequence[str]], *, lexical: bool = True) -> ExampleSet:
        texts: list[str] = []
        labels: list[int] = []
        for label, items in by_label.items():
            if label not in CLASSES:
                raise ValueError(f"unknown routing label {label!r} in the examples")
            for text in items:
                texts.append(str(text))
                labels.append(CLASSES.index(label))
        marks = np.full(len(texts), lexical, dtype=bool) & (np.array(labels, dtype=int) != OOS_INDEX)
        return cls(texts=tuple(texts), labels=np.array(labels, dtype=int), lexical=marks)

    def digest(self) -> str:
        payload = json.dumps(
            [
                [CLASSES[int(label)], bool(lexical), text]
                for text, label, lexical in zip(self.texts, self.labels, self.lexical, strict=True)
            ]
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def by_category(self, indices: Sequence[int] | np.ndarray) -> dict[str, list[str]]:
        """{category: texts} of the lexical scorer's examples among `indices` (what it is built from)."""
        grouped: dict[str, list[str]] = {category: [] for category in CATEGORIES}
        for index in indices:
            if self.lexical[index]:
                grouped[CATEGORIES[int(self.labels[index])]].append(self.texts[index])
        return grouped


def _read_mapping(path: Path) -> dict[str, list[str]]:
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} must hold a mapping of label -> list of texts")
    return {str(key): [str(item) for item in value] for key, value in loaded.items()}


# --- the ensemble rule (one function: the same at run time and in cross-validation) --------------------
@dataclass(frozen=True)
class EnsembleOutcome:
    probabilities: np.ndarray  # over CATEGORIES
    category: str
    out_of_scope: bool


def combine(
    lexical: LexicalScores, embedding: np.ndarray, nearest_similarity: float, threshold: float
) -> EnsembleOutcome:
    """Average the two scorers over the four categories; a forced rule picks the category and rules out
    "out of scope". Otherwise the message is out of scope when the regression's most likely class is out of
    scope, or when it is farther than the cut-off from every in-scope example and holds no support vocabulary
    (a long e-mail about a product we wrote no example for is still a support request)."""
    in_scope = embedding[:OOS_INDEX]
    in_scope = in_scope / max(float(in_scope.sum()), 1e-12)
    probabilities = (1.0 - EMBEDDING_WEIGHT) * lexical.probabilities + EMBEDDING_WEIGHT * in_scope
    if lexical.forced is not None:
        return EnsembleOutcome(probabilities, lexical.forced, out_of_scope=False)
    order = np.argsort(probabilities)[::-1]
    category = CATEGORIES[int(order[0])]
    if category == "escalation" and probabilities[order[0]] - probabilities[order[1]] < ESCALATION_MARGIN:
        category = CATEGORIES[int(order[1])]
    far = nearest_similarity < threshold and not lexical.support_vocabulary
    outside = far or int(np.argmax(embedding)) == OOS_INDEX
    return EnsembleOutcome(probabilities, "general" if outside else category, out_of_scope=outside)


def oos_threshold(in_scope_vectors: np.ndarray) -> float:
    """The stated rule: the OOS_PERCENTILE-th percentile of each in-scope example's cosine to its nearest
    other in-scope example."""
    if len(in_scope_vectors) < 2:
        return -1.0
    similarities = in_scope_vectors @ in_scope_vectors.T
    np.fill_diagonal(similarities, -np.inf)
    return float(np.percentile(similarities.max(axis=1), OOS_PERCENTILE))


# --- the fitted model ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SemanticModel:
    in_scope_vectors: np.ndarray  # (n, d), our in-scope examples
    regression: SoftmaxRegression
    threshold: float
    calibration: IsotonicMap
    # Out-of-fold precision of our "out of scope" calls: the confidence reported with one.
    oos_confidence: float
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SemanticScores:
    probabilities: np.ndarray  # over CLASSES
    nearest_similarity: float


class SemanticClassifier:
    """A fitted model plus the embedder that reads new messages. Thread-safe (read-only)."""

    def __init__(self, embedder: Embedder, model: SemanticModel) -> None:
        self.embedder = embedder
        self.model = model

    @property
    def threshold(self) -> float:
        return self.model.threshold

    def score(self, text: str) -> SemanticScores:
        vector = self.embedder.embed_one(text)
        probabilities = self.model.regression.predict_proba(vector)[0]
        nearest = float((self.model.in_scope_vectors @ vector).max())
        return SemanticScores(probabilities=probabilities, nearest_similarity=nearest)

    def calibrate(self, probability: float) -> float:
        return self.model.calibration(probability)


# --- fitting and cross-validation ---------------------------------------------------------------------
@dataclass(frozen=True)
class OutOfFold:
    """One example's prediction by models that never saw it."""

    gold: str
    lexical: str
    embedding: str
    ensemble: str
    out_of_scope: bool
    top_probability: float
    words: int


def cross_validate(
    examples: ExampleSet, vectors: np.ndarray, lexical_factory: LexicalFactory, *, folds: int = CV_FOLDS
) -> list[OutOfFold]:
    """Stratified k-fold over our examples: every fold refits the lexical scorer, the regression and the
    cut-off on the other folds, exactly as the desk fits them on all of them."""
    results: list[OutOfFold | None] = [None] * len(examples.texts)
    for test in stratified_folds(examples.labels.tolist(), folds, seed=CV_SEED):
        train = np.setdiff1d(np.arange(len(examples.texts)), test)
        lexical = lexical_factory(examples.by_category(train))
        regression = fit_softmax_regression(vectors[train], examples.labels[train], len(CLASSES), c=REGRESSION_C)
        in_scope = vectors[train[examples.labels[train] != OOS_INDEX]]
        threshold = oos_threshold(in_scope)
        probabilities = regression.predict_proba(vectors[test])
        for row, index in enumerate(test):
            text = examples.texts[index]
            scores = lexical(text)
            nearest = float((in_scope @ vectors[index]).max())
            outcome = combine(scores, probabilities[row], nearest, threshold)
            results[index] = OutOfFold(
                gold=CLASSES[int(examples.labels[index])],
                lexical=scores.forced or CATEGORIES[int(np.argmax(scores.probabilities))],
                embedding=CLASSES[int(np.argmax(probabilities[row]))],
                ensemble=outcome.category,
                out_of_scope=outcome.out_of_scope,
                top_probability=float(outcome.probabilities[CATEGORIES.index(outcome.category)]),
                words=len(text.split()),
            )
    return [item for item in results if item is not None]


def fit(
    examples: ExampleSet, vectors: np.ndarray, lexical_factory: LexicalFactory, *, folds: int = CV_FOLDS
) -> SemanticModel:
    """Fit on all examples; calibrate and report from the out-of-fold predictions of `cross_validate`."""
    oof = cross_validate(examples, vectors, lexical_factory, folds=folds)
    in_scope_rows = [item for item in oof if item.gold != OUT_OF_SCOPE and not item.out_of_scope]
    calibration = fit_isotonic(
        [item.top_probability for item in in_scope_rows], [item.ensemble == item.gold for item in in_scope_rows]
    )
    flagged = [item for item in oof if item.out_of_scope]
    oos_precision = sum(item.gold == OUT_OF_SCOPE for item in flagged) / len(flagged) if flagged else 0.0
    in_scope_vectors = vectors[examples.labels != OOS_INDEX]
    regression = fit_softmax_regression(vectors, examples.labels, len(CLASSES), c=REGRESSION_C)
    return SemanticModel(
        in_scope_vectors=in_scope_vectors.astype(np.float32),
        regression=regression,
        threshold=oos_threshold(in_scope_vectors),
        calibration=calibration,
        oos_confidence=round(oos_precision, 4),
        report=cv_report(oof, calibration),
    )


def cv_report(oof: Sequence[OutOfFold], calibration: IsotonicMap | None = None) -> dict[str, Any]:
    """Accuracy of each part and of the ensemble, out-of-scope recall and false alarms, calibration error."""
    in_scope = [item for item in oof if item.gold != OUT_OF_SCOPE]
    outside = [item for item in oof if item.gold == OUT_OF_SCOPE]

    def share(items: Sequence[OutOfFold], test: Callable[[OutOfFold], bool]) -> float:
        return round(sum(1 for item in items if test(item)) / len(items), 4) if items else 0.0

    report: dict[str, Any] = {
        "examples": len(oof),
        "in_scope": len(in_scope),
        "out_of_scope": len(outside),
        "accuracy_lexical": share(in_scope, lambda item: item.lexical == item.gold),
        "accuracy_embedding": share(in_scope, lambda item: item.embedding == item.gold),
        "accuracy_ensemble": share(in_scope, lambda item: item.ensemble == item.gold),
        "in_scope_called_out_of_scope": share(in_scope, lambda item: item.out_of_scope),
        "out_of_scope_recall": share(outside, lambda item: item.out_of_scope),
        "per_label_recall": {
            label: share([item for item in in_scope if item.gold == label], lambda item: item.ensemble == item.gold)
            for label in CATEGORIES
        },
        "long_texts_accuracy": share([i for i in in_scope if i.words >= 25], lambda item: item.ensemble == item.gold),
    }
    answered = [item for item in in_scope if not item.out_of_scope]
    correct = [item.ensemble == item.gold for item in answered]
    raw = [item.top_probability for item in answered]
    report["ece_raw"] = round(expected_calibration_error(raw, correct), 4)
    if calibration is not None:
        report["ece_calibrated_in_sample"] = round(
            expected_calibration_error([calibration(p) for p in raw], correct), 4
        )
        report["ece_calibrated_cv"] = round(_cross_validated_ece(raw, correct), 4)
    return report


def _cross_validated_ece(raw: Sequence[float], correct: Sequence[bool]) -> float:
    """The calibration map's own error on data it was not fitted on (k-fold over the out-of-fold rows)."""
    scores = np.asarray(raw)
    hits = np.asarray(correct)
    mapped = np.zeros_like(scores)
    for test in stratified_folds(hits.astype(int).tolist(), CV_FOLDS, seed=CV_SEED + 1):
        train = np.setdiff1d(np.arange(len(scores)), test)
        calibration = fit_isotonic(scores[train].tolist(), hits[train].tolist())
        mapped[test] = [calibration(float(value)) for value in scores[test]]
    return expected_calibration_error(mapped.tolist(), hits.tolist())


# --- the on-disk cache --------------------------------------------------------------------------------
def fit_key(embedding_key: str, lexical_key: str) -> str:
    return hashlib.sha256(f"{embedding_key}:{lexical_key}:{FIT_VERSION}:{REGRESSION_C}".encode()).hexdigest()


def load_or_fit(
    examples: ExampleSet,
    embedder: Embedder,
    lexical_factory: LexicalFactory,
    *,
    lexical_key: str,
    cache_dir: Path | None,
    prepare: Callable[[str], str] = str,
    shipped_dir: Path | None = None,
) -> SemanticModel:
    """The fitted model from `cache_dir` (or the read-only `shipped_dir`, which holds the fit of the shipped
    examples with the pinned model) if it holds one for these examples, this model and this fit; else embed
    (only what is not cached) and fit, and write the cache (a cache that cannot be written is logged and
    skipped: the desk still starts, only slower next time). `prepare` is applied to each example before it
    is embedded (the router's own text cleaning, so examples and messages are embedded alike)."""
    prepared = [prepare(text) for text in examples.texts]
    texts_key = ExampleSet(texts=tuple(prepared), labels=examples.labels, lexical=examples.lexical).digest()
    embedding_key = hashlib.sha256(f"{texts_key}:{embedder.fingerprint}".encode()).hexdigest()
    wanted_fit = fit_key(embedding_key, lexical_key)
    name = cache_file_name(embedding_key)
    path = cache_dir / name if cache_dir is not None else None
    for candidate in (path, shipped_dir / name if shipped_dir is not None else None):
        cached = _read_cache(candidate) if candidate is not None else None
        if cached is not None and cached.get("fit_key") == wanted_fit:
            logger.info("routing model: example embeddings and fit read from %s", candidate)
            return _model_from_cache(cached, examples)
    cached = _read_cache(path) if path is not None else None
    if cached is not None:
        vectors = cached["vectors"]
        logger.info("routing model: example embeddings read from %s; refitting", path)
    else:
        logger.info("routing model: embedding %d examples (cached after this run)", len(examples.texts))
        vectors = embedder.embed(prepared).astype(np.float32)
    model = fit(examples, vectors, lexical_factory)
    if path is not None:
        _write_cache(path, vectors, model, wanted_fit)
    return model


def cache_file_name(embedding_key: str) -> str:
    return f"routing-{embedding_key[:24]}.npz"


def _read_cache(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {
                "vectors": data["vectors"].astype(np.float32),
                "fit_key": str(data["fit_key"]),
                "weights": data["weights"],
                "bias": data["bias"],
                "threshold": float(data["threshold"]),
                "knots_x": data["knots_x"],
                "knots_y": data["knots_y"],
                "oos_confidence": float(data["oos_confidence"]),
                "report": json.loads(str(data["report"])),
            }
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("routing model: ignoring an unreadable cache file %s (%s)", path, exc)
        return None


def _model_from_cache(cached: Mapping[str, Any], examples: ExampleSet) -> SemanticModel:
    return SemanticModel(
        in_scope_vectors=cached["vectors"][examples.labels != OOS_INDEX],
        regression=SoftmaxRegression(weights=cached["weights"], bias=cached["bias"]),
        threshold=cached["threshold"],
        calibration=IsotonicMap(knots_x=cached["knots_x"], knots_y=cached["knots_y"]),
        oos_confidence=cached["oos_confidence"],
        report=cached["report"],
    )


def _write_cache(path: Path, vectors: np.ndarray, model: SemanticModel, key: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".routing-", suffix=".npz")
        with os.fdopen(handle, "wb") as out:
            np.savez(
                out,
                # float16: half the size, and a cosine moves by less than 0.001 (vectors are unit length).
                vectors=vectors.astype(np.float16),
                fit_key=np.array(key),
                weights=model.regression.weights,
                bias=model.regression.bias,
                threshold=np.array(model.threshold),
                knots_x=model.calibration.knots_x,
                knots_y=model.calibration.knots_y,
                oos_confidence=np.array(model.oos_confidence),
                report=np.array(json.dumps(model.report)),
            )
        os.replace(temporary, path)
    except OSError as exc:
        logger.warning("routing model: cannot write the cache %s (%s); it is rebuilt at every start", path, exc)
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(temporary)
        return
    for stale in path.parent.glob("routing-*.npz"):
        if stale != path:
            with contextlib.suppress(OSError):
                stale.unlink()
