"""The `outdial` console script (SPEC §7).

Every command finds the store as `serve` does: ``--data-dir`` / ``OUTDIAL_DATA_DIR``,
or ``OUTDIAL_DATABASE_URL``. Each command is a function of the settings and its
parsed arguments that returns the exit status.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from api import operations
from api.settings import Settings
from application.access import ApiKeys

Command = Callable[[Settings, argparse.Namespace], int]


def main(argv: list[str] | None = None) -> int:
    parser, commands = _parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env().with_flags(
        data_dir=args.data_dir,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
    )
    return commands[args.command](settings, args)


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """The API with the read model and the dial-timeout sweeper in this process."""
    import uvicorn  # only `serve` needs the server

    from api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    keys = ApiKeys.open(settings.storage())
    try:
        if keys.is_empty():
            customer = uuid4()
            key = keys.create(customer, name="first key")
            print(f"No API key yet: created customer {customer} and its key (shown only now):")
            print(key, flush=True)
    finally:
        keys.close()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)
    return 0


def keys(settings: Settings, args: argparse.Namespace) -> int:
    """`keys create`: print a new key alone on stdout (a new customer id makes the customer)."""
    store = ApiKeys.open(settings.storage())
    try:
        print(store.create(args.customer_id, name=args.name))
    finally:
        store.close()
    return 0


def _parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument(
        "--data-dir", help="directory of the embedded store (env OUTDIAL_DATA_DIR, default ./var)"
    )
    parser = argparse.ArgumentParser(
        prog="outdial", description="Outdial targets and the history of every dial attempt."
    )
    commands: Any = parser.add_subparsers(dest="command", required=True)

    serve_command = commands.add_parser(
        "serve", parents=[store], help="run the HTTP API with in-process projections"
    )
    serve_command.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve_command.add_argument("--port", type=int, help="port to listen on (default 8000)")

    keys_command = commands.add_parser("keys", help="API keys")
    keys_commands = keys_command.add_subparsers(dest="keys_command", required=True)
    create = keys_commands.add_parser(
        "create", parents=[store], help="make an API key and print it alone on stdout"
    )
    create.add_argument("--customer-id", type=UUID, required=True, help="the key's customer")
    create.add_argument("--name", default="", help="a label for the key")
    return parser, {"serve": serve, "keys": keys, **operations.register(commands, store)}


if __name__ == "__main__":
    sys.exit(main())
