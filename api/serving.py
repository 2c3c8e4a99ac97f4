"""What an app serves with while it runs: its store's services (api/bootstrap.py), the
projection worker beside them, and who may try keys from where.

The services open with the app, so that a process that cannot open its store fails as it
starts (in one line), not at its first request. One app's lifespan may be entered more than
once, and again after it ended (test clients, a fuzzer): the worker starts with the first
entry and everything closes with the last exit, to be opened anew by the next entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Annotated, Protocol
from uuid import UUID

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from adapters.keys import ApiKeys, key_hash, key_id
from api.access import FailedAuthentications, client_address, parse_networks
from api.bootstrap import Services, bootstrap
from api.problems import Throttled, Unauthenticated, Unavailable
from api.settings import Settings
from application.feed import Feed, FeedFollower
from application.service import Clock, OutdialService
from application.webhooks import Webhooks
from projections.queries import ReadModelQueries
from projections.runner import LiveProjection, ReadModel


class Worker(Protocol):
    """The projection worker a process runs beside its API (api/workers/projection.py)."""

    projection: LiveProjection

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Serving:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        worker: Callable[[Services], Worker] | None = None,
    ) -> None:
        self.settings = settings
        self.started_at = time.monotonic()
        self.trusted_proxies = parse_networks(settings.trusted_proxies)
        self._clock = clock
        self._make_worker = worker
        self._lifespans = 0
        self._lock = threading.Lock()
        self._opened: ExitStack | None = None
        self._open()

    @property
    def projection(self) -> LiveProjection | None:
        """This process's projection, when it runs one."""
        return None if self.worker is None else self.worker.projection

    def enter(self) -> None:
        with self._lock:
            self._lifespans += 1
            if self._lifespans > 1:
                return
            # A process's grace before a missing projection refuses writes starts when
            # it starts serving, not when it was built (an app made at import, a test's).
            self.started_at = time.monotonic()
            if self._opened is None:
                self._open()
            if self.worker is not None:
                self.worker.start()

    def exit(self) -> None:
        with self._lock:
            self._lifespans -= 1
            if self._lifespans > 0:
                return
            if self.worker is not None:
                self.worker.stop()
            if self._opened is not None:
                self._opened.close()
                self._opened = None

    def _open(self) -> None:
        opened = ExitStack()
        self.services = opened.enter_context(bootstrap(self.settings, clock=self._clock))
        self.failed_authentications = FailedAuthentications(
            self.services.keys, self.settings.auth_failures_allowed
        )
        self.worker = None if self._make_worker is None else self._make_worker(self.services)
        read_model = self.services.read_model
        self.follower = FeedFollower(self.services.feed, read_model.wait_until_applied)
        opened.callback(self.follower.close)
        self._opened = opened


# -- what a request of either app asks for, each by name --------------------------------
# Plain lookups: async, so FastAPI does not hand each to a worker thread.


def serving_of(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
    return serving


async def _service(request: Request) -> OutdialService:
    return serving_of(request).services.service


async def _queries(request: Request) -> ReadModelQueries:
    return serving_of(request).services.read_model.queries


async def _read_model(request: Request) -> ReadModel:
    return serving_of(request).services.read_model


async def _keys(request: Request) -> ApiKeys:
    return serving_of(request).services.keys


async def _feed(request: Request) -> Feed:
    return serving_of(request).services.feed


async def _follower(request: Request) -> FeedFollower:
    return serving_of(request).follower


async def _webhooks(request: Request) -> Webhooks:
    return serving_of(request).services.webhooks


async def _settings(request: Request) -> Settings:
    return serving_of(request).settings


async def _clock(request: Request) -> Clock:
    return serving_of(request).services.service.clock


Service = Annotated[OutdialService, Depends(_service)]
Queries = Annotated[ReadModelQueries, Depends(_queries)]
ReadModelDep = Annotated[ReadModel, Depends(_read_model)]
Keys = Annotated[ApiKeys, Depends(_keys)]
FeedDep = Annotated[Feed, Depends(_feed)]
FollowerDep = Annotated[FeedFollower, Depends(_follower)]
WebhooksDep = Annotated[Webhooks, Depends(_webhooks)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Now = Annotated[Clock, Depends(_clock)]


async def customer_for(request: Request, key: str | None) -> UUID:
    """The customer ``key`` belongs to, or Unauthenticated (Throttled after too many
    failures from the caller's address): what the API's keys and the pages' session
    both check.

    A key looked up a moment ago is answered from memory, on the event loop; only a key
    the process has not seen lately costs a trip to the key store, in a worker thread.
    """
    serving = serving_of(request)
    keys, reachable = serving.services.keys, serving.services.events.reachable
    customer: UUID | None = None
    if key:
        known, customer = keys.remembered(key)
        if not known:
            if not reachable:
                # The key store is the same server: answer now rather than wait on it.
                raise store_unavailable()
            customer = await run_in_threadpool(keys.customer_of, key)
    if key and customer is not None:
        request.state.actor = key_id(key_hash(key))  # who the events will say did it
        request.state.customer_id = str(customer)  # for the request's log line
        return customer  # a valid key is never throttled
    address = client_address(request.scope, serving.trusted_proxies)
    if not reachable:
        raise store_unavailable()  # the count is in the store: no judging without it
    wait = await run_in_threadpool(serving.failed_authentications.refuse_or_count, address)
    if wait is not None:
        raise Throttled(
            f"too many requests without a valid API key from {address}; retry in {wait} s",
            retry_after=wait,
        )
    if not key:
        raise Unauthenticated(
            "MISSING_API_KEY", "send an API key: Authorization: Bearer KEY, ?token= or ?accesskey="
        )
    raise Unauthenticated("INVALID_API_KEY", "the API key is not valid")


def store_unavailable() -> Unavailable:
    return Unavailable(
        "STORE_UNAVAILABLE", "the database cannot be reached; retry shortly", retry_after=1
    )
