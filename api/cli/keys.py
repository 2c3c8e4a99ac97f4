"""`outdial keys ...`: a customer's API keys."""

from __future__ import annotations

import argparse
import sys

from adapters.keys import KeyRecord, UnknownKey
from api.bootstrap import bootstrap
from api.settings import Settings


def create(settings: Settings, args: argparse.Namespace) -> int:
    """Print a new key alone on stdout (a new customer id makes the customer)."""
    with bootstrap(settings) as services:
        print(services.keys.create(args.customer_id, name=args.name))
    return 0


def list_keys(settings: Settings, args: argparse.Namespace) -> int:
    """One line per key: key id, customer, name, created, revoked; never a secret."""
    with bootstrap(settings) as services:
        records = services.keys.records(args.customer_id)
    for record in records:
        print(_line(record))
    return 0


def revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke a key named by itself or by its key id; running servers refuse it within 2 s."""
    with bootstrap(settings) as services:
        try:
            record = services.keys.revoke(args.key)
        except UnknownKey as error:
            print(f"outdial keys revoke: {error}", file=sys.stderr)
            return 1
    print(_line(record))
    return 0


def _line(record: KeyRecord) -> str:
    revoked = record.revoked_at.isoformat(timespec="seconds") if record.revoked_at else "-"
    return "\t".join(
        [
            record.key_id,
            str(record.customer_id),
            record.name or "-",
            record.created_at.isoformat(timespec="seconds"),
            f"revoked {revoked}" if record.revoked_at else "active",
        ]
    )
