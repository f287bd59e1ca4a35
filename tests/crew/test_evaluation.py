"""`support-desk eval`: the metric functions on hand-made data, the command on small CSV files, and a
regression guard on the shared evaluation data (skipped when it is absent)."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest

from cli.main import main
from crew.evaluation import (
    accuracy,
    build_report,
    confusion_matrix,
    evaluate,
    macro_f1,
    per_label_scores,
)
from crew.stats import percentile

LABELS = ("billing", "technical", "escalation", "general")


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_confusion_counts_gold_rows_against_predictions() -> None:
    matrix = confusion_matrix(["billing", "billing", "general"], ["billing", "general", "general"], LABELS)
    assert matrix["billing"] == {"billing": 1, "technical": 0, "escalation": 0, "general": 1}
    assert matrix["general"]["general"] == 1


def test_scores_on_a_hand_worked_example() -> None:
    gold = ["billing", "billing", "technical", "technical", "general"]
    predicted = ["billing", "technical", "technical", "technical", "billing"]
    matrix = confusion_matrix(gold, predicted, LABELS)
    scores = per_label_scores(matrix)
    # billing: tp=1, predicted 2, gold 2 -> P=R=F1=0.5; technical: tp=2, predicted 3 -> P=2/3, R=1, F1=0.8
    assert scores["billing"].f1 == pytest.approx(0.5)
    assert scores["technical"].precision == pytest.approx(2 / 3)
    assert scores["technical"].f1 == pytest.approx(0.8)
    assert scores["general"].f1 == 0.0
    assert "escalation" not in scores  # no gold rows: left out of the macro average
    assert macro_f1(scores) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert accuracy(matrix) == pytest.approx(3 / 5)


def test_perfect_predictions_score_one() -> None:
    gold = list(LABELS)
    report = build_report(gold, gold, [0.1, 0.2, 0.3, 0.4], {})
    assert report.accuracy == report.macro_f1 == 1.0


def test_the_one_percentile_interpolates_between_ranks_like_statistics_quantiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == statistics.median(values) == 50.5
    assert percentile(values, 95) == pytest.approx(statistics.quantiles(values, n=100, method="inclusive")[94])
    assert percentile([], 50) == 0.0


def test_evaluate_skips_and_counts_unknown_labels() -> None:
    rows = [("a", "billing"), ("b", "Technical "), ("c", "sales"), ("d", "sales")]
    report = evaluate(rows, lambda text: "billing")
    assert report.n == 2
    assert report.skipped == 2
    assert report.skipped_labels == {"sales": 2}


def test_cli_json_is_one_object_with_the_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(
        tmp_path / "tiny.csv",
        [
            {"text": "I need a refund for the double charge on my invoice", "label": "billing"},
            {"text": "The app crashes when I log in", "label": "technical"},
            {"text": "Get me a manager, I want to file a complaint", "label": "escalation"},
            {"text": "When will my order be delivered?", "label": "general"},
            {"text": "Something unrelated", "label": "spam"},
        ],
    )
    assert main(["eval", str(data), "--json"]) == 0
    output = capsys.readouterr().out
    report = json.loads(output)
    assert output.count("\n") == 1
    assert report["n"] == 4
    assert report["accuracy"] == 1.0
    assert report["macro_f1"] == 1.0
    assert report["skipped"] == 1
    assert set(report["per_label"]) == set(LABELS)
    assert report["confusion"]["billing"]["billing"] == 1
    assert set(report["latency_ms"]) == {"p50", "p95"}


def test_cli_text_report_and_custom_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(
        tmp_path / "custom.csv",
        [
            {"body": "Where is my parcel?", "queue": "general"},
            {"body": "My password reset link is broken", "queue": "technical"},
            {"body": "Please send the invoice again", "queue": "billing"},
        ],
    )
    assert main(["eval", str(data), "--text-col", "body", "--label-col", "queue", "--limit", "2"]) == 0
    output = capsys.readouterr().out
    assert "n=2" in output
    assert "macro-F1" in output
    assert "confusion" in output


def test_cli_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "absent.csv")]) == 2
    captured = capsys.readouterr()
    assert "no such file" in captured.err
    assert captured.out == ""
    assert "Traceback" not in captured.err


def test_cli_missing_column_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "wrong.csv", [{"message": "hello", "label": "general"}])
    assert main(["eval", str(data)]) == 2
    captured = capsys.readouterr()
    assert "'text'" in captured.err
    assert captured.out == ""


# Floors a little under what the router measures (0.831 and 0.684, docs/routing.md), so a change that makes
# routing clearly worse fails here. They guard against regressions; they are not the targets, and the
# router is never fitted to these sets (the Bitext floor came down from 0.84 when the embedding half, fitted on
# our own examples only, traded Bitext for routing that holds on text nobody tuned it to).
@pytest.mark.parametrize(("file_name", "floor"), [("routing_bitext.csv", 0.81), ("routing_priority_tickets.csv", 0.66)])
def test_macro_f1_on_shared_data_stays_above_floor(
    shared_datasets: Path, capsys: pytest.CaptureFixture[str], file_name: str, floor: float
) -> None:
    path = shared_datasets / file_name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    assert main(["eval", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] > 1000
    assert report["macro_f1"] >= floor
