"""An app served over a real socket in a thread of the test (what a stream or a webhook
needs, which the in-process client cannot show), and a reader of Server-Sent Events."""

from __future__ import annotations

import http.server
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app served on 127.0.0.1 for the block; its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class Sent:
    """One Server-Sent Event as received, or a comment line (``comment`` set)."""

    id: str = ""
    event: str = "message"
    data: str = ""
    comment: str | None = None
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return orjson.loads(self.data)


class EventStream:
    """Reads a Server-Sent Events stream in a thread of its own; ``next`` hands over what
    arrived, in order."""

    def __init__(self, url: str, *, headers: dict[str, str], params: dict[str, Any]) -> None:
        self.received: queue.Queue[Sent | BaseException] = queue.Queue()
        self.status: int | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=None))
        self._ready = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers, params), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the stream did not answer")

    def _read(self, url: str, headers: dict[str, str], params: dict[str, Any]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers, params=params) as response:
                self.status = response.status_code
                self._ready.set()
                current = Sent()
                for line in response.iter_lines():
                    if self._closed.is_set():
                        return  # leaving the block hangs up
                    if line == "":
                        if current.data or current.id:
                            self.received.put(current)
                        current = Sent()
                    elif line.startswith(":"):
                        self.received.put(Sent(comment=line[1:].strip()))
                    else:
                        name, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        if name == "data":
                            current.data = value
                        elif name in ("id", "event"):
                            setattr(current, name, value)
        except BaseException as error:  # handed to the test
            self._ready.set()
            self.received.put(error)

    def next(self, timeout: float = 10.0) -> Sent:
        item = self.received.get(timeout=timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    def events(self, count: int, timeout: float = 10.0) -> list[Sent]:
        """The next ``count`` events, comments skipped."""
        found: list[Sent] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            item = self.next(max(0.01, deadline - time.monotonic()))
            if item.comment is None:
                found.append(item)
        return found

    def close(self) -> None:
        """Hang up at the next line the server sends (its comments come every keep-alive
        interval, which tests make short)."""
        self._closed.set()
        self._thread.join(timeout=5)
        self._client.close()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = orjson.loads(self.body)["events"]
        return events


class Receiver:
    """A webhook's receiver on 127.0.0.1: it keeps what it is sent and answers 200, or the
    status it is told to for the next so many requests."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.failing = 0  # answer the next this many with `fail_status`
        self.fail_status = 500
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = 200
                    if receiver.failing > 0:
                        receiver.failing -= 1
                        status = receiver.fail_status
                    else:
                        receiver.received.append(
                            Received({k.lower(): v for k, v in self.headers.items()}, body)
                        )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, times: int, status: int = 500) -> None:
        with self._lock:
            self.failing, self.fail_status = times, status

    def events(self) -> list[dict[str, Any]]:
        """Every event received, in the order received."""
        with self._lock:
            return [event for received in self.received for event in received.events()]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
