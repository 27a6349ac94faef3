"""Command line: stream a WAV file, print transcripts, then verify the stored recording.

Usage: python -m client URL FILE [--language en] [--speed 1.0]

The access token comes from the MEETING_STREAMER_TOKEN environment variable
or from --token-file, never from the command line, where other users of the
machine could read it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import sys
from pathlib import Path

from typing import NoReturn

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from client.stream import AudioStreamClient, RetryableRejection, StreamFailed, download_url
from streaming.audio.wav import WavFormatError, parse_header, read_wav

TOKEN_VARIABLE = "MEETING_STREAMER_TOKEN"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m client", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="service base URL, e.g. ws://127.0.0.1:8000 or wss://api.example.com")
    parser.add_argument("file", type=Path, help="WAV file: 16-bit PCM (8-48 kHz, 1-2 channels) or 8 kHz mu-law")
    parser.add_argument("--language", default="en", help="transcription language (default: en)")
    parser.add_argument("--speed", type=float, default=1.0, help="send at this multiple of real time; 0 sends as fast as possible (default: 1.0)")
    parser.add_argument("--token-file", type=Path, help=f"file holding the access token (default: ${TOKEN_VARIABLE})")
    parser.add_argument("--no-verify", action="store_true", help="skip downloading and comparing the recording")
    parser.add_argument("--interim", action="store_true", help="also print interim transcripts")
    return parser.parse_args(argv)


def fail_input(message: str) -> NoReturn:
    """Exit with status 2, the status for a problem with the command's own input."""
    print(message, file=sys.stderr)
    sys.exit(2)


def read_token(args: argparse.Namespace) -> str:
    if args.token_file:
        return args.token_file.read_text().strip()
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        fail_input(f"No access token: set {TOKEN_VARIABLE} or pass --token-file")
    return token


def printer(show_interim: bool):
    def show(message: dict) -> None:
        kind = message.get("type")
        if kind == "Ready":
            print(f"Stream {message['stream_id']} ready (resuming at byte {message['bytes']})", flush=True)
        elif kind == "Transcript" and (message["is_final"] or show_interim):
            label = "final" if message["is_final"] else "interim"
            print(f"[{message['start']:7.2f}-{message['end']:7.2f} {label}] {message['text']}", flush=True)
        elif kind in ("Error", "Warning"):
            print(f"{kind} {message.get('code')}: {message.get('message')}", flush=True)
    return show


def verify_recording(url: str, token: str, stream_id: str, audio: bytes) -> bool:
    response = httpx.get(
        download_url(url, stream_id), headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    if response.status_code != 200:
        print(f"Recording download failed: HTTP {response.status_code} {response.text[:200]}")
        return False
    file = io.BytesIO(response.content)
    layout = parse_header(file)
    file.seek(layout.data_offset)
    stored = file.read()
    if stored != audio:
        print(f"Recording differs: sent {len(audio)} bytes, stored {len(stored)} bytes")
        return False
    print(f"Recording verified: the {len(stored)} stored audio bytes equal the bytes sent")
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    token = read_token(args)
    try:
        audio_format, audio = read_wav(args.file)
    except (OSError, WavFormatError, ValueError) as exc:
        fail_input(f"Cannot read {args.file}: {exc}")
    client = AudioStreamClient(
        args.url, token, audio, audio_format, language=args.language, speed=args.speed,
        on_message=printer(args.interim),
    )
    print(f"Streaming {args.file.name}: {audio_format.seconds(len(audio)):.1f} s of {audio_format.describe()}")
    try:
        outcome = asyncio.run(client.run())
    except (StreamFailed, RetryableRejection) as exc:
        print(f"Stream failed: {exc}")
        return 1
    except InvalidStatus as exc:
        print(f"Stream failed: the server rejected the handshake with HTTP {exc.response.status_code}")
        return 1
    except (OSError, InvalidHandshake, ConnectionClosed) as exc:
        print(f"Stream failed: cannot reach {args.url} ({exc}); check that the service is running")
        return 1
    summary = outcome.summary
    print(f"Summary: {summary['audio_seconds']} s, {summary['bytes']} bytes, {outcome.reconnects} reconnects")
    print(f"Transcript: {summary['transcript']}")
    if args.no_verify:
        return 0
    return 0 if verify_recording(args.url, token, outcome.stream_id, audio) else 1


if __name__ == "__main__":
    sys.exit(main())
