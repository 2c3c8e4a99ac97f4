"""The whole service over HTTP, on a real store and the real read model.

Helpers and wire constants that several test modules share live here too, so that no
test module imports another.
"""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI

from adapters.stores import Storage
from api.server import create_app
from api.serving import Serving
from api.settings import Settings
from application.service import Clock, utc_now
from tests.conftest import Stores

with warnings.catch_warnings():
    # Starlette asks for its httpx fork; the plain httpx it still supports is what we have.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

TEL_0 = "+821100000001"
TEL_1 = "+821100000002"
NOT_DELETED = "9999-01-01 00:00:00.000000"
NO_CAMPAIGN = "00000000-0000-0000-0000-000000000000"
WIRE_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
DEFAULT_PLAN = {
    "max_try_count_0": 1,
    "max_try_count_1": 1,
    "max_try_count_2": 1,
    "max_try_count_3": 1,
    "max_try_count_4": 1,
    "try_interval": 0,
    "dial_timeout": 60000,
    "retry_rules": [],
}
# A target's fields on the wire, in the seed resource's order.
SEED_ORDER = [
    "id",
    "outdial_id",
    "name",
    "detail",
    "data",
    "status",
    "destination_0",
    "destination_1",
    "destination_2",
    "destination_3",
    "destination_4",
    "try_count_0",
    "try_count_1",
    "try_count_2",
    "try_count_3",
    "try_count_4",
    "tm_create",
    "tm_update",
    "tm_delete",
]


def tel(number: str = TEL_0) -> dict[str, str]:
    return {"type": "tel", "target": number}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_app(data_dir: Path, *, clock: Clock = utc_now, **settings: Any) -> FastAPI:
    return create_app(
        Settings(data_dir=data_dir, sweep_interval_seconds=0.2, **settings), clock=clock
    )


def app_on(storage: Storage, *, clock: Clock = utc_now, **settings: Any) -> FastAPI:
    """The service on a store of the store fixtures (SQLite or PostgreSQL)."""
    where: dict[str, Any] = (
        {"database_url": storage.database_url}
        if storage.database_url
        else {"data_dir": storage.data_dir}
    )
    return create_app(Settings(**where, sweep_interval_seconds=0.2, **settings), clock=clock)


def serving_of(app: FastAPI) -> Serving:
    """What the app serves with: its store's services and its projection worker."""
    serving: Serving = app.state.serving
    return serving


def new_key(app: FastAPI) -> str:
    """A key for a new customer."""
    return serving_of(app).services.keys.create(uuid4())


@pytest.fixture
def app(store: str, request: pytest.FixtureRequest) -> FastAPI:
    """The service on a store of the test's kind (``store``: SQLite, then PostgreSQL), of
    its own; in a module marked ``shared_app``, the one running app of that kind its
    tests share, unless the test is marked ``own_app``."""
    shared = request.node.get_closest_marker("shared_app") is not None
    if not shared or request.node.get_closest_marker("own_app") is not None:
        return app_on(request.getfixturevalue("storage"))
    template = request.getfixturevalue("postgres_template") if store == "postgres" else ""
    apps: SharedApps = request.getfixturevalue("shared_apps")
    return apps.running(store, template)


class SharedApps:
    """One running app per kind of store, made when a test first asks for it."""

    def __init__(self, directory: Path) -> None:
        self._stores = Stores(directory)
        self._apps: dict[str, FastAPI] = {}
        self._lifespans = ExitStack()

    def running(self, kind: str, template: str) -> FastAPI:
        if kind not in self._apps:
            # Never throttled: one test's wrong keys must not turn another's 401 into 429.
            app = app_on(self._stores.make(kind, template or "template1"), auth_failures_allowed=0)
            # Entered once for the module: the tests' clients find it running.
            self._lifespans.enter_context(TestClient(app))
            self._apps[kind] = app
        return self._apps[kind]

    def close(self) -> None:
        self._lifespans.close()
        self._stores.drop()


@pytest.fixture(scope="module")
def shared_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedApps]:
    """The apps of a module marked ``shared_app``: each of its tests acts as a customer of
    its own and looks at nothing beyond that customer's data, so one app (its store, read
    model and workers set up once) serves them all. A test that looks at what the whole
    store holds (metrics, probes, key lists, throttling) is marked ``own_app``."""
    apps = SharedApps(tmp_path_factory.mktemp("shared"))
    yield apps
    apps.close()


@pytest.fixture
def key(app: FastAPI) -> str:
    """The API key of the test's first customer, a new one."""
    return new_key(app)


@pytest.fixture
def other_key(app: FastAPI) -> str:
    """The key of a second customer, who must see nothing of the first."""
    return new_key(app)


@pytest.fixture
def client(app: FastAPI, key: str) -> Iterator[TestClient]:
    """Acts for the first customer; the lifespan runs the read model and the sweeper."""
    with TestClient(app, headers=bearer(key)) as test_client:
        yield test_client


@pytest.fixture
def signed_in(app: FastAPI, client: TestClient, key: str) -> Iterator[TestClient]:
    """A browser signed in as the first customer: the session cookie, no header."""
    with TestClient(app, follow_redirects=False) as session:
        session.get(f"/ui/outdials?token={key}")
        assert "outdial_session" in session.cookies
        yield session


def text_of(page: Any) -> str:
    """What a person reads on the page: its text without tags, spaces collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", page.text)
    return " ".join(html.unescape(without_tags).split())


def ok(response: Any) -> Any:
    """The JSON of a 200, or a failure that shows the error envelope."""
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: Any, http_status: int) -> dict[str, Any]:
    """The error envelope of a refusal with this status; every refusal has the same shape."""
    assert response.status_code == http_status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"status", "reason", "message", "request_id"} <= set(error)
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def create_outdial(client: TestClient, **body: Any) -> dict[str, Any]:
    outdial: dict[str, Any] = ok(client.post("/v1.0/outdials", json=body))
    return outdial


def set_plan(client: TestClient, outdial_id: str, **plan: Any) -> dict[str, Any]:
    outdial: dict[str, Any] = ok(client.put(f"/v1.0/outdials/{outdial_id}/plan", json=plan))
    return outdial


def create_target(
    client: TestClient, outdial_id: str, *numbers: str, **fields: Any
) -> dict[str, Any]:
    body = {f"destination_{n}": tel(number) for n, number in enumerate(numbers)}
    body.update(fields)
    target: dict[str, Any] = ok(client.post(f"/v1.0/outdials/{outdial_id}/targets", json=body))
    return target


def targets_path(outdial_id: str, target_id: str = "") -> str:
    path = f"/v1.0/outdials/{outdial_id}/targets"
    return f"{path}/{target_id}" if target_id else path


def dispatch(client: TestClient, outdial_id: str, limit: int = 1, **body: Any) -> Any:
    return client.post(f"/v1.0/outdials/{outdial_id}/dispatch", json={"limit": limit, **body})


def finish(
    client: TestClient, dial: dict[str, Any], result: str, reason: str = ""
) -> dict[str, Any]:
    path = targets_path(dial["outdial_id"], dial["outdial_target_id"]) + f"/dials/{dial['id']}"
    target: dict[str, Any] = ok(client.put(path, json={"result": result, "reason": reason}))
    return target
