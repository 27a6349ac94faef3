"""Database access from async code on a pool of threads, not on one shared thread."""

from channels.db import database_sync_to_async
from django.db import connection


def database_async(function):
    """Wrap a blocking database function for async callers.

    It closes stale connections (or returns them to the pool) around each call,
    like Channels' database_sync_to_async. By default that one runs every call
    on a single thread shared by the whole process, so each stream's database
    work would queue behind every other stream's. This one runs on the event
    loop's thread pool instead, except with SQLite: it allows one writer at a
    time, so parallel threads would only fail with "database is locked".
    """
    return database_sync_to_async(function, thread_sensitive=connection.vendor == "sqlite")
