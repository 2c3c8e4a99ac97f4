"""What an erasure needs from outside the event store: the targets it covers.

An erasure by address or of a whole outdial finds its targets in the read model, which
shows every write answered before it (each write waits until the read model has it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from application.errors import ApplicationError

# A target as a list shows it: (id, version, last change, deleted at or None).
Listed = tuple[UUID, int, datetime, datetime | None]


class ErasureCandidates(Protocol):
    def targets_with_address(self, customer_id: UUID, target: str) -> list[UUID]:
        """The customer's targets, in any outdial, with a destination whose ``target``
        is this (erased ones no longer have it)."""
        ...

    def targets_of_outdial(self, customer_id: UUID, outdial_id: UUID) -> list[Listed]:
        """Every target of the outdial, deleted or not."""
        ...


class StoredInPlaintext(ApplicationError):
    """A target stored before sealing has no key to destroy: it cannot be erased."""

    reason = "STORED_IN_PLAINTEXT"
