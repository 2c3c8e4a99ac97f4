"""Rows of the read model inside one transaction: the same SQL on SQLite and PostgreSQL,
written with named parameters (``:name``) that each store's placeholder style rewrites.
``ChangedRows`` holds what a transaction writes until it flushes, so a batch of events
that touches a row several times reads it once and writes it once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import orjson

from projections.schema import COLUMNS, Row, key_of


class Cursor(Protocol):
    def execute(self, statement: Any, params: Any = ...) -> Any: ...
    def executemany(self, statement: Any, params: Any) -> Any: ...
    def fetchall(self) -> Any: ...
    def fetchone(self) -> Any: ...


# Streams every row of a table in a transaction: (cursor, table, order by) -> rows.
Streams = Callable[[Any, str, tuple[str, ...]], Iterator[Row]]


class Rows:
    """Row access inside one read-model transaction (same SQL on both stores)."""

    def __init__(
        self, cursor: Cursor, placeholders: PlaceholderStyle, streams: Streams | None = None
    ) -> None:
        self._cursor = cursor
        self._sql = placeholders
        self._streams = streams

    def get(self, table: str, row_id: str) -> Row | None:
        rows = self.select(f"SELECT * FROM {table} WHERE id = :id", {"id": row_id})
        return rows[0] if rows else None

    @property
    def on_postgres(self) -> bool:
        """For the few statements whose SQL differs (JSON functions)."""
        return self._sql is postgres_placeholders

    def json_rows(self, table: str, columns: Sequence[str]) -> str:
        """SQL of the rows that a JSON array of objects, the parameter ``:rows``, holds:
        their id and ``columns`` (on PostgreSQL typed by ``table``'s row type; SQLite
        takes JSON's own)."""
        if self.on_postgres:
            return f"json_populate_recordset(NULL::{table}, :rows::json)"
        picked = ", ".join(f"json_extract(value, '$.{c}') AS {c}" for c in ["id", *columns])
        return f"(SELECT {picked} FROM json_each(:rows))"

    def select(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        self._cursor.execute(self._sql(statement), dict(params))
        return [dict(r) for r in self._cursor.fetchall()]

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        self._cursor.execute(self._sql(statement), dict(params or {}))

    def stream(self, table: str, order_by: tuple[str, ...]) -> Iterator[Row]:
        """Every row of ``table`` in the byte order of some text columns, a batch at a
        time, in this transaction's snapshot (a store's ``reading()`` says how)."""
        if self._streams is None:
            msg = "rows stream only in a reading transaction"
            raise TypeError(msg)
        return self._streams(self._cursor, table, order_by)


@dataclass(frozen=True)
class Erased:
    """The targets an erasure applied in a transaction blanked."""

    customer_id: str
    target_ids: tuple[str, ...]


class ChangedRows(Rows):
    """The rows one transaction writes, held until ``flush``.

    A row read or written before in the same transaction is answered from memory, and
    the writes go out as one batched statement per table and set of columns, so a batch
    of events touching a row several times costs one read and one write of it.
    """

    def __init__(
        self, cursor: Cursor, placeholders: PlaceholderStyle, *, remember: int = 0
    ) -> None:
        super().__init__(cursor, placeholders)
        # Rows written out stay known, up to this many of the newest, so a long
        # transaction (a rebuild) does not read back what it has just written.
        self._remember = remember
        self._known: dict[tuple[str, str], Row] = {}
        self._inserted: set[tuple[str, str]] = set()
        self._changed: dict[tuple[str, str], set[str]] = {}
        self._absent: dict[str, dict[tuple[Any, ...], Row]] = {}
        # Changes to rows not read (``change``), written with the others.
        self._unread: dict[tuple[str, str], Row] = {}
        self.erased: list[Erased] = []  # the erasures applied, in order

    def get(self, table: str, row_id: str) -> Row | None:
        key = (table, row_id)
        if key not in self._known:
            # A row this transaction has not touched is as the database has it: no flush.
            found = Rows.select(self, f"SELECT * FROM {table} WHERE id = :id", {"id": row_id})
            if not found:
                return None
            self._known_as_read(key, found[0])
        return dict(self._known[key])

    def _known_as_read(self, key: tuple[str, str], row: Row) -> None:
        """A row read from the database, with what ``change`` changed of it before."""
        unread = self._unread.pop(key, None)
        if unread:
            row.update(unread)
            self._changed.setdefault(key, set()).update(unread)
        self._known[key] = row

    def change(self, table: str, row_id: str, changes: Mapping[str, Any]) -> None:
        """Change some columns of a row without reading it, where what they become does
        not depend on it (a target's deletion): many such changes cost no read."""
        key = (table, row_id)
        if key in self._known:
            self.update(table, row_id, changes)
        else:
            self._unread.setdefault(key, {}).update(changes)

    def take_unread(self, table: str) -> dict[str, Row]:
        """The changes ``change`` holds unwritten for rows of ``table``, by row id, handed
        to the caller to write: ``flush`` no longer writes them."""
        taken = {row_id: changes for (t, row_id), changes in self._unread.items() if t == table}
        for row_id in taken:
            del self._unread[(table, row_id)]
        return taken

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        """A new row: every column of the table."""
        key = (table, row["id"])
        self._known[key] = {c: row[c] for c in COLUMNS[table]}
        self._inserted.add(key)

    def insert_many(self, table: str, rows: Sequence[Row]) -> None:
        """New rows, each with every column of the table, written at once as one
        statement rather than held: a later read of one in this transaction finds it in
        the database. What the transaction held before is written first, in order."""
        if not rows:
            return
        columns = COLUMNS[table]
        if rows[0].keys() != set(columns):
            msg = f"a new {table} row needs exactly the columns {', '.join(columns)}"
            raise ValueError(msg)
        self.flush()
        statement = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(f':{c}' for c in columns)})"
        )
        self._cursor.executemany(self._sql(statement), rows)

    def insert_absent(self, table: str, row: Mapping[str, Any]) -> None:
        """A row inserted unless one with its key is there already (a set's member, never
        changed afterwards): held, then written with the others as one statement."""
        key = tuple(row[c] for c in key_of(table))
        self._absent.setdefault(table, {})[key] = {c: row[c] for c in COLUMNS[table]}

    def update(self, table: str, row_id: str, changes: Mapping[str, Any]) -> None:
        """Change some columns of a row; indexes on the others are left alone."""
        assert "id" not in changes
        key = (table, row_id)
        if self.get(table, row_id) is None:
            msg = f"{table} {row_id} has no row to change"
            raise LookupError(msg)
        self._known[key].update(changes)
        if key not in self._inserted:
            self._changed.setdefault(key, set()).update(changes)

    def flush(self) -> None:
        """Write what this transaction changed so far."""
        inserts: dict[str, list[Row]] = {}
        for table, row_id in self._inserted:
            inserts.setdefault(table, []).append(self._known[(table, row_id)])
        for table, rows in inserts.items():
            columns = COLUMNS[table]
            statement = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join(f':{c}' for c in columns)})"
            )
            self._cursor.executemany(self._sql(statement), rows)
        updates: dict[tuple[str, tuple[str, ...]], list[Row]] = {}
        for (table, row_id), columns_changed in self._changed.items():
            columns = tuple(sorted(columns_changed))
            row = self._known[(table, row_id)]
            updates.setdefault((table, columns), []).append(
                {**{c: row[c] for c in columns}, "id": row_id}
            )
        for (table, row_id), unread in self._unread.items():
            columns = tuple(sorted(unread))
            updates.setdefault((table, columns), []).append({**unread, "id": row_id})
        for (table, columns), rows in updates.items():
            self._update_all(table, columns, rows)
        for table, members in self._absent.items():
            columns = COLUMNS[table]
            statement = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join(f':{c}' for c in columns)}) ON CONFLICT DO NOTHING"
            )
            self._cursor.executemany(self._sql(statement), list(members.values()))
        if len(self._known) > self._remember:
            for key in list(self._known)[: len(self._known) - self._remember]:
                del self._known[key]
        self._inserted.clear()
        self._changed.clear()
        self._absent.clear()
        self._unread.clear()

    def _update_all(self, table: str, columns: tuple[str, ...], rows: list[Row]) -> None:
        """Set ``columns`` of each row (by id) to its values."""
        if self.on_postgres and len(rows) > 1:
            # One statement for them all, its rows typed by the table's own row type:
            # an UPDATE a row was most of a deleted outdial's erasure (100,000 targets).
            assignments = ", ".join(f"{c} = given.{c}" for c in columns)
            statement = (
                f"UPDATE {table} SET {assignments} FROM {self.json_rows(table, columns)} "
                f"AS given WHERE {table}.id = given.id"
            )
            self._cursor.execute(self._sql(statement), {"rows": orjson.dumps(rows).decode()})
            return
        assignments = ", ".join(f"{c} = :{c}" for c in columns)
        statement = f"UPDATE {table} SET {assignments} WHERE id = :id"
        self._cursor.executemany(self._sql(statement), rows)

    def select(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        self.flush()
        return super().select(statement, params)

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        self.flush()
        super().execute(statement, params)
        self._known.clear()  # a statement may have changed any row

    def execute_many(self, statement: str, params: Sequence[Mapping[str, Any]]) -> None:
        if params:
            self.flush()
            self._cursor.executemany(self._sql(statement), params)
            self._known.clear()


class PlaceholderStyle(Protocol):
    def __call__(self, statement: str) -> str: ...


def in_list(prefix: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """The placeholders of an ``IN (...)`` list of these values (``:prefix0, ...``) and
    their parameters."""
    params = {f"{prefix}{n}": value for n, value in enumerate(values)}
    return ", ".join(f":{name}" for name in params), params


def sqlite_placeholders(statement: str) -> str:
    return statement  # sqlite3 reads :name as it is


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=1024)  # the statements are few, and each is written many times
def postgres_placeholders(statement: str) -> str:
    return _NAMED.sub(r"%(\1)s", statement)
