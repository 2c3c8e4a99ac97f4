"""Group commit (application/group_commit.py): commands saved together are answered as
each would have been alone."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from application.group_commit import GroupCommit


class Counter(Aggregate):
    @event("Counted")
    def count(self) -> None:
        pass


class GatedRecorder:
    """The store's recorder, counting transactions; while ``gate`` is clear the first
    transaction waits on it, so that commands queue behind it."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.transactions: list[list[StoredEvent]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail_with: Exception | None = None

    def insert_events(self, stored: Sequence[StoredEvent], **kwargs: Any) -> Any:
        self.transactions.append(list(stored))
        self.entered.set()
        self.gate.wait(5)
        if self.fail_with is not None:
            raise self.fail_with
        return self.recorder.insert_events(stored, **kwargs)


@pytest.fixture
def app() -> Application[UUID]:
    return Application()


def commit_of(app: Application[UUID]) -> tuple[GroupCommit, GatedRecorder]:
    recorder = GatedRecorder(app.recorder)
    return GroupCommit(app.mapper, recorder), recorder  # type: ignore[arg-type]


def queued_behind_a_held_group(
    commits: GroupCommit, recorder: GatedRecorder, first: Aggregate, *rest: Aggregate | list[Any]
) -> dict[int, Any]:
    """``first`` commits alone and is held there while ``rest`` (aggregates, or events)
    queue in order, then everything goes on: what each of ``rest`` was answered."""
    recorder.gate.clear()
    answers: dict[int, Any] = {}

    def save(n: int, saved: Aggregate | list[Any]) -> None:
        events = saved if isinstance(saved, list) else saved.collect_events()
        try:
            answers[n] = commits.put(events)
        except Exception as error:
            answers[n] = error

    leader = threading.Thread(target=save, args=(-1, first))
    leader.start()
    assert recorder.entered.wait(5)
    others = []
    for n, aggregate in enumerate(rest):
        thread = threading.Thread(target=save, args=(n, aggregate))
        thread.start()
        others.append(thread)
        _wait_until(lambda n=n: len(commits._queued) == n + 1)
    recorder.gate.set()
    for thread in [leader, *others]:
        thread.join(5)
    return answers


def _wait_until(condition: Any) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_a_command_alone_is_recorded_as_the_event_store_records_it(
    app: Application[UUID],
) -> None:
    commits, recorder = commit_of(app)
    counter = Counter()
    counter.count()
    recorded = commits.put(counter.collect_events())
    assert [event.originator_version for _, event in recorded] == [1, 2]
    assert [notification_id for notification_id, _ in recorded] == [1, 2]
    assert len(recorder.transactions) == 1
    assert app.repository.get(counter.id).version == 2
    assert (commits.counts.transactions, commits.counts.commands) == (1, 1)


def test_commands_arriving_during_a_commit_share_the_next_transaction(
    app: Application[UUID],
) -> None:
    commits, recorder = commit_of(app)
    counters = [Counter() for _ in range(6)]
    answers = queued_behind_a_held_group(commits, recorder, counters[0], *counters[1:])
    assert len(recorder.transactions) == 2  # the held one, then all five queued
    for n, counter in enumerate(counters[1:]):
        ((_, event),) = answers[n]
        assert event.originator_id == counter.id
        assert app.repository.get(counter.id).version == 1
    positions = sorted(answers[n][0][0] for n in range(5))
    assert positions == [2, 3, 4, 5, 6]
    assert (commits.counts.transactions, commits.counts.commands) == (2, 6)


def test_two_commands_on_one_aggregate_in_a_group_the_first_wins_the_rest_land(
    app: Application[UUID],
) -> None:
    commits, recorder = commit_of(app)
    shared = Counter()
    app.save(shared)
    first, second = copy.deepcopy(shared), copy.deepcopy(shared)
    first.count()
    second.count()  # the same version: only one of the two can be recorded
    others = [Counter(), Counter()]
    answers = queued_behind_a_held_group(
        commits, recorder, Counter(), others[0], first, second, others[1]
    )
    assert isinstance(answers[2], IntegrityError)
    assert answers[1][0][1].originator_id == shared.id
    assert app.repository.get(shared.id).version == 2
    for aggregate in others:
        assert app.repository.get(aggregate.id).version == 1
    # held; the group refused whole; then each of its four alone
    assert len(recorder.transactions) == 1 + 1 + 4
    assert commits.counts.commands == 4  # the held one and three of the group


def test_two_commands_on_one_aggregate_in_a_group_keep_their_order(
    app: Application[UUID],
) -> None:
    commits, recorder = commit_of(app)
    counter = Counter()
    app.save(counter)
    counter.count()
    earlier = list(counter.collect_events())
    counter.count()
    later = list(counter.collect_events())
    answers = queued_behind_a_held_group(commits, recorder, Counter(), earlier, later)
    assert answers[0][0][0] < answers[1][0][0]
    assert app.repository.get(counter.id).version == 3
    assert len(recorder.transactions) == 2


def test_a_failing_store_fails_every_member_and_stores_nothing(
    app: Application[UUID],
) -> None:
    commits, recorder = commit_of(app)
    recorder.fail_with = OperationalError("the store went away")
    counters = [Counter() for _ in range(3)]
    answers = queued_behind_a_held_group(commits, recorder, counters[0], *counters[1:])
    assert all(isinstance(answers[n], OperationalError) for n in range(2))
    assert len(recorder.transactions) == 2  # never tried again: it might store twice
    assert app.recorder.max_notification_id() is None


def test_a_command_whose_events_cannot_be_encoded_fails_alone(
    app: Application[UUID],
) -> None:
    commits, _ = commit_of(app)
    events = Counter().collect_events()
    events[0].__dict__["unencodable"] = object()
    with pytest.raises(TypeError):
        commits.put(events)
    assert commits._queued == []
    fine = Counter()
    assert commits.put(fine.collect_events())[0][0] == 1


def test_a_group_holds_at_most_its_events_max_and_the_rest_follow(
    app: Application[UUID],
) -> None:
    recorder = GatedRecorder(app.recorder)
    commits = GroupCommit(app.mapper, recorder, events_max=3)  # type: ignore[arg-type]
    counters = [Counter() for _ in range(8)]
    queued_behind_a_held_group(commits, recorder, counters[0], *counters[1:])
    assert [len(t) for t in recorder.transactions] == [1, 3, 3, 1]
    assert all(app.repository.get(c.id).version == 1 for c in counters)


def test_many_concurrent_commands_are_each_recorded_once_in_fewer_transactions(
    app: Application[UUID],
) -> None:
    class SlowRecorder(GatedRecorder):
        def insert_events(self, stored: Sequence[StoredEvent], **kwargs: Any) -> Any:
            time.sleep(0.002)  # a commit's flush: what lets the next commands queue
            return super().insert_events(stored, **kwargs)

    recorder = SlowRecorder(app.recorder)
    commits = GroupCommit(app.mapper, recorder, events_max=7)  # type: ignore[arg-type]
    counters = [Counter() for _ in range(200)]
    answered: list[int] = []

    def save(counter: Counter) -> None:
        answered.extend(i for i, _ in commits.put(counter.collect_events()))

    threads = [threading.Thread(target=save, args=(c,)) for c in counters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(answered) == list(range(1, 201))
    assert all(app.repository.get(c.id).version == 1 for c in counters)
    assert commits.counts.commands == 200
    assert commits.counts.transactions == len(recorder.transactions) < 200
    assert max(len(t) for t in recorder.transactions) <= 7
