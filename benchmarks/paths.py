"""The hot paths, measured from outside against a running server: POST a target, GET a
target, GET a page of 100, and a dial cycle (start, then finish)."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass

import orjson

from benchmarks.load import LoadResult, Request, run_load
from benchmarks.servers import Server

TARGET_BODY = orjson.dumps(
    {"name": "bench", "destination_0": {"type": "tel", "target": "+821100000001"}}
)
FINISH_BODY = orjson.dumps({"result": "fail", "reason": "busy"})
# Concurrent clients of every hot path.
PATH_CLIENTS = 8


@dataclass(frozen=True)
class PathFigures:
    post_target: LoadResult
    get_target: LoadResult
    get_page: LoadResult
    dial_cycle: LoadResult  # requests: starts and finishes; cycles are half of them
    # Event-store transactions per write saved, over the POST and dial-cycle loads (None
    # for a server that does not count them: the reference).
    transactions_per_write: float | None = None

    @property
    def cycles_per_second(self) -> float:
        return self.dial_cycle.rate / 2


def dispatch_load(server: Server, outdial_id: str, *, limit: int, requests: int) -> LoadResult:
    """4 dispatchers claiming ``limit`` targets a request, ``requests`` each, with every
    answer kept (the dials claimed)."""
    body = orjson.dumps({"limit": limit})

    def claim(client: int, n: int, last: bytes) -> Request:
        return "POST", f"/v1.0/outdials/{outdial_id}/dispatch", body

    return run_load(
        server.url,
        claim,
        clients=4,
        seconds=3600,
        headers=server.headers,
        requests_per_client=requests,
        keep_answers=True,
    )


def commit_counts(server: Server) -> tuple[float, float] | None:
    """The server's event-store transactions and the writes they saved, from /metrics."""
    with server.client() as http:
        answer = http.get("/metrics")
    if answer.status_code != 200:
        return None
    found: dict[str, float] = {}
    for line in answer.text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("outdial_event_store_transactions_total", "outdial_event_store_writes_total"):
            found[name] = float(value)
    if len(found) != 2:
        return None
    return found["outdial_event_store_transactions_total"], found[
        "outdial_event_store_writes_total"
    ]


def claimed_targets(dispatched: LoadResult) -> Counter[str]:
    """How many times each target was claimed by a dispatch load's answers."""
    return Counter(
        dial["outdial_target_id"]
        for answer in dispatched.answers
        for dial in orjson.loads(answer)["result"]
    )


def measure_paths(server: Server, *, seconds: float, clients: int = PATH_CLIENTS) -> PathFigures:
    with server.client() as http:
        outdial = http.post("/v1.0/outdials", json={"name": "bench"}).json()["id"]
    counted_before = commit_counts(server)
    targets = f"/v1.0/outdials/{outdial}/targets"

    def post(client: int, n: int, last: bytes) -> Request:
        return "POST", targets, TARGET_BODY

    posted = run_load(
        server.url,
        post,
        clients=clients,
        seconds=seconds,
        headers=server.headers,
        keep_answers=True,
    )
    ids = [orjson.loads(answer)["id"] for answer in posted.answers]
    chosen = random.Random(7)

    def get(client: int, n: int, last: bytes) -> Request:
        return "GET", f"{targets}/{chosen.choice(ids)}", None

    got = run_load(server.url, get, clients=clients, seconds=seconds, headers=server.headers)

    def page(client: int, n: int, last: bytes) -> Request:
        return "GET", f"{targets}?page_size=100", None

    paged = run_load(server.url, page, clients=clients, seconds=seconds, headers=server.headers)

    # Each client dials its own targets: start one, finish it with the dial id answered.
    mine = [ids[c::clients] for c in range(clients)]
    turns = [itertools.count() for _ in range(clients)]

    def cycle(client: int, n: int, last: bytes) -> Request:
        if n % 2 == 0:
            target = mine[client][next(turns[client]) % len(mine[client])]
            return "POST", f"{targets}/{target}/dials", None
        dial = orjson.loads(last)
        path = f"{targets}/{dial['outdial_target_id']}/dials/{dial['id']}"
        return "PUT", path, FINISH_BODY

    per_client = min(len(m) for m in mine) * 2
    cycled = run_load(
        server.url,
        cycle,
        clients=clients,
        seconds=seconds,
        headers=server.headers,
        requests_per_client=min(per_client, int(seconds * 400)),
    )
    counted_after = commit_counts(server)
    per_write = None
    if counted_before is not None and counted_after is not None:
        transactions = counted_after[0] - counted_before[0]
        writes = counted_after[1] - counted_before[1]
        per_write = transactions / writes if writes else None
    return PathFigures(posted, got, paged, cycled, per_write)
