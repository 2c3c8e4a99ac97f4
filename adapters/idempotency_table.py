"""The ``outdial_idempotency`` table behind application/idempotency.py's claims: a SQLite
file beside the events, a table of the PostgreSQL database, or memory; made by
adapters/migrations.py (schema ``idempotency``)."""

from __future__ import annotations

from adapters.migrations import IDEMPOTENCY
from adapters.small_tables import (
    PostgresStatements,
    SQLiteStatements,
    Statements,
    open_small_table,
)
from adapters.stores import Storage
from application.idempotency import IdempotencyTable, StoredClaim

TABLE = "outdial_idempotency"


def open_idempotency_table(storage: Storage) -> IdempotencyTable:
    """The store's table, migrated first (a read when it is current)."""
    return open_small_table(storage, SQLiteIdempotencyTable, PostgresIdempotencyTable)


_COLUMNS = "fingerprint, seed, status, body, claimed_at"


class _SQLTable(Statements, IdempotencyTable):
    """The statements, on either store."""

    def insert(self, customer: str, key: str, fingerprint: str, seed: str, now: float) -> bool:
        changed, _ = self._run(
            self._sql(
                f"INSERT INTO {TABLE} (customer_id, key, {_COLUMNS}) "
                "VALUES (?, ?, ?, ?, NULL, NULL, ?) ON CONFLICT (customer_id, key) DO NOTHING"
            ),
            (customer, key, fingerprint, seed, now),
        )
        return changed == 1

    def get(self, customer: str, key: str) -> StoredClaim | None:
        _, rows = self._run(
            self._sql(f"SELECT {_COLUMNS} FROM {TABLE} WHERE customer_id = ? AND key = ?"),
            (customer, key),
        )
        if not rows:
            return None
        fingerprint, seed, status, body, claimed_at = rows[0]
        return StoredClaim(
            fingerprint, seed, status, None if body is None else bytes(body), float(claimed_at)
        )

    def replace(
        self, customer: str, key: str, was: float, fingerprint: str, seed: str, now: float
    ) -> bool:
        changed, _ = self._run(
            self._sql(
                f"UPDATE {TABLE} SET fingerprint = ?, seed = ?, status = NULL, body = NULL, "
                "claimed_at = ? WHERE customer_id = ? AND key = ? AND claimed_at = ?"
            ),
            (fingerprint, seed, now, customer, key, was),
        )
        return changed == 1

    def take_over(self, customer: str, key: str, was: float, now: float) -> bool:
        changed, _ = self._run(
            self._sql(
                f"UPDATE {TABLE} SET claimed_at = ? "
                "WHERE customer_id = ? AND key = ? AND claimed_at = ? AND status IS NULL"
            ),
            (now, customer, key, was),
        )
        return changed == 1

    def answer(self, customer: str, key: str, status: int, body: bytes) -> None:
        self._run(
            self._sql(f"UPDATE {TABLE} SET status = ?, body = ? WHERE customer_id = ? AND key = ?"),
            (status, body, customer, key),
        )

    def delete(self, customer: str, key: str) -> None:
        self._run(
            self._sql(f"DELETE FROM {TABLE} WHERE customer_id = ? AND key = ? AND status IS NULL"),
            (customer, key),
        )

    def delete_before(self, when: float) -> int:
        changed, _ = self._run(self._sql(f"DELETE FROM {TABLE} WHERE claimed_at < ?"), (when,))
        return changed

    def answers(self, customer: str) -> list[tuple[str, bytes]]:
        _, rows = self._run(
            self._sql(f"SELECT key, body FROM {TABLE} WHERE customer_id = ? AND body IS NOT NULL"),
            (customer,),
        )
        return [(key, bytes(body)) for key, body in rows]

    def rewrite(self, customer: str, key: str, body: bytes) -> None:
        self._run(
            self._sql(f"UPDATE {TABLE} SET body = ? WHERE customer_id = ? AND key = ?"),
            (body, customer, key),
        )

    def scrub(self) -> None:
        """Nothing outside the table on PostgreSQL until vacuum (docs/operations.md)."""


class SQLiteIdempotencyTable(SQLiteStatements, _SQLTable):
    schema = IDEMPOTENCY


class PostgresIdempotencyTable(PostgresStatements, _SQLTable):
    pass
