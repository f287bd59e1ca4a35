"""Measure the injection detector on labelled text: recall, false-positive rate, precision and F1.

Labels: 1/true/injection/attack/jailbreak count as attacks, 0/false/benign/legit as benign. A file whose
label column holds anything else (the routing sets: billing, technical, ...) or has no label column is
all benign, and only its false-positive rate means something.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from security.guard.injection import DATA_DIR, InjectionDetector

ATTACK_LABELS = frozenset({"1", "true", "yes", "injection", "attack", "jailbreak", "malicious"})
BENIGN_LABELS = frozenset({"0", "false", "no", "benign", "legit", "legitimate", "safe"})


@dataclass
class Metrics:
    source: str
    rows: int
    attacks: int
    benign: int
    threshold: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    recall: float | None
    false_positive_rate: float | None
    precision: float | None
    f1: float | None
    ms_per_message: float
    note: str = ""
    recall_by_family: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def measure(detector: InjectionDetector, items: Sequence[tuple[str, int, str]], source: str, note: str = "") -> Metrics:
    """`items`: (text, label, family) triples."""
    tp = fp = fn = tn = 0
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    started = time.perf_counter()
    for text, label, family in items:
        flagged = detector.score(text).flagged
        if label:
            totals[family] += 1
            hits[family] += flagged
            tp += flagged
            fn += not flagged
        else:
            fp += flagged
            tn += not flagged
    elapsed = time.perf_counter() - started
    recall = _ratio(tp, tp + fn)
    precision = _ratio(tp, tp + fp)
    f1 = round(2 * precision * recall / (precision + recall), 4) if recall and precision else None
    by_family = {f: round(hits[f] / n, 4) for f, n in sorted(totals.items())} if len(totals) > 1 else {}
    return Metrics(
        source=source,
        rows=len(items),
        attacks=tp + fn,
        benign=fp + tn,
        threshold=detector.threshold,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        true_negatives=tn,
        recall=recall,
        false_positive_rate=_ratio(fp, fp + tn),
        precision=precision,
        f1=f1 if tp + fn else None,
        ms_per_message=round(1000 * elapsed / max(1, len(items)), 3),
        note=note,
        recall_by_family=by_family,
    )


def read_csv(path: Path, text_col: str, label_col: str | None) -> tuple[list[tuple[str, int, str]], str]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if text_col not in columns:
            raise ValueError(f"{path}: no column {text_col!r} (columns: {', '.join(columns)})")
        rows = [
            (row[text_col] or "", (row.get(label_col) or "").strip().lower() if label_col else "") for row in reader
        ]
    values = {label for _text, label in rows}
    if label_col is None or label_col not in columns:
        return [(t, 0, "benign") for t, _ in rows], "no label column: every row counted benign"
    if not values <= ATTACK_LABELS | BENIGN_LABELS:
        shown = ", ".join(sorted(values)[:6])
        return [(t, 0, "benign") for t, _ in rows], f"labels ({shown}) are not injection labels: every row benign"
    return [(t, int(label in ATTACK_LABELS), label_col) for t, label in rows], ""


def read_holdout(suffix: str = "") -> list[tuple[str, int, str]]:
    """Our held-out examples (`data/attacks_holdout{suffix}.txt`, `data/benign_holdout{suffix}.txt`), never
    used in training. "" is the first set (looked at during development), "2" the second (measured once)."""
    from security.guard.training import read_examples

    items = read_examples(DATA_DIR / f"attacks_holdout{suffix}.txt", 1)
    items += read_examples(DATA_DIR / f"benign_holdout{suffix}.txt", 0)
    return [(e.text, e.label, e.family) for e in items]


def format_metrics(metrics: Iterable[Metrics]) -> str:
    lines = []
    for m in metrics:
        lines.append(f"{m.source}: {m.rows} rows ({m.attacks} attacks, {m.benign} benign), threshold {m.threshold}")
        if m.note:
            lines.append(f"  note: {m.note}")
        lines.append(
            f"  recall {m.recall}  false-positive rate {m.false_positive_rate}  precision {m.precision}  F1 {m.f1}"
        )
        lines.append(
            f"  TP {m.true_positives}  FP {m.false_positives}  FN {m.false_negatives}  TN {m.true_negatives}"
            f"  ({m.ms_per_message} ms/message)"
        )
        for family, recall in m.recall_by_family.items():
            lines.append(f"    recall {family}: {recall}")
    return "\n".join(lines) + "\n"
