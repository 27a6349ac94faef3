"""The speech engines a stream can choose by name."""

from __future__ import annotations

from streaming.engines.base import EngineError, SpeechEngine
from streaming.engines.none import NullEngine
from streaming.engines.pocketsphinx_engine import PocketSphinxEngine

ENGINES: dict[str, type[SpeechEngine]] = {
    PocketSphinxEngine.name: PocketSphinxEngine,
    NullEngine.name: NullEngine,
}


class UnknownEngineError(EngineError, LookupError):
    """No engine is registered under the requested name."""


def get_engine_class(name: str) -> type[SpeechEngine]:
    """Return the engine class registered as `name`, or raise UnknownEngineError."""
    try:
        return ENGINES[name]
    except KeyError:
        choices = ", ".join(sorted(ENGINES))
        message = f"engine {name!r} is not supported: use one of {choices}"
        raise UnknownEngineError(message) from None
