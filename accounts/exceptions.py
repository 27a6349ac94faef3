"""API errors raised by the accounts app, each with the code that clients match on."""

from rest_framework import status
from rest_framework.exceptions import APIException, AuthenticationFailed


class TokenInvalid(AuthenticationFailed):
    default_detail = "The token is invalid."
    default_code = "token_invalid"


class TokenExpired(AuthenticationFailed):
    default_detail = "The token has expired."
    default_code = "token_expired"


class TokenRevoked(AuthenticationFailed):
    default_detail = "The token has been revoked."
    default_code = "token_revoked"


class InvalidCredentials(AuthenticationFailed):
    default_detail = "The username or password is incorrect."
    default_code = "invalid_credentials"


class ForeignRefreshToken(APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "The refresh token belongs to another user."
    default_code = "permission_denied"
