"""Request and response bodies of the /auth/ endpoints."""

from __future__ import annotations

from rest_framework import serializers


class LoginSerializer(serializers.Serializer):
    """A login by ``username`` or ``email`` (either may contain an email address)."""

    username = serializers.CharField(required=False, max_length=254, trim_whitespace=True)
    email = serializers.CharField(required=False, max_length=254, trim_whitespace=True)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("username") and not attrs.get("email"):
            raise serializers.ValidationError(
                {"username": ["Give a username or an email address."]}
            )
        return attrs

    @property
    def identifier(self) -> tuple[str, bool]:
        """Return the identifier and whether it came from the ``email`` field."""
        data = self.validated_data
        if data.get("username"):
            return data["username"], False
        return data["email"], True


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, trim_whitespace=True)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(
        required=False, allow_blank=True, max_length=4096, trim_whitespace=True
    )
