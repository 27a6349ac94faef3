from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who streams audio, signed in with a local password or through Auth0."""

    auth0_sub = models.CharField(
        "Auth0 subject",
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text="The sub claim of this user's Auth0 tokens.",
    )
    tokens_valid_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Tokens issued before this moment are rejected (set by logout from all devices).",
    )
    monthly_audio_quota_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Audio seconds this user may stream per month; empty uses the service default.",
    )
