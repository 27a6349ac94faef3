"""The stream REST API, usage metering and connection hygiene, against a live daphne."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from django.db import connection
from django.test import override_settings

from streaming.tests.live import (
    api_get,
    format_params,
    load_audio,
    open_stream,
    read_until_close,
    run,
    stream_file,
    wait_for_message,
)

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(daphne_factory, auth0_issuer):
    return daphne_factory(env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none"})


def test_streams_listed_newest_first(server, auth0_issuer):
    token = auth0_issuer.mint("auth0|lister")
    first, _ = stream_file(server, token, "brooklyn-bridge-16k.wav")
    second, _ = stream_file(server, token, "testing-123-mulaw-8k.wav")

    body = api_get(server, token, "/api/streams/").json()
    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == [second.stream_id, first.stream_id]
    assert body["results"][0]["encoding"] == "mulaw"
    assert body["results"][0]["sample_rate"] == 8000


def test_other_users_stream_not_found(server, auth0_issuer):
    owner = auth0_issuer.mint("auth0|owner")
    stranger = auth0_issuer.mint("auth0|stranger")
    outcome, _ = stream_file(server, owner, "brooklyn-bridge-16k.wav")

    for path in (f"/api/streams/{outcome.stream_id}/", f"/api/streams/{outcome.stream_id}/recording"):
        response = api_get(server, stranger, path)
        assert response.status_code == 404
    assert api_get(server, stranger, "/api/streams/").json()["count"] == 0


def test_delete_removes_stream_and_recording(server, auth0_issuer):
    token = auth0_issuer.mint("auth0|deleter")
    outcome, _ = stream_file(server, token, "brooklyn-bridge-16k.wav")
    headers = {"Authorization": f"Bearer {token}"}

    response = httpx.delete(f"{server.http_url}/api/streams/{outcome.stream_id}/", headers=headers)
    assert response.status_code == 204
    assert api_get(server, token, f"/api/streams/{outcome.stream_id}/").status_code == 404
    assert api_get(server, token, f"/api/streams/{outcome.stream_id}/recording").status_code == 404


def test_open_stream_cannot_be_deleted(server, auth0_issuer):
    token = auth0_issuer.mint("auth0|busy")

    async def scenario():
        socket, ready = await open_stream(server, token)
        response = await asyncio.to_thread(
            httpx.delete,
            f"{server.http_url}/api/streams/{ready['stream_id']}/",
            headers={"Authorization": f"Bearer {token}"},
        )
        await socket.send(json.dumps({"type": "CloseStream"}))
        await read_until_close(socket)
        return response

    response = run(scenario())
    assert response.status_code == 409
    assert response.json()["error"] == "stream_active"


def test_api_requires_authentication(server):
    response = httpx.get(f"{server.http_url}/api/streams/")
    assert response.status_code == 401
    assert response.json()["error"] in ("token_missing", "not_authenticated")


def test_usage_counted_once_across_resume(server, auth0_issuer):
    token = auth0_issuer.mint("auth0|metered")
    audio_format, audio = load_audio("brooklyn-bridge-16k.wav")
    half = 9600

    async def scenario():
        socket, ready = await open_stream(server, token, **format_params(audio_format))
        await socket.send(audio[:half])
        await wait_for_message(socket, "Ack")
        socket.transport.abort()
        resumed, again = await open_stream(server, token, stream_id=ready["stream_id"])
        for start in range(again["bytes"], len(audio), 3200):
            await resumed.send(audio[start : start + 3200])
        await resumed.send(json.dumps({"type": "CloseStream"}))
        return await read_until_close(resumed)

    messages = run(scenario())
    summary = messages[-1]
    assert summary["type"] == "Summary"
    usage = api_get(server, token, "/api/usage").json()
    assert usage["audio_seconds"] == pytest.approx(len(audio) / 32000, abs=0.001)
    assert usage["audio_seconds"] == summary["audio_seconds"]
    assert usage["quota_seconds"] is None


def test_vanished_client_marked_interrupted(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none", "STREAM_IDLE_TIMEOUT_SECONDS": "1"}
    )
    token = auth0_issuer.mint("auth0|vanished")

    async def scenario():
        socket, ready = await open_stream(server, token)
        await socket.send(b"\x00\x00" * 800)
        await wait_for_message(socket, "Ack")
        # Stop reading and sending, as a phone that lost its network does.
        socket.transport.pause_reading()
        await asyncio.sleep(3)
        socket.transport.abort()
        return ready["stream_id"]

    stream_id = run(scenario())
    detail = api_get(server, token, f"/api/streams/{stream_id}/").json()
    assert detail["status"] == "interrupted"
    assert detail["bytes"] == 1600
    assert detail["close_reason"] == "idle_timeout"
    assert api_get(server, token, "/api/usage").json()["audio_seconds"] == 0.05


@pytest.mark.postgres
def test_connections_do_not_leak_database_connections(server, auth0_issuer):
    token = auth0_issuer.mint("auth0|reconnecting")

    def backend_count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    async def connect_many(count: int) -> None:
        for _ in range(count):
            socket, ready = await open_stream(server, token)
            assert ready["type"] == "Ready"
            await socket.send(json.dumps({"type": "CloseStream"}))
            await read_until_close(socket)

    run(connect_many(10))
    before = backend_count()
    run(connect_many(200), timeout=300)
    after = backend_count()
    assert after <= before + 2


def test_deleting_user_removes_recordings(server, auth0_issuer, tmp_path):
    from accounts.models import User
    from streaming.models import StreamSession

    token = auth0_issuer.mint("auth0|leaving")
    outcome, _ = stream_file(server, token, "brooklyn-bridge-16k.wav")
    recording = tmp_path / "media" / "recordings" / f"{outcome.stream_id}.wav"
    assert recording.is_file()

    with override_settings(MEDIA_ROOT=tmp_path / "media"):
        User.objects.get(auth0_sub="auth0|leaving").delete()

    assert not StreamSession.objects.filter(id=outcome.stream_id).exists()
    assert not recording.exists()
