"""The webhook tables behind application/webhooks.py: a SQLite file beside the events, two
tables of the PostgreSQL database, or memory; made by adapters/migrations.py (schema
``webhooks``). Also what a webhook's URL may point at, and the POST that delivers."""

from __future__ import annotations

import ipaddress
import socket
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import orjson

from adapters.migrations import WEBHOOKS
from adapters.small_tables import (
    PostgresStatements,
    SQLiteStatements,
    Statements,
    open_small_table,
)
from adapters.stores import Storage
from application.webhooks import ANSWER_WAIT_S, Answer, Delivery, Webhook, WebhookTable
from domain.errors import InvalidValue
from domain.timeline import format_timestamp, parse_timestamp

HOOKS = "outdial_webhooks"
DELIVERIES = "outdial_webhook_deliveries"
_HOOK_COLUMNS = (
    "customer_id, id, url, types, outdial_id, secret, position, failures, failing_since, "
    "next_attempt"
)
_DELIVERY_COLUMNS = (
    "id, customer_id, tm_attempt, from_position, to_position, status_code, error, duration_ms"
)


def open_webhook_table(storage: Storage) -> WebhookTable:
    """The store's table, migrated first (a read when it is current)."""
    return open_small_table(storage, SQLiteWebhookTable, PostgresWebhookTable)


def _hook(row: Any) -> Webhook:
    customer, id_, url, types, outdial, secret, position, failures, since, next_at = row
    return Webhook(
        id=id_,
        customer_id=UUID(customer),
        url=url,
        types=None if types is None else frozenset(orjson.loads(types)),
        outdial_id=None if outdial is None else UUID(outdial),
        secret=secret,
        position=int(position),
        failures=int(failures),
        failing_since=None if since is None else float(since),
        next_attempt=float(next_at),
    )


def _types(webhook: Webhook) -> str | None:
    return None if webhook.types is None else orjson.dumps(sorted(webhook.types)).decode()


class _SQLTable(Statements, WebhookTable):
    """The statements, on either store."""

    def get(self, customer_id: UUID) -> Webhook | None:
        _, rows = self._run(
            self._sql(f"SELECT {_HOOK_COLUMNS} FROM {HOOKS} WHERE customer_id = ?"),
            (str(customer_id),),
        )
        return _hook(rows[0]) if rows else None

    def insert(self, webhook: Webhook) -> bool:
        changed, _ = self._run(
            self._sql(
                f"INSERT INTO {HOOKS} ({_HOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, 0) "
                "ON CONFLICT (customer_id) DO NOTHING"
            ),
            (
                str(webhook.customer_id),
                webhook.id,
                webhook.url,
                _types(webhook),
                None if webhook.outdial_id is None else str(webhook.outdial_id),
                webhook.secret,
                webhook.position,
            ),
        )
        return changed == 1

    def change(self, webhook: Webhook) -> bool:
        changed, _ = self._run(
            self._sql(
                f"UPDATE {HOOKS} SET url = ?, types = ?, outdial_id = ? "
                "WHERE customer_id = ? AND id = ?"
            ),
            (
                webhook.url,
                _types(webhook),
                None if webhook.outdial_id is None else str(webhook.outdial_id),
                str(webhook.customer_id),
                webhook.id,
            ),
        )
        return changed == 1

    def delete(self, customer_id: UUID) -> bool:
        changed, _ = self._run(
            self._sql(f"DELETE FROM {HOOKS} WHERE customer_id = ?"), (str(customer_id),)
        )
        return changed == 1

    def due(self, now: float) -> list[Webhook]:
        _, rows = self._run(
            self._sql(f"SELECT {_HOOK_COLUMNS} FROM {HOOKS} WHERE next_attempt <= ?"), (now,)
        )
        return [_hook(row) for row in rows]

    def moved(self, webhook: Webhook, position: int) -> bool:
        changed, _ = self._run(
            self._sql(
                f"UPDATE {HOOKS} SET position = ?, failures = 0, failing_since = NULL, "
                "next_attempt = 0 WHERE customer_id = ? AND id = ? AND position = ?"
            ),
            (position, str(webhook.customer_id), webhook.id, webhook.position),
        )
        return changed == 1

    def failed(self, webhook: Webhook, failures: int, since: float, next_attempt: float) -> None:
        self._run(
            self._sql(
                f"UPDATE {HOOKS} SET failures = ?, failing_since = ?, next_attempt = ? "
                "WHERE customer_id = ? AND id = ? AND position = ?"
            ),
            (
                failures,
                since,
                next_attempt,
                str(webhook.customer_id),
                webhook.id,
                webhook.position,
            ),
        )

    def record(self, delivery: Delivery) -> None:
        self._run(
            self._sql(
                f"INSERT INTO {DELIVERIES} ({_DELIVERY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                delivery.id,
                str(delivery.customer_id),
                format_timestamp(delivery.tm_attempt),
                delivery.from_position,
                delivery.to_position,
                delivery.status_code,
                delivery.error,
                delivery.duration_ms,
            ),
        )

    def deliveries(self, customer_id: UUID, limit: int) -> list[Delivery]:
        _, rows = self._run(
            self._sql(
                f"SELECT {_DELIVERY_COLUMNS} FROM {DELIVERIES} WHERE customer_id = ? "
                "ORDER BY tm_attempt DESC, id DESC LIMIT ?"
            ),
            (str(customer_id), limit),
        )
        return [
            Delivery(
                id_,
                UUID(customer),
                parse_timestamp(tm_attempt),
                int(first),
                int(last),
                None if status is None else int(status),
                error,
                int(duration),
            )
            for id_, customer, tm_attempt, first, last, status, error, duration in rows
        ]

    def counts(self, failing_since: float) -> tuple[int, int]:
        _, rows = self._run(
            self._sql(
                f"SELECT COUNT(*), COUNT(CASE WHEN failing_since <= ? THEN 1 END) FROM {HOOKS}"
            ),
            (failing_since,),
        )
        every, failing = rows[0]
        return int(every), int(failing)

    def forget_deliveries_before(self, when: datetime) -> int:
        changed, _ = self._run(
            self._sql(f"DELETE FROM {DELIVERIES} WHERE tm_attempt < ?"), (format_timestamp(when),)
        )
        return changed


class SQLiteWebhookTable(SQLiteStatements, _SQLTable):
    schema = WEBHOOKS


class PostgresWebhookTable(PostgresStatements, _SQLTable):
    pass


# -- where a webhook may point, and the POST -------------------------------------------


class WebhookAddresses:
    """A webhook is a request the service sends on its customer's behalf: unless allowed
    by setting, it may not reach a private, loopback, link-local or otherwise reserved
    address (no server-side request forgery). Checked when the URL is set, and again on
    every delivery against the addresses its host resolves to then, which the request
    then connects to (a name that changes to a private address is refused too)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def check(self, url: str) -> None:
        """InvalidValue naming ``url`` unless it is http(s) to a host it may reach."""
        self.resolve(url)

    def resolve(self, url: str) -> list[str]:
        """The addresses ``url``'s host resolves to, each one it may reach."""
        if any(c.isspace() or not c.isprintable() for c in url):
            raise InvalidValue("url", "must not hold spaces or control characters")
        try:
            parts = urlsplit(url)
            hostname = parts.hostname
        except ValueError:  # an IPv6 host left open, a bad netloc
            hostname = None
        if not hostname or parts.scheme not in ("http", "https"):
            raise InvalidValue(
                "url", "must be an http or https URL, such as https://example.com/hook"
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InvalidValue("url", "has a port that is not a number from 1 to 65535") from None
        try:
            found = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise InvalidValue("url", f"its host {hostname} cannot be resolved") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        if not self.allow_private:
            for address in addresses:
                if not ipaddress.ip_address(address.split("%")[0]).is_global:
                    raise InvalidValue(
                        "url",
                        f"its host {hostname} is a private, loopback or reserved address "
                        f"({address}); allowed only with OUTDIAL_WEBHOOK_ALLOW_PRIVATE=true",
                    )
        return addresses


class WebhookSender:
    """POSTs a batch, connecting to an address just checked (the Host header and the TLS
    name stay the URL's own), and says how it was answered within 10 s."""

    def __init__(self, addresses: WebhookAddresses) -> None:
        self._addresses = addresses
        self._client = httpx.Client(timeout=ANSWER_WAIT_S, follow_redirects=False, trust_env=False)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        try:
            address = self._addresses.resolve(url)[0]
        except InvalidValue as refused:
            return Answer(None, refused.problem, 0)
        parts = urlsplit(url)
        host = f"[{address}]" if ":" in address else address
        port = f":{parts.port}" if parts.port else ""
        pinned = parts._replace(netloc=f"{host}{port}").geturl()
        try:
            response = self._client.post(
                pinned,
                content=body,
                headers={**headers, "Host": parts.netloc.rpartition("@")[2]},
                extensions={"sni_hostname": parts.hostname or ""},
            )
        except httpx.HTTPError as failure:
            return Answer(None, f"{type(failure).__name__}: {failure}"[:500], _ms(started))
        code, took = response.status_code, _ms(started)
        if not 200 <= code < 300:
            return Answer(code, f"answered {code}", took)
        if took > ANSWER_WAIT_S * 1000:  # each step kept its timeout, the whole did not
            return Answer(code, f"answered after {ANSWER_WAIT_S:.0f} s", took)
        return Answer(code, "", took)

    def close(self) -> None:
        self._client.close()


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
