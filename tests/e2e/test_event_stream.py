"""The event feed followed live as Server-Sent Events, over a real socket: the stored
events, then new ones within a second, resumed after Last-Event-ID with nothing missed or
repeated, checkpoints for a reader whose events are few."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapters.stores import Storage
from tests.e2e.conftest import TEL_0, app_on, bearer, new_key, tel
from tests.e2e.live import EventStream, served

STREAM = "/v1.0/events/stream"


class Live:
    """One app on a socket, and a customer's client of it."""

    def __init__(self, url: str, app: FastAPI) -> None:
        self.url = url
        self.app = app
        self.key = new_key(app)
        self.http = httpx.Client(base_url=url, headers=bearer(self.key), timeout=30)

    def stream(self, key: str | None = None, **params: Any) -> EventStream:
        headers = bearer(key or self.key)
        if "last_event_id" in params:
            headers["Last-Event-ID"] = str(params.pop("last_event_id"))
        return EventStream(self.url + STREAM, headers=headers, params=params)

    def outdial(self) -> str:
        answer = self.http.post("/v1.0/outdials", json={})
        assert answer.status_code == 200, answer.text
        outdial_id: str = answer.json()["id"]
        return outdial_id

    def target(self, outdial_id: str) -> str:
        answer = self.http.post(
            f"/v1.0/outdials/{outdial_id}/targets", json={"destination_0": tel(TEL_0)}
        )
        assert answer.status_code == 200, answer.text
        target_id: str = answer.json()["id"]
        return target_id


@pytest.fixture
def live(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    # Comments often, so a reader that hangs up is noticed soon (the default is 15 s).
    monkeypatch.setattr("api.http.routes.events.KEEP_ALIVE_S", 0.5)
    app = app_on(storage)
    with served(app) as url:
        yield Live(url, app)


def test_a_stream_sends_the_stored_events_then_each_new_one_within_a_second(
    live: Live,
) -> None:
    outdial_id = live.outdial()
    live.target(outdial_id)
    stream = live.stream()
    try:
        assert stream.status == 200
        stored = stream.events(2)
        assert [s.event for s in stored] == ["Outdial.Created", "Target.Created"]
        assert [s.id for s in stored] == [str(s.json()["position"]) for s in stored]
        for _ in range(3):
            written = time.monotonic()
            target_id = live.target(outdial_id)
            (new,) = stream.events(1)
            assert new.json()["aggregate_id"] == target_id
            assert new.at - written < 1.0
    finally:
        stream.close()


def test_a_reader_resumes_after_its_last_event_id_missing_and_repeating_nothing(
    live: Live,
) -> None:
    outdial_id = live.outdial()
    made = [live.target(outdial_id) for _ in range(3)]
    first = live.stream()
    try:
        seen = first.events(4)[1:]  # the outdial's, then its targets'
    finally:
        first.close()
    made += [live.target(outdial_id) for _ in range(2)]  # while nobody listened
    second = live.stream(last_event_id=seen[-1].id)
    try:
        rest = second.events(2)
        made.append(live.target(outdial_id))
        rest += second.events(1)
    finally:
        second.close()
    received = [s.json() for s in seen + rest]
    assert [e["position"] for e in received] == sorted({e["position"] for e in received})
    targets = [e["aggregate_id"] for e in received if e["type"] == "Target.Created"]
    assert targets == made


def test_a_filtered_stream_sends_only_what_matches(live: Live) -> None:
    outdial_id = live.outdial()
    stream = live.stream(types="Target.DialStarted")
    try:
        target_id = live.target(outdial_id)
        dial = live.http.post(f"/v1.0/outdials/{outdial_id}/targets/{target_id}/dials")
        assert dial.status_code == 200, dial.text
        (started,) = stream.events(1)
        assert "outdial_event_streams 1.0" in live.http.get("/metrics").text
        assert started.event == "Target.DialStarted"
        assert started.json()["data"]["dial_id"] == dial.json()["id"]
    finally:
        stream.close()


def test_a_quiet_reader_gets_comments_and_a_checkpoint_when_the_log_moves_on(
    live: Live,
) -> None:
    other = live.stream(key=new_key(live.app))
    try:
        outdial_id = live.outdial()
        live.target(outdial_id)
        last = live.http.get("/v1.0/events", params={"limit": 1000}).json()["result"][-1]
        deadline = time.monotonic() + 10
        comments, checkpoint = 0, None
        while checkpoint is None or comments == 0:
            item = other.next(max(0.01, deadline - time.monotonic()))
            if item.comment is not None:
                comments += 1
            else:
                assert item.event == "checkpoint", item
                checkpoint = item
        assert int(checkpoint.id) >= last["position"]
        assert checkpoint.json() == {"position": int(checkpoint.id)}
    finally:
        other.close()


@pytest.mark.parametrize("said", [b"ten", b"-1", b"1.5", b"\xb2", b"9" * 20, b"9" * 5000])
def test_a_bad_last_event_id_is_400(live: Live, said: bytes) -> None:
    answer = live.http.get(STREAM, headers={b"Last-Event-ID": said})
    assert answer.status_code == 400
    assert "Last-Event-ID" in answer.json()["error"]["message"]
