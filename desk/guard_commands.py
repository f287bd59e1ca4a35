"""`support-desk eval-guard`: measure the prompt-injection detector on a CSV file or on our held-out set.

    support-desk eval-guard ../shared/datasets/prompt_injections.csv            # text,label (1 = injection)
    support-desk eval-guard ../shared/datasets/routing_bitext.csv               # all benign: false positives
    support-desk eval-guard --holdout                                           # our held-out examples
    support-desk eval-guard FILE.csv --text-col message --label-col is_attack --json

The threshold is INJECTION_THRESHOLD when set, else the one shipped with the model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from desk.settings import get_settings
from security.guard.evaluation import Metrics, format_metrics, measure, read_csv, read_holdout
from security.guard.injection import InjectionDetector


def eval_guard(args: argparse.Namespace) -> int:
    if not args.file and not args.holdout:
        sys.stderr.write("eval-guard: give a CSV file, --holdout, or both\n")
        return 2
    threshold = args.threshold if args.threshold is not None else (get_settings().injection_threshold or None)
    detector = InjectionDetector.load(threshold=threshold)
    results: list[Metrics] = []
    if args.holdout:
        results.append(measure(detector, read_holdout(), "holdout 1 (security/guard/data/*_holdout.txt)"))
        results.append(measure(detector, read_holdout("2"), "holdout 2 (security/guard/data/*_holdout2.txt)"))
    if args.file:
        path = Path(args.file)
        try:
            items, note = read_csv(path, args.text_col, args.label_col or None)
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"eval-guard: {exc}\n")
            return 2
        results.append(measure(detector, items, str(path), note))
    if args.json:
        sys.stdout.write(json.dumps([m.as_dict() for m in results], indent=2) + "\n")
    else:
        sys.stdout.write(format_metrics(results))
    return 0
