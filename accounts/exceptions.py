"""API errors raised by the accounts app, each with the code that clients match on."""

from rest_framework import status
from rest_framework.exceptions import APIException, AuthenticationFailed


class TokenInvalid(AuthenticationFailed):
    default_detail = "The token is invalid; sign in again with POST /auth/login."
    default_code = "token_invalid"


class TokenExpired(AuthenticationFailed):
    default_detail = "The token has expired; get a new one with POST /auth/refresh."
    default_code = "token_expired"


class TokenRevoked(AuthenticationFailed):
    default_detail = "The token has been revoked; sign in again with POST /auth/login."
    default_code = "token_revoked"


class InvalidCredentials(AuthenticationFailed):
    default_detail = "The username or password is incorrect."
    default_code = "invalid_credentials"


class ForeignRefreshToken(APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "The refresh token belongs to another user; send your own or none."
    default_code = "permission_denied"
