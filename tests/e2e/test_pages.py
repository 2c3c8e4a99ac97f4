"""The pages under /ui, as a browser without JavaScript gets them: on both stores what the
read model shows, on SQLite alone the sign-in, the headers and the error pages."""

from __future__ import annotations

import html
import re
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.keys import key_hash, key_id
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    bearer,
    create_outdial,
    create_target,
    dispatch,
    finish,
    ok,
    serving_of,
    set_plan,
    text_of,
)

pytestmark = pytest.mark.shared_app


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


@SQLITE_ONLY
def test_a_page_without_a_key_answers_the_sign_in_form(app: FastAPI) -> None:
    with TestClient(app) as anonymous:
        page = anonymous.get("/ui/outdials")
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert "Sign in with an API key" in text_of(page)
    assert '<input id="token" name="token" type="password"' in page.text
    assert '<form class="sign-in" method="get" action="/ui/outdials">' in page.text


@SQLITE_ONLY
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


@pytest.mark.own_app  # guesses from its address are counted store-wide
@SQLITE_ONLY
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


@SQLITE_ONLY
def test_a_revoked_key_ends_the_session(app: FastAPI, signed_in: TestClient, key: str) -> None:
    assert signed_in.get("/ui/outdials").status_code == 200
    keys = serving_of(app).services.keys
    keys.revoke(key)
    page = signed_in.get("/ui/outdials")
    assert page.status_code == 401
    assert "no longer valid" in text_of(page)
    assert 'outdial_session=""' in page.headers["set-cookie"]


@SQLITE_ONLY
def test_another_site_cannot_sign_a_person_out(signed_in: TestClient) -> None:
    for site in ("cross-site", "same-site"):
        out = signed_in.post("/ui/sign-out", headers={"Sec-Fetch-Site": site})
        assert out.status_code == 303
        assert "set-cookie" not in out.headers
    assert signed_in.get("/ui/outdials").status_code == 200


@SQLITE_ONLY
def test_signing_out_forgets_the_cookie(signed_in: TestClient) -> None:
    out = signed_in.post("/ui/sign-out", headers={"Sec-Fetch-Site": "same-origin"})
    assert out.status_code == 303
    assert out.headers["location"] == "/ui/outdials"
    assert signed_in.get("/ui/outdials").status_code == 401


def test_the_outdials_page_counts_each_outdials_targets_by_status(
    client: TestClient, signed_in: TestClient, other_key: str
) -> None:
    made = campaign(client)
    create_outdial(client, name="autumn list")
    with TestClient(client.app, headers={"Authorization": f"Bearer {other_key}"}) as other:
        create_outdial(other, name="someone else's")

    page = signed_in.get("/ui/outdials")

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
    client: TestClient, signed_in: TestClient
) -> None:
    made = campaign(client)
    path = f"/ui/outdials/{made['outdial']['id']}"

    every = text_of(signed_in.get(path))
    done = signed_in.get(path + "?status=done")
    unfiltered = signed_in.get(path + "?status=")

    assert "Alice" in every
    assert "Bob" in every
    assert "60000 ms" in every  # the plan's dial timeout
    assert "No retry rules" in every
    rules = [
        {"reason": "busy", "action": "retry", "retry_interval": 300_000},
        {"reason": "fax", "action": "next_destination"},
        {"reason": "amd", "action": "retry"},
    ]
    ok(client.put(f"/v1.0/outdials/{made['outdial']['id']}/plan", json={"retry_rules": rules}))
    ruled = text_of(signed_in.get(path))
    assert "busy retry 300000 ms" in ruled
    assert "fax next_destination amd retry the try interval" in ruled  # no "ms" alone
    assert "Alice" in text_of(done)
    assert "Bob" not in text_of(done)
    assert "Bob" in text_of(unfiltered)  # an empty form field filters nothing
    assert '<option value="done" selected>' in done.text
    # Deleted targets only when asked for, marked as such.
    ok(client.delete(f"/v1.0/outdials/{made['outdial']['id']}/targets/{made['bob']['id']}"))
    assert "Bob" not in text_of(signed_in.get(path))
    with_deleted = signed_in.get(path + "?include_deleted=true")
    assert "Bob" in text_of(with_deleted)
    assert '<span class="badge deleted">deleted</span>' in with_deleted.text


def test_the_target_page_draws_every_event_and_dial_and_the_replay(
    client: TestClient, signed_in: TestClient
) -> None:
    made = campaign(client)
    alice = made["alice"]

    page = signed_in.get(f"/ui/outdials/{made['outdial']['id']}/targets/{alice['id']}")

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
    assert "Dialable now no NOT_IDLE the target is done, not idle" in seen


@SQLITE_ONLY
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
    client: TestClient, signed_in: TestClient
) -> None:
    made = campaign(client)

    busy = signed_in.get("/ui/dials?destination=%2B821100000001&result=fail&actor=&since=")
    everything = signed_in.get("/ui/dials")
    wrong_time = signed_in.get("/ui/dials?since=yesterday")
    wrong_id = signed_in.get("/ui/dials?target_id=42")

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


@SQLITE_ONLY
def test_every_page_forbids_other_origins_scripts_and_caching(
    client: TestClient, signed_in: TestClient
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
        page = signed_in.get(path)
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy, path
        assert "http" not in policy, path  # no origin but the page's own
        assert page.headers["cache-control"] == "no-store", path
        assert page.headers["x-frame-options"] == "DENY", path
        assert page.headers["referrer-policy"] == "no-referrer", path
        assert "<script" not in page.text, path
        assert 'style="' not in page.text, path  # the policy allows no inline style
    style = signed_in.get("/ui/static/pages.css")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")


def test_long_lists_page_by_a_link(client: TestClient, signed_in: TestClient) -> None:
    outdial = create_outdial(client, name="big list")
    targets = [
        {"name": f"T{n:02d}", "destination_0": {"type": "tel", "target": f"+8211000{n:05d}"}}
        for n in range(55)
    ]
    ok(client.post(f"/v1.0/outdials/{outdial['id']}/targets/batch", json={"targets": targets}))

    first = signed_in.get(f"/ui/outdials/{outdial['id']}?status=idle")
    link = re.search(r'<p class="pager"><a href="\?([^"]+)">Older targets', first.text)
    assert link is not None
    second = signed_in.get(f"/ui/outdials/{outdial['id']}?" + html.unescape(link.group(1)))

    assert first.text.count('<span class="badge idle">') == 50
    assert second.text.count('<span class="badge idle">') == 5
    assert "Older targets" not in second.text
    names = re.findall(r">(T\d\d)</a>", first.text + second.text)
    assert sorted(names) == [f"T{n:02d}" for n in range(55)]


# -- signing in by a link from another site ----------------------------------------------

SIGN_OUT = 'action="/ui/sign-out"'


def hidden_fields(page: Any) -> dict[str, str]:
    """The hidden fields of the page's sign-in confirmation form."""
    form = re.search(
        r'<form class="confirm" method="post" action="/ui/sign-in">.*?</form>', page.text, re.S
    )
    assert form is not None, page.text
    return {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(0)
        )
    }


@SQLITE_ONLY
@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site"])
def test_a_token_from_another_site_asks_before_signing_in(
    app: FastAPI, client: TestClient, key: str, fetch_site: str
) -> None:
    outdial = create_outdial(client, name="spring list")
    page_path = f"/ui/outdials/{outdial['id']}?status=idle"
    with TestClient(app, follow_redirects=False) as led:
        asked = led.get(f"{page_path}&token={key}", headers={"Sec-Fetch-Site": fetch_site})
        wrong = led.get(f"{page_path}&token=odk_wrong", headers={"Sec-Fetch-Site": fetch_site})
        assert not led.cookies

    assert asked.status_code == 200
    assert "set-cookie" not in asked.headers
    seen = text_of(asked)
    assert "Another site sent you here to sign in" in seen
    assert key_id(key_hash(key)) in seen  # which key, by its public id
    assert key not in seen
    assert "spring list" not in seen  # nothing of the key's customer before the click
    assert SIGN_OUT not in asked.text  # not signed in
    assert hidden_fields(asked) == {"token": key, "next": page_path}
    assert "Sign in with this key" in seen
    assert f'<a class="back" href="{html.escape(page_path)}">' in asked.text  # no key
    # A key that is not valid is refused as on any page, with no question asked.
    assert wrong.status_code == 401
    assert "That key is not valid" in text_of(wrong)


@SQLITE_ONLY
def test_a_link_from_another_site_leaves_a_session_as_it_was(
    signed_in: TestClient, other_key: str
) -> None:
    same_site = {"Sec-Fetch-Site": "same-site"}  # its Strict cookie comes along
    asked = signed_in.get(f"/ui/outdials?token={other_key}", headers=same_site)
    wrong = signed_in.get("/ui/outdials?token=odk_wrong", headers=same_site)

    assert asked.status_code == 200
    assert SIGN_OUT in asked.text  # still signed in, with the own key
    assert "set-cookie" not in asked.headers
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers  # a wrong key in a link ends no session
    assert signed_in.get("/ui/outdials").status_code == 200


@SQLITE_ONLY
@pytest.mark.parametrize("fetch_site", [None, "none", "same-origin"])
def test_a_token_typed_or_sent_from_this_site_signs_in_at_once(
    app: FastAPI, client: TestClient, key: str, fetch_site: str | None
) -> None:
    headers = {} if fetch_site is None else {"Sec-Fetch-Site": fetch_site}
    with TestClient(app, follow_redirects=False) as typed:
        opened = typed.get(f"/ui/outdials?token={key}", headers=headers)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/ui/outdials"
    assert opened.headers["set-cookie"].startswith(f"outdial_session={key};")


@SQLITE_ONLY
def test_the_confirmed_sign_in_is_refused_from_another_origin(app: FastAPI, key: str) -> None:
    refusing = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ]
    with TestClient(app, follow_redirects=False) as visitor:
        for headers in refusing:
            refused = visitor.post(
                "/ui/sign-in", data={"token": key, "next": "/ui/outdials"}, headers=headers
            )
            assert refused.status_code == 403, headers
            assert "set-cookie" not in refused.headers, headers
            assert "Sign in refused" in text_of(refused), headers
            assert SIGN_OUT not in refused.text
        assert not visitor.cookies
        assert visitor.get("/ui/outdials").status_code == 401


@SQLITE_ONLY
@pytest.mark.parametrize(
    "headers", [{"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}, {}]
)
def test_the_confirmed_sign_in_from_this_server_lands_on_the_page(
    app: FastAPI, client: TestClient, key: str, headers: dict[str, str]
) -> None:
    outdial = create_outdial(client, name="spring list")
    page_path = f"/ui/outdials/{outdial['id']}?status=idle"
    with TestClient(app, follow_redirects=False) as visitor:
        signed = visitor.post(
            "/ui/sign-in", data={"token": key, "next": page_path}, headers=headers
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == page_path
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"outdial_session={key};")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        landed = visitor.get(signed.headers["location"])
    assert landed.status_code == 200
    assert "spring list" in text_of(landed)


@SQLITE_ONLY
def test_the_confirmed_sign_in_goes_to_no_page_but_this_services(app: FastAPI, key: str) -> None:
    elsewhere = [
        "//evil.example/ui/outdials",
        "https://evil.example/ui/outdials",
        "/\\evil.example",
        "/uievil",
        "/ui/../v1.0/outdials",
        "/ui/%2e%2e/v1.0/outdials",
        "/v1.0/outdials",
        "javascript:alert(1)",
        "/ui/outdials\r\nSet-Cookie: x=1",
        "",
    ]
    with TestClient(app, follow_redirects=False) as visitor:
        for asked in elsewhere:
            signed = visitor.post("/ui/sign-in", data={"token": key, "next": asked})
            assert signed.status_code == 303, asked
            assert signed.headers["location"] == "/ui/outdials", asked
        # A key in the page to go to stays out of the address.
        kept = visitor.post(
            "/ui/sign-in", data={"token": key, "next": f"/ui/dials?token={key}&result=fail"}
        )
        assert kept.headers["location"] == "/ui/dials?result=fail"


@SQLITE_ONLY
def test_a_confirmed_sign_in_with_a_wrong_key_answers_the_sign_in_form(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as visitor:
        refused = visitor.post(
            "/ui/sign-in", data={"token": "odk_wrong", "next": "/ui/dials?result=fail"}
        )
    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers
    assert "That key is not valid" in text_of(refused)
    assert '<form class="sign-in" method="get" action="/ui/dials">' in refused.text


# -- error pages -------------------------------------------------------------------------


@SQLITE_ONLY
def test_an_error_page_offers_sign_out_only_with_a_valid_session(
    app: FastAPI, client: TestClient, signed_in: TestClient, key: str
) -> None:
    with TestClient(app) as anonymous:
        missing = anonymous.get("/ui/no-such-page")
        not_allowed = anonymous.get("/ui/sign-out")
        stale = anonymous.get("/ui/no-such-page", headers={"Cookie": "outdial_session=odk_wrong"})
    signed_in_missing = signed_in.get("/ui/no-such-page")
    signed_in_not_found = signed_in.get(f"/ui/outdials/{uuid4()}")
    signed_in_wrong_id = signed_in.get("/ui/outdials/42")

    assert (missing.status_code, not_allowed.status_code, stale.status_code) == (404, 405, 404)
    for page in (missing, not_allowed, stale):
        assert SIGN_OUT not in page.text
    assert signed_in_missing.status_code == 404
    assert signed_in_not_found.status_code == 404
    assert signed_in_wrong_id.status_code == 400
    for page in (signed_in_missing, signed_in_not_found, signed_in_wrong_id):
        assert SIGN_OUT in page.text


# -- names on the dial search, counts and search on the outdial page ------------------------


def target_cells(page: Any) -> list[str]:
    """The text of the Target column of the dial search's rows."""
    rows = re.findall(r"<tr>\s*<td class=\"time\">.*?</td>\s*<td>(.*?)</td>", page.text, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in rows]


def test_the_dial_search_names_each_dials_target_and_outdial(
    app: FastAPI, client: TestClient, signed_in: TestClient
) -> None:
    made = campaign(client)
    outdial_id = made["outdial"]["id"]
    nameless = create_target(client, outdial_id, "+821100000007")
    ok(dispatch(client, outdial_id, limit=2))  # Bob and the nameless one
    autumn = create_outdial(client, name="autumn list")
    carol = create_target(client, autumn["id"], "+821100000008", name="Carol")
    ok(dispatch(client, autumn["id"]))

    page = signed_in.get("/ui/dials")

    assert page.status_code == 200
    cells = target_cells(page)
    assert cells[0] == "Carol autumn list"
    assert sorted(cells[1:3]) == ["+821100000007 (no name) spring list", "Bob spring list"]
    assert cells[3:] == ["Alice spring list", "Alice spring list"]
    for target, outdial in (
        (made["alice"], made["outdial"]),
        (nameless, made["outdial"]),
        (carol, autumn),
    ):
        assert f'<a href="/ui/outdials/{outdial["id"]}/targets/{target["id"]}">' in page.text
        assert target["id"][:8] + "\N{HORIZONTAL ELLIPSIS}" not in page.text
    # The names are read for the customer only.
    queries = serving_of(app).services.read_model.queries
    assert queries.target_names(uuid4(), [UUID(made["alice"]["id"])]) == {}


def target_names(page: Any) -> list[str]:
    """The names of the targets the outdial page lists, in its order."""
    table = re.search(r'<table class="list" id="targets">.*?</table>', page.text, re.S)
    if table is None:
        return []
    return [
        html.unescape(n) for n in re.findall(r'/targets/[0-9a-f-]+">([^<]*)</a>', table.group(0))
    ]


def test_the_outdial_page_counts_its_targets_and_finds_them_by_name_or_number(
    client: TestClient, signed_in: TestClient
) -> None:
    made = campaign(client)  # Alice done on TEL_0 and TEL_1, Bob idle
    outdial_id = made["outdial"]["id"]
    create_target(client, outdial_id, "+821100000010", name="ÉLODIE Martin")
    sip = {"type": "sip", "target": "Dana@example.com"}
    ok(
        client.post(
            f"/v1.0/outdials/{outdial_id}/targets", json={"name": "Dana", "destination_0": sip}
        )
    )
    gone = create_target(client, outdial_id, "+821100000011", name="Alina")
    ok(client.delete(f"/v1.0/outdials/{outdial_id}/targets/{gone['id']}"))
    path = f"/ui/outdials/{outdial_id}"

    def found(q: str, **more: str) -> list[str]:
        page = signed_in.get(path, params={"q": q, **more})
        assert page.status_code == 200, page.text
        return target_names(page)

    page = signed_in.get(path)
    counts = re.search(r'<table class="counts" id="counts">.*?</table>', page.text, re.S)
    assert counts is not None
    assert re.findall(r">(\d+)<", counts.group(0)) == ["3", "0", "1", "4"]  # live ones only
    assert "Idle" in text_of(page)

    assert found("ali") == ["Alice"]
    assert found("ALI") == ["Alice"]
    assert found("ali", include_deleted="true") == ["Alina", "Alice"]
    assert found("ali", status="idle") == []
    assert found(TEL_1) == ["Alice"]  # her second destination, exactly
    assert found("+82110000000") == []  # a part of a number is not the number
    assert found("Dana@example.com") == ["Dana"]
    assert found("dana@example.com") == []  # an address is matched as it is
    assert found("odie m") == ["ÉLODIE Martin"]
    assert found("ÉLODIE") == ["ÉLODIE Martin"]
    assert found("élodie") == []  # only ASCII letters fold, on every store alike
    for literal in ("%", "_", '"', '","target":"', "\\"):
        assert found(literal) == [], literal
    assert found("") == ["Dana", "ÉLODIE Martin", "Bob", "Alice"]  # an empty field: all
    shown = signed_in.get(path, params={"q": "ali"})
    assert 'name="q" value="ali"' in shown.text  # the form keeps what was asked

    refused = signed_in.get(path, params={"q": "a\x01"})
    too_long = signed_in.get(path, params={"q": "a" * 256})
    assert refused.status_code == 400
    assert "q: Value error, must not hold control character U+0001" in text_of(refused)
    assert 'name="q"' in refused.text  # the form again, to change it
    assert target_names(refused) == []
    assert too_long.status_code == 400


def test_a_search_pages_by_a_link_that_keeps_it_and_no_other_search_takes_its_token(
    client: TestClient, signed_in: TestClient
) -> None:
    outdial = create_outdial(client, name="big list")
    targets = [
        {"name": f"T{n:02d}", "destination_0": {"type": "tel", "target": f"+8211000{n:05d}"}}
        for n in range(55)
    ]
    targets.append({"name": "Kim", "destination_0": {"type": "tel", "target": "+821199999999"}})
    ok(client.post(f"/v1.0/outdials/{outdial['id']}/targets/batch", json={"targets": targets}))
    path = f"/ui/outdials/{outdial['id']}"

    first = signed_in.get(path, params={"q": "t", "status": "idle"})
    link = re.search(r'<p class="pager"><a href="\?([^"]+)">Older targets', first.text)
    assert link is not None
    query = html.unescape(link.group(1))
    second = signed_in.get(f"{path}?{query}")
    token = re.search(r"page_token=([^&]+)", query)
    assert token is not None
    other_search = signed_in.get(f"{path}?q=t0&status=idle&page_token={token.group(1)}")
    no_search = signed_in.get(f"{path}?status=idle&page_token={token.group(1)}")

    assert "q=t" in query
    assert len(target_names(first)) == 50
    names = target_names(first) + target_names(second)
    assert sorted(names) == [f"T{n:02d}" for n in range(55)]
    assert other_search.status_code == 400
    assert no_search.status_code == 400


# -- the contact rules on the pages ------------------------------------------------------

WEEKDAYS = {
    "time_zone": "Asia/Seoul",
    "hours": [{"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "20:00"}],
    "closed_dates": ["2026-12-25"],
    "stop_before_end_seconds": 60,
}


def test_the_outdial_page_shows_its_status_and_calling_window(
    client: TestClient, signed_in: TestClient
) -> None:
    outdial = create_outdial(client, name="spring list")
    before = text_of(signed_in.get(f"/ui/outdials/{outdial['id']}"))
    assert "spring list running" in before
    assert "None: its targets may be dialed at any hour." in before
    ok(client.put(f"/v1.0/outdials/{outdial['id']}/calling_window", json=WEEKDAYS))
    ok(client.post(f"/v1.0/outdials/{outdial['id']}/pause", json={"reason": "review"}))
    after = text_of(signed_in.get(f"/ui/outdials/{outdial['id']}"))
    assert "spring list paused" in after
    assert "Paused: none of its targets is dialed until it is resumed" in after
    assert "Asia/Seoul, or the zones of each number" in after
    assert "Mon-Fri 09:00 to 20:00" in after
    assert "60 s before each end" in after
    assert "Closed 2026-12-25" in after


def test_the_target_page_shows_every_rule_that_stops_it(
    client: TestClient, signed_in: TestClient
) -> None:
    outdial = create_outdial(client, name="spring list")
    dave = create_target(client, outdial["id"], "+821100000005", name="Dave")
    added = ok(client.post("/v1.0/do_not_call", json={"entries": [{"target": "+821100000005"}]}))[
        "result"
    ][0]
    ok(client.post(f"/v1.0/outdials/{outdial['id']}/pause", json={}))
    page = signed_in.get(f"/ui/outdials/{outdial['id']}/targets/{dave['id']}")
    said = text_of(page)
    assert "Dialable now no OUTDIAL_PAUSED" in said
    assert "ON_DO_NOT_CALL destination_0 on the do-not-call list" in said
    assert f'href="/ui/do_not_call?entry={added["id"]}"' in page.text


def test_the_do_not_call_page_lists_and_searches_the_customers_entries(
    client: TestClient, other_key: str, signed_in: TestClient
) -> None:
    mark = uuid4().hex[:8]
    entries = [
        {"target": "+1212", "match": "prefix", "reason": f"state list {mark}"},
        {"target": "+12125550100", "reason": f"asked {mark}"},
        {"target": f"{mark}@example.com", "reason": f"e-mail {mark}"},
    ]
    added = ok(client.post("/v1.0/do_not_call", json={"entries": entries}))["result"]
    other = {"entries": [{"target": f"o{mark}@x.io"}]}
    ok(client.post("/v1.0/do_not_call", json=other, headers=bearer(other_key)))
    listed = text_of(signed_in.get("/ui/do_not_call"))
    for entry in entries:
        assert entry["reason"] in listed
    assert f"o{mark}@x.io" not in listed  # another customer's entry
    searched = signed_in.get("/ui/do_not_call", params={"target": "+12125550100"})
    said = text_of(searched)
    assert "The entries that block +12125550100 now" in said
    assert f"state list {mark}" in said
    assert f"asked {mark}" in said
    assert f"e-mail {mark}" not in said
    one = text_of(signed_in.get("/ui/do_not_call", params={"entry": added[2]["id"]}))
    assert f"e-mail {mark}" in one
    assert f"asked {mark}" not in one
    nothing = text_of(signed_in.get("/ui/do_not_call", params={"target": "+819012345678"}))
    assert "Nothing blocks +819012345678." in nothing


@SQLITE_ONLY
def test_the_do_not_call_page_names_what_it_cannot_search(signed_in: TestClient) -> None:
    refused = signed_in.get("/ui/do_not_call", params={"target": "a\x85b"})
    assert refused.status_code == 400
    assert "target:" in text_of(refused)
    refused = signed_in.get("/ui/do_not_call", params={"entry": "not-a-uuid"})
    assert refused.status_code == 400
    assert "entry:" in text_of(refused)
