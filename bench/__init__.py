"""Capacity benchmark of the audio WebSocket and the REST API: ``python -m bench``."""
