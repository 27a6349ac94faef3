"""Liveness and readiness probes for load balancers and orchestrators."""

import asyncio
import logging
import re

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 3.0
# user:password@ in a URL, as driver messages may quote a connection string.
_CREDENTIALS = re.compile(r"//[^/@\s]*@")


def redact(message: str) -> str:
    """Return the first line of a driver message with URL credentials removed."""
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    return _CREDENTIALS.sub("//***@", first_line)[:300]


async def live(request):
    """Report that the process serves requests, touching no dependency."""
    return JsonResponse({"status": "ok"})


def _query_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


async def _round_trip_channel_layer() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "health.ping":
        raise RuntimeError("channel layer returned an unexpected message")


async def _probe(name: str, check) -> str | None:
    """Run one dependency check and return its name when it failed."""
    try:
        await asyncio.wait_for(check(), PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001  (any failure means "not ready")
        logger.warning(
            "Readiness check failed: %s (%s: %s)", name, type(exc).__name__, redact(str(exc))
        )
        return name
    return None


async def ready(request):
    """Report 200 when the database and the channel layer both respond, else 503."""
    failures = [
        failed
        for failed in (
            await _probe("database", sync_to_async(_query_database, thread_sensitive=False)),
            await _probe("channel_layer", _round_trip_channel_layer),
        )
        if failed
    ]
    if failures:
        return JsonResponse({"status": "unavailable", "failed": failures}, status=503)
    return JsonResponse({"status": "ok"})
