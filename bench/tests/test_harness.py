"""Smoke test of the benchmark harness: a few streams, handshakes and requests against a live daphne."""

from __future__ import annotations

import asyncio

import pytest

from bench.audio import load_audio
from bench.baseline import BASELINE_PATH
from bench.handshakes import measure_handshakes
from bench.http_load import measure_requests
from bench.load_step import StepTiming, run_stream_step
from bench.process_stats import sample_process
from bench.service import TokenPool
from bench.streams import StreamEndpoint

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

STREAMS = 3
TIMING = StepTiming(warmup_seconds=0.5, window_seconds=2.0, tail_seconds=0.5, grace_seconds=2.0)
# Three streams on an idle loopback server; far above this means the harness mismeasures.
SANE_P99_MS = 1000.0


@pytest.fixture
def bench_server(daphne_factory, auth0_issuer):
    return daphne_factory(
        env={**auth0_issuer.env(), "BENCHMARK_BASELINE": "true", "BENCHMARK_BASELINE_WITHOUT_DEBUG": "true",
             "TRANSCRIPTION_ENGINE": "none"}
    )


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def assert_sane_step(step: dict) -> None:
    assert step["passed"], step
    assert step["failed_streams"] == 0
    assert step["frames_unacked"] == 0
    # 3 streams at 10 frames per second for 2 s, give or take a frame each.
    assert 50 <= step["frames_sent"] <= 70
    assert step["ack_latency"]["count"] == step["frames_sent"]
    assert 0 < step["ack_latency"]["p50_ms"] <= step["ack_latency"]["p99_ms"] < SANE_P99_MS
    assert step["server_cpu_seconds"] >= 0
    assert step["server_rss_mib"] > 0


def test_product_streams_report_acks(bench_server, auth0_issuer):
    endpoint = StreamEndpoint(
        "product", f"{bench_server.ws_url}/ws/audio/?encoding=linear16&sample_rate=16000&channels=1",
        token_for=TokenPool(auth0_issuer).token_for,
    )
    pid = bench_server.process.pid

    step = run(run_stream_step(endpoint, STREAMS, load_audio(), pid, sample_process(pid).rss_bytes, TIMING))

    assert_sane_step(step)
    assert step["variant"] == "product"
    assert step["streams"] == STREAMS


def test_baseline_streams_report_acks(bench_server):
    endpoint = StreamEndpoint("baseline", f"{bench_server.ws_url}{BASELINE_PATH}", expects_ready=False)
    pid = bench_server.process.pid

    step = run(run_stream_step(endpoint, STREAMS, load_audio(), pid, sample_process(pid).rss_bytes, TIMING))

    assert_sane_step(step)


def test_handshakes_and_requests_counted(bench_server, auth0_issuer):
    endpoint = StreamEndpoint(
        "product", f"{bench_server.ws_url}/ws/audio/", token_for=TokenPool(auth0_issuer).token_for
    )
    pid = bench_server.process.pid

    handshakes = run(measure_handshakes(endpoint, pid, seconds=1.0, concurrency=2))
    health = run(measure_requests("health", bench_server.port, "/health", {}, pid, seconds=1.0, concurrency=2))

    assert handshakes["failures"] == {}
    assert handshakes["handshakes"] > 0
    assert handshakes["per_second"] > 0
    assert health["failures"] == {}
    assert health["requests"] > 0
    assert health["per_second"] > 0
