"""Errors of the application layer, beside the domain's own (domain/errors.py). Each
carries a stable UPPER_SNAKE ``reason`` that the entry points map to the wire once."""

from __future__ import annotations

from domain.errors import DomainError


class ApplicationError(Exception):
    """A use case refused a request for a reason outside the domain's rules."""

    reason: str = "FAILED_PRECONDITION"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ApplicationError):
    """No such resource for this customer (another customer's resource is not found too)."""

    reason = "NOT_FOUND"


class OutdialNotFound(NotFound):
    reason = "OUTDIAL_NOT_FOUND"


class TargetNotFound(NotFound):
    reason = "OUTDIAL_TARGET_NOT_FOUND"


class DoNotCallEntryNotFound(NotFound):
    reason = "DO_NOT_CALL_ENTRY_NOT_FOUND"


class VersionNotFound(NotFound):
    reason = "VERSION_NOT_FOUND"


class ConcurrentChange(ApplicationError):
    """Another writer changed the aggregate first; the command is safe to retry."""

    reason = "CONCURRENT_CHANGE"


# What a use case may refuse with: nothing was recorded, the caller may correct and retry.
REFUSALS: tuple[type[Exception], ...] = (DomainError, ApplicationError)


class ErasureNotFound(NotFound):
    reason = "ERASURE_NOT_FOUND"
