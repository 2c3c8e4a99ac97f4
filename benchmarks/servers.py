"""Starting the service and the reference as servers of their own, as a user would run them."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PYTHON = sys.executable
KEY_LINE = re.compile(r"^odk_\S+$")


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far (user and system)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    key: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=60)


def _wait_until_up(url: str, process: subprocess.Popen[str], path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"the server exited with {process.returncode}"
            raise RuntimeError(msg)
        try:
            if httpx.get(url + path, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    msg = f"the server at {url} did not come up"
    raise RuntimeError(msg)


@contextmanager
def _running(args: Sequence[str], env: dict[str, str], path: str) -> Iterator[Server]:
    port = free_port()
    process = subprocess.Popen(
        [*args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **env},
    )
    server = Server(url=f"http://127.0.0.1:{port}", process=process)
    try:
        _wait_until_up(server.url, process, path)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def service(
    *,
    data_dir: Path | None = None,
    database_url: str | None = None,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    key: str = "",
    launcher: Sequence[str] = (PYTHON, "-m", "api.cli"),
) -> Iterator[Server]:
    """`outdial serve` on a store, with its first key read from what it prints (or
    ``key``, one made before on a store that has keys: nothing is printed then);
    ``launcher`` runs the console script (a benchmark's variant of it)."""
    env = {**(env or {}), **({"OUTDIAL_DATABASE_URL": database_url} if database_url else {})}
    args = [*launcher, "serve", *extra]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    with _running(args, env, "/healthz") as server:
        assert server.process.stdout is not None
        server.key = key
        for line in [] if key else server.process.stdout:
            if KEY_LINE.match(line.strip()):
                server.key = line.strip()
                break
        # Keep reading what it prints, so a full pipe never stalls it.
        threading.Thread(target=server.process.stdout.read, daemon=True).start()
        yield server


@contextmanager
def reference(*, data_dir: Path | None = None, database_url: str | None = None) -> Iterator[Server]:
    """The plain CRUD of benchmarks/crud.py on the same kind of store."""
    args = [PYTHON, "-m", "benchmarks.crud"]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    if database_url:
        args += ["--database-url", database_url]
    with _running(args, {}, "/noop") as server:
        yield server


@contextmanager
def nothing() -> Iterator[Server]:
    """A handler that does nothing, on the same server loop: the load generator's ceiling."""
    with _running([PYTHON, "-m", "benchmarks.crud", "--nothing"], {}, "/") as server:
        yield server
