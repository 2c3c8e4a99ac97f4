"""The event feed under faults: a webhook receiver that fails and goes away during a write
load, stream readers that hang up and reconnect, and the service's processes killed. At the
end every event of the customer was delivered to the webhook at least once and in order,
and each stream reader saw every event exactly once."""

from __future__ import annotations

import http.server
import random
import threading
import time
from typing import Any

import httpx
import orjson

# The receiver fails this share of deliveries (500) while it is up.
RECEIVER_FAILS = 0.2
RECEIVER_DOWN_S = 3.0
# A stream reader hangs up after a random while of up to this many seconds.
READER_HANGS_UP_S = 3.0


class FlakyReceiver:
    """A webhook receiver on one port that answers 500 now and then, and that can go away
    for a while and come back on the same port."""

    def __init__(self, seed: int) -> None:
        self.positions: list[int] = []  # every event position received, in order
        self.deliveries = 0
        self.failed = 0
        self._chosen = random.Random(seed)
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.deliveries += 1
                    fails = receiver._chosen.random() < RECEIVER_FAILS
                    if fails:
                        receiver.failed += 1
                    else:
                        receiver.positions += [e["position"] for e in orjson.loads(body)["events"]]
                self.send_response(500 if fails else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                """Quiet."""

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class StreamReader:
    """Follows the customer's stream, hanging up now and then and reconnecting with the
    last id it received (also when the server was killed); keeps every event's position."""

    def __init__(self, url: Any, key: str, seed: int) -> None:
        self.positions: list[int] = []
        self.reconnects = 0
        self._url = url  # a callable: the server's URL, which may change
        self._headers = {"Authorization": f"Bearer {key}"}
        self._chosen = random.Random(seed)
        self._last = "0"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.is_set():
            hang_up_at = time.monotonic() + self._chosen.uniform(0.2, READER_HANGS_UP_S)
            try:
                self._read_until(hang_up_at)
            except httpx.HTTPError:
                time.sleep(0.2)  # the server is down: try again
            self.reconnects += 1

    def _read_until(self, hang_up_at: float) -> None:
        headers = {**self._headers, "Last-Event-ID": self._last}
        with httpx.stream(
            "GET", self._url() + "/v1.0/events/stream", headers=headers, timeout=10
        ) as response:
            if response.status_code != 200:
                time.sleep(0.2)
                return
            event_id, kind = "", ""
            for line in response.iter_lines():
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("event:"):
                    kind = line[6:].strip()
                elif line == "" and event_id:
                    if kind != "checkpoint":
                        self.positions.append(int(event_id))
                    self._last, event_id, kind = event_id, "", ""
                if self._stop.is_set() or time.monotonic() > hang_up_at:
                    return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def every_position(url: str, key: str) -> list[int]:
    """Every position of the customer's events, read a page at a time."""
    positions: list[int] = []
    after = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        while True:
            page = c.get("/v1.0/events", params={"after": after, "limit": 1000}).json()
            positions += [e["position"] for e in page["result"]]
            if page["next_after"] == after:
                return positions
            after = page["next_after"]


def in_order_once(received: list[int]) -> list[int]:
    """The first time each position was received, in the order received."""
    seen: set[int] = set()
    first: list[int] = []
    for position in received:
        if position not in seen:
            seen.add(position)
            first.append(position)
    return first


def wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())
