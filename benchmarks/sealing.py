"""What sealing a target's personal fields costs (SPEC §13): the service's own save of a new
target, and reading its Created event back, sealed beside plain, in the same process and
store, in alternating rounds. (The HTTP write and the import are in their own rows.)"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from uuid import UUID, uuid4

from adapters.migrations import migrate_store
from adapters.target_keys import open_target_keys
from application.service import OutdialService
from benchmarks.load import threaded_rate
from benchmarks.report import Figure, Report
from benchmarks.stores import fresh
from domain.address import Address
from domain.target import Target

STORES = ("sqlite", "postgres")
THREADS = 8
ROUNDS = 3
DESTINATIONS = [
    Address("tel", "+821100000001", target_name="home", name="Kim", detail="evenings"),
    Address("tel", "+821100000002", target_name="work"),
    None,
    None,
    None,
]


def _saver(app: OutdialService, customer: UUID, outdial: UUID) -> Callable[[], None]:
    def save() -> None:
        app.save(
            Target.create(
                target_id=uuid4(),
                outdial_id=outdial,
                customer_id=customer,
                destinations=DESTINATIONS,
                name="Kim Minji",
                detail="prefers evenings",
                data="crm:1234",
                at=app.clock(),
            )
        )

    return save


def _read_us(app: OutdialService, target_ids: list[UUID]) -> float:
    """Microseconds to read and decode one target's Created event."""
    began = time.perf_counter()
    for target_id in target_ids:
        app.mapper.to_domain_event(app.recorder.select_events(target_id, limit=1)[0])
    return (time.perf_counter() - began) / len(target_ids) * 1e6


def sealing(report: Report, *, quick: bool) -> None:
    count = 400 if quick else 4_000
    for kind in STORES:
        with fresh(kind) as store:
            migrate_store(store.storage)
            keys = open_target_keys(store.storage)
            sealed = OutdialService(store.storage.event_store_env(), keys=keys)
            plain = OutdialService(store.storage.event_store_env())
            customer = uuid4()
            outdial = sealed.create_outdial(customer).value.id
            saves = {
                "sealed": _saver(sealed, customer, outdial),
                "plain": _saver(plain, customer, outdial),
            }
            for save in saves.values():
                threaded_rate(
                    save, count // 4, THREADS
                )  # warm-up: connections, caches, the tables' first pages
            rates: dict[str, list[float]] = {"sealed": [], "plain": []}
            for _ in range(ROUNDS):
                for name, save in saves.items():
                    rates[name].append(threaded_rate(save, count, THREADS))
            ids = [
                UUID(str(n.originator_id)) for n in sealed.recorder.select_notifications(1, 2_000)
            ]
            made = [i for i in ids if i != outdial][:1_000]
            read_sealed = statistics.median(_read_us(sealed, made) for _ in range(ROUNDS))
            read_plain = statistics.median(_read_us(plain, made) for _ in range(ROUNDS))
            sealed.close()
            plain.close()
            keys.close()
        sealed_rate, plain_rate = (
            statistics.median(rates["sealed"]),
            statistics.median(rates["plain"]),
        )
        added_us = (1 / sealed_rate - 1 / plain_rate) * 1e6
        report.add(
            Figure(
                kind,
                f"save a new target, sealed, {THREADS} threads",
                sealed_rate,
                "saves/s",
                reference=plain_rate,
                reference_name="the same, stored plain",
                note=(
                    f"{ROUNDS} alternating rounds of {count}, medians; the save alone, where "
                    f"sealing is the largest share (a key written, the fields encrypted); "
                    f"{added_us:.0f} us more a save"
                ),
            )
        )
        report.add(
            Figure(
                kind,
                "read a target's Created event, sealed",
                read_sealed,
                "us",
                reference=read_plain,
                reference_name="the same event read without opening it",
                note="from the store and decoded, 1,000 targets; the plain reader leaves it sealed",
            )
        )
