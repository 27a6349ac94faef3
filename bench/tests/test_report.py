"""The summary of a run: capacity, ratios and targets, from recorded step results."""

from __future__ import annotations

import json
import math

from bench.report import capacity, format_report, summarize, write_json


def stream_step(variant: str, streams: int, passed: bool, p99_ms: float = 10.0) -> dict:
    return {
        "variant": variant,
        "streams": streams,
        "passed": passed,
        "ack_latency": {"count": 100, "p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": p99_ms, "max_ms": p99_ms},
        "frames_unacked": 0,
        "failed_streams": 0 if passed else 3,
        "server_cpu_fraction": 0.5,
        "server_cpu_seconds_per_stream_minute": 0.2,
        "server_cpu_us_per_frame": 300.0,
        "rss_per_stream_kib": 100.0,
        "load_generator_cpu_fraction": 0.2,
    }


def recorded_results() -> dict:
    return {
        "pinning": {"server_core": 0, "load_generator_core": 1},
        "database": "postgresql",
        "channel_layer": "redis",
        "streams": [
            stream_step("product", 50, True),
            stream_step("baseline", 50, True),
            stream_step("product", 200, True, p99_ms=40.0),
            stream_step("baseline", 200, True),
            stream_step("product", 300, False, p99_ms=math.inf),
            stream_step("baseline", 300, True),
            stream_step("baseline", 400, False),
            stream_step("product", 500, True),
        ],
        "handshakes": [
            {"variant": "product", "per_second": 20.0},
            {"variant": "baseline", "per_second": 400.0},
        ],
        "rest": [
            {"endpoint": "health", "per_second": 500.0},
            {"endpoint": "me_local", "per_second": 450.0},
            {"endpoint": "me_auth0", "per_second": 100.0},
        ],
    }


def test_capacity_stops_at_first_failure():
    steps = [stream_step("product", n, passed) for n, passed in [(50, True), (200, True), (300, False), (500, True)]]

    assert capacity(steps) == 200


def test_capacity_none_when_first_step_fails():
    assert capacity([stream_step("product", 50, False)]) is None


def test_summary_ratios_and_targets():
    summary = summarize(recorded_results())
    targets = {row["target"]: row for row in summary["targets"]}

    assert summary["streams"]["product"]["max_real_time_streams"] == 200
    assert summary["streams"]["baseline"]["max_real_time_streams"] == 300
    assert summary["streams"]["product_to_baseline"] == 0.667
    assert summary["handshakes"]["product_to_baseline"] == 0.05
    assert summary["rest"]["me_local_to_health"] == 0.9
    assert targets["product streams >= 0.8 x baseline"]["met"] is False
    assert targets["p99 Ack at 200 streams < 50 ms"]["met"] is True
    assert targets["memory per stream < 1 MiB (KiB)"]["met"] is True
    assert targets["/auth/me (local) >= 0.8 x /health"]["met"] is True
    assert targets["/auth/me (Auth0) >= 0.8 x /health"]["met"] is False


def test_report_and_json_handle_infinite_latency(tmp_path):
    results = recorded_results()
    results["summary"] = summarize(results)
    path = tmp_path / "run.json"

    text = format_report(results)
    write_json(results, path)

    assert "| product" in text
    assert "inf" in text
    stored = json.loads(path.read_text())
    assert stored["streams"][4]["ack_latency"]["p99_ms"] == "inf"
