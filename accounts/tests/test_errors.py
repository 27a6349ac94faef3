from django.http import Http404
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.authentication import LocalJWTAuthentication


class AuthUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The identity provider cannot be reached."
    default_code = "auth_unavailable"


class Body(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField(min_value=1)


def respond_with(exc: Exception | None = None, body: dict | None = None):
    class RaisingView(APIView):
        authentication_classes = [LocalJWTAuthentication]
        permission_classes = [AllowAny]

        def post(self, request):
            if body is not None:
                Body(data=request.data).is_valid(raise_exception=True)
            raise exc

    request = APIRequestFactory().post("/", body or {}, format="json")
    response = RaisingView.as_view()(request)
    response.render()
    return response


def test_custom_auth_code_kept():
    response = respond_with(AuthenticationFailed("The token has expired.", code="token_expired"))

    assert response.status_code == 401
    assert response.data == {"error": "token_expired", "detail": "The token has expired."}
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_auth_unavailable_is_503():
    response = respond_with(AuthUnavailable())

    assert response.status_code == 503
    assert response.data == {
        "error": "auth_unavailable",
        "detail": "The identity provider cannot be reached.",
    }


def test_throttled_keeps_retry_after():
    response = respond_with(Throttled(wait=12.2))

    assert response.status_code == 429
    assert response.data["error"] == "throttled"
    assert response["Retry-After"] == "13"


def test_validation_error_lists_fields():
    response = respond_with(body={"name": "", "count": 0})

    assert response.status_code == 400
    assert response.data["error"] == "validation_error"
    assert set(response.data["fields"]) == {"name", "count"}
    assert all(isinstance(m, str) for m in response.data["fields"]["count"])


def test_not_found_shape():
    response = respond_with(Http404("secret internal path"))

    assert response.status_code == 404
    assert response.data["error"] == "not_found"
    assert "secret" not in response.data["detail"]


def test_simplejwt_messages_dropped():
    response = respond_with(InvalidToken({"detail": "x", "messages": [{"token": "eyJ..."}]}))

    assert response.status_code == 401
    assert response.data["error"] == "token_invalid"
    assert "messages" not in response.data
    assert "eyJ" not in str(response.data)


def test_unexpected_error_is_generic_500(caplog):
    response = respond_with(ValueError("connection string postgres://u:p@db/x"))

    assert response.status_code == 500
    assert response.data == {"error": "server_error", "detail": "An internal error occurred."}
    assert any(r.levelname == "ERROR" and r.name == "accounts.errors" for r in caplog.records)

