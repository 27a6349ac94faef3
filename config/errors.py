"""JSON bodies for errors that Django returns before any API view runs (unknown URLs, crashes)."""

from django.http import JsonResponse


def not_found(request, exception=None):
    return JsonResponse(
        {
            "error": "not_found",
            "detail": f"No endpoint at {request.path[:200]}; check the URL, including whether "
            "it ends with a slash (see docs/protocol.md and docs/accounts.md).",
        },
        status=404,
    )


def server_error(request):
    return JsonResponse(
        {"error": "server_error", "detail": "The server failed to handle the request; retry later."},
        status=500,
    )
