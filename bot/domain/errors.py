"""The one error the domain raises.

The domain may not import ``bot.errors`` (it imports nothing of ours), so it has its
own error; the services layer translates it into ``bot.errors.DomainError``.
"""

from __future__ import annotations


class DomainRuleError(ValueError):
    """A rule refused a change. ``message`` is a sentence a person can read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
