"""The report: one table per scenario on stdout, JSON (stdout with --json, always into --out), PNG charts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

LEVEL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("mode", "mode"),
    ("concurrency", "conc"),
    ("workers", "API procs"),
    ("worker_processes", "worker procs"),
    ("requests", "reqs"),
    ("ok", "ok"),
    ("errors", "errors"),
    ("throughput_rps", "req/s"),
    ("ideal_rps", "ideal"),
    ("measured_over_ideal", "meas/ideal"),
    ("p50_ms", "p50 ms"),
    ("p95_ms", "p95 ms"),
    ("p99_ms", "p99 ms"),
    ("cpu_ms_per_request", "CPU ms/req"),
    ("worker_cpu_ms_per_request", "worker CPU ms/req"),
    ("hosted_calls_per_request", "hosted calls/req"),
    ("fake_peak_in_flight", "peak in flight"),
    ("peak_rss_mb", "peak RSS MB"),
)


def public(result: dict[str, Any]) -> dict[str, Any]:
    """The result without raw per-request latencies (those go to the JSON file only)."""
    copy = dict(result)
    if "levels" in copy:
        copy["levels"] = [{k: v for k, v in level.items() if k != "latencies_ms"} for level in copy["levels"]]
    return copy


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items()) or "0"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return str(value)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def level_table(levels: list[dict[str, Any]]) -> str:
    columns = [(key, title) for key, title in LEVEL_COLUMNS if any(key in level for level in levels)]
    return table([t for _, t in columns], [[level.get(k) for k, _ in columns] for level in levels])


def target_table(targets: list[dict[str, Any]]) -> str:
    return table(
        ["target", "wanted", "measured", "met"], [[t["target"], t["wanted"], t["measured"], t["met"]] for t in targets]
    )


def write_text(result: dict[str, Any], out: TextIO) -> None:
    out.write(f"\n== {result['scenario']} ==\n")
    if "levels" in result:
        out.write(level_table(result["levels"]) + "\n")
    for key in (
        "non_complex",
        "burst",
        "calm_baseline",
        "calm_during_burst",
        "multi_worker_skipped",
        "kb_search",
        "skipped",
    ):
        if key in result:
            out.write(f"{key}: {json.dumps(result[key])}\n")
    for key in (
        "model_calls_per_request",
        "ceiling_rps",
        "calm_p50_ratio",
        "ready_seconds",
        "listening_seconds",
        "idle_rss_mb_per_process",
        "accepted",
        "answered",
        "resumed",
        "failed",
        "lost",
        "seconds_to_recover",
    ):
        if key in result:
            out.write(f"{key}: {result[key]}\n")
    if "profile" in result:
        profile = result["profile"]
        parts = " + ".join(profile.get("ours_parts", ["api_layer", "crew_glue"]))
        out.write(
            f"profile: CPU ms/request {json.dumps(profile['cpu_ms_per_request'])}; "
            f"our share {profile['ours_share']} ({parts}; with the local model "
            f"{profile.get('ours_share_with_local_model', '-')})\n"
        )
        out.write(f"crew self time by package: {json.dumps(profile['self_share_by_package'])}\n")
        if "api_layer_ms_by_job" in profile:
            out.write(
                f"API layer CPU ms/request by job: {json.dumps(profile['api_layer_ms_by_job'])}; "
                f"our share by job {profile['ours_share_by_job']}\n"
            )
        if "api_layer_self_share_by_package" in profile:
            out.write(f"API layer self time by package: {json.dumps(profile['api_layer_self_share_by_package'])}\n")
        out.write(
            table(
                ["function (crew run)", "package", "self share", "calls/req"],
                [[e["function"], e["package"], e["self_share"], e["calls_per_request"]] for e in profile["top"][:10]],
            )
            + "\n"
        )
    if "error" in result:
        out.write(f"FAILED: {result['error']}\n")
    if result.get("targets"):
        out.write(target_table(result["targets"]) + "\n")
    out.flush()


def write_chart(result: dict[str, Any], path: Path) -> Path | None:
    """Latency distribution (box per concurrency level) and throughput per level (with the ideal)."""
    levels = result.get("levels")
    if not levels:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = [
        f"{level['concurrency']} x{level['workers']}" if level.get("workers", 1) > 1 else str(level["concurrency"])
        for level in levels
    ]
    left.boxplot([level["latencies_ms"] or [0.0] for level in levels], showfliers=False)
    left.set_xticks(range(1, len(labels) + 1), labels)
    left.set_xlabel("concurrent clients")
    left.set_ylabel("latency (ms)")
    left.set_title("latency distribution (box: p25-p75, whiskers 1.5 IQR)")
    positions = range(len(levels))
    right.bar(positions, [level["throughput_rps"] for level in levels], color="#4c72b0", label="measured")
    if any("ideal_rps" in level for level in levels):
        right.plot(
            positions,
            [level.get("ideal_rps", 0.0) for level in levels],
            "o--",
            color="#dd8452",
            label="ideal = C / (delay x calls)",
        )
    right.set_xticks(list(positions), labels)
    right.set_xlabel("concurrent clients")
    right.set_ylabel("requests / s")
    right.set_title("throughput per concurrency level")
    right.legend()
    figure.suptitle(f"support-desk bench: {result['scenario']}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
