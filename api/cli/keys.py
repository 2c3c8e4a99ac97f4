"""`outdial keys ...`: a customer's API keys."""

from __future__ import annotations

import argparse
import sys

from api.bootstrap import open_keys
from api.settings import Settings
from application.access import KeyRecord, UnknownKey


def create(settings: Settings, args: argparse.Namespace) -> int:
    """Print a new key alone on stdout (a new customer id makes the customer)."""
    keys = open_keys(settings)
    try:
        print(keys.create(args.customer_id, name=args.name))
    finally:
        keys.close()
    return 0


def list_keys(settings: Settings, args: argparse.Namespace) -> int:
    """One line per key: key id, customer, name, created, revoked; never a secret."""
    keys = open_keys(settings)
    try:
        records = keys.records(args.customer_id)
    finally:
        keys.close()
    for record in records:
        print(_line(record))
    return 0


def revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke a key named by itself or by its key id; running servers refuse it within 2 s."""
    keys = open_keys(settings)
    try:
        record = keys.revoke(args.key)
    except UnknownKey as error:
        print(f"outdial keys revoke: {error}", file=sys.stderr)
        return 1
    finally:
        keys.close()
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
