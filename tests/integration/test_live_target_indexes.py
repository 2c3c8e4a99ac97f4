"""The indexes of live targets leave deleted ones out (their partial condition), and the
queries of live targets are served by them on both stores: each states a live target in
the indexes' own words (projections.schema.LIVE_TARGET). A query saying it another way
(a bound parameter, say) would walk another index or none, and nothing else would tell."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID, uuid4

import pytest

from adapters.event_log import StoredEventLog
from adapters.stores import Storage
from application.service import OutdialService
from domain.calling_window import CallingWindow
from domain.plan import DEFAULT_PLAN
from projections.queries import ReadModelQueries
from projections.rebuild import catch_up
from projections.schema import LIVE_TARGET
from projections.store import ReadModelView
from tests.conftest import FakeClock, new_target

# A statement's named parameter (not a cast's "::type").
PARAMETER = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")
LIVE_INDEXES = (
    "targets_live",
    "targets_live_status",
    "targets_available",
    "targets_available_zone",
)
# Open all day, judged in each number's zones: the statement walks targets_available_zone
# once per open key of first destinations.
IN_ZONES = CallingWindow.parse(
    {"time_zone": "UTC", "hours": [{"days": list(range(1, 8)), "start": "00:00", "end": "24:00"}]}
)


def test_every_index_of_live_targets_holds_live_targets_alone(
    view: ReadModelView, storage: Storage
) -> None:
    on_postgres = bool(storage.database_url)
    statement = (
        "SELECT indexname AS name, indexdef AS sql FROM pg_indexes WHERE tablename = 'targets'"
        if on_postgres
        else "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'targets'"
    )
    found = {row["name"]: row["sql"] for row in view.query(statement, {})}
    # PostgreSQL shows the condition as it parsed it: typed and in parentheses.
    condition = f"({LIVE_TARGET}::text)" if on_postgres else LIVE_TARGET
    for name in LIVE_INDEXES:
        assert found[name].endswith(f"WHERE {condition}"), found
    assert "WHERE" not in found["targets_page"]  # the list with the deleted ones


@pytest.mark.parametrize(
    ("indexes", "read"),
    [
        (["targets_live"], lambda q, c, o: q.page_targets(c, o, page_size=10)),
        (
            ["targets_live_status"],
            lambda q, c, o: q.page_targets(c, o, page_size=10, status="idle"),
        ),
        # Live targets by status: any index of them leading with (outdial_id, status).
        (LIVE_INDEXES[1:], lambda q, c, o: q.target_counts(c, [o])),
        (["targets_available"], "no window"),
        (["targets_available_zone"], "a window in numbers' zones"),
    ],
)
def test_the_queries_of_live_targets_walk_their_index(
    stored_service: OutdialService,
    events: StoredEventLog,
    view: ReadModelView,
    storage: Storage,
    clock: FakeClock,
    indexes: Sequence[str],
    read: Callable[[ReadModelQueries, UUID, UUID], object] | str,
) -> None:
    customer = uuid4()
    outdial = stored_service.create_outdial(customer, name="list").value.id
    if read == "a window in numbers' zones":
        stored_service.change_calling_window(customer, outdial, IN_ZONES)
    targets = stored_service.create_targets(
        customer, outdial, [new_target(f"+8211000000{n:02d}") for n in range(3)]
    ).value
    stored_service.delete_target(customer, outdial, targets[0].id)
    catch_up(events, view)
    statements = _recorded(view)
    queries = ReadModelQueries(view)
    if isinstance(read, str):
        queries.available_targets(customer, outdial, plan=DEFAULT_PLAN, now=clock.now, limit=5)
    else:
        read(queries, customer, outdial)
    (statement, params) = next(s for s in statements if "FROM targets" in s[0])
    plan = _plan(view, statement, params, on_postgres=bool(storage.database_url))
    walked = set(plan.replace("(", " ").replace(")", " ").split())
    assert walked & set(indexes), plan


def _recorded(view: ReadModelView) -> list[tuple[str, dict[str, Any]]]:
    """The statements ``view.query`` runs from now on, with their parameters."""
    statements: list[tuple[str, dict[str, Any]]] = []
    query = view.query

    def recording(statement: str, params: Any) -> Any:
        statements.append((statement, dict(params)))
        return query(statement, params)

    view.query = recording  # type: ignore[method-assign]
    return statements


def _plan(view: ReadModelView, statement: str, params: dict[str, Any], *, on_postgres: bool) -> str:
    """The store's plan of the statement, as text. On PostgreSQL the plan a prepared
    statement may get for any values of its parameters (a pool's connection prepares a
    statement it runs often), told to use an index where one serves (a table of a
    handful of rows is otherwise read whole): a condition on a parameter would match no
    partial index then."""
    with view.reading() as rows:
        if not on_postgres:
            found = rows.select(f"EXPLAIN QUERY PLAN {statement}", params)
            return "\n".join(str(row["detail"]) for row in found)
        names = list(dict.fromkeys(PARAMETER.findall(statement)))
        numbered = PARAMETER.sub(lambda m: f"${names.index(m.group(1)) + 1}", statement)
        rows.execute("SET LOCAL enable_seqscan = off")
        rows.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        types = ["bigint" if isinstance(params[n], int) else "text" for n in names]
        rows.execute(f"PREPARE probe ({', '.join(types)}) AS {numbered}")
        # EXPLAIN takes no parameters of its own: the values written out.
        values = ", ".join(_literal(params[name]) for name in names)
        found = rows.select(f"EXPLAIN EXECUTE probe({values})", {})
        return "\n".join(str(row["QUERY PLAN"]) for row in found)


def _literal(value: object) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"
