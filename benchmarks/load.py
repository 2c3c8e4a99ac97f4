"""A small HTTP/1.1 load generator: concurrent keep-alive clients on raw asyncio streams.

Written for the benchmarks so that they need nothing outside the project; its own ceiling is
measured against a handler that does nothing and reported beside every figure, so that no
ratio is capped by the client without it showing.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

# (method, path with query, body or None); made once per request by each client from
# (client number, its request number, the body of its previous answer).
Request = tuple[str, str, bytes | None]
RequestFactory = Callable[[int, int, bytes], Request]


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int
    latencies_ms: list[float]
    answers: list[bytes]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0


def run_load(
    base_url: str,
    make_request: RequestFactory,
    *,
    clients: int = 8,
    seconds: float = 5.0,
    headers: dict[str, str] | None = None,
    requests_per_client: int | None = None,
    keep_answers: bool = False,
) -> LoadResult:
    """Run ``clients`` concurrent clients for ``seconds`` (or a fixed number of requests)."""
    return asyncio.run(
        _run(
            base_url,
            make_request,
            clients,
            seconds,
            headers or {},
            requests_per_client,
            keep_answers,
        )
    )


async def _run(
    base_url: str,
    make_request: RequestFactory,
    clients: int,
    seconds: float,
    headers: dict[str, str],
    per_client: int | None,
    keep_answers: bool,
) -> LoadResult:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    latencies: list[float] = []
    answers: list[bytes] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        sent = 0
        answer = b""
        try:
            while (per_client is None and time.perf_counter() < deadline) or (
                per_client is not None and sent < per_client
            ):
                method, path, body = make_request(number, sent, answer)
                head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{fixed}"
                if body is not None:
                    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                began = time.perf_counter()
                writer.write((head + "\r\n").encode() + (body or b""))
                status, answer = await _read_response(reader)
                latencies.append((time.perf_counter() - began) * 1000)
                if status >= 400:
                    errors += 1
                elif keep_answers:
                    answers.append(answer)
                sent += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), elapsed, errors, latencies, answers)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


def threaded_rate(action: Callable[[], None], count: int, threads: int) -> float:
    """Calls a second of ``action`` done ``count`` times, shared out among ``threads``."""
    each = count // threads

    def run() -> None:
        for _ in range(each):
            action()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return each * threads / (time.perf_counter() - began)
