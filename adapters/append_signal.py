"""Says when events may have been appended to one store's log, so that its readers (the
projection, read-your-writes waits) need not query it on a timer."""

from __future__ import annotations

import logging
import os
import select
import sqlite3
import threading
import time

import psycopg
from eventsourcing.persistence import ApplicationRecorder
from psycopg.sql import SQL, Identifier

from adapters.library import listen_for_commits, notify_channel, sqlite_file, stop_listening
from adapters.stores import Storage

log = logging.getLogger(__name__)

LISTEN_CONNECT_TIMEOUT_S = 2
# How often the embedded store looks whether another process wrote events (a PRAGMA).
SQLITE_WATCH_INTERVAL_S = 0.05


class AppendSignal:
    """Says when events may have been appended to one store's log.

    Appends of this process set it at once. Other processes' appends are heard through
    PostgreSQL's LISTEN/NOTIFY, or on SQLite by a cheap change check: ``PRAGMA
    data_version`` on a connection kept open, which moves whenever another connection
    commits, so nobody queries the log on a timer.
    """

    def __init__(self, recorder: ApplicationRecorder, storage: Storage) -> None:
        # False while the PostgreSQL server cannot be reached (the listening connection
        # broke and cannot be made again): writes are refused at once rather than hang.
        self.reachable = True
        self._appended = threading.Event()
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        # PostgreSQL's listener waits on this pipe too: close writes to it, which ends
        # the wait on the connection at once (SQLite's watcher looks at the counter).
        self._closing: tuple[int, int] | None = None
        listen_for_commits(self._appended)
        channel, path = notify_channel(recorder), sqlite_file(recorder)
        if channel is not None and storage.database_url:
            self._closing = os.pipe()
            self._watcher = threading.Thread(
                target=self._listen,
                args=(storage.database_url, channel, self._closing[0]),
                name="events-listen",
                daemon=True,
            )
        elif path is not None:
            self._watcher = threading.Thread(
                target=self._watch, args=(path,), name="events-watch", daemon=True
            )
        if self._watcher is not None:
            self._watcher.start()

    def wait(self, timeout: float) -> None:
        if self._appended.wait(timeout):
            self._appended.clear()

    def wake(self) -> None:
        self._appended.set()

    def close(self) -> None:
        if self._closed.is_set():
            return
        stop_listening(self._appended)
        self._closed.set()
        if self._closing is not None:
            os.write(self._closing[1], b"x")
        if self._watcher is not None:
            self._watcher.join(timeout=2)
        if self._closing is not None:
            for end in self._closing:
                os.close(end)

    def _watch(self, db_name: str) -> None:
        """Look at the database's change counter every few milliseconds."""
        connection = sqlite3.connect(db_name, uri=True, check_same_thread=False)
        try:
            seen = connection.execute("PRAGMA data_version").fetchone()[0]
            while not self._closed.is_set():
                time.sleep(SQLITE_WATCH_INTERVAL_S)  # cheaper than a timed wait on an event
                now = connection.execute("PRAGMA data_version").fetchone()[0]
                if now != seen:
                    seen = now
                    self._appended.set()
        except sqlite3.Error:
            log.warning("lost sight of the event store's changes", exc_info=True)
            self._appended.set()
        finally:
            connection.close()

    def _listen(self, database_url: str, channel: str, closing: int) -> None:
        """Hold a connection of its own that LISTENs on the channel the library NOTIFYs on
        insert; it is also the first to know the server went away, and came back."""
        listen = SQL("LISTEN {0}").format(Identifier(channel))
        while not self._closed.is_set():
            try:
                with psycopg.connect(
                    database_url, connect_timeout=LISTEN_CONNECT_TIMEOUT_S, autocommit=True
                ) as connection:
                    connection.execute(listen)
                    if not self.reachable:
                        log.info("the event store can be reached again")
                    self.reachable = True
                    self._appended.set()  # what was appended meanwhile is waiting
                    # Waits on the socket itself: psycopg's own wait wakes every 0.1 s,
                    # which was most of what an idle server did.
                    listening = connection.fileno()
                    waiting = select.poll()
                    waiting.register(listening, select.POLLIN)
                    waiting.register(closing, select.POLLIN)
                    while not self._closed.is_set():
                        ready = {fd for fd, _ in waiting.poll()}
                        if listening in ready:  # a notification, or the server went away
                            for _ in connection.notifies(timeout=0):
                                self._appended.set()
            except Exception:
                # Readers fall back to their timeout; writers are refused meanwhile.
                if self.reachable:
                    log.warning("lost the event store's connection; trying again every 0.5 s")
                self.reachable = False
                self._appended.set()
                self._closed.wait(0.5)
