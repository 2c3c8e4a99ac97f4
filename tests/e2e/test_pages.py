"""The pages under /ui, as a browser without JavaScript gets them, on both stores."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    create_outdial,
    create_target,
    dispatch,
    finish,
    host_of,
    ok,
    set_plan,
)


@pytest.fixture
def browser(app: FastAPI, client: TestClient, key: str) -> Iterator[TestClient]:
    """A browser signed in as the first customer: the session cookie, no header."""
    with TestClient(app, follow_redirects=False) as signed_in:
        signed_in.get(f"/ui/outdials?token={key}")
        assert "outdial_session" in signed_in.cookies
        yield signed_in


def text_of(page: Any) -> str:
    """What a person reads on the page: its text without tags, spaces collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", page.text)
    return " ".join(html.unescape(without_tags).split())


def campaign(client: TestClient) -> dict[str, Any]:
    """An outdial with a target dialed twice (busy, then answered) and one never dialed."""
    outdial = create_outdial(client, name="spring list")
    set_plan(client, outdial["id"], max_try_count_0=2)
    alice = create_target(client, outdial["id"], TEL_0, TEL_1, name="Alice")
    first = ok(dispatch(client, outdial["id"]))["result"][0]
    finish(client, first, "fail", "busy")
    second = ok(dispatch(client, outdial["id"]))["result"][0]
    finish(client, second, "success", "answered")
    bob = create_target(client, outdial["id"], "+821100000009", name="Bob")
    return {"outdial": outdial, "alice": alice, "bob": bob, "dials": [first, second]}


def test_a_page_without_a_key_answers_the_sign_in_form(app: FastAPI) -> None:
    with TestClient(app) as anonymous:
        page = anonymous.get("/ui/outdials")
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert "Sign in with an API key" in text_of(page)
    assert '<input id="token" name="token" type="password"' in page.text
    assert '<form class="sign-in" method="get" action="/ui/outdials">' in page.text


def test_a_token_sets_a_strict_http_only_cookie_and_leaves_the_address(
    app: FastAPI, client: TestClient, key: str
) -> None:
    outdial = create_outdial(client, name="spring list")
    with TestClient(app, follow_redirects=False) as anonymous:
        opened = anonymous.get(f"/ui/outdials/{outdial['id']}?status=idle&token={key}")
        assert opened.status_code == 303
        assert opened.headers["location"] == f"/ui/outdials/{outdial['id']}?status=idle"
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith(f"outdial_session={key};")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/ui" in cookie
        followed = anonymous.get(opened.headers["location"])
    assert followed.status_code == 200
    assert "spring list" in text_of(followed)


def test_a_wrong_key_is_refused_and_guessing_is_throttled(app: FastAPI) -> None:
    with TestClient(app) as guesser:
        wrong = guesser.get("/ui/outdials?token=odk_wrong")
        assert wrong.status_code == 401
        assert "That key is not valid" in text_of(wrong)
        for _ in range(25):
            last = guesser.get("/ui/outdials?token=odk_wrong")
    assert last.status_code == 429
    assert "Retry-After" in last.headers
    assert "too many requests without a valid API key" in text_of(last)


def test_a_revoked_key_ends_the_session(app: FastAPI, browser: TestClient, key: str) -> None:
    assert browser.get("/ui/outdials").status_code == 200
    keys = host_of(app).services.keys
    keys.revoke(key)
    page = browser.get("/ui/outdials")
    assert page.status_code == 401
    assert "no longer valid" in text_of(page)
    assert 'outdial_session=""' in page.headers["set-cookie"]


def test_signing_out_forgets_the_cookie(browser: TestClient) -> None:
    out = browser.post("/ui/sign-out")
    assert out.status_code == 303
    assert out.headers["location"] == "/ui/outdials"
    assert browser.get("/ui/outdials").status_code == 401


def test_the_outdials_page_counts_each_outdials_targets_by_status(
    client: TestClient, browser: TestClient, other_key: str
) -> None:
    made = campaign(client)
    create_outdial(client, name="autumn list")
    with TestClient(client.app, headers={"Authorization": f"Bearer {other_key}"}) as other:
        create_outdial(other, name="someone else's")

    page = browser.get("/ui/outdials")

    assert page.status_code == 200
    seen = text_of(page)
    assert "spring list" in seen
    assert "autumn list" in seen
    assert "someone else's" not in seen
    row = re.search(rf'href="/ui/outdials/{made["outdial"]["id"]}".*?</tr>', page.text, re.S)
    assert row is not None
    numbers = re.findall(r'<td class="n">(\d+)</td>', row.group(0))
    assert numbers == ["1", "0", "1", "2"]  # idle (Bob), dialing, done (Alice), all


def test_the_outdial_page_shows_its_plan_and_its_targets_filtered_by_status(
    client: TestClient, browser: TestClient
) -> None:
    made = campaign(client)
    path = f"/ui/outdials/{made['outdial']['id']}"

    every = text_of(browser.get(path))
    done = browser.get(path + "?status=done")
    unfiltered = browser.get(path + "?status=")

    assert "Alice" in every
    assert "Bob" in every
    assert "60000 ms" in every  # the plan's dial timeout
    assert "Alice" in text_of(done)
    assert "Bob" not in text_of(done)
    assert "Bob" in text_of(unfiltered)  # an empty form field filters nothing
    assert '<option value="done" selected>' in done.text
    # Deleted targets only when asked for, marked as such.
    ok(client.delete(f"/v1.0/outdials/{made['outdial']['id']}/targets/{made['bob']['id']}"))
    assert "Bob" not in text_of(browser.get(path))
    with_deleted = browser.get(path + "?include_deleted=true")
    assert "Bob" in text_of(with_deleted)
    assert '<span class="badge deleted">deleted</span>' in with_deleted.text


def test_the_target_page_draws_every_event_and_dial_and_the_replay(
    client: TestClient, browser: TestClient
) -> None:
    made = campaign(client)
    alice = made["alice"]

    page = browser.get(f"/ui/outdials/{made['outdial']['id']}/targets/{alice['id']}")

    assert page.status_code == 200
    seen = text_of(page)
    svg = re.search(r'<svg class="timeline".*?</svg>', page.text, re.S)
    assert svg is not None
    drawing = svg.group(0)
    assert drawing.count('<rect class="bar"') == 2
    assert drawing.count('<circle class="marker') == 5  # Created, 2 starts, 2 finishes
    assert "v2\N{EN DASH}v3 dial tel:+821100000001 (destination 0, try 1)" in drawing
    assert "fail · busy ·" in drawing
    assert "v4\N{EN DASH}v5 dial tel:+821100000001 (destination 0, try 2)" in drawing
    assert "success · answered ·" in drawing
    assert "5 events and 2 dial attempts" in seen
    # The replay: one step an event, with what it changed.
    steps = re.findall(r'<li class="step" id="v(\d+)">', page.text)
    assert steps == ["1", "2", "3", "4", "5"]
    assert "v5 DialFinished" in seen
    assert "result success reason answered" in seen
    assert "progressing → done" in seen
    assert "Dialable now no: the target is done" in seen


def test_another_customers_target_is_not_found(
    app: FastAPI, client: TestClient, other_key: str
) -> None:
    made = campaign(client)
    with TestClient(app, follow_redirects=True) as other:
        page = other.get(
            f"/ui/outdials/{made['outdial']['id']}/targets/{made['alice']['id']}?token={other_key}"
        )
    assert page.status_code == 404
    assert "Not found" in text_of(page)
    assert "Alice" not in page.text


def test_the_dial_search_filters_as_the_api_does_and_refuses_what_it_would(
    client: TestClient, browser: TestClient
) -> None:
    made = campaign(client)

    busy = browser.get("/ui/dials?destination=%2B821100000001&result=fail&actor=&since=")
    everything = browser.get("/ui/dials")
    wrong_time = browser.get("/ui/dials?since=yesterday")
    wrong_id = browser.get("/ui/dials?target_id=42")

    assert busy.status_code == 200
    assert busy.text.count("<tr>") == 1 + 1  # the header and the busy dial
    assert "busy" in text_of(busy)
    assert 'value="+821100000001"' in busy.text  # the form keeps what was asked
    assert everything.text.count("<tr>") == 1 + len(made["dials"])
    assert wrong_time.status_code == 400
    assert "since: must be a time such as" in text_of(wrong_time)
    assert 'value="yesterday"' in wrong_time.text  # the form as it was filled in
    assert wrong_id.status_code == 400
    assert "target_id: Input should be a valid UUID" in text_of(wrong_id)
    assert "<tr>" not in wrong_id.text


def test_every_page_forbids_other_origins_scripts_and_caching(
    client: TestClient, browser: TestClient
) -> None:
    made = campaign(client)
    paths = [
        "/ui/outdials",
        f"/ui/outdials/{made['outdial']['id']}",
        f"/ui/outdials/{made['outdial']['id']}/targets/{made['alice']['id']}",
        "/ui/dials",
        "/ui/no-such-page",
    ]
    for path in paths:
        page = browser.get(path)
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy, path
        assert "http" not in policy, path  # no origin but the page's own
        assert page.headers["cache-control"] == "no-store", path
        assert page.headers["x-frame-options"] == "DENY", path
        assert page.headers["referrer-policy"] == "no-referrer", path
        assert "<script" not in page.text, path
        assert 'style="' not in page.text, path  # the policy allows no inline style
    style = browser.get("/ui/static/pages.css")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")


def test_long_lists_page_by_a_link(client: TestClient, browser: TestClient) -> None:
    outdial = create_outdial(client, name="big list")
    targets = [
        {"name": f"T{n:02d}", "destination_0": {"type": "tel", "target": f"+8211000{n:05d}"}}
        for n in range(55)
    ]
    ok(client.post(f"/v1.0/outdials/{outdial['id']}/targets/batch", json={"targets": targets}))

    first = browser.get(f"/ui/outdials/{outdial['id']}?status=idle")
    link = re.search(r'<p class="pager"><a href="\?([^"]+)">Older targets', first.text)
    assert link is not None
    second = browser.get(f"/ui/outdials/{outdial['id']}?" + html.unescape(link.group(1)))

    assert first.text.count('<span class="badge idle">') == 50
    assert second.text.count('<span class="badge idle">') == 5
    assert "Older targets" not in second.text
    names = re.findall(r">(T\d\d)</a>", first.text + second.text)
    assert sorted(names) == [f"T{n:02d}" for n in range(55)]
