"""Projection throughput on the embedded store (SQLite), beside references from the same run.

Writes a campaign's worth of events (targets in batches, then a dial and a finish on
each), then measures:
  - append: events written per second by the application (the write path);
  - rebuild: events projected per second by the read model (the same code as the runner);
  - live: the in-process runner catching up on the same events (one transaction each);
  - read-your-writes: a target write plus the wait until the read model shows it;
  - reference: bare SQLite upserts with a commit each, the floor the projection sits on.
Machines are noisy: compare the figures of one run with each other, not across runs.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from api.bootstrap import open_read_model
from application.eventlog import StoredEventLog
from application.service import NewTarget, OutdialService
from application.storage import Storage
from domain.address import Address
from projections.rebuild import rebuild
from projections.runner import LiveProjection, ReadModel


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        storage = Storage(data_dir=Path(directory))
        app = OutdialService(storage=storage)
        customer = uuid4()
        outdial = app.create_outdial(customer, name="bench").value.id
        started = time.perf_counter()
        new = NewTarget([Address("tel", "+821100000001"), None, None, None, None])
        ids = [
            t.id
            for _ in range(args.targets // 1_000 or 1)
            for t in app.create_targets(customer, outdial, [new] * min(1_000, args.targets)).value
        ]
        for target_id in ids:
            dial = app.start_dial(customer, outdial, target_id).value
            app.finish_dial(customer, outdial, target_id, dial.id, result="fail", reason="busy")
        append_s = time.perf_counter() - started
        log = StoredEventLog(app)
        events = log.head()

        read_model = open_read_model(storage, log)
        started = time.perf_counter()
        projected = rebuild(log, read_model.view)
        rebuild_s = time.perf_counter() - started
        read_model.close()

        (Path(directory) / "readmodel.sqlite3").unlink()
        projection = LiveProjection(open_read_model(storage, log))
        started = time.perf_counter()
        projection.start()
        projection.read_model.wait_until_applied(events, timeout=600)
        live_s = time.perf_counter() - started
        latencies = read_your_writes(app, projection.read_model, samples=200)
        projection.stop()
        projection.read_model.close()
        log.close()
        app.close()

        reference_s = bare_sqlite_upserts(Path(directory) / "reference.sqlite3", events)

    print(f"events: {events}")
    print(f"append:    {events / append_s:8.0f} events/s")
    print(f"rebuild:   {projected / rebuild_s:8.0f} events/s (projection into SQLite)")
    print(f"live:      {events / live_s:8.0f} events/s (live projection catching up)")
    print(
        f"read-your-writes: median {statistics.median(latencies):.1f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)]:.1f} ms (write + wait)"
    )
    print(f"reference: {events / reference_s:8.0f} upserts/s (bare SQLite, one commit each)")


def read_your_writes(app: OutdialService, model: ReadModel, samples: int) -> list[float]:
    customer = uuid4()
    outdial = app.create_outdial(customer).value.id
    new = NewTarget([Address("tel", "+821100000001"), None, None, None, None])
    latencies = []
    for _ in range(samples):
        started = time.perf_counter()
        written = app.create_target(customer, outdial, new)
        model.wait_until_applied(written.position, timeout=10)
        latencies.append((time.perf_counter() - started) * 1000)
    return sorted(latencies)


def bare_sqlite_upserts(path: Path, count: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)")
    started = time.perf_counter()
    for n in range(count):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO t VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET n = excluded.n",
            (str(n % 1_000), n),
        )
        connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


if __name__ == "__main__":
    main()
