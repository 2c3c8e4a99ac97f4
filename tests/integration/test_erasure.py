"""Erasure on both stores, as processes of the store run it (the composition root wires
the read model's erasures to the key store): the keys go when the projection applies the
erasure, so a crash between the write and the projection is finished after it; a key
table restored from before an erasure is erased again before a process serves; a target
stored before sealing is refused; another process that remembers a target shows it
blank; verify and rebuild hold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid4

import pytest

from adapters.stores import Storage
from api.bootstrap import Services, bootstrap
from api.cli import main
from api.settings import Settings
from application.erasing import StoredInPlaintext
from application.errors import ConcurrentChange
from application.history import replay, target_at_version, target_events
from application.service import NewTarget, OutdialService
from domain.address import Address
from domain.plan import MAX_TRY_COUNT_LIMIT
from domain.target import Target
from domain.timeline import NOT_DELETED
from projections import erasures
from projections.rebuild import catch_up, rebuild
from projections.verify import verify
from tests.conftest import SQLITE_ONLY, FakeClock
from tests.integration.test_sealing import _key_count, _key_id, _run

NUMBER = "+821099001122"
NAME = "Ines Ortega"
BLANK = Address("tel", "")


def _settings(storage: Storage) -> Settings:
    if storage.database_url:
        return Settings(database_url=storage.database_url)
    assert storage.data_dir is not None
    return Settings(data_dir=storage.data_dir)


@contextmanager
def _process(storage: Storage) -> Iterator[Services]:
    """A process of the store, its read model applied by hand (``_project``)."""
    with bootstrap(_settings(storage)) as services:
        yield services


def _project(services: Services) -> None:
    catch_up(services.events, services.read_model.view)


def _person(service: OutdialService, customer: UUID, dials: int = 1) -> tuple[UUID, UUID]:
    outdial = service.create_outdial(customer).value
    service.change_outdial_plan(
        customer, outdial.id, {"max_try_count_0": MAX_TRY_COUNT_LIMIT, "try_interval": 0}
    )
    target = service.create_target(
        customer,
        outdial.id,
        NewTarget([Address("tel", NUMBER, target_name=NAME), None, None, None, None], name=NAME),
    ).value
    for _ in range(dials):
        dial = service.start_dial(customer, outdial.id, target.id).value
        service.finish_dial(customer, outdial.id, target.id, dial.id, result="fail", reason="busy")
    return outdial.id, target.id


def _row(services: Services, customer: UUID, outdial_id: UUID, target_id: UUID) -> Any:
    return services.read_model.queries.get_target(customer, outdial_id, target_id)


def test_an_erasure_whose_process_died_before_its_projection_is_finished_after(
    storage: Storage,
) -> None:
    customer = uuid4()
    with _process(storage) as services:
        outdial_id, target_id = _person(services.service, customer)
        _project(services)
        services.service.erase_targets(customer, [target_id])
        assert _key_count(storage, target_id) == 1  # nothing projected yet: the crash
    with _process(storage) as services:
        _project(services)
        assert _key_count(storage, target_id) == 0
        row = _row(services, customer, outdial_id, target_id)
        assert (row["name"], row["destination_0"]) == ("", BLANK.as_dict())


def test_a_key_table_restored_from_before_an_erasure_is_erased_again_before_serving(
    storage: Storage,
) -> None:
    customer = uuid4()
    with _process(storage) as services:
        outdial_id, target_id = _person(services.service, customer)
        (key,) = _run(
            storage,
            "SELECT key FROM outdial_target_keys WHERE target_id = ?",
            (_key_id(storage, target_id),),
        )[0]
        services.service.erase_targets(customer, [target_id])
        _project(services)
    assert _key_count(storage, target_id) == 0
    _run(
        storage,
        "INSERT INTO outdial_target_keys (target_id, key) VALUES (?, ?)",
        (_key_id(storage, target_id), key),
    )
    assert _key_count(storage, target_id) == 1  # the backup's key is back
    with _process(storage) as services:
        assert _key_count(storage, target_id) == 0
        (created, *_) = target_events(services.service, customer, outdial_id, target_id)
        assert created.name == ""  # type: ignore[attr-defined]


def test_a_target_stored_before_sealing_is_not_erasable_and_nothing_is_erased(
    storage: Storage,
) -> None:
    customer = uuid4()
    with _process(storage) as services:
        plain = OutdialService(storage.event_store_env(), clock=FakeClock())  # no keys
        _, old = _person(plain, customer)
        plain.close()
        _, new = _person(services.service, customer)
        head = services.events.head()
        with pytest.raises(StoredInPlaintext, match=str(old)):
            services.service.erase_targets(customer, [new, old])
        assert services.events.head() == head
        assert _key_count(storage, new) == 1


def test_a_deleted_outdial_with_a_target_stored_before_sealing_is_not_erased(
    storage: Storage,
) -> None:
    customer = uuid4()
    with _process(storage) as services:
        plain = OutdialService(storage.event_store_env(), clock=FakeClock())  # no keys
        outdial_id, old = _person(plain, customer, dials=0)
        plain.close()
        new = services.service.create_target(
            customer, outdial_id, NewTarget([Address("tel", NUMBER), None, None, None, None])
        ).value.id
        services.service.delete_outdial(customer, outdial_id)
        _project(services)
        head = services.events.head()
        with pytest.raises(StoredInPlaintext, match=str(old)):
            services.service.erase_outdial(
                customer, outdial_id, candidates=services.read_model.queries
            )
        assert services.events.head() == head
        assert _key_count(storage, new) == 1


def test_another_process_that_remembers_a_target_shows_it_erased(storage: Storage) -> None:
    customer = uuid4()
    with _process(storage) as one, _process(storage) as other:
        outdial_id, target_id = _person(one.service, customer)
        assert one.service.get_target(customer, outdial_id, target_id).name == NAME
        other.service.erase_targets(customer, [target_id])
        _project(other)
        # ``one`` still remembers the key and the target; what it shows is read as stored.
        events = target_events(one.service, customer, outdial_id, target_id)
        assert events[0].name == ""  # type: ignore[attr-defined]
        assert target_at_version(one.service, customer, outdial_id, target_id, 1).name == ""
        answer = one.service.delete_target(customer, outdial_id, target_id).value
        assert (answer.name, answer.destinations[0]) == ("", BLANK)


def test_an_erased_target_past_a_snapshot_loads_and_verify_and_rebuild_hold(
    storage: Storage,
) -> None:
    customer = uuid4()
    with _process(storage) as services:
        outdial_id, target_id = _person(services.service, customer, dials=25)  # 51 events
        assert list(services.service.snapshots.get(target_id))  # type: ignore[union-attr]
        services.service.erase_targets(customer, [target_id])
        _project(services)
        assert not list(services.service.snapshots.get(target_id))  # type: ignore[union-attr]
        assert verify(services.events, services.read_model.view)[1] == []
        rebuild(services.events, services.read_model.view)
        assert verify(services.events, services.read_model.view)[1] == []
        row = _row(services, customer, outdial_id, target_id)
        assert (row["name"], row["try_count_0"]) == ("", 25)
    with _process(storage) as services:
        target: Target = services.service.repository.get(target_id)
        assert (target.name, target.try_counts[0]) == ("", 25)


def test_a_version_past_a_snapshot_reads_as_the_replay_of_its_events_then_blank(
    storage: Storage,
) -> None:
    customer = uuid4()
    with _process(storage) as services:
        service = services.service
        outdial_id, target_id = _person(service, customer, dials=30)  # 61 events
        assert list(service.snapshots.get(target_id))  # type: ignore[union-attr]
        events = target_events(service, customer, outdial_id, target_id)
        for version in (1, 49, 50, 51, 61):
            read = target_at_version(service, customer, outdial_id, target_id, version)
            replayed = replay(events[:version])
            assert (read.version, read.name, read.try_counts, read.dials) == (
                replayed.version,
                replayed.name,
                replayed.try_counts,
                replayed.dials,
            )
        service.erase_targets(customer, [target_id])
        _project(services)
        read = target_at_version(service, customer, outdial_id, target_id, 50)
        assert (read.version, read.name, read.try_counts[0]) == (50, "", 25)  # 25th started


@SQLITE_ONLY
def test_outdial_replay_prints_an_erased_target_blank_and_says_so(
    storage: Storage, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = uuid4()
    with _process(storage) as services:
        _, target_id = _person(services.service, customer)
        services.service.erase_targets(customer, [target_id])
        _project(services)
    assert main(["replay", str(target_id), "--data-dir", str(storage.data_dir)]) == 0
    out = capsys.readouterr().out
    headers = [block.splitlines()[0] for block in out.split("\n\n")[1:]]
    assert [h.endswith("(erased)") for h in headers] == [True, True, False, False]
    assert NUMBER not in out
    assert NAME not in out


def test_an_outdials_erasure_from_a_list_gone_stale_writes_nothing_and_may_be_retried(
    storage: Storage,
) -> None:
    customer = uuid4()
    with _process(storage) as services:
        service = services.service
        outdial_id, target_id = _person(service, customer, dials=0)
        dial = service.start_dial(customer, outdial_id, target_id).value
        service.delete_outdial(customer, outdial_id)
        _project(services)
        # A dial in flight ends, and the read model has not applied it yet: its list of
        # the outdial's targets is a version behind.
        service.finish_dial(customer, outdial_id, target_id, dial.id, result="success")
        head = services.events.head()
        with pytest.raises(ConcurrentChange):
            service.erase_outdial(customer, outdial_id, candidates=services.read_model.queries)
        assert services.events.head() == head
        _project(services)
        erasure = service.erase_outdial(
            customer, outdial_id, candidates=services.read_model.queries
        ).value
        assert erasure.count == 1
        _project(services)
        assert _key_count(storage, target_id) == 0
        assert verify(services.events, services.read_model.view)[1] == []


@pytest.mark.parametrize("as_listed", [True, False], ids=["by-the-index", "row-by-row"])
def test_an_outdials_erasure_deletes_and_blanks_its_targets_as_a_replay_reads_them(
    storage: Storage, as_listed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    decided: list[str | None] = []
    judge = erasures._deleted_as_listed

    def judged(found: Any, deleted: Any) -> str | None:
        # As listed, the deletions go by the index; else (a change of a row in the same
        # batch, say) each row is written as any change is.
        decided.append(judge(found, deleted) if as_listed else None)
        return decided[-1]

    monkeypatch.setattr(erasures, "_deleted_as_listed", judged)
    customer = uuid4()
    with _process(storage) as services:
        service = services.service
        outdial_id, first = _person(service, customer, dials=2)
        others = [
            service.create_target(
                customer, outdial_id, NewTarget([Address("tel", NUMBER), None, None, None, None])
            ).value.id
            for _ in range(4)
        ]
        service.delete_target(customer, outdial_id, others[0])  # deleted before: kept so
        service.delete_outdial(customer, outdial_id)
        _project(services)
        service.erase_outdial(customer, outdial_id, candidates=services.read_model.queries)
        _project(services)
        for target_id in [first, *others]:
            row = _row(services, customer, outdial_id, target_id)
            assert (row["name"], row["destination_0"]) == ("", BLANK.as_dict())
            assert row["tm_delete"] != NOT_DELETED
        assert verify(services.events, services.read_model.view)[1] == []
    assert len(decided) == 1
    assert (decided[0] is not None) == as_listed
