"""A process that cannot open its stores (the server down, too many clients, a file it may
not open) says so in one line, with no traceback, and exits 2."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg_pool import PoolTimeout

from adapters.stores import StoreUnreachable, check_reachable
from api.settings import Settings

# What a process meets when it cannot open its stores (the server down, too many clients,
# a file it may not open): said in one line, with no traceback.
STORE_ERRORS: tuple[type[Exception], ...] = (
    StoreUnreachable,
    psycopg.Error,
    PersistenceError,
    sqlite3.Error,
)


class CannotStart(Exception):
    """A process could not open what it serves with; the message is the cause, one line."""


def why(error: Exception, settings: Settings) -> str:
    """One of ``STORE_ERRORS`` as one line: the type and first line of the error at its
    root, or for a pool that timed out, why the database refuses a connection if it does."""
    if isinstance(error, StoreUnreachable):
        return str(error)
    cause: BaseException = error
    while cause.__cause__ is not None:  # the library wraps the driver's error
        cause = cause.__cause__
    if isinstance(cause, PoolTimeout) and settings.database_url:
        # A pool that timed out does not say why it got no connection; one made now does.
        try:
            check_reachable(settings.storage())
        except StoreUnreachable as unreachable:
            return str(unreachable)
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__


@contextmanager
def starting(settings: Settings) -> Iterator[None]:
    """Turns a failure to open the stores inside the block into ``CannotStart``."""
    try:
        yield
    except STORE_ERRORS as error:
        raise CannotStart(why(error, settings)) from error
