"""Bad input and limits: each gets an Error with its code, and stored audio is kept."""

from __future__ import annotations

import asyncio
import json

import pytest

from streaming.tests.live import (
    download_recording,
    format_params,
    load_audio,
    open_stream,
    read_until_close,
    run,
    wait_for_message,
)

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(daphne_factory, auth0_issuer):
    return daphne_factory(env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none"})


@pytest.fixture
def token(auth0_issuer):
    return auth0_issuer.mint("auth0|limits")


def rejected(server, token, **params) -> tuple[dict, int, list[dict]]:
    async def attempt():
        socket, first = await open_stream(server, token, **params)
        rest = await read_until_close(socket)
        return first, socket.close_code, rest

    return run(attempt())


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"encoding": "opus"}, "encoding"),
        ({"sample_rate": "7000"}, "sample_rate"),
        ({"sample_rate": "sixteen"}, "sample_rate"),
        ({"channels": "3"}, "channels"),
        ({"encoding": "mulaw", "sample_rate": "16000"}, "sample_rate"),
    ],
)
def test_invalid_parameter_rejected(server, token, params, parameter):
    first, close_code, _ = rejected(server, token, **params)
    assert first["type"] == "Error"
    assert first["code"] == "invalid_parameter"
    assert first["message"].startswith(parameter)
    assert close_code == 4400


def test_language_rejected_by_engine(daphne_factory, auth0_issuer):
    server = daphne_factory(env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "pocketsphinx"})
    first, close_code, _ = rejected(server, auth0_issuer.mint("auth0|lang"), language="de")
    assert first["code"] == "invalid_parameter"
    assert "en" in first["message"]
    assert close_code == 4400


def test_recoverable_errors_keep_stream_open(server, token):
    async def scenario():
        socket, ready = await open_stream(server, token)
        replies = []
        for frame in (b"", "not json", json.dumps({"type": "Dance"}), json.dumps([1, 2])):
            await socket.send(frame)
            replies.append(await wait_for_message(socket, "Error"))
        await socket.send(b"\x01\x00" * 160)
        ack = await wait_for_message(socket, "Ack")
        await socket.send(json.dumps({"type": "CloseStream"}))
        rest = await read_until_close(socket)
        return replies, ack, rest, socket.close_code

    replies, ack, rest, close_code = run(scenario())
    assert [reply["code"] for reply in replies] == [
        "empty_frame", "invalid_json", "unknown_message_type", "invalid_message",
    ]
    assert ack["bytes"] == 320
    assert rest[-1]["type"] == "Summary"
    assert close_code == 1000


def test_partial_sample_carries_over(server, token):
    async def scenario():
        socket, ready = await open_stream(server, token)
        await socket.send(b"\x01\x02\x03")
        first = await wait_for_message(socket, "Ack")
        await socket.send(b"\x04")
        second = await wait_for_message(socket, "Ack")
        await socket.send(json.dumps({"type": "CloseStream"}))
        await read_until_close(socket)
        return ready["stream_id"], first, second

    stream_id, first, second = run(scenario())
    assert first["bytes"] == 2
    assert second["bytes"] == 4
    _, stored = download_recording(server, token, stream_id)
    assert stored == b"\x01\x02\x03\x04"


def test_oversized_frame_closes_keeping_audio(server, token):
    audio_format, audio = load_audio("brooklyn-bridge-16k.wav")

    async def scenario():
        socket, ready = await open_stream(server, token, **format_params(audio_format))
        await socket.send(audio[:3200])
        await wait_for_message(socket, "Ack")
        await socket.send(audio[3200 : 3200 + 32002])
        rest = await read_until_close(socket)
        return ready["stream_id"], rest, socket.close_code

    stream_id, rest, close_code = run(scenario())
    assert rest[-1]["code"] == "frame_too_large"
    assert "32000" in rest[-1]["message"]
    assert close_code == 4413
    _, stored = download_recording(server, token, stream_id)
    assert stored == audio[:3200]


def test_idle_stream_closed(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none", "STREAM_IDLE_TIMEOUT_SECONDS": "1.5"}
    )

    async def scenario():
        socket, _ = await open_stream(server, auth0_issuer.mint("auth0|idle"))
        started = asyncio.get_running_loop().time()
        await asyncio.sleep(1.0)
        await socket.send(json.dumps({"type": "KeepAlive"}))
        rest = await read_until_close(socket)
        return rest, socket.close_code, asyncio.get_running_loop().time() - started

    rest, close_code, elapsed = run(scenario())
    assert rest[-1]["code"] == "idle_timeout"
    assert close_code == 4408
    # The KeepAlive at 1 s postponed the timeout to about 2.5 s.
    assert elapsed > 2.0


def test_max_duration_ends_with_summary(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none", "STREAM_MAX_DURATION_SECONDS": "0.5"}
    )
    token = auth0_issuer.mint("auth0|long-meeting")
    audio_format, audio = load_audio("brooklyn-bridge-16k.wav")

    async def scenario():
        socket, ready = await open_stream(server, token, **format_params(audio_format))
        for start in range(0, 32000, 3200):
            await socket.send(audio[start : start + 3200])
        rest = await read_until_close(socket)
        return ready["stream_id"], rest, socket.close_code

    stream_id, rest, close_code = run(scenario())
    errors = [message for message in rest if message["type"] == "Error"]
    assert errors[0]["code"] == "max_duration"
    assert rest[-1]["type"] == "Summary"
    assert rest[-1]["bytes"] == 16000
    assert close_code == 4408
    _, stored = download_recording(server, token, stream_id)
    assert stored == audio[:16000]


def test_concurrent_stream_limit(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none", "STREAM_MAX_CONCURRENT_PER_USER": "2"}
    )
    token = auth0_issuer.mint("auth0|many-tabs")

    async def scenario():
        open_sockets = [await open_stream(server, token) for _ in range(2)]
        third, first_message = await open_stream(server, token)
        await read_until_close(third)
        for socket, _ in open_sockets:
            await socket.close()
        return first_message, third.close_code, [ready["type"] for _, ready in open_sockets]

    first_message, close_code, readies = run(scenario())
    assert readies == ["Ready", "Ready"]
    assert first_message["code"] == "too_many_streams"
    assert close_code == 4429


def test_flood_rate_limited(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env={
            **auth0_issuer.env(),
            "TRANSCRIPTION_ENGINE": "none",
            "STREAM_RATE_LIMIT_FACTOR": "2",
            "STREAM_RATE_BURST_SECONDS": "2",
        }
    )
    token = auth0_issuer.mint("auth0|flood")
    frame = b"\x00\x01" * 1600

    async def scenario():
        socket, ready = await open_stream(server, token)
        sent = 0
        try:
            for _ in range(200):
                await socket.send(frame)
                sent += len(frame)
        except Exception:  # noqa: BLE001  (the server closes while frames are in flight)
            pass
        rest = await read_until_close(socket)
        return ready["stream_id"], rest, socket.close_code, sent

    stream_id, rest, close_code, sent = run(scenario())
    errors = [message for message in rest if message["type"] == "Error"]
    assert errors[-1]["code"] == "rate_limited"
    assert close_code == 4429
    acks = [message["bytes"] for message in rest if message["type"] == "Ack"]
    _, stored = download_recording(server, token, stream_id)
    assert len(stored) >= max(acks)
    assert stored == frame * (len(stored) // len(frame))


def test_monthly_quota(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none", "STREAM_MONTHLY_QUOTA_SECONDS": "1"}
    )
    token = auth0_issuer.mint("auth0|quota")
    audio_format, audio = load_audio("brooklyn-bridge-16k.wav")

    async def scenario():
        socket, ready = await open_stream(server, token, **format_params(audio_format))
        for start in range(0, len(audio), 3200):
            await socket.send(audio[start : start + 3200])
        rest = await read_until_close(socket)
        again, rejection = await open_stream(server, token)
        await read_until_close(again)
        return rest, socket.close_code, rejection, again.close_code

    rest, close_code, rejection, rejection_close_code = run(scenario())
    errors = [message for message in rest if message["type"] == "Error"]
    assert errors[0]["code"] == "quota_exceeded"
    assert rest[-1]["type"] == "Summary"
    assert rest[-1]["audio_seconds"] == 1.0
    assert close_code == 4429
    assert rejection["code"] == "quota_exceeded"
    assert rejection_close_code == 4429


def test_engine_limit_records_without_transcripts(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "pocketsphinx", "TRANSCRIPTION_MAX_STREAMS": "1"}
    )
    first_token = auth0_issuer.mint("auth0|first-caller")
    second_token = auth0_issuer.mint("auth0|second-caller")

    async def scenario():
        first, first_ready = await open_stream(server, first_token)
        second, second_ready = await open_stream(server, second_token)
        warning = await wait_for_message(second, "Warning")
        await second.send(b"\x00\x00" * 800)
        ack = await wait_for_message(second, "Ack")
        for socket in (first, second):
            await socket.send(json.dumps({"type": "CloseStream"}))
            await read_until_close(socket)
        third, third_ready = await open_stream(server, second_token)
        await third.send(json.dumps({"type": "CloseStream"}))
        third_messages = await read_until_close(third)
        return first_ready, second_ready, warning, ack, third_ready, third_messages

    first_ready, second_ready, warning, ack, third_ready, third_messages = run(scenario())
    assert first_ready["type"] == "Ready"
    assert second_ready["type"] == "Ready"
    assert warning["code"] == "transcription_unavailable"
    assert ack["bytes"] == 1600
    # Both slots were released, so a later stream is transcribed again.
    assert third_ready["type"] == "Ready"
    assert all(message["type"] != "Warning" for message in third_messages)
