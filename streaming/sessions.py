"""Database operations on stream sessions and usage. Blocking: call through config.database.database_async."""

from __future__ import annotations

import datetime
import logging
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from streaming.audio.format import AudioFormat
from streaming.engines.base import TranscriptResult
from streaming.models import MonthlyUsage, StreamSession, TranscriptSegment
from streaming.protocol import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, StreamError

logger = logging.getLogger(__name__)


def month_start(moment: datetime.datetime | None = None) -> datetime.date:
    moment = moment or timezone.now()
    return moment.date().replace(day=1)


def count_live_streams(user, stale_after_seconds: float) -> int:
    """Count the user's streams that are active and were seen recently.

    A stream whose process died without closing it stays ``active`` in the
    database. The age of its last heartbeat sets it apart from a live one.
    """
    seen_since = timezone.now() - timedelta(seconds=stale_after_seconds)
    return StreamSession.objects.filter(
        user=user, status=StreamSession.Status.ACTIVE, last_seen_at__gte=seen_since
    ).count()


def create_session(user, fmt: AudioFormat, language: str, engine: str, owner: str) -> StreamSession:
    return StreamSession.objects.create(
        user=user,
        language=language,
        encoding=fmt.encoding,
        sample_rate=fmt.sample_rate,
        channels=fmt.channels,
        engine=engine,
        owner_channel=owner,
    )


def find_resumable(user, stream_id: str, window_seconds: int) -> StreamSession:
    """Return the user's stream to resume, or raise StreamError naming why it cannot be."""
    try:
        session = StreamSession.objects.get(id=uuid.UUID(stream_id))
    except (ValueError, StreamSession.DoesNotExist):
        raise StreamError(
            "stream_not_found",
            f"stream_id {stream_id[:64]!r} does not name a stream that can be resumed; "
            "start a new stream without stream_id",
            CLOSE_NOT_FOUND,
        ) from None
    if session.user_id != user.pk:
        raise StreamError(
            "forbidden", "this stream belongs to another user", CLOSE_FORBIDDEN
        )
    last_seen = session.ended_at or session.last_seen_at
    expired = timezone.now() - last_seen > timedelta(seconds=window_seconds)
    if session.status in (StreamSession.Status.COMPLETED, StreamSession.Status.FAILED) or expired:
        raise StreamError(
            "stream_not_found",
            f"stream {stream_id} has ended or its resume window of {window_seconds} s has "
            "passed; start a new stream",
            CLOSE_NOT_FOUND,
        )
    return session


def claim(session_id, owner: str) -> None:
    """Attach the stream to a new connection and drop the provisional transcript."""
    with transaction.atomic():
        StreamSession.objects.filter(id=session_id).update(
            status=StreamSession.Status.ACTIVE,
            owner_channel=owner,
            ended_at=None,
            last_seen_at=timezone.now(),
        )
        TranscriptSegment.objects.filter(stream_id=session_id, provisional=True).delete()


def owner_of(session_id) -> tuple[str, str]:
    session = StreamSession.objects.only("status", "owner_channel").get(id=session_id)
    return session.status, session.owner_channel


def final_segment_count(session_id) -> int:
    return TranscriptSegment.objects.filter(stream_id=session_id, provisional=False).count()


def add_segment(session_id, index: int, result: TranscriptResult, provisional: bool) -> None:
    TranscriptSegment.objects.update_or_create(
        stream_id=session_id,
        index=index,
        defaults={
            "text": result.text,
            "confidence": result.confidence,
            "start": result.start,
            "end": result.end,
            "provisional": provisional,
        },
    )


def record_progress(session_id, stored_bytes: int, audio_seconds: float) -> None:
    """Store the stream's progress and add its new audio seconds to the monthly usage.

    Usage grows by the difference to what was counted before, inside one
    transaction that locks the stream's row. So every audio second is counted
    once, however often this runs and on whichever process.
    """
    with transaction.atomic():
        session = StreamSession.objects.select_for_update().get(id=session_id)
        delta = max(0.0, audio_seconds - session.usage_counted_seconds)
        session.bytes = max(session.bytes, stored_bytes)
        session.audio_seconds = max(session.audio_seconds, audio_seconds)
        session.usage_counted_seconds += delta
        session.last_seen_at = timezone.now()
        session.save(
            update_fields=["bytes", "audio_seconds", "usage_counted_seconds", "last_seen_at"]
        )
        if delta:
            usage, _ = MonthlyUsage.objects.get_or_create(user_id=session.user_id, month=month_start())
            MonthlyUsage.objects.filter(pk=usage.pk).update(audio_seconds=F("audio_seconds") + delta)


def finish(session_id, status: str, close_code: int, reason: str, owner: str) -> StreamSession:
    """Mark the stream ended by the connection ``owner`` and store its final transcript.

    A connection that was taken over no longer owns the stream and leaves its
    state alone.
    """
    with transaction.atomic():
        session = StreamSession.objects.select_for_update().get(id=session_id)
        if session.owner_channel != owner:
            return session
        session.status = status
        session.close_code = close_code
        session.close_reason = reason[:64]
        session.ended_at = timezone.now()
        session.owner_channel = ""
        session.transcript = " ".join(
            segment.text for segment in session.segments.order_by("index") if segment.text
        )
        session.save()
    return session


def monthly_usage_seconds(user) -> float:
    usage = MonthlyUsage.objects.filter(user=user, month=month_start()).first()
    return usage.audio_seconds if usage else 0.0


def quota_seconds(user, default_quota: int) -> int | None:
    """Return the user's monthly quota in seconds, or None when it is unlimited.

    A per-user value overrides the default; a default of 0 means unlimited.
    """
    if user.monthly_audio_quota_seconds is not None:
        return user.monthly_audio_quota_seconds
    return default_quota or None
