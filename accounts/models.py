from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken


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


class RevokedToken(models.Model):
    """A revoked token, or a revoked refresh-token family, kept until the token expires.

    Access tokens and Auth0 tokens are checked against this table on every request.
    Revoked refresh tokens also get a row here, next to their BlacklistedToken row,
    so that the admin lists every revocation with its reason.
    """

    class TokenType(models.TextChoices):
        ACCESS = "access", "Local access token"
        REFRESH = "refresh", "Local refresh token"
        AUTH0 = "auth0", "Auth0 access token"
        FAMILY = "family", "Every token of one login"

    revocation_id = models.CharField(
        max_length=255,
        unique=True,
        help_text="The jti of a local token, the revocation id of an Auth0 token, "
        "or family:<id> for every token descended from one login.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="revoked_tokens",
    )
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    issued_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        db_index=True, help_text="The row can be purged after this moment."
    )
    revoked_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=32)

    class Meta:
        ordering = ("-revoked_at",)

    def __str__(self) -> str:
        return f"{self.get_token_type_display()} {self.revocation_id} ({self.reason})"


class TokenFamilyMember(models.Model):
    """Links an outstanding refresh token to the family of tokens rotated from one login."""

    token = models.OneToOneField(
        OutstandingToken,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="family_member",
    )
    family_id = models.CharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"{self.token.jti} in family {self.family_id}"
