"""Settings of every process: each field from its OUTDIAL_* variable or its flag.

A flag on the command line wins over the environment, which wins over the default.
Every entrypoint finds the store the same way: ``OUTDIAL_DATABASE_URL`` (PostgreSQL) when
set, else SQLite files under the data directory.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.stores import Storage

Network = IPv4Network | IPv6Network


def parse_networks(text: str) -> list[Network]:
    """``10.0.0.0/8, 127.0.0.1`` -> networks; ValueError naming a bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ip_network(entry, strict=False))
            except ValueError:
                msg = f"{entry!r} is not an IP address or network"
                raise ValueError(msg) from None
    return networks


class Settings(BaseSettings):
    """Where the store is, where to listen, and the service's few tunables."""

    model_config = SettingsConfigDict(env_prefix="OUTDIAL_", frozen=True, extra="forbid")

    data_dir: Path = Field(
        default=Path("./var"), description="directory of the embedded store (SQLite files)"
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql://user:pass@host:port/db: events, read model and keys there "
        "instead of the data directory",
    )
    host: str = Field(default="127.0.0.1", description="address `serve` listens on")
    port: int = Field(default=8000, description="port `serve` listens on")
    read_wait_seconds: float = Field(
        default=5.0,
        description="how long a write waits for the read model to show it before answering",
    )
    ready_max_delay_seconds: float = Field(
        default=5.0,
        description="/readyz is 503 while an event older than this waits for the read model",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="API processes `serve` runs on its port; with more than one, the "
        "projection runs in a process of its own beside them",
    )
    pool_size: int = Field(
        default=5, ge=1, description="PostgreSQL connections each process keeps open"
    )
    max_overflow: int = Field(
        default=2, ge=0, description="PostgreSQL connections a process may open beyond them"
    )
    connect_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how long a process waits for a database connection "
        "(PostgreSQL) or another process's write lock (SQLite) before answering 503",
    )
    statement_timeout_seconds: float = Field(
        default=30.0, ge=0, description="PostgreSQL cancels a statement after this (0: never)"
    )
    sweep_interval_seconds: float = Field(
        default=1.0, description="how often dials past their dial_timeout are looked for"
    )
    auth_failures_allowed: int = Field(
        default=20,
        ge=0,
        description="failed authentications a client address may make in 60 s before it "
        "gets 429 (0: never throttle, for a gateway that throttles itself)",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="log lines as plain text or as one JSON object each"
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks of the proxies in front: from "
        "them, the client address is the nearest other hop of X-Forwarded-For",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="let webhooks reach private, loopback and link-local addresses (a "
        "receiver on the operator's own network; off, a customer's webhook cannot probe it)",
    )
    run_projections: bool = Field(
        default=True,
        description="run the read model's projection and the dial-timeout sweeper in "
        "`serve` (false: an `outdial project` worker does)",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # refuse a bad entry now, not at the first request
        return value

    @classmethod
    def load(cls, **flags: Any) -> Settings:
        """The environment's settings, with the flags that were given (not None) on top."""
        return cls(**{name: value for name, value in flags.items() if value is not None})

    def storage(self) -> Storage:
        if self.database_url:
            return Storage(
                database_url=self.database_url,
                pool_size=self.pool_size,
                max_overflow=self.max_overflow,
                connect_timeout=self.connect_timeout_seconds,
                statement_timeout=self.statement_timeout_seconds,
            )
        return Storage(data_dir=self.data_dir, connect_timeout=self.connect_timeout_seconds)
