"""DRF authentication for Auth0 access tokens sent as ``Authorization: Bearer <token>``."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.auth0.errors import AuthError, AuthUnavailableError, ForbiddenError
from accounts.auth0.users import load_user
from accounts.auth0.verification import MAX_TOKEN_BYTES, get_verifier, is_auth0_token
from accounts.authentication import read_bearer_token


class AuthUnavailable(exceptions.APIException):
    """503: Auth0 tokens cannot be verified because no signing keys are available."""

    status_code = AuthUnavailableError.http_status
    default_detail = AuthUnavailableError.default_message
    default_code = AuthUnavailableError.code


class Auth0Authentication(BaseAuthentication):
    """Authenticate requests whose bearer token claims the configured Auth0 issuer.

    Returns None for a request without a bearer token or with another issuer's
    token, so that the other authentication classes handle it. An Auth0 token
    that fails any check raises, and so does a token longer than
    ``MAX_TOKEN_BYTES``, whose issuer is not read. On success ``request.auth``
    is a ``VerifiedToken``.
    """

    def authenticate(self, request: Request):
        token = read_bearer_token(request)
        if token is None:
            return None
        if len(token) <= MAX_TOKEN_BYTES and not is_auth0_token(token):
            return None

        try:
            verified = get_verifier().verify(token)
            user = load_user(verified)
        except AuthUnavailableError as exc:
            raise AuthUnavailable(exc.message) from exc
        except ForbiddenError as exc:
            raise exceptions.PermissionDenied(exc.message, code=exc.code) from exc
        except AuthError as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        return user, verified

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

