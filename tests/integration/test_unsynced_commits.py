"""A bulk writer's commits that do not each wait for the disk (`unsynced_commits`)."""

from __future__ import annotations

import os
from typing import Any
from uuid import uuid4

import pytest

from adapters.library import WakingSQLiteApplicationRecorder, unsynced_commits
from application.service import OutdialService
from tests.conftest import new_target

FULL, NORMAL = 2, 1


def _level(cursor: Any) -> int:
    cursor.execute("PRAGMA synchronous")
    level: int = cursor.fetchone()[0]
    return level


def test_commits_in_the_block_skip_the_disk_and_all_are_on_it_after(
    stored_service: OutdialService, monkeypatch: pytest.MonkeyPatch
) -> None:
    outdial = stored_service.create_outdial(uuid4()).value
    recorder = stored_service.recorder
    levels: list[int] = []  # the safety level each insert committed with
    if isinstance(recorder, WakingSQLiteApplicationRecorder):
        insert = recorder._insert_events

        def seen(cursor: Any, stored: Any, **kwargs: Any) -> Any:
            levels.append(_level(cursor))
            return insert(cursor, stored, **kwargs)

        monkeypatch.setattr(recorder, "_insert_events", seen)
    synced: list[int] = []
    fsync = os.fsync

    def counted_fsync(descriptor: int) -> None:
        synced.append(descriptor)
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", counted_fsync)

    def one_target() -> None:
        stored_service.create_targets(
            outdial.customer_id, outdial.id, [new_target("+821100000001")]
        )

    with unsynced_commits(recorder):
        one_target()
        one_target()
    one_target()

    assert len(stored_service.recorder.select_notifications(start=1, limit=10)) == 4
    if isinstance(recorder, WakingSQLiteApplicationRecorder):
        assert levels == [NORMAL, NORMAL, FULL]  # after the block, as before it
        assert len(synced) == 1  # the write-ahead log, once, when the block ended
    else:
        assert synced == []  # other stores commit as always
