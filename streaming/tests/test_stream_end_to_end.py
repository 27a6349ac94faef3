"""Real recordings streamed through daphne with a real WebSocket client."""

from __future__ import annotations

import pytest

from streaming.tests.live import api_get, direct_transcript, download_recording, stream_file

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

RECORDINGS = ["brooklyn-bridge-16k.wav", "commercial-call-8k.wav", "testing-123-mulaw-8k.wav"]


@pytest.fixture
def pocketsphinx_server(daphne_factory, auth0_issuer):
    # The tests send whole recordings at once, faster than the engine decodes,
    # so the engine's backlog must hold a whole recording for nothing to be skipped.
    return daphne_factory(
        env={
            **auth0_issuer.env(),
            "TRANSCRIPTION_ENGINE": "pocketsphinx",
            "STREAM_ENGINE_BACKLOG_SECONDS": "600",
        }
    )


@pytest.mark.parametrize("name", RECORDINGS)
def test_stored_recording_equals_audio_sent(pocketsphinx_server, auth0_issuer, name):
    token = auth0_issuer.mint("auth0|recorder")
    outcome, audio = stream_file(pocketsphinx_server, token, name, speed=0)

    stored_format, stored = download_recording(pocketsphinx_server, token, outcome.stream_id)
    assert stored == audio
    assert outcome.summary["bytes"] == len(audio)
    assert stored_format.encoding == ("mulaw" if "mulaw" in name else "linear16")


@pytest.mark.parametrize("name", RECORDINGS)
def test_transcript_equals_direct_decode(pocketsphinx_server, auth0_issuer, name):
    token = auth0_issuer.mint("auth0|transcriber")
    outcome, _ = stream_file(pocketsphinx_server, token, name, speed=0)

    expected = direct_transcript(name)
    assert expected
    assert outcome.summary["transcript"] == expected
    assert " ".join(final["text"] for final in outcome.finals) == expected


def test_brooklyn_bridge_real_time(pocketsphinx_server, auth0_issuer):
    token = auth0_issuer.mint("auth0|realtime")
    outcome, audio = stream_file(pocketsphinx_server, token, "brooklyn-bridge-16k.wav", speed=1.0)

    assert outcome.summary["transcript"] == "how old is the brooklyn bridge"
    assert outcome.summary["audio_seconds"] == pytest.approx(len(audio) / 32000, abs=0.001)
    final = outcome.finals[-1]
    assert 0.0 <= final["start"] < final["end"] <= outcome.summary["audio_seconds"] + 0.01


def test_summary_transcript_stored_over_rest(pocketsphinx_server, auth0_issuer):
    token = auth0_issuer.mint("auth0|rest-reader")
    outcome, _ = stream_file(pocketsphinx_server, token, "brooklyn-bridge-16k.wav", speed=0)

    detail = api_get(pocketsphinx_server, token, f"/api/streams/{outcome.stream_id}/").json()
    assert detail["status"] == "completed"
    assert detail["close_code"] == 1000
    assert detail["transcript"] == "how old is the brooklyn bridge"
    assert [segment["text"] for segment in detail["segments"]] == ["how old is the brooklyn bridge"]
