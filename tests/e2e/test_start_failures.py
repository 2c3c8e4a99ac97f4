"""A process that cannot start says so in one line, and `serve --workers N` exits 2 when
any of its processes cannot start, rather than serving with fewer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import uuid4

import httpx
import psycopg
import pytest

from adapters.stores import Storage, StoreUnreachable, check_reachable
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_admin, eventually, wait_for

TRACEBACK = "Traceback (most recent call last)"
# The smallest pools, so a few connections tell one process from several.
SMALL_POOLS = ["--pool-size", "1", "--max-overflow", "0", "--connect-timeout-seconds", "1"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _outdial(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")},
    )


def test_an_unreachable_server_is_one_line_naming_where_and_the_cause() -> None:
    with pytest.raises(StoreUnreachable) as caught:
        check_reachable(Storage(database_url="postgresql://postgres@127.0.0.1:1/x"))
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    assert "\t" not in message
    assert "127.0.0.1:1" in message
    assert "'x'" in message
    assert "refused" in message.lower()


@pytest.mark.slow
def test_verify_against_an_unreachable_server_is_exit_2_and_one_line_with_the_cause() -> None:
    began = time.monotonic()
    done = _outdial("verify", "--database-url", "postgresql://postgres@127.0.0.1:1/x")
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - began < 15
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "\t" not in done.stderr
    assert "127.0.0.1:1" in lines[0]
    assert "'x'" in lines[0]
    assert "refused" in lines[0].lower()


# -- a role with a connection limit ---------------------------------------------------


@dataclass
class LimitedDatabase:
    """A database owned by a role of its own that is no superuser, so its connection
    limit holds."""

    role: str
    url: str

    def limit(self, connections: int) -> None:
        with _postgres_admin() as admin:
            admin.execute(f'ALTER ROLE "{self.role}" CONNECTION LIMIT {connections}')

    def connections(self) -> int:
        with _postgres_admin() as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (self.role,)
            ).fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
def limited_database() -> Iterator[LimitedDatabase]:
    name = f"outdial_limited_{uuid4().hex[:10]}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER')
        admin.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1].split("@")[-1]
    yield LimitedDatabase(role=name, url=f"postgresql://{name}@{base}/{name}")
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{name}"')


def _serve(database: LimitedDatabase, *extra: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    args = ["serve", "--database-url", database.url, *SMALL_POOLS, "--port", str(port), *extra]
    popen = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")},
    )
    return popen, f"http://127.0.0.1:{port}"


def _until_ready(popen: subprocess.Popen[str], url: str, timeout: float = 60) -> None:
    def ready() -> bool:
        if popen.poll() is not None:
            pytest.fail(f"exited with {popen.returncode}: {popen.communicate()[1]}")
        try:
            return httpx.get(url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually(ready, timeout=timeout, interval=0.1, what=f"{url} ready")


def _stop(popen: subprocess.Popen[str]) -> str:
    if popen.poll() is None:
        popen.terminate()
    try:
        return popen.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        popen.kill()
        return popen.communicate()[1]


def _settled_connections(database: LimitedDatabase, timeout: float = 15) -> int:
    """The role's connections once their number has not moved for a second (the wait is
    what tells settled from still opening)."""
    seen = [database.connections(), time.monotonic()]

    def settled() -> bool:
        now = database.connections()
        if now != seen[0]:
            seen[:] = [now, time.monotonic()]
        return time.monotonic() - seen[1] >= 1.0

    wait_for(settled, timeout=timeout, interval=0.1)
    return int(seen[0])


@pytest.mark.slow
@pytest.mark.postgres
def test_serve_with_more_processes_than_the_database_admits_exits_2_in_one_line_each(
    limited_database: LimitedDatabase,
) -> None:
    # What one process (API and projection together) really holds.
    one, url = _serve(limited_database)
    try:
        _until_ready(one, url)
        needed = _settled_connections(limited_database)
    finally:
        _stop(one)
    # Room for one such process, not for two API processes and a projection process.
    limited_database.limit(needed + 2)
    one, url = _serve(limited_database)
    try:
        _until_ready(one, url)
    finally:
        _stop(one)

    several, url = _serve(limited_database, "--workers", "2")
    began = time.monotonic()
    try:
        stderr = several.communicate(timeout=45)[1]
    except subprocess.TimeoutExpired:
        pytest.fail(f"still serving with fewer processes: {_stop(several)}")
    assert several.returncode == 2, stderr
    assert time.monotonic() - began < 30, stderr
    assert TRACEBACK not in stderr, stderr
    failures = [line for line in stderr.splitlines() if "cannot start: " in line]
    assert failures, stderr
    for line in failures:
        cause = line.split("cannot start: ", 1)[1]
        assert "too many connections" in cause or "couldn't get a connection" in cause, line


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("command", ["project", "serve"])
def test_a_process_the_database_refuses_connections_says_so_in_one_line_and_exits_2(
    limited_database: LimitedDatabase, command: str
) -> None:
    # One connection: the first look at the server passes, the pools then get none.
    limited_database.limit(1)
    extra = ["--port", str(_free_port())] if command == "serve" else []
    began = time.monotonic()
    done = _outdial(command, "--database-url", limited_database.url, *SMALL_POOLS, *extra)
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - began < 30, done.stderr
    assert TRACEBACK not in done.stderr, done.stderr
    failures = [line for line in done.stderr.splitlines() if f"outdial {command}: " in line]
    assert len(failures) == 1, done.stderr
    assert "cannot start: " in failures[0]
