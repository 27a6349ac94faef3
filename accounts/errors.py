"""DRF exception handler that renders every API error as ``{"error": code, "detail": message}``.

The code is the exception's DRF code (``token_expired``, ``auth_unavailable``,
``throttled`` and so on). Validation errors add ``fields``. The message is
the exception's own detail, never the text of an unexpected exception, so
library messages and tokens do not reach clients. DRF's ``Retry-After`` and
``WWW-Authenticate`` headers are kept.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

TOKEN_ERROR_CODES = frozenset({"token_invalid", "token_expired", "token_revoked"})
# Codes of other libraries, renamed to this API's codes.
CODE_ALIASES = {
    "token_not_valid": "token_invalid",
    "user_not_found": "token_revoked",
    "user_inactive": "token_revoked",
    "invalid": "validation_error",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Render ``exc`` as an error response. Unexpected exceptions become a logged 500."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return _server_error(exc, context)
    code = _error_code(exc)
    response.data = {"error": code, "detail": _error_detail(exc, code)}
    if isinstance(exc, exceptions.ValidationError):
        response.data["fields"] = _field_errors(exc.detail)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        # DRF truncates the wait to whole seconds, which can give 0.
        response["Retry-After"] = str(math.ceil(exc.wait))
    if code in TOKEN_ERROR_CODES and response.status_code == status.HTTP_401_UNAUTHORIZED:
        # RFC 6750 names a rejected bearer token error="invalid_token".
        response["WWW-Authenticate"] = 'Bearer realm="api", error="invalid_token"'
    return response


def _error_code(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "validation_error"
    detail = exc.detail
    if isinstance(detail, dict) and isinstance(detail.get("code"), str):
        code = detail["code"]
    elif isinstance(detail, exceptions.ErrorDetail):
        code = detail.code
    else:
        code = exc.default_code
    return CODE_ALIASES.get(code, code or "error")


def _error_detail(exc: exceptions.APIException, code: str) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "The request data is invalid."
    if isinstance(exc, exceptions.Throttled):
        if exc.wait is None:
            return "Too many requests. Try again later."
        return f"Too many requests. Try again in {math.ceil(exc.wait)} seconds."
    if isinstance(exc.detail, str):
        return str(exc.detail)
    # Dicts and lists come from other libraries and can carry their messages.
    return str(exc.default_detail)


def _field_errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {field: _messages(value) for field, value in detail.items()}
    return {"non_field_errors": _messages(detail)}


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return [message for item in value for message in _messages(item)]
    if isinstance(value, dict):
        return [message for item in value.values() for message in _messages(item)]
    return [str(value)]


def _server_error(exc: Exception, context: dict[str, Any]) -> Response:
    set_rollback()
    view = context.get("view")
    logger.error(
        "Unhandled %s in %s", type(exc).__name__, type(view).__name__, exc_info=exc
    )
    return Response(
        {"error": "server_error", "detail": "An internal error occurred."},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
