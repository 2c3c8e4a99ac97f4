"""`outdial keys ...`: a customer's API keys."""

from __future__ import annotations

import argparse

from api.settings import Settings
from application.access import ApiKeys


def create(settings: Settings, args: argparse.Namespace) -> int:
    """Print a new key alone on stdout (a new customer id makes the customer)."""
    keys = ApiKeys.open(settings.storage())
    try:
        print(keys.create(args.customer_id, name=args.name))
    finally:
        keys.close()
    return 0
