"""Typed errors of the domain. Messages are Japanese: clerks read them."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises; `message` is shown to the clerk as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(DomainError, ValueError):
    """Data that entered the system is malformed; `field` names the offending key.

    Also a ValueError, so that callers parsing user input can catch the usual exception."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
