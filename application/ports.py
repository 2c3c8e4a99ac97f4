"""What the use cases need from outside, as the application names it. The adapters room
implements each for the embedded store and PostgreSQL; the composition root
(api/bootstrap.py) plugs them in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent


class BulkEventReads(Protocol):
    """Reads of many aggregates' events at once, which the library's recorders lack (a
    dispatch reads its whole claim, an import asks which of a batch's ids exist)."""

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of these aggregates, by aggregate then version."""
        ...

    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Those of these ids that have events."""
        ...

    def first_events_lacking(self, originator_ids: Sequence[UUID], mark: bytes) -> list[UUID]:
        """Those of these ids whose first stored event's state does not hold ``mark``,
        told by the store without sending the states."""
        ...


class ReadsOneAtATime:
    """``BulkEventReads`` by the library's own queries, an aggregate at a time: for a
    store without SQL (memory)."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self._recorder = recorder

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        return [e for i in sorted(originator_ids) for e in self._recorder.select_events(i)]

    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        return {i for i in originator_ids if self._recorder.select_events(i, limit=1)}

    def first_events_lacking(self, originator_ids: Sequence[UUID], mark: bytes) -> list[UUID]:
        firsts = ((i, self._recorder.select_events(i, limit=1)) for i in originator_ids)
        return [i for i, first in firsts if first and mark not in first[0].state]


def bulk_reads_of(recorder: ApplicationRecorder) -> BulkEventReads:
    """The recorder itself when it reads in bulk (the adapters' recorders do), else one
    that reads an aggregate at a time."""
    if (
        hasattr(recorder, "select_events_of")
        and hasattr(recorder, "existing_originators")
        and hasattr(recorder, "first_events_lacking")
    ):
        bulk: BulkEventReads = recorder
        return bulk
    return ReadsOneAtATime(recorder)


# An event as recorded: its notification id, and the event.
Recorded = tuple[int, Any]
# Told the events of each write, with their notification ids, once it is committed.
RecordedListener = Callable[[Sequence[Recorded]], None]
