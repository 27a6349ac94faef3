"""ASGI entry point: HTTP goes to Django, WebSockets through the security stack.

A WebSocket handshake passes the origin check first (HTTP 403 for an origin not
in WEBSOCKET_ALLOWED_ORIGINS), then Auth0 authentication (an Error frame and
close 4401, 4403 or 1013 on failure), and only then reaches the URL router.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.close_codes import allow_server_close_codes  # noqa: E402

from streaming.auth import WebSocketAuthMiddleware  # noqa: E402
from streaming.routing import websocket_urlpatterns  # noqa: E402
from streaming.security import OriginCheckMiddleware  # noqa: E402

allow_server_close_codes()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheckMiddleware(WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
