"""ASGI entry point: HTTP goes to Django, WebSockets through the security stack.

A WebSocket handshake passes the origin check first (HTTP 403 for an origin not
in WEBSOCKET_ALLOWED_ORIGINS), then Auth0 authentication (an Error frame and
close 4401, 4403 or 1013 on failure), and only then reaches the URL router.

With BENCHMARK_BASELINE (see bench/baseline.py), ``/ws/baseline/`` bypasses
that stack for the benchmark's reference consumer. It is off by default.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config.close_codes import allow_server_close_codes  # noqa: E402

from streaming.auth import WebSocketAuthMiddleware  # noqa: E402
from streaming.routing import websocket_urlpatterns  # noqa: E402
from streaming.security import OriginCheckMiddleware  # noqa: E402

allow_server_close_codes()

websocket_app = OriginCheckMiddleware(WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns)))

if os.environ.get("BENCHMARK_BASELINE"):
    from bench.baseline import baseline_route_enabled, with_baseline_route

    if baseline_route_enabled(os.environ, settings.DEBUG):
        websocket_app = with_baseline_route(websocket_app)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_app,
    }
)
