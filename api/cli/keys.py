"""`outdial keys ...`: a customer's API keys."""

from __future__ import annotations

import argparse

from api.bootstrap import open_keys
from api.settings import Settings


def create(settings: Settings, args: argparse.Namespace) -> int:
    """Print a new key alone on stdout (a new customer id makes the customer)."""
    keys = open_keys(settings)
    try:
        print(keys.create(args.customer_id, name=args.name))
    finally:
        keys.close()
    return 0
