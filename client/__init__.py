"""A command-line client for the Meeting Streamer audio WebSocket."""
