"""The /auth/ endpoints: login, refresh, logout, logout everywhere, and who am I."""

from __future__ import annotations

import logging

from django.contrib.auth.models import update_last_login
from django.db import transaction
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.authentication import BEARER_CHALLENGE
from accounts.credentials import check_credentials
from accounts.exceptions import ForeignRefreshToken, TokenExpired, TokenInvalid
from accounts.identity import VerifiedToken
from accounts.models import RevokedToken
from accounts.revocation import (
    blacklist_refresh_token,
    revoke_all_tokens,
    revoke_family,
    revoke_token,
)
from accounts.rotation import rotate_refresh_token
from accounts.serializers import LoginSerializer, LogoutSerializer, RefreshSerializer
from accounts.throttling import LOGIN_THROTTLES, REFRESH_THROTTLES
from accounts.tokens import (
    FAMILY_CLAIM,
    LocalRefreshToken,
    TokenPair,
    decode_refresh_token,
    issue_token_pair,
    subject,
)

logger = logging.getLogger(__name__)

LOGOUT = "logout"
LOGOUT_ALL = "logout_all"


def _pair_body(pair: TokenPair) -> dict:
    return {
        "access": pair.access,
        "refresh": pair.refresh,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
    }


class TokenEndpoint(APIView):
    """A public endpoint that takes credentials in the body, not in a header."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # Without a challenge DRF would turn 401 responses into 403.
        return BEARER_CHALLENGE


class LoginView(TokenEndpoint):
    throttle_classes = LOGIN_THROTTLES

    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identifier, by_email = serializer.identifier
        password = serializer.validated_data["password"]
        user = check_credentials(request, identifier, password, by_email=by_email)
        pair = issue_token_pair(user)
        if jwt_settings.api_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, user)
        logger.info("Login succeeded for user %s", user.pk)
        return Response(_pair_body(pair))


class RefreshView(TokenEndpoint):
    throttle_classes = REFRESH_THROTTLES

    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = rotate_refresh_token(serializer.validated_data["refresh"])
        return Response(_pair_body(pair))


class LogoutView(APIView):
    """Revoke the presented access token, its login family, and the refresh token in the body."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refresh = _owned_refresh_token(request, serializer.validated_data.get("refresh"))
        identity: VerifiedToken = request.auth
        with transaction.atomic():
            _revoke_presented_token(request.user, identity)
            families = {identity.claims.get(FAMILY_CLAIM)} if identity.method == "local" else set()
            if refresh is not None:
                _blacklist(refresh)
                families.add(refresh[FAMILY_CLAIM])
            for family_id in families - {None}:
                revoke_family(request.user, family_id, LOGOUT)
        logger.info("Logout of user %s (%s token)", request.user.pk, identity.method)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _owned_refresh_token(request: Request, encoded: str | None) -> LocalRefreshToken | None:
    """Return the body's refresh token after checking that it belongs to the caller.

    An expired token is skipped, because it can no longer be used anyway.
    """
    if not encoded:
        return None
    try:
        token = decode_refresh_token(encoded)
    except TokenExpired:
        return None
    except TokenInvalid as exc:
        raise serializers.ValidationError(
            {"refresh": ["The refresh token is invalid."]}, code="token_invalid"
        ) from exc
    if subject(token) != str(request.user.pk):
        logger.warning(
            "User %s tried to log out a refresh token of user %s", request.user.pk, subject(token)
        )
        raise ForeignRefreshToken()
    return token


def _revoke_presented_token(user, identity: VerifiedToken) -> None:
    if identity.method == "auth0":
        token_type = RevokedToken.TokenType.AUTH0
    else:
        token_type = RevokedToken.TokenType.ACCESS
    revoke_token(
        user=user,
        revocation_id=identity.revocation_id,
        token_type=token_type,
        issued_at=identity.issued_at,
        expires_at=identity.expires_at,
        reason=LOGOUT,
    )


def _blacklist(refresh: LocalRefreshToken) -> None:
    outstanding = OutstandingToken.objects.filter(jti=refresh["jti"]).first()
    if outstanding is not None:
        blacklist_refresh_token(outstanding, LOGOUT)


class LogoutAllView(APIView):
    """Revoke every token issued to the caller so far, local and Auth0 alike."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        revoke_all_tokens(request.user, LOGOUT_ALL)
        logger.info("Logout everywhere of user %s", request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "email": user.email,
                "auth_method": getattr(request.auth, "method", None),
            }
        )
