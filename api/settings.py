"""Settings of the HTTP service and the console script: flags and OUTDIAL_* variables.

Every entrypoint finds the store the same way (SPEC §7): ``OUTDIAL_DATABASE_URL``
(PostgreSQL) when set, else SQLite files under the data directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from application.storage import Storage

DEFAULT_DATA_DIR = Path("./var")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class Settings:
    """Where the store is, where to listen, and the service's few tunables."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # How long a write waits for the read model to catch up before answering, so the
    # caller's next read sees it (read-your-writes).
    read_wait_seconds: float = 5.0
    # /readyz answers 503 while more events than this wait for the projection.
    ready_max_lag: int = 1_000
    # How often the service looks for dials past their plan's dial_timeout.
    sweep_interval_seconds: float = 1.0
    # Run the read model and the dial-timeout sweeper in this process (SPEC §6: `serve`
    # does; with PostgreSQL a separate `outdial project` worker may do it instead).
    run_projections: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            data_dir=Path(env.get("OUTDIAL_DATA_DIR") or DEFAULT_DATA_DIR),
            database_url=env.get("OUTDIAL_DATABASE_URL") or None,
            host=env.get("OUTDIAL_HOST") or DEFAULT_HOST,
            port=int(env.get("OUTDIAL_PORT") or DEFAULT_PORT),
            run_projections=(env.get("OUTDIAL_RUN_PROJECTIONS") or "true").lower()
            not in ("0", "false", "no", "off"),
        )

    def with_flags(
        self, *, data_dir: str | None = None, host: str | None = None, port: int | None = None
    ) -> Settings:
        """These settings with the command line's flags, which win over the environment."""
        changed = self
        if data_dir is not None:
            changed = replace(changed, data_dir=Path(data_dir))
        if host is not None:
            changed = replace(changed, host=host)
        if port is not None:
            changed = replace(changed, port=port)
        return changed

    def storage(self) -> Storage:
        if self.database_url:
            return Storage(database_url=self.database_url)
        return Storage(data_dir=self.data_dir)
