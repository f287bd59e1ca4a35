"""The prompt-injection detector: `InjectionDetector.load().score(text)` -> an `InjectionVerdict`.

A logistic regression over word and character n-grams of the folded text and structural signals
(`security.guard.features`). Its weights are `data/injection_model.json`, fitted by
`python -m security.guard.training` on the attack and support examples in `data/` that the project's
authors wrote (the file records their digest, the settings and the decision threshold). Scoring is pure
Python over a dictionary: no model download, no numpy, ~1 ms for a typical message.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from security.guard.features import Analysed, tfidf

DATA_DIR = Path(__file__).with_name("data")
MODEL_PATH = DATA_DIR / "injection_model.json"
MIN_WORDS = 3
_WORDS = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class InjectionVerdict:
    score: float  # probability-like, 0..1
    flagged: bool
    threshold: float
    # The strongest structural signals (names only, never text): for the audit log and debugging.
    signals: tuple[str, ...] = ()


class InjectionDetector:
    def __init__(self, model: dict[str, Any], threshold: float | None = None) -> None:
        self.bias: float = float(model["bias"])
        self.threshold: float = float(model["threshold"] if threshold is None else threshold)
        self.word_idf = {term: float(v[0]) for term, v in model["word"].items()}
        self.word_w = {term: float(v[1]) for term, v in model["word"].items()}
        self.char_idf = {term: float(v[0]) for term, v in model["char"].items()}
        self.char_w = {term: float(v[1]) for term, v in model["char"].items()}
        self.structure_w = {name: float(w) for name, w in model["structure"].items()}
        self.provenance: dict[str, Any] = dict(model.get("provenance", {}))

    @classmethod
    def load(cls, path: Path = MODEL_PATH, threshold: float | None = None) -> InjectionDetector:
        return cls(json.loads(path.read_text(encoding="utf-8")), threshold)

    def raw_score(self, text: str) -> tuple[float, dict[str, float]]:
        analysed = Analysed(text)
        z = self.bias
        z += sum(v * self.word_w[t] for t, v in tfidf(analysed.words, self.word_idf).items())
        z += sum(v * self.char_w[t] for t, v in tfidf(analysed.chars, self.char_idf).items())
        z += sum(v * self.structure_w.get(name, 0.0) for name, v in analysed.structure.items())
        return z, analysed.structure

    def score(self, text: str) -> InjectionVerdict:
        z, signals = self.raw_score(text)
        probability = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
        strong = tuple(sorted(name for name, v in signals.items() if v > 0 and self.structure_w.get(name, 0.0) > 0.5))
        # A message of one or two words carries no instruction to follow unless it hides one (an encoded run,
        # a role marker: a structural signal); its few n-grams make its score swing, so it is not flagged.
        words = len(_WORDS.findall(text))
        flagged = probability >= self.threshold and (words >= MIN_WORDS or bool(strong))
        return InjectionVerdict(score=probability, flagged=flagged, threshold=self.threshold, signals=strong)


@lru_cache(maxsize=4)
def default_detector(threshold: float | None = None) -> InjectionDetector:
    """The shipped detector, loaded once per process (and per threshold override)."""
    return InjectionDetector.load(threshold=threshold)
