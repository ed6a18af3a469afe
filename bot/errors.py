"""The error tree. Every error carries a message a person can read."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class FlowPilotError(Exception):
    """Base of every error we raise on purpose. ``str(err)`` is safe to show a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(FlowPilotError):
    """A missing or malformed setting."""


class DomainError(FlowPilotError):
    """A rule of the domain refused the change (illegal transition, bad value)."""


class NotAllowedError(DomainError):
    """The person may not do this to this session."""


class EngineError(FlowPilotError):
    """The troubleshooting engine (Claude or the offline flows) could not produce a turn."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class StorageError(FlowPilotError):
    """The database refused or could not do something."""


class NotFoundError(StorageError):
    """A row we needed is not there (or belongs to another workspace)."""


class PsaError(FlowPilotError):
    """The PSA (ConnectWise, webhook) failed.

    ``retryable``: trying again later may work (429, 5xx, timeouts). ``uncertain``: the request
    may have been applied (a timeout or 5xx after a write was sent), so look before re-posting.
    ``retry_after``: seconds the PSA asked us to wait (429 ``Retry-After``)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 uncertain: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.uncertain = uncertain
        self.retry_after = retry_after


class SlackError(FlowPilotError):
    """Slack refused a call we needed. ``code`` is Slack's error code (``not_in_channel``…)."""

    def __init__(self, message: str, *, code: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after  # seconds, from a 429's Retry-After


def new_reference() -> str:
    """A short id that ties what a person is told to the log line with the traceback."""
    import uuid

    return uuid.uuid4().hex[:8]


def unexpected_message(ref: str) -> str:
    """What a person sees for an error we did not expect: a reference, never a traceback.
    The one wording for listeners (handlers/common.readable) and turns (services/turns)."""
    return f"Something went wrong on our side (reference {ref}). Nothing was lost."


def readable(exc: Exception) -> str:
    """What a person sees for an error: our message, or a reference id (never a traceback;
    the traceback goes to the log under that reference)."""
    if isinstance(exc, FlowPilotError):
        return exc.message
    ref = new_reference()
    log.error("unexpected error (ref %s)", ref, exc_info=exc)
    return unexpected_message(ref)
