"""The scenarios of the benchmark report, each measuring figures beside their references."""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID, uuid4

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from adapters.event_log import StoredEventLog
from adapters.read_model_store import open_read_model
from adapters.stores import Storage
from application.service import NewTarget, OutdialService
from benchmarks.commands import peak_rss_mb, write_rows
from benchmarks.contact_rules import contact_rules
from benchmarks.erasure import erasures, sealing_a_post, sealing_at_the_edges
from benchmarks.load import LoadResult, Request, run_load, threaded_rate
from benchmarks.paths import (
    PATH_CLIENTS,
    PathFigures,
    claimed_targets,
    dispatch_load,
    measure_paths,
)
from benchmarks.report import Figure, Report
from benchmarks.sealing import sealing
from benchmarks.servers import Server, cpu_seconds, nothing, reference, service
from benchmarks.stores import fresh
from benchmarks.streams import stream_readers
from domain.address import Address
from domain.target import Target
from projections.rebuild import rebuild
from projections.runner import ReadModel

STORES = ("sqlite", "postgres")
NEW = NewTarget([Address("tel", "+821100000001"), None, None, None, None])
BATCH_BODY = orjson.dumps(
    {"targets": [{"destination_0": {"type": "tel", "target": "+821100000001"}}] * 1000}
)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


# -- the load generator's own ceiling ---------------------------------------------------


def ceiling(report: Report, *, quick: bool) -> None:
    with nothing() as server:
        result = run_load(server.url, lambda c, n, last: ("GET", "/", None), seconds=2)
    report.add(
        Figure("-", "load generator against a handler that does nothing", result.rate, "req/s")
    )


# -- the hot paths against the plain CRUD -----------------------------------------------


def hot_paths(report: Report, *, quick: bool) -> None:
    rounds, seconds = (1, 1.0) if quick else (3, 4.0)
    for kind in STORES:
        ours: list[PathFigures] = []
        theirs: list[PathFigures] = []
        for _ in range(rounds):  # interleaved, so that both see the same machine
            with fresh(kind) as store:
                with service(**store.service_args) as server:  # type: ignore[arg-type]
                    ours.append(measure_paths(server, seconds=seconds))
                with reference(**store.reference_args) as server:  # type: ignore[arg-type]
                    theirs.append(measure_paths(server, seconds=seconds))
        picks: list[tuple[str, Callable[[PathFigures], float], float]] = [
            ("POST a target", lambda f: f.post_target.rate, 0.5),
            ("GET a target", lambda f: f.get_target.rate, 0.8),
            ("GET a page of 100 targets", lambda f: f.get_page.rate, 0.8),
            ("dial cycle (start + finish)", lambda f: f.cycles_per_second, 0.5),
        ]
        per_write = [f.transactions_per_write for f in ours if f.transactions_per_write]
        if per_write:
            report.add(
                Figure(
                    kind,
                    f"event-store transactions per write, {PATH_CLIENTS} writers "
                    "(POST and dial cycle loads)",
                    _median(per_write),
                    "",
                    target="<= 0.5",
                    met=_median(per_write) <= 0.5,
                )
            )
        # Latency under the same load: each request's p99, the dial cycle's of its
        # starts and finishes alike.
        tails: list[tuple[str, Callable[[PathFigures], float]]] = [
            ("POST a target, p99", lambda f: f.post_target.percentile(0.99)),
            ("dial cycle, p99 of its requests", lambda f: f.dial_cycle.percentile(0.99)),
        ]
        for name, pick in tails:
            value = _median([pick(f) for f in ours])
            crud = _median([pick(f) for f in theirs])
            report.add(
                Figure(
                    kind,
                    name,
                    value,
                    "ms",
                    reference=crud,
                    reference_name="plain CRUD",
                    target="<= 2x CRUD",
                    met=crud > 0 and value <= 2 * crud,
                )
            )
        for name, pick, target in picks:
            value = _median([pick(f) for f in ours])
            crud = _median([pick(f) for f in theirs])
            errors = sum(
                f.post_target.errors + f.get_target.errors + f.dial_cycle.errors for f in ours
            )
            report.add(
                Figure(
                    kind,
                    name,
                    value,
                    "/s",
                    reference=crud,
                    reference_name="plain CRUD",
                    target=f">= {target}x CRUD",
                    met=crud > 0 and value / crud >= target,
                    note="" if not errors else f"{errors} errors",
                )
            )


# -- import through /targets/batch, and reads as the table grows -----------------------


def _p50(server: Server, make: Callable[[int, int, bytes], Request], seconds: float) -> float:
    result = run_load(server.url, make, clients=1, seconds=seconds, headers=server.headers)
    return result.p50


def import_and_reads(report: Report, *, quick: bool) -> None:
    small, large = (1_000, 6_000) if quick else (10_000, 200_000)
    for kind in STORES:
        _import_and_reads_on(report, kind, small, large)


def _import_and_reads_on(report: Report, kind: str, small: int, large: int) -> None:
    with fresh(kind) as store, service(**store.service_args) as server:  # type: ignore[arg-type]
        with server.client() as http:
            outdial = http.post("/v1.0/outdials", json={"name": "import"}).json()["id"]
        path = f"/v1.0/outdials/{outdial}/targets"

        def batch(client: int, n: int, last: bytes) -> Request:
            return "POST", f"{path}/batch", BATCH_BODY

        def imported(count: int, clients: int) -> LoadResult:
            return run_load(
                server.url,
                batch,
                clients=clients,
                seconds=3600,
                headers=server.headers,
                requests_per_client=count // 1000 // clients,
            )

        imported(small, 1)
        at_small = _read_p50s(server, outdial)
        result = imported(large - small, 4)
        done = (result.requests - result.errors) * 1000
        at_large = _read_p50s(server, outdial)
    report.add(
        Figure(
            kind,
            f"import through /targets/batch, sustained to {large:,} targets",
            done / result.seconds,
            "targets/s",
            target=">= 5,000 targets/s",
            met=done / result.seconds >= 5_000,
            note="" if not result.errors else f"{result.errors} failed batches",
        )
    )
    for name, value in at_large.items():
        report.add(
            Figure(
                kind,
                f"{name}, p50 at {large:,} targets",
                value,
                "ms",
                reference=at_small[name],
                reference_name=f"p50 at {small:,}",
                target="<= 1.5x",
                met=value <= 1.5 * at_small[name],
            )
        )


def _read_p50s(server: Server, outdial: str) -> dict[str, float]:
    path = f"/v1.0/outdials/{outdial}/targets"
    with server.client() as http:
        ids = [t["id"] for t in http.get(path, params={"page_size": 100}).json()["result"]]
    chosen = random.Random(3)
    return {
        "GET a target": _p50(
            server, lambda c, n, last: ("GET", f"{path}/{chosen.choice(ids)}", None), 2
        ),
        "GET a page of 100": _p50(
            server, lambda c, n, last: ("GET", f"{path}?page_size=100", None), 2
        ),
        "GET available (100)": _p50(
            server, lambda c, n, last: ("GET", f"/v1.0/outdials/{outdial}/available", None), 2
        ),
    }


# -- dispatchers ------------------------------------------------------------------------


def dispatchers(report: Report, *, quick: bool) -> None:
    count = 1_000 if quick else 8_000
    for kind in STORES:
        _dispatchers_on(report, kind, count)


def _dispatchers_on(report: Report, kind: str, count: int, *, workers: int = 1) -> None:
    with (
        fresh(kind) as store,
        service(
            **store.service_args,  # type: ignore[arg-type]
            extra=["--workers", str(workers)],
        ) as server,
    ):
        with server.client() as http:
            outdial = http.post("/v1.0/outdials", json={"name": "dispatch"}).json()["id"]
            for _ in range(count // 1000):
                http.post(
                    f"/v1.0/outdials/{outdial}/targets/batch",
                    content=BATCH_BODY,
                    headers={"Content-Type": "application/json"},
                )
        result = dispatch_load(server, outdial, limit=10, requests=count // 40 + 2)
        claimed = claimed_targets(result)
    twice = sum(1 for n in claimed.values() if n > 1)
    rate = sum(claimed.values()) / result.seconds
    report.add(
        Figure(
            kind,
            "4 concurrent dispatchers (limit 10)"
            + (f", over {workers} API processes" if workers > 1 else ""),
            rate,
            "claims/s",
            target=">= 300 claims/s, never a target twice",
            met=rate >= 300 and twice == 0 and len(claimed) == count,
            note=f"{len(claimed):,} of {count:,} claimed, {twice} twice",
        )
    )


# -- the live projection, rebuild and the raw library -----------------------------------


@contextmanager
def _projecting(storage: Storage, read_model: ReadModel, events: StoredEventLog) -> Iterator[None]:
    """`outdial project` on the store, running and caught up for the block."""
    where = (
        ["--database-url", storage.database_url]
        if storage.database_url
        else ["--data-dir", str(storage.data_dir)]
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "project", *where],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not read_model.wait_until_applied(events.head(), timeout=120):
            msg = "the projection process did not catch up"
            raise RuntimeError(msg)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def _write_targets(app: OutdialService, customer: UUID, outdial: UUID, count: int) -> int:
    """``count`` targets, each dialed and finished once: 3 events a target, written by the
    domain in batches of 1,000 aggregates a save."""
    for start in range(0, count, 1000):
        targets = app.create_targets(customer, outdial, [NEW] * min(1000, count - start)).value
        plan = app.get_outdial(customer, outdial).plan
        for target in targets:
            dial = target.start_dial(dial_id=uuid4(), plan=plan, at=app.clock())
            target.finish_dial(dial_id=dial.id, result="fail", reason="busy", at=app.clock())
        app.save(*targets)
    return app.recorder.max_notification_id() or 0


class _Bare(Aggregate):
    """The smallest aggregate the library saves: the reference of the service's save."""


class _BareApplication(Application[UUID]):
    name = "benchbare"  # its own tables on PostgreSQL


def _save_rates(
    app: OutdialService, env: dict[str, str], customer: UUID, outdial: UUID, quick: bool
) -> dict[int, tuple[float, float]]:
    """{threads: (the service's saves/s, a bare library application's saves/s)}: each new
    aggregate saved alone, from 1 thread and from 8, after a warm-up (the first saves of a
    process open its connections). An earlier row timed 300 cold saves in one thread."""
    own = {k: v for k, v in env.items() if k != "APPLICATION_RECORDER_TOPIC"}
    if "SQLITE_DBNAME" in own:  # a file of its own, beside the service's
        own["SQLITE_DBNAME"] += ".bare"
    bare = _BareApplication(env={**own, "CREATE_TABLE": "y"})
    count = 200 if quick else 2_000

    def ours() -> None:
        app.save(
            Target.create(
                target_id=uuid4(),
                outdial_id=outdial,
                customer_id=customer,
                destinations=NEW.destinations,
                at=app.clock(),
            )
        )

    def theirs() -> None:
        bare.save(_Bare())

    def rate(save: Callable[[], None], threads: int) -> float:
        return threaded_rate(save, count, threads)

    for save in (ours, theirs):  # warm-up: connections, caches, the tables' first pages
        rate(save, 8)
    rates = {threads: (rate(ours, threads), rate(theirs, threads)) for threads in (1, 8)}
    bare.close()
    return rates


def projection_and_rebuild(report: Report, *, quick: bool) -> None:
    sizes = {"sqlite": 2_000 if quick else 50_000, "postgres": 1_000 if quick else 30_000}
    for kind in STORES:
        with fresh(kind) as store:
            app = OutdialService(store.storage.event_store_env())
            events = StoredEventLog(app, store.storage)
            customer = uuid4()
            outdial = app.create_outdial(customer).value.id
            saves = _save_rates(app, store.storage.event_store_env(), customer, outdial, quick)
            # Writes going on while the live projection follows them, in a process of its
            # own as `outdial project` runs it: from the moment it has caught up until it
            # has applied everything written meanwhile.
            read_model = open_read_model(store.storage, events)
            with _projecting(store.storage, read_model, events):
                caught_up = events.head()
                began = time.perf_counter()
                _write_targets(app, customer, outdial, sizes[kind])
                head = events.head()
                while (read_model.position() or 0) < head:
                    time.sleep(0.01)
                live_rate = (head - caught_up) / (time.perf_counter() - began)
            # Reading the notification log as the library does (the floor of any reader).
            began = time.perf_counter()
            position = 0
            while page := events.read(position, limit=1000):
                position = page[-1][0]
            read_rate = head / (time.perf_counter() - began)
            began = time.perf_counter()
            projected = rebuild(events, read_model.view)
            rebuild_rate = projected / (time.perf_counter() - began)
            read_model.close()
            events.close()
            app.close()
        for threads, (ours, bare) in saves.items():
            report.add(
                Figure(
                    kind,
                    f"the service's save of one new target, {threads} thread(s), warm",
                    ours,
                    "saves/s",
                    reference=bare,
                    reference_name="a bare library application saving a bare aggregate",
                )
            )
        report.add(
            Figure(
                kind,
                f"live projection under write load ({head - caught_up:,} events), "
                "in a process of its own",
                live_rate,
                "events/s",
                reference=read_rate,
                reference_name="reading the notification log",
                target=">= 10,000 events/s" if kind == "sqlite" else ">= 5,000 events/s",
                met=live_rate >= (10_000 if kind == "sqlite" else 5_000),
            )
        )
        report.add(
            Figure(
                kind,
                f"rebuild ({projected:,} events)",
                rebuild_rate,
                "events/s",
                reference=read_rate,
                reference_name="reading the notification log",
                target=">= 20,000 events/s" if kind == "sqlite" else ">= 10,000 events/s",
                met=rebuild_rate >= (20_000 if kind == "sqlite" else 10_000),
            )
        )


# -- verify and rebuild in constant memory ----------------------------------------------


def operations_memory(report: Report, *, quick: bool) -> None:
    count = 10_000 if quick else 1_000_000
    with fresh("sqlite") as store:
        app = OutdialService(store.storage.event_store_env())
        customer = uuid4()
        outdial = app.create_outdial(customer).value.id
        for start in range(0, count, 1000):
            app.create_targets(customer, outdial, [NEW] * min(1000, count - start))
        app.close()
        assert store.storage.data_dir is not None
        where = ["--data-dir", str(store.storage.data_dir)]
        rebuild_rss, rebuild_s = peak_rss_mb(["rebuild", *where], {})
        verify_rss, verify_s = peak_rss_mb(["verify", *where], {})
    for name, rss, seconds in [
        ("rebuild", rebuild_rss, rebuild_s),
        ("verify", verify_rss, verify_s),
    ]:
        report.add(
            Figure(
                "sqlite",
                f"{name} at {count:,} targets, peak RSS",
                rss,
                "MB",
                target="< 300 MB",
                met=rss < 300,
                note=f"{seconds:.0f} s, {count / seconds:,.0f} events/s",
            )
        )


# -- PostgreSQL at a million targets -----------------------------------------------------


def postgres_million(report: Report, *, quick: bool) -> None:
    """One outdial on PostgreSQL grown by `outdial import` from 10,000 targets to
    1,000,000: the import's rate and memory, the reads at both sizes, dispatch, and
    rebuild and verify of the whole store in bounded memory."""
    small, large = (1_000, 20_000) if quick else (10_000, 1_000_000)
    with fresh("postgres") as store:
        where = ["--database-url", str(store.storage.database_url)]
        with service(**store.service_args) as server:  # type: ignore[arg-type]
            key = server.key
            with server.client() as http:
                outdial = http.post("/v1.0/outdials", json={"name": "million"}).json()["id"]
        assert store.storage.database_url is not None
        rows = Path(tempfile.mkdtemp(prefix="outdial-bench-")) / "list.csv"
        write_rows(rows, 0, small)
        peak_rss_mb(["import", outdial, str(rows), *where], {})
        with service(**store.service_args, key=key) as server:  # type: ignore[arg-type]
            at_small = _read_p50s(server, outdial)
        write_rows(rows, small, large)
        import_rss, import_s = peak_rss_mb(["import", outdial, str(rows), *where], {})
        rows.unlink()
        with service(**store.service_args, key=key) as server:  # type: ignore[arg-type]
            at_large = _read_p50s(server, outdial)
            dispatched = dispatch_load(server, outdial, limit=10, requests=200)
        rebuild_rss, rebuild_s = peak_rss_mb(["rebuild", *where], {})
        verify_rss, verify_s = peak_rss_mb(["verify", *where], {})
    added = large - small
    rate = added / import_s
    report.add(
        Figure(
            "postgres",
            f"outdial import of {added:,} CSV rows into an outdial of {small:,}",
            rate,
            "targets/s",
            target=">= 10,000 targets/s",
            met=rate >= 10_000,
            note=f"{import_s:.0f} s in all, checking included; peak RSS {import_rss:.0f} MB",
        )
    )
    for name, value in at_large.items():
        report.add(
            Figure(
                "postgres",
                f"{name}, p50 at {large:,} targets",
                value,
                "ms",
                reference=at_small[name],
                reference_name=f"p50 at {small:,}",
                target="<= 1.5x",
                met=value <= 1.5 * at_small[name],
            )
        )
    claimed = claimed_targets(dispatched)
    twice = sum(1 for n in claimed.values() if n > 1)
    claims = sum(claimed.values()) / dispatched.seconds
    report.add(
        Figure(
            "postgres",
            f"4 concurrent dispatchers (limit 10) at {large:,} targets",
            claims,
            "claims/s",
            target=">= 300 claims/s, never a target twice",
            met=claims >= 300 and twice == 0,
            note=f"{len(claimed):,} claimed, {twice} twice",
        )
    )
    for name, rss, seconds in [
        ("rebuild", rebuild_rss, rebuild_s),
        ("verify", verify_rss, verify_s),
    ]:
        report.add(
            Figure(
                "postgres",
                f"{name} at {large:,} targets, peak RSS",
                rss,
                "MB",
                target="< 300 MB",
                met=rss < 300,
                note=f"{seconds:.0f} s, {large / seconds:,.0f} events/s",
            )
        )


# -- an idle server ---------------------------------------------------------------------


def csv_import(report: Report, *, quick: bool) -> None:
    """`outdial import` of a campaign list into a fresh SQLite store: its rate and its
    peak memory, rows checked first, then written a batch at a time."""
    count = 20_000 if quick else 1_000_000
    with fresh("sqlite") as store:
        app = OutdialService(store.storage.event_store_env())
        outdial = app.create_outdial(uuid4()).value.id
        app.close()
        assert store.storage.data_dir is not None
        rows = store.storage.data_dir.parent / "list.csv"
        write_rows(rows, 0, count)
        where = ["--data-dir", str(store.storage.data_dir)]
        rss, seconds = peak_rss_mb(["import", str(outdial), str(rows), *where], {})
    rate = count / seconds
    report.add(
        Figure(
            "sqlite",
            f"outdial import of {count:,} CSV rows",
            rate,
            "targets/s",
            target=">= 10,000 targets/s",
            met=rate >= 10_000,
            note=(
                f"{seconds:.0f} s in all, checking included; peak RSS {rss:.0f} MB, the "
                "largest of its processes (target < 300 MB at 1,000,000 rows)"
            ),
        )
    )


def idle(report: Report, *, quick: bool) -> None:
    seconds = 2.0 if quick else 20.0
    for kind in STORES:
        with fresh(kind) as store, service(**store.service_args) as server:  # type: ignore[arg-type]
            time.sleep(1)
            before, began = cpu_seconds(server.process.pid), time.monotonic()
            time.sleep(seconds)
            share = (cpu_seconds(server.process.pid) - before) / (time.monotonic() - began)
        report.add(
            Figure(
                kind,
                "idle server, share of one core",
                share * 100,
                "%",
                target="< 1 %",
                met=share < 0.01,
            )
        )


# -- history in linear time -------------------------------------------------------------


def history(report: Report, *, quick: bool) -> None:
    with fresh("sqlite") as store, service(**store.service_args) as server:  # type: ignore[arg-type]
        with server.client() as http:
            outdial = http.post("/v1.0/outdials", json={"name": "history"}).json()["id"]
            plan = {f"max_try_count_{n}": 100 for n in range(5)}
            http.put(f"/v1.0/outdials/{outdial}/plan", json=plan)
            destinations = {
                f"destination_{n}": {"type": "tel", "target": f"+8211000000{n:02d}"}
                for n in range(5)
            }

            def target_with(dials: int, deleted: bool) -> str:
                path = f"/v1.0/outdials/{outdial}/targets"
                target = http.post(path, json=destinations).json()["id"]
                for n in range(dials):
                    dial = http.post(f"{path}/{target}/dials").json()
                    finish = f"{path}/{target}/dials/{dial['id']}"
                    http.put(finish, json={"result": "fail", "reason": "busy"})
                    if n % 2 == 0:  # the caller finishes it again: a no-op, no event
                        http.put(finish, json={"result": "fail", "reason": "busy"})
                if deleted:
                    http.delete(f"{path}/{target}")
                return f"{path}/{target}"

            short = target_with(50, deleted=False)
            long = target_with(500 if not quick else 150, deleted=True)
            counts = {t: len(http.get(t + "/events").json()["result"]) for t in (short, long)}

        def p50(path: str) -> float:
            result: LoadResult = run_load(
                server.url,
                lambda c, n, last: ("GET", path, None),
                clients=1,
                seconds=3,
                headers=server.headers,
            )
            return result.p50

        for suffix, name in [
            ("/events", "events"),
            ("/replay", "replay"),
            ("?version=3", "version"),
        ]:
            long_p50, short_p50 = p50(long + suffix), p50(short + suffix)
            report.add(
                Figure(
                    "sqlite",
                    f"{name} of {counts[long]:,} events, p50",
                    long_p50,
                    "ms",
                    reference=short_p50,
                    reference_name=f"{counts[short]} events",
                    target=f"<= 15x{' and < 50 ms' if name == 'replay' else ''}",
                    met=long_p50 <= 15 * short_p50 and (name != "replay" or long_p50 < 50),
                )
            )


# -- scale-out: one API process against two, on PostgreSQL ------------------------------


def scale_out(report: Report, *, quick: bool) -> None:
    """Create and get a target through ``serve --workers 1`` and ``--workers 2`` on one
    PostgreSQL, interleaved, and 4 dispatchers spread over the two processes' port."""
    rounds, seconds = (1, 1.0) if quick else (3, 4.0)
    figures: dict[int, list[PathFigures]] = {1: [], 2: []}
    for _ in range(rounds):
        for workers in (1, 2):
            with (
                fresh("postgres") as store,
                service(
                    **store.service_args,  # type: ignore[arg-type]
                    extra=["--workers", str(workers)],
                ) as server,
            ):
                figures[workers].append(measure_paths(server, seconds=seconds))
    picks: list[tuple[str, Callable[[PathFigures], float]]] = [
        ("POST a target", lambda f: f.post_target.rate),
        ("GET a target", lambda f: f.get_target.rate),
    ]
    for name, pick in picks:
        one = _median([pick(f) for f in figures[1]])
        two = _median([pick(f) for f in figures[2]])
        report.add(
            Figure(
                "postgres",
                f"{name}, 2 API processes",
                two,
                "/s",
                reference=one,
                reference_name="1 API process",
                target="report (2 cores shared with the load generator)",
                met=None,
            )
        )
    _dispatchers_on(report, "postgres", 1_000 if quick else 8_000, workers=2)


ALL: list[tuple[str, Callable[..., None]]] = [
    ("ceiling", ceiling),
    ("hot_paths", hot_paths),
    ("import", import_and_reads),
    ("dispatch", dispatchers),
    ("projection", projection_and_rebuild),
    ("operations", operations_memory),
    ("idle", idle),
    ("history", history),
    ("scale_out", scale_out),
    ("csv_import", csv_import),
    ("postgres_million", postgres_million),
    ("contact_rules", contact_rules),
    ("streams", stream_readers),
    ("sealing", sealing),
    ("sealing_edges", sealing_at_the_edges),
    ("sealing_post", sealing_a_post),
    ("erasure", erasures),
]
