"""Tests of the streaming package, with helpers that locate the speech recordings they use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
AUDIO_DIRECTORY_VARIABLE = "MEETING_AUDIO_DIR"


def audio_directory() -> Path:
    """Return $MEETING_AUDIO_DIR, or else the directory shared/audio beside the repository."""
    configured = os.environ.get(AUDIO_DIRECTORY_VARIABLE)
    if configured:
        return Path(configured)
    return REPOSITORY_ROOT.parent / "shared" / "audio"


def audio_file(name: str) -> Path:
    """Return the path of a speech recording, or skip the test when it is missing."""
    path = audio_directory() / name
    if not path.is_file():
        reason = (
            f"speech recording {path} not found: set {AUDIO_DIRECTORY_VARIABLE} to the"
            " directory that contains it"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason} (CI must run this test, not skip it)")
        pytest.skip(reason)
    return path
