"""API keys over HTTP and from the console script; one customer never sees another's."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.keys import ApiKeys
from adapters.stores import Storage
from api import cli
from api.cli.parser import build_parser
from api.settings import Settings
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    TEL_0,
    bearer,
    create_outdial,
    create_target,
    dispatch,
    error_of,
    make_app,
    ok,
    targets_path,
)

pytestmark = pytest.mark.shared_app


@SQLITE_ONLY
def test_a_key_is_accepted_as_bearer_token_or_accesskey(
    app: FastAPI, client: TestClient, key: str
) -> None:
    outdial = create_outdial(client)
    anonymous = TestClient(app)  # no lifespan: the client fixture already runs it
    for params, headers in [
        ({}, bearer(key)),
        ({"token": key}, {}),
        ({"accesskey": key}, {}),
    ]:
        response = anonymous.get(f"/v1.0/outdials/{outdial['id']}", params=params, headers=headers)
        assert ok(response)["id"] == outdial["id"]


@SQLITE_ONLY
def test_without_a_valid_key_every_v1_call_is_401(app: FastAPI, client: TestClient) -> None:
    outdial = create_outdial(client)
    anonymous = TestClient(app)  # no lifespan: the client fixture already runs it
    for params, headers, reason in [
        ({}, {}, "MISSING_API_KEY"),
        ({}, bearer("odk_guessed"), "INVALID_API_KEY"),
        ({"token": "nothing"}, {}, "INVALID_API_KEY"),
        ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, "MISSING_API_KEY"),
    ]:
        for method, path in [
            ("GET", "/v1.0/outdials"),
            ("GET", f"/v1.0/outdials/{outdial['id']}"),
            ("POST", "/v1.0/outdials"),
            ("GET", "/v1.0/dials"),
        ]:
            response = anonymous.request(method, path, params=params, headers=headers, json={})
            error = error_of(response, 401)
            assert (error["status"], error["reason"]) == ("UNAUTHENTICATED", reason)
            assert response.headers["www-authenticate"] == "Bearer"
    assert anonymous.get("/healthz").status_code == 200  # probes need no key


def test_another_customer_sees_none_of_it(client: TestClient, other_key: str) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    other = bearer(other_key)
    o_path = f"/v1.0/outdials/{outdial['id']}"
    t_path = targets_path(outdial["id"], target["id"])
    d_path = f"{t_path}/dials/{dial['id']}"
    outdial_requests: list[tuple[str, str, Any]] = [
        ("GET", o_path, None),
        ("PUT", o_path, {"name": "mine", "detail": ""}),
        ("PUT", o_path + "/campaign_id", {"campaign_id": str(uuid4())}),
        ("PUT", o_path + "/data", {"data": "mine"}),
        ("PUT", o_path + "/plan", {"try_interval": 1}),
        ("DELETE", o_path, None),
        ("GET", o_path + "/targets", None),
        ("POST", o_path + "/targets", {"destination_0": {"type": "tel", "target": TEL_0}}),
        (
            "POST",
            o_path + "/targets/batch",
            {"targets": [{"destination_0": {"type": "tel", "target": TEL_0}}]},
        ),
        ("GET", o_path + "/available", None),
        ("POST", o_path + "/dispatch", {"limit": 1}),
    ]
    for method, path, body in outdial_requests:
        error = error_of(client.request(method, path, json=body, headers=other), 404)
        assert error["reason"] == "OUTDIAL_NOT_FOUND", (method, path)
    target_requests: list[tuple[str, str, Any]] = [
        ("GET", t_path, None),
        ("GET", t_path + "?version=1", None),
        ("DELETE", t_path, None),
        ("GET", t_path + "/events", None),
        ("GET", t_path + "/replay", None),
        ("GET", t_path + "/dials", None),
        ("POST", t_path + "/dials", None),
        ("PUT", d_path, {"result": "success"}),
    ]
    for method, path, body in target_requests:
        error = error_of(client.request(method, path, json=body, headers=other), 404)
        assert error["reason"] in ("OUTDIAL_TARGET_NOT_FOUND", "OUTDIAL_NOT_FOUND"), (method, path)
    assert ok(client.get("/v1.0/outdials", headers=other))["result"] == []
    for params in [
        {},
        {"outdial_id": outdial["id"]},
        {"target_id": target["id"]},
        {"destination": TEL_0},
    ]:
        assert ok(client.get("/v1.0/dials", params=params, headers=other))["result"] == []
    # And nothing of the first customer's changed.
    assert ok(client.get(o_path))["name"] == outdial["name"]
    assert ok(client.get(t_path))["status"] == "progressing"
    assert len(ok(client.get("/v1.0/dials"))["result"]) == 1


def test_keys_create_prints_the_key_alone_and_it_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "var"
    customer = uuid4()
    assert (
        cli.main(
            [
                "keys",
                "create",
                "--customer-id",
                str(customer),
                "--data-dir",
                str(data_dir),
                "--name",
                "dialer",
            ]
        )
        == 0
    )
    key = capsys.readouterr().out
    assert key.endswith("\n")
    assert key.count("\n") == 1
    key = key.strip()
    keys = ApiKeys.open(Storage(data_dir=data_dir))
    try:
        assert keys.customer_of(key) == customer
        assert keys.customer_of(key + "x") is None
    finally:
        keys.close()
    app = make_app(data_dir)
    with TestClient(app, headers=bearer(key)) as client:
        assert ok(client.post("/v1.0/outdials", json={}))["customer_id"] == str(customer)


def test_keys_are_stored_hashed(tmp_path: Path) -> None:
    keys = ApiKeys.open(Storage(data_dir=tmp_path))
    key = keys.create(uuid4())
    keys.close()
    assert key.encode() not in (tmp_path / "access.sqlite3").read_bytes()


def test_serve_makes_a_first_customer_and_key_on_an_empty_store_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: served.append(options))
    # `serve` sets up the process's logging; the test process keeps its own afterwards.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    data_dir = str(tmp_path / "var")
    assert cli.main(["serve", "--data-dir", data_dir, "--port", "8123"]) == 0
    out = capsys.readouterr().out.splitlines()
    key = out[-1]
    customer = UUID(out[0].split("customer ")[1].split()[0])
    assert served == [
        {
            "host": "127.0.0.1",
            "port": 8123,
            "access_log": False,
            "proxy_headers": False,
            "log_config": None,
        }
    ]
    keys = ApiKeys.open(Storage(data_dir=tmp_path / "var"))
    try:
        assert keys.customer_of(key) == customer
    finally:
        keys.close()
    assert cli.main(["serve", "--data-dir", data_dir]) == 0
    assert capsys.readouterr().out == ""  # the key is shown once


def test_settings_come_from_the_environment_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTDIAL_DATA_DIR", "/srv/outdial")
    monkeypatch.setenv("OUTDIAL_PORT", "9000")
    monkeypatch.setenv("OUTDIAL_RUN_PROJECTIONS", "false")
    settings = Settings()
    assert (settings.data_dir, settings.port, settings.database_url) == (
        Path("/srv/outdial"),
        9000,
        None,
    )
    assert settings.run_projections is False
    flagged = Settings.load(data_dir="/tmp/x", port=1, host=None, run_projections=True)
    assert flagged.storage() == Storage(data_dir=Path("/tmp/x"))
    assert (flagged.port, flagged.host, flagged.run_projections) == (1, "127.0.0.1", True)
    monkeypatch.setenv("OUTDIAL_DATABASE_URL", "postgresql://u:p@db:5432/outdial")
    assert Settings().storage() == Storage(database_url="postgresql://u:p@db:5432/outdial")


def test_every_setting_has_a_flag_of_the_same_meaning() -> None:
    """Each OUTDIAL_* variable has a flag on the commands it concerns."""
    flags = {
        name: value
        for name, value in vars(
            build_parser().parse_args(
                [
                    "serve",
                    "--data-dir=/d",
                    "--database-url=postgresql://db/x",
                    "--host=0.0.0.0",
                    "--port=9",
                    "--workers=3",
                    "--read-wait-seconds=1.5",
                    "--ready-max-delay-seconds=7",
                    "--sweep-interval-seconds=0.5",
                    "--no-run-projections",
                    "--pool-size=2",
                    "--max-overflow=1",
                    "--connect-timeout-seconds=3",
                    "--statement-timeout-seconds=10",
                    "--trusted-proxies=10.0.0.0/8",
                    "--auth-failures-allowed=5",
                    "--log-format=json",
                    "--webhook-allow-private",
                ]
            )
        ).items()
        if name in Settings.model_fields
    }
    settings = Settings.load(**flags)
    assert settings.model_dump() == {
        "data_dir": Path("/d"),
        "database_url": "postgresql://db/x",
        "host": "0.0.0.0",
        "port": 9,
        "read_wait_seconds": 1.5,
        "ready_max_delay_seconds": 7,
        "workers": 3,
        "auth_failures_allowed": 5,
        "log_format": "json",
        "trusted_proxies": "10.0.0.0/8",
        "webhook_allow_private": True,
        "pool_size": 2,
        "max_overflow": 1,
        "connect_timeout_seconds": 3,
        "statement_timeout_seconds": 10,
        "sweep_interval_seconds": 0.5,
        "run_projections": False,
    }


def test_a_setting_that_does_not_parse_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OUTDIAL_PORT", "eighty")
    assert cli.main(["verify"]) == 2
    assert capsys.readouterr().err.startswith("outdial: setting port:")
