"""Summarize a run against the targets, print it as a table and write it as JSON."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
from importlib import metadata
from pathlib import Path

from bench.run import REPORT_POINTS

# Targets of the product (goals, not tests).
TARGET_STREAM_RATIO = 0.8
TARGET_P99_AT_200_MS = 50.0
TARGET_RSS_PER_STREAM_KIB = 1024.0
TARGET_AUTH_RATE_RATIO = 0.8
PACKAGES = ("Django", "channels", "daphne", "Twisted", "autobahn", "websockets", "psycopg", "redis", "pocketsphinx")


def machine_info() -> dict:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
                break
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "packages": {name: _version(name) for name in PACKAGES},
    }


def source_revision(project_root: Path) -> dict:
    """Return the git commit of the code under test and the files changed since it."""
    def git(*args: str) -> str:
        completed = subprocess.run(["git", *args], cwd=project_root, capture_output=True, text=True, timeout=30)
        return completed.stdout.rstrip("\n") if completed.returncode == 0 else ""

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {"commit": git("rev-parse", "HEAD") or None, "uncommitted_changes": changed}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _steps_of(results: dict, variant: str) -> list[dict]:
    return [step for step in results.get("streams", []) if step["variant"] == variant]


def capacity(steps: list[dict]) -> int | None:
    """Return the largest N that passed with every smaller step passing too."""
    best = None
    for step in sorted(steps, key=lambda step: step["streams"]):
        if not step["passed"]:
            break
        best = step["streams"]
    return best


def _step_at(steps: list[dict], streams: int) -> dict | None:
    return next((step for step in steps if step["streams"] == streams), None)


def _median_rate(rows: list[dict], key: str, value: str) -> float | None:
    rates = [row["per_second"] for row in rows if row[key] == value]
    return round(statistics.median(rates), 1) if rates else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def summarize(results: dict) -> dict:
    summary: dict = {"streams": {}, "handshakes": {}, "rest": {}, "transcription": {}}
    for variant in ("product", "baseline"):
        steps = _steps_of(results, variant)
        if not steps:
            continue
        best = capacity(steps)
        at_200 = _step_at(steps, 200)
        at_capacity = _step_at(steps, best) if best else None
        summary["streams"][variant] = {
            "max_real_time_streams": best,
            "first_failed_streams": next((s["streams"] for s in steps if not s["passed"]), None),
            "ack_latency_ms": {
                str(n): {"p50": step["ack_latency"]["p50_ms"], "p99": step["ack_latency"]["p99_ms"]}
                for n in REPORT_POINTS
                if (step := _step_at(steps, n)) is not None
            },
            "cpu_seconds_per_stream_minute_at_200": at_200["server_cpu_seconds_per_stream_minute"] if at_200 else None,
            "cpu_us_per_frame_at_200": at_200["server_cpu_us_per_frame"] if at_200 else None,
            "rss_per_stream_kib_at_max": at_capacity["rss_per_stream_kib"] if at_capacity else None,
        }
    streams = summary["streams"]
    if "product" in streams and "baseline" in streams:
        streams["product_to_baseline"] = _ratio(
            streams["product"]["max_real_time_streams"], streams["baseline"]["max_real_time_streams"]
        )

    handshakes = results.get("handshakes", [])
    for variant in ("product", "baseline"):
        summary["handshakes"][variant] = _median_rate(handshakes, "variant", variant)
    summary["handshakes"]["product_to_baseline"] = _ratio(
        summary["handshakes"]["product"], summary["handshakes"]["baseline"]
    )

    rest = results.get("rest", [])
    for label in ("health", "me_local", "me_auth0"):
        summary["rest"][label] = _median_rate(rest, "endpoint", label)
    summary["rest"]["me_local_to_health"] = _ratio(summary["rest"]["me_local"], summary["rest"]["health"])
    summary["rest"]["me_auth0_to_health"] = _ratio(summary["rest"]["me_auth0"], summary["rest"]["health"])

    transcription = results.get("transcription", [])
    if transcription:
        real_time = [step["streams"] for step in transcription if step["real_time"]]
        single = _step_at(transcription, 1)
        summary["transcription"] = {
            "max_real_time_streams": max(real_time) if real_time else 0,
            "real_time_factor_per_stream_at_1": single["real_time_factor_per_stream"] if single else None,
            "steps": {
                str(step["streams"]): {
                    "rtf_per_stream": step["real_time_factor_per_stream"],
                    "final_lag_p50_ms": step["transcripts"]["final_lag"]["p50_ms"],
                    "final_lag_p90_ms": step["transcripts"]["final_lag"]["p90_ms"],
                    "real_time": step["real_time"],
                }
                for step in transcription
            },
        }
    summary["targets"] = check_targets(summary)
    return summary


def check_targets(summary: dict) -> list[dict]:
    """Return each target with the measured value and whether it was met (None when not measured)."""
    product = summary["streams"].get("product", {})
    p99_at_200 = product.get("ack_latency_ms", {}).get("200", {}).get("p99")
    rss = product.get("rss_per_stream_kib_at_max")
    rows = [
        ("product streams >= 0.8 x baseline", summary["streams"].get("product_to_baseline"), TARGET_STREAM_RATIO, ">="),
        ("p99 Ack at 200 streams < 50 ms", p99_at_200, TARGET_P99_AT_200_MS, "<"),
        ("memory per stream < 1 MiB (KiB)", rss, TARGET_RSS_PER_STREAM_KIB, "<"),
        ("/auth/me (local) >= 0.8 x /health", summary["rest"].get("me_local_to_health"), TARGET_AUTH_RATE_RATIO, ">="),
        ("/auth/me (Auth0) >= 0.8 x /health", summary["rest"].get("me_auth0_to_health"), TARGET_AUTH_RATE_RATIO, ">="),
    ]
    checked = []
    for name, value, limit, relation in rows:
        met = None
        if value is not None and not (isinstance(value, float) and math.isinf(value)):
            met = value >= limit if relation == ">=" else value < limit
        elif value is not None:
            met = False
        checked.append({"target": name, "value": value, "limit": limit, "met": met})
    return checked


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    cells = [header] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells[0])) + " |"]
    lines.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in cells[1:]:
        aligned = [cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        lines.append("| " + " | ".join(aligned) + " |")
    return lines


def format_report(results: dict) -> str:
    """Return the run as Markdown tables: ladder steps, summary, targets."""
    summary = results["summary"]
    lines = []
    pinning = results["pinning"]
    if pinning["server_core"] is None:
        lines.append("Pinning: off (fewer than two cores); servers and load generator share the CPU.")
    else:
        lines.append(
            f"Pinning: each daphne on core {pinning['server_core']}, "
            f"load generator on core {pinning['load_generator_core']}."
        )
    lines.append(f"Database: {results['database']}; channel layer: {results['channel_layer']}.")
    lines.append("")

    if results.get("streams"):
        lines += ["Streams (one row per step):", ""]
        lines += _table(
            ["variant", "N", "pass", "p50 ms", "p99 ms", "unacked", "failed", "server CPU",
             "CPU s/stream-min", "CPU us/frame", "RSS KiB/stream", "load gen CPU"],
            [
                [s["variant"], s["streams"], "yes" if s["passed"] else "no", s["ack_latency"]["p50_ms"],
                 s["ack_latency"]["p99_ms"], s["frames_unacked"], s["failed_streams"],
                 f"{100 * s['server_cpu_fraction']:.0f}%", s["server_cpu_seconds_per_stream_minute"],
                 s["server_cpu_us_per_frame"], s["rss_per_stream_kib"], f"{100 * s['load_generator_cpu_fraction']:.0f}%"]
                for s in results["streams"]
            ],
        )
        lines.append("")
        streams = summary["streams"]
        rows = []
        for variant in ("product", "baseline"):
            if variant not in streams:
                continue
            figures = streams[variant]
            latency = figures["ack_latency_ms"]
            rows.append(
                [variant, figures["max_real_time_streams"]]
                + [f"{_cell(latency.get(str(n), {}).get('p50'))} / {_cell(latency.get(str(n), {}).get('p99'))}" for n in REPORT_POINTS]
                + [figures["cpu_seconds_per_stream_minute_at_200"], figures["cpu_us_per_frame_at_200"],
                   figures["rss_per_stream_kib_at_max"]]
            )
        rows.append(["product / baseline", streams.get("product_to_baseline")] + [""] * (len(REPORT_POINTS) + 3))
        lines += _table(
            ["variant", "max streams (p99 < 200 ms)"] + [f"p50 / p99 ms at {n}" for n in REPORT_POINTS]
            + ["CPU s/stream-min at 200", "CPU us/frame at 200", "RSS KiB/stream at max"],
            rows,
        )
        lines.append("")

    if results.get("handshakes") or results.get("rest"):
        handshakes, rest = summary["handshakes"], summary["rest"]
        lines += _table(
            ["rate (median of rounds)", "per second", "ratio"],
            [
                ["product handshakes (token verified, stream opened)", handshakes.get("product"), handshakes.get("product_to_baseline")],
                ["baseline handshakes", handshakes.get("baseline"), ""],
                ["GET /health", rest.get("health"), ""],
                ["GET /auth/me, local token", rest.get("me_local"), rest.get("me_local_to_health")],
                ["GET /auth/me, Auth0 token", rest.get("me_auth0"), rest.get("me_auth0_to_health")],
            ],
        )
        lines.append("")

    if results.get("transcription"):
        lines += _table(
            ["pocketsphinx N", "real time", "final lag p50 ms", "final lag p90 ms", "RTF per stream",
             "finals", "lagging warnings", "p99 Ack ms"],
            [
                [s["streams"], "yes" if s["real_time"] else "no", s["transcripts"]["final_lag"]["p50_ms"],
                 s["transcripts"]["final_lag"]["p90_ms"], s["real_time_factor_per_stream"],
                 s["transcripts"]["finals"], s["transcripts"]["lagging_warnings"], s["ack_latency"]["p99_ms"]]
                for s in results["transcription"]
            ],
        )
        lines.append("")

    lines += _table(
        ["target", "measured", "limit", "met"],
        [[t["target"], t["value"], t["limit"], {True: "yes", False: "NO", None: "-"}[t["met"]]] for t in summary["targets"]],
    )
    return "\n".join(lines)


def _json_safe(value):
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(results), indent=2) + "\n")
