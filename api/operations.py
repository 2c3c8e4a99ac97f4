"""Operations commands of the `outdial` console script: project, rebuild, verify, replay.

What engineers run to keep the read model honest and to ask "why is this target in
this state?" without the HTTP API.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.models import replay_wire
from api.settings import Settings
from api.sweeper import DialTimeoutSweeper
from application.history import replay_trace, stored_events
from application.service import OutdialService
from projections.rebuild import rebuild
from projections.runner import ReadModel
from projections.verify import verify

Command = Callable[[Settings, argparse.Namespace], int]


def register(commands: Any, store: argparse.ArgumentParser) -> dict[str, Command]:
    """Add the operations subcommands to the console script's parser."""
    commands.add_parser(
        "project", parents=[store], help="run the read-model projection worker until stopped"
    )
    rebuild_command = commands.add_parser(
        "rebuild",
        parents=[store],
        help="project every event again into a fresh read model, replacing it in one transaction",
    )
    rebuild_command.add_argument(
        "--until", type=int, metavar="POSITION", help="stop at this notification id"
    )
    rebuild_command.add_argument(
        "--into",
        metavar="URL_OR_PATH",
        help="build into a separate store (SQLite path or postgresql:// URL), for debugging",
    )
    commands.add_parser(
        "verify", parents=[store], help="compare the read model with the replay of the events"
    )
    replay_command = commands.add_parser(
        "replay", parents=[store], help="each event of a target and its state after it"
    )
    replay_command.add_argument("target_id", type=UUID, metavar="TARGET_ID")
    return {
        "project": project,
        "rebuild": rebuild_read_model,
        "verify": verify_read_model,
        "replay": replay_target,
    }


def project(settings: Settings, args: argparse.Namespace) -> int:
    """The projection worker (SPEC §6): for API processes started with
    OUTDIAL_RUN_PROJECTIONS=false."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    storage = settings.storage()
    model = ReadModel(storage)
    service = OutdialService(storage=storage)
    # The worker also times out overdue dials, for API processes that run neither.
    sweeper = DialTimeoutSweeper(service, model.queries, settings.sweep_interval_seconds)
    sweeper.start()
    try:
        model.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sweeper.stop()
        model.close()
        service.close()
    return 0


def rebuild_read_model(settings: Settings, args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    if args.until is not None and args.into is None:
        # A live read model behind the events would lose what its runner already passed.
        console.print("outdial rebuild: --until needs --into (a separate store)", markup=False)
        return 2
    columns = (TextColumn("rebuilding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("rebuild", total=None)

        def advance(position: int, last: int) -> None:
            progress.update(task, completed=position, total=last)

        count = rebuild(settings.storage(), until=args.until, into=args.into, progress=advance)
    where = args.into or "the read model"
    console.print(f"projected {count} events into {where}")
    return 0


def verify_read_model(settings: Settings, args: argparse.Namespace) -> int:
    storage = settings.storage()
    app = OutdialService(storage=storage)
    model = ReadModel(storage)
    try:
        position, differences = verify(app, model.view)
    finally:
        model.close()
        app.close()
    # Plain lines, never wrapped: people grep them and scripts parse them.
    for difference in differences:
        print(difference)
    print(f"checked the read model at position {position}: {len(differences)} difference(s)")
    return 1 if differences else 0


def replay_target(settings: Settings, args: argparse.Namespace) -> int:
    app = OutdialService(storage=settings.storage())
    try:
        steps = replay_trace(stored_events(app, args.target_id))
    finally:
        app.close()
    console = Console()
    if not steps:
        console.print(f"no events for target {args.target_id}", markup=False)
        return 1
    table = Table(title=f"target {args.target_id}", show_lines=True)
    for column in ("version", "event", "time", "data", "changed"):
        table.add_column(column, overflow="fold")
    for step in replay_wire(steps):  # the same wire form as GET .../replay
        event = step["event"]
        changes = "\n".join(
            f"{field}: {_text(old)} → {_text(new)}" for field, (old, new) in step["changes"].items()
        )
        data = "\n".join(f"{key}: {_text(value)}" for key, value in event["data"].items())
        table.add_row(str(event["version"]), event["type"], event["timestamp"], data, changes)
    console.print(table)
    return 0


def _text(wired: Any) -> str:
    """A wire value as one line: strings as they are, anything else as JSON."""
    return wired if isinstance(wired, str) else json.dumps(wired, separators=(",", ":"))
