"""Several processes on one store, as users run them: API processes, projection workers,
all starting at once, and the active worker killed under write load."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from adapters.read_model_store import READ_MODEL_DBNAME
from adapters.stores import Storage
from projections.runner import STATUS_NAME
from tests.conftest import eventually

TEL = "+821100000001"

# Several real processes each: for `make test`, not the inner loop.
pytestmark = [pytest.mark.slow, pytest.mark.processes]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    popen: subprocess.Popen[str]
    url: str = ""
    log: Path | None = None  # its stderr: a file, since a pipe nobody reads would fill

    def stderr(self) -> str:
        return self.log.read_text() if self.log is not None else ""


def _where(storage: Storage) -> list[str]:
    if storage.database_url:
        return ["--database-url", storage.database_url]
    assert storage.data_dir is not None
    return ["--data-dir", str(storage.data_dir)]


def _start(storage: Storage, command: str, *extra: str) -> Process:
    args = [sys.executable, "-m", "api.cli", command, *_where(storage), *extra]
    url = ""
    if command == "serve":
        port = _free_port()
        args += ["--port", str(port)]
        url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix=f"outdial-{command}-", suffix=".log")[1])
    with log.open("w") as stderr:
        popen = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")},
        )
    return Process(popen, url, log)


def _until_up(process: Process, timeout: float = 60) -> None:
    def up() -> bool:
        if process.popen.poll() is not None:
            pytest.fail(f"exited with {process.popen.returncode}: {process.stderr()}")
        if not process.url:
            return True
        try:
            return httpx.get(process.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually(up, timeout=timeout, interval=0.1, what=f"{process.url or 'the worker'} up")


@contextmanager
def running(*processes: Process) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            if process.popen.poll() is None:
                process.popen.terminate()
        for process in processes:
            try:
                process.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.popen.kill()


def _key(storage: Storage) -> str:
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "keys",
            "create",
            "--customer-id",
            "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10",
            *_where(storage),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip()


def test_processes_started_at_the_same_moment_on_a_fresh_store_all_come_up(
    store: str, new_store: Callable[[str], Storage]
) -> None:
    for _ in range(3):  # a fresh store each time, everything started at once
        storage = new_store(store)
        processes = [
            _start(storage, "serve", "--no-run-projections"),
            _start(storage, "serve", "--no-run-projections"),
            _start(storage, "serve"),
            _start(storage, "project"),
            _start(storage, "project"),
        ]
        with running(*processes):
            for process in processes:
                _until_up(process)
            eventually(partial(_active_worker_pid, storage), what="settled who is active")
            for process in processes:
                _until_up(process)


def _active_worker_pid(storage: Storage) -> int | None:
    """The pid of the worker whose status row says it is active."""
    query = "SELECT holder, heartbeat FROM projection_status WHERE name = {}"
    row: Any
    if storage.database_url:
        with psycopg.connect(storage.database_url) as connection:
            row = connection.execute(query.format("%s"), (STATUS_NAME,)).fetchone()
    else:
        assert storage.data_dir is not None
        with closing(sqlite3.connect(storage.data_dir / READ_MODEL_DBNAME)) as connection:
            row = connection.execute(query.format("?"), (STATUS_NAME,)).fetchone()
    if row is None or time.time() - row[1] > 3:
        return None
    return int(row[0].rsplit(":", 1)[1])


def test_two_api_processes_and_two_workers_survive_the_active_worker_killed(
    store: str, new_store: Callable[[str], Storage]
) -> None:
    storage = new_store(store)
    api = [_start(storage, "serve", "--no-run-projections") for _ in range(2)]
    workers = [_start(storage, "project") for _ in range(2)]
    with running(*api, *workers):
        for process in (*api, *workers):
            _until_up(process)
        key = _key(storage)
        headers = {"Authorization": f"Bearer {key}"}
        one, other = (httpx.Client(base_url=p.url, headers=headers, timeout=30) for p in api)
        outdial = one.post("/v1.0/outdials", json={"name": "shared"}).json()["id"]
        # A write answered by one process is read back through the other at once.
        target = one.post(
            f"/v1.0/outdials/{outdial}/targets", json={"destination_0": {"target": TEL}}
        ).json()
        assert other.get(f"/v1.0/outdials/{outdial}/targets/{target['id']}").json() == target

        acknowledged: list[str] = []
        refused: list[int] = []
        stop = threading.Event()

        def keep_writing(client: httpx.Client) -> None:
            while not stop.is_set():
                answer: Any = client.post(
                    f"/v1.0/outdials/{outdial}/targets", json={"destination_0": {"target": TEL}}
                )
                if answer.status_code == 200:
                    acknowledged.append(answer.json()["id"])
                else:
                    refused.append(answer.status_code)

        writers = [threading.Thread(target=keep_writing, args=(c,)) for c in (one, other)]
        for writer in writers:
            writer.start()
        eventually(lambda: len(acknowledged) >= 20, what="writing")
        active = _active_worker_pid(storage)
        assert active in {w.popen.pid for w in workers}
        os.kill(active, signal.SIGKILL)

        def taken_over() -> int | None:
            holder = _active_worker_pid(storage)
            return holder if holder not in (None, active) else None

        # The standby takes over, and the writes that went on meanwhile go on after it.
        survivor = eventually(taken_over, timeout=7, what="taken over")
        written = len(acknowledged)
        eventually(lambda: len(acknowledged) >= written + 20, what="writing again")
        stop.set()
        for writer in writers:
            writer.join()
        assert _active_worker_pid(storage) == survivor
        assert set(refused) <= {503}
        listed: set[str] = set()
        token = ""
        while True:
            page = other.get(
                f"/v1.0/outdials/{outdial}/targets", params={"page_token": token}
            ).json()
            listed |= {t["id"] for t in page["result"]}
            token = page["next_page_token"]
            if not token:
                break
        assert set(acknowledged) <= listed  # nothing acknowledged was lost
        assert len(listed) == len(acknowledged) + 1  # nothing else, nothing twice
        _assert_verified(storage)


def _assert_verified(storage: Storage) -> None:
    """`outdial verify` finds the read model equal to the replay of every aggregate."""
    verified = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify", *_where(storage)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout[-2000:]
    assert "0 difference(s)" in verified.stdout


def _metric(url: str, name: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def test_an_api_process_killed_while_committing_groups_loses_no_acknowledged_write(
    store: str, new_store: Callable[[str], Storage]
) -> None:
    """Eight writers create targets and start and finish dials on them while the process
    commits their writes in groups (application/group_commit.py); it is killed mid-load.
    Started again, the store holds every acknowledged write, once, and nothing half."""
    storage = new_store(store)
    writers = 8
    api = _start(storage, "serve")
    acknowledged: list[str] = []  # target ids
    dials: dict[str, str] = {}  # dial id -> target id, each start acknowledged
    finished: set[str] = set()  # dial ids whose finish was acknowledged
    unexpected: list[str] = []
    with running(api):
        _until_up(api)
        headers = {"Authorization": f"Bearer {_key(storage)}"}
        client = httpx.Client(base_url=api.url, headers=headers, timeout=30)
        outdial = client.post("/v1.0/outdials", json={"name": "groups"}).json()["id"]
        targets = f"/v1.0/outdials/{outdial}/targets"
        stop = threading.Event()

        def keep_writing() -> None:
            with httpx.Client(base_url=api.url, headers=headers, timeout=30) as own:
                try:
                    while not stop.is_set():
                        made = own.post(targets, json={"destination_0": {"target": TEL}})
                        if made.status_code != 200:
                            unexpected.append(made.text)
                            return
                        target = made.json()["id"]
                        acknowledged.append(target)
                        started = own.post(f"{targets}/{target}/dials")
                        if started.status_code != 200:
                            unexpected.append(started.text)
                            return
                        dial = started.json()["id"]
                        dials[dial] = target
                        done = own.put(
                            f"{targets}/{target}/dials/{dial}",
                            json={"result": "fail", "reason": "busy"},
                        )
                        if done.status_code != 200:
                            unexpected.append(done.text)
                            return
                        finished.add(dial)
                except httpx.HTTPError:
                    return  # the process is gone: what was acknowledged is what counts

        threads = [threading.Thread(target=keep_writing) for _ in range(writers)]
        for thread in threads:
            thread.start()

        def grouped() -> bool:
            transactions = _metric(api.url, "outdial_event_store_transactions_total")
            writes = _metric(api.url, "outdial_event_store_writes_total")
            return writes >= 200 and writes - transactions >= 50

        eventually(grouped, timeout=60, what="writes committed in groups")
        api.popen.send_signal(signal.SIGKILL)
        api.popen.wait(10)
        stop.set()
        for thread in threads:
            thread.join(30)
    assert unexpected == []

    again = _start(storage, "serve")
    with running(again):
        _until_up(again)
        client = httpx.Client(base_url=again.url, headers=headers, timeout=30)
        listed: dict[str, Any] = {}
        token = ""
        while True:
            page = client.get(targets, params={"page_token": token, "page_size": 100}).json()
            listed |= {t["id"]: t for t in page["result"]}
            token = page["next_page_token"]
            if not token:
                break
        assert set(acknowledged) <= set(listed)
        # Beyond those acknowledged, at most the writes in flight when it was killed.
        assert len(listed) <= len(acknowledged) + writers
        for dial, target in dials.items():
            found = client.get(f"{targets}/{target}/dials").json()["result"]
            (ours,) = [d for d in found if d["id"] == dial]
            assert len(found) == 1  # each target was dialed once: never a start twice
            if dial in finished:
                assert (ours["status"], ours["result"]) == ("done", "fail")
    _assert_verified(storage)
