"""The composition root: the one place that builds a process's objects from its settings,
in one order, and closes them in the reverse one. Every entry point opens it: the HTTP
app's lifespan, each console command, the projection worker.

    settings -> store checks -> schema (under the store's schema lock) -> application,
    keys, idempotency -> event log -> read model
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from uuid import UUID

from adapters.event_log import StoredEventLog
from adapters.idempotency_table import open_idempotency_table
from adapters.keys import ApiKeys
from adapters.leases import ProjectionLease, creating_schema
from adapters.migrations import migrate_store
from adapters.read_model_store import open_read_model, open_store
from adapters.stores import Storage, apply_statement_timeout, check_reachable
from adapters.target_keys import TargetKeys, open_target_keys
from adapters.webhooks import WebhookAddresses, open_webhook_table
from api.settings import Settings
from application.feed import Feed
from application.idempotency import IdempotencyKeys
from application.service import Clock, OutdialService, utc_now
from application.webhooks import Webhooks
from projections.rows import Erased
from projections.runner import ReadModel


@dataclass(frozen=True)
class Services:
    """One store's application, event log, read model, keys and idempotency claims."""

    settings: Settings
    storage: Storage
    service: OutdialService
    events: StoredEventLog
    read_model: ReadModel
    keys: ApiKeys
    idempotency: IdempotencyKeys
    feed: Feed
    webhooks: Webhooks
    webhook_addresses: WebhookAddresses

    def projection_lease(self) -> ProjectionLease:
        """The lease that makes one projection worker of the store the active one."""
        return ProjectionLease(self.storage, connect_timeout=self.settings.connect_timeout_seconds)

    @contextmanager
    def read_model_into(self, into: str) -> Iterator[ReadModel]:
        """A read model of these events in a store of its own (a SQLite path or a
        PostgreSQL URL), for a rebuild to look at the past."""
        read_model = open_read_model(self.storage, self.events, into)
        try:
            yield read_model
        finally:
            read_model.close()


@contextmanager
def bootstrap(settings: Settings, *, clock: Clock = utc_now) -> Iterator[Services]:
    """Everything a process of the store serves with, open for the block.

    A database that cannot be reached fails at once, in one line naming it
    (StoreUnreachable); processes starting together on a fresh store create its tables
    one at a time (the schema lock)."""
    storage = settings.storage()
    check_reachable(storage)
    apply_statement_timeout(storage)
    with ExitStack() as opened:
        with creating_schema(storage, connect_timeout=settings.connect_timeout_seconds):
            migrate_store(storage)  # our tables; the library makes its own as they open
            target_keys = open_target_keys(storage)
            opened.callback(target_keys.close)
            service = OutdialService(storage.event_store_env(), clock=clock, keys=target_keys)
            opened.callback(service.close)
            keys = ApiKeys.open(storage)
            opened.callback(keys.close)
            idempotency = IdempotencyKeys(open_idempotency_table(storage))
            opened.callback(idempotency.close)
            events = StoredEventLog(service, storage)
            opened.callback(events.close)
            read_model = ReadModel(open_store(storage), events)
            opened.callback(read_model.close)
            webhook_table = open_webhook_table(storage)
            opened.callback(webhook_table.close)
        forget_erased(read_model, target_keys, idempotency)
        feed = Feed(service, read_model.queries, applied=lambda: read_model.position() or 0)
        addresses = WebhookAddresses(allow_private=settings.webhook_allow_private)
        yield Services(
            settings=settings,
            storage=storage,
            service=service,
            events=events,
            read_model=read_model,
            keys=keys,
            idempotency=idempotency,
            feed=feed,
            webhooks=Webhooks(webhook_table, service, feed, addresses.check, head=events.head),
            webhook_addresses=addresses,
        )


def forget_erased(read_model: ReadModel, keys: TargetKeys, idempotency: IdempotencyKeys) -> None:
    """Erasures the read model applies destroy their targets' keys and blank the answers
    kept for repeats; and before serving, a key of any target erased already is destroyed
    again (a key store restored from a backup older than the erasure)."""

    def erased(what: Erased) -> None:
        keys.destroy([UUID(i) for i in what.target_ids])
        idempotency.blank_erased(UUID(what.customer_id), what.target_ids)

    read_model.view.on_erasure = erased
    keys.destroy(read_model.queries.erased_target_ids())
