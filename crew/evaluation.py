"""Measure the routing step alone on labelled rows (`support-desk eval`, whose command is in the desk).

The metric functions are pure (lists in, numbers out) so they can be tested on hand-made data; reading the
CSV and timing the router are here too; the command (settings, exit codes) is `desk.crew_commands`.

Rows labelled `out_of_scope` are scored apart: the four-label metrics are over in-scope rows only, and the
out-of-scope block says how many out-of-scope rows the router flagged (recall), sent to general and sent to
escalation. A `language` column, when the file has one, adds the same metrics per language.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from crew.config import CrewConfig
from crew.models import Category, Classification
from crew.stats import percentile

LABELS: tuple[str, ...] = tuple(category.value for category in Category)
OUT_OF_SCOPE = "out_of_scope"
LANGUAGE_COLUMN = "language"

# A routing step returns a label, or the whole Classification (then `out_of_scope` is read from it).
RoutingStep = Callable[[str], str | Classification]


class LabelledRow(NamedTuple):
    text: str
    label: str
    language: str = ""


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
    out_of_scope: OutOfScopeScores | None = None
    per_language: dict[str, EvaluationReport] = field(default_factory=dict)
    router: str = ""

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.out_of_scope is not None:
            extra["out_of_scope"] = self.out_of_scope.to_dict()
        if self.per_language:
            extra["per_language"] = {
                language: {
                    "n": report.n,
                    "accuracy": report.accuracy,
                    "macro_f1": report.macro_f1,
                    **({"out_of_scope": report.out_of_scope.to_dict()} if report.out_of_scope else {}),
                }
                for language, report in self.per_language.items()
            }
        if self.router:
            extra["router"] = self.router
        return extra | {
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


@dataclass(frozen=True)
class OutOfScopeScores:
    """Out-of-scope rows: how many the router flagged, and where they went. `in_scope_flagged` is the share of
    in-scope rows wrongly flagged out of scope (the price of the recall)."""

    n: int
    recall: float | None  # None: the set has no out-of-scope rows (only in_scope_flagged is known)
    routed_general: float | None
    routed_escalation: float | None
    in_scope_flagged: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "recall": self.recall,
            "routed_general": self.routed_general,
            "routed_escalation": self.routed_escalation,
            "in_scope_flagged": self.in_scope_flagged,
        }


def out_of_scope_scores(
    flagged: Sequence[bool], routed: Sequence[str], in_scope_flagged: Sequence[bool]
) -> OutOfScopeScores | None:
    """From the out-of-scope rows' flags and routes, and the in-scope rows' flags; None when the set has no
    out-of-scope row and the router flagged nothing (a router without the notion)."""
    if not flagged and not any(in_scope_flagged):
        return None
    n = len(flagged)
    return OutOfScopeScores(
        n=n,
        recall=sum(flagged) / n if n else None,
        routed_general=sum(1 for label in routed if label == Category.GENERAL.value) / n if n else None,
        routed_escalation=sum(1 for label in routed if label == Category.ESCALATION.value) / n if n else None,
        in_scope_flagged=sum(in_scope_flagged) / len(in_scope_flagged) if in_scope_flagged else 0.0,
    )


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
        latency_ms={"p50": percentile(latencies_ms, 50), "p95": percentile(latencies_ms, 95)},
        skipped=sum(skipped_labels.values()),
        skipped_labels=dict(skipped_labels),
    )


def evaluate(rows: Iterable[tuple[str, ...]], route: RoutingStep, *, router: str = "") -> EvaluationReport:
    """Route every (text, label[, language]) row; rows whose label is neither one of the four nor
    `out_of_scope` are skipped and counted."""
    runs: list[_Run] = []
    skipped: dict[str, int] = {}
    for raw in rows:
        row = LabelledRow(*raw)
        label = row.label.strip().lower()
        if label not in LABELS and label != OUT_OF_SCOPE:
            skipped[label] = skipped.get(label, 0) + 1
            continue
        started = time.perf_counter()
        result = route(row.text)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        if isinstance(result, Classification):
            runs.append(_Run(label, result.category.value, result.out_of_scope, elapsed_ms, row.language.strip()))
        else:
            runs.append(_Run(label, result, result == OUT_OF_SCOPE, elapsed_ms, row.language.strip()))
    report = _report(runs, skipped)
    languages = sorted({run.language for run in runs if run.language})
    per_language = {language: _report([r for r in runs if r.language == language], {}) for language in languages}
    return replace(report, per_language=per_language, router=router)


@dataclass(frozen=True)
class _Run:
    gold: str
    predicted: str  # a category (an out-of-scope message is routed general)
    flagged: bool  # called out of scope
    latency_ms: float
    language: str


def _report(runs: Sequence[_Run], skipped: Mapping[str, int]) -> EvaluationReport:
    in_scope = [run for run in runs if run.gold != OUT_OF_SCOPE]
    outside = [run for run in runs if run.gold == OUT_OF_SCOPE]
    # A step that answers with the bare label "out_of_scope" routes the message general.
    predicted = [run.predicted if run.predicted in LABELS else Category.GENERAL.value for run in in_scope]
    report = build_report([run.gold for run in in_scope], predicted, [run.latency_ms for run in runs], skipped)
    scores = out_of_scope_scores(
        [run.flagged for run in outside],
        [run.predicted if run.predicted in LABELS else Category.GENERAL.value for run in outside],
        [run.flagged for run in in_scope],
    )
    return replace(report, out_of_scope=scores)


def format_report(report: EvaluationReport, source: str) -> str:
    present = [label for label in LABELS if label in report.per_label]
    lines = [f"routing evaluation of {source}"]
    if report.router:
        lines.append(f"router: {report.router}")
    lines.append(f"n={report.n}  accuracy={report.accuracy:.3f}  macro-F1={report.macro_f1:.3f}")
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
    if report.out_of_scope is not None:
        lines.append("")
        lines.append(_out_of_scope_line(report.out_of_scope))
    if report.per_language:
        lines.append("")
        lines.append(f"{'language':<12}{'n':>8}{'accuracy':>10}{'macro-F1':>10}{'oos recall':>12}")
        for language, part in report.per_language.items():
            recall = "-"
            if part.out_of_scope is not None and part.out_of_scope.recall is not None:
                recall = f"{part.out_of_scope.recall:.3f}"
            lines.append(f"{language:<12}{part.n:>8}{part.accuracy:>10.3f}{part.macro_f1:>10.3f}{recall:>12}")
    return "\n".join(lines) + "\n"


def _out_of_scope_line(scores: OutOfScopeScores) -> str:
    flagged = f"in-scope rows flagged out of scope={scores.in_scope_flagged:.3f}"
    if scores.recall is None or scores.routed_general is None or scores.routed_escalation is None:
        return f"out of scope: no out_of_scope rows;  {flagged}"
    return (
        f"out of scope: n={scores.n}  recall={scores.recall:.3f}  routed general={scores.routed_general:.3f}  "
        f"routed escalation={scores.routed_escalation:.3f}  {flagged}"
    )


# --- I/O ----------------------------------------------------------------------------------------------
class EvaluationInputError(ValueError):
    """The CSV cannot be evaluated (missing file or column); the message is meant for the user."""


def read_labelled_rows(path: Path, text_col: str, label_col: str, limit: int = 0) -> list[LabelledRow]:
    """The (text, label, language) rows of a CSV; language is "" unless the file has a `language` column."""
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
        has_language = LANGUAGE_COLUMN in columns
        rows: list[LabelledRow] = []
        for record in reader:
            language = (record[LANGUAGE_COLUMN] or "") if has_language else ""
            rows.append(LabelledRow(record[text_col] or "", record[label_col] or "", language))
            if limit and len(rows) >= limit:
                break
    return rows


def local_routing_step(config: CrewConfig | None = None) -> tuple[RoutingStep, str]:
    """The desk's local router (the ensemble unless the config turns it off or its model is missing) as a
    routing step, and a one-line description of it for the report."""
    from crew.local_model.router import LocalRouter

    router = LocalRouter.from_config(config or CrewConfig())
    return router.classify, router.describe()
