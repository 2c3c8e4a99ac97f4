"""The `outdial` console script: one parser, one function per command.

Every command finds the store as `serve` does: ``--data-dir`` / ``OUTDIAL_DATA_DIR``, or
``--database-url`` / ``OUTDIAL_DATABASE_URL``. Each command is a function of the settings
and its parsed arguments that returns the exit status.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from api.cli.parser import build_parser
from api.settings import Settings
from api.starting import STORE_ERRORS, CannotStart, why
from projections.failures import EventNotApplied


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    flags = {name: getattr(args, name, None) for name in Settings.model_fields}
    try:
        settings = Settings.load(**flags)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        print(f"outdial: setting {where}: {first['msg']}", file=sys.stderr)
        return 2
    parts = (
        args.command,
        getattr(args, "keys_command", None),
        getattr(args, "dnc_command", None),
        getattr(args, "what", None),
    )
    name = " ".join(part for part in parts if part)
    if (
        not getattr(args, "creates_store", False)
        and settings.database_url is None
        and not settings.data_dir.is_dir()
    ):
        # A typo must not make an empty store there and report on it.
        print(
            f"outdial {name}: data directory {settings.data_dir} does not exist "
            "(--data-dir, OUTDIAL_DATA_DIR, or --database-url)",
            file=sys.stderr,
        )
        return 2
    try:
        status: int = args.func(settings, args)
    except CannotStart as error:
        print(f"outdial {name}: cannot start: {error}", file=sys.stderr)
        return 2
    except EventNotApplied as error:
        print(f"outdial {name}: {error}", file=sys.stderr)
        return 1
    except STORE_ERRORS as error:
        print(f"outdial {name}: {why(error, settings)}", file=sys.stderr)
        return 2
    return status
