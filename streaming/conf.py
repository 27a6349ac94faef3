"""Stream settings, read from django.conf.settings at call time so tests can override them."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class StreamLimits:
    resume_window_seconds: int
    max_frame_seconds: float
    idle_timeout_seconds: float
    max_duration_seconds: float
    max_concurrent_per_user: int
    rate_limit_factor: float
    rate_burst_seconds: float
    engine_backlog_seconds: float
    write_backlog_seconds: float
    monthly_quota_seconds: int
    heartbeat_seconds: float


def stream_limits() -> StreamLimits:
    return StreamLimits(
        resume_window_seconds=settings.STREAM_RESUME_WINDOW_SECONDS,
        max_frame_seconds=settings.STREAM_MAX_FRAME_SECONDS,
        idle_timeout_seconds=settings.STREAM_IDLE_TIMEOUT_SECONDS,
        max_duration_seconds=settings.STREAM_MAX_DURATION_SECONDS,
        max_concurrent_per_user=settings.STREAM_MAX_CONCURRENT_PER_USER,
        rate_limit_factor=settings.STREAM_RATE_LIMIT_FACTOR,
        rate_burst_seconds=settings.STREAM_RATE_BURST_SECONDS,
        engine_backlog_seconds=settings.STREAM_ENGINE_BACKLOG_SECONDS,
        write_backlog_seconds=settings.STREAM_WRITE_BACKLOG_SECONDS,
        monthly_quota_seconds=settings.STREAM_MONTHLY_QUOTA_SECONDS,
        heartbeat_seconds=settings.STREAM_HEARTBEAT_SECONDS,
    )


def engine_name() -> str:
    return settings.TRANSCRIPTION_ENGINE


def engine_workers() -> int:
    return settings.TRANSCRIPTION_WORKERS


def engine_max_streams() -> int:
    return settings.TRANSCRIPTION_MAX_STREAMS
