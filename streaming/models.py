import uuid

from django.conf import settings
from django.db import models


class StreamSession(models.Model):
    """One audio stream: its format, its state and what it has stored so far."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INTERRUPTED = "interrupted", "Interrupted (can be resumed)"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="streams"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    language = models.CharField(max_length=16)
    encoding = models.CharField(max_length=16)
    sample_rate = models.PositiveIntegerField()
    channels = models.PositiveSmallIntegerField()
    engine = models.CharField(max_length=32)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    bytes = models.BigIntegerField(default=0, help_text="Audio bytes durably stored.")
    audio_seconds = models.FloatField(default=0.0)
    usage_counted_seconds = models.FloatField(
        default=0.0, help_text="Audio seconds already added to the monthly usage."
    )
    close_code = models.PositiveIntegerField(null=True, blank=True)
    close_reason = models.CharField(max_length=64, blank=True)
    transcript = models.TextField(blank=True)
    # Channel name of the connection that currently owns the stream, so that a
    # reconnecting client can take it over from a half-open connection.
    owner_channel = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        return f"stream {self.id} ({self.status})"


class TranscriptSegment(models.Model):
    """A final transcript result of a stream, in the order the engine produced it."""

    stream = models.ForeignKey(StreamSession, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    text = models.TextField()
    confidence = models.FloatField()
    start = models.FloatField()
    end = models.FloatField()
    # Produced by flushing the engine when a connection dropped mid-utterance; a
    # resumed stream replaces it with the result of the whole utterance.
    provisional = models.BooleanField(default=False)

    class Meta:
        ordering = ["stream", "index"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "index"], name="unique_segment_index")
        ]


class MonthlyUsage(models.Model):
    """Audio seconds a user streamed in one calendar month (UTC)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="monthly_usage"
    )
    month = models.DateField(help_text="The first day of the month.")
    audio_seconds = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "month"], name="unique_usage_month")
        ]
