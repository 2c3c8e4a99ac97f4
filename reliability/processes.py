"""The service's processes as an operator runs them, for killing and starting again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx
import psycopg

from adapters.stores import Storage
from benchmarks.servers import free_port
from projections.runner import STATUS_NAME

PYTHON = sys.executable


def where(storage: Storage) -> list[str]:
    if storage.database_url:
        return ["--database-url", storage.database_url]
    return ["--data-dir", str(storage.data_dir)]


@dataclass
class Process:
    """One `outdial serve` or `outdial project`, which can be killed and started again."""

    storage: Storage
    command: str
    extra: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Process:
        args = [PYTHON, "-m", "api.cli", self.command, *where(self.storage), *self.extra]
        if self.command == "serve":
            args += ["--port", str(self.port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")}
        self.popen = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        return self

    def until_up(self, timeout: float = 60.0) -> float:
        """Seconds until it answers /healthz (workers: until started)."""
        began = time.monotonic()
        while self.command == "serve":
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - began > timeout:
                msg = f"{self.command} did not come up in {timeout} s"
                raise RuntimeError(msg)
            time.sleep(0.05)
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a machine losing power."""
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def first_key(storage: Storage) -> str:
    created = subprocess.run(
        [PYTHON, "-m", "api.cli", "keys", "create", "--customer-id",
         "0f8f4e52-7d43-4c5e-9a3b-7a1e2c3d4e5f", *where(storage)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return created.stdout.strip()


def verify(storage: Storage) -> tuple[int, str]:
    done = subprocess.run(
        [PYTHON, "-m", "api.cli", "verify", *where(storage)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = (done.stdout + done.stderr).strip().splitlines()
    if done.returncode != 0:  # every difference, for whoever reads the failure
        return done.returncode, "\n".join(lines[-20:])
    return done.returncode, lines[-1]


def active_worker_pid(storage: Storage) -> int | None:
    """The pid the projection status row names as active (PostgreSQL)."""
    assert storage.database_url
    with psycopg.connect(storage.database_url) as connection:
        row = connection.execute(
            "SELECT holder, heartbeat FROM projection_status WHERE name = %s", (STATUS_NAME,)
        ).fetchone()
    if row is None or time.time() - float(row[1]) > 3:
        return None
    return int(str(row[0]).rsplit(":", 1)[1])


def postgres(action: str) -> None:
    """``stop`` (fast: sessions cut) or ``start`` the local PostgreSQL."""
    cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", _version(), "main"]
    extra = ["-m", "fast"] if action == "stop" else []
    subprocess.run([*cluster, action, *extra], check=True, capture_output=True)


def _version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]
