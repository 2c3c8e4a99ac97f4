"""The console script's parser: every command and its flags, each with its function.

The settings flags are made from the fields of ``Settings``, so a flag and its OUTDIAL_*
variable always mean the same thing.
"""

from __future__ import annotations

import argparse
from typing import Any, Literal, TypeAlias, get_args, get_origin
from uuid import UUID

from api.cli import do_not_call, export, importing, keys, operations, serve
from api.settings import Settings
from application.service import BATCH_MAX

# Which settings each kind of command takes besides where the store is.
STORE = ("data_dir", "database_url")
SERVICE = (
    "host",
    "port",
    "workers",
    "read_wait_seconds",
    "ready_max_delay_seconds",
    "sweep_interval_seconds",
    "auth_failures_allowed",
    "trusted_proxies",
    "log_format",
    "webhook_allow_private",
)
DATABASE = ("pool_size", "max_overflow", "connect_timeout_seconds", "statement_timeout_seconds")


def settings_flags(*names: str) -> argparse.ArgumentParser:
    """A parent parser with a flag for each named setting (default: not given)."""
    parser = argparse.ArgumentParser(add_help=False)
    for name in names:
        field = Settings.model_fields[name]
        flag = "--" + name.replace("_", "-")
        env = "OUTDIAL_" + name.upper()
        help_text = f"{field.description} (env {env}, default {field.default})"
        kind: Any = field.annotation
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        elif get_origin(kind) is Literal:
            parser.add_argument(flag, choices=get_args(kind), help=help_text)
        else:
            parser.add_argument(flag, type=kind if kind in (int, float) else str, help=help_text)
    return parser


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _commands(parser: argparse.ArgumentParser, dest: str, what: str) -> Commands:
    return parser.add_subparsers(dest=dest, required=True, metavar="COMMAND", help=what)


def _command(commands: Commands, name: str, *, help: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand whose help, in its parent's list, is also its own --help's description."""
    return commands.add_parser(name, help=help, description=help, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    store = settings_flags(*STORE, *DATABASE)
    parser = argparse.ArgumentParser(
        prog="outdial", description="Outdial targets and the history of every dial attempt."
    )
    commands = _commands(parser, "command", "the command to run")

    command = _command(
        commands,
        "serve",
        parents=[store, settings_flags(*SERVICE, "run_projections")],
        help=(
            "run the HTTP API; the read model's projection and the dial-timeout sweeper run "
            "in the same process, in one process beside the API's with --workers N, or "
            "elsewhere (an `outdial project` worker) with --no-run-projections"
        ),
    )
    command.set_defaults(func=serve.serve, creates_store=True)

    command = _command(
        commands,
        "project",
        parents=[
            store,
            settings_flags("sweep_interval_seconds", "log_format", "webhook_allow_private"),
        ],
        help="run the read-model projection worker until stopped",
    )
    command.set_defaults(func=serve.project, creates_store=True)

    keys_command = _command(commands, "keys", help="API keys")
    keys_commands = _commands(keys_command, "keys_command", "what to do with keys")
    command = _command(
        keys_commands,
        "create",
        parents=[store],
        help="make an API key and print it alone on stdout",
    )
    command.add_argument("--customer-id", type=UUID, required=True, help="the key's customer")
    command.add_argument("--name", default="", help="a label for the key")
    command.set_defaults(func=keys.create, creates_store=True)
    command = _command(
        keys_commands,
        "list",
        parents=[store],
        help="one line per key: key id, customer, name, created, revoked (never a secret)",
    )
    command.add_argument("--customer-id", type=UUID, help="only this customer's keys")
    command.set_defaults(func=keys.list_keys)
    command = _command(
        keys_commands,
        "revoke",
        parents=[store],
        help="revoke a key; running servers refuse it within 2 s",
    )
    command.add_argument("key", metavar="KEY_OR_KEY_ID", help="the key itself, or its kid_ id")
    command.set_defaults(func=keys.revoke)

    command = _command(
        commands,
        "migrate",
        parents=[store],
        help="bring the store's own tables to this release (each start does too) and print "
        "each schema's version before and after",
    )
    command.set_defaults(func=operations.migrate, creates_store=True)

    command = _command(
        commands,
        "rebuild",
        parents=[store],
        help="project every event again into a fresh read model, replacing it in one transaction",
    )
    command.add_argument(
        "--until", type=int, metavar="POSITION", help="stop at this notification id"
    )
    command.add_argument(
        "--into",
        metavar="URL_OR_PATH",
        help="build into a separate store (SQLite path or postgresql:// URL), for debugging",
    )
    command.set_defaults(func=operations.rebuild_read_model)

    command = _command(
        commands,
        "verify",
        parents=[store],
        help="compare the read model with the replay of the events",
    )
    command.set_defaults(func=operations.verify_read_model)

    command = _command(
        commands, "import", parents=[store], help="targets from a CSV file, every row checked first"
    )
    command.add_argument(
        "outdial_id", type=UUID, metavar="OUTDIAL_ID", help="the outdial the targets join"
    )
    command.add_argument(
        "file",
        metavar="FILE.csv",
        help="UTF-8 CSV, a header row (name, detail, data, destination_0 .. destination_4, "
        "...) and a target a row",
    )
    command.add_argument(
        "--skip-invalid", action="store_true", help="import the good rows, list the bad ones"
    )
    command.add_argument(
        "--keep-ids", action="store_true", help="target ids from the file's id column"
    )
    command.add_argument(
        "--batch-size",
        type=importing.batch_size,
        default=BATCH_MAX,
        metavar="N",
        help=f"targets written in one atomic write, 1..{BATCH_MAX} (default {BATCH_MAX})",
    )
    command.set_defaults(func=importing.import_file)

    exporting = _command(
        commands, "export", help="stream targets or dials out as CSV (imports again) or JSON Lines"
    )
    what = _commands(exporting, "what", "what to export")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--format",
        choices=["csv", "jsonl"],
        default="csv",
        help="csv (default; free-text cells that a spreadsheet would run as a formula get a "
        "leading ') or jsonl (one API wire object a line)",
    )
    output.add_argument("--output", metavar="FILE", help="write there instead of stdout")
    command = _command(
        what, "targets", parents=[store, output], help="an outdial's targets, deleted ones too"
    )
    command.add_argument(
        "outdial_id", type=UUID, metavar="OUTDIAL_ID", help="the outdial whose targets to export"
    )
    command.set_defaults(func=export.export)
    command = _command(
        what, "dials", parents=[store, output], help="dials, with the audit search's filters"
    )
    command.add_argument(
        "--customer-id",
        type=UUID,
        help="whose dials (by default the customer of --outdial-id or --target-id)",
    )
    command.add_argument("--outdial-id", type=UUID, help="only this outdial's dials")
    command.add_argument("--target-id", type=UUID, help="only this target's dials")
    command.add_argument("--destination", help="the dialed address's target")
    command.add_argument("--reference-id", help="only dials started with this reference_id")
    command.add_argument("--actor", help="only dials started by this actor (an API key's kid_ id)")
    command.add_argument("--result", choices=["success", "fail"], help="only dials that ended so")
    command.add_argument("--since", help="on tm_start, inclusive")
    command.add_argument("--until", help="on tm_start, exclusive")
    command.set_defaults(func=export.export)

    dnc_command = _command(commands, "dnc", help="a customer's do-not-call list")
    dnc_commands = _commands(dnc_command, "dnc_command", "what to do with the list")
    command = _command(
        dnc_commands,
        "import",
        parents=[store],
        help="entries from a CSV file, every row checked first; a run again adds nothing twice",
    )
    command.add_argument(
        "file",
        metavar="FILE.csv",
        help="UTF-8 CSV, a header row (target, match, outdial_id, reason, expires_at) and an "
        "entry a row; only target is required: match exact, outdial_id empty (every outdial), "
        "reason empty, expires_at empty (never) by default",
    )
    command.add_argument(
        "--customer-id", type=UUID, required=True, help="the customer whose list it joins"
    )
    command.add_argument(
        "--skip-invalid", action="store_true", help="import the good rows, list the bad ones"
    )
    command.add_argument(
        "--batch-size",
        type=importing.batch_size,
        default=BATCH_MAX,
        metavar="N",
        help=f"entries written in one atomic write, 1..{BATCH_MAX} (default {BATCH_MAX})",
    )
    command.set_defaults(func=do_not_call.import_file)
    command = _command(
        dnc_commands,
        "export",
        parents=[store, output],
        help="a customer's entries, newest first, as CSV (imports again) or JSON Lines",
    )
    command.add_argument("--customer-id", type=UUID, required=True, help="whose list")
    command.add_argument("--target", help="only the entries that block this number or address now")
    command.add_argument(
        "--outdial-id", type=UUID, help="only entries for this outdial (nil UUID: every outdial)"
    )
    command.add_argument(
        "--include-deleted",
        action="store_true",
        help="removed entries too (a removed entry imported again is added again)",
    )
    command.set_defaults(func=do_not_call.export)

    command = _command(
        commands, "replay", parents=[store], help="each event of a target and its state after it"
    )
    command.add_argument("target_id", type=UUID, metavar="TARGET_ID", help="the target to replay")
    command.add_argument("--json", action="store_true", help="the wire form of GET .../replay")
    command.set_defaults(func=operations.replay_target)
    return parser
