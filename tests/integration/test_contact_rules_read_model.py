"""The read model of the contact rules (SPEC §10) on both stores: an outdial's status and
calling window, a dial's zones, the do-not-call list read by id, by page and by the number
it blocks, and verify catching rows that disagree with the events."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking

from adapters.event_log import StoredEventLog
from application.service import NewEntry, NewTarget, OutdialService
from domain.address import Address
from domain.calling_window import CallingWindow
from domain.do_not_call import EVERY_OUTDIAL
from domain.plan import DEFAULT_PLAN
from domain.timeline import NOT_DELETED, format_timestamp
from projections.paging import InvalidPageToken
from projections.runner import ReadModel
from projections.verify import verify
from tests.conftest import START, FakeClock, new_target
from tests.integration.conftest import caught_up

WINDOW = CallingWindow.parse(
    {
        "time_zone": "Asia/Seoul",
        "hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "24:00"}],
        "closed_dates": ["2026-12-25"],
        "stop_before_end_seconds": 60,
    }
)
ENTRY_FIELDS = {
    "id",
    "customer_id",
    "target",
    "match",
    "outdial_id",
    "reason",
    "expires_at",
    "actor",
    "tm_create",
    "tm_update",
    "tm_delete",
}


def test_an_outdials_row_shows_its_status_and_window_and_a_dial_its_zones(
    stored_service: OutdialService, read_model: ReadModel, clock: FakeClock, customer: UUID
) -> None:
    service, queries = stored_service, read_model.queries
    outdial = service.create_outdial(customer).value.id
    service.change_outdial_plan(customer, outdial, {"max_try_count_0": 3})
    target = service.create_target(customer, outdial, new_target("+821100000001")).value.id
    unwindowed = service.start_dial(customer, outdial, target).value
    service.finish_dial(customer, outdial, target, unwindowed.id, result="fail")
    assert caught_up(read_model)
    row = queries.get_outdial(customer, outdial)
    assert row is not None
    assert (row["status"], row["calling_window"]) == ("running", None)

    service.pause_outdial(customer, outdial, reason="complaint", actor="kid_000000000001")
    service.change_calling_window(customer, outdial, WINDOW)
    assert caught_up(read_model)
    row = queries.get_outdial(customer, outdial)
    assert row is not None
    assert (row["status"], row["calling_window"]) == ("paused", WINDOW.as_dict())

    service.resume_outdial(customer, outdial)
    clock.advance(seconds=1)
    windowed = service.start_dial(customer, outdial, target).value
    assert caught_up(read_model)
    row = queries.get_outdial(customer, outdial)
    assert row is not None
    assert row["status"] == "running"
    dials = {d["id"]: d for d in queries.search_dials(customer).rows}
    assert dials[str(windowed.id)]["time_zones"] == ["Asia/Seoul"]
    assert dials[str(unwindowed.id)]["time_zones"] == []

    service.change_calling_window(customer, outdial, None)
    assert caught_up(read_model)
    row = queries.get_outdial(customer, outdial)
    assert row is not None
    assert row["calling_window"] is None


def test_the_do_not_call_list_reads_by_id_by_page_and_by_what_it_blocks(
    stored_service: OutdialService, read_model: ReadModel, clock: FakeClock, customer: UUID
) -> None:
    service, queries = stored_service, read_model.queries
    outdial = service.create_outdial(customer).value.id
    other = service.create_outdial(customer).value.id
    added = {}
    expires = clock.now + timedelta(hours=1)
    for name, entry in [
        ("exact", NewEntry("+12125550100", reason="asked")),
        ("prefix", NewEntry("+1212", match="prefix")),
        ("short prefix", NewEntry("+121", match="prefix", outdial_id=other)),
        ("scoped", NewEntry("+12125550100", outdial_id=outdial)),
        (
            "expiring",
            NewEntry(
                "+1212555",
                match="prefix",
                expires_at=expires,
                keep_expiry=False,
            ),
        ),
        ("removed", NewEntry("+12125550", match="prefix")),
        ("sip", NewEntry("ops@example.com")),
        ("another number", NewEntry("+821100000001")),
    ]:
        clock.advance(seconds=1)
        [added[name]] = service.add_do_not_call(customer, [entry], actor="kid_000000000001").value
    clock.advance(seconds=1)
    service.remove_do_not_call(customer, added["removed"].id, actor="kid_000000000002")
    service.add_do_not_call(uuid4(), [NewEntry("+12125550100")])  # another customer's
    assert caught_up(read_model)

    row = queries.get_do_not_call(customer, added["removed"].id)
    assert row is not None
    assert set(row) >= ENTRY_FIELDS
    assert row["tm_delete"] == format_timestamp(clock.now)
    assert row["actor"] == "kid_000000000002"
    row = queries.get_do_not_call(customer, added["expiring"].id)
    assert row is not None
    assert (row["target"], row["match"], row["outdial_id"]) == (
        "+1212555",
        "prefix",
        str(EVERY_OUTDIAL),
    )
    assert row["expires_at"] == format_timestamp(expires)
    assert queries.get_do_not_call(uuid4(), added["exact"].id) is None

    def ids(
        *,
        target: str | None = None,
        outdial_id: UUID | None = None,
        include_deleted: bool = False,
    ) -> list[str]:
        page = queries.page_do_not_call(
            customer,
            target=target,
            outdial_id=outdial_id,
            include_deleted=include_deleted,
            now=clock.now,
            page_size=100,
        )
        return [r["id"] for r in page.rows]

    newest_first = [str(added[n].id) for n in reversed(list(added))]
    assert ids() == [i for i in newest_first if i != str(added["removed"].id)]
    assert ids(include_deleted=True) == newest_first
    assert ids(outdial_id=outdial) == [str(added["scoped"].id)]
    # What blocks a number now, in any outdial; or in one, with the global entries.
    blocking = {"exact", "prefix", "short prefix", "scoped", "expiring"}
    assert set(ids(target="+12125550100")) == {str(added[n].id) for n in blocking}
    assert set(ids(target="+12125550100", outdial_id=outdial)) == {
        str(added[n].id) for n in blocking - {"short prefix"}
    }
    clock.advance(hours=1)  # the expiring entry has expired
    assert set(ids(target="+12125550100", outdial_id=other)) == {
        str(added[n].id) for n in {"exact", "prefix", "short prefix"}
    }
    assert ids(target="ops@example.com") == [str(added["sip"].id)]
    assert ids(target="+1212ab") == []  # no number: prefixes do not block it
    assert ids(target="+821100000001") == [str(added["another number"].id)]

    pages, token = [], ""
    while True:
        page = queries.page_do_not_call(
            customer, now=clock.now, page_size=3, include_deleted=True, page_token=token
        )
        pages.append([r["id"] for r in page.rows])
        token = page.next_page_token
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [i for p in pages for i in p] == newest_first
    token = queries.page_do_not_call(customer, now=clock.now, page_size=1).next_page_token
    with pytest.raises(InvalidPageToken):  # a token of another list
        queries.page_do_not_call(
            customer, now=clock.now, page_size=1, include_deleted=True, page_token=token
        )


def test_an_entry_added_again_after_removal_is_live_again_under_its_id(
    stored_service: OutdialService, read_model: ReadModel, clock: FakeClock, customer: UUID
) -> None:
    service, queries = stored_service, read_model.queries
    [entry] = service.add_do_not_call(customer, [NewEntry("+821100000001", reason="first")]).value
    service.remove_do_not_call(customer, entry.id)
    clock.advance(seconds=5)
    [again] = service.add_do_not_call(customer, [NewEntry("+821100000001", reason="again")]).value
    assert caught_up(read_model)
    assert again.id == entry.id
    row = queries.get_do_not_call(customer, entry.id)
    assert row is not None
    assert (row["tm_delete"], row["reason"], row["version"]) == (NOT_DELETED, "again", 3)
    assert row["tm_update"] == format_timestamp(clock.now)


def test_verify_names_entries_and_zone_sets_that_disagree_with_the_events(
    stored_service: OutdialService,
    events: StoredEventLog,
    read_model: ReadModel,
    customer: UUID,
) -> None:
    service = stored_service
    outdial = service.create_outdial(customer).value.id
    service.create_targets(
        customer,
        outdial,
        [NewTarget([Address("tel", "+821100000001"), None, None, None, None])],
    )
    [entry] = service.add_do_not_call(customer, [NewEntry("+1212", match="prefix")]).value
    assert caught_up(read_model)
    assert verify(events, read_model.view)[1] == []
    with read_model.view.tracked(Tracking("tamper", 1)) as rows:
        rows.execute("UPDATE do_not_call SET match = 'exact' WHERE id = :id", {"id": str(entry.id)})
        rows.execute("DELETE FROM outdial_zone_sets")
        rows.execute("DELETE FROM do_not_call_prefix_lengths")
        rows.execute(
            "INSERT INTO outdial_zone_sets (outdial_id, zones, first) "
            "VALUES (:o, 'Europe/London', 1)",
            {"o": str(outdial)},
        )
    found = {(d.table, d.row_id, d.field) for d in verify(events, read_model.view)[1]}
    assert found == {
        ("do_not_call", str(entry.id), "match"),
        ("outdial_zone_sets", f"{outdial} Asia/Seoul 1", "*"),
        ("outdial_zone_sets", f"{outdial} Europe/London 1", "*"),
        ("do_not_call_prefix_lengths", f"{customer} 5", "*"),
    }


def test_dispatch_candidates_go_on_from_where_the_last_ended_then_from_the_oldest(
    stored_service: OutdialService, read_model: ReadModel, clock: FakeClock, customer: UUID
) -> None:
    """Targets that stay idle without being dialable (on the list, here) are passed over
    once a round, not by every dispatch: each look goes on from the previous one."""
    service, queries = stored_service, read_model.queries
    outdial = service.create_outdial(customer).value.id
    made = []
    for n in range(12):  # one at a time: each a tm_update of its own
        clock.advance(seconds=1)
        number = f"+8210000000{n:02d}"
        made.append(service.create_target(customer, outdial, new_target(number)).value.id)
    service.add_do_not_call(customer, [NewEntry("+821000000000"), NewEntry("+821000000005")])
    assert caught_up(read_model)
    dialable = [t for n, t in enumerate(made) if n not in (0, 5)]

    def candidates(limit: int) -> list[UUID]:
        return queries.available_target_ids(
            customer, outdial, plan=DEFAULT_PLAN, now=clock.now, limit=limit
        )

    assert candidates(4) == dialable[:4]
    assert candidates(4) == dialable[4:8]
    assert candidates(4) == [*dialable[8:], *dialable[:2]]  # the end, then the oldest
    assert candidates(100) == [*dialable[2:], *dialable[:2]]
    # GET available is always the oldest first.
    rows = queries.available_targets(customer, outdial, plan=DEFAULT_PLAN, now=clock.now, limit=4)
    assert [UUID(r["id"]) for r in rows] == dialable[:4]
    service.pause_outdial(customer, outdial)
    assert caught_up(read_model)
    assert candidates(4) == []
    service.resume_outdial(customer, outdial)
    assert caught_up(read_model)
    assert candidates(4) == dialable[:4]  # none left where it ended: the oldest first


def test_each_contact_rule_write_is_visible_to_the_next_read(
    stored_service: OutdialService, read_model: ReadModel, customer: UUID
) -> None:
    """The projection follows every new event: a writer waiting for its position is never
    left waiting for an event the read model does not show."""
    service, queries = stored_service, read_model.queries
    outdial = service.create_outdial(customer).value.id
    positions = [
        service.pause_outdial(customer, outdial, reason="complaint").position,
        service.change_calling_window(customer, outdial, WINDOW).position,
        service.resume_outdial(customer, outdial).position,
        service.add_do_not_call(customer, [NewEntry("+821100000001")]).position,
    ]
    for position in positions:  # each, though a later one may have been applied with it
        assert position is not None
        assert read_model.wait_until_applied(position, timeout=5)
    [entry] = queries.page_do_not_call(customer, now=START, page_size=10).rows
    assert read_model.wait_until_applied(
        service.remove_do_not_call(customer, UUID(entry["id"])).position, timeout=5
    )
    removed = queries.get_do_not_call(customer, UUID(entry["id"]))
    assert removed is not None
    assert removed["tm_delete"] != NOT_DELETED
    row = queries.get_outdial(customer, outdial)
    assert row is not None
    assert (row["status"], row["calling_window"]) == ("running", WINDOW.as_dict())
