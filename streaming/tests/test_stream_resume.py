"""Dropped connections, killed servers and takeovers lose no audio and no transcript."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

from client.stream import AudioStreamClient
from streaming.tests.live import (
    api_get,
    direct_transcript,
    download_recording,
    load_audio,
    open_stream,
    format_params,
    read_until_close,
    run,
    wait_for_message,
)

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def drop_at(client: AudioStreamClient, offsets: list[int]):
    """Return a before_frame hook that aborts the TCP connection (no close frame) at each offset."""
    pending = sorted(offsets)

    def before_frame(offset: int) -> None:
        if pending and offset >= pending[0]:
            pending.pop(0)
            client.socket.transport.abort()

    return before_frame


@pytest.mark.parametrize("name", ["jfk-16k.wav", "preamble-mulaw-8k.wav"])
def test_dropped_connection_resumes_losslessly(daphne_factory, auth0_issuer, name):
    server = daphne_factory(env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "pocketsphinx", "STREAM_ENGINE_BACKLOG_SECONDS": "600"})
    token = auth0_issuer.mint("auth0|mobile")
    audio_format, audio = load_audio(name)
    client = AudioStreamClient(server.ws_url, token, audio, audio_format, speed=0)
    client.before_frame = drop_at(client, [len(audio) // 3, 2 * len(audio) // 3])

    outcome = run(client.run())

    assert outcome.reconnects == 2
    _, stored = download_recording(server, token, outcome.stream_id)
    assert stored == audio
    assert outcome.summary["bytes"] == len(audio)
    assert outcome.summary["transcript"] == direct_transcript(name)


def test_resume_on_new_process_after_sigkill(daphne_factory, auth0_issuer):
    env = {**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none"}
    first = daphne_factory(env=env)
    token = auth0_issuer.mint("auth0|survivor")
    audio_format, audio = load_audio("jfk-16k.wav")
    half = len(audio) // 2 - (len(audio) // 2) % 3200

    async def send_half_then_kill() -> tuple[str, int]:
        socket, ready = await open_stream(first, token, **format_params(audio_format))
        last_ack = 0
        for start in range(0, half, 3200):
            await socket.send(audio[start : start + 3200])
            last_ack = (await wait_for_message(socket, "Ack"))["bytes"]
        first.kill()
        return ready["stream_id"], last_ack

    stream_id, last_ack = run(send_half_then_kill())
    assert last_ack == half

    second = daphne_factory(env=env)
    _, stored = download_recording(second, token, stream_id)
    assert stored == audio[:last_ack]

    client = AudioStreamClient(second.ws_url, token, audio, audio_format, speed=0, stream_id=stream_id)
    outcome = run(client.run())
    assert outcome.stream_id == stream_id
    _, stored = download_recording(second, token, stream_id)
    assert stored == audio


def test_half_open_connection_taken_over(daphne_factory, auth0_issuer):
    server = daphne_factory(env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none"})
    token = auth0_issuer.mint("auth0|two-devices")
    audio_format, audio = load_audio("brooklyn-bridge-16k.wav")

    async def scenario():
        old, ready = await open_stream(server, token, **format_params(audio_format))
        await old.send(audio[:3200])
        await wait_for_message(old, "Ack")
        new, resumed = await open_stream(server, token, stream_id=ready["stream_id"])
        old_messages = await read_until_close(old)
        await new.send(json.dumps({"type": "CloseStream"}))
        new_messages = await read_until_close(new)
        return old, old_messages, new, resumed, new_messages

    old, old_messages, new, resumed, new_messages = run(scenario())
    assert resumed["type"] == "Ready"
    assert resumed["bytes"] == 3200
    assert resumed["resumed"] is True
    assert old.close_code == 4409
    assert old_messages[-1]["code"] == "stream_taken_over"
    assert new.close_code == 1000
    assert new_messages[-1]["type"] == "Summary"


def test_sigterm_closes_streams_for_resume(daphne_factory, auth0_issuer):
    server = daphne_factory(env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none"})
    token = auth0_issuer.mint("auth0|restart")
    audio_format, audio = load_audio("brooklyn-bridge-16k.wav")

    async def scenario():
        socket, ready = await open_stream(server, token, **format_params(audio_format))
        await socket.send(audio[:6400])
        await wait_for_message(socket, "Ack")
        server.signal(signal.SIGTERM)
        messages = await read_until_close(socket)
        return socket, ready, messages

    socket, ready, messages = run(scenario())
    assert socket.close_code == 1012
    assert messages[-1]["code"] == "server_restarting"
    assert server.process.wait(15) is not None

    second = server.__class__(server.env, server.log_path.with_name("after-restart.log")).start()
    try:
        _, stored = download_recording(second, token, ready["stream_id"])
        assert stored == audio[:6400]
    finally:
        second.stop()


@pytest.mark.redis
@pytest.mark.postgres
def test_resume_on_other_process_sharing_redis(daphne_factory, auth0_issuer):
    env = {**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "pocketsphinx", "STREAM_ENGINE_BACKLOG_SECONDS": "600"}
    first = daphne_factory(env=env)
    second = daphne_factory(env=env)
    token = auth0_issuer.mint("auth0|roaming")
    audio_format, audio = load_audio("jfk-16k.wav")
    half = len(audio) // 2 - (len(audio) // 2) % 3200

    async def first_half() -> str:
        socket, ready = await open_stream(first, token, **format_params(audio_format))
        for start in range(0, half, 3200):
            await socket.send(audio[start : start + 3200])
        while (await wait_for_message(socket, "Ack"))["bytes"] < half:
            pass
        # Vanish without a close frame, as a phone losing its network does.
        socket.transport.abort()
        return ready["stream_id"]

    stream_id = run(first_half())
    client = AudioStreamClient(second.ws_url, token, audio, audio_format, speed=0, stream_id=stream_id)
    outcome = run(client.run())

    _, stored = download_recording(second, token, stream_id)
    assert stored == audio
    assert outcome.summary["transcript"] == direct_transcript("jfk-16k.wav")


def test_frames_queued_at_close_are_stored(daphne_factory, auth0_issuer):
    server = daphne_factory(env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none"})
    token = auth0_issuer.mint("auth0|hasty")
    audio_format, audio = load_audio("jfk-16k.wav")

    async def scenario() -> str:
        socket, ready = await open_stream(server, token, **format_params(audio_format))
        for start in range(0, len(audio), 3200):
            await socket.send(audio[start : start + 3200])
        # Close at once: most frames are still queued on the server and their
        # Acks can no longer be sent.
        await socket.close()
        return ready["stream_id"]

    stream_id = run(scenario())
    detail = None
    for _ in range(50):
        detail = api_get(server, token, f"/api/streams/{stream_id}/").json()
        if detail["status"] != "active":
            break
        run(asyncio.sleep(0.1))
    assert detail["status"] == "interrupted"
    _, stored = download_recording(server, token, stream_id)
    assert stored == audio


def test_restarting_server_turns_new_streams_away(daphne_factory, auth0_issuer):
    server = daphne_factory(env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none"})
    token = auth0_issuer.mint("auth0|late-comer")

    async def scenario():
        socket, ready = await open_stream(server, token)
        server.signal(signal.SIGTERM)
        await read_until_close(socket)
        late, first = await open_stream(server, token, stream_id=ready["stream_id"])
        await read_until_close(late)
        return first, late.close_code

    first, close_code = run(scenario())
    assert first["code"] == "server_restarting"
    assert close_code == 1012


def test_resume_of_foreign_or_unknown_stream_rejected(daphne_factory, auth0_issuer):
    server = daphne_factory(env={**auth0_issuer.env(), "TRANSCRIPTION_ENGINE": "none"})
    owner = auth0_issuer.mint("auth0|owner")
    stranger = auth0_issuer.mint("auth0|stranger")

    async def scenario():
        socket, ready = await open_stream(server, owner)
        socket.transport.abort()
        foreign, foreign_first = await open_stream(server, stranger, stream_id=ready["stream_id"])
        await read_until_close(foreign)
        unknown, unknown_first = await open_stream(
            server, owner, stream_id="0b6f3c1e-2d4a-4c8e-9f10-5a7b8c9d0e1f"
        )
        await read_until_close(unknown)
        garbage, garbage_first = await open_stream(server, owner, stream_id="../../etc/passwd")
        await read_until_close(garbage)
        return (
            (foreign_first, foreign.close_code),
            (unknown_first, unknown.close_code),
            (garbage_first, garbage.close_code),
        )

    foreign, unknown, garbage = run(scenario())
    assert foreign[0]["code"] == "forbidden"
    assert foreign[1] == 4403
    assert unknown[0]["code"] == "stream_not_found"
    assert unknown[1] == 4404
    assert garbage[0]["code"] == "stream_not_found"
    assert garbage[1] == 4404
