"""Projection throughput on the embedded store (SQLite), beside references from the same run.

Writes a campaign's worth of events (targets in batches, then a dial and a finish on
each), then measures:
  - append: events written per second by the application (the write path);
  - rebuild: events projected per second by the read model (the same code as the runner);
  - reference: bare SQLite upserts with a commit each, the floor the projection sits on.
Machines are noisy: compare the figures of one run with each other, not across runs.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from application.service import NewTarget, OutdialService
from application.storage import Storage
from domain.address import Address
from projections.rebuild import rebuild


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        storage = Storage(data_dir=Path(directory))
        app = OutdialService(storage=storage)
        customer = uuid4()
        outdial = app.create_outdial(customer, name="bench").id
        started = time.perf_counter()
        new = NewTarget([Address("tel", "+821100000001"), None, None, None, None])
        ids = [
            t.id
            for _ in range(args.targets // 1_000 or 1)
            for t in app.create_targets(customer, outdial, [new] * min(1_000, args.targets))
        ]
        for target_id in ids:
            dial = app.start_dial(customer, outdial, target_id)
            app.finish_dial(customer, outdial, target_id, dial.id, result="fail", reason="busy")
        append_s = time.perf_counter() - started
        events = app.recorder.max_notification_id() or 0
        app.close()

        started = time.perf_counter()
        projected = rebuild(storage)
        rebuild_s = time.perf_counter() - started

        reference_s = bare_sqlite_upserts(Path(directory) / "reference.sqlite3", events)

    print(f"events: {events}")
    print(f"append:    {events / append_s:8.0f} events/s")
    print(f"rebuild:   {projected / rebuild_s:8.0f} events/s (projection into SQLite)")
    print(f"reference: {events / reference_s:8.0f} upserts/s (bare SQLite, one commit each)")


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
