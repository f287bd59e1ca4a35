"""The embedding half of the router (issue 12): cache, fallback, rules that still win, calibration, out of scope.

Most tests use a fake embedder (hashed bag of words: no model, milliseconds); the ones marked with
`real_router` load the pinned MiniLM wheel and skip cleanly when it is not installed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from crew.config import CrewConfig
from crew.decision import AutoEmergencyRule, decide
from crew.evaluation import evaluate, format_report
from crew.local_model import semantic
from crew.local_model.embedding import EmbeddingUnavailable, locate_model
from crew.local_model.linear import fit_isotonic, fit_softmax_regression
from crew.local_model.router import DATA_DIR, LocalRouter
from crew.local_model.semantic import ExampleSet, SemanticClassifier, SemanticModel, load_or_fit
from crew.models import Category, Classification, Priority, Route

DIMS = 64


class FakeEmbedder:
    """Hashed bag of words, L2-normalised: texts sharing words are close. Counts what it embeds."""

    def __init__(self, fingerprint: str = "fake-1") -> None:
        self.fingerprint = fingerprint
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return np.vstack([self._vector(text) for text in texts])

    def embed_one(self, text: str) -> np.ndarray:
        return self._vector(text)

    @staticmethod
    def _vector(text: str) -> np.ndarray:
        vector = np.zeros(DIMS, dtype=np.float32)
        for word in re.findall(r"[a-z]+", text.lower()):
            vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIMS] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector


EXAMPLES = {
    "billing": [
        "I was charged twice for my subscription",
        "please refund the double charge",
        "my invoice amount is wrong",
        "why is there an extra fee on my bill",
        "I want my money back for the order",
        "the payment was taken twice from my card",
    ],
    "technical": [
        "the app crashes when I open it",
        "I cannot log in to my account",
        "the password reset link is broken",
        "the website shows an error page",
        "my internet connection keeps dropping",
        "the update broke the sync",
    ],
    "escalation": [
        "I want to speak to a manager",
        "someone hacked my account",
        "my card was stolen",
        "I will take legal action",
        "this is fraud on my account",
        "let me talk to a real person",
    ],
    "general": [
        "where is my order",
        "how do I change my address",
        "when will my parcel arrive",
        "do you ship to canada",
        "how do I close my account",
        "what are your opening hours",
    ],
}
OUTSIDE = [
    "what is the capital of peru",
    "set a timer for ten minutes",
    "tell me a joke about cats",
    "will it rain in rome tomorrow",
    "turn on the porch light",
    "how many grams in a pound",
]


def write_data(folder: Path, examples: dict[str, list[str]] = EXAMPLES, outside: list[str] = OUTSIDE) -> Path:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA_DIR / "vocabulary.yaml", folder / "vocabulary.yaml")
    (folder / "routing_examples.yaml").write_text(yaml.safe_dump(examples), encoding="utf-8")
    (folder / "extra_examples.yaml").write_text(yaml.safe_dump({"billing": ["refund pls"]}), encoding="utf-8")
    (folder / "out_of_scope_examples.yaml").write_text(yaml.safe_dump({"out_of_scope": outside}), encoding="utf-8")
    return folder


def fit_with(folder: Path, embedder: FakeEmbedder, cache: Path | None, lexical_key: str = "lex-1") -> SemanticModel:
    def factory(by_category):  # type: ignore[no-untyped-def]
        return LocalRouter(0.45, data_dir=folder, examples=by_category).lexical_scores

    return load_or_fit(ExampleSet.load(folder), embedder, factory, lexical_key=lexical_key, cache_dir=cache)


# --- the cache ----------------------------------------------------------------------------------------
def test_the_cache_is_reused_and_invalidated_by_a_changed_hash(tmp_path: Path) -> None:
    data, cache = write_data(tmp_path / "data"), tmp_path / "cache"
    embedder = FakeEmbedder()
    first = fit_with(data, embedder, cache)
    n_examples = embedder.embedded
    assert n_examples == sum(map(len, EXAMPLES.values())) + 1 + len(OUTSIDE)
    assert len(list(cache.glob("routing-*.npz"))) == 1

    again = fit_with(data, embedder, cache)  # same examples, same model: nothing embedded, same numbers
    assert embedder.embedded == n_examples
    assert again.threshold == pytest.approx(first.threshold)
    np.testing.assert_allclose(again.regression.weights, first.regression.weights)

    refit = fit_with(data, embedder, cache, lexical_key="lex-2")  # the lexical scorer changed: refit only
    assert embedder.embedded == n_examples
    assert refit.threshold == pytest.approx(first.threshold, abs=1e-3)

    other_model = FakeEmbedder(fingerprint="fake-2")  # another model: everything embedded again
    fit_with(data, other_model, cache)
    assert other_model.embedded == n_examples

    grown = {**EXAMPLES, "general": [*EXAMPLES["general"], "can I pick up my order in store"]}
    write_data(data, grown)  # changed examples: embedded again, the stale file is removed
    fit_with(data, embedder, cache)
    assert embedder.embedded == 2 * n_examples + 1
    assert len(list(cache.glob("routing-*.npz"))) == 1


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = write_data(tmp_path / "data")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with caplog.at_level(logging.WARNING):
        model = fit_with(data, FakeEmbedder(), blocker / "cache")
    assert model.in_scope_vectors.shape[0] == sum(map(len, EXAMPLES.values())) + 1
    assert "cannot write the cache" in caplog.text


# --- fallback -----------------------------------------------------------------------------------------
def test_a_missing_model_folder_falls_back_to_the_lexical_router(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(EmbeddingUnavailable, match=r"has no model\.onnx"):
        locate_model(tmp_path / "absent")
    with caplog.at_level(logging.WARNING, logger="crew.local_model.router"):
        router = LocalRouter.from_config(CrewConfig(routing_model_dir=tmp_path / "absent", routing_cache_dir=None))
    assert router.semantic is None
    assert "embedding model unavailable" in caplog.text
    assert "lexical router alone" in caplog.text
    assert router.describe() == "lexical router only"
    assert router.classify("I was charged twice for my subscription").category is Category.BILLING


def test_the_setting_turns_the_embedding_half_off() -> None:
    router = LocalRouter.from_config(CrewConfig(routing_embeddings=False))
    assert router.semantic is None
    assert router.classify("what is the capital of peru").out_of_scope is False


# --- the ensemble -------------------------------------------------------------------------------------
def stub_semantic(probabilities: Sequence[float], nearest: float, threshold: float = 0.5) -> SemanticClassifier:
    """An embedding half that answers the same for every message (what a badly wrong model would do)."""

    class Fixed(FakeEmbedder):
        pass

    model = SemanticModel(
        in_scope_vectors=np.ones((1, DIMS), dtype=np.float32) / np.sqrt(DIMS),
        regression=fit_softmax_regression(np.eye(5, DIMS), np.arange(5), 5),
        threshold=threshold,
        calibration=fit_isotonic([0.1, 0.9] * 10, [False, True] * 10),
        oos_confidence=0.9,
    )
    classifier = SemanticClassifier(Fixed(), model)
    fixed = semantic.SemanticScores(probabilities=np.array(probabilities), nearest_similarity=nearest)
    classifier.score = lambda text: fixed  # type: ignore[method-assign]
    return classifier


@pytest.mark.parametrize(
    "message",
    [
        "I want to speak to a manager right now",
        "someone hacked my account and changed the password",
        "my credit card was stolen",
        "I will take legal action against your company",
    ],
)
def test_the_escalation_rules_still_win_over_the_embedding_half(message: str) -> None:
    # The embedding half is sure it is billing and that the message is far from every example.
    router = LocalRouter(0.45, semantic=stub_semantic([0.97, 0.01, 0.01, 0.005, 0.005], nearest=0.0))
    result = router.classify(message)
    assert result.category is Category.ESCALATION
    assert result.out_of_scope is False
    assert any(signal.startswith("rule:") for signal in result.signals)


def test_far_from_every_example_without_support_words_is_out_of_scope() -> None:
    router = LocalRouter(0.45, semantic=stub_semantic([0.3, 0.3, 0.2, 0.2, 0.0], nearest=0.1))
    result = router.classify("what is the capital of peru")
    assert result.out_of_scope is True
    assert result.category is Category.GENERAL
    assert result.priority is Priority.LOW
    assert result.is_complex is False
    assert result.route() is Route.GENERAL
    # ...but a message in the desk's vocabulary is not, however far the embedding half finds it.
    in_scope = router.classify("the refund for my invoice never arrived on my card")
    assert in_scope.out_of_scope is False
    assert in_scope.category is Category.BILLING


def test_an_out_of_scope_classification_routes_general_and_never_pages() -> None:
    # What a hosted classifier might return: out of scope, yet an "urgent escalation".
    hosted = Classification(
        category=Category.ESCALATION, priority=Priority.URGENT, confidence=0.9, is_complex=True, out_of_scope=True
    )
    rule = AutoEmergencyRule()
    decision = decide(hosted, rule=rule)
    assert decision.route is Route.GENERAL
    assert decision.emergency is False
    # A customer's own flag and a route forced by staff are explicit choices and still win.
    assert decide(hosted, flagged=True, rule=rule).emergency is True
    assert decide(hosted, forced=Route.BILLING, rule=rule).route is Route.BILLING
    # The same classification in scope is an automatic emergency.
    assert decide(hosted.model_copy(update={"out_of_scope": False}), rule=rule).emergency is True


def test_the_hosted_classifier_schema_carries_out_of_scope() -> None:
    schema = Classification.model_json_schema()
    assert "out_of_scope" in schema["properties"]
    assert "out_of_scope" not in schema.get("required", [])


# --- the small numpy models ---------------------------------------------------------------------------
def test_calibration_is_monotone() -> None:
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.25, 1.0, 600)
    correct = rng.uniform(0, 1, 600) < scores  # right as often as the score says, plus noise
    calibration = fit_isotonic(scores.tolist(), correct.tolist())
    grid = [calibration(float(x)) for x in np.linspace(0, 1, 101)]
    assert all(later >= earlier for earlier, later in pairwise(grid))
    assert calibration(0.3) < calibration(0.95)
    assert abs(calibration(0.9) - 0.9) < 0.1


def test_the_regression_learns_a_separable_problem() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(4, 16) * 3
    labels = np.repeat(np.arange(4), 30)
    features = centres[labels] + rng.normal(0, 0.5, (120, 16))
    model = fit_softmax_regression(features, labels, 4)
    assert (model.predict_proba(features).argmax(axis=1) == labels).mean() > 0.95
    assert np.allclose(model.predict_proba(features).sum(axis=1), 1.0, atol=1e-5)


# --- support-desk eval --------------------------------------------------------------------------------
def test_eval_reports_out_of_scope_recall_and_languages() -> None:
    def step(text: str) -> Classification:
        outside = text.startswith("oos")
        return Classification(
            category=Category.GENERAL if outside else Category.BILLING,
            priority=Priority.LOW,
            confidence=0.8,
            is_complex=False,
            out_of_scope=outside and "missed" not in text,
        )

    rows = [
        ("refund", "billing", "en"),
        ("Rückerstattung", "billing", "de"),
        ("oos trivia", "out_of_scope", "en"),
        ("oos missed", "out_of_scope", "en"),
        ("oos Wetter", "out_of_scope", "de"),
    ]
    report = evaluate(rows, step, router="fake")
    assert report.n == 2 and report.macro_f1 == 1.0
    assert report.out_of_scope is not None
    assert report.out_of_scope.n == 3
    assert report.out_of_scope.recall == pytest.approx(2 / 3)
    assert report.out_of_scope.routed_general == 1.0
    assert report.out_of_scope.routed_escalation == 0.0
    assert set(report.per_language) == {"de", "en"}
    de = report.per_language["de"]
    assert de.n == 1 and de.out_of_scope is not None and de.out_of_scope.recall == 1.0
    text = format_report(report, "tiny.csv")
    assert "out of scope: n=3  recall=0.667" in text
    assert "router: fake" in text
    assert report.to_dict()["per_language"]["en"]["out_of_scope"]["recall"] == pytest.approx(0.5)


# --- the real model -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_router(tmp_path_factory: pytest.TempPathFactory) -> LocalRouter:
    try:
        locate_model(None)
    except EmbeddingUnavailable as exc:
        pytest.skip(f"the pinned embedding model is not installed: {exc}")
    router = LocalRouter.from_config(CrewConfig(routing_cache_dir=tmp_path_factory.mktemp("routing-cache")))
    assert router.semantic is not None
    return router


def test_the_shipped_fit_matches_the_examples_and_the_model(
    real_router: LocalRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails after an edit of data/ without `python -m crew.local_model.refit` (a fresh checkout would then
    embed and fit at every start, ~10-60 s, instead of reading the shipped fit)."""
    shipped = list(DATA_DIR.glob("routing-*.npz"))
    assert len(shipped) == 1, "run `python -m crew.local_model.refit` and commit data/routing-*.npz"

    def no_fitting(*args: object, **kwargs: object) -> SemanticModel:
        raise AssertionError("the shipped fit is stale: run `python -m crew.local_model.refit`")

    monkeypatch.setattr(semantic, "fit", no_fitting)
    router = LocalRouter.from_config(CrewConfig(routing_cache_dir=None))
    assert router.semantic is not None
    assert router.semantic.model.report["examples"] == len(ExampleSet.load().texts)


@pytest.mark.parametrize(
    "message",
    [
        "what's the capital of Peru",
        "set a timer for ten minutes please",
        "will it be sunny in Rome on Saturday",
        "turn on the porch light",
        "who wrote the Odyssey",
        "what is 12 squared",
    ],
)
def test_out_of_scope_messages_are_detected(real_router: LocalRouter, message: str) -> None:
    result = real_router.classify(message)
    assert result.out_of_scope is True, result.signals
    assert result.category is Category.GENERAL
    assert decide(result, rule=AutoEmergencyRule()).emergency is False


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("I was charged twice for my subscription this month", Category.BILLING),
        ("the app crashes every time I open my statements", Category.TECHNICAL),
        ("my phone was stolen and someone is using my banking app", Category.ESCALATION),
        ("when will my parcel arrive", Category.GENERAL),
        ("Dear support, the invoice for March lists twelve seats but we only have eight users.", Category.BILLING),
    ],
)
def test_support_messages_stay_in_scope(real_router: LocalRouter, message: str, category: Category) -> None:
    result = real_router.classify(message)
    assert result.out_of_scope is False, result.signals
    assert result.category is category


def test_confidence_is_calibrated_and_rises_with_agreement(real_router: LocalRouter) -> None:
    assert real_router.semantic is not None
    model = real_router.semantic.model
    assert np.all(np.diff(model.calibration.knots_y) >= 0)
    assert model.report["ece_calibrated_cv"] < model.report["ece_raw"]
    clear = real_router.classify("please refund the double charge on my credit card invoice")
    vague = real_router.classify("hello, I have a question about something")
    assert clear.confidence > vague.confidence
