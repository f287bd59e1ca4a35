"""Measure the routing step alone on labelled rows (`support-desk eval`, whose command is in the desk).

The metric functions are pure (lists in, numbers out) so they can be tested on hand-made data; reading the
CSV and timing the router are here too; the command (settings, exit codes) is `desk.crew_commands`.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crew.config import DEFAULT_COMPLEX_THRESHOLD
from crew.models import Category

LABELS: tuple[str, ...] = tuple(category.value for category in Category)

RoutingStep = Callable[[str], str]


# --- pure metrics -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvaluationReport:
    n: int
    accuracy: float
    macro_f1: float
    per_label: dict[str, LabelScores]
    confusion: dict[str, dict[str, int]]
    latency_ms: dict[str, float]
    skipped: int = 0
    skipped_labels: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_label": {
                label: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
                for label, s in self.per_label.items()
            },
            "confusion": self.confusion,
            "latency_ms": self.latency_ms,
            "skipped": self.skipped,
            "skipped_labels": self.skipped_labels,
        }


def confusion_matrix(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """`matrix[gold][predicted]` counts; rows and columns in the order of `labels`."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted must have the same length")
    matrix = {row: dict.fromkeys(labels, 0) for row in labels}
    for truth, guess in zip(gold, predicted, strict=True):
        matrix[truth][guess] += 1
    return matrix


def per_label_scores(matrix: Mapping[str, Mapping[str, int]]) -> dict[str, LabelScores]:
    """Precision, recall and F1 per label; a label with no gold rows is left out (its F1 is undefined)."""
    labels = list(matrix)
    scores: dict[str, LabelScores] = {}
    for label in labels:
        support = sum(matrix[label].values())
        if support == 0:
            continue
        true_positives = matrix[label][label]
        predicted_as_label = sum(matrix[other][label] for other in labels)
        precision = true_positives / predicted_as_label if predicted_as_label else 0.0
        recall = true_positives / support
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = LabelScores(precision=precision, recall=recall, f1=f1, support=support)
    return scores


def accuracy(matrix: Mapping[str, Mapping[str, int]]) -> float:
    total = sum(sum(row.values()) for row in matrix.values())
    return sum(matrix[label][label] for label in matrix) / total if total else 0.0


def macro_f1(scores: Mapping[str, LabelScores]) -> float:
    """Mean F1 over the labels present in the gold data (absent labels would reward nothing)."""
    return sum(s.f1 for s in scores.values()) / len(scores) if scores else 0.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def build_report(
    gold: Sequence[str], predicted: Sequence[str], latencies_ms: Sequence[float], skipped_labels: Mapping[str, int]
) -> EvaluationReport:
    matrix = confusion_matrix(gold, predicted, LABELS)
    scores = per_label_scores(matrix)
    return EvaluationReport(
        n=len(gold),
        accuracy=accuracy(matrix),
        macro_f1=macro_f1(scores),
        per_label=scores,
        confusion=matrix,
        latency_ms={"p50": percentile(latencies_ms, 0.50), "p95": percentile(latencies_ms, 0.95)},
        skipped=sum(skipped_labels.values()),
        skipped_labels=dict(skipped_labels),
    )


def evaluate(rows: Iterable[tuple[str, str]], route: RoutingStep) -> EvaluationReport:
    """Route every (text, label) row; rows whose label is not one of the four are skipped and counted."""
    gold: list[str] = []
    predicted: list[str] = []
    latencies_ms: list[float] = []
    skipped: dict[str, int] = {}
    for text, raw_label in rows:
        label = raw_label.strip().lower()
        if label not in LABELS:
            skipped[label] = skipped.get(label, 0) + 1
            continue
        started = time.perf_counter()
        guess = route(text)
        latencies_ms.append((time.perf_counter() - started) * 1000.0)
        gold.append(label)
        predicted.append(guess)
    return build_report(gold, predicted, latencies_ms, skipped)


def format_report(report: EvaluationReport, source: str) -> str:
    present = [label for label in LABELS if label in report.per_label]
    lines = [
        f"routing evaluation of {source}",
        f"n={report.n}  accuracy={report.accuracy:.3f}  macro-F1={report.macro_f1:.3f}",
    ]
    if report.skipped:
        lines.append(f"skipped {report.skipped} rows with other labels: {report.skipped_labels}")
    lines.append("")
    lines.append(f"{'label':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label in present:
        s = report.per_label[label]
        lines.append(f"{label:<12}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>10}")
    lines.append("")
    lines.append("confusion (rows = gold, columns = predicted)")
    lines.append(f"{'':<12}" + "".join(f"{label:>12}" for label in LABELS))
    for gold_label in LABELS:
        lines.append(f"{gold_label:<12}" + "".join(f"{report.confusion[gold_label][p]:>12}" for p in LABELS))
    lines.append("")
    lines.append(f"routing latency ms: p50={report.latency_ms['p50']:.3f}  p95={report.latency_ms['p95']:.3f}")
    return "\n".join(lines) + "\n"


# --- I/O ----------------------------------------------------------------------------------------------
class EvaluationInputError(ValueError):
    """The CSV cannot be evaluated (missing file or column); the message is meant for the user."""


def read_labelled_rows(path: Path, text_col: str, label_col: str, limit: int = 0) -> list[tuple[str, str]]:
    if not path.is_file():
        raise EvaluationInputError(f"no such file: {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [name for name in (text_col, label_col) if name not in columns]
        if missing:
            raise EvaluationInputError(
                f"{path} has no column {', '.join(repr(m) for m in missing)} (columns: {', '.join(columns) or 'none'})"
            )
        rows: list[tuple[str, str]] = []
        for record in reader:
            rows.append((record[text_col] or "", record[label_col] or ""))
            if limit and len(rows) >= limit:
                break
    return rows


def local_routing_step(complex_threshold: float = DEFAULT_COMPLEX_THRESHOLD) -> RoutingStep:
    from crew.local_model.router import LocalRouter

    router = LocalRouter(complex_threshold=complex_threshold)
    return lambda text: router.classify(text).category.value
