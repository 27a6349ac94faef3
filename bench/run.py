"""Run the whole benchmark: prepare the database, start the servers, run every part, clean up."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from accounts.auth0.local_issuer import LocalIssuer
from bench import database
from bench.audio import AudioLoop, load_audio
from bench.baseline import BASELINE_PATH
from bench.handshakes import measure_handshakes
from bench.http_load import measure_requests
from bench.load_step import StepTiming, run_stream_step, wait_until_quiet
from bench.process_stats import pin_process, plan_cores, raise_open_file_limit
from bench.service import AUDIENCE, BenchServer, TokenPool, service_env, start_server
from bench.streams import StreamEndpoint
from bench.transcription import run_transcription_ladder

logger = logging.getLogger(__name__)

PARTS = ("streams", "handshakes", "rest", "transcription")
DEFAULT_STEPS = (50, 100, 200, 300, 400, 500, 750, 1000)
# Stream counts at which Ack latency is always reported, even past the capacity.
REPORT_POINTS = (50, 200, 500)
DEFAULT_TRANSCRIPTION_STEPS = (1, 2, 4, 6, 8, 12, 16)
STREAM_QUERY = "?encoding=linear16&sample_rate=16000&channels=1&language=en"
REST_USERNAME = "bench-rest"
REST_AUTH0_SUBJECT = "auth0|bench-rest"


@dataclass
class BenchOptions:
    steps: list[int] = field(default_factory=lambda: list(DEFAULT_STEPS))
    max_streams: int = 1000
    timing: StepTiming = field(default_factory=StepTiming)
    transcription_steps: list[int] = field(default_factory=lambda: list(DEFAULT_TRANSCRIPTION_STEPS))
    max_transcribed_streams: int = 16
    transcription_timing: StepTiming = field(
        default_factory=lambda: StepTiming(warmup_seconds=2.0, window_seconds=15.0, tail_seconds=4.0)
    )
    phase_seconds: float = 4.0
    rounds: int = 3
    handshake_concurrency: int = 16
    rest_concurrency: int = 8
    parts: tuple[str, ...] = PARTS
    audio_file: Path | None = None
    database_name: str = database.DEFAULT_DATABASE_NAME
    log_dir: Path | None = None


@dataclass
class Servers:
    """The daphne processes of a run and their idle resident memory."""

    running: dict[str, BenchServer] = field(default_factory=dict)
    idle_rss: dict[str, int] = field(default_factory=dict)

    async def start(self, name: str, env: dict[str, str], log_dir: Path, core: int | None) -> BenchServer:
        server = await asyncio.to_thread(start_server, name, env, log_dir, core)
        self.running[name] = server
        await wait_until_quiet(server.pid)
        self.idle_rss[name] = server.rss_bytes()
        return server

    def stop(self, name: str) -> None:
        server = self.running.pop(name, None)
        if server is not None:
            server.stop()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def run_benchmark(options: BenchOptions) -> dict:
    """Run the parts in ``options`` and return the raw results (summarized by bench.report)."""
    server_core, load_core = plan_cores()
    if load_core is not None:
        pin_process(os.getpid(), load_core)
    open_files = raise_open_file_limit()
    audio = load_audio(options.audio_file)
    work_dir = Path(tempfile.mkdtemp(prefix="meeting-streamer-bench-"))
    log_dir = options.log_dir or work_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    redis_url = os.environ.get("REDIS_URL", "")

    results: dict = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pinning": {"server_core": server_core, "load_generator_core": load_core},
        "open_file_limit": open_files,
        "audio": {"sources": audio.sources, "seconds_looped": audio.seconds},
        "channel_layer": "redis" if redis_url else "in-memory",
    }
    issuer = LocalIssuer(host="127.0.0.1", port=0, audience=AUDIENCE).start()
    bench_db = database.create_database(os.environ.get("DATABASE_URL"), work_dir, options.database_name)
    results["database"] = bench_db.engine
    servers = Servers()
    try:
        env = service_env(
            database_url=bench_db.url,
            redis_url=redis_url,
            media_root=work_dir / "media",
            issuer=issuer,
            key_prefix=f"bench-{secrets.token_hex(6)}",
        )
        database.migrate(env)
        asyncio.run(_run_parts(options, env, issuer, audio, servers, log_dir, server_core, results))
    finally:
        servers.stop_all()
        issuer.stop()
        bench_db.drop()
        shutil.rmtree(work_dir, ignore_errors=True)
    return results


async def _run_parts(
    options: BenchOptions,
    env: dict[str, str],
    issuer: LocalIssuer,
    audio: AudioLoop,
    servers: Servers,
    log_dir: Path,
    core: int | None,
    results: dict,
) -> None:
    tokens = TokenPool(issuer)
    parts = set(options.parts)
    if parts & {"streams", "handshakes", "rest"}:
        product = await servers.start("product", env, log_dir, core)
        baseline = await servers.start(
            "baseline",
            {**env, "BENCHMARK_BASELINE": "true", "BENCHMARK_BASELINE_WITHOUT_DEBUG": "true"},
            log_dir,
            core,
        )
        endpoints = {
            "product": (product_endpoint(product, tokens), product),
            "baseline": (baseline_endpoint(baseline), baseline),
        }
        if "streams" in parts:
            results["streams"] = await run_ladder(endpoints, servers.idle_rss, audio, options)
        if "handshakes" in parts:
            results["handshakes"] = await run_handshake_rounds(endpoints, options)
        if "rest" in parts:
            results["rest"] = await run_rest_rounds(product, env, issuer, options)
        servers.stop("product")
        servers.stop("baseline")

    if "transcription" in parts:
        server = await servers.start(
            "pocketsphinx", {**env, "TRANSCRIPTION_ENGINE": "pocketsphinx"}, log_dir, core
        )
        steps = sorted(n for n in options.transcription_steps if n <= options.max_transcribed_streams)
        results["transcription"] = await run_transcription_ladder(
            product_endpoint(server, tokens), server.pid, servers.idle_rss["pocketsphinx"], audio,
            steps, options.transcription_timing,
        )
        servers.stop("pocketsphinx")


def product_endpoint(server: BenchServer, tokens: TokenPool) -> StreamEndpoint:
    return StreamEndpoint(
        name=server.name, url=f"{server.ws_url}/ws/audio/{STREAM_QUERY}", token_for=tokens.token_for
    )


def baseline_endpoint(server: BenchServer) -> StreamEndpoint:
    return StreamEndpoint(name=server.name, url=f"{server.ws_url}{BASELINE_PATH}", expects_ready=False)


def ladder_steps(options: BenchOptions) -> list[int]:
    counts = set(options.steps) | set(REPORT_POINTS)
    return sorted(n for n in counts if 0 < n <= options.max_streams)


async def run_ladder(
    endpoints: dict[str, tuple[StreamEndpoint, BenchServer]],
    idle_rss: dict[str, int],
    audio: AudioLoop,
    options: BenchOptions,
) -> list[dict]:
    """Step N up for each variant, alternating variants at each N so that noise hits both alike.

    A variant stops at its first failed step, except that the REPORT_POINTS are
    always measured.
    """
    results = []
    failed_at: dict[str, int] = {}
    for streams in ladder_steps(options):
        for name, (endpoint, server) in endpoints.items():
            if name in failed_at and streams not in REPORT_POINTS:
                continue
            await wait_until_quiet(server.pid)
            step = await run_stream_step(
                endpoint, streams, audio, server.pid, idle_rss[name], options.timing, seed=streams
            )
            results.append(step)
            ack = step["ack_latency"]
            logger.info(
                "%-8s %5d streams: p50 %s ms, p99 %s ms, server CPU %.0f%%, load generator CPU %.0f%%, %s",
                name, streams, ack["p50_ms"], ack["p99_ms"], 100 * step["server_cpu_fraction"],
                100 * step["load_generator_cpu_fraction"], "pass" if step["passed"] else "FAIL",
            )
            if not step["passed"]:
                failed_at.setdefault(name, streams)
    return results


async def run_handshake_rounds(
    endpoints: dict[str, tuple[StreamEndpoint, BenchServer]], options: BenchOptions
) -> list[dict]:
    results = []
    for round_number in range(options.rounds):
        for name, (endpoint, server) in endpoints.items():
            await wait_until_quiet(server.pid)
            result = await measure_handshakes(
                endpoint, server.pid, options.phase_seconds, options.handshake_concurrency
            )
            result["round"] = round_number
            results.append(result)
            logger.info("%-8s handshakes: %.0f/s", name, result["per_second"])
    return results


def login_local_user(server: BenchServer, username: str, password: str) -> str:
    response = httpx.post(
        f"{server.daphne.http_url}/auth/login",
        json={"username": username, "password": password},
        timeout=30.0,
    )
    if response.status_code != 200:
        raise RuntimeError(f"POST /auth/login returned HTTP {response.status_code}: {response.text[:200]}")
    return response.json()["access"]


async def run_rest_rounds(
    server: BenchServer, env: dict[str, str], issuer: LocalIssuer, options: BenchOptions
) -> list[dict]:
    """Measure GET /health, and GET /auth/me with a local and with an Auth0 token, in alternation."""
    password = secrets.token_urlsafe(24)
    await asyncio.to_thread(database.create_local_user, env, REST_USERNAME, password)
    local_token = await asyncio.to_thread(login_local_user, server, REST_USERNAME, password)
    auth0_token = issuer.mint(REST_AUTH0_SUBJECT)
    targets = [
        ("health", "/health", {}),
        ("me_local", "/auth/me", {"Authorization": f"Bearer {local_token}"}),
        ("me_auth0", "/auth/me", {"Authorization": f"Bearer {auth0_token}"}),
    ]
    results = []
    for round_number in range(options.rounds):
        for label, path, headers in targets:
            await wait_until_quiet(server.pid)
            result = await measure_requests(
                label, server.port, path, headers, server.pid, options.phase_seconds, options.rest_concurrency
            )
            result["round"] = round_number
            results.append(result)
            logger.info("%-8s GET %s: %.0f/s", label, path, result["per_second"])
    return results
