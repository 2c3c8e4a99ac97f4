"""The contact rules at a campaign's scale (SPEC §10): a campaign of which half is outside
its calling window right now, against a long do-not-call list.

The targets' numbers alternate between Seoul and New York, thirteen or fourteen hours
apart, and the window is open in Seoul's afternoon-ish hours around now, so every New York
number is closed; the list holds an exact entry for every tenth number of the campaign, a
prefix that blocks a thousand Seoul numbers, prefixes of other countries and, to fill it up,
exact entries of numbers the campaign does not hold. The reference is the same campaign
of another customer, with no window and an empty list, in the same store. Everything is
written through the service in this process, beside a server whose projection follows it;
the figures are what a dialer sees over HTTP.
"""

from __future__ import annotations

import statistics
import subprocess
from collections import Counter
from datetime import UTC, datetime
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import orjson

from adapters.event_log import StoredEventLog
from adapters.read_model_store import open_read_model
from application.service import NewEntry, NewTarget, OutdialService
from benchmarks.load import RequestFactory, run_load
from benchmarks.paths import dispatch_load
from benchmarks.report import Figure, Report
from benchmarks.servers import PYTHON, Server, service
from benchmarks.stores import Store, fresh
from domain.address import Address
from domain.calling_window import CallingWindow

STORES = ("sqlite", "postgres")
BATCH = 1_000
LIMIT = 10  # each dispatch's, as in the plain dispatch figure
# GET available is measured in rounds, with and without rules in turn.
ROUNDS, ROUND_SECONDS = 3, 1.0
# The prefix that blocks Seoul numbers 49,000..49,999 of the campaign.
SEOUL_PREFIX = "+821000049"


def seoul(n: int) -> str:
    return f"+8210{n:08d}"


def new_york(n: int) -> str:
    return f"+1212{200 + n // 10_000}{n % 10_000:04d}"  # exchanges 200.. (valid NANP)


def number(n: int) -> str:
    """The n-th target's number: Seoul and New York in turn."""
    return seoul(n // 2) if n % 2 == 0 else new_york(n // 2)


def on_the_list(n: int) -> bool:
    """Whether the n-th target's number is on the list (exact or by prefix)."""
    return (n // 2) % 10 == 0 or number(n).startswith(SEOUL_PREFIX)


def entries(size: int, targets: int) -> list[NewEntry]:
    listed = [NewEntry(number(n)) for n in range(targets) if (n // 2) % 10 == 0]
    listed.append(NewEntry(SEOUL_PREFIX, match="prefix"))
    listed += [
        NewEntry(f"+44{7000 + k:04d}", match="prefix") for k in range(min(1_000, size // 10))
    ]
    filler = 0
    while len(listed) < size:
        listed.append(NewEntry(f"+4420{filler:08d}"))
        filler += 1
    return listed


def window_open_in_seoul(now: datetime) -> CallingWindow:
    """Every day from four hours before Seoul's hour now to five hours after: New York's
    local time is then outside it."""
    hour = now.astimezone(ZoneInfo("Asia/Seoul")).hour
    start, end = (hour - 4) % 24, (hour + 5) % 24
    every_day = list(range(1, 8))
    if start < end:
        hours = [{"days": every_day, "start": f"{start:02d}:00", "end": f"{end:02d}:00"}]
    else:
        hours = [{"days": every_day, "start": f"{start:02d}:00", "end": "24:00"}]
        if end > 0:  # an hour past midnight: ending at midnight has no second part
            hours.append({"days": every_day, "start": "00:00", "end": f"{end:02d}:00"})
    return CallingWindow.parse({"time_zone": "Asia/Seoul", "hours": hours})


def contact_rules(report: Report, *, quick: bool) -> None:
    targets, listed = (2_000, 2_000) if quick else (100_000, 100_000)
    for kind in STORES:
        _contact_rules_on(report, kind, targets, listed)


def _p50s(server: Server, paths: dict[str, tuple[str, dict[str, str]]]) -> dict[str, float]:
    """The p50 of a GET of each path (with its headers), in rounds taken in turn so that
    each sees the same machine."""
    latencies: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(ROUNDS):
        for name, (path, headers) in paths.items():
            result = run_load(
                server.url,
                _get(path),
                clients=1,
                seconds=ROUND_SECONDS,
                headers=headers,
            )
            latencies[name] += result.latencies_ms
    return {name: statistics.median(values) for name, values in latencies.items()}


def _get(path: str) -> RequestFactory:
    return lambda client, n, last: ("GET", path, None)


def _key_of(store: Store, customer: UUID) -> str:
    """A key of another customer, made as an operator makes one (outdial keys create)."""
    where = (
        ["--database-url", store.storage.database_url]
        if store.storage.database_url
        else ["--data-dir", str(store.storage.data_dir)]
    )
    made = subprocess.run(
        [PYTHON, "-m", "api.cli", "keys", "create", "--customer-id", str(customer), *where],
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip()


def _contact_rules_on(report: Report, kind: str, targets: int, listed: int) -> None:
    with fresh(kind) as store, service(**store.service_args) as server:  # type: ignore[arg-type]
        with server.client() as http:
            outdial_id = http.post("/v1.0/outdials", json={"name": "rules"}).json()["id"]
        outdial = UUID(outdial_id)
        app = OutdialService(store.storage.event_store_env())
        events = StoredEventLog(app, store.storage)
        read_model = open_read_model(store.storage, events)
        try:
            customer = app.customer_of_outdial(outdial)
            # The reference: the same campaign of another customer, with no rules.
            plain_customer = uuid4()
            plain = app.create_outdial(plain_customer, name="no rules").value.id
            for start in range(0, targets, BATCH):
                batch = [
                    NewTarget([Address("tel", number(n)), None, None, None, None])
                    for n in range(start, min(start + BATCH, targets))
                ]
                app.create_targets(customer, outdial, batch)
                app.create_targets(plain_customer, plain, batch)
            made = entries(listed, targets)
            for start in range(0, len(made), BATCH):
                app.add_do_not_call(customer, made[start : start + BATCH])
            app.change_calling_window(customer, outdial, window_open_in_seoul(datetime.now(UTC)))
            read_model.wait_until_applied(events.head(), timeout=3600)
            plain_headers = {"Authorization": f"Bearer {_key_of(store, plain_customer)}"}
            paths = {
                "rules": (f"/v1.0/outdials/{outdial_id}/available", server.headers),
                "plain": (f"/v1.0/outdials/{plain}/available", plain_headers),
            }
            before = _p50s(server, paths)
            dialable = {number(n) for n in range(0, targets, 2) if not on_the_list(n)}
            claimed, twice, wrong, rate = _dispatch(server, outdial_id, dialable)
            read_model.wait_until_applied(events.head(), timeout=3600)
            after = _p50s(server, paths)
        finally:
            read_model.close()
            events.close()
            app.close()
    scale = f"{targets:,} targets, half outside the window, {listed:,} do-not-call entries"
    report.add(
        Figure(
            kind,
            f"GET available (100) under a calling window and the do-not-call list; {scale}; p50",
            before["rules"],
            "ms",
            reference=before["plain"],
            reference_name="the same campaign of a customer without rules",
            target="<= 1.5x",
            met=before["rules"] <= 1.5 * before["plain"],
        )
    )
    report.add(
        Figure(
            kind,
            f"4 concurrent dispatchers (limit {LIMIT}); {scale}",
            rate,
            "claims/s",
            target=">= 300 claims/s, never a blocked or closed target, never one twice",
            met=rate >= 300 and twice == 0 and wrong == 0 and claimed == len(dialable),
            note=f"{claimed:,} of {len(dialable):,} dialable claimed, {twice} twice, "
            f"{wrong} blocked or closed",
        )
    )
    report.add(
        Figure(
            kind,
            "GET available once every dialable target is claimed (idle are the closed "
            "half, never walked, and those on the list, each looked up), p50",
            after["rules"],
            "ms",
            reference=after["plain"],
            reference_name="the same campaign of a customer without rules",
            target="report",
            met=None,
        )
    )


def _dispatch(server: Server, outdial_id: str, dialable: set[str]) -> tuple[int, int, int, float]:
    """4 dispatchers until every dialable target is claimed: (claimed, claimed twice,
    claimed though blocked or closed, claims per second)."""
    result = dispatch_load(
        server, outdial_id, limit=LIMIT, requests=len(dialable) // (4 * LIMIT) + 2
    )
    dials = [dial for answer in result.answers for dial in orjson.loads(answer)["result"]]
    claimed = Counter(dial["outdial_target_id"] for dial in dials)
    wrong = sum(
        1
        for dial in dials
        if dial["destination"]["target"] not in dialable or dial["time_zones"] != ["Asia/Seoul"]
    )
    twice = sum(1 for count in claimed.values() if count > 1)
    return len(claimed), twice, wrong, sum(claimed.values()) / result.seconds
