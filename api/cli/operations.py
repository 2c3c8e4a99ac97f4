"""What engineers run to keep the read model honest and to ask "why is this target in
this state?" without the HTTP API: rebuild, verify, replay; and migrate, which brings the
store's own tables to this release."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.leases import creating_schema
from adapters.migrations import migrate_store
from adapters.stores import check_reachable
from api import presenters
from api.bootstrap import bootstrap
from api.readable import changed, said_by
from api.settings import Settings
from application.history import replay_steps, stored_events
from projections.failures import EventNotApplied
from projections.rebuild import rebuild
from projections.verify import verifying


def migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Every schema of the store at this release's latest version, one line each with the
    version before and after; then the library's tables, as `serve` makes them. Unlike
    `serve`, no statement timeout: a migration of a large table may take long."""
    storage = settings.storage()
    check_reachable(storage)
    with creating_schema(storage, connect_timeout=settings.connect_timeout_seconds):
        migrated = migrate_store(storage)
    for done in migrated:
        print(f"{done.schema}: version {done.before} -> {done.after} ({done.where})", flush=True)
    with bootstrap(settings):
        pass
    return 0


def rebuild_read_model(settings: Settings, args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    if args.until is not None and args.into is None:
        # A live read model behind the events would lose what its runner already passed.
        console.print("outdial rebuild: --until needs --into (a separate store)", markup=False)
        return 2
    columns = (TextColumn("rebuilding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with (
        bootstrap(settings) as services,
        ExitStack() as opened,
        Progress(*columns, console=console) as progress,
    ):
        task = progress.add_task("rebuild", total=None)

        def advance(position: int, last: int) -> None:
            progress.update(task, completed=position, total=last)

        read_model = (
            services.read_model
            if args.into is None
            else opened.enter_context(services.read_model_into(args.into))
        )
        try:
            count = rebuild(services.events, read_model.view, until=args.until, progress=advance)
        except EventNotApplied as error:
            progress.stop()
            print(f"outdial rebuild: {error}; the read model is unchanged", file=sys.stderr)
            return 1
    console.print(f"projected {count} events into {args.into or 'the read model'}")
    return 0


def verify_read_model(settings: Settings, args: argparse.Namespace) -> int:
    found = 0
    with bootstrap(settings) as services:
        read_model = services.read_model
        with verifying(services.events, read_model.view) as (position, differences):
            # Plain lines, never wrapped, as they are found: people grep them and
            # scripts parse them.
            for difference in differences:
                print(difference, flush=True)
                found += 1
        status = read_model.status()
    print(f"checked the read model at position {position}: {found} difference(s)")
    if status is not None and status.failed_at is not None and status.failed_at >= position:
        # Behind is fine; halted is not: the rows agree only because they stopped.
        print(f"the projection is halted at position {position}: {status.error}")
        return 1
    return 1 if found else 0


def replay_target(settings: Settings, args: argparse.Namespace) -> int:
    """Each event of a target and what it changed, and under a finish a retry rule
    decided, the rule: one block per event, readable in an 80-column terminal;
    ``--json`` prints the wire form of GET .../replay instead."""
    with bootstrap(settings) as services:
        steps = presenters.replay(replay_steps(stored_events(services.service, args.target_id)))
    if not steps:
        print(f"outdial replay: no events for target {args.target_id}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"result": steps}, ensure_ascii=False, indent=2))
        return 0
    print(f"target {args.target_id}: {len(steps)} events")
    for step in steps:
        event = step["event"]
        actor = event["data"].get("actor") or "-"
        print()
        erased = "  (erased)" if event.get("erased") else ""
        print(f"v{event['version']}  {event['type']}  {event['timestamp']}  by {actor}{erased}")
        said = [f"{name}={value}" for name, value in said_by(event)]
        if said:
            print(_fit("  " + "  ".join(said)))
        if step["rule"] is not None:
            print(_fit(f"  rule: {step['rule']['said']}"))
        for field, old, new in changed(step):
            print(_fit(f"  {field}: {new}" if old is None else f"  {field}: {old} -> {new}"))
    return 0


WIDTH = 80


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"
