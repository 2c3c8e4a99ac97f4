"""The reference: the plain state-based CRUD a team would write in a day instead.

The same hot endpoints on the same wire, with status and try counts as mutable columns and
no history. On equal terms with the service: the same request schemas validate the bodies,
the same JSON library answers, the same server loop and process count run it, SQLite in WAL
mode with the event store's synchronous setting, or the same PostgreSQL; no auth.

Run as ``python -m benchmarks.crud --data-dir DIR | --database-url URL --port N``; ``/noop``
answers at once, for the load generator's own ceiling.
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import uvicorn
from fastapi import FastAPI, HTTPException, Response

from api.schemas.dials import DialFinishIn, DialStartIn
from api.schemas.targets import TargetIn
from domain.plan import DEFAULT_PLAN, DESTINATION_SLOTS

NOT_DELETED = "9999-01-01 00:00:00.000000"
TARGET_COLUMNS = (
    "id",
    "outdial_id",
    "name",
    "detail",
    "data",
    "status",
    *(f"destination_{n}" for n in range(DESTINATION_SLOTS)),
    *(f"try_count_{n}" for n in range(DESTINATION_SLOTS)),
    "tm_create",
    "tm_update",
    "tm_delete",
)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS targets (id TEXT PRIMARY KEY, outdial_id TEXT, name TEXT, "
    "detail TEXT, data TEXT, status TEXT, "
    + ", ".join(f"destination_{n} TEXT" for n in range(DESTINATION_SLOTS))
    + ", "
    + ", ".join(f"try_count_{n} INTEGER" for n in range(DESTINATION_SLOTS))
    + ", tm_create TEXT, tm_update TEXT, tm_delete TEXT)",
    "CREATE INDEX IF NOT EXISTS targets_page ON targets (outdial_id, tm_create, id)",
    "CREATE TABLE IF NOT EXISTS dials (id TEXT PRIMARY KEY, outdial_id TEXT, "
    "outdial_target_id TEXT, destination_index INTEGER, destination TEXT, try_count INTEGER, "
    "status TEXT, result TEXT, reason TEXT, tm_start TEXT, tm_end TEXT)",
)


def now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class Store:
    """One connection per thread on SQLite, a pool on PostgreSQL; same SQL for both."""

    def __init__(self, data_dir: Path | None, database_url: str | None) -> None:
        self._local = threading.local()
        self._path = None if data_dir is None else str(data_dir / "crud.sqlite3")
        self._pool: Any = None
        if database_url:
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(database_url, min_size=2, max_size=10, open=True)
        with self.transaction() as cursor:
            for statement in SCHEMA:
                cursor.execute(statement)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self._pool is not None else statement

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        if self._pool is not None:
            with self._pool.connection() as connection, connection.cursor() as cursor:
                yield _Cursor(cursor, self._sql)
            return
        connection = getattr(self._local, "connection", None)
        if connection is None:
            assert self._path is not None
            connection = sqlite3.connect(self._path, isolation_level=None, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield _Cursor(connection.cursor(), self._sql)
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


class _Cursor:
    def __init__(self, cursor: Any, sql: Any) -> None:
        self._cursor = cursor
        self._sql = sql
        self.rowcount = 0

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(statement), params)
        self.rowcount = self._cursor.rowcount
        return list(self._cursor.fetchall()) if self._cursor.description else []


def target_wire(row: tuple[Any, ...]) -> dict[str, Any]:
    target = dict(zip(TARGET_COLUMNS, row, strict=True))
    for n in range(DESTINATION_SLOTS):
        key = f"destination_{n}"
        target[key] = None if target[key] is None else orjson.loads(target[key])
    return target


def json_response(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


def create_app(store: Store) -> FastAPI:
    app = FastAPI()
    select = f"SELECT {', '.join(TARGET_COLUMNS)} FROM targets"

    @app.get("/noop")
    def noop() -> Response:
        return json_response({})

    @app.post("/v1.0/outdials")
    def create_outdial() -> Response:
        return json_response({"id": str(uuid4())})

    @app.post("/v1.0/outdials/{outdial_id}/targets")
    def create_target(outdial_id: UUID, body: TargetIn) -> Response:
        new = body.new_target()
        stamp = now()
        values: tuple[Any, ...] = (
            str(uuid4()),
            str(outdial_id),
            new.name,
            new.detail,
            new.data,
            "idle",
            *(None if d is None else orjson.dumps(d.as_dict()).decode() for d in new.destinations),
            *([0] * DESTINATION_SLOTS),
            stamp,
            stamp,
            NOT_DELETED,
        )
        marks = ", ".join("?" * len(TARGET_COLUMNS))
        with store.transaction() as cursor:
            cursor.execute(f"INSERT INTO targets VALUES ({marks})", values)
        return json_response(target_wire(values))

    @app.get("/v1.0/outdials/{outdial_id}/targets/{target_id}")
    def get_target(outdial_id: UUID, target_id: UUID) -> Response:
        with store.transaction() as cursor:
            rows = cursor.execute(
                f"{select} WHERE id = ? AND outdial_id = ?", (str(target_id), str(outdial_id))
            )
        if not rows:
            raise HTTPException(404)
        return json_response(target_wire(rows[0]))

    @app.get("/v1.0/outdials/{outdial_id}/targets")
    def list_targets(outdial_id: UUID, page_size: int = 100) -> Response:
        with store.transaction() as cursor:
            rows = cursor.execute(
                f"{select} WHERE outdial_id = ? AND tm_delete = ? "
                "ORDER BY tm_create DESC, id DESC LIMIT ?",
                (str(outdial_id), NOT_DELETED, min(max(page_size, 1), 100)),
            )
        return json_response({"result": [target_wire(r) for r in rows], "next_page_token": ""})

    @app.post("/v1.0/outdials/{outdial_id}/targets/{target_id}/dials")
    def start_dial(outdial_id: UUID, target_id: UUID, body: DialStartIn | None = None) -> Response:
        with store.transaction() as cursor:
            rows = cursor.execute(f"{select} WHERE id = ?", (str(target_id),))
            if not rows:
                raise HTTPException(404)
            target = target_wire(rows[0])
            if target["status"] != "idle" or target["try_count_0"] >= DEFAULT_PLAN.max_try_count_0:
                raise HTTPException(409)
            stamp = now()
            cursor.execute(
                "UPDATE targets SET status = 'progressing', try_count_0 = try_count_0 + 1, "
                "tm_update = ? WHERE id = ? AND status = 'idle'",
                (stamp, str(target_id)),
            )
            dial = {
                "id": str(uuid4()),
                "outdial_id": str(outdial_id),
                "outdial_target_id": str(target_id),
                "destination_index": 0,
                "destination": target["destination_0"],
                "try_count": target["try_count_0"] + 1,
                "status": "progressing",
                "result": "",
                "reason": "",
                "tm_start": stamp,
                "tm_end": None,
            }
            cursor.execute(
                "INSERT INTO dials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*(orjson.dumps(v).decode() if isinstance(v, dict) else v for v in dial.values()),),
            )
        return json_response(dial)

    @app.put("/v1.0/outdials/{outdial_id}/targets/{target_id}/dials/{dial_id}")
    def finish_dial(
        outdial_id: UUID, target_id: UUID, dial_id: UUID, body: DialFinishIn
    ) -> Response:
        stamp = now()
        with store.transaction() as cursor:
            cursor.execute(
                "UPDATE dials SET status = 'done', result = ?, reason = ?, tm_end = ? "
                "WHERE id = ? AND status = 'progressing'",
                (body.result, body.reason[:64], stamp, str(dial_id)),
            )
            status = "done" if body.result == "success" else "idle"
            cursor.execute(
                "UPDATE targets SET status = ?, tm_update = ? WHERE id = ?",
                (status, stamp, str(target_id)),
            )
            rows = cursor.execute(f"{select} WHERE id = ?", (str(target_id),))
        return json_response(target_wire(rows[0]))

    return app


async def nothing(scope: Any, receive: Any, send: Any) -> None:
    """A handler that does nothing: the load generator's ceiling against this server loop."""
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"{}"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--nothing", action="store_true", help="serve the do-nothing handler")
    args = parser.parse_args()
    if args.nothing:
        uvicorn.run(nothing, host="127.0.0.1", port=args.port, log_level="warning")
        return
    store = Store(args.data_dir, args.database_url)
    uvicorn.run(create_app(store), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
