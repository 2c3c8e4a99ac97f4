"""Prometheus metrics: requests and latencies by route template, plus the store's figures."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

UNMATCHED_ROUTE = "<unmatched>"


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "outdial_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "outdial_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ("method", "route"),
            registry=self.registry,
        )

    def watch_store(
        self,
        events_recorded: Callable[[], int | None],
        projection_position: Callable[[], int | None],
        projection_lag: Callable[[], int],
        projection_active: Callable[[], bool] = lambda: False,
    ) -> None:
        self.registry.register(
            StoreCollector(events_recorded, projection_position, projection_lag, projection_active)
        )

    def watch_commits(self, counts: Callable[[], tuple[int, int]]) -> None:
        """``counts``: this process's event-store transactions and the writes they saved."""
        self.registry.register(CommitCollector(counts))

    def watch_feed(
        self, streams: Callable[[], int], webhooks: Callable[[], tuple[int, int]]
    ) -> None:
        """``streams``: this process's open event streams; ``webhooks``: the store's
        webhooks, and how many of them are failing."""
        self.registry.register(FeedCollector(streams, webhooks))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Read at scrape time: the store is the authority, not a counter in this process."""

    def __init__(
        self,
        events_recorded: Callable[[], int | None],
        projection_position: Callable[[], int | None],
        projection_lag: Callable[[], int],
        projection_active: Callable[[], bool],
    ) -> None:
        self._events_recorded = events_recorded
        self._position = projection_position
        self._lag = projection_lag
        self._active = projection_active

    def collect(self) -> Iterable[Metric]:
        try:
            recorded = self._events_recorded() or 0
            position = self._position() or 0
            lag = self._lag()
        except Exception:
            log.exception("cannot read the store's figures for /metrics")
            return
        yield CounterMetricFamily(
            "outdial_events_appended",
            "Events appended to the event store, by every process.",
            value=recorded,
        )
        yield GaugeMetricFamily(
            "outdial_projection_position",
            "Notification id of the last event the read model applied.",
            value=position,
        )
        yield GaugeMetricFamily(
            "outdial_projection_lag", "Events recorded but not yet in the read model.", value=lag
        )
        yield GaugeMetricFamily(
            "outdial_projection_active",
            "1 while this process's projection is the store's active one, 0 otherwise.",
            value=int(self._active()),
        )


class CommitCollector(Collector):
    """This process's event-store transactions beside the writes they saved: their ratio
    is what group commit saves (a transaction for each write when there is no
    concurrency, fewer under it)."""

    def __init__(self, counts: Callable[[], tuple[int, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        transactions, writes = self._counts()
        yield CounterMetricFamily(
            "outdial_event_store_transactions",
            "Event-store transactions this process committed or tried, failed ones included.",
            value=transactions,
        )
        yield CounterMetricFamily(
            "outdial_event_store_writes",
            "Writes (commands with events) this process saved to the event store.",
            value=writes,
        )


class FeedCollector(Collector):
    """The event feed's readers: this process's open streams, and the store's webhooks with
    those failing for a day (what an operator alerts on)."""

    def __init__(self, streams: Callable[[], int], webhooks: Callable[[], tuple[int, int]]) -> None:
        self._streams = streams
        self._webhooks = webhooks

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "outdial_event_streams",
            "Event streams (GET /v1.0/events/stream) this process is sending.",
            value=self._streams(),
        )
        try:
            webhooks, failing = self._webhooks()
        except Exception:
            log.exception("cannot read the webhooks for /metrics")
            return
        yield GaugeMetricFamily("outdial_webhooks", "Webhooks of every customer.", value=webhooks)
        yield GaugeMetricFamily(
            "outdial_webhooks_failing",
            "Webhooks whose deliveries have failed for 24 hours or more.",
            value=failing,
        )
