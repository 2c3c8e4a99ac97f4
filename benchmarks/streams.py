"""Many readers of the event stream on one API process (SPEC §12): what they cost while
nothing happens, and how soon each new event reaches every one of them.

The server is `outdial serve` on a fresh store; the readers are one asyncio client in this
process, each stream a connection of its own. The reference for the idle cost is the same
server with no reader, measured in the same run just before.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import defaultdict

import httpx
import orjson

from benchmarks.report import Figure, Report
from benchmarks.servers import Server, cpu_seconds, service
from benchmarks.stores import fresh

STORES = ("sqlite", "postgres")
READERS = 100
WRITES = 20
WRITE_EVERY_S = 0.25


class Readers:
    """``count`` streams of one customer's events, read on one event loop in a thread of
    their own; for each aggregate, when each reader received its first event."""

    def __init__(self, server: Server, count: int) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.connected = 0
        self._server = server
        self._count = count
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),))
        self._thread.start()
        deadline = time.monotonic() + 30
        while self.connected < count:
            if time.monotonic() > deadline:
                msg = f"{self.connected} of {count} streams connected"
                raise RuntimeError(msg)
            time.sleep(0.05)

    async def _run(self) -> None:
        self._stopping = asyncio.Event()
        limits = httpx.Limits(max_connections=self._count + 10)
        async with httpx.AsyncClient(
            base_url=self._server.url, headers=self._server.headers, limits=limits, timeout=None
        ) as client:
            tasks = [asyncio.create_task(self._read(client)) for _ in range(self._count)]
            await self._stopping.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/v1.0/events/stream") as response:
            response.raise_for_status()
            with self._lock:
                self.connected += 1
            seen: set[str] = set()
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                at = time.monotonic()
                aggregate = orjson.loads(line[5:]).get("aggregate_id")
                if aggregate and aggregate not in seen:
                    seen.add(aggregate)
                    with self._lock:
                        self.arrivals[aggregate].append(at)

    def close(self) -> None:
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=30)
        self._loop.close()


def _share_of_a_core(server: Server, seconds: float) -> float:
    pid = server.process.pid
    before, began = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - began)


def _measured(server: Server, count: int, idle_s: float) -> tuple[float, float, list[float], int]:
    """(the server's share of a core idle without readers, and with ``count``; each
    reader's wait for each new event, from before its POST; events some reader missed)."""
    with server.client() as http:
        outdial = http.post("/v1.0/outdials", json={}).json()["id"]
        time.sleep(1)
        alone = _share_of_a_core(server, idle_s)
        readers = Readers(server, count)
        try:
            time.sleep(1)
            with_readers = _share_of_a_core(server, idle_s)
            latencies: list[float] = []
            short = 0
            for _ in range(WRITES):
                began = time.monotonic()
                made = http.post(
                    f"/v1.0/outdials/{outdial}/targets",
                    json={"destination_0": {"type": "tel", "target": "+821100000001"}},
                ).json()["id"]
                deadline = time.monotonic() + 5
                while len(readers.arrivals[made]) < count and time.monotonic() < deadline:
                    time.sleep(0.005)
                arrived = readers.arrivals[made]
                short += len(arrived) < count
                latencies += [at - began for at in arrived]
                time.sleep(WRITE_EVERY_S)
        finally:
            readers.close()
    return alone, with_readers, latencies, short


def stream_readers(report: Report, *, quick: bool) -> None:
    count = 20 if quick else READERS
    idle_s = 3.0 if quick else 20.0
    for kind in STORES:
        with fresh(kind) as store, service(**store.service_args) as server:  # type: ignore[arg-type]
            alone, with_readers, latencies, short = _measured(server, count, idle_s)
        added = (with_readers - alone) * 100
        report.add(
            Figure(
                kind,
                f"{count} idle stream readers, added share of one core",
                added,
                "%",
                target="< 5 %",
                met=added < 5,
                note=(
                    f"server {with_readers * 100:.2f} % of a core with them, "
                    f"{alone * 100:.2f} % without, each over {idle_s:.0f} s"
                ),
            )
        )
        worst = max(latencies) * 1000 if latencies else 0.0
        report.add(
            Figure(
                kind,
                f"a new event reaching all {count} stream readers, slowest",
                worst,
                "ms",
                target="< 1000 ms, every reader",
                met=short == 0 and worst < 1000,
                note=(
                    f"{WRITES} targets created {WRITE_EVERY_S} s apart, from before the POST; "
                    f"p50 {statistics.median(latencies) * 1000:.0f} ms over every reader and "
                    f"event; {short} events missed by some reader within 5 s"
                ),
            )
        )
