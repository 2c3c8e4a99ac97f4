"""The domain's errors.

Each carries a stable UPPER_SNAKE ``reason`` so that every entrypoint can map
it to a wire status once, without parsing messages.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused a command."""

    reason: str = "FAILED_PRECONDITION"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(DomainError):
    """A value breaks the rules of its field; ``field`` names it for the caller."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class TargetNotDialable(DomainError):
    """The target may not be dialed now (deleted, busy, done or exhausted)."""

    reason = "TARGET_NOT_DIALABLE"


class OutdialPaused(TargetNotDialable):
    """The target's outdial is paused: none of its targets may be dialed until resumed."""

    reason = "OUTDIAL_PAUSED"


class DialNotFound(DomainError):
    """No dial with this id was ever started on the target."""

    reason = "DIAL_NOT_FOUND"


class DialAlreadyFinished(DomainError):
    """The dial already has a different result."""

    reason = "DIAL_ALREADY_FINISHED"


class DialStillInTime(DomainError):
    """The service may only time out a dial after its plan's dial_timeout."""

    reason = "DIAL_NOT_TIMED_OUT"


class OutdialDeleted(DomainError):
    """A deleted outdial takes no new targets and no updates."""

    reason = "OUTDIAL_DELETED"


class OutdialNotDeleted(DomainError):
    """An outdial's targets are erased together only once the outdial is deleted: the way a
    retention policy ends a finished campaign."""

    reason = "OUTDIAL_NOT_DELETED"
