"""Errors of the application layer, beside the domain's own (domain/errors.py)."""

from __future__ import annotations

from domain.errors import DomainError


class NotFound(DomainError):
    """No such resource for this customer (another customer's resource is not found too)."""

    reason = "NOT_FOUND"


class OutdialNotFound(NotFound):
    reason = "OUTDIAL_NOT_FOUND"


class TargetNotFound(NotFound):
    reason = "OUTDIAL_TARGET_NOT_FOUND"


class VersionNotFound(NotFound):
    reason = "VERSION_NOT_FOUND"


class ConcurrentChange(DomainError):
    """Another writer changed the aggregate first; the command is safe to retry."""

    reason = "CONCURRENT_CHANGE"
